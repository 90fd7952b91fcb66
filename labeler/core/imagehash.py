"""A 64-bit DCT perceptual hash, stored at import for near-duplicate work.

Two images whose hashes differ in few bits (Hamming distance) look alike: resizing and JPEG
re-encoding move a hash by a few bits, a different photo by about 32.

>>> import numpy as np
>>> phash(np.zeros((64, 64), np.uint8)) == phash(np.zeros((32, 32), np.uint8))
True
"""

from __future__ import annotations

import cv2
import numpy as np

_MASK64 = (1 << 64) - 1


def phash(image: np.ndarray) -> int:
    """Unsigned 64-bit pHash of a grey (H, W) or BGR (H, W, 3) uint8 image."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    # The DC term only says how bright the image is; the median of the rest is the threshold.
    med = np.median(low[1:])
    bits = low > med
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return ((a ^ b) & _MASK64).bit_count()


def to_signed(h: int) -> int:
    """SQLite integers are signed 64-bit: store a hash in that range."""
    h &= _MASK64
    return h - (1 << 64) if h >= (1 << 63) else h


def to_unsigned(h: int) -> int:
    return h & _MASK64
