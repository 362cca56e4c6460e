"""Run manifests/argocd/health.lua with a real Lua interpreter, as Argo CD does: the object as `obj`.

status, message = health(obj)               # lua5.4
status, message = health(obj, "lua5.1")     # Argo CD's gopher-lua implements Lua 5.1
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HEALTH_LUA = ROOT / "manifests" / "argocd" / "health.lua"
DRIVER = 'local hs = dofile(arg[1]); io.write(hs.status, "\\n", hs.message or "")'


def lua_literal(value: Any) -> str:
    """A JSON value as a Lua expression (tables for objects and arrays)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # UTF-8 as is; \\ \" \n \t mean the same in Lua
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def lua_binary(name: str = "lua5.4") -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: run `make deps` (Debian package {name})")
    return path


def health(obj: dict[str, Any], lua: str = "lua5.4") -> tuple[str, str]:
    """(status, message) as Argo CD would show them for `obj`."""
    script = f"obj = {lua_literal(obj)}\n{DRIVER}"
    proc = subprocess.run(
        [lua_binary(lua), "-", str(HEALTH_LUA)], input=script, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, f"{lua} failed: {proc.stderr}"
    status, _, message = proc.stdout.partition("\n")
    return status, message
