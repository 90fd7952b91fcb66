"""GUI fixtures: isolated settings, a window on a real project, and a check that no worker
thread outlives its window."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import make_images
from PySide6.QtCore import QSettings

from labeler.store.project import Project


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, qapp):
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    yield


@pytest.fixture(autouse=True)
def _no_worker_left_running():
    yield
    from labeler.gui.workers import LIVE_POOLS

    busy = [p.activeThreadCount() for p in list(LIVE_POOLS) if p.activeThreadCount()]
    assert not busy, f"worker threads still running after the test: {busy}"


@pytest.fixture
def project_path(tmp_path) -> Path:
    """A project with five 400x300 images and three classes (keys 1, 2, 3)."""
    from labeler.app.imports import import_folders

    path = tmp_path / "work.labeler"
    make_images(tmp_path / "imgs", [(400, 300)] * 5)
    with Project.create(path) as p:
        import_folders(p, [tmp_path / "imgs"])
        for name in ("cat", "dog", "bird"):
            p.add_class(name)
    return path


@pytest.fixture
def window(qtbot, project_path):
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(project_path), open_last=False)
    qtbot.addWidget(w)
    w.resize(1100, 750)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.canvas.has_pixels(), timeout=5000)
    yield w
    w.close()


@pytest.fixture
def db(project_path):
    """A second, read-only look at the project, as a reopened file would see it."""

    def read():
        with Project.open(project_path) as p:
            return {img.id: p.shapes(img.id) for img in p.images()}

    return read
