"""Importing a dataset with its annotations (COCO, YOLO, VOC, labelme, CVAT, CSV, ...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from labeler.app.imports import probe_many
from labeler.core.errors import LabelerError
from labeler.core.formats import detect_format, get_importer, import_dataset
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.store.project import Project


def annotation_format(
    sources: Sequence[str | os.PathLike[str]],
    fmt: str = "auto",
    labels_from_folders: bool = False,
    copy: bool = False,
) -> str | None:
    """The annotation format an import reads, or None for a plain folder import.

    An explicit format is checked (unknown formats are refused before anything is read) and
    takes one dataset folder; ``auto`` detects one in a single folder, unless the import asks
    for folder labels or copies (plain folder options)."""
    if fmt == "folder":
        return None
    if fmt != "auto":
        get_importer(fmt)  # an unknown format is refused before anything is read
        if len(sources) != 1:
            raise LabelerError(f"--format {fmt} takes one dataset folder")
        return fmt
    if len(sources) != 1 or labels_from_folders or copy:
        return None
    root = Path(sources[0])
    if not root.is_dir():
        return None
    try:
        found = detect_format(root)
    except LabelerError:
        return None
    return None if found == "imagefolder" else found


# -- importing annotations ----------------------------------------------------------------
@dataclass
class AnnotationImportReport:
    format: str
    images_added: int = 0
    images_known: int = 0
    shapes_added: int = 0
    classes_created: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "images_added": self.images_added,
            "images_known": self.images_known,
            "shapes_added": self.shapes_added,
            "classes_created": self.classes_created,
            "problems": self.problems,
        }


def import_annotations(
    project: Project,
    root: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    progress: ProgressFn = no_progress,
    should_stop: ShouldStop = never_stop,
) -> AnnotationImportReport:
    """Import a dataset with its annotations (COCO, YOLO, VOC, labelme, CVAT, CSV, ...).

    Classes are created or mapped by name. An image already in the project (same content)
    keeps its shapes and gains only those it does not have, so a re-run adds nothing. A
    malformed file or a path outside the dataset is reported and the rest goes on.
    """
    base = Path(root).absolute()
    result = import_dataset(fmt, base)
    report = AnnotationImportReport(
        fmt if fmt != "auto" else "auto", problems=list(result.problems)
    )
    records = {str(base / r.path): r for r in result.records}
    total = len(records)
    done = 0
    progress(0, total)
    with project.atomic():
        for name in result.classes:
            if project.class_by_name(name) is None:
                report.classes_created.append(project.add_class(name).name)
        for path, info in probe_many(records, should_stop=should_stop):
            done += 1
            progress(done, total)
            rec = records[path]
            if isinstance(info, str):
                report.problems.append(f"{rec.path}: {info}")
                continue
            if (info.width, info.height) != (rec.width, rec.height) and rec.width and rec.height:
                report.problems.append(
                    f"{rec.path}: annotations say {rec.width}x{rec.height}, the image is"
                    f" {info.width}x{info.height}; shapes kept in the image's frame"
                )
            known = project.image_by_sha(info.sha256)
            if known is None:
                image_id = project.add_probed(
                    path,
                    info,
                    source_group=f"{base.name}/{PurePosixPath(rec.path).parent}",
                    split=rec.split,
                )
                report.images_added += 1
                existing: set = set()
            else:
                image_id = known.id
                report.images_known += 1
                existing = {
                    (s.kind, s.class_id, s.geometry_json()) for s in project.shapes(image_id)
                }
            for s in rec.shapes:
                cls = project.class_by_name(s.class_name)
                if cls is None:
                    cls = project.add_class(s.class_name)
                    report.classes_created.append(cls.name)
                shape = s.to_shape(cls.id)
                # Compared as stored (rounded) so float noise does not add a shape twice.
                key = (shape.kind, shape.class_id, shape.geometry_json())
                if key in existing:
                    continue
                project.add_shape(image_id, shape)
                existing.add(key)
                report.shapes_added += 1
    return report
