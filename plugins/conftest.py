"""Fixtures for the first-party plugins' tests: an isolated HOME and config dir, and a way to
load a plugin the way a user installs one by hand, by putting it in the user plugin folder.

The plugins are never pip-installed for the suite; `load_from_folder` copies the package into
``$XDG_CONFIG_HOME/labeler/plugins`` and loads it through ``labeler.plugins.load_plugins``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["LABELER_PROGRESS"] = "0"

PLUGINS = Path(__file__).resolve().parent
DEMO_PHOTOS = PLUGINS.parent / "resources" / "demo-photos"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))


@pytest.fixture
def load_from_folder():
    """load_from_folder("fog", "labeler_fog") -> the plugin's PluginStatus, loaded from the
    user plugin folder; everything it registered is removed after the test."""
    from labeler import plugins

    def load(project: str, package: str):
        dst = plugins.plugin_dir() / package
        shutil.copytree(
            PLUGINS / project / package, dst, ignore=shutil.ignore_patterns("__pycache__")
        )
        statuses = plugins.load_plugins(reload=True)
        return next(s for s in statuses if s.name == package)

    yield load
    plugins.unload_plugins()
