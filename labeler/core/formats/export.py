"""``export_dataset``: write a dataset version atomically, then read it back and compare.

The export is built in a hidden temporary folder beside the target and renamed into place
only after every file is written and the check passed (ADR 0022). A cancelled or failed
export removes its temporary folder and the parent folders it created, and leaves an existing
target as it was. ``overwrite`` replaces only an earlier export of ours: a folder whose
``manifest.json`` we wrote and which holds nothing the manifest does not list. Hidden folders
left beside the target by a killed export (``.NAME.partial-*``, ``.NAME.old-*``) are removed by
the next export to the same place; a running export holds a lock on its own, so only those of
dead processes go.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import math
import os
import shutil
import stat
import tempfile
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from labeler.core import linking
from labeler.core.errors import LabelerError
from labeler.core.files import (
    Signature,
    current_umask,
    make_parents,
    read_written,
    remove_created,
    signature,
)
from labeler.core.formats.base import Exporter, Placed, get_exporter, get_importer
from labeler.core.formats.model import (
    SPLITS,
    ExportItem,
    ExportReport,
    ImportResult,
    class_table,
    imported_instances,
)
from labeler.core.gcpause import gc_paused
from labeler.core.linking import (
    ImageJob,
    WrittenImage,
    cannot_write,
    check_size_on_disk,
)
from labeler.core.model import ImageRecord
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.shapes import instances

try:  # POSIX: a running export locks its temporary folder, so a cleanup can tell it is alive
    import fcntl
except ImportError:  # pragma: no cover - Windows: leftovers are removed after a day instead
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"
TOOL = "labeler"
MAX_MANIFEST_BYTES = 1 << 30
# Files other programs drop into a dataset folder that an overwrite may delete with it:
# Finder and Explorer metadata, and Ultralytics' label caches (train/labels.cache).
_DISPOSABLE_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
_DISPOSABLE_SUFFIXES = (".cache",)
_LEFTOVER_AGE_S = 24 * 3600  # without file locks (Windows): what counts as abandoned


class ExportCancelled(LabelerError):
    """Raised when ``should_stop`` asked the export to stop; nothing was changed on disk."""


@gc_paused()  # many objects that live until the end (labeler.core.gcpause)
def export_dataset(
    fmt: str,
    items: Sequence[ExportItem],
    classes: Sequence[tuple[int, str]],
    out_dir: str | os.PathLike[str],
    overwrite: bool = False,
    manifest: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
    should_stop: ShouldStop | None = None,
    strip_metadata: bool = False,
    project_paths: Mapping[int, str] | None = None,
) -> ExportReport:
    """Export ``items`` in format ``fmt`` to ``out_dir`` and verify it with the importer.

    ``classes`` is ``[(class_id, name)]`` in the order the export numbers them.
    ``manifest`` is the caller's version description (name, seed, recipe, time...); it is
    written verbatim under ``"version"`` in ``manifest.json`` and is the only place a
    timestamp may enter. It may be a function that returns it, called on this thread while
    the images are written (a fingerprint of the version need not hold them up).
    ``project_paths`` maps an item's ``image_id`` to the image's path
    in the project; the manifest lists it, with the id, beside each exported file, so an
    export name leads back to its image. ``progress(done, total)`` is called after each
    image and step; ``should_stop()`` is polled between them. Raises ``LabelerError`` for
    bad input, a non-empty target without ``overwrite``, a missing image, a failed check,
    or an export that would hold no image (see `check_kept`, which also warns with counts
    when most images or all labels stay out);
    ``ExportCancelled`` when stopped. In every failure the target is left as it was.

    >>> report = export_dataset("coco", items, [(1, "cat")], "out/v1", manifest={"name": "v1"})
    ... # doctest: +SKIP
    """
    exporter = get_exporter(fmt)
    names = class_table(classes)
    _check_items(items, names)
    target = check_export_target(out_dir, overwrite, items)
    stop = should_stop or never_stop
    tick = progress or no_progress

    created = make_parents(target.parent)
    tmp: LockedDir | None = None
    try:
        remove_leftovers(target.parent, f".{target.name}.partial-")
        tmp = LockedDir.create(f".{target.name}.partial-", target.parent)
        report = _build(
            exporter,
            items,
            classes,
            names,
            tmp.path,
            target,
            manifest or {},
            tick,
            stop,
            strip_metadata,
            project_paths or {},
        )
        if stop():
            raise ExportCancelled("export cancelled; nothing was changed")
        _swap_into_place(tmp.path, target)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp.path, ignore_errors=True)
        remove_created(created)
        raise
    finally:
        if tmp is not None:
            tmp.release()
    remove_leftovers(target.parent, f".{target.name}.old-")
    return report


def _build(
    exporter: Exporter,
    items: Sequence[ExportItem],
    classes: Sequence[tuple[int, str]],
    names: dict[int, str],
    root: Path,
    final_dir: Path,
    manifest: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    tick: ProgressFn,
    stop: ShouldStop,
    strip_metadata: bool,
    project_paths: Mapping[int, str],
) -> ExportReport:
    ordered = sorted(items, key=lambda it: (SPLITS.index(it.split), it.file_name))
    placed: list[Placed] = []
    left_out: list[tuple[ExportItem, str]] = []
    report = ExportReport(exporter.name, final_dir, {s: 0 for s in SPLITS}, {}, [])
    for it, got in zip(ordered, exporter.place(ordered, names), strict=True):
        if isinstance(got, str):
            report.skipped.append((it.file_name, got))
            left_out.append((it, got))
        else:
            placed.append(got)
    _check_destinations(placed)
    report.warnings += _lost_in_format(exporter.name, items, placed)
    report.warnings += check_kept(exporter.name, items, placed, left_out)

    total = len(placed) + 2
    written: dict[str, WrittenImage] = {}
    jobs = [
        ImageJob(
            os.fspath(p.item.source_path),
            p.path,
            p.item.file_name,
            (p.item.width, p.item.height),
            p.item.prerendered,
        )
        for p in placed
    ]
    batches = [jobs[i : i + _BATCH] for i in range(0, len(jobs), _BATCH)]
    if stop():
        raise ExportCancelled("export cancelled; nothing was changed")
    # The images' folders first, made once, not raced for by the workers that link.
    for folder in sorted({os.path.dirname(p.path) for p in placed} - {""}):
        try:
            (root / folder).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cannot_write(final_dir / folder, e) from None
    # The images are linked, read back and hashed by a thread per core, in batches (a task
    # per image cost more than its link), while this thread writes the annotation files.
    # The check of those runs once the images are in: it is Python, and beside it the
    # hashing threads, which need the GIL between their system calls, ran at half speed.
    # Worker processes did no better on two cores, where the hashing alone keeps both
    # busy (ADR 0096, 0106). Results are taken in order, so the report and manifest stay
    # identical.
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        try:

            def write_some(batch: Sequence[ImageJob]) -> list[WrittenImage]:
                got = []
                for job in batch:
                    if stop():
                        raise ExportCancelled("export cancelled; nothing was changed")
                    got.append(linking.write_image(job, str(root), str(final_dir), strip_metadata))
                return got

            futures = [pool.submit(write_some, b) for b in batches]
            try:  # a writer gets only ``placed``, never the image files
                report.files = sorted(exporter.write(placed, classes, root, final_dir))
            except OSError as e:
                raise cannot_write(_shown(e.filename, root, final_dir), e) from None
            # While the images are hashed, what needs neither their hashes nor the check:
            # the version record (its fingerprint), the layout's notes (an empty split
            # Ultralytics will still ask for, ...), the report's counts; and the manifest's
            # record of each image as its batch comes in.
            version = manifest() if callable(manifest) else manifest
            notes = getattr(exporter, "notes", None)
            layout_notes = list(notes(placed)) if callable(notes) else []
            _count(report, placed, names)
            records = LaidOut()
            done = 0
            for batch, future in zip(batches, futures, strict=True):
                if stop():
                    raise ExportCancelled("export cancelled; nothing was changed")
                got = future.result()
                for job, w in zip(batch, got, strict=True):
                    setattr(report, w.how, getattr(report, w.how) + 1)
                    written[job.path] = w
                records.parts += [
                    _image_record_text(placed[done + k], w, project_paths)
                    for k, w in enumerate(got)
                ]
                done += len(batch)
                tick(done, total)
        except BaseException:
            # Nothing may still write when the folder is removed.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for p in placed:
        w = written[p.path]
        if w.how != "reencoded" and p.item.sha256 and w.sha256 != p.item.sha256:
            report.warnings.append(f"{p.item.file_name}: the image changed on disk since import")
    report.warnings += layout_notes

    if stop():
        raise ExportCancelled("export cancelled; nothing was changed")
    # The check (ADR 0096) of the annotation files, all written: each read back from disk
    # once, its bytes hashed for the manifest and parsed by the format's importer (its
    # ``read_written`` takes the images' paths and sizes from ``placed``, not from the
    # folder; one without it reads the folder last), and compared with what was placed.
    texts, problems, diffs = _check_annotations(exporter, root, report.files, placed, names)
    try:
        manifest_text = _write_manifest(root, exporter.name, version, classes, records, texts)
    except OSError as e:
        raise cannot_write(_shown(e.filename, root, final_dir), e) from None
    tick(total - 1, total)

    # Every image was read back whole when it was hashed, its header giving the size that
    # `linking.write_image` compared with the project's. Last, a listing of the folder with an
    # lstat per file proves that nothing changed, went or came since it was read.
    if diffs is None:  # an importer that reads the folder itself, the manifest included
        read_back = get_importer(exporter.importer).read(root)
        diffs = problems + _verify(exporter, placed, names, read_back)
    if not diffs:
        diffs = _check_tree(root, placed, written, texts, manifest_text)
    _raise_diffs(diffs)
    report.verified = True
    tick(total, total)
    return report


def _count(report: ExportReport, placed: Sequence[Placed], names: dict[int, str]) -> None:
    """The report's images per split and shapes per split, class and kind."""
    for p in placed:
        report.images[p.item.split] += 1
        per_class = report.shapes.setdefault(p.item.split, {})
        for s in p.shapes:
            kinds = per_class.setdefault(names[s.class_id], {})
            kinds[s.kind] = kinds.get(s.kind, 0) + 1


