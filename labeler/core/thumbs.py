"""Thumbnails: a small upright JPEG per image, cached on disk by the image's SHA-256.

The cache is disposable (any file may vanish); a thumbnail is made from a reduced decode
(libjpeg's DCT scaling), so even a 24-megapixel photo costs a few milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from labeler.core.files import atomic_writer
from labeler.core.images import decode, read_file_bytes

THUMB_SIZE = 128


def reduction_for(width: int, height: int, target: int) -> int:
    """The largest decode reduction (1, 2, 4, 8) that keeps the long side >= `target`."""
    long_side = max(width, height)
    for r in (8, 4, 2):
        if long_side // r >= target:
            return r
    return 1


def cache_path(cache_dir: str | os.PathLike[str], sha256: str, size: int = THUMB_SIZE) -> Path:
    return Path(cache_dir) / f"{size}" / sha256[:2] / f"{sha256}.jpg"


def thumbnail(
    image_path: str | os.PathLike[str],
    sha256: str,
    cache_dir: str | os.PathLike[str] | None,
    *,
    size: int = THUMB_SIZE,
    width: int = 0,
    height: int = 0,
) -> np.ndarray:
    """A BGR thumbnail whose long side is at most `size`, read from or written to the cache.

    Raises `BadImage` when the file is missing or unreadable."""
    cached = cache_path(cache_dir, sha256, size) if cache_dir else None
    if cached is not None and cached.is_file():
        img = cv2.imread(str(cached), cv2.IMREAD_COLOR)
        if img is not None:
            return img
    data = read_file_bytes(image_path)
    img = decode(data, reduced=reduction_for(width, height, size) if width else 1)
    h, w = img.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        img = cv2.resize(
            img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    if cached is not None:
        _write_atomic(cached, img)
    return img


def _write_atomic(path: Path, img: np.ndarray) -> None:
    # A half-written thumbnail must never be read back: write aside, then rename.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            with atomic_writer(path, sync=False) as f:  # a disposable cache: no fsync
                f.write(buf.tobytes())
    except OSError:
        pass  # a read-only or full cache only costs speed
