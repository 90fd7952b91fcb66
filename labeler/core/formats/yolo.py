"""YOLO in the Ultralytics layout.

Layout written::

    data.yaml
    images/<split>/<file_name>
    labels/<split>/<file_name without extension>.txt

Each label line is ``cls cx cy w h`` (detect mode) or ``cls x1 y1 x2 y2 ...`` (segment
mode), normalised to 0..1 with 6 decimals, ``cls`` the 0-based position in the class
list. One file never mixes the two: in detect mode a polygon is written as its bounding
box; in segment mode a box is written as its 4-corner polygon. The ``yolo`` format picks
segment mode when the export has any polygon and detect mode otherwise; ``yolo-detect``
and ``yolo-segment`` force one. A multi-part instance is one line: the box around its
parts, or one outline joining them by zero-width bridges (Ultralytics' own COCO
conversion of a multi-polygon instance; read back, it is one polygon). Points are clamped into the image (Ultralytics drops
labels outside 0..1). An image with no shapes gets an empty label file: a background
image. Tags are not written.

``data.yaml`` has no ``path:``: Ultralytics then resolves ``train: images/train`` (etc.)
against the folder of ``data.yaml``, so a copied or moved export trains on its own
images (ADR 0020). ``train:`` and ``val:`` are always written, as Ultralytics requires
both keys; an empty one names an empty folder that the export creates, and the file and
the report say so (Ultralytics trains only once ``val`` holds images). ``test:`` is
written when the test split has images.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    FormatProblem,
    decode_text,
    display,
    image_files,
    image_size,
    inside,
    read_dataset_text,
    shown,
    write_text,
    write_texts,
)
from labeler.core.formats.base import Placed, as_box, in_image_shapes, no_area_note
from labeler.core.formats.model import SPLITS, ExportItem, ImportedShape, ImportRecord, ImportResult
from labeler.core.images import is_image_path
from labeler.core.shapes import Shape, bridged_outline, instances, union_bbox


class YoloExporter:
    """``mode`` is "auto", "detect" or "segment"; auto is decided once per export."""

    importer = "yolo"
    # Half a unit in the 6th decimal of a 100k-pixel side is still only 0.05 px.
    tolerance_px = 0.05

    def __init__(self, name: str, mode: str) -> None:
        if mode not in ("auto", "detect", "segment"):
            raise LabelerError(f"unknown YOLO mode {mode!r}")
        self.name = name
        self.mode = mode

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        clip = [tuple(in_image_shapes(it)) for it in items]
        segment = _segment_mode(self.mode, clip)
        return [
            Placed(it, f"images/{it.split}/{it.file_name}", _converted(shapes, segment))
            for it, shapes in zip(items, clip, strict=True)
        ]

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        index = {cid: i for i, (cid, _) in enumerate(classes)}
        labels = []
        for p in placed:
            w, h = p.item.width, p.item.height
            lines = [_line(s, index[s.class_id], w, h) for s in p.shapes]
            labels.append((label_path(p.path), "".join(line + "\n" for line in lines)))
        write_texts(root, labels)
        files = [rel for rel, _ in labels]
        empty = _empty_splits(placed)
        for split in REQUIRED_SPLITS:
            if split in empty:  # the key must name a folder that exists
                (root / "images" / split).mkdir(parents=True, exist_ok=True)
        write_text(root / "data.yaml", _data_yaml(empty, classes))
        files.append("data.yaml")
        return files

    def notes(self, placed: Sequence[Placed]) -> list[str]:
        """What the export report should say about this layout: each empty split."""
        empty = [_empty_note(split) for split in _empty_splits(placed)]
        return empty + _merged_note(placed) + no_area_note(self.name, placed)


# Ultralytics' check_det_dataset refuses a data.yaml without these keys.
REQUIRED_SPLITS = ("train", "val")


def _empty_splits(placed: Sequence[Placed]) -> list[str]:
    used = {p.item.split for p in placed}
    return [s for s in SPLITS if s not in used]


def _empty_note(split: str) -> str:
    if split == "test":
        return "the test split is empty: data.yaml has no test: key"
    return (
        f"the {split} split is empty: data.yaml's {split}: names the empty images/{split}"
        f" folder; Ultralytics accepts the file but trains only once {split} holds images"
        " (split again with a share for it)"
    )


def _segment_mode(mode: str, shapes: Sequence[Sequence[Shape]]) -> bool:
    if mode != "auto":
        return mode == "segment"
    return any(s.kind == "polygon" for group in shapes for s in group)


def _as_polygon(s: Shape) -> Shape:
    if s.kind != "box":
        return s
    (x1, y1), (x2, y2) = s.points
    return Shape.polygon(s.class_id, [(x1, y1), (x2, y1), (x2, y2), (x1, y2)])


def label_path(image_path: str) -> str:
    """Ultralytics' rule: the last ``images`` folder becomes ``labels``, suffix ``.txt``."""
    folder, _, name = image_path.rpartition("/")
    if image_path.startswith("/") or name in ("", ".", ".."):  # not an image's own path
        parts = list(PurePosixPath(image_path).with_suffix(".txt").parts)
    else:  # the same without a PurePath per label file (an export asks for thousands)
        dot = name.rfind(".")
        stem = name[:dot] if 0 < dot < len(name) - 1 else name  # PurePath's suffix rule
        parts = [*(p for p in folder.split("/") if p and p != "."), stem + ".txt"]
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return "/".join(parts)


