"""Several docker-archive tars as one, each shared layer stored once.

The node's images are built from one Debian base (tests/node/images.sh), so every tar carries the same
~600 MB base layer. `ctr images import` reads and hashes each tar in full before it finds that layer
already in its content store: importing four tars read 2.6 GB, ~90 % of a warm node start. One archive
with the base once (docker-archive's manifest.json is a list of images) is read once.

    merged = merged_archive(tars, cache_dir)   # cached by the input tars' names, which carry their hashes
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Sequence
from pathlib import Path

MANIFEST = "manifest.json"
REPOSITORIES = "repositories"


def merge(tars: Sequence[Path], out: Path) -> None:
    """Write one docker-archive holding every image of `tars`: the union of their manifests and
    `repositories`, and each other member (layers, configs, layer directories) once, by name. Member
    names are content digests, so one name is one content; a name whose size differs between two tars
    is not, and is an error."""
    manifest: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    sizes: dict[str, int] = {}
    tmp = out.with_name(f"{out.name}.{os.getpid()}.partial")  # two node starts may build it at once
    try:
        _write(tars, tmp, manifest, repositories, sizes)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.rename(out)


def _write(
    tars: Sequence[Path],
    tmp: Path,
    manifest: list[dict],
    repositories: dict[str, dict[str, str]],
    sizes: dict[str, int],
) -> None:
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as dst:
        for path in tars:
            with tarfile.open(path) as src:
                for member in src:
                    if member.name == MANIFEST:
                        manifest += json.load(_read(src, member))
                    elif member.name == REPOSITORIES:
                        for repo, tags in json.load(_read(src, member)).items():
                            repositories.setdefault(repo, {}).update(tags)
                    elif member.name in sizes:
                        if sizes[member.name] != member.size and not member.issym():
                            raise ValueError(f"{path}: {member.name} differs from the same name in an earlier tar")
                    else:
                        sizes[member.name] = member.size
                        dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for name, body in ((MANIFEST, manifest), (REPOSITORIES, repositories)):
            data = json.dumps(body).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def _read(src: tarfile.TarFile, member: tarfile.TarInfo) -> io.BufferedReader:
    f = src.extractfile(member)
    if f is None:
        raise ValueError(f"{member.name} is not a file")
    return f  # type: ignore[return-value]


def merged_archive(tars: Sequence[Path], cache_dir: Path) -> Path:
    """The merged archive of `tars` in `cache_dir`, built once per set of inputs (their resolved names,
    which images.sh derives from each image's inputs, and sizes); older merged archives are removed."""
    resolved = [t.resolve() for t in tars]
    key = hashlib.sha256("\n".join(f"{t.name} {t.stat().st_size}" for t in resolved).encode()).hexdigest()[:16]
    out = cache_dir / f"merged-{key}.tar"
    if not out.exists():
        for old in cache_dir.glob("merged-*.tar"):
            old.unlink()
        merge(resolved, out)
    return out