_BATCH = 32  # images per task of the writing pool


def _check_annotations(
    exporter: Exporter,
    root: Path,
    files: Sequence[str],
    placed: Sequence[Placed],
    names: dict[int, str],
) -> tuple[dict[str, ReadBack], list[str], list[str] | None]:
    """The annotation files read back (`_read_back`), the problems reading them, and the
    differences (problems included) between what their importer reads in them and what was
    placed; None for an importer without ``read_written``, which reads the folder itself
    once the manifest is there."""
    texts, problems = _read_back(root, files)
    read_back = _parse_written(exporter, root, texts, placed)
    if read_back is None:
        return texts, problems, None
    return texts, problems, problems + _verify(exporter, placed, names, read_back)


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


def check_kept(
    fmt: str,
    items: Sequence[ExportItem],
    placed: Sequence[Placed],
    left_out: Sequence[tuple[ExportItem, str]],
) -> list[str]:
    """Refuse an export that would hold no image, and say with counts what an export leaves
    out; returns the warnings. Images are counted by ``image_id`` (an augmented copy counts
    with its source).

    Refused (``LabelerError``, before anything is written): no image at all, or none the
    format takes (an ``imagefolder`` export of a project without image-level classes).
    Warned, in capitals when it is most of the export: images not exported (more than half
    of them), labels none of which the format holds (a ``coco``, ``yolo`` or ``voc`` export
    of a project labelled only with image-level tags is a set of unlabelled images), images
    that lose all their labels and are written unlabelled (a detector reads them as
    background), and an export without any label.
    """
    total = {it.image_id for it in items}
    kept = {p.item.image_id for p in placed}
    if not total:
        raise LabelerError("nothing to export: there are no images")
    if not kept:
        raise LabelerError(
            f"{fmt} would export none of the {len(total)} image(s)"
            f" ({_reasons(left_out)}); nothing was written"
        )
    warnings = []
    missing = total - kept
    if len(missing) * 2 > len(total):
        warnings.append(
            f"MOST IMAGES ARE NOT EXPORTED: {len(missing)} of {len(total)} image(s) are not in"
            f" this {fmt} export, only {len(kept)} are ({_reasons(left_out)})"
        )
    elif missing:
        warnings.append(
            f"{len(missing)} of {len(total)} image(s) are not exported ({_reasons(left_out)})"
        )
    first: dict[int, ExportItem] = {}  # an image's own labels, not its augmented copies'
    for it in items:
        first.setdefault(it.image_id, it)
    labels = Counter(s.kind for i in kept for s in first[i].shapes)
    stripped = {p.item.image_id for p in placed if p.item.shapes and not p.shapes}
    if not labels:
        warnings.append(f"none of the {len(kept)} exported image(s) has a label")
    elif not any(p.shapes for p in placed):
        warnings.append(
            f"NO LABEL IS EXPORTED: {fmt} holds none of the {labels.total()} label(s) of the"
            f" exported images ({_kinds(labels)}), so this export is {len(kept)} unlabelled"
            f" image(s); export to a format that holds {_kinds_named(labels)}"
        )
    elif stripped:
        warnings.append(
            f"{len(stripped)} image(s) lose every label they have in {fmt} and are written"
            " unlabelled (a detector reads them as background)"
        )
    return warnings


