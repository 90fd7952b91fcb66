"""Mouse helpers for driving the canvas in image coordinates."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt

DEMO_PHOTOS = Path(__file__).resolve().parents[2] / "resources" / "demo-photos"


def view_point(window, x: float, y: float) -> QPoint:
    """The viewport pixel showing scene (image) point (x, y)."""
    return window.canvas.mapFromScene(QPointF(x, y))


def drag(qtbot, window, start, end, modifier=Qt.KeyboardModifier.NoModifier, steps: int = 4):
    vp = window.canvas.viewport()
    a, b = view_point(window, *start), view_point(window, *end)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, modifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, modifier, b)


def click(qtbot, window, x, y, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(
        window.canvas.viewport(), Qt.MouseButton.LeftButton, modifier, view_point(window, x, y)
    )


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


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