def _line(s: Shape, index: int, w: int, h: int) -> str:
    if s.kind == "box":
        (x1, y1), (x2, y2) = s.points
        # One format for the four numbers of a box (the general join cost twice as much).
        return (
            f"{index} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f}"
            f" {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
        )
    else:
        vals = tuple(v / d for x, y in s.points for v, d in ((x, w), (y, h)))
    return " ".join([str(index), *(f"{v:.6f}" for v in vals)])


def _data_yaml(empty: Sequence[str], classes: Sequence[tuple[int, str]]) -> str:
    lines = [
        "# Written by Labeler. No `path:` on purpose: Ultralytics resolves the split folders",
        "# below against the folder of this file, so a copied or moved export reads its own",
        "# images (add `path:` only to point at the images somewhere else).",
    ]
    for split in SPLITS:
        if split in empty and split not in REQUIRED_SPLITS:
            continue
        if split in empty:
            lines.append(f"# {split}: no image is in the {split} split; the folder is empty.")
        lines.append(f"{split}: images/{split}")
    lines.append(f"nc: {len(classes)}")
    lines.append("names:")
    lines += [
        f"  {i}: {json.dumps(name, ensure_ascii=False)}" for i, (_, name) in enumerate(classes)
    ]
    return "\n".join(lines) + "\n"


def _converted(shapes: Sequence[Shape], segment: bool) -> tuple[Shape, ...]:
    """One shape per instance, as one label line holds: a multi-part instance
    (`Shape.group`) becomes the box around its parts (detect) or one outline that joins
    its parts by zero-width bridges (segment), as Ultralytics' COCO converter writes a
    multi-polygon instance; the result keeps the group number for the report's note."""
    out = []
    for parts in instances(shapes):
        if len(parts) == 1:
            s = parts[0]
            out.append(_as_polygon(s) if segment else as_box(s))
        elif segment:
            outline = bridged_outline([_as_polygon(s).points for s in parts])
            out.append(Shape.polygon(parts[0].class_id, outline, group=parts[0].group))
        else:
            x1, y1, x2, y2 = union_bbox(parts)
            out.append(Shape.box(parts[0].class_id, x1, y1, x2, y2, group=parts[0].group))
    return tuple(out)


def _merged_note(placed: Sequence[Placed]) -> list[str]:
    n = sum(1 for p in placed for s in p.shapes if s.group is not None)
    if not n:
        return []
    return [
        f"{n} multi-part instance(s) written as one label line each (detect: the box around"
        " the parts; segment: the parts joined by zero-width bridges, as Ultralytics joins a"
        " COCO multi-polygon instance)"
    ]


