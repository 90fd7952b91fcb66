"""Shared fixtures: a project, the demo photos, a CIFAR slice. Offscreen Qt and an isolated
HOME come from the repository's root conftest.py, which the plugins' tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from testdata import CIFAR_MINI, DEMO_PHOTOS


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
