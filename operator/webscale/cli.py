"""`webscale run | crd | simulate`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from webscale.api import crd


def _run(args: argparse.Namespace) -> int:
    import kopf
    from pydantic import ValidationError

    from webscale.runtime import handlers  # noqa: F401 - registers the handlers
    from webscale.settings import Settings, settings_problem, unknown_variables

    try:
        settings = Settings()
    except ValidationError as error:  # before anything starts: the installer's words, by variable
        sys.stderr.write(f"webscale: refusing to start: {settings_problem(error)}\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    unknown = unknown_variables(os.environ)
    if unknown:  # a typo would otherwise leave its setting at the default without a word
        logging.getLogger("webscale.settings").warning("not settings, ignored: %s", ", ".join(unknown))
    if settings.log_format == "json":
        kopf.configure(log_format=kopf.LogFormat.JSON)
    # kopf runs the process (signals, start-up, shutdown); the operator's own informers do the watching,
    # and its HTTP endpoint (/metrics, /healthz) is served by webscale.runtime.http.
    kopf.run(standalone=True, clusterwide=True)
    return 0


def _crd(_args: argparse.Namespace) -> int:
    sys.stdout.write(crd.crd_yaml())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:
        from webscale import simulate

        return simulate.main(argv[1:])
    parser = argparse.ArgumentParser(prog="webscale", description="the webscale operator")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the operator (settings from WEBSCALE_* env vars)").set_defaults(func=_run)
    sub.add_parser("crd", help="print the ScaledWebApp CRD generated from the models").set_defaults(func=_crd)
    sub.add_parser("simulate", help="compare autoscaling policies on request-rate traces")
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
