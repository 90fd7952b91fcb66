"""ImageFolder (torchvision) for image classification.

Layout written: ``<split>/<class name>/<file_name>``. Only image-level tags count: an
image with exactly one tag class is written under that class; an image with no tag, or
with tags of two or more classes, is skipped and listed in the report's ``skipped`` (a
folder layout holds one class per image, and copying the image into several class
folders would teach a classifier contradictory labels). Class folders are made only for
classes with images, because torchvision refuses empty class folders; torchvision then
numbers the classes by sorted folder name, which ``manifest.json`` lets you check.

Read back by `ImageFolderImporter`, which imports every image under the root: those outside
any class folder come in without a class, counted (``labeler import --format imagefolder``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    FormatProblem,
    image_files_among,
    image_size,
    inside,
    load_json,
    shown_path,
    walk_files,
)
from labeler.core.formats.base import Placed
from labeler.core.formats.model import SPLITS, ExportItem, ImportedShape, ImportRecord, ImportResult
from labeler.core.model import file_safe_name
from labeler.core.shapes import Shape

MAX_MANIFEST_BYTES = 256 << 20
"""A manifest lists every image of an export: a few hundred bytes each."""


class ImageFolderExporter:
    name = "imagefolder"
    importer = "imagefolder"
    tolerance_px = 0.0

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        # A class is a folder: its name made safe as one (tv/monitor -> tv_monitor). The
        # manifest keeps the real names, and reading the export back restores them.
        folders: dict[str, str] = {}
        for name in names.values():
            folder = file_safe_name(name)
            if folder.lower() in folders:
                raise LabelerError(
                    f"classes {folders[folder.lower()]!r} and {name!r} would share the folder"
                    f" {folder!r}: rename one of them to export as ImageFolder"
                )
            folders[folder.lower()] = name
        out: list[Placed | str] = []
        for it in items:
            tags = sorted(
                {s.class_id for s in it.shapes if s.kind == "tag"}, key=lambda c: names[c]
            )
            if not tags:
                out.append("has no image-level class")
            elif len(tags) > 1:
                listed = ", ".join(names[c] for c in tags)
                out.append(f"has {len(tags)} image-level classes ({listed}), ImageFolder holds one")
            else:
                path = f"{it.split}/{file_safe_name(names[tags[0]])}/{it.file_name}"
                out.append(Placed(it, path, (Shape.tag(tags[0]),)))
        return out

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        return []  # the folders are the annotation


class ImageFolderImporter:
    """Reads ``<split>/<class>/...`` when the root has train/val/test folders, otherwise
    ``<class>/...``; images below a class folder (at any depth) get that class as a tag.

    Nothing under the root is left out in silence: images lying outside any class folder
    (at the root, or directly in a split folder) and those in a folder beside the split
    folders are imported without a class (and the latter without a split), with one problem
    line per folder giving the count; a hidden folder (``.ipynb_checkpoints``) is reported
    and not read; an image-named entry that is not a regular file (a FIFO, a socket, a broken
    link) or whose name is not valid UTF-8 is reported and skipped.
    """

    name = "imagefolder"

    def detect(self, root: Path) -> bool:
        try:
            with os.scandir(root) as it:
                return any(_is_folder(e) for e in it)
        except OSError:
            return False

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        splits = [s for s in SPLITS if _is_folder(root / s)]
        if splits:
            _read_level(root, root, None, result, splits)
            for split in splits:
                _read_level(root, root / split, split, result)
        else:
            _read_level(root, root, None, result)
        _names_from_manifest(root, result)
        return result


def _names_from_manifest(root: Path, result: ImportResult) -> None:
    """An ImageFolder export of ours names each class folder by a file-safe form of the
    class name (``tv_monitor`` for ``tv/monitor``); its manifest holds the real names, which
    are given back here. Any other folder's names stand as they are."""
    path = root / "manifest.json"
    if not path.is_file():
        return
    try:
        doc = load_json(root, path, "manifest.json", MAX_MANIFEST_BYTES)
    except FormatProblem:
        return  # not ours, or unreadable: the folder names are the classes
    if not isinstance(doc, dict) or doc.get("format") != "imagefolder":
        return
    real = {}
    for c in doc.get("classes") or ():
        name = c.get("name") if isinstance(c, dict) else None
        if isinstance(name, str):
            real[file_safe_name(name)] = name
    if not any(folder != name for folder, name in real.items()):
        return

    def named(folder: str) -> str:
        return real.get(folder, folder)

    result.classes = [named(c) for c in result.classes]
    for k, rec in enumerate(result.records):
        if any(s.class_name in real for s in rec.shapes):
            shapes = tuple(replace(s, class_name=named(s.class_name)) for s in rec.shapes)
            result.records[k] = replace(rec, shapes=shapes)


