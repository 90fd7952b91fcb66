"""Darknet YOLO (import only): a class list and one ``.txt`` label file per image.

The layouts read, by what other tools write:

- darknet (AlexeyAB) and CVAT's "YOLO 1.1": ``obj.data`` (``classes = 2``, ``train =
  data/train.txt``, ``valid = data/valid.txt``, ``names = data/obj.names``), the class list
  ``obj.names``, and image lists whose lines name the images (``data/obj_train_data/a.jpg``,
  paths of darknet's working folder: resolved inside the dataset by their trailing part).
  The list gives the split (``train``, ``valid``/``val``, ``test``).
- Label Studio's YOLO export: ``classes.txt``, ``images/``, ``labels/`` (and ``notes.json``).
- X-AnyLabeling and LabelImg: ``classes.txt`` with the ``.txt`` labels beside the images
  (or in a ``labels/`` folder that mirrors ``images/``).
- Roboflow's "YOLO Darknet": ``<split>/_darknet.labels`` with images and labels side by
  side in each split folder.

A label line is ``class cx cy w h`` normalised to 0..1 (a polygon line of 7 or more odd
values is read as in Ultralytics' segment format). Without image lists every image under
the root is read; its split comes from a ``train``/``valid``/``test`` folder on its path.
An image named by a list is in the dataset, so one with no label file is a background
image; an image found by the walk without a label file is imported without annotations.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    FormatProblem,
    display,
    image_files,
    image_size,
    inside,
    read_dataset_text,
    safe_relpath,
    shown,
)
from labeler.core.formats.model import ImportRecord, ImportResult
from labeler.core.formats.yolo import _read_labels, label_path
from labeler.core.images import is_image_path

CLASS_FILES = ("classes.txt", "_darknet.labels")
_LIST_SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}


class DarknetImporter:
    name = "darknet"

    def detect(self, root: Path) -> bool:
        return _class_file(root) is not None and _has_label_txt(root)

    def describe(self, root: Path) -> str:
        path = _class_file(root)
        if path is None or not _has_label_txt(root):
            return ""
        return f"{display(root, path)}: a darknet YOLO class list, and .txt labels"

    def missing(self, root: Path) -> str | None:
        if _class_file(root) is None:
            return (
                f"no darknet class list in {root} (obj.data, *.names, classes.txt,"
                " <split>/_darknet.labels)"
            )
        return None

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        data_file = _data_file(root)
        data: dict[str, str] = {}
        if data_file is not None:
            try:
                data = _read_data(root, data_file)
            except FormatProblem as e:
                result.problems.append(str(e))
        names_path = _class_file(root, data)
        if names_path is None:
            result.problems.append(f"{root}: no class list found")
            return result
        label = display(root, names_path)
        try:
            names: list[str | None] = [
                line.strip()
                for line in read_dataset_text(root, names_path, label).splitlines()
                if line.strip()
            ]
        except FormatProblem as e:
            result.problems.append(str(e))
            return result
        for name in names:
            result.add_class(name)  # type: ignore[arg-type]
        lists = [(k, data[k]) for k in ("train", "valid", "val", "test") if data.get(k)]
        if lists:
            for key, value in lists:
                _read_list(root, data_file, key, value, names, result)  # type: ignore[arg-type]
        else:
            for image in image_files(root, root, result.problems):
                _read_image(root, image, _split_on_path(root, image), names, True, result)
        return result


def _data_file(root: Path) -> Path | None:
    if (root / "obj.data").is_file():
        return root / "obj.data"
    found = sorted(root.glob("*.data"))
    return found[0] if found else None


def _read_data(root: Path, path: Path) -> dict[str, str]:
    """``key = value`` lines; ``#`` starts a comment."""
    label = display(root, path)
    out: dict[str, str] = {}
    for line in read_dataset_text(root, path, label).splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            out[key.lower()] = value
    return out


