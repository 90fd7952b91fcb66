"""What every test run shares, the suite's (tests/) and the first-party plugins' (plugins/):
Qt offscreen, no progress bars, and HOME and the config, cache and data folders in a temp
folder, so no test reads or writes the user's settings or plugins (STYLE.md, idiom 9).

It lives at the repository root because pytest applies a conftest.py only to its own folder
and those below it, and both tests/ and plugins/ need this one.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["LABELER_PROGRESS"] = "0"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
