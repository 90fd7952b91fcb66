"""Export: a project written as a checked, reproducible dataset version.

Images without a split are given one first (seeded, stable); the train split may be
augmented with a recipe; the export is built and verified by `labeler.core.formats.export`
and recorded in the project as a dataset version.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labeler import __version__
from labeler.app.outputs import check_output_path
from labeler.app.splits import DEFAULT_RATIOS, split_project, write_plan
from labeler.core.errors import LabelerError
from labeler.core.formats import (
    ExportItem,
    ExportReport,
    export_dataset,
    get_exporter,
)
from labeler.core.formats.export import (
    LockedDir,
    check_export_target,
    fingerprint,
    make_parents,
    name_key,
    remove_created,
    remove_leftovers,
)
from labeler.core.gcpause import gc_paused
from labeler.core.model import ImageRecord
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.store.project import Project
from labeler.store.recipes import require_recipe
from labeler.store.versions import add_version

if TYPE_CHECKING:
    from labeler.core.augment import Recipe

MAX_MULTIPLIER = 100
"""The most augmented copies per train image an export makes. Beyond a few dozen copies an
augmented set stops adding variety (the same recipe redraws the same kinds of change), while the
file count grows with it: 100 copies of 10,000 images are already a million files."""
JPEG_BYTES_PER_PIXEL = 0.5
"""What the size estimate assumes at least for a JPEG we encode (quality 95): photos come out
at 0.3 to 0.5 bytes per pixel. PNG copies are estimated at their source's own density."""
AUG_TMP_PREFIX = ".labeler-aug-"


# -- export -------------------------------------------------------------------------------
@dataclass
class ExportOutcome:
    report: ExportReport
    version_id: int
    fingerprint: str
    auto_split: int = 0
    augmented: int = 0
    project_images: int = 0
    not_exported: int = 0  # project images the format could not take (report.skipped)

    def to_json(self) -> dict[str, Any]:
        return self.report.to_json() | {
            "version": self.version_id,
            "fingerprint": self.fingerprint,
            "auto_split": self.auto_split,
            "augmented": self.augmented,
            "project_images": self.project_images,
            "not_exported": self.not_exported,
        }


# Control characters, and what Windows forbids in a file name (an export may be copied there).
_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]')


def _safe_name(name: str) -> str:
    """The image's file name as every OS and format takes it: control characters (a newline
    would split a VOC or YOLO list) and ``\\ / : * ? " < > |`` become ``_``; trailing dots and
    spaces, which Windows drops, go."""
    return _UNSAFE_IN_NAMES.sub("_", name).rstrip(". ") or "image"


def _unique_name(stem: str, suffix: str, taken: set[str]) -> str:
    """``stem + suffix``, or ``stem-2 + suffix``, ``-3``...: the first whose `name_key` is
    not taken (it is then taken)."""
    name, n = f"{stem}{suffix}", 1
    while name_key(name) in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    taken.add(name_key(name))
    return name


def export_file_names(images: Sequence[ImageRecord]) -> dict[int, str]:
    """A unique export file name per image, the same in every export of the project so that
    versions compare: the image's own file name made safe (`_safe_name`). Names that would
    clash in an export (`name_key`: equal ignoring case and extension, as ``cat.jpg`` and
    ``Cat.png``, or two ``img.jpg`` from different folders) are told apart by the image id:
    the image with the lowest id keeps the name, each other one gets ``-ID`` before its
    extension (``img-57.jpg``), so images added later never rename those exported before.
    The manifest maps every export name back to its image id and project path. Example:
    ``cat.jpg`` (id 3) and ``photos/cat.png`` (id 9) give ``{3: "cat.jpg", 9: "cat-9.png"}``.
    """
    safe = {i.id: _safe_name(os.path.basename(i.path)) for i in images}
    groups: dict[str, list[int]] = {}
    for image_id in sorted(safe):
        groups.setdefault(name_key(safe[image_id]), []).append(image_id)
    names = {ids[0]: safe[ids[0]] for ids in groups.values()}
    taken = set(groups)
    for image_id in sorted(i for ids in groups.values() for i in ids[1:]):
        stem, suffix = os.path.splitext(safe[image_id])
        names[image_id] = _unique_name(f"{stem}-{image_id}", suffix, taken)
    return names