def _read_level(
    root: Path, base: Path, split: str | None, result: ImportResult, splits: Sequence[str] = ()
) -> None:
    """The folders in ``base`` are classes (or, at a root with ``splits``, the split folders,
    read by the caller); the images lying in ``base`` itself are imported without a class."""
    try:
        with os.scandir(base) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        result.problems.append(f"{shown_path(root, base)}: cannot list folder: {e.strerror or e}")
        return
    loose: list[Path] = []
    for entry in entries:
        path = base / entry.name
        if not _is_folder(entry):  # a link to a folder counts; `inside` checks where it goes
            loose.append(path)
        elif base == root and entry.name in splits:
            continue
        elif entry.name.startswith("."):
            result.problems.append(f"{shown_path(root, path)}: skipped: a hidden folder")
        elif splits:
            _beside_splits(root, path, splits, result)
        else:
            _read_class(root, path, split, result)
    images = image_files_among(root, loose, result.problems)
    before = len(result.records)
    for image in images:
        _add(root, image, None, split, result)
    added = len(result.records) - before
    if added:  # counted after each file passed its checks: a refused one is not "imported"
        where = shown_path(root, base) if base != root else "the dataset's top folder"
        result.problems.append(
            f"{where}: {added} image(s) outside any class folder imported without a class"
        )


def _read_class(root: Path, class_dir: Path, split: str | None, result: ImportResult) -> None:
    if not _within(root, class_dir, result):
        return
    result.add_class(class_dir.name)
    for image in image_files_among(
        root, walk_files(root, class_dir, result.problems), result.problems
    ):
        _add(root, image, class_dir.name, split, result)


def _beside_splits(root: Path, folder: Path, splits: Sequence[str], result: ImportResult) -> None:
    """A folder beside train/val/test (``valid/``, ``extra/``) is neither a split nor a class
    we could trust: its images are imported without either, and counted."""
    if not _within(root, folder, result):
        return
    images = image_files_among(root, walk_files(root, folder, result.problems), result.problems)
    if images:
        result.problems.append(
            f"{shown_path(root, folder)}: {len(images)} image(s) imported without a class or split:"
            f" the folder is beside the split folders ({', '.join(splits)}), not in one"
        )
    for image in images:
        _add(root, image, None, None, result)


def _within(root: Path, folder: Path, result: ImportResult) -> bool:
    """Whether ``folder`` lies inside the dataset; a folder may be a link, but one to a folder
    outside it is refused, reported in ``result``."""
    try:
        inside(root, folder)
    except FormatProblem:
        result.problems.append(
            f"{shown_path(root, folder)}: refused: a symbolic link to a folder outside the dataset"
        )
        return False
    return True


def _is_folder(entry: os.DirEntry | Path) -> bool:
    """A folder, or a link to one; False when that cannot be known (a link into a folder we
    may not read raises PermissionError from ``is_dir``)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _add(
    root: Path, image: Path, name: str | None, split: str | None, result: ImportResult
) -> None:
    try:
        rel = inside(root, image)
        w, h = image_size(
            image, shown_path(root, image)
        )  # the header alone, refused over MAX_PIXELS
    except (FormatProblem, LabelerError) as e:
        result.problems.append(str(e))
        return
    shapes = (ImportedShape(name, "tag"),) if name is not None else ()
    result.records.append(ImportRecord(rel, w, h, shapes, split))
