"""Recipe previews: a grid of augmented copies of one image with its shapes drawn, the same
for `labeler recipe preview` and the window's recipe editor (a policy written once)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeler.app.outputs import atomic_write_bytes, check_output_path
from labeler.core.augment import Recipe, encode_image, preview_grid, read_image
from labeler.core.errors import LabelerError
from labeler.core.model import ImageRecord, colour_bgr
from labeler.core.shapes import Shape
from labeler.store import recipes as stored
from labeler.store.project import Project

PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class PreviewSource:
    """What a preview needs from the project, read on the project's thread; rendering it
    (`render_preview`) touches no project and may run on a worker."""

    image: ImageRecord
    path: Path
    shapes: tuple[Shape, ...]
    colours: dict[int, tuple[int, int, int]]


def preview_source(project: Project, image: ImageRecord) -> PreviewSource:
    colours = {c.id: colour_bgr(c.colour) for c in project.classes()}
    return PreviewSource(image, project.resolve(image), tuple(project.shapes(image.id)), colours)


def render_preview(
    source: PreviewSource, recipe: Recipe, *, n: int, seed: int, pixels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(the source's pixels, the preview grid). Pass `pixels` to skip decoding again."""
    if pixels is None:
        pixels = read_image(source.path)
    grid = preview_grid(
        pixels, list(source.shapes), recipe, n=n, seed=seed, class_colours=source.colours,
        image_key=source.image.sha256,
    )  # fmt: skip
    return pixels, grid


def write_preview(
    project: Project,
    recipe_name: str,
    image_ref: str,
    out: str | os.PathLike[str],
    *,
    n: int = 8,
    seed: int = 0,
) -> tuple[Path, ImageRecord]:
    """Render the stored recipe `recipe_name` on an image (id, path or file name) and write
    the grid to `out` (.png or .jpg), never onto the project or one of its images."""
    out = Path(out)
    if out.suffix.lower() not in PREVIEW_SUFFIXES:
        raise LabelerError(f"--out must end in .png or .jpg: {out.name}")
    recipe = Recipe.from_dict(stored.require_recipe(project, recipe_name).definition)
    target = check_output_path(project, out, kind="file")
    image = project.find_image(image_ref)
    _, grid = render_preview(preview_source(project, image), recipe, n=n, seed=seed)
    atomic_write_bytes(target, encode_image(target, grid))
    return target, image