def _reasons(left_out: Sequence[tuple[ExportItem, str]], most: int = 3) -> str:
    """``reason: count`` for the commonest reasons images were left out, by image."""
    by_reason: dict[str, set[int]] = {}
    for it, why in left_out:
        by_reason.setdefault(why, set()).add(it.image_id)
    ranked = sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    text = "; ".join(f"{why}: {len(ids)}" for why, ids in ranked[:most])
    if len(ranked) > most:
        text += f"; {len(ranked) - most} other reason(s)"
    return text


_KIND_WORDS = {"tag": "image-level tag(s)", "box": "box(es)", "polygon": "polygon(s)"}


def _kinds(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {_KIND_WORDS.get(k, k)}" for k, n in sorted(counts.items()))


def _kinds_named(counts: Counter[str]) -> str:
    names = {"tag": "image-level tags", "box": "boxes", "polygon": "polygons"}
    return " and ".join(names.get(k, k) for k in sorted(counts))


@functools.lru_cache(maxsize=1 << 16)  # asked twice per image per export (names, checks)
def name_key(file_name: str) -> str:
    """What two export file names must not share: the name without its extension, case and
    Unicode normalisation folded. Case-insensitive file systems (macOS, Windows) merge
    names that differ only in case or normalisation, and the formats with one label file per
    image (YOLO, VOC) would give ``a.jpg`` and ``a.png`` the same one.

    >>> name_key("Photos/Cat.JPG") == name_key("photos/cat.png")
    True
    """
    return unicodedata.normalize("NFC", str(PurePosixPath(file_name).with_suffix(""))).casefold()


def _check_items(items: Sequence[ExportItem], names: dict[int, str]) -> None:
    seen: dict[str, str] = {}
    for it in items:
        key = name_key(it.file_name)
        if key in seen:
            raise LabelerError(
                f"two images share the export file name {it.file_name!r} ({seen[key]!r}"
                " differs only in case or extension); give each image its own name"
            )
        seen[key] = it.file_name
        for s in it.shapes:
            if s.class_id not in names:
                raise LabelerError(f"{it.file_name}: shape of unknown class id {s.class_id}")


def check_export_target(
    out_dir: str | os.PathLike[str], overwrite: bool, items: Sequence[ExportItem] = ()
) -> Path:
    """Refuse a target the export may not replace, before any work; returns it absolute.

    A non-empty folder is replaced only with ``overwrite``, and only when it is an earlier
    export of ours (see ``check_our_export``) that holds none of ``items``' source images.
    """
    target = Path(out_dir).absolute()
    if target.is_symlink():
        raise LabelerError(f"{target} is a symbolic link; give the folder it points to")
    if target.exists() and not target.is_dir():
        raise LabelerError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise LabelerError(f"{target} is not empty; pass --overwrite to replace it")
        check_our_export(target)
        real = target.resolve()
        for it in items:
            if it.source_path.absolute().resolve().is_relative_to(real):
                raise LabelerError(
                    f"{it.file_name}: its source is inside {target}, which an overwrite "
                    "would delete"
                )
    return target


def check_our_export(target: Path) -> None:
    """Raise unless ``target`` is an export Labeler wrote and holds nothing else.

    Recognised by its ``manifest.json`` (a regular file, with ``"tool": "labeler"`` at the top
    or, in exports made before that key, in ``"version"``); every file in the folder must be
    one the manifest lists, apart from caches and desktop metadata other tools drop there.
    """
    not_ours = (
        f"{target} is not empty and is not an export of ours (no Labeler {MANIFEST});"
        " only an earlier export is ever replaced: choose a new or empty folder"
    )
    try:
        st = os.lstat(target / MANIFEST)
    except FileNotFoundError:
        raise LabelerError(not_ours) from None
    if not stat.S_ISREG(st.st_mode):
        raise LabelerError(not_ours)
    if st.st_size > MAX_MANIFEST_BYTES:
        raise LabelerError(f"{target / MANIFEST} is too large to check; remove {target} yourself")
    try:
        doc = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise LabelerError(not_ours) from None
    listed = _manifest_files(doc)
    if listed is None:
        raise LabelerError(not_ours)
    listed.add(MANIFEST)

    def unreadable(e: OSError) -> None:
        raise LabelerError(f"cannot read {e.filename}: {e.strerror}; nothing was changed")

    for folder, dirs, files in os.walk(target, onerror=unreadable):
        rel = Path(folder).relative_to(target)
        strays = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        strays += [
            f
            for f in files
            if (rel / f).as_posix() not in listed
            and f not in _DISPOSABLE_NAMES
            and not f.endswith(_DISPOSABLE_SUFFIXES)
        ]
        if strays:
            raise LabelerError(
                f"{target} holds files no export wrote (e.g. {(rel / strays[0]).as_posix()}),"
                " which replacing it would delete: move them or choose another folder"
            )


def _manifest_files(doc: Any) -> set[str] | None:
    """The files an export manifest of ours lists, or None when it is not one of ours."""
    if not isinstance(doc, dict):
        return None
    version = doc.get("version")
    if doc.get("tool") != TOOL and not (isinstance(version, dict) and version.get("tool") == TOOL):
        return None
    files: set[str] = set()
    for key in ("images", "annotation_files"):
        entries = doc.get(key)
        if not isinstance(entries, list):
            return None
        for e in entries:
            if not (isinstance(e, dict) and isinstance(e.get("file"), str)):
                return None
            files.add(e["file"])
    return files


def _check_destinations(placed: Sequence[Placed]) -> None:
    seen: dict[str, str] = {}
    for p in placed:
        key = p.path.lower()
        if key in seen:
            raise LabelerError(
                f"{p.item.file_name} and {seen[key]} would both be written as {p.path}"
            )
        seen[key] = p.item.file_name


def check_is_imported(record: ImageRecord, data: bytes, size: tuple[int, int]) -> None:
    """A one-line `LabelerError` when ``data``, read from the project's image ``record`` and
    ``size`` upright, is not the file imported: its size (`check_size_on_disk`), then its
    SHA-256. What assists and pre-labels read goes through this (any record with ``path``,
    ``width``, ``height`` and ``sha256`` will do: the window hands in its list row)."""
    check_size_on_disk(record.path, size, (record.width, record.height))
    if record.sha256 and hashlib.sha256(data).hexdigest() != record.sha256:
        raise LabelerError(f"{record.path}: the image changed on disk since import")


def _write_manifest(
    root: Path,
    fmt: str,
    version: Mapping[str, Any],
    classes: Sequence[tuple[int, str]],
    images: LaidOut,
    texts: Mapping[str, ReadBack],
) -> bytes:
    """Write ``manifest.json``; returns its bytes. ``images`` is the list of records
    (`_image_record_text`) laid out while the images were still being written; the hashes are those of
    the files as read back: images by `linking.write_image`, annotation files by `_read_back`
    (each file hashed once)."""
    doc = {
        "format": fmt,
        "version": dict(version),
        "classes": [{"id": cid, "name": name} for cid, name in classes],
        "images": images,
        "annotation_files": [{"file": f, "sha256": got.sha256} for f, got in sorted(texts.items())],
        "tool": TOOL,
    }
    try:
        text = manifest_json(doc)
    except (TypeError, ValueError) as e:
        raise LabelerError(f"the manifest cannot be written as JSON: {e}") from None
    data = (text + "\n").encode("utf-8")
    (root / MANIFEST).write_bytes(data)
    return data


_RECORD_PAD, _RECORD_INNER = " " * 4, " " * 6  # a record of a list at the manifest's top level


def _image_record_text(p: Placed, w: WrittenImage, project_paths: Mapping[int, str]) -> str:
    """The manifest's record of one image written (``file``, ``file_name``, ``generated``,
    ``image_id``, ``project_path``, ``provenance``, ``sha256``, ``source_sha256``, ``split``)
    as `LaidOut.add` would lay out its dict: the keys in sorted order, each value by
    `_json_value`, without building the dict."""
    it, i = p.item, _RECORD_INNER
    return (
        f"{_RECORD_PAD}{{\n"
        f'{i}"file": {_json_value(p.path, 6)},\n'
        f'{i}"file_name": {_json_value(it.file_name, 6)},\n'
        f'{i}"generated": {_json_value(it.generated, 6)},\n'
        f'{i}"image_id": {_json_value(it.image_id, 6)},\n'
        f'{i}"project_path": {_json_value(project_paths.get(it.image_id), 6)},\n'
        f'{i}"provenance": {_json_value(dict(it.provenance), 6)},\n'
        f'{i}"sha256": {_json_value(w.sha256, 6)},\n'
        f'{i}"source_sha256": {_json_value(it.sha256, 6)},\n'
        f'{i}"split": {_json_value(it.split, 6)}\n'
        f"{_RECORD_PAD}}}"
    )


_LISTS = ("images", "annotation_files")  # a record per file: the bulk of a manifest


def manifest_json(doc: Mapping[str, Any]) -> str:
    """``json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)``,
    the same text, made faster: with an indent ``json`` encodes in Python, 0.3 s for the
    10,000 records of a 10,000-image export; here the records of ``images`` and
    ``annotation_files`` are laid out directly, their strings escaped by ``json``'s own
    C escaper. Either list may come already laid out (`LaidOut`), record by record as an
    export wrote its files."""
    token = f"labeler-manifest-{uuid.uuid4().hex}"
    rest = {k: (f"{token}-{k}" if k in _LISTS else v) for k, v in doc.items()}
    text = json.dumps(rest, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    for key in _LISTS:
        if key in doc:
            got = doc[key]
            laid = got if isinstance(got, LaidOut) else lay_out(got)
            text = text.replace(f'"{token}-{key}"', laid.text(), 1)
    return text


class LaidOut:
    """A list of records as `manifest_json` writes it at the top level of the manifest,
    built a part at a time (`add`) and joined once (`text`)."""

    _INDENT = 2

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._keys: list[Any] = []
        self._lead: list[str] = []  # the keys in order, encoded: the same for most records

    def add(self, records: Sequence[Mapping[str, Any]]) -> None:
        indent = self._INDENT
        pad, inner = " " * (indent + 2), " " * (indent + 4)
        parts = self.parts
        for r in records:
            if not r:
                parts.append(pad + "{}")
                continue
            keys = self._keys
            if len(r) != len(keys) or any(k not in r for k in keys):
                keys = self._keys = sorted(r)
                self._lead = [f"{inner}{_key(k)}: " for k in keys]
            body = ",\n".join(
                a + _json_value(r[k], indent + 4) for a, k in zip(self._lead, keys, strict=True)
            )
            parts.append(f"{pad}{{\n{body}\n{pad}}}")

    def text(self) -> str:
        if not self.parts:
            return "[]"
        return "[\n" + ",\n".join(self.parts) + "\n" + " " * self._INDENT + "]"


def lay_out(records: Sequence[Mapping[str, Any]]) -> LaidOut:
    """``records`` as one `LaidOut`."""
    laid = LaidOut()
    laid.add(records)
    return laid


def _key(k: Any) -> str:
    if type(k) is not str:
        raise TypeError(f"keys must be str, not {type(k).__name__}")
    return encode_basestring(k)


def _json_value(v: Any, indent: int) -> str:
    """``v`` as ``json.dumps`` with an indent of 2 writes it at ``indent`` spaces. Plain
    values, lists and string-keyed dicts are laid out here; anything else (a tuple, a
    subclass, a float that is not finite, a key that is not a string) by ``json`` itself,
    its errors included. (``json``'s encoder with an indent is Python that leaves reference
    cycles behind: a few dozen objects per call, which the export's paused collector would
    keep until the end.)"""
    t = type(v)
    if t is str:
        return encode_basestring(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if t is int:
        return int.__repr__(v)
    if t is float and math.isfinite(v):
        return float.__repr__(v)
    if t is dict and all(type(k) is str for k in v):
        if not v:
            return "{}"
        pad = " " * (indent + 2)
        body = ",\n".join(
            f"{pad}{encode_basestring(k)}: {_json_value(v[k], indent + 2)}" for k in sorted(v)
        )
        return f"{{\n{body}\n{' ' * indent}}}"
    if t is list:
        if not v:
            return "[]"
        pad = " " * (indent + 2)
        body = ",\n".join(pad + _json_value(x, indent + 2) for x in v)
        return f"[\n{body}\n{' ' * indent}]"
    text = json.dumps(v, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return text.replace("\n", "\n" + " " * indent)


class ReadBack(NamedTuple):
    """An annotation file as read back from the export: its bytes, their SHA-256 (for the
    manifest and the last check, hashed once) and its `signature`."""

    data: bytes
    sha256: str
    signature: Signature


def _read_back(root: Path, files: Sequence[str]) -> tuple[dict[str, ReadBack], list[str]]:
    """Read every annotation file of the export back from disk, once (a descriptor each,
    no link followed, only a regular file). Returns what was read and what could not be."""
    texts: dict[str, ReadBack] = {}
    problems = []
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    top = f"{root}{os.sep}"  # a string: a Path per label file cost more than reading it
    for rel in files:
        try:
            fd = os.open(top + rel, flags)
        except OSError as e:
            problems.append(f"{rel}: written but cannot be read back: {e.strerror or e}")
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                problems.append(f"{rel}: written but not a regular file when read back")
                continue
            # One read for the size the descriptor gives, more only if the file grew (a
            # syscall less per label file than a file object's readall).
            data = os.read(fd, st.st_size + 1)
            if len(data) > st.st_size:
                while more := os.read(fd, 1 << 20):
                    data += more
            texts[rel] = ReadBack(data, hashlib.sha256(data).hexdigest(), signature(st))
        except OSError as e:
            problems.append(f"{rel}: written but cannot be read back: {e.strerror or e}")
        finally:
            os.close(fd)
    return texts, problems


def _parse_written(
    exporter: Exporter, root: Path, texts: Mapping[str, ReadBack], placed: Sequence[Placed]
) -> ImportResult | None:
    """The export as its importer's ``read_written`` reads it from the annotation files read
    back (``texts``), each image at the size the project gives it, which `linking.write_image`
    checks against the header of the file written; None when the importer has no
    ``read_written`` and must read the folder itself."""
    reader = getattr(get_importer(exporter.importer), "read_written", None)
    if not callable(reader):
        return None
    sizes = {p.path: (p.item.width, p.item.height) for p in placed}
    return reader(root, {rel: got.data for rel, got in texts.items()}, sizes)


def _verify(
    exporter: Exporter, placed: Sequence[Placed], names: dict[int, str], result: ImportResult
) -> list[str]:
    """Compare what the importer read back (``result``) with what was placed, image by
    image; returns the differences."""
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
    return diffs


def _check_tree(
    root: Path,
    placed: Sequence[Placed],
    written: Mapping[str, WrittenImage],
    texts: Mapping[str, ReadBack],
    manifest: bytes,
) -> list[str]:
    """The export folder as it is now against what was written and read back: every file
    there, nothing else, each still the file that was read. One listing per folder and an
    ``lstat`` per file; a file whose `signature` moved is read again and must hash as it
    did (a hard link made elsewhere moves only its change time)."""
    want: dict[str, tuple[Signature | None, str | None]] = {
        p.path: (written[p.path].signature, written[p.path].sha256) for p in placed
    }
    for rel, got in texts.items():
        want[rel] = (got.signature, got.sha256)
    want[MANIFEST] = (None, hashlib.sha256(manifest).hexdigest())
    diffs: list[str] = []
    seen: set[str] = set()
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as e:
            diffs.append(f"{prefix or '.'}: cannot list the folder: {e.strerror or e}")
            continue
        for entry in listed:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), rel + "/"))
                continue
            if rel not in want:
                diffs.append(f"{rel}: found in the export but never written")
                continue
            seen.add(rel)
            sig, digest = want[rel]
            try:
                now = signature(entry.stat(follow_symlinks=False))
            except OSError as e:
                diffs.append(f"{rel}: cannot be read back: {e.strerror or e}")
                continue
            if now == sig:
                continue
            try:
                again = read_written(entry.path).sha256
            except OSError as e:
                diffs.append(f"{rel}: cannot be read back: {e.strerror or e}")
                continue
            if again != digest:
                diffs.append(f"{rel}: changed after it was written")
    diffs.extend(f"{rel}: written but not found when read back" for rel in want if rel not in seen)
    return diffs


def _raise_diffs(diffs: Sequence[str]) -> None:
    if diffs:
        more = f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""
        raise LabelerError(f"export check failed: {diffs[0]}{more}")


def _compare_shapes(p: Placed, got: Sequence[Any], names: dict[int, str], tol: float) -> list[str]:
    # Most formats read their shapes back in the order they were written: pair them up,
    # and look for each shape among all only when that fails.
    paired = len(got) == len(p.shapes) and all(
        g.kind == s.kind and g.class_name == names[s.class_id] and _close(s.points, g.points, tol)
        for s, g in zip(p.shapes, got, strict=True)
    )
    if not paired:
        want = Counter((names[s.class_id], s.kind) for s in p.shapes)
        have = Counter((s.class_name, s.kind) for s in got)
        if want != have:
            return [
                f"{p.path}: shapes {dict(sorted(want.items()))} written, "
                f"{dict(sorted(have.items()))} read back"
            ]
    grouped = any(s.group is not None for s in p.shapes) or any(
        g.group is not None for g in got
    )  # without parts, every shape is an instance and the counts above match
    if grouped and len(instances(p.shapes)) != imported_instances(got):  # ADR 0095
        n, m = len(instances(p.shapes)), imported_instances(got)
        return [f"{p.path}: {n} instance(s) written, {m} read back"]
    if paired:
        return []
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
    if len(a) != len(b):
        return False
    isclose = math.isclose
    for (x1, y1), (x2, y2) in zip(a, b, strict=True):
        if not (isclose(x1, x2, abs_tol=tol) and isclose(y1, y2, abs_tol=tol)):
            return False
    return True


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp``: set the old target aside, rename, then delete it, so
    a crash between the two renames leaves the old export recoverable beside the target."""
    try:
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
    except OSError as e:
        raise cannot_write(target, e) from None
    shutil.rmtree(old, ignore_errors=True)


def _shown(filename: Any, root: Path, final_dir: Path) -> Path:
    """The path a user knows for a file in the temporary folder: its place in the target."""
    if isinstance(filename, str | os.PathLike):
        p = Path(filename)
        if p.is_relative_to(root):
            return final_dir / p.relative_to(root)
    return final_dir


# -- folders we create, and what a killed export leaves behind ------------------------------------
class LockedDir:
    """A new hidden temporary folder that this process holds a lock on while it works in it,
    so ``remove_leftovers`` in another process leaves it alone."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def create(cls, prefix: str, parent: Path) -> LockedDir:
        for _ in range(10):
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            # mkdtemp makes it 0700; renamed into place it is the export, made like any folder.
            os.chmod(path, 0o777 & ~current_umask())
            state, fd = _lock(path)
            if state != _HELD:
                return cls(path, fd)
            # A cleanup in another process took it between mkdtemp and the lock, and is
            # removing it: make another.
        raise LabelerError(f"cannot make a temporary folder in {parent}")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_LOCKED, _HELD, _NO_LOCKS = "locked", "held", "no-locks"


def _lock(path: Path) -> tuple[str, int | None]:
    """Try to lock the folder ``path`` for this process. ``(_LOCKED, fd)``: the descriptor
    holds the lock until closed; ``(_HELD, None)``: another process holds it, or the folder
    is gone; ``(_NO_LOCKS, None)``: this platform or file system cannot tell."""
    if fcntl is None:
        return _NO_LOCKS, None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW)
    except OSError:
        return _HELD, None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        now, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.ENOENT):
            return _HELD, None
        return _NO_LOCKS, None  # e.g. NFS without flock: work unlocked
    except BaseException:
        os.close(fd)
        raise
    if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):  # replaced meanwhile
        os.close(fd)
        return _HELD, None
    return _LOCKED, fd


