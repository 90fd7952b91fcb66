"""Splits, dataset versions and annotation imports for a project.

The pure work lives in `labeler.core` (splits, formats, near-duplicates); this module reads
the project, hands plain values to it and writes the outcome back in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from labeler import __version__
from labeler.core.errors import LabelerError
from labeler.core.formats import (
    ExportItem,
    ExportReport,
    export_dataset,
    get_exporter,
    import_dataset,
)
from labeler.core.formats.export import (
    LockedDir,
    check_export_target,
    make_parents,
    remove_created,
    remove_leftovers,
)
from labeler.core.model import ImageRecord
from labeler.core.neardup import DEFAULT_MAX_DISTANCE, clusters_from_pairs, near_duplicate_pairs
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.splits import SplitItem, SplitPlan, plan_split
from labeler.store.importer import probe_many
from labeler.store.outputs import check_output_path
from labeler.store.project import Project
from labeler.store.recipes import add_version, require_recipe

if TYPE_CHECKING:
    from labeler.core.augment import Recipe

DEFAULT_RATIOS = (0.8, 0.1, 0.1)

MAX_MULTIPLIER = 100
"""The most augmented copies per train image an export makes. Beyond a few dozen copies an
augmented set stops adding variety (the same recipe redraws the same kinds of change), while the
file count grows with it: 100 copies of 10,000 images are already a million files."""
JPEG_BYTES_PER_PIXEL = 0.5
"""What the size estimate assumes at least for a JPEG we encode (quality 95): photos come out
at 0.3 to 0.5 bytes per pixel. PNG copies are estimated at their source's own density."""
AUG_TMP_PREFIX = ".labeler-aug-"


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
    project. Images without a split are first given one (seeded, stable).

    Refused before any work, with one line: a target that is, holds or lies in what the
    project is made of (``labeler.store.outputs``), a non-empty target that is not an export
    of ours, more than ``MAX_MULTIPLIER`` copies, a recipe beyond the size limits, and an
    export whose estimated size exceeds the free space on the target's disk. A failed export
    removes the folders it created."""
    get_exporter(fmt)  # refuse an unknown format before any work
    target = check_output_path(project, out_dir, kind="folder")
    check_export_target(target, overwrite)
    classes = [(c.id, c.name) for c in project.classes()]
    if not classes:
        raise LabelerError("the project has no classes: add classes and label images first")
    if multiplier < 0:
        raise LabelerError("--multiplier must be 0 or more")
    if multiplier > MAX_MULTIPLIER:
        raise LabelerError(
            f"--multiplier {multiplier} is more than the limit of {MAX_MULTIPLIER} augmented"
            " copies per train image"
        )
    if recipe is None and multiplier:
        raise LabelerError("--multiplier needs --recipe")
    recipe_def = require_recipe(project, recipe).definition if recipe else None
    recipe_obj = _load_recipe(recipe, recipe_def) if recipe else None
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
    sizes = {i.id: i.bytes for i in images}
    _check_free_space(target, items, sizes, recipe_obj, multiplier, strip_metadata)
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
    # Augmented copies are written beside the target so the export can hard-link them.
    created = make_parents(target.parent)
    tmp: LockedDir | None = None
    ok = False
    try:
        remove_leftovers(target.parent, AUG_TMP_PREFIX)
        augmented: list[ExportItem] = []
        if recipe_obj is not None:
            tmp = LockedDir.create(AUG_TMP_PREFIX, target.parent)
            augmented = _augmented_items(
                recipe_obj, [it for it in items if it.split == "train"], multiplier, seed,
                tmp.path, target, progress, should_stop,
            )  # fmt: skip
        report = export_dataset(
            fmt,
            items + augmented,
            classes,
            target,
            overwrite=overwrite,
            manifest=manifest,
            progress=progress,
            should_stop=should_stop,
            strip_metadata=strip_metadata,
        )
        ok = True
    finally:
        if tmp is not None:
            shutil.rmtree(tmp.path, ignore_errors=True)
            tmp.release()
        if not ok:
            remove_created(created)
    if plan is not None:
        _write_plan(project, plan)
    version = add_version(
        project,
        format=fmt,
        out_dir=str(target),
        seed=seed,
        recipe=recipe,
        multiplier=multiplier,
        fingerprint=fp,
        manifest=manifest | {"images": report.images},
    )
    return ExportOutcome(report, version, fp, auto, len(augmented))


def _load_recipe(name: str, definition: dict | None) -> Recipe:
    """The stored recipe, validated now (limits included): one stored by an older Labeler
    may hold what this one refuses."""
    from labeler.core.augment import Recipe

    try:
        return Recipe.from_dict(definition or {})
    except LabelerError as e:
        raise LabelerError(f"recipe {name!r}: {e}") from None


def estimate_export_bytes(
    target: Path,
    items: Sequence[ExportItem],
    sizes: dict[int, int],
    recipe: Recipe | None,
    multiplier: int,
    strip_metadata: bool,
) -> int:
    """About how many bytes an export will add to the target's disk: copied or re-encoded
    originals (a hard link costs nothing), the augmented copies at their largest possible size,
    and a few KiB per file for annotations, the manifest and file-system blocks."""
    device = os.stat(_existing_folder(target)).st_dev
    total = 0
    for it in items:
        size = sizes.get(it.image_id, 0)
        total += 4096
        if strip_metadata or os.stat(it.source_path).st_dev != device:
            total += size
    if recipe is not None and multiplier:
        for it in items:
            if it.split != "train":
                continue
            pixels = max(1, it.width * it.height)
            density = sizes.get(it.image_id, 0) / pixels
            if os.path.splitext(it.file_name)[1].lower() != ".png":
                density = max(density, JPEG_BYTES_PER_PIXEL)
            per_copy = math.ceil(recipe.max_output_pixels(pixels) * density) + 4096
            total += multiplier * per_copy
    return total


def _check_free_space(
    target: Path,
    items: Sequence[ExportItem],
    sizes: dict[int, int],
    recipe: Recipe | None,
    multiplier: int,
    strip_metadata: bool,
) -> None:
    need = estimate_export_bytes(target, items, sizes, recipe, multiplier, strip_metadata)
    where = _existing_folder(target)
    free = shutil.disk_usage(where).free
    if need > free:
        raise LabelerError(
            f"the export needs about {_human(need)} but {where} has {_human(free)} free;"
            " free some space, or export with fewer copies or smaller images"
        )


def _existing_folder(target: Path) -> Path:
    """The target's nearest existing folder (itself when it exists)."""
    p = target
    while not p.is_dir() and p.parent != p:
        p = p.parent
    return p


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _augmented_items(
    recipe: Recipe,
    train: list[ExportItem],
    multiplier: int,
    seed: int,
    folder: Path,
    target: Path,
    progress: ProgressFn,
    should_stop: ShouldStop,
) -> list[ExportItem]:
    """Write `multiplier` augmented copies of each train image into `folder` (over all
    cores) and describe them as export items with their transformed shapes."""
    from labeler.core.augment import AugmentJob, augment_files

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
        if r.write_failed:  # name the export being written, not the source (a full disk...)
            why = (r.error or "").removeprefix(f"cannot write {r.job.output}: ")
            raise LabelerError(
                f"cannot write {target}: augmented copy {r.job.output.name}: {why};"
                " the export was not changed"
            )
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