def _class_file(root: Path, data: dict[str, str] | None = None) -> Path | None:
    """``names =`` of obj.data, else ``*.names`` at the root, else ``classes.txt`` at the
    root or one folder down, else Roboflow's ``<split>/_darknet.labels``."""
    if data is None:
        data_file = _data_file(root)
        try:
            data = _read_data(root, data_file) if data_file else {}
        except FormatProblem:
            data = {}
    if data.get("names"):
        found = _resolve(root, data["names"])
        if found is not None:
            return found
    candidates = sorted(root.glob("*.names")) + [root / "classes.txt"]
    candidates += sorted(root.glob("*/classes.txt")) + sorted(root.glob("*/_darknet.labels"))
    return next((p for p in candidates if os.path.lexists(p) and not p.is_dir()), None)


def _has_label_txt(root: Path, limit: int = 20_000) -> bool:
    """A ``.txt`` beside an image of the same name, or in ``labels/`` (one folder down too)."""
    for folder in [root, *sorted(p for p in root.glob("*") if p.is_dir())][:200]:
        if (folder / "labels").is_dir() and any((folder / "labels").rglob("*.txt")):
            return True
    seen = 0
    for dirpath, _dirs, files in os.walk(root):
        stems = {os.path.splitext(f)[0] for f in files if f.lower().endswith(".txt")}
        for f in files:
            seen += 1
            if seen > limit:
                return False
            if os.path.splitext(f)[0] in stems and is_image_path(Path(f)):
                return True
        if dirpath.count(os.sep) - str(root).count(os.sep) > 4:
            _dirs.clear()
    return False


def _resolve(root: Path, value: str) -> Path | None:
    """A path as darknet's working folder names it (``data/obj.names``,
    ``/home/u/darknet/data/obj/a.jpg``, ``x64\\data\\a.jpg``): the first trailing part of
    it that exists inside the dataset."""
    parts = [p for p in PurePosixPath(value.replace("\\", "/")).parts if p not in ("/", ".")]
    for i in range(len(parts)):
        try:
            rel = safe_relpath("/".join(parts[i:]))
        except FormatProblem:
            continue
        path = root / rel
        if os.path.lexists(path) and not path.is_dir():
            return path
    return None


def _read_list(
    root: Path,
    data_file: Path,
    key: str,
    value: str,
    names: list[str | None],
    result: ImportResult,
) -> None:
    where = f"{display(root, data_file)}: {key}"
    path = _resolve(root, value)
    if path is None:
        result.problems.append(f"{where}: image list {shown(value)} not found in the dataset")
        return
    label = display(root, path)
    try:
        lines = read_dataset_text(root, path, label).splitlines()
    except FormatProblem as e:
        result.problems.append(str(e))
        return
    split = _LIST_SPLITS[key]
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        image = _resolve(root, line.strip())
        if image is None:
            result.problems.append(f"{label}: line {lineno}: {shown(line.strip())} not found")
            continue
        _read_image(root, image, split, names, False, result)


def _split_on_path(root: Path, image: Path) -> str | None:
    for part in image.relative_to(root).parts[:-1]:
        if part.lower() in _LIST_SPLITS:
            return _LIST_SPLITS[part.lower()]
    return None


def _read_image(
    root: Path,
    image: Path,
    split: str | None,
    names: list[str | None],
    walked: bool,
    result: ImportResult,
) -> None:
    try:
        rel = inside(root, image)
    except FormatProblem as e:
        result.problems.append(f"{e}; not imported")
        return
    result.referenced.add(rel)
    label_file = _label_file(root, rel)
    try:
        w, h = image_size(image, rel)
    except (FormatProblem, LabelerError) as e:
        result.problems.append(str(e))
        return
    if label_file is None:
        # Listed: a background image. Found by the walk: not (yet) annotated.
        result.records.append(ImportRecord(rel, w, h, (), split, rel, annotated=not walked))
        return
    try:
        shapes = _read_labels(root, label_file, names, w, h, result)
    except FormatProblem as e:  # refused, so not "no shapes"
        result.problems.append(f"{e}; {rel} not imported")
        return
    result.records.append(ImportRecord(rel, w, h, tuple(shapes), split, display(root, label_file)))


def _label_file(root: Path, rel: str) -> Path | None:
    """The image's ``.txt`` beside it, else in the ``labels/`` folder mirroring ``images/``."""
    beside = root / str(PurePosixPath(rel).with_suffix(".txt"))
    mirrored = root / label_path(rel)
    for path in (beside, mirrored):
        if os.path.lexists(path) and not path.is_dir():
            return path
    return None
