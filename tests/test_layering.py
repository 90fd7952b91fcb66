"""DESIGN.md's layering, enforced: cli, gui -> app -> ml, store -> core; plugins use core
only; no Qt below gui; lazy torch.

Two checks: a static one over every module's imports (so a new file cannot slip by), and a
run-time one that imports the packages in a fresh interpreter and looks at sys.modules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
from testdata import REPO

PKG = REPO / "labeler"
QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6")
HEAVY = ("torch", "torchvision")
# What each layer may import from labeler itself.
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "ml": {"core", "ml"},  # runs on a bare GPU machine: never the store or the use cases
    "app": {"core", "store", "ml", "app"},
    "gui": {"core", "store", "ml", "app", "gui", "plugins"},
    "plugins.py": {"core"},
}
PLUGIN_PACKAGES = sorted((REPO / "plugins").glob("*/labeler_*"))


def _imports(path):
    """(module, at_module_level) for every import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    top = set(map(id, tree.body))
    # if TYPE_CHECKING / try blocks at module level also run at import time
    for node in tree.body:
        if isinstance(node, (ast.If, ast.Try)):
            top |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, id(node) in top


def _layer_files(layer):
    if layer.endswith(".py"):
        return [PKG / layer]
    return sorted((PKG / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["core", "store", "ml", "app", "plugins.py"])
def test_core_store_ml_never_import_qt(layer):
    bad = [
        f"{f.relative_to(REPO)}: {m}"
        for f in _layer_files(layer)
        for m, _ in _imports(f)
        if m.split(".")[0] in QT
    ]
    assert not bad, "Qt imported outside labeler/gui:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", ["core", "store"])
def test_core_and_store_never_import_torch(layer):
    bad = [
        f"{f.relative_to(REPO)}: {m}"
        for f in _layer_files(layer)
        for m, _ in _imports(f)
        if m.split(".")[0] in HEAVY
    ]
    assert not bad, "torch imported in core/store:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down_the_layers(layer):
    bad = []
    for f in _layer_files(layer):
        for m, _ in _imports(f):
            parts = m.split(".")
            if parts[0] == "labeler" and len(parts) > 1 and parts[1] not in ALLOWED[layer]:
                bad.append(f"{f.relative_to(REPO)}: {m}")
    assert not bad, f"labeler/{layer} imports a layer above it:\n" + "\n".join(bad)


def test_every_package_has_a_row():
    rows = {k for k in ALLOWED if not k.endswith(".py")}
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert packages == rows, "a new package under labeler/ needs its row in ALLOWED"


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda p: p.name)
def test_first_party_plugins_use_core_only(package):
    bad = [
        f"{f.relative_to(REPO)}: {m}"
        for f in sorted(package.rglob("*.py"))
        for m, _ in _imports(f)
        if m.split(".")[0] == "labeler"
        and len(m.split(".")) > 1
        and m.split(".")[1] != "core"
        or m.split(".")[0] in QT + HEAVY
    ]
    assert PLUGIN_PACKAGES and not bad, "a plugin reaches past core:\n" + "\n".join(bad)


def test_gui_and_cli_import_torch_only_inside_functions():
    files = _layer_files("gui") + [PKG / "cli.py"]
    bad = [
        f"{f.relative_to(REPO)}: {m}"
        for f in files
        for m, top in _imports(f)
        if top and m.split(".")[0] in HEAVY
    ]
    assert not bad, "torch imported at module level:\n" + "\n".join(bad)


def test_starting_the_cli_and_gui_imports_neither_torch_nor_qt_needlessly():
    code = (
        "import sys, json, labeler.cli, labeler.store.project, labeler.app.imports;"
        "a = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6'));"
        "import labeler.gui.app;"
        "b = sorted(m for m in sys.modules if m.split('.')[0] == 'torch');"
        "print(json.dumps([a, b]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    cli_heavy, gui_torch = json.loads(out.stdout)
    assert cli_heavy == [], "the CLI imports torch or Qt at start-up"
    assert gui_torch == [], "the GUI imports torch at start-up"
