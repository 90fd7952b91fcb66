"""Shared fixtures. Tests run offscreen, with HOME and Qt settings in a temp folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["LABELER_PROGRESS"] = "0"

from testdata import CIFAR_MINI, DEMO_PHOTOS  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))


@pytest.fixture
def project(tmp_path):
    from labeler.store.project import Project

    p = Project.create(tmp_path / "test.labeler")
    yield p
    p.close()


@pytest.fixture
def photos(tmp_path) -> Path:
    """A writable copy of the demo photos."""
    dst = tmp_path / "photos"
    shutil.copytree(DEMO_PHOTOS, dst)
    return dst


@pytest.fixture
def cifar_subset(tmp_path) -> Path:
    """An ImageFolder tree: three classes of real 32x32 CIFAR images, 5/4/3 per class."""
    dst = tmp_path / "cifar"
    for cls, n in (("airplane", 5), ("cat", 4), ("truck", 3)):
        (dst / cls).mkdir(parents=True)
        for f in sorted((CIFAR_MINI / cls).iterdir())[:n]:
            shutil.copy(f, dst / cls / f.name)
    return dst
