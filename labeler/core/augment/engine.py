"""The engine: draw a plan for one copy, then run it with consecutive geometric ops fused.

Drawing and applying are separate: ``plan`` walks the recipe with a seeded generator and
records every random value (and each geometric op's matrix); ``run_plan`` only executes. Every
step gets its own child generator (``Generator.spawn``), so switching one step off or changing
its parameters does not change what the other steps draw.

>>> import numpy as np
>>> from labeler.core.augment.recipe import Recipe, step
>>> recipe = Recipe(steps=(step("horizontal_flip"),))
>>> img = np.zeros((4, 6, 3), np.uint8)
>>> out, shapes = augment(img, [Shape.box(0, 0, 0, 2, 2)], recipe, rng_for(0, "k", 0))
>>> shapes[0].points
((4.0, 0.0), (6.0, 2.0))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labeler.core.augment.geometry import transform_shapes, warp
from labeler.core.augment.recipe import OneOf, OpStep, Recipe, SomeOf, Step
from labeler.core.augment.registry import MAX_OUTPUT_PIXELS, Drawn, Op
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape


def rng_for(seed: int, image_key: str, copy_index: int) -> np.random.Generator:
    """The generator for one augmented copy of one image.

    Derived by SHA-256 from (seed, image key, copy index), so it is the same in every process,
    on every platform and in every Python version (unlike ``hash()``): preview, export and
    re-export of copy 3 of an image draw the same values.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise LabelerError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(copy_index, bool)
        or not isinstance(copy_index, int | np.integer)
        or copy_index < 0
    ):
        raise LabelerError(f"copy index must be a non-negative integer, got {copy_index!r}")
    material = f"labeler.augment\x00{int(seed)}\x00{image_key}\x00{int(copy_index)}".encode()
    entropy = int.from_bytes(hashlib.sha256(material).digest(), "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


@dataclass(frozen=True)
class PlannedOp:
    """One op chosen for this copy, with its drawn values; geometric ops carry their matrix
    and the image size after them."""

    op: Op
    drawn: Drawn
    matrix: np.ndarray | None
    width: int
    height: int


def plan(recipe: Recipe, rng: np.random.Generator, width: int, height: int) -> list[PlannedOp]:
    """Decide which ops run on an image of this size and draw all their random values.

    A geometric op may not make the image larger than ``MAX_OUTPUT_PIXELS`` (or the input,
    when that is larger): the built-in ops are refused when the recipe is read, this catches
    a plugin op before any pixel is allocated."""
    out: list[PlannedOp] = []
    _walk(recipe.steps, rng, width, height, out, max(MAX_OUTPUT_PIXELS, width * height))
    return out


def _walk(
    steps: Sequence[Step],
    rng: np.random.Generator,
    w: int,
    h: int,
    out: list[PlannedOp],
    limit: int,
) -> tuple[int, int]:
    for s, r in zip(steps, rng.spawn(len(steps)), strict=True):
        if r.random() >= s.p:
            continue
        if isinstance(s, OpStep):
            drawn = s.op.sample(r, w, h)
            m = None
            if s.op.geometric:
                m, w, h = s.op.matrix(drawn, w, h)
                if int(w) * int(h) > limit:
                    raise LabelerError(
                        f"op {s.op.name!r} would make a {w}x{h} image; the limit is"
                        f" {MAX_OUTPUT_PIXELS:,} pixels per augmented image"
                    )
            out.append(PlannedOp(s.op, drawn, m, w, h))
        elif isinstance(s, OneOf):
            w, h = _walk((s.steps[int(r.integers(len(s.steps)))],), r, w, h, out, limit)
        elif isinstance(s, SomeOf):
            k = int(r.integers(s.n[0], s.n[1] + 1))
            picked = sorted(r.choice(len(s.steps), size=k, replace=False).tolist())
            w, h = _walk([s.steps[i] for i in picked], r, w, h, out, limit)
    return w, h


def run_plan(
    image: np.ndarray,
    shapes: Sequence[Shape],
    planned: Sequence[PlannedOp],
    recipe: Recipe,
    *,
    fuse: bool = True,
) -> tuple[np.ndarray, list[Shape]]:
    """Execute a plan. With ``fuse`` (the default) each run of consecutive geometric ops
    becomes one matrix and one resampling; ``fuse=False`` warps after every op (only for
    comparison: it is slower and blurrier)."""
    shapes = list(shapes)
    visible = [1.0] * len(shapes)
    pending: tuple[np.ndarray, int, int] | None = None

    def flush() -> None:
        nonlocal image, shapes, visible, pending
        if pending is not None:
            m, w, h = pending
            image = warp(image, m, w, h, recipe.warp)
            shapes, visible = transform_shapes(shapes, visible, m, w, h, recipe.min_visibility)
            pending = None

    for p in planned:
        if p.matrix is not None:
            m = p.matrix if pending is None else p.matrix @ pending[0]
            pending = (m, p.width, p.height)
            if not fuse:
                flush()
            continue
        flush()
        result = p.op.apply(image, p.drawn)
        if result.dtype != np.uint8 or result.shape[2:] != image.shape[2:]:
            raise LabelerError(f"op {p.op.name!r} changed the image type; it must keep it")
        image = result
    flush()
    return image, shapes


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise LabelerError("augmentation needs a uint8 image array")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)) or image.size == 0:
        raise LabelerError(
            f"augmentation needs a BGR (H, W, 3) or grey (H, W) image, got {image.shape}"
        )


def augment(
    image: np.ndarray,
    shapes: Sequence[Shape],
    recipe: Recipe,
    rng: np.random.Generator,
    *,
    fuse: bool = True,
) -> tuple[np.ndarray, list[Shape]]:
    """Augment one image and its shapes with a generator you provide.

    Returns the new image (same channels as the input) and the shapes moved with it; boxes
    and polygons mostly outside the new image are dropped, tags are kept. The input is not
    modified.
    """
    _check_image(image)
    h, w = image.shape[:2]
    return run_plan(image, shapes, plan(recipe, rng, w, h), recipe, fuse=fuse)


def augment_copy(
    image: np.ndarray,
    shapes: Sequence[Shape],
    recipe: Recipe,
    *,
    image_key: str,
    copy_index: int,
    seed: int | None = None,
) -> tuple[np.ndarray, list[Shape]]:
    """Copy number ``copy_index`` of an image, as the export writes it: the generator is
    ``rng_for(seed, image_key, copy_index)`` with ``seed`` defaulting to the recipe's."""
    rng = rng_for(recipe.seed if seed is None else seed, image_key, copy_index)
    return augment(image, shapes, recipe, rng)
