"""Every third-party package the code imports is declared, pinned, in pyproject.toml.

The imports are read from the syntax tree of every .py file of the repository (not by importing them),
mapped to the distribution that provides them (importlib.metadata.packages_distributions()), and
compared with the dependency lists: an import that works only because some other package happens to
pull it in fails here, not in an image built from pyproject.toml.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ("operator", "tests", "bench", "scripts", "manifests")
RUNTIME_TREE = "operator"  # what the image runs: only [project].dependencies are installed there
OWN = "webscale-operator"  # this project's own distribution (operator/ and tests/support, editable)
SKIP = {".venv", "node_modules", "__pycache__", "sample-app"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_files(tree: str) -> list[Path]:
    return [p for p in sorted((ROOT / tree).rglob("*.py")) if not SKIP & set(p.relative_to(ROOT).parts)]


def top_level_imports(path: Path, lazy: bool = True) -> set[str]:
    """Top-level names of absolute imports in one file (relative imports are the file's own package);
    lazy=False: only those run on import of the file (not inside a function)."""
    names = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import) and (lazy or not in_function):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (lazy or not in_function):
            names.add(node.module.split(".")[0])
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(path.read_text(), str(path)), False)
    return names


def local_modules() -> set[str]:
    """Modules that are files or packages of this repository (test helpers, bench scripts, ...)."""
    found = set()
    for tree in TREES:
        for path in python_files(tree):
            found.add(path.stem)
            found |= {part for part in path.relative_to(ROOT).parts[:-1]}
    return found


def declared() -> dict[str, dict[str, str]]:
    """{"runtime"|"dev": {normalized distribution: pinned version}} from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lists = {"runtime": project["dependencies"], "dev": project["optional-dependencies"]["dev"]}
    out: dict[str, dict[str, str]] = {}
    for kind, requirements in lists.items():
        out[kind] = {}
        for requirement in requirements:
            match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([0-9][^\s;]*)", requirement.strip())
            assert match, f"pyproject.toml: {requirement!r} is not pinned (name==version)"
            out[kind][normalize(match.group(1))] = match.group(2)
    return out


def imported_distributions(tree: str, lazy: bool = True) -> dict[str, set[str]]:
    """{normalized distribution: files importing it} for the third-party imports of one tree."""
    providers = packages_distributions()
    stdlib, local = sys.stdlib_module_names, local_modules()
    out: dict[str, set[str]] = {}
    for path in python_files(tree):
        for name in top_level_imports(path, lazy):
            if name in stdlib or name == "__future__":
                continue
            dists = {normalize(d) for d in providers.get(name, [])}
            if normalize(OWN) in dists or (not dists and name in local):
                continue
            assert dists, f"{path.relative_to(ROOT)}: `import {name}` is neither installed, stdlib nor local"
            for dist in dists:
                out.setdefault(dist, set()).add(str(path.relative_to(ROOT)))
    return out


def test_every_requirement_is_pinned():
    assert all(declared().values())


@pytest.mark.parametrize("tree", TREES)
def test_every_imported_package_is_declared(tree):
    pins = declared()
    everything = {**pins["runtime"], **pins["dev"]}
    missing = {dist: sorted(files) for dist, files in imported_distributions(tree).items() if dist not in everything}
    assert missing == {}, f"imported by {tree}/ but declared nowhere in pyproject.toml: {missing}"


def test_what_the_operator_imports_on_start_is_a_runtime_dependency():
    """The image installs [project].dependencies only: operator/ may import a dev dependency only inside a
    function that only development uses (simulate/plot.py's matplotlib)."""
    runtime = declared()["runtime"]
    eager = imported_distributions(RUNTIME_TREE, lazy=False)
    missing = {dist: sorted(files) for dist, files in eager.items() if dist not in runtime}
    assert missing == {}, f"imported by operator/ but not in [project].dependencies: {missing}"


def test_the_pins_are_what_is_installed():
    """The venv the tests run in has the pinned versions (a pin nobody installs checks nothing)."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = {}
    for pins in declared().values():
        for dist, pinned in pins.items():
            try:
                installed = version(dist)
            except PackageNotFoundError:
                installed = None
            if installed != pinned:
                wrong[dist] = (pinned, installed)
    assert wrong == {}, f"pinned vs installed: {wrong}"


def test_an_undeclared_import_is_found(tmp_path):
    source = tmp_path / "x.py"
    source.write_text(
        "import yaml, os\nfrom requests.adapters import HTTPAdapter\nfrom . import sibling\n"
        "def plot():\n    import matplotlib\n"
    )
    assert top_level_imports(source) == {"yaml", "os", "requests", "matplotlib"}
    assert top_level_imports(source, lazy=False) == {"yaml", "os", "requests"}
    assert "pyyaml" in {normalize(d) for d in packages_distributions()["yaml"]}