def remove_leftovers(parent: Path, prefix: str) -> list[str]:
    """Remove folders named ``prefix*`` in ``parent`` that no running process holds (what a
    killed export left); only real folders, never a symlink or a file. Returns their names."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if fcntl is None:
            try:
                if time.time() - entry.stat(follow_symlinks=False).st_mtime < _LEFTOVER_AGE_S:
                    continue
            except OSError:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(entry.name)
            continue
        state, fd = _lock(path)
        if state != _LOCKED or fd is None:
            continue  # alive (locked), gone, or no locks to tell: leave it
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
        removed.append(entry.name)
    return removed


def fingerprint(
    items: Sequence[ExportItem], classes: Sequence[tuple[int, str]], extra: dict[str, Any]
) -> str:
    """SHA-256 over what an export holds: images, splits, shapes, classes and options.
    Two exports with the same fingerprint hold the same dataset."""
    h = hashlib.sha256()
    names = dict(classes)
    for it in items:
        h.update(f"{it.sha256}|{it.split}|{it.generated}\n".encode())
        groups: dict[tuple[int, int], int] = {}  # a group by its order in the image
        for s in it.shapes:
            part = ""
            if s.group is not None:
                part = f"|part of {groups.setdefault((s.class_id, s.group), len(groups) + 1)}"
            h.update(f"{names[s.class_id]}|{s.kind}|{s.geometry_json()}{part}\n".encode())
    h.update(json.dumps(list(names.values())).encode())
    h.update(json.dumps(extra, sort_keys=True).encode())
    return h.hexdigest()
