"""The window's thread pools (`make_pool`; the jobs on them are `labeler.gui.jobs`) and the
image loader (reduced decode first, then full; neighbours prefetched into a small cache).

Results reach widgets only through signals: a job's signals object lives in the GUI thread,
so emitting from a pool thread queues the call onto the GUI thread's event loop.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from labeler.core.images import decode, read_file_bytes

if TYPE_CHECKING:  # jobs imports this module
    from labeler.gui.jobs import Job, JobRunner

LIVE_POOLS: weakref.WeakSet[QThreadPool] = weakref.WeakSet()
"""Every pool a window made; tests assert none has a thread still running after close."""


def make_pool(threads: int = 3) -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(threads)
    LIVE_POOLS.add(pool)
    return pool


def error_message(e: Exception) -> str:
    """What a worker's error says to the user: its first line (its type when it says nothing)."""
    text = str(e) or type(e).__name__
    return text.splitlines()[0] if text else type(e).__name__


def to_qimage(bgr: np.ndarray) -> QImage:
    """A BGR (or grey) array as an RGB32 QImage, converted straight into the QImage's memory
    so the GUI thread never has to convert it."""
    if bgr.ndim == 2:
        bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    h, w = bgr.shape[:2]
    img = QImage(w, h, QImage.Format.Format_RGB32)
    bpl = img.bytesPerLine()
    buf = np.frombuffer(img.bits(), np.uint8, count=bpl * h).reshape(h, bpl // 4, 4)
    cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA, dst=buf[:, :w])
    return img


def decode_file(path: str, reduced: int = 1) -> QImage:
    return to_qimage(decode(read_file_bytes(path), reduced=reduced))


BIG_PIXELS = 4_000_000
"""Above this many pixels an image is shown from a reduced decode first."""


class ImageLoader(QObject):
    """Decodes images for the canvas off the GUI thread.

    `show(id, path, w, h)` asks for the image the user is looking at: a cached full decode
    comes back at once; a big image comes back twice (a 1/8 or 1/4 decode within tens of
    milliseconds, then full size). `prefetch` fills the cache with neighbours.
    """

    image_loaded = Signal(int, QImage, bool)  # image id, pixels, full resolution
    image_failed = Signal(int, str)

    def __init__(self, workers: JobRunner, cache_size: int = 6) -> None:
        super().__init__()
        self.workers = workers
        self.cache: OrderedDict[int, QImage] = OrderedDict()
        self.cache_size = cache_size
        self.wanted: int | None = None
        self._inflight: dict[int, Job] = {}

    def show(self, image_id: int, path: str, width: int, height: int) -> None:
        self.wanted = image_id
        img = self.cache.get(image_id)
        if img is not None:
            self.cache.move_to_end(image_id)
            self.image_loaded.emit(image_id, img, True)
            return
        if width * height > BIG_PIXELS:
            r = 8 if max(width, height) // 8 >= 600 else 4
            self.workers.start(
                lambda _job: decode_file(path, r),
                lambda img, i=image_id: self._preview_done(i, img),
                lambda _m: None,  # the full decode reports the error
                priority=2,
            )
        self._start_full(image_id, path, priority=1)

    def prefetch(self, items: list[tuple[int, str]]) -> None:
        for image_id, path in items:
            if image_id not in self.cache:
                self._start_full(image_id, path, priority=0)

    def _start_full(self, image_id: int, path: str, priority: int) -> None:
        if image_id in self._inflight:
            return
        task = self.workers.start(
            lambda _job: decode_file(path),
            lambda img, i=image_id: self._full_done(i, img),
            lambda msg, i=image_id: self._failed(i, msg),
            priority=priority,
        )
        if task is not None:
            self._inflight[image_id] = task

    def _preview_done(self, image_id: int, img: QImage) -> None:
        if image_id == self.wanted and image_id not in self.cache:
            self.image_loaded.emit(image_id, img, False)

    def _full_done(self, image_id: int, img: QImage) -> None:
        self._inflight.pop(image_id, None)
        self.cache[image_id] = img
        self.cache.move_to_end(image_id)
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        if image_id == self.wanted:
            self.image_loaded.emit(image_id, img, True)

    def _failed(self, image_id: int, message: str) -> None:
        self._inflight.pop(image_id, None)
        if image_id == self.wanted:
            self.image_failed.emit(image_id, message)

    def forget(self, image_id: int) -> None:
        self.cache.pop(image_id, None)
