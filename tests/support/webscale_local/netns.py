"""The network namespace a real node lives in: created by the harness, loopback and the pods' bridge
only, no default route. A packet to an address that does not exist there fails at once ("Network is
unreachable") instead of leaving the machine.

    python -m webscale_local.netns run NAME -- COMMAND...   # create NAME, run COMMAND inside, delete NAME

Every process that talks to a pod or a Service runs inside (`nsenter --net=/var/run/netns/NAME`);
`ip netns exec` is not used: it remounts /sys and hides the cgroup mounts from the kubelet and runc.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from webscale_local.cluster_config import SERVICE_CIDR
from webscale_local.node_config import BRIDGE, NODE_IP, POD_CIDR
from webscale_local.procs import ClusterError

NETNS_DIR = Path("/var/run/netns")


def path(name: str) -> Path:
    return NETNS_DIR / name


def enter(name: str) -> list[str]:
    """The prefix that runs a command inside the namespace."""
    return ["nsenter", f"--net={path(name)}", "--"]


def _ip(name: str, *args: str) -> None:
    proc = subprocess.run([*enter(name), "ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"ip {' '.join(args)} in network namespace {name} failed: {proc.stderr.strip()}")


def create(name: str) -> None:
    """A fresh namespace: `lo` up, the pods' bridge with the node's address, a route that sends Service
    addresses to the bridge (kube-proxy rewrites them first; without a route a Service address is
    unreachable), and nothing else."""
    if path(name).exists():
        raise ClusterError(
            f"network namespace {name} already exists (a run still going, or left behind: "
            f"`ip netns delete {name}` after stopping it)"
        )
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        _ip(name, "link", "set", "lo", "up")
        _ip(name, "link", "add", BRIDGE, "type", "bridge")
        _ip(name, "addr", "add", f"{NODE_IP}/{POD_CIDR.split('/')[1]}", "dev", BRIDGE)
        _ip(name, "link", "set", BRIDGE, "up")
        _ip(name, "route", "add", SERVICE_CIDR, "dev", BRIDGE)
        assert_isolated_cmd(name)
    except BaseException:
        delete(name)
        raise


def delete(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def default_routes(prefix: list[str]) -> str:
    """Default routes (IPv4 and IPv6) that `prefix + ip` sees; empty when there are none."""
    out = ""
    for family in ("-4", "-6"):
        proc = subprocess.run([*prefix, "ip", family, "route", "show", "default"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ClusterError(f"ip {family} route failed: {proc.stderr.strip()}")
        out += proc.stdout
    return out.strip()


def assert_isolated_cmd(name: str) -> None:
    routes = default_routes(enter(name))
    if routes:
        raise ClusterError(f"network namespace {name} has a default route ({routes}); refusing to start a node in it")


def current() -> str | None:
    """The name of the harness-made namespace (under /var/run/netns) this process is in, if any."""
    here = os.stat("/proc/self/ns/net").st_ino
    if NETNS_DIR.is_dir():
        for entry in NETNS_DIR.iterdir():
            try:
                if entry.stat().st_ino == here:
                    return entry.name
            except OSError:
                continue
    return None


def assert_inside() -> str:
    """This process runs in a network namespace made with `create` (not the machine's), and that namespace has
    no default route. Returns its name."""
    name = current()
    if name is None:
        raise ClusterError(
            "the real node runs only inside its own network namespace: start it with "
            "`python -m webscale_local.netns run NAME -- ...` (or make node / make test-node-real)"
        )
    routes = default_routes([])
    if routes:
        raise ClusterError(f"network namespace {name} has a default route ({routes}); refusing to start a node in it")
    return name


def run(name: str, command: list[str]) -> int:
    create(name)
    try:
        proc = subprocess.Popen([*enter(name), *command])
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                # Ctrl-C reaches the command too: let it stop what it started (pytest runs its fixtures'
                # teardown) before the namespace goes; never kill it half-way
                continue
    finally:
        delete(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="create NAME, run COMMAND inside it, delete NAME")
    r.add_argument("name")
    r.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run: no command given (python -m webscale_local.netns run NAME -- COMMAND...)")
    return run(args.name, command)


if __name__ == "__main__":
    sys.exit(main())
