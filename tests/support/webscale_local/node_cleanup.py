"""Leave nothing behind when a real node stops: the pods' processes (found through the node's own
cgroup root), containerd's shims (found by the node's private containerd socket), every mount under
the node's state directory (pod volumes, container root filesystems, the pods' network namespaces,
which containerd keeps there) and the cgroups themselves. `leftovers` lists what is still there."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")


def cgroup_hierarchies() -> list[Path]:
    """The mounted hierarchies (cgroup v1 controllers, and the unified tree) to make the node's root in."""
    return sorted(p for p in CGROUP_FS.iterdir() if p.is_dir() and (p / "cgroup.procs").exists())


def make_cgroup_root(name: str) -> None:
    """/<name> in every hierarchy: the kubelet's cgroupRoot, so its pods never mix with another node's."""
    for h in cgroup_hierarchies():
        d = h / name
        d.mkdir(exist_ok=True)
        if h.name == "cpuset":  # a v1 cpuset cgroup takes no task until its cpus and mems are set
            for f in ("cpuset.cpus", "cpuset.mems"):
                if not (d / f).read_text().strip():
                    (d / f).write_text((h / f).read_text())


def cgroup_pids(name: str) -> set[int]:
    pids: set[int] = set()
    for h in cgroup_hierarchies():
        for dirpath, _dirs, files in os.walk(h / name):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    pids |= {int(x) for x in Path(dirpath, "cgroup.procs").read_text().split()}
    return pids


def remove_cgroups(name: str) -> None:
    for h in cgroup_hierarchies():
        root = h / name
        if not root.exists():
            continue
        for dirpath, _dirs, _files in os.walk(root, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


def shim_pids(socket: Path) -> set[int]:
    """containerd-shim processes of the containerd listening on `socket` (they outlive it otherwise)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and b"containerd-shim" in args[0] and str(socket).encode() in args:
            found.add(int(entry.name))
    return found


def mounts_under(directory: Path) -> list[str]:
    prefix = str(directory).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point.startswith(prefix):
            points.append(point)
    return sorted(points, key=lambda p: p.count("/"), reverse=True)


def unmount_under(directory: Path) -> None:
    for point in mounts_under(directory):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)


def kill(pids: set[int], wait: float = 10) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def leftovers(cgroup_name: str, socket: Path, state_dir: Path) -> list[str]:
    """What a stopped node left behind (empty when clean)."""
    out = [f"pid {p} in cgroup /{cgroup_name}" for p in sorted(cgroup_pids(cgroup_name)) if _alive(p)]
    out += [f"containerd shim pid {p}" for p in sorted(shim_pids(socket))]
    out += [f"mount {m}" for m in mounts_under(state_dir)]
    out += [f"cgroup {h / cgroup_name}" for h in cgroup_hierarchies() if (h / cgroup_name).exists()]
    return out
