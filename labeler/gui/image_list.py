"""The image list: a virtual model over SQL pages, and thumbnails made off the GUI thread.

The model holds the row count (one COUNT) and a bounded set of pages of rows, fetched when
the view asks for a row, so memory and start-up time do not grow with the project.
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

from labeler.core.thumbs import thumbnail
from labeler.gui.workers import to_qimage
from labeler.store import queries
from labeler.store.project import Project
from labeler.store.queries import ImageQuery, ImageRow

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


class ImageListModel(QAbstractListModel):
    """Rows of `queries.page`, fetched a page at a time and kept in a small LRU."""

    PAGE = 200
    MAX_PAGES = 30

    def __init__(self, project: Project, thumbs: ThumbnailLoader | None) -> None:
        super().__init__()
        self.project = project
        self.thumbs = thumbs
        self.query = ImageQuery()
        self._count = 0
        self._pages: OrderedDict[int, list[ImageRow]] = OrderedDict()
        self._placeholder = QImage(ICON_PX, ICON_PX, QImage.Format.Format_RGB32)
        self._placeholder.fill(QColor("#3a3d42"))
        if thumbs is not None:
            thumbs.thumbnail_loaded.connect(self._thumb_ready)
        self.set_query(self.query)

    # -- the query --------------------------------------------------------------------
    def set_query(self, query: ImageQuery) -> None:
        self.beginResetModel()
        self.query = query
        self._pages.clear()
        self._count = queries.count(self.project, query)
        self.endResetModel()

    def reload(self) -> None:
        """Count and rows again (after an import or a class merge)."""
        self.set_query(self.query)

    # -- rows -------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def image_row(self, row: int) -> ImageRow | None:
        if not 0 <= row < self._count:
            return None
        n = row // self.PAGE
        page = self._pages.get(n)
        if page is None:
            page = queries.page(self.project, self.query, n * self.PAGE, self.PAGE)
            self._pages[n] = page
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(n)
        i = row - n * self.PAGE
        return page[i] if i < len(page) else None

    def position_of(self, image_id: int) -> int | None:
        for n, page in self._pages.items():
            for i, r in enumerate(page):
                if r.id == image_id:
                    return n * self.PAGE + i
        return queries.position_of(self.project, self.query, image_id)

    def refresh_image(self, image_id: int) -> None:
        """Re-read one image's row (labelled/reviewed changed) without moving any row."""
        fresh = queries.row_of(self.project, image_id)
        for n, page in self._pages.items():
            for i, r in enumerate(page):
                if r.id == image_id and fresh is not None:
                    page[i] = fresh
                    idx = self.index(n * self.PAGE + i)
                    self.dataChanged.emit(idx, idx)
                    return

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):  # noqa: D102
        r = self.image_row(index.row()) if index.isValid() else None
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
        for n, page in self._pages.items():
            for i, r in enumerate(page):
                if r.sha256 == sha:
                    idx = self.index(n * self.PAGE + i)
                    self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


def make_list_view() -> QListView:
    """A list view that never measures every row: with uniform sizes, laying out 100,000 rows
    is arithmetic, not 100,000 size hints."""
    view = QListView()
    view.setUniformItemSizes(True)
    view.setIconSize(QSize(ICON_PX, ICON_PX))
    view.setSelectionMode(QListView.SelectionMode.SingleSelection)
    view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
    return view
