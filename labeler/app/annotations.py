"""Importing a dataset with its annotations (COCO, YOLO, VOC, labelme, CVAT, CSV, ...)."""

from __future__ import annotations

import os
from collections import Counter
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
from labeler.core.formats.model import MIN_AREA, ImportRecord, in_image
from labeler.core.model import validate_class_name
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.shapes import Shape, instances
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
    shapes_duplicate: int = 0
    shapes_clipped: int = 0
    instances_changed: int = 0
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
            "shapes_duplicate": self.shapes_duplicate,
            "shapes_clipped": self.shapes_clipped,
            "instances_changed": self.instances_changed,
            "classes_created": self.classes_created,
            "unannotated": self.unannotated,
            "not_imported": [{"path": p, "reason": r} for p, r in self.not_imported],
            "problems": self.problems,
        }


def import_annotations(
    project: Project,
    root: str | os.PathLike[str],
    fmt: str | Detection = "auto",
    *,
    progress: ProgressFn = no_progress,
    should_stop: ShouldStop = never_stop,
) -> AnnotationImportReport:
    """Import a dataset with its annotations (COCO, YOLO, VOC, labelme, CVAT, CSV, ...).

    Classes are created or mapped by name. An image already in the project (same content)
    keeps its shapes and gains only those it does not have, so a re-run adds nothing. A
    malformed file or a path outside the dataset is reported and the rest goes on; a class
    name the project cannot hold is reported once, with the images whose shapes it costs.
    An explicit format that finds nothing to import raises `LabelerError`. ``fmt`` may be
    the `Detection` that `choose_format` made, so the folder is not detected twice.
    """
    base = Path(root).absolute()
    if isinstance(fmt, Detection):
        detection = fmt
    elif fmt == "auto":
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
    tally = _Tally(report)
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
                existing: list[list[Shape]] = []
            else:
                image_id = known.id
                report.images_known += 1
                existing = instances(project.shapes(image_id))
            if not rec.annotated:
                report.unannotated.append(rec.path)
            size = (info.width, info.height)
            _add_instances(project, image_id, rec, size, existing, classes, tally)
        report.problems.extend(tally.lines())
        report.problems.extend(classes.refused())
    report.problems = [one_line(p) for p in report.problems]
    return report


def _instance_key(parts: Sequence[Shape]) -> tuple:
    """An instance as compared on re-import: its parts' kind, class and geometry as stored
    (rounded, so float noise does not add it twice), in any order."""
    return tuple(sorted((s.kind, s.class_id, s.geometry_json()) for s in parts))


def _add_instances(
    project: Project,
    image_id: int,
    rec: ImportRecord,
    size: tuple[int, int],
    existing: list[list[Shape]],
    classes: _Classes,
    tally: _Tally,
) -> None:
    """Add a record's instances (a group's parts together) that the image does not hold.

    The unit of de-duplication is the instance, never a part: an instance whose parts are
    all those of one instance already on the image adds nothing (a re-import), any other
    is added whole. An instance repeated within the record is added once and counted as a
    duplicate. An instance that shares a part with one on the image but differs (the source
    was edited since the last import) is added as a new instance and counted, the old one
    kept: an import never deletes what the project holds (README, "Import")."""
    width, height = size
    on_image = Counter(_instance_key(parts) for parts in existing)
    known_parts = {(s.kind, s.class_id, s.geometry_json()) for parts in existing for s in parts}
    seen: set[tuple] = set()
    wanted: dict[tuple[int, int], list[Shape]] = {}  # (class, dataset group): parts
    order: list[tuple[bool, list[Shape]]] = []  # (a dataset group?, parts)
    for s in rec.shapes:
        class_id = classes.id_of(s.class_name, rec.path)
        if class_id is None:
            continue
        given = s.to_shape(class_id)
        shape = in_image(given, width, height)
        if shape is None:
            tally.refused(rec.path, given, width, height)
            continue
        if shape.points != given.points:
            tally.clipped.append(rec.path)
        if s.group is None:
            order.append((False, [shape]))
            continue
        key = (class_id, s.group)
        if key not in wanted:
            wanted[key] = []
            order.append((True, wanted[key]))
        wanted[key].append(shape)
    for grouped, parts in order:
        key = _instance_key(parts)
        if key in seen:
            tally.duplicates.append((rec.path, len(parts)))
            continue
        seen.add(key)
        if on_image[key] > 0:
            on_image[key] -= 1  # already on the image: a re-import adds nothing
            continue
        if any((p.kind, p.class_id, p.geometry_json()) in known_parts for p in parts):
            tally.changed.append(rec.path)
        group = project.new_group() if grouped else None
        for p in parts:
            project.add_shape(image_id, p.in_group(group))
            tally.report.shapes_added += 1


class _Tally:
    """Shapes an import clipped, refused or left out as duplicates: counted, with the
    first few images, as one problem line each."""

    def __init__(self, report: AnnotationImportReport) -> None:
        self.report = report
        self.clipped: list[str] = []
        self.duplicates: list[tuple[str, int]] = []
        self.changed: list[str] = []
        self.no_area: list[str] = []
        self.outside: list[str] = []

    def refused(self, image: str, s: Shape, width: int, height: int) -> None:
        x1, y1, x2, y2 = s.bbox() or (0, 0, 0, 0)
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            self.outside.append(image)
        else:
            self.no_area.append(image)

    def lines(self) -> list[str]:
        r = self.report
        r.shapes_clipped = len(self.clipped)
        r.shapes_duplicate = sum(n for _, n in self.duplicates)
        r.instances_changed = len(self.changed)
        out = []
        if self.no_area:
            out.append(
                f"{len(self.no_area)} shape(s) not imported: no area (under {MIN_AREA:g} square"
                f" pixel inside the image){_on(self.no_area)}"
            )
        if self.outside:
            out.append(
                f"{len(self.outside)} shape(s) not imported: wholly outside their image"
                f"{_on(self.outside)}"
            )
        if self.clipped:
            out.append(
                f"{len(self.clipped)} shape(s) lay partly outside their image and were clipped"
                f" to it{_on(self.clipped)}"
            )
        if self.duplicates:
            out.append(
                f"{r.shapes_duplicate} duplicate shape(s) not added: {len(self.duplicates)}"
                " instance(s) repeat one already read for the same image"
                f"{_on([p for p, _ in self.duplicates])}"
            )
        if self.changed:
            out.append(
                f"{len(self.changed)} instance(s) differ from one already on the image that"
                " shares a part with them (edited since the last import?): added as new"
                " instances, the old ones kept (delete them if these replace them)"
                f"{_on(self.changed)}"
            )
        return out


def _on(images: Sequence[str]) -> str:
    unique = list(dict.fromkeys(images))
    more = f" and {len(unique) - 5} more" if len(unique) > 5 else ""
    return f", on {len(unique)} image(s): {', '.join(unique[:5])}{more}"


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
            lines.append(f"{reason}; its {len(images)} shape(s) are not imported{_on(images)}")
        return lines
