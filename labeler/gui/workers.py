"""Background work for the window: one thread pool, tasks with progress and cancel, and the
image loader (reduced decode first, then full; neighbours prefetched into a small cache).

Results reach widgets only through signals: a task's signals object lives in the GUI thread,
so emitting from a pool thread queues the call onto the GUI thread's event loop.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from labeler.core.images import decode, read_file_bytes

LIVE_POOLS: weakref.WeakSet[QThreadPool] = weakref.WeakSet()
"""Every pool a window made; tests assert none has a thread still running after close."""


def make_pool(threads: int = 3) -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(threads)
    LIVE_POOLS.add(pool)
    return pool


class TaskSignals(QObject):
    finished = Signal(object)
    failed = Signal(str)
    progressed = Signal(int, int)


class Task(QRunnable):
    """Runs `fn(progress, should_stop)` on a pool thread; its result or error comes back as
    `signals.finished(result)` or `signals.failed(message)`."""

    def __init__(self, fn: Callable[[Callable[[int, int], None], Callable[[], bool]], Any]):
        super().__init__()
        self.setAutoDelete(False)  # Python owns it; Qt must not free it under our feet
        self.fn = fn
        self.signals = TaskSignals()
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        if self._stop.is_set():
            return
        try:
            result = self.fn(self.signals.progressed.emit, self._stop.is_set)
        except Exception as e:  # the GUI shows it; a worker must never take the app down
            self.signals.failed.emit(error_message(e))
            return
        self.signals.finished.emit(result)


class Workers(QObject):
    """Owns the pool and the tasks in flight, so closing the window can stop them all."""

    def __init__(self, threads: int = 3, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = make_pool(threads)
        self._tasks: set[Task] = set()
        self._closed = False

    def start(
        self,
        fn: Callable,
        on_done: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        priority: int = 0,
    ) -> Task | None:
        if self._closed:
            return None
        task = Task(fn)
        self._tasks.add(task)
        if on_done:
            task.signals.finished.connect(on_done)
        if on_failed:
            task.signals.failed.connect(on_failed)
        if on_progress:
            task.signals.progressed.connect(on_progress)
        # Drop our reference once it reports back (connected last: runs after the callbacks).
        task.signals.finished.connect(lambda _r, t=task: self._tasks.discard(t))
        task.signals.failed.connect(lambda _m, t=task: self._tasks.discard(t))
        self.pool.start(task, priority)
        return task

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything and wait for running tasks; True when all stopped in time."""
        self._closed = True
        for t in list(self._tasks):
            t.cancel()
        self.pool.clear()
        done = self.pool.waitForDone(timeout_ms)
        self._tasks.clear()
        return done


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

    def __init__(self, workers: Workers, cache_size: int = 6) -> None:
        super().__init__()
        self.workers = workers
        self.cache: OrderedDict[int, QImage] = OrderedDict()
        self.cache_size = cache_size
        self.wanted: int | None = None
        self._inflight: dict[int, Task] = {}

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
                lambda _p, _s: decode_file(path, r),
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
            lambda _p, _s: decode_file(path),
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
