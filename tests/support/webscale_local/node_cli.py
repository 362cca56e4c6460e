#!/usr/bin/env python3
"""`make node` / `make node-down`: a real node with the local control plane, in the background.

    python -m webscale_local.node_cli up     # make the namespace, start everything in it, print how to reach it
    python -m webscale_local.node_cli down   # stop it and delete the namespace

The API server listens on the namespace's own 127.0.0.1 (and the node IP): reach it, and the pods and
Services, from a shell inside the namespace (`nsenter --net=/var/run/netns/webscale-node bash`), where
kubectl, curl and the tests' clients see exactly what the pods see. Nothing is forwarded to the host.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from webscale_local import netns
from webscale_local.launcher import RUN_DIR, _alive
from webscale_local.node import RealNode, built_images
from webscale_local.procs import ClusterError

NETNS = "webscale-node"
STATE = RUN_DIR / "node.json"
LOG = RUN_DIR / "node.log"


def _serve(_args: argparse.Namespace) -> int:
    """Inside the namespace: start the node, write the state file, run until SIGTERM."""
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    try:
        node = RealNode(images=built_images())
        node.start()
    except ClusterError as exc:
        print(f"node: {exc}", file=sys.stderr)
        return 1
    assert node.cluster is not None and node.bin_dir is not None
    kubeconfig = RUN_DIR / "node-kubeconfig"
    kubeconfig.write_text(node.kubeconfig.read_text())
    STATE.write_text(json.dumps({"pid": os.getpid(), "kubeconfig": str(kubeconfig), "bin": str(node.cluster.bin_dir)}))
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in node.timings.items())
    print(f"node: ready in {node.timings['ready']:.1f}s ({parts})", flush=True)
    try:
        while not stop["now"]:
            dead = [c for c in node.components if c.proc is not None and c.proc.poll() is not None]
            if dead:
                print(f"node: {dead[0].name} exited:\n{dead[0].log_tail()}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        node.stop()
        left = node.leftovers()
        print("node: stopped" + (f"; LEFT BEHIND: {left}" if left else ""), file=sys.stderr, flush=True)
    return 0


def _up(_args: argparse.Namespace) -> int:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    if STATE.exists() and _alive(json.loads(STATE.read_text())["pid"]):
        print(f"node: already running (make node-down stops it); see {LOG}")
        return 0
    STATE.unlink(missing_ok=True)
    netns.create(NETNS)
    with LOG.open("w") as log:
        proc = subprocess.Popen(
            [*netns.enter(NETNS), sys.executable, "-m", "webscale_local.node_cli", "serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 1800  # a cold build of the node's binaries is part of the first start
    while not STATE.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            print(f"node: failed to start; its log ({LOG}):\n{LOG.read_text()[-4000:]}", file=sys.stderr)
            if proc.poll() is None:
                proc.terminate()
                proc.wait(60)
            netns.delete(NETNS)
            return 1
        time.sleep(1)
    state = json.loads(STATE.read_text())
    enter = " ".join(netns.enter(NETNS))
    print(f"node: ready; control plane, containerd, kubelet, kube-proxy and CoreDNS run in network namespace {NETNS}")
    print(f"  a shell inside it (kubectl, curl to pods and Services):  sudo {enter} bash")
    print(f"  then:  export KUBECONFIG={state['kubeconfig']}; alias kubectl='{state['bin']}/bin/webscale-k8s kubectl'")
    print(f"  logs: {LOG}; make node-down stops it")
    return 0


def _down(_args: argparse.Namespace) -> int:
    if STATE.exists():
        pid = json.loads(STATE.read_text())["pid"]
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 90
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        STATE.unlink(missing_ok=True)
    if netns.path(NETNS).exists():
        netns.delete(NETNS)
    print("node: stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, func in (("up", _up), ("down", _down), ("serve", _serve)):
        sub.add_parser(name).set_defaults(func=func)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
