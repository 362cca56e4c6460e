"""webscale_local.image_archive: docker-archive tars merged into one, each shared layer once."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from webscale_local.image_archive import merge, merged_archive


def _archive(path: Path, image: str, layers: dict[str, bytes]) -> Path:
    """A docker-archive as buildah writes it: layers at the top by digest, a layer directory whose
    layer.tar links to one, a config, manifest.json and repositories."""
    config = f"{image}-config.json"
    members: dict[str, bytes] = dict(layers)
    members[config] = json.dumps({"image": image}).encode()
    members["manifest.json"] = json.dumps(
        [{"Config": config, "RepoTags": [f"localhost/{image}:dev"], "Layers": list(layers)}]
    ).encode()
    members["repositories"] = json.dumps({f"localhost/{image}": {"dev": image}}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"dir-{next(iter(layers))}/layer.tar")
        link.type, link.linkname = tarfile.SYMTYPE, f"../{next(iter(layers))}"
        tar.addfile(link)
    return path


def _members(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def _json(path: Path, name: str) -> object:
    with tarfile.open(path) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return json.load(f)


def test_the_shared_base_layer_is_stored_once_and_every_image_is_listed(tmp_path: Path) -> None:
    base = b"b" * 5000
    a = _archive(tmp_path / "a.tar", "operator", {"base.tar": base, "op.tar": b"operator layer"})
    b = _archive(tmp_path / "b.tar", "app", {"base.tar": base, "app.tar": b"app layer"})
    out = tmp_path / "merged.tar"
    merge([a, b], out)
    names = _members(out)
    assert names.count("base.tar") == 1 and names.count("dir-base.tar/layer.tar") == 1
    assert {"op.tar", "app.tar", "operator-config.json", "app-config.json"} <= set(names)
    manifest = _json(out, "manifest.json")
    assert [m["RepoTags"] for m in manifest] == [["localhost/operator:dev"], ["localhost/app:dev"]]
    assert [m["Layers"] for m in manifest] == [["base.tar", "op.tar"], ["base.tar", "app.tar"]]
    assert _json(out, "repositories") == {"localhost/operator": {"dev": "operator"}, "localhost/app": {"dev": "app"}}
    with tarfile.open(out) as tar:
        f = tar.extractfile("app.tar")
        assert f is not None and f.read() == b"app layer"
    assert out.stat().st_size < a.stat().st_size + b.stat().st_size - len(base) + 4096


def test_one_name_with_two_contents_is_an_error_and_leaves_no_archive(tmp_path: Path) -> None:
    a = _archive(tmp_path / "a.tar", "operator", {"base.tar": b"one"})
    b = _archive(tmp_path / "b.tar", "app", {"base.tar": b"other content"})
    with pytest.raises(ValueError, match=r"base\.tar differs"):
        merge([a, b], tmp_path / "merged.tar")
    assert not (tmp_path / "merged.tar").exists() and not list(tmp_path.glob("*.partial"))


def test_merged_archive_is_built_once_per_set_of_inputs_and_replaces_the_old_one(tmp_path: Path) -> None:
    a = _archive(tmp_path / "a-1.tar", "operator", {"base.tar": b"base"})
    b = _archive(tmp_path / "b-1.tar", "app", {"base.tar": b"base", "app.tar": b"1"})
    cache = tmp_path / "cache"
    cache.mkdir()
    first = merged_archive([a, b], cache)
    built = first.stat().st_mtime_ns
    assert merged_archive([a, b], cache) == first and first.stat().st_mtime_ns == built
    b2 = _archive(tmp_path / "b-2.tar", "app", {"base.tar": b"base", "app.tar": b"2"})
    second = merged_archive([a, b2], cache)
    assert second != first and not first.exists()
    assert [p.name for p in cache.iterdir()] == [second.name]