@gc_paused()  # a hundred thousand objects that live until the end (labeler.core.gcpause)
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
    project is made of (``labeler.app.outputs``), a non-empty target that is not an export
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
    names = export_file_names(images)
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
    # One stat per image says both that it is there and on which disk (a link is free only
    # on the target's).
    devices: dict[int, int] = {}
    missing = []
    for it in items:
        try:
            st = os.stat(it.source_path)
        except (OSError, ValueError):
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            missing.append(it)
        else:
            devices[it.image_id] = st.st_dev
    if missing:
        raise LabelerError(
            f"{len(missing)} image file(s) are missing, e.g. {missing[0].source_path};"
            " relink or remove them first (labeler health lists them)"
        )
    sizes = {i.id: i.bytes for i in images}
    _check_free_space(target, items, sizes, recipe_obj, multiplier, strip_metadata, devices)
    options = {
        "format": fmt,
        "seed": seed,
        "recipe": {"name": recipe, "definition": recipe_def} if recipe else None,
        "multiplier": multiplier,
        "strip_metadata": strip_metadata,
    }
    manifest: dict[str, Any] = {}

    def version_record() -> dict[str, Any]:
        """The manifest's version record; `export_dataset` asks for it while the images are
        being written, so the fingerprint does not hold them up."""
        fp = fingerprint(items, classes, options)
        tool = {"tool": "labeler", "tool_version": __version__, "project": project.path.name}
        manifest.update(tool | {"fingerprint": fp} | options)
        return manifest

    # Augmented copies are written beside the target so the export can hard-link them.
    created = make_parents(target.parent)
    tmp: LockedDir | None = None
    ok = False
    try:
        remove_leftovers(target.parent, AUG_TMP_PREFIX)
        augmented: list[ExportItem] = []
        if recipe_obj is not None:
            tmp = LockedDir.create(AUG_TMP_PREFIX, target.parent)
            taken = {name_key(n) for n in names.values()}
            augmented = _augmented_items(
                recipe_obj, [it for it in items if it.split == "train"], multiplier, seed,
                tmp.path, target, taken, progress, should_stop,
            )  # fmt: skip
        report = export_dataset(
            fmt,
            items + augmented,
            classes,
            target,
            overwrite=overwrite,
            manifest=version_record,
            progress=progress,
            should_stop=should_stop,
            strip_metadata=strip_metadata,
            project_paths={i.id: i.path for i in images},
        )
        ok = True
    finally:
        if tmp is not None:
            shutil.rmtree(tmp.path, ignore_errors=True)
            tmp.release()
        if not ok:
            remove_created(created)
    fp = manifest["fingerprint"]
    # The splits the export assigned and its version record land together or not at all.
    with project.atomic():
        if plan is not None:
            write_plan(project, plan)
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
    left_out = {name for name, _ in report.skipped}
    not_exported = sum(1 for it in items if it.file_name in left_out)
    return ExportOutcome(report, version, fp, auto, len(augmented), len(items), not_exported)


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
    devices: dict[int, int] | None = None,
) -> int:
    """About how many bytes an export will add to the target's disk: copied or re-encoded
    originals (a hard link costs nothing), the augmented copies at their largest possible size,
    and a few KiB per file for annotations, the manifest and file-system blocks. ``devices``
    gives each image's disk (``st_dev``) where the caller has it."""
    device = os.stat(_existing_folder(target)).st_dev
    total = 0
    for it in items:
        size = sizes.get(it.image_id, 0)
        total += 4096
        on = devices[it.image_id] if devices is not None else os.stat(it.source_path).st_dev
        if strip_metadata or on != device:
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
    devices: dict[int, int] | None = None,
) -> None:
    need = estimate_export_bytes(target, items, sizes, recipe, multiplier, strip_metadata, devices)
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
    taken: set[str],
    progress: ProgressFn,
    should_stop: ShouldStop,
) -> list[ExportItem]:
    """Write `multiplier` augmented copies of each train image into `folder` (over all
    cores) and describe them as export items with their transformed shapes. A copy is
    named ``NAME-augK``, told apart like `export_file_names` when an image of the project
    already has that name (``taken``: the `name_key` of every name in the export)."""
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
                output=folder / _unique_name(f"{stem}-aug{k}", out_suffix, taken),
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
