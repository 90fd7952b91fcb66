"""Importing a dataset with its annotations (COCO, YOLO, VOC, labelme, CVAT, CSV, ...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from labeler.app.imports import probe_many
from labeler.core.errors import LabelerError
from labeler.core.formats import (
    Detection,
    explain_format,
    get_importer,
    import_dataset,
    unused_files,
)
from labeler.core.formats._io import one_line, shown
from labeler.core.model import validate_class_name
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.store.project import Project

FOLDER = "folder"
"""`choose_format`'s answer for a plain folder import (`labeler.app.imports`)."""


def choose_format(
    sources: Sequence[str | os.PathLike[str]],
    fmt: str = "auto",
    labels_from_folders: bool = False,
    copy: bool = False,
) -> Detection:
    """What an import reads, and why: an annotation format, or ``"folder"`` for a plain
    folder import, with the reason and (for ``auto``) the annotation-like files found that
    nothing reads.

    An explicit format is checked (unknown formats are refused before anything is read) and
    takes one dataset folder; ``auto`` detects one in a single folder, unless the import asks
    for folder labels or copies (plain folder options)."""
    if fmt == FOLDER:
        return Detection(fmt, FOLDER, "asked with --format folder")
    if fmt != "auto":
        get_importer(fmt)  # an unknown format is refused before anything is read
        if len(sources) != 1:
            raise LabelerError(f"--format {fmt} takes one dataset folder")
        return Detection(fmt, fmt, f"asked with --format {fmt}")
    if len(sources) != 1:
        return Detection(fmt, FOLDER, f"{len(sources)} sources: annotation formats take one")
    if labels_from_folders or copy:
        option = "--labels-from-folders" if labels_from_folders else "--copy"
        return Detection(fmt, FOLDER, f"{option} asks for a folder import")
    root = Path(sources[0])
    if not root.is_dir():
        return Detection(fmt, FOLDER, "the source is not a folder")
    try:
        found = explain_format(root)
    except LabelerError:
        hints = tuple(unused_files(root, None))
        return Detection(fmt, FOLDER, "no annotation format recognised", unused=hints)
    if found.format == "imagefolder":
        return Detection(
            fmt,
            FOLDER,
            "no annotation file found, only folders of images (pass --labels-from-folders"
            " to tag each image with its folder's name)",
            found.also,
            found.unused,
        )
    return found


# -- importing annotations ----------------------------------------------------------------
@dataclass
class AnnotationImportReport:
    """What an annotation import did; ``to_dict()`` is what ``import --json`` prints.

    ``images_unannotated`` counts images imported without any annotation (the images of a
    labelme or VOC folder no annotation file names yet); ``not_imported`` lists, with the
    reason, the images under the dataset that the format's own list leaves out (COCO's
    ``images``, YOLO's split folders, CVAT's ``<image>``s, the CSV's rows)."""

    format: str
    detection: Detection | None = None
    images_added: int = 0
    images_known: int = 0
    shapes_added: int = 0
    unannotated: list[str] = field(default_factory=list)
    classes_created: list[str] = field(default_factory=list)
    not_imported: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        detection = self.detection or Detection(self.format, self.format, "")
        return {
            "format": self.format,
            "detection": detection.to_json(),
            "images_added": self.images_added,
            "images_known": self.images_known,
            "images_unannotated": len(self.unannotated),
            "shapes_added": self.shapes_added,
            "classes_created": self.classes_created,
            "unannotated": self.unannotated,
            "not_imported": [{"path": p, "reason": r} for p, r in self.not_imported],
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
    malformed file or a path outside the dataset is reported and the rest goes on; a class
    name the project cannot hold is reported once, with the images whose shapes it costs.
    An explicit format that finds nothing to import raises `LabelerError`.
    """
    base = Path(root).absolute()
    if fmt == "auto":
        if not base.is_dir():
            raise LabelerError(f"{base} is not a folder")
        detection = explain_format(base)
    else:
        detection = Detection(fmt, fmt, f"asked with --format {fmt}")
    result = import_dataset(detection.format, base)
    report = AnnotationImportReport(
        detection.format,
        detection,
        not_imported=list(result.not_imported),
        problems=list(result.problems),
    )
    records = {str(base / r.path): r for r in result.records}
    total = len(records)
    done = 0
    progress(0, total)
    with project.atomic():
        classes = _Classes(project, report)
        for name in result.classes:
            classes.id_of(name, None)
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
            if not rec.annotated:
                report.unannotated.append(rec.path)
            groups: dict[tuple[int, int], int] = {}  # the record's groups: project numbers
            for s in rec.shapes:
                class_id = classes.id_of(s.class_name, rec.path)
                if class_id is None:
                    continue
                group = None
                if s.group is not None:
                    group = groups.get((class_id, s.group)) or project.new_group()
                    groups[(class_id, s.group)] = group
                shape = s.to_shape(class_id, group)
                # Compared as stored (rounded) so float noise does not add a shape twice.
                key = (shape.kind, shape.class_id, shape.geometry_json())
                if key in existing:
                    continue
                project.add_shape(image_id, shape)
                existing.add(key)
                report.shapes_added += 1
        report.problems.extend(classes.refused())
    report.problems = [one_line(p) for p in report.problems]
    return report


class _Classes:
    """Dataset class names to project class ids, created on first use. A name the project
    cannot hold (`validate_class_name`) maps to None and is reported once, with the images
    whose shapes it costs; a name that finds a class spelled otherwise (the project compares
    names ignoring case) is reported once too."""

    def __init__(self, project: Project, report: AnnotationImportReport) -> None:
        self.project = project
        self.report = report
        self.ids: dict[str, int | None] = {}
        self.reasons: dict[str, str] = {}  # a refused name: why
        self.bad: dict[str, list[str]] = {}  # why: the images of the shapes it costs

    def id_of(self, name: str, image: str | None) -> int | None:
        if name not in self.ids:
            self.ids[name] = self._resolve(name)
        if self.ids[name] is None and image is not None:
            self.bad[self.reasons[name]].append(image)
        return self.ids[name]

    def _resolve(self, name: str) -> int | None:
        try:
            clean = validate_class_name(name)
        except LabelerError as e:
            self.reasons[name] = str(e)
            self.bad.setdefault(str(e), [])
            return None
        cls = self.project.class_by_name(clean)
        if cls is None:
            cls = self.project.add_class(clean)
            self.report.classes_created.append(cls.name)
        elif cls.name != clean:
            self.report.problems.append(
                f"class {shown(clean)} is imported as the class {shown(cls.name)}: class names"
                " that differ only in case are one class"
            )
        return cls.id

    def refused(self) -> list[str]:
        lines = []
        for reason, images in self.bad.items():
            if not images:
                lines.append(f"{reason}; the class is not created (no shape uses it)")
                continue
            unique = list(dict.fromkeys(images))
            more = f" and {len(unique) - 5} more" if len(unique) > 5 else ""
            lines.append(
                f"{reason}; its {len(images)} shape(s) are not imported, on {len(unique)}"
                f" image(s): {', '.join(unique[:5])}{more}"
            )
        return lines
