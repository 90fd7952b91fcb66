"""``export_dataset``: write a dataset version atomically, then read it back and compare.

The export is built in a hidden temporary folder beside the target and renamed into place
only after every file is written and the check passed (ADR 0022). A cancelled or failed
export removes its temporary folder and leaves an existing target as it was.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    exif_orientation,
    image_size,
    link_or_copy,
    sha256_file,
    write_text,
    write_upright,
)
from labeler.core.formats.base import Exporter, Placed, get_exporter, get_importer
from labeler.core.formats.model import SPLITS, ExportItem, ExportReport, class_table

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]
MANIFEST = "manifest.json"


class ExportCancelled(LabelerError):
    """Raised when ``should_stop`` asked the export to stop; nothing was changed on disk."""


def export_dataset(
    fmt: str,
    items: Sequence[ExportItem],
    classes: Sequence[tuple[int, str]],
    out_dir: str | os.PathLike[str],
    overwrite: bool = False,
    manifest: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
    strip_metadata: bool = False,
) -> ExportReport:
    """Export ``items`` in format ``fmt`` to ``out_dir`` and verify it with the importer.

    ``classes`` is ``[(class_id, name)]`` in the order the export numbers them.
    ``manifest`` is the caller's version description (name, seed, recipe, time...); it is
    written verbatim under ``"version"`` in ``manifest.json`` and is the only place a
    timestamp may enter. ``progress(done, total)`` is called after each image and step;
    ``should_stop()`` is polled between them. Raises ``LabelerError`` for bad input, a
    non-empty target without ``overwrite``, a missing image, or a failed check;
    ``ExportCancelled`` when stopped. In every failure the target is left as it was.

    >>> report = export_dataset("coco", items, [(1, "cat")], "out/v1", manifest={"name": "v1"})
    ... # doctest: +SKIP
    """
    exporter = get_exporter(fmt)
    names = class_table(classes)
    target = Path(out_dir).absolute()
    _check_items(items, names)
    _check_target(target, items, overwrite)
    stop = should_stop or (lambda: False)
    tick = progress or (lambda done, total: None)

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        report = _build(
            exporter, items, classes, names, tmp, target, manifest or {}, tick, stop, strip_metadata
        )
        if stop():
            raise ExportCancelled("export cancelled; nothing was changed")
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _build(
    exporter: Exporter,
    items: Sequence[ExportItem],
    classes: Sequence[tuple[int, str]],
    names: dict[int, str],
    root: Path,
    final_dir: Path,
    manifest: Mapping[str, Any],
    tick: Progress,
    stop: ShouldStop,
    strip_metadata: bool,
) -> ExportReport:
    ordered = sorted(items, key=lambda it: (SPLITS.index(it.split), it.file_name))
    placed: list[Placed] = []
    report = ExportReport(exporter.name, final_dir, {s: 0 for s in SPLITS}, {}, [])
    for it, got in zip(ordered, exporter.place(ordered, names), strict=True):
        if isinstance(got, str):
            report.skipped.append((it.file_name, got))
        else:
            placed.append(got)
    _check_destinations(placed)
    report.warnings += _lost_in_format(exporter.name, items, placed)

    total = len(placed) + 2
    written: dict[str, str] = {}

    def write_one(p: Placed) -> tuple[str, str]:
        if stop():
            raise ExportCancelled("export cancelled; nothing was changed")
        how = _write_image(p, root, strip_metadata)
        return how, sha256_file(root / p.path)

    # Linking, header reads and hashing wait on the disk and release the GIL: a few threads
    # keep the disk busy. map() keeps the order, so the report and manifest stay identical.
    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        results = pool.map(write_one, placed)
        try:
            for done, (p, (how, digest)) in enumerate(zip(placed, results, strict=True), 1):
                setattr(report, how, getattr(report, how) + 1)
                written[p.path] = digest
                if how != "reencoded" and p.item.sha256 and digest != p.item.sha256:
                    report.warnings.append(
                        f"{p.item.file_name}: the image changed on disk since import"
                    )
                tick(done, total)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    if stop():
        raise ExportCancelled("export cancelled; nothing was changed")
    report.files = sorted(exporter.write(placed, classes, root, final_dir))
    _write_manifest(root, exporter.name, manifest, classes, placed, written, report.files)
    tick(total - 1, total)

    _verify(exporter, placed, names, root)
    report.verified = True
    for p in placed:
        report.images[p.item.split] += 1
        per_class = report.shapes.setdefault(p.item.split, {})
        for s in p.shapes:
            kinds = per_class.setdefault(names[s.class_id], {})
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
    tick(total, total)
    return report


def _lost_in_format(fmt: str, items: Sequence[ExportItem], placed: Sequence[Placed]) -> list[str]:
    """Say what the format could not hold as it was (tags in COCO, polygons in VOC...):
    the check after writing compares with what the format keeps, so this is the place to
    tell the user about the rest."""
    kept = {id(p.item) for p in placed}
    before = Counter(s.kind for it in items if id(it) in kept for s in it.shapes)
    after = Counter(s.kind for p in placed for s in p.shapes)
    notes = []
    if before["tag"] > after["tag"]:
        notes.append(
            f"{fmt} holds no image-level tags: {before['tag'] - after['tag']} tag(s) were not"
            " written"
        )
    if before["polygon"] > after["polygon"] and after["box"] > before["box"]:
        n = before["polygon"] - after["polygon"]
        notes.append(f"{fmt}: {n} polygon(s) were written as their bounding boxes")
    if before["box"] > after["box"] and after["polygon"] > before["polygon"]:
        n = before["box"] - after["box"]
        notes.append(f"{fmt}: {n} box(es) were written as 4-corner polygons")
    return notes


def _check_items(items: Sequence[ExportItem], names: dict[int, str]) -> None:
    seen: set[str] = set()
    for it in items:
        # Case-insensitive file systems merge names differing only in case, and formats
        # with one label file per image (YOLO, VOC) would merge a.jpg with a.png.
        key = it.file_name.lower().rsplit(".", 1)[0]
        if key in seen:
            raise LabelerError(
                f"two images share the export file name {it.file_name!r} (ignoring case "
                "and extension)"
            )
        seen.add(key)
        for s in it.shapes:
            if s.class_id not in names:
                raise LabelerError(f"{it.file_name}: shape of unknown class id {s.class_id}")


def _check_target(target: Path, items: Sequence[ExportItem], overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise LabelerError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise LabelerError(f"{target} is not empty; pass --overwrite to replace it")
        real = target.resolve()
        for it in items:
            if it.source_path.absolute().resolve().is_relative_to(real):
                raise LabelerError(
                    f"{it.file_name}: its source is inside {target}, which an overwrite "
                    "would delete"
                )


def _check_destinations(placed: Sequence[Placed]) -> None:
    seen: dict[str, str] = {}
    for p in placed:
        key = p.path.lower()
        if key in seen:
            raise LabelerError(
                f"{p.item.file_name} and {seen[key]} would both be written as {p.path}"
            )
        seen[key] = p.item.file_name


def _write_image(p: Placed, root: Path, strip_metadata: bool) -> str:
    """Link the image unless it needs new pixels or no metadata; returns how it was done."""
    it = p.item
    dst = root / p.path
    if not it.source_path.is_file():
        raise LabelerError(f"{it.file_name}: source image not found: {it.source_path}")
    # A rotated JPEG must be re-encoded upright: shapes are in upright pixels and many
    # loaders (OpenCV with IGNORE_ORIENTATION, PIL without exif_transpose) ignore the tag.
    rotated = not it.prerendered and exif_orientation(it.source_path) != 1
    if rotated or (strip_metadata and not it.prerendered):
        write_upright(it.source_path, dst)
        how = "reencoded"
    else:
        how = link_or_copy(it.source_path, dst)
    w, h = image_size(dst)
    if (w, h) != (it.width, it.height):
        raise LabelerError(
            f"{it.file_name}: the image is {w}x{h} on disk but {it.width}x{it.height} "
            "in the project"
        )
    return how


def _write_manifest(
    root: Path,
    fmt: str,
    version: Mapping[str, Any],
    classes: Sequence[tuple[int, str]],
    placed: Sequence[Placed],
    written: Mapping[str, str],
    files: Sequence[str],
) -> None:
    doc = {
        "format": fmt,
        "version": dict(version),
        "classes": [{"id": cid, "name": name} for cid, name in classes],
        "images": [
            {
                "file": p.path,
                "file_name": p.item.file_name,
                "split": p.item.split,
                "sha256": written[p.path],
                "source_sha256": p.item.sha256,
                "generated": p.item.generated,
                "provenance": dict(p.item.provenance),
            }
            for p in placed
        ],
        "annotation_files": [{"file": f, "sha256": sha256_file(root / f)} for f in files],
    }
    try:
        text = json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise LabelerError(f"the manifest cannot be written as JSON: {e}") from None
    write_text(root / MANIFEST, text + "\n")


def _verify(
    exporter: Exporter, placed: Sequence[Placed], names: dict[int, str], root: Path
) -> None:
    """Read the export back with the format's importer and compare image by image."""
    result = get_importer(exporter.importer).read(root)
    diffs = list(result.problems)
    found = {r.path: r for r in result.records}
    for p in placed:
        rec = found.pop(p.path, None)
        if rec is None:
            diffs.append(f"{p.path}: written but not found when read back")
            continue
        if rec.split != p.item.split:
            diffs.append(f"{p.path}: split {p.item.split} written, {rec.split} read back")
        if (rec.width, rec.height) != (p.item.width, p.item.height):
            diffs.append(
                f"{p.path}: size {p.item.width}x{p.item.height} written, "
                f"{rec.width}x{rec.height} read back"
            )
        diffs.extend(_compare_shapes(p, rec.shapes, names, exporter.tolerance_px))
    diffs.extend(f"{path}: read back but never written" for path in sorted(found))
    if diffs:
        more = f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""
        raise LabelerError(f"export check failed: {diffs[0]}{more}")


def _compare_shapes(p: Placed, got: Sequence[Any], names: dict[int, str], tol: float) -> list[str]:
    want = Counter((names[s.class_id], s.kind) for s in p.shapes)
    have = Counter((s.class_name, s.kind) for s in got)
    if want != have:
        return [
            f"{p.path}: shapes {dict(sorted(want.items()))} written, "
            f"{dict(sorted(have.items()))} read back"
        ]
    pool = list(got)
    for s in p.shapes:
        match = next(
            (
                g
                for g in pool
                if g.class_name == names[s.class_id]
                and g.kind == s.kind
                and _close(s.points, g.points, tol)
            ),
            None,
        )
        if match is None:
            return [f"{p.path}: a {s.kind} of {names[s.class_id]} at {s.points} was not read back"]
        pool.remove(match)
    return []


def _close(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]], tol: float) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x1, x2, abs_tol=tol) and math.isclose(y1, y2, abs_tol=tol)
        for (x1, y1), (x2, y2) in zip(a, b, strict=True)
    )


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp``: set the old target aside, rename, then delete it, so
    a crash between the two renames leaves the old export recoverable beside the target."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
