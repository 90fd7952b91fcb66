"""GUI fixtures: isolated settings, a window on a real project, and a check that no worker
thread outlives its window."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt

from labeler.store.project import Project

DEMO_PHOTOS = Path(__file__).resolve().parents[2] / "resources" / "demo-photos"


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


def make_images(folder: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    """Real JPEGs cut from the demo photos, resized to the given (width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = cv2.imread(str(DEMO_PHOTOS / "astronaut.jpg"))
    out = []
    for i, (w, h) in enumerate(sizes):
        img = cv2.resize(np.roll(src, i * 37, axis=1), (w, h))
        p = folder / f"img{i:03d}.jpg"
        cv2.imwrite(str(p), img)
        out.append(p)
    return out


@pytest.fixture
def project_path(tmp_path) -> Path:
    """A project with five 400x300 images and three classes (keys 1, 2, 3)."""
    from labeler.store.importer import import_folders

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
