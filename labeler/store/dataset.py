"""Splits, dataset versions and annotation imports for a project.

The pure work lives in `labeler.core` (splits, formats, near-duplicates); this module reads
the project, hands plain values to it and writes the outcome back in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from labeler import __version__
from labeler.core.errors import LabelerError
from labeler.core.formats import (
    ExportItem,
    ExportReport,
    export_dataset,
    get_exporter,
    import_dataset,
)
from labeler.core.model import ImageRecord
from labeler.core.neardup import DEFAULT_MAX_DISTANCE, clusters_from_pairs, near_duplicate_pairs
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.splits import SplitItem, SplitPlan, plan_split
from labeler.store.importer import probe_many
from labeler.store.project import Project
from labeler.store.recipes import add_version, require_recipe

DEFAULT_RATIOS = (0.8, 0.1, 0.1)


# -- splits -------------------------------------------------------------------------------
def leakage_groups(
    project: Project, *, by_folder: bool = False, max_distance: int = DEFAULT_MAX_DISTANCE
) -> dict[int, str]:
    """Group key per real image that must share a split with others: near-duplicates
    (pHash distance <= max_distance) and, with `by_folder`, images from one source folder."""
    real = [i for i in project.images() if i.provenance != "generated"]
    hashed = [i for i in real if i.phash is not None]
    pairs: list[tuple[int, int]] = [
        (a, b)
        for a, b, _ in near_duplicate_pairs(
            [i.phash for i in hashed], [i.id for i in hashed], max_distance
        ).pairs
    ]
    if by_folder:
        first_in_folder: dict[str, int] = {}
        for i in real:
            if i.source_group is not None:
                head = first_in_folder.setdefault(i.source_group, i.id)
                if head != i.id:
                    pairs.append((head, i.id))
    groups: dict[int, str] = {}
    for members in clusters_from_pairs(pairs):
        key = f"g{min(members)}"
        for m in members:
            groups[m] = key
    return groups


def split_project(
    project: Project,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    seed: int = 0,
    *,
    reshuffle: bool = False,
    group_by_folder: bool = False,
    write: bool = True,
) -> SplitPlan:
    """Assign train/val/test to images that have none (all of them with `reshuffle`),
    stratified by class, keeping near-duplicates (and optionally folders) together.
    With `write=False` the plan is only computed."""
    groups = leakage_groups(project, by_folder=group_by_folder)
    shapes = project.all_shapes()
    items = [
        SplitItem(
            image_id=i.id,
            class_ids=Counter(s.class_id for s in shapes.get(i.id, ())),
            group=groups.get(i.id),
            generated=i.provenance == "generated",
            current_split=i.split,
        )
        for i in project.images()
    ]
    plan = plan_split(items, ratios, seed, reshuffle)
    if write:
        _write_plan(project, plan)
    return plan


def _write_plan(project: Project, plan: SplitPlan) -> None:
    current = {i.id: i.split for i in project.images()}
    project.set_splits({i: s for i, s in plan.assignments.items() if s != current.get(i)})


def split_json(project: Project, plan: SplitPlan) -> dict[str, Any]:
    """`plan.to_json()` with class names instead of ids, for people and scripts alike."""
    names = {c.id: c.name for c in project.classes()}
    data = plan.to_json()

    def by_name(d: dict[str, Any]) -> dict[str, Any]:
        return {names.get(int(k), k): v for k, v in d.items()}

    data["class_counts"] = {s: by_name(c) for s, c in data["class_counts"].items()}
    data["generated_counts"] = by_name(data["generated_counts"])
    data["deviation"] = by_name(data["deviation"])
    return data


# -- export -------------------------------------------------------------------------------
@dataclass
class ExportOutcome:
    report: ExportReport
    version_id: int
    fingerprint: str
    auto_split: int = 0
    augmented: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.report.to_json() | {
            "version": self.version_id,
            "fingerprint": self.fingerprint,
            "auto_split": self.auto_split,
            "augmented": self.augmented,
        }


def _file_names(images: Sequence[ImageRecord]) -> dict[int, str]:
    """A unique export name per image: its own file name, or name-ID.ext when it clashes."""
    counts = Counter(PurePosixPath(i.path).name.lower() for i in images)
    names = {}
    for i in images:
        base = PurePosixPath(i.path).name
        if counts[base.lower()] > 1:
            stem, suffix = os.path.splitext(base)
            base = f"{stem}-{i.id}{suffix}"
        names[i.id] = base
    return names


def fingerprint(
    items: Sequence[ExportItem], classes: Sequence[tuple[int, str]], extra: dict[str, Any]
) -> str:
    """SHA-256 over what an export holds: images, splits, shapes, classes and options.
    Two exports with the same fingerprint hold the same dataset."""
    h = hashlib.sha256()
    names = dict(classes)
    for it in items:
        h.update(f"{it.sha256}|{it.split}|{it.generated}\n".encode())
        for s in it.shapes:
            h.update(f"{names[s.class_id]}|{s.kind}|{s.geometry_json()}\n".encode())
    h.update(json.dumps(list(names.values())).encode())
    h.update(json.dumps(extra, sort_keys=True).encode())
    return h.hexdigest()


def export_project(
    project: Project,
    fmt: str,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    recipe: str | None = None,
    multiplier: int = 0,
    strip_metadata: bool = False,
    overwrite: bool = False,
    progress: ProgressFn = no_progress,
    should_stop: ShouldStop = never_stop,
) -> ExportOutcome:
    """Export the project as a dataset version, verified after writing, recorded in the
    project. Images without a split are first given one (seeded, stable)."""
    get_exporter(fmt)  # refuse an unknown format before any work
    classes = [(c.id, c.name) for c in project.classes()]
    if not classes:
        raise LabelerError("the project has no classes: add classes and label images first")
    if multiplier < 0:
        raise LabelerError("--multiplier must be 0 or more")
    if recipe is None and multiplier:
        raise LabelerError("--multiplier needs --recipe")
    recipe_def = require_recipe(project, recipe).definition if recipe else None
    if recipe and multiplier == 0:
        multiplier = 1
    # Images without a split get one, written to the project only if the export succeeds.
    images = project.images()
    auto = sum(1 for i in images if i.split is None)
    plan = split_project(project, DEFAULT_RATIOS, seed, write=False) if auto else None
    split_of = plan.assignments if plan else {}
    names = _file_names(images)
    shapes = project.all_shapes()
    items = []
    for i in images:
        info = json.loads(i.provenance_info) if i.provenance_info else {}
        items.append(
            ExportItem(
                image_id=i.id,
                source_path=project.resolve(i),
                file_name=names[i.id],
                width=i.width,
                height=i.height,
                split=split_of.get(i.id, i.split),  # type: ignore[arg-type]
                shapes=tuple(shapes.get(i.id, ())),
                sha256=i.sha256,
                generated=i.provenance == "generated",
                provenance={"kind": i.provenance} | info,
            )
        )
    missing = [it for it in items if not it.source_path.is_file()]
    if missing:
        raise LabelerError(
            f"{len(missing)} image file(s) are missing, e.g. {missing[0].source_path};"
            " relink or remove them first (labeler health lists them)"
        )
    options = {
        "format": fmt,
        "seed": seed,
        "recipe": {"name": recipe, "definition": recipe_def} if recipe else None,
        "multiplier": multiplier,
        "strip_metadata": strip_metadata,
    }
    fp = fingerprint(items, classes, options)
    manifest = {
        "tool": "labeler",
        "tool_version": __version__,
        "project": project.path.name,
        "fingerprint": fp,
    } | options
    with tempfile.TemporaryDirectory(prefix=".labeler-aug-", dir=_tmp_parent(out_dir)) as tmp:
        augmented: list[ExportItem] = []
        if recipe_def is not None:
            augmented = _augmented_items(
                recipe_def, [it for it in items if it.split == "train"], multiplier, seed,
                Path(tmp), progress, should_stop,
            )  # fmt: skip
        report = export_dataset(
            fmt,
            items + augmented,
            classes,
            out_dir,
            overwrite=overwrite,
            manifest=manifest,
            progress=progress,
            should_stop=should_stop,
            strip_metadata=strip_metadata,
        )
    if plan is not None:
        _write_plan(project, plan)
    version = add_version(
        project,
        format=fmt,
        out_dir=str(Path(out_dir).absolute()),
        seed=seed,
        recipe=recipe,
        multiplier=multiplier,
        fingerprint=fp,
        manifest=manifest | {"images": report.images},
    )
    return ExportOutcome(report, version, fp, auto, len(augmented))


def _tmp_parent(out_dir: str | os.PathLike[str]) -> Path:
    # Augmented copies are written beside the target so the export can hard-link them.
    parent = Path(out_dir).absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _augmented_items(
    recipe_def: dict,
    train: list[ExportItem],
    multiplier: int,
    seed: int,
    folder: Path,
    progress: ProgressFn,
    should_stop: ShouldStop,
) -> list[ExportItem]:
    """Write `multiplier` augmented copies of each train image into `folder` (over all
    cores) and describe them as export items with their transformed shapes."""
    from labeler.core.augment import AugmentJob, Recipe, augment_files

    recipe = Recipe.from_dict(recipe_def)
    jobs = []
    owner: dict[Path, ExportItem] = {}
    for it in train:
        stem, suffix = os.path.splitext(it.file_name)
        out_suffix = ".png" if suffix.lower() == ".png" else ".jpg"
        for k in range(multiplier):
            job = AugmentJob(
                source=it.source_path,
                shapes=it.shapes,
                image_key=it.sha256 or it.file_name,
                copy_index=k,
                output=folder / f"{stem}-aug{k}{out_suffix}",
            )
            jobs.append(job)
            owner[job.output] = it
    items = []
    for r in augment_files(jobs, recipe, seed=seed, progress=progress, should_stop=should_stop):
        if not r.ok:
            raise LabelerError(f"augmenting {r.job.source.name}: {r.error}")
        src = owner[r.job.output]
        items.append(
            ExportItem(
                image_id=src.image_id,
                source_path=r.job.output,
                file_name=r.job.output.name,
                width=r.width,
                height=r.height,
                split="train",
                shapes=r.shapes,
                generated=src.generated,
                provenance={"augmented_from": src.sha256, "copy": r.job.copy_index},
                prerendered=True,
            )
        )
    if should_stop():
        from labeler.core.formats import ExportCancelled

        raise ExportCancelled("export cancelled; nothing was changed")
    return items


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