class YoloImporter:
    """Reads a dataset described by ``data.yaml`` (or the first ``*.yaml`` at the root).

    Split entries may be a folder or a list of folders; a ``.txt`` list of images is
    reported as unsupported. Folders are resolved next to the YAML file first, then under
    ``path``, then, as Ultralytics does for Roboflow's ``../train/images``, without a
    leading ``../``; a folder outside the dataset root is refused, and a folder listed for
    two splits is read once, for the first. A label line with 5 values is a box, with an
    odd number of 7 or more a polygon; anything else is reported with its line number. An
    image with no label file has no shapes (a background image); an image whose label file
    is refused (a link out of the dataset, not a regular file, over 16 MiB, not UTF-8) is
    reported and not imported, rather than imported as a background image. The split
    folders are the dataset: an image outside them is reported, not imported.
    """

    name = "yolo"

    def detect(self, root: Path) -> bool:
        return _yaml_file(root) is not None and _has_labels(root)

    def describe(self, root: Path) -> str:
        path = _yaml_file(root)
        return f"{display(root, path)} and a labels folder" if path and _has_labels(root) else ""

    def missing(self, root: Path) -> str | None:
        return None if _yaml_file(root) else f"no data.yaml (nor any *.yaml) in {root}"

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        yaml_path = _yaml_file(root)
        if yaml_path is None:
            result.problems.append(f"{root}: no data.yaml found")
            return result
        label = display(root, yaml_path)
        try:
            data = read_yaml(read_dataset_text(root, yaml_path, label), label)
            names = _names(data, label, result)
        except FormatProblem as e:
            result.problems.append(str(e))
            return result
        for name in names:
            if name is not None:
                result.add_class(name)
        for split, folder in _distinct_split_folders(root, yaml_path, data, label, result):
            _read_folder(root, folder, split, names, result)
        return result

    def read_written(
        self, root: Path, files: Mapping[str, bytes], sizes: Mapping[str, tuple[int, int]]
    ) -> ImportResult:
        """`read` of an export just written and read back (the check after export, ADR
        0096): ``data.yaml`` and the label files are parsed as `read` parses them, from
        ``files`` (their bytes as read back, by path below ``root``), and each image of
        ``sizes`` (its path and its size, which the export compared with the header of the
        file it wrote) is a record of the split whose folder holds it, as listing the
        folders would find it. What the folders hold
        beside these, the caller's listing of the export finds. An image outside every
        split folder is not read back, as `read` would not find it."""
        result = ImportResult()
        label = "data.yaml"
        if label not in files:
            result.problems.append(f"{root}: no data.yaml read back")
            return result
        try:
            data = read_yaml(decode_text(files[label], label), label)
            names = _names(data, label, result)
        except FormatProblem as e:
            result.problems.append(str(e))
            return result
        for name in names:
            if name is not None:
                result.add_class(name)
        folders: list[tuple[str, str]] = []  # (folder below root, POSIX, with "/"; split)
        for split, folder in _distinct_split_folders(root, root / label, data, label, result):
            rel = inside(root, folder)
            folders.append(("" if rel == "." else rel + "/", split))
        for rel, (w, h) in sizes.items():
            split = next((s for f, s in folders if rel.startswith(f)), None)
            if split is None or not is_image_path(rel):
                continue
            label_rel = label_path(rel)
            text = files.get(label_rel)
            shapes: list[ImportedShape] = []
            if text is not None:
                try:
                    shapes = _parse_labels(
                        decode_text(text, label_rel), label_rel, names, w, h, result
                    )
                except FormatProblem as e:
                    result.problems.append(f"{e}; {rel} not imported")
                    continue
            result.records.append(ImportRecord(rel, w, h, tuple(shapes), split, label_rel))
        return result


MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 100_000  # counted with every alias expanded


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader (plain data only, no tags that build objects) that refuses a
    document with more than `MAX_YAML_ALIASES` aliases or nested deeper than
    `MAX_YAML_DEPTH`: an alias is a reference that the loader shares, but every walk over
    the data expands it, so nine levels of ten aliases ("billion laughs") make 10**9 items
    out of a few hundred bytes. Real ``data.yaml`` files use a handful, if any. `read_yaml`
    also counts the nodes with every alias expanded, which 90 aliases can already blow up."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(
                    problem=f"more than {MAX_YAML_ALIASES} aliases (*name), refused",
                    problem_mark=mark,
                )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise RecursionError  # said as for JSON: "nested too deeply"
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_yaml(text: str, label: str) -> dict[str, Any]:
    """A ``data.yaml`` read as Ultralytics reads it (PyYAML, safe: no object is built),
    with aliases and nesting capped; errors are one line that names ``label`` and the line.

    >>> read_yaml("path: ../d  # root\ntrain: images/train\nnames:\n  0: cat\n", "d")
    {'path': '../d', 'train': 'images/train', 'names': {0: 'cat'}}
    """
    loader = _GuardedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}, set()) > MAX_YAML_NODES:
            raise FormatProblem(
                f"{label}: over {MAX_YAML_NODES:,} values once its aliases are expanded, refused"
            )
        doc = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        what = " ".join(str(e.problem or e.context or "not valid YAML").split())
        raise FormatProblem(f"{label}: {where}{what}") from None
    except yaml.YAMLError as e:
        raise FormatProblem(f"{label}: not valid YAML ({' '.join(str(e).split())[:200]})") from None
    except RecursionError:
        raise FormatProblem(f"{label}: nested too deeply") from None  # as for JSON
    except ValueError as e:  # an integer of more than 4,300 digits
        raise FormatProblem(f"{label}: {str(e).split(':')[0]}") from None
    finally:
        loader.dispose()
    if not isinstance(doc, dict):
        raise FormatProblem(f"{label}: expected a mapping of keys (names:, train:, ...)")
    return doc


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values ``node`` makes with every alias expanded (memoised, so the walk is
    as long as the document); a node that contains itself counts as too many."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        return MAX_YAML_NODES + 1
    open_.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, sizes, open_)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, sizes, open_) + _expanded_size(v, sizes, open_)
    open_.discard(key)
    sizes[key] = total = min(total, MAX_YAML_NODES + 1)
    return total


def _yaml_file(root: Path) -> Path | None:
    if (root / "data.yaml").is_file():
        return root / "data.yaml"
    found = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    return found[0] if found else None


def _has_labels(root: Path) -> bool:
    """A ``labels`` folder at the root, or one folder down (Roboflow's train/labels)."""
    return (root / "labels").is_dir() or any(p.is_dir() for p in root.glob("*/labels"))


def _names(data: dict, label: str, result: ImportResult) -> list[str | None]:
    """The class names by index. A name that is not text (null, a list) is reported and
    its index left unusable; indices may be ints or digit strings (a JSON data.yaml)."""
    names = data.get("names")
    if isinstance(names, list):
        values = list(names)
    elif isinstance(names, dict):
        keys = {}
        for key in names:
            index = key if isinstance(key, int) and not isinstance(key, bool) else None
            if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) < 10:
                index = int(key)
            if index is None or index in keys:
                raise FormatProblem(
                    f"{label}: names: key {shown(key)} is not a class index (0, 1, 2, ...)"
                )
            keys[index] = names[key]
        if sorted(keys) != list(range(len(keys))):
            raise FormatProblem(f"{label}: names: expected indices 0..{len(keys) - 1}")
        values = [keys[i] for i in range(len(keys))]
    else:
        raise FormatProblem(f"{label}: names: expected a list or an index-to-name mapping")
    out: list[str | None] = []
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            name = str(value)
        else:
            result.problems.append(
                f"{label}: names[{i}]: expected a name, got {shown(value)}; its labels are skipped"
            )
            out.append(None)
            continue
        if name in first:
            result.problems.append(
                f"{label}: names[{i}]: {shown(name)} is names[{first[name]}] too; their labels"
                " share one class"
            )
        first.setdefault(name, i)
        out.append(name)
    return out


def _distinct_split_folders(
    root: Path, yaml_path: Path, data: dict, label: str, result: ImportResult
) -> Iterator[tuple[str, Path]]:
    """(split, folder) for every split's folders, each folder once: one that a later split
    names again is reported and its images stay with the first split."""
    seen: dict[str, str] = {}
    for split in SPLITS:
        for folder in _split_folders(root, yaml_path, data, split, label, result):
            key = os.path.realpath(folder)
            if key in seen:
                result.problems.append(
                    f"{label}: {split}: folder {display(root, folder)} is {seen[key]}'s"
                    f" too; its images are imported once, as {seen[key]}"
                )
                continue
            seen[key] = split
            yield split, folder


