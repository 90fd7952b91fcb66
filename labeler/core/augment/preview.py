"""The preview grid: several augmented copies of one image, shapes drawn, in one picture."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from labeler.core.augment.engine import augment, rng_for
from labeler.core.augment.recipe import Recipe
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape

BGR = tuple[int, int, int]
_GAP = 4
_BACKGROUND = 40


def class_colour(class_id: int) -> BGR:
    """A stable, distinct colour per class id (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((class_id * 0.618033988749895) % 1.0, 0.85, 1.0)
    return (round(b * 255), round(g * 255), round(r * 255))


def preview_grid(
    image: np.ndarray,
    shapes: Sequence[Shape],
    recipe: Recipe,
    n: int = 8,
    seed: int | None = None,
    class_colours: Mapping[int, BGR] | None = None,
    *,
    image_key: str = "",
    cell: int = 256,
) -> np.ndarray:
    """Tile ``n`` augmented copies (copy indices 0..n-1) with their shapes drawn; BGR uint8.

    With the image's ``image_key`` (its SHA-256) and the export's ``seed`` (default: the
    recipe's), cell i shows exactly copy i as the export writes it.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 256:
        raise LabelerError(f"preview: n must be an integer in [1, 256], got {n!r}")
    if isinstance(cell, bool) or not isinstance(cell, int) or cell < 16:
        raise LabelerError(f"preview: cell must be an integer >= 16, got {cell!r}")
    seed = recipe.seed if seed is None else seed
    colours = dict(class_colours or {})
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full(
        (rows * cell + (rows + 1) * _GAP, cols * cell + (cols + 1) * _GAP, 3),
        _BACKGROUND,
        dtype=np.uint8,
    )
    for i in range(n):
        out, moved = augment(image, shapes, recipe, rng_for(seed, image_key, i))
        tile = _draw_tile(out, moved, cell, colours)
        y = _GAP + (i // cols) * (cell + _GAP)
        x = _GAP + (i % cols) * (cell + _GAP)
        grid[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    return grid


def _draw_tile(image: np.ndarray, shapes: Sequence[Shape], cell: int, colours: dict) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(cell / w, cell / h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    tile = cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if tile.ndim == 2:
        tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
    for shape in shapes:
        if shape.kind == "tag":
            continue
        colour = tuple(int(c) for c in colours.get(shape.class_id, class_colour(shape.class_id)))
        # 4 fractional bits: shapes land where they are, not on the nearest pixel.
        pts = np.rint(np.asarray(shape.points) * s * 16).astype(np.int32)
        if shape.kind == "box":
            cv2.rectangle(tile, tuple(pts[0]), tuple(pts[1]), colour, 2, cv2.LINE_AA, shift=4)
        else:
            cv2.polylines(tile, [pts], True, colour, 2, cv2.LINE_AA, shift=4)
    return tile
