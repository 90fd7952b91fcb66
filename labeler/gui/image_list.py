"""The image list: a Qt model over the session's paged `ImageList`, and thumbnails made off
the GUI thread.

The rows are `labeler.app.image_list.ImageList`'s: a count and a bounded set of pages read
when the view asks for a row, so memory and start-up time do not grow with the project.
Thumbnails are requested only for rows the view paints; the loader serves the newest
requests first (the rows the user is looking at now) and forgets stale ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSize,
    QStandardPaths,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QListView

from labeler.app.image_list import ImageList, ImageListListener
from labeler.core.thumbs import thumbnail
from labeler.gui.workers import to_qimage
from labeler.store.queries import ImageRow

THUMB_PX = 96
ICON_PX = 48


def thumbnail_cache_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return Path(base) / "thumbs"


class _ThumbRunner(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        self.loader._work()


class ThumbnailLoader(QObject):
    """Makes thumbnails on at most `runners` pool threads, newest request first."""

    thumbnail_loaded = Signal(str, QImage)

    def __init__(self, pool: QThreadPool, cache_dir: Path | None, runners: int = 2) -> None:
        super().__init__()
        self.pool = pool
        self.cache_dir = cache_dir
        self.memory: OrderedDict[str, QImage] = OrderedDict()
        self.memory_size = 800
        self._lock = threading.Lock()
        self._stack: OrderedDict[str, tuple[str, int, int]] = OrderedDict()
        self._running = 0
        self._max_runners = runners
        self._stopped = False
        self.thumbnail_loaded.connect(self._remember)

    def get(self, sha: str) -> QImage | None:
        img = self.memory.get(sha)
        if img is not None:
            self.memory.move_to_end(sha)
        return img

    def request(self, sha: str, path: str, width: int, height: int) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stack[sha] = (path, width, height)
            self._stack.move_to_end(sha)
            while len(self._stack) > 300:  # scrolled past: not worth making any more
                self._stack.popitem(last=False)
            if self._running >= self._max_runners:
                return
            self._running += 1
        self.pool.start(_ThumbRunner(self), -1)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._stack.clear()

    def _pop(self) -> tuple[str, tuple[str, int, int]] | None:
        with self._lock:
            if self._stopped or not self._stack:
                self._running -= 1
                return None
            return self._stack.popitem(last=True)

    def _work(self) -> None:
        while (job := self._pop()) is not None:
            sha, (path, w, h) = job
            try:
                small = thumbnail(path, sha, self.cache_dir, size=THUMB_PX, width=w, height=h)
                img = to_qimage(_fit(small, ICON_PX))
            except Exception:
                img = _missing_image()
            self.thumbnail_loaded.emit(sha, img)

    def _remember(self, sha: str, img: QImage) -> None:
        self.memory[sha] = img
        while len(self.memory) > self.memory_size:
            self.memory.popitem(last=False)


def _fit(img: np.ndarray, side: int) -> np.ndarray:
    # The list shows icons at ICON_PX; shrinking here keeps every row the same height and
    # the in-memory cache small (the disk cache keeps the larger THUMB_PX version).
    h, w = img.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def _missing_image() -> QImage:
    img = QImage(ICON_PX, ICON_PX, QImage.Format.Format_RGB32)
    img.fill(QColor("#5a2a2a"))
    p = QPainter(img)
    p.setPen(QColor("#ffb0b0"))
    p.setFont(QFont("Sans", 20, QFont.Weight.Bold))
    p.drawText(img.rect(), Qt.AlignmentFlag.AlignCenter, "?")
    p.end()
    return img


class ImageListModel(QAbstractListModel, ImageListListener):
    """The Qt face of an `ImageList` (the session's): rows, names, icons and marks."""

    def __init__(self, images: ImageList, thumbs: ThumbnailLoader | None) -> None:
        super().__init__()
        self.images = images
        self.project = images.project
        self.thumbs = thumbs
        self._placeholder = QImage(ICON_PX, ICON_PX, QImage.Format.Format_RGB32)
        self._placeholder.fill(QColor("#3a3d42"))
        if thumbs is not None:
            thumbs.thumbnail_loaded.connect(self._thumb_ready)
        images.listener = self

    # -- what the list tells us -------------------------------------------------------
    def about_to_reset(self) -> None:
        self.beginResetModel()

    def was_reset(self) -> None:
        self.endResetModel()

    def row_changed(self, row: int) -> None:
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)

    # -- rows -------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.images)

    def image_row(self, row: int) -> ImageRow | None:
        return self.images.row(row)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):  # noqa: D102
        r = self.images.row(index.row()) if index.isValid() else None
        if r is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            mark = "✓ " if r.status == "reviewed" else ""
            return f"{mark}{r.name}"
        if role == Qt.ItemDataRole.ToolTipRole:
            extra = f" · {r.split}" if r.split else ""
            gen = " · generated" if r.provenance == "generated" else ""
            return f"{r.path}\n{r.width}×{r.height} · {r.status}{extra}{gen}"
        if role == Qt.ItemDataRole.FontRole and r.labelled:
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ItemDataRole.ForegroundRole and not r.labelled:
            return QColor("#9aa0a6")
        if role == Qt.ItemDataRole.DecorationRole and self.thumbs is not None:
            img = self.thumbs.get(r.sha256)
            if img is None:
                self.thumbs.request(r.sha256, str(self.project.resolve(r.path)), r.width, r.height)
                return self._placeholder
            return img
        if role == Qt.ItemDataRole.UserRole:
            return r.id
        return None

    def _thumb_ready(self, sha: str, _img: QImage) -> None:
        for row in self.images.cached_rows_of(sha):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class ImageListView(QListView):
    """The image list. Typing does not jump to a row whose name starts with the key: a class
    key (`4`) pressed while the list has the focus after a click must not move to another
    image (4008.jpg) under the annotator's hands. Going to an image by name is Ctrl+G."""

    def keyboardSearch(self, search: str) -> None:  # noqa: N802 (Qt's name)
        return


def make_list_view() -> QListView:
    """A list view that never measures every row: with uniform sizes, laying out 100,000 rows
    is arithmetic, not 100,000 size hints."""
    view = ImageListView()
    view.setUniformItemSizes(True)
    view.setIconSize(QSize(ICON_PX, ICON_PX))
    view.setSelectionMode(QListView.SelectionMode.SingleSelection)
    view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
    return view