def _split_folders(
    root: Path, yaml_path: Path, data: dict, split: str, label: str, result: ImportResult
) -> list[Path]:
    entry = data.get(split)
    if entry is None:
        return []
    entries = entry if isinstance(entry, list) else [entry]
    bases = [yaml_path.parent]
    if isinstance(data.get("path"), str) and data["path"]:
        bases.append(yaml_path.parent / data["path"])  # an absolute path replaces the parent
    folders = []
    for value in entries:
        if not isinstance(value, str) or not value or value.endswith(".txt"):
            result.problems.append(f"{label}: {split}: only image folders are supported")
            continue
        tries = [value] + ([value[3:]] if value.startswith("../") else [])
        found = [b / v for v in tries for b in bases if os.path.isdir(b / v)]
        if not found:
            result.problems.append(f"{label}: {split}: folder {shown(value)} not found")
            continue
        contained = [f for f in found if _contained(root, f)]
        if not contained:
            result.problems.append(
                f"{label}: {split}: folder {shown(value)} is outside the dataset"
            )
            continue
        folders.append(contained[0])
    return folders


def _contained(root: Path, folder: Path) -> bool:
    try:
        inside(root, folder)
        return True
    except FormatProblem:
        return False


def _read_folder(
    root: Path, folder: Path, split: str, names: list[str | None], result: ImportResult
) -> None:
    for image in image_files(root, folder, result.problems):
        try:
            rel = inside(root, image)
        except FormatProblem as e:
            result.problems.append(f"{e}; not imported")
            result.referenced.add(image.relative_to(root).as_posix())
            continue
        result.referenced.add(rel)
        try:
            w, h = image_size(image, rel)
        except (FormatProblem, LabelerError) as e:
            result.problems.append(str(e))
            continue
        label_file = root / label_path(rel)
        try:
            shapes = (
                _read_labels(root, label_file, names, w, h, result)
                if os.path.lexists(label_file)
                else []
            )
        except FormatProblem as e:  # not "no shapes": that would mark it a background image
            result.problems.append(f"{e}; {rel} not imported")
            continue
        result.records.append(
            ImportRecord(rel, w, h, tuple(shapes), split, display(root, label_file))
        )


def _read_labels(
    root: Path, path: Path, names: list[str | None], w: int, h: int, result: ImportResult
) -> list[ImportedShape]:
    label = display(root, path)
    return _parse_labels(read_dataset_text(root, path, label), label, names, w, h, result)


def _parse_labels(
    text: str, label: str, names: list[str | None], w: int, h: int, result: ImportResult
) -> list[ImportedShape]:
    """The shapes of one label file's text; a bad line is reported with its number."""
    shapes = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            shapes.append(_parse_line(line.split(), names, w, h))
        except (FormatProblem, LabelerError) as e:
            result.problems.append(f"{label}: line {lineno}: {e}")
    return shapes


def _parse_line(tokens: list[str], names: list[str | None], w: int, h: int) -> ImportedShape:
    n = len(tokens) - 1
    if not (n == 4 or (n >= 6 and n % 2 == 0)):
        raise FormatProblem(
            f"expected a class and 4 numbers (box) or 6 or more (polygon), got {n} numbers"
        )
    cls = tokens[0]
    index = int(cls) if cls.isascii() and cls.isdigit() and len(cls) < 10 else len(names)
    if index >= len(names):
        raise FormatProblem(
            f"class {shown(cls, 20)} is not an index into names (0..{len(names) - 1})"
        )
    name = names[index]
    if name is None:
        raise FormatProblem(f"class {index} has no usable name in the YAML file")
    if n == 4:  # a box: the common line, without the general loops
        try:
            cx, cy, bw, bh = float(tokens[1]), float(tokens[2]), float(tokens[3]), float(tokens[4])
        except ValueError:
            raise FormatProblem("coordinates must be numbers") from None
        if not (
            -0.001 <= cx <= 1.001
            and -0.001 <= cy <= 1.001
            and -0.001 <= bw <= 1.001
            and -0.001 <= bh <= 1.001
        ):
            raise FormatProblem("coordinates must be normalised to 0..1")
        return ImportedShape(
            name,
            "box",
            (((cx - bw / 2) * w, (cy - bh / 2) * h), ((cx + bw / 2) * w, (cy + bh / 2) * h)),
        )
    try:
        vals = [float(t) for t in tokens[1:]]
    except ValueError:
        raise FormatProblem("coordinates must be numbers") from None
    if any(not (-0.001 <= v <= 1.001) for v in vals):
        raise FormatProblem("coordinates must be normalised to 0..1")
    pts = tuple((vals[i] * w, vals[i + 1] * h) for i in range(0, n, 2))
    return ImportedShape(name, "polygon", pts)
