"""What goes into the bundle: the options `labeler.spec` hands to PyInstaller, as plain data.

Kept apart from the spec so `tests/test_packaging.py` can check them in CI without PyInstaller
or a build (ADR 0061). Paths are relative to the repository root.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENTRY = "packaging/labeler_main.py"
NAME = "labeler"

# We use QtCore, QtGui and QtWidgets only. Anything else a hook might drag in stays out, and
# so do other Qt bindings and GUI toolkits, which would clash with PySide6 at run time.
QT_USED = ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets")
EXCLUDES = [
    *(
        f"PySide6.{m}"
        for m in (
            "QtNetwork",
            "QtQml",
            "QtQuick",
            "QtQuickWidgets",
            "QtOpenGL",
            "QtOpenGLWidgets",
            "QtSql",
            "QtTest",
            "QtXml",
            "QtDBus",
            "QtConcurrent",
            "QtPrintSupport",
            "QtSvg",
            "QtSvgWidgets",
            "QtHelp",
            "QtUiTools",
            "QtDesigner",
        )
    ),
    "PyQt5",
    "PyQt6",
    "PySide2",
    "tkinter",
    "_tkinter",
    "IPython",
    "matplotlib",
    "pytest",
    "hypothesis",
    "pycocotools",  # the smoke test's COCO loader runs from the build venv, never the bundle
    # torch.compile's compiler (900 MB); Labeler trains eagerly and torch imports without it.
    "triton",
    "torch.utils.tensorboard",
    # Not "torchgen": torch imports it at start (torch.utils._python_dispatch); the smoke
    # test's GAN step caught that.
]

# Files dropped from the collected binaries and data (dest paths, '/' separated).
_DROP = [
    r"(^|/)PySide6/Qt/translations/",  # Qt's own UI translations: our UI is English
    r"(^|/)PySide6/(Qt/)?(qml|resources/qtwebengine)",
    r"(^|/)torch/include/",  # C++ headers, for building extensions only
    r"(^|/)torch/share/cmake/",
    r"(^|/)nvidia/[^/]+(/[^/]+)?/include/",
    r"\.(a|lib|h|hpp|cuh|pyi)$",  # static libraries and headers
    r"(^|/)(tests?|testing/_private)/",  # packages' own test suites
]
_DROP_RE = re.compile("|".join(_DROP))


def keep(dest: str) -> bool:
    """False for a file the bundle does not need (see ``_DROP``)."""
    return not _DROP_RE.search(dest.replace("\\", "/"))


def first_party_plugins() -> list[tuple[str, list[str]]]:
    """(distribution name, packages) of each plugin under plugins/, from its pyproject.toml.

    The build venv has them installed, so their metadata (the ``labeler.plugins`` entry
    points) is copied into the bundle and the plugins are found as on any install."""
    out = []
    for pyproject in sorted((REPO / "plugins").glob("*/pyproject.toml")):
        doc = tomllib.loads(pyproject.read_text())
        out.append((doc["project"]["name"], list(doc["tool"]["setuptools"]["packages"])))
    return out


def hidden_imports() -> list[str]:
    """Modules PyInstaller cannot see: the plugins (loaded by entry point) and every module of
    labeler itself (the CLI imports its commands lazily, some by name)."""
    mods = [pkg for _, pkgs in first_party_plugins() for pkg in pkgs]
    for path in sorted((REPO / "labeler").rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        mods.append(".".join(parts))
    return mods


DYNAMIC_LIBS = ["torchvision"]
"""Packages whose compiled extensions are loaded by path, not imported, so PyInstaller's
analysis misses them: torchvision 0.29 loads ``_C_stable.so`` with ``torch.ops.load_library``
(without it: "operator torchvision::nms does not exist", found by the smoke test)."""

LIB_PATTERNS = ["*.so", "*.so.*", "*.pyd", "*.dll", "*.dylib"]

BESIDE = ["resources"]
"""Folders copied beside the executable, where users find them: the demo photos and their
licences (resources/LICENCES.md). The app itself reads no data files at run time."""


def datas() -> list[tuple[str, str]]:
    """(source, folder in the bundle) for data files PyInstaller should collect: none of ours
    (hooks add their packages' own; the plugins' metadata is added by the spec)."""
    return []


def analysis_options() -> dict:
    """Keyword arguments for PyInstaller's ``Analysis`` (plus the plugin metadata)."""
    return {
        "scripts": [str(REPO / ENTRY)],
        "pathex": [str(REPO)],
        "hiddenimports": hidden_imports(),
        "excludes": EXCLUDES,
        "datas": datas(),
        "noarchive": False,
    }
