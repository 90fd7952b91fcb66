"""Fixtures for the first-party plugins' tests: a way to load a plugin the way a user installs
one by hand, by putting it in the user plugin folder (the isolated HOME and config dir it lands
in come from the repository's root conftest.py).

The plugins are never pip-installed for the suite; `load_from_folder` copies the package into
``$XDG_CONFIG_HOME/labeler/plugins`` and loads it through ``labeler.plugins.load_plugins``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent
DEMO_PHOTOS = PLUGINS.parent / "resources" / "demo-photos"


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
