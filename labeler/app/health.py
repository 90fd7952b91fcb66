"""Running the health checks on a project, and acting on what they find."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from labeler.app.outputs import atomic_write_text, check_output_path
from labeler.core.health import HealthData, HealthImage, HealthReport, run_health
from labeler.core.health.files import search_roots
from labeler.core.health.html import render_html
from labeler.core.images import BadImage, decode, read_file_bytes
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.store.project import Project


def health_data(project: Project) -> HealthData:
    """The project as the checks see it: absolute paths, hashes, sizes, splits, shapes."""
    images = []
    for i in project.images():
        path = project.resolve(i)
        images.append(
            HealthImage(
                id=i.id,
                path=str(path),
                sha256=i.sha256,
                phash=i.phash,
                width=i.width,
                height=i.height,
                is_grey=True if i.channels == 1 else None,
                split=i.split,
                generated=i.provenance == "generated",
                size_bytes=i.bytes,
            )
        )
    return HealthData(
        images=images,
        shapes=project.all_shapes(),
        classes={c.id: c.name for c in project.classes()},
        search_roots=search_roots(project.folder, [im.path for im in images])[0],
    )


def project_health(
    project: Project,
    *,
    decode_images: bool = True,
    progress: ProgressFn = no_progress,
    should_stop: ShouldStop = never_stop,
) -> HealthReport:
    """Check the project. With `decode_images` every image is decoded (at reduced size): that
    finds unreadable files and runs the suspicious-label classifier."""
    data = health_data(project)
    paths = {im.id: im.path for im in data.images}

    def load(image_id: int) -> np.ndarray | None:
        try:
            return decode(read_file_bytes(paths[image_id]), reduced=4)
        except BadImage:
            return None

    return run_health(
        data, load if decode_images else None, progress=progress, should_stop=should_stop
    )


def write_html(
    report: HealthReport, out: str | os.PathLike[str], title: str, *, project: Project
) -> Path:
    """Write the self-contained HTML report atomically (no half-written file on failure).
    ``out`` may not be the project file, a companion of it, an image of the project or a
    place in its media folder (``labeler.app.outputs``)."""
    target = check_output_path(project, out, kind="file")
    return atomic_write_text(target, render_html(report, title))
