"""Adversarial imports, one family per annotation format (issue 13).

Hypothesis builds a small valid dataset in each format (the layouts of
``test_formats_import.py``: three real PNGs, an annotation per shape, each good shape of its
own class) and then breaks it the way files from other people arrive broken: values of the
wrong type, keys missing, huge, negative, NaN and infinite numbers, integers of thousands of
digits, JSON nested 100,000 deep, unicode and control characters, names a class cannot hold,
duplicated records, short and over-long CSV rows, text in another encoding, files cut short.
The dataset goes through the real command line, ``labeler import P DS --format F --json``,
and the invariants are checked, not examples:

- the command exits 0 or 1, never with "unexpected"; on 1 it prints one line on stderr and
  the project is unchanged;
- on 0 the project holds exactly what the report says (images, shapes), every shape the
  generator left intact is in it, nothing it holds was invented (at most one shape per
  record), and every problem is one line;
- every image file of the dataset is imported, listed in ``not_imported``, or named by a
  problem: none is left out in silence.

Each family runs ``EXAMPLES`` cases (the README's "Adversarial tests" and the issue note
give the counts and what they found). The oracle for "intact" is the generator's own
bookkeeping plus the standard library's XML parser for well-formedness, never our code.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from labeler.cli import main
from labeler.core.formats.csvfmt import COLUMNS as CSV_COLUMNS

EXAMPLES = int(os.environ.get("LABELER_FUZZ_EXAMPLES", "60"))
"""Cases per family; ``LABELER_FUZZ_EXAMPLES=2000`` for a longer hunt."""
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
W, H = 40, 30
N_IMAGES = 3


def _png_bytes(i: int) -> bytes:
    img = np.full((H, W, 3), 40 + 50 * i, np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


PNGS = [_png_bytes(i) for i in range(N_IMAGES + 2)]

# Values that replace a good one. Sentinels stand for what json.dumps cannot write.
DEEP, BIGINT = "\x00DEEP\x00", "\x00BIGINT\x00"
ODD_JSON = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            -(2**63),
            10**30,
            1e308,
            float("nan"),
            float("inf"),
            float("-inf"),
            "",
            " ",
            "\n",
            "tv/monitor",
            "a" * 101,
            "\ud800",
            "x\x00y",
            "../../etc/passwd",
            "/etc/passwd",
            "C:\\x.png",
            [],
            {},
            [[1, 2]],
            [1, 2, 3],
            {"a": 1},
            DEEP,
            BIGINT,
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-5, 50), st.floats()), max_size=7),
)
ODD_TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "-5",
            "0",
            "x",
            "1,2",
            "²",
            "٣",
            "0x1f",
            "1" * 5000,
            "tv/monitor",
            "a" * 101,
            "train",
            "bogus",
            "[[1,2],[3,4],[5,6]]",
            "[[1,2]]",
            "[" * 3000,
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
)


def _dumps(doc: object) -> tuple[str, bool]:
    """JSON text, and False when it holds what makes the whole file unreadable (nesting
    100,000 deep, a 5,000-digit integer): no record of that file is intact then."""
    text = json.dumps(doc)
    odd = json.dumps(DEEP) in text or json.dumps(BIGINT) in text
    text = text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000)
    return text.replace(json.dumps(BIGINT), "7" * 5000), not odd


def _one_in(draw, n: int) -> bool:
    """True one time in ``n``, on the largest draw: hypothesis shrinks towards 0, so its
    minimal examples are the intact ones."""
    return draw(st.integers(0, n - 1)) == n - 1


# -- a dataset and what the generator knows about it --------------------------------------
@dataclass
class Case:
    """Files to write, and the oracle: the (image, class) pairs left intact, and how many
    records (shapes) the files hold in all."""

    files: dict[str, bytes] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    good: set[tuple[str, str]] = field(default_factory=set)
    records: int = 0


def _box(k: int) -> tuple[float, float, float, float]:
    return (1.0 + k % 7, 2.0 + k % 5, 20.0 + k % 9, 25.0 - k % 4)


@st.composite
def _file_mutation(draw, data: bytes) -> tuple[bytes, bool]:
    """The file's bytes, perhaps broken as a whole; True when it is still intact."""
    how = draw(st.sampled_from(["none"] * 8 + ["utf16", "bom", "cut", "latin1", "junk"]))
    if how == "utf16":
        return data.decode("utf-8").encode("utf-16"), True  # accepted: UTF-16 with a BOM
    if how == "bom":
        return b"\xef\xbb\xbf" + data, True
    if how == "cut":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))], False
    if how == "latin1":
        return data + "\n\xe9".encode("latin-1"), False
    if how == "junk":
        return draw(st.binary(max_size=64)), False
    return data, True


# -- the invariant ------------------------------------------------------------------------
def _content(proj: Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    con = sqlite3.connect(f"file:{proj}?mode=ro", uri=True)
    try:
        images = sorted(r[0] for r in con.execute("SELECT path FROM images"))
        shapes = sorted(
            con.execute(
                "SELECT i.path, c.name, s.kind FROM shapes s JOIN images i ON i.id = s.image_id"
                " JOIN classes c ON c.id = s.class_id"
            ).fetchall()
        )
    finally:
        con.close()
    return images, shapes


def _cli(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _plant(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(path.parent / "gone")


def check_import(
    case: Case, fmt: str, as_text: bool = False, plant: dict[str, str] | None = None
) -> dict | None:
    """Write ``case`` (and ``plant``: path to "fifo", "folder" or "broken link"), import it
    through the command line and assert the invariants; returns the JSON report (None on a
    refusal or in text mode)."""
    with tempfile.TemporaryDirectory() as tmp:
        ds, proj = Path(tmp) / "ds", Path(tmp) / "p.labeler"
        for i, rel in enumerate(case.images):
            (ds / rel).parent.mkdir(parents=True, exist_ok=True)
            (ds / rel).write_bytes(PNGS[i])
        for rel, data in case.files.items():
            (ds / rel).parent.mkdir(parents=True, exist_ok=True)
            (ds / rel).write_bytes(data)
        for rel, kind in (plant or {}).items():
            _plant(ds / rel, kind)
        assert _cli("init", proj)[0] == 0
        before = _content(proj)
        code, out, err = _cli("import", proj, ds, "--format", fmt, *([] if as_text else ["--json"]))
        assert code in (0, 1), err
        assert "unexpected" not in err and "Traceback" not in err, err
        if code == 1:
            assert out == "" and err.startswith("labeler: error: ") and err.count("\n") == 1
            assert _content(proj) == before
            return None
        assert err == ""
        images, shapes = _content(proj)
        rel = {p: Path(p).relative_to("ds").as_posix() for p in images}
        # Class names are compared ignoring (ASCII) case, as the project does: "GOOD1" and
        # "good1" are one class, reported.
        have = {(rel[p], c.lower()) for p, c, _ in shapes}
        want = {(p, c.lower()) for p, c in case.good}
        assert want <= have, f"intact shapes missing: {sorted(want - have)}"
        assert len(shapes) <= case.records
        if as_text:
            assert out.count("\n") >= 1
            return None
        report = json.loads(out)
        assert report["format"] == fmt and report["detection"]["format"] == fmt
        assert report["images_added"] == len(images)
        assert report["shapes_added"] == len(shapes)
        for line in report["problems"]:
            assert "\n" not in line and "\r" not in line, line
        left_out = {e["path"] for e in report["not_imported"]}
        for image in case.images:
            assert (
                image in rel.values()
                or image in left_out
                or any(image in line for line in report["problems"])
            ), f"{image} left out in silence: {report}"
        return report


# -- COCO ---------------------------------------------------------------------------------
COCO_ANN_KEYS = ["image_id", "category_id", "bbox", "segmentation", "iscrowd", "*entry*"]
COCO_IMG_KEYS = ["id", "file_name", "width", "height", "*entry*"]


@st.composite
def coco_case(draw) -> Case:
    case = Case(images=[f"images/train/img{i}.png" for i in range(N_IMAGES)])
    images = [
        {"id": i + 1, "file_name": f"img{i}.png", "width": W, "height": H} for i in range(N_IMAGES)
    ]
    broken_images: set[int] = set()
    for i in draw(st.sets(st.integers(0, N_IMAGES - 1), max_size=2)):
        key = draw(st.sampled_from(COCO_IMG_KEYS))
        if key == "*entry*":
            images[i] = draw(ODD_JSON)
        elif draw(st.booleans()):
            images[i].pop(key)
        else:
            images[i][key] = draw(ODD_JSON)
        broken_images.add(i + 1)
        if key in ("id", "*entry*"):  # ids may now collide: which image is which is moot
            broken_images |= set(range(1, N_IMAGES + 1))
    if draw(st.booleans()):  # the same image twice: its shapes are merged
        images.append(dict(images[0], id=99) if isinstance(images[0], dict) else images[0])
    n = draw(st.integers(1, 6))
    categories, annotations = [], []
    for k in range(n):
        image_id = 1 + k % N_IMAGES
        categories.append({"id": 100 + k, "name": f"good{k}"})
        x1, y1, x2, y2 = _box(k)
        ann = {"id": k, "image_id": image_id, "category_id": 100 + k, "iscrowd": 0}
        if k % 2:
            ann["segmentation"] = [[x1, y1, x2, y1, x2, y2, x1, y2]]
        ann["bbox"] = [x1, y1, x2 - x1, y2 - y1]
        intact = image_id not in broken_images
        if _one_in(draw, 3):
            key = draw(st.sampled_from(COCO_ANN_KEYS))
            if key == "*entry*":
                ann = draw(ODD_JSON)
            elif draw(st.booleans()):
                ann.pop(key, None)
                intact = intact and key in ("iscrowd", "segmentation")
            else:
                ann[key] = draw(ODD_JSON)
            intact = intact and key == "*none*"
        if _one_in(draw, 10):  # a category spelled otherwise
            categories[-1]["name"] = draw(
                st.sampled_from(["Good0", "GOOD1", "", "a\nb", "x" * 101])
            )
            intact = False
        annotations.append(ann)
        if intact:
            case.good.add((f"images/train/img{image_id - 1}.png", f"good{k}"))
    doc: object = {"images": images, "annotations": annotations, "categories": categories}
    top = draw(st.sampled_from([None] * 6 + ["images", "annotations", "categories", "*doc*"]))
    if top == "*doc*":
        doc = draw(ODD_JSON)
    elif top is not None:
        doc[top] = draw(ODD_JSON)  # type: ignore[index]
    if top is not None:
        case.good.clear()
    text, readable = _dumps(doc)
    data, intact = draw(_file_mutation(text.encode()))
    if not (intact and readable):
        case.good.clear()
    case.files["annotations/instances_train.json"] = data
    case.records = n + 1  # a polygon of a duplicated image may count once more
    return case


@SETTINGS
@given(case=coco_case(), as_text=st.booleans())
def test_fuzz_coco(case, as_text):
    check_import(case, "coco", as_text and len(case.good) % 4 == 0)


# -- labelme ------------------------------------------------------------------------------
@st.composite
def labelme_case(draw) -> Case:
    case = Case(images=[f"img{i}.png" for i in range(N_IMAGES)])
    k = 0
    for i in range(N_IMAGES - 1):  # the last image has no JSON: imported without shapes
        shapes, intact_shapes = [], []
        for _ in range(draw(st.integers(0, 3))):
            x1, y1, x2, y2 = _box(k)
            if k % 2:
                shape = {"label": f"good{k}", "points": [[x1, y1], [x2, y2]]}
                shape["shape_type"] = "rectangle"
            else:
                pts = [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]
                shape = {"label": f"good{k}", "points": pts, "shape_type": "polygon"}
            if draw(st.booleans()):  # any group_id: an odd one is reported, the shape kept
                shape["group_id"] = draw(st.one_of(st.integers(0, 2), ODD_JSON))
            intact = True
            if _one_in(draw, 3):
                key = draw(st.sampled_from(["label", "points", "shape_type", "*entry*"]))
                if key == "*entry*":
                    shape = draw(ODD_JSON)
                elif draw(st.booleans()):
                    shape.pop(key)
                    intact = key == "shape_type" and k % 2 == 0  # polygon is the default
                else:
                    shape[key] = draw(ODD_JSON)
                intact = intact and key == "shape_type" and shape.get("shape_type") == "polygon"
            shapes.append(shape)
            if intact:
                intact_shapes.append(f"good{k}")
            k += 1
        doc: dict = {
            "version": "5.4.1",
            "flags": {},
            "imagePath": "../img1.png" if i == 1 else f"img{i}.png",
            "imageData": None,
            "imageWidth": W,
            "imageHeight": H,
            "shapes": shapes,
        }
        file_ok = True
        if _one_in(draw, 4):
            key = draw(
                st.sampled_from(["flags", "imagePath", "imageWidth", "imageHeight", "shapes"])
            )
            doc[key] = draw(ODD_JSON)
            file_ok = key == "flags" and doc[key] in ({}, None, [], "", 0, False)
            if key == "flags" and isinstance(doc[key], dict):
                file_ok = True  # flag names are tags; odd ones are reported as class names
        text, readable = _dumps(doc)
        data, intact = draw(_file_mutation(text.encode()))
        intact = intact and readable
        case.files[f"ann/img{i}.json" if i == 1 else f"img{i}.json"] = data
        flags = doc["flags"] if isinstance(doc["flags"], dict) else {}
        case.records += len(shapes) + len(flags)
        if file_ok and intact:
            case.good |= {(f"img{i}.png", name) for name in intact_shapes}
    if draw(st.booleans()):  # a second JSON for img0: merged, never dropped
        extra = {"imagePath": "img0.png", "imageWidth": W, "imageHeight": H, "flags": {}}
        extra["shapes"] = [
            {"label": "extra", "points": [[1, 1], [9, 9]], "shape_type": "rectangle"}
        ]
        case.files["copy/img0.json"] = json.dumps(extra).replace("img0.png", "../img0.png").encode()
        case.records += 1
        case.good.add(("img0.png", "extra"))
    return case


@SETTINGS
@given(case=labelme_case(), as_text=st.booleans())
def test_fuzz_labelme(case, as_text):
    report = check_import(case, "labelme", as_text and len(case.good) % 4 == 0)
    if report is not None:
        assert "img2.png" in report["unannotated"]


# -- YOLO ---------------------------------------------------------------------------------
ODD_NAMES = st.sampled_from(
    [
        "names: {0: good0, '1': good1, 2: good2, 3: good3, 4: good4, 5: good5}",
        "names: {0: good0, one: good1}",
        "names: [good0, null, good2, good3, good4, good5]",
        "names: [good0, good0, good2, good3, good4, good5]",
        "names: good0",
        "names:",
        "names: [[nested]]",
        '{"names": {"0": "good0", "1": "good1", "2": "good2", "3": "good3", "4": "good4", "5": "good5"}}',
        '{"names": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "names: &a [x]",
        "names: [tv/monitor, 'a:b', what?, good3, good4, good5]",
    ]
)


@st.composite
def yolo_case(draw) -> Case:
    case = Case(images=[f"images/train/img{i}.png" for i in range(N_IMAGES)])
    names = ", ".join(f"good{k}" for k in range(6))
    yaml = f"train: images/train\nnames: [{names}]\n"
    yaml_ok = True
    if _one_in(draw, 5):
        names_line = draw(ODD_NAMES)
        yaml = (
            names_line + "\n"
            if names_line.startswith("{")
            else f"train: images/train\n{names_line}\n"
        )
        yaml_ok = False
    case.files["data.yaml"] = yaml.encode()
    for i in range(N_IMAGES):
        lines, intact_lines = [], []
        for _ in range(draw(st.integers(0, 3))):
            k = draw(st.integers(0, 5))
            x1, y1, x2, y2 = _box(k)
            cx, cy, bw, bh = (x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H
            tokens = [str(k), f"{cx:.6f}", f"{cy:.6f}", f"{bw:.6f}", f"{bh:.6f}"]
            intact = True
            how = draw(st.integers(0, 5))
            if how == 5:
                tokens[draw(st.integers(0, 4))] = draw(ODD_TEXT).replace("\n", " ") or "x"
                intact = False
            elif how == 4:
                tokens = tokens[: draw(st.integers(0, 4))] + draw(st.lists(ODD_TEXT, max_size=3))
                intact = False
            line = " ".join(t.replace("\n", " ") for t in tokens)
            lines.append(line)
            if intact:
                intact_lines.append(f"good{k}")
        data, file_ok = draw(_file_mutation(("\n".join(lines) + "\n").encode()))
        if not _one_in(draw, 7) or i == 0:
            case.files[f"labels/train/img{i}.txt"] = data
        else:
            file_ok = True  # no label file: a background image
            intact_lines = []
        case.records += len(lines)
        if file_ok and yaml_ok:
            case.good |= {(f"images/train/img{i}.png", n) for n in intact_lines}
    if draw(st.booleans()):
        case.images.append("stray/img3.png")  # outside the split folders: listed
    return case


@SETTINGS
@given(case=yolo_case(), as_text=st.booleans())
def test_fuzz_yolo(case, as_text):
    report = check_import(case, "yolo", as_text and len(case.good) % 4 == 0)
    if report is not None and "stray/img3.png" in case.images:
        assert {
            "path": "stray/img3.png",
            "reason": "no annotation file of the dataset names it",
        } in (report["not_imported"])


# -- Pascal VOC ---------------------------------------------------------------------------
def _well_formed(data: bytes) -> bool:
    try:
        ET.fromstring(data)
        return True
    except ET.ParseError:
        return False


@st.composite
def voc_case(draw) -> Case:
    case = Case(images=[f"JPEGImages/img{i}.png" for i in range(N_IMAGES)])
    k = 0
    for i in range(N_IMAGES - 1):  # the last has no XML: imported without shapes
        root = ET.Element("annotation")
        ET.SubElement(root, "filename").text = f"img{i}.png"
        size = ET.SubElement(root, "size")
        for tag, value in (("width", W), ("height", H), ("depth", 3)):
            ET.SubElement(size, tag).text = str(value)
        file_ok = True
        if _one_in(draw, 5):
            tag = draw(st.sampled_from(["filename", "size/width", "size/height"]))
            node = root.find(tag)
            node.text = draw(ODD_TEXT)
            file_ok = False
        intact_names = []
        for _ in range(draw(st.integers(0, 3))):
            obj = ET.SubElement(root, "object")
            ET.SubElement(obj, "name").text = f"good{k}"
            box = ET.SubElement(obj, "bndbox")
            x1, y1, x2, y2 = _box(k)
            for tag, v in (("xmin", x1), ("ymin", y1), ("xmax", x2), ("ymax", y2)):
                ET.SubElement(box, tag).text = str(int(v))
            intact = True
            if _one_in(draw, 3):
                tag = draw(st.sampled_from(["name", "bndbox/xmin", "bndbox/ymax", "bndbox"]))
                node = obj.find(tag)
                if draw(st.booleans()):
                    parent = obj if "/" not in tag else obj.find("bndbox")
                    parent.remove(node)
                else:
                    node.text = draw(ODD_TEXT)
                intact = False
            if intact:
                intact_names.append(f"good{k}")
            k += 1
            case.records += 1
        data, intact_file = draw(_file_mutation(ET.tostring(root, encoding="utf-8")))
        if file_ok and intact_file and _well_formed(data):
            case.good |= {(f"JPEGImages/img{i}.png", n) for n in intact_names}
        case.files[f"Annotations/img{i}.xml"] = data
    if draw(st.booleans()):
        case.files["Annotations/copy.xml"] = case.files["Annotations/img0.xml"]
        case.records += case.records
    splits = draw(st.sampled_from([None, b"img0\nimg 1\n", "img0\n\xe9\n".encode("latin-1")]))
    if splits is not None:
        case.files["ImageSets/Main/train.txt"] = splits
    return case


@SETTINGS
@given(case=voc_case(), as_text=st.booleans())
def test_fuzz_voc(case, as_text):
    check_import(case, "voc", as_text and len(case.good) % 4 == 0)


# -- CVAT ---------------------------------------------------------------------------------
@st.composite
def cvat_case(draw) -> Case:
    case = Case(images=[f"images/img{i}.png" for i in range(N_IMAGES)])
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    k = 0
    intact: set[tuple[str, str]] = set()
    for i in range(N_IMAGES):
        attrs = {"id": str(i), "name": f"img{i}.png", "width": str(W), "height": str(H)}
        image_ok = True
        if _one_in(draw, 5):
            key = draw(st.sampled_from(["name", "width", "height"]))
            attrs[key] = draw(ODD_TEXT)
            image_ok = False
        image = ET.SubElement(root, "image", attrs)
        for _ in range(draw(st.integers(0, 3))):
            x1, y1, x2, y2 = _box(k)
            kind = ("box", "polygon", "tag")[k % 3]
            a = {"label": f"good{k}"}
            if kind == "box":
                a |= {"xtl": str(x1), "ytl": str(y1), "xbr": str(x2), "ybr": str(y2)}
            elif kind == "polygon":
                a["points"] = f"{x1},{y1};{x2},{y1};{x2},{y2}"
            ok = True
            if _one_in(draw, 3):
                key = draw(st.sampled_from(sorted(a)))
                a[key] = draw(ODD_TEXT)
                ok = False
            ET.SubElement(image, draw(st.sampled_from([kind] * 6 + ["ellipse", "points"])), a)
            if ok and image_ok and image[-1].tag == kind:
                intact.add((f"images/img{i}.png", f"good{k}"))
            k += 1
            case.records += 1
    if draw(st.booleans()):  # img0 described twice
        ET.SubElement(root, "image", {"name": "img0.png", "width": str(W), "height": str(H)})
    data, file_ok = draw(_file_mutation(ET.tostring(root, encoding="utf-8")))
    if file_ok and _well_formed(data):
        case.good = intact
    case.files["annotations.xml"] = data
    return case


@SETTINGS
@given(case=cvat_case(), as_text=st.booleans())
def test_fuzz_cvat(case, as_text):
    check_import(case, "cvat", as_text and len(case.good) % 4 == 0)


# -- CSV ----------------------------------------------------------------------------------
HEADER = list(CSV_COLUMNS)  # the columns our CSV format reads and writes


@st.composite
def csv_case(draw) -> Case:
    case = Case(images=[f"images/img{i}.png" for i in range(N_IMAGES)])
    rows: list[list[str]] = []
    for k in range(draw(st.integers(1, 8))):
        i = k % N_IMAGES
        x1, y1, x2, y2 = _box(k)
        kind = ("box", "polygon", "tag")[k % 3]
        pts = json.dumps([[x1, y1], [x2, y1], [x2, y2]]) if kind == "polygon" else ""
        box = [str(v) for v in (x1, y1, x2, y2)] if kind != "tag" else [""] * 4
        row = ["train", f"images/img{i}.png", str(W), str(H), f"good{k}", kind, *box, pts]
        ok = True
        how = draw(st.integers(0, 4))
        if how == 4:
            row[draw(st.integers(0, len(row) - 1))] = draw(ODD_TEXT)
            ok = False
        elif how == 3:
            row = row[: draw(st.integers(0, len(row)))] + draw(st.lists(ODD_TEXT, max_size=2))
            ok = False
        rows.append(row)
        case.records += 1
        if ok:
            case.good.add((f"images/img{i}.png", f"good{k}"))
    if _one_in(draw, 10):  # a field over the csv module's default limit
        big = json.dumps([[j % 40 + 0.1234, j % 30 + 0.5678] for j in range(8_000)])
        assert len(big) > 131_072
        rows.append(
            ["train", "images/img0.png", str(W), str(H), "big", "polygon", "", "", "", "", big]
        )
        case.records += 1
        case.good.add(("images/img0.png", "big"))
    header = list(HEADER)
    if _one_in(draw, 10):  # a column missing: no row can be read
        header.remove(draw(st.sampled_from(HEADER)))
        case.good.clear()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data, file_ok = draw(_file_mutation(buf.getvalue().encode()))
    if not file_ok:
        case.good.clear()
    case.files["annotations.csv"] = data
    return case


@SETTINGS
@given(case=csv_case(), as_text=st.booleans())
def test_fuzz_csv(case, as_text):
    check_import(case, "csv", as_text and len(case.good) % 4 == 0)


# -- darknet ------------------------------------------------------------------------------
ODD_LIST_LINES = st.sampled_from(
    [
        "",
        "   ",
        "../outside.png",
        "/etc/passwd",
        "data/../../x.png",
        "nothing.png",
        "\x00",
        "a" * 5000,
    ]
)


def _yolo_line(draw, k: int) -> tuple[str, bool]:
    """A darknet label line for class ``k`` (a box of `_box`), perhaps broken."""
    x1, y1, x2, y2 = _box(k)
    cx, cy, bw, bh = (x1 + x2) / 2 / W, (y1 + y2) / 2 / H, (x2 - x1) / W, (y2 - y1) / H
    tokens = [str(k), f"{cx:.6f}", f"{cy:.6f}", f"{bw:.6f}", f"{bh:.6f}"]
    how = draw(st.integers(0, 5))
    if how == 5:
        tokens[draw(st.integers(0, 4))] = draw(ODD_TEXT).replace("\n", " ") or "x"
        return " ".join(tokens), False
    if how == 4:
        tokens = tokens[: draw(st.integers(0, 4))] + draw(st.lists(ODD_TEXT, max_size=3))
        return " ".join(t.replace("\n", " ") for t in tokens), False
    return " ".join(tokens), True


@st.composite
def darknet_case(draw) -> Case:
    """darknet as CVAT's "YOLO 1.1" writes it (``obj.data``, ``obj.names``, ``train.txt``,
    labels beside the images in ``obj_train_data/``) or as X-AnyLabeling does
    (``classes.txt``, labels beside the images)."""
    listed = draw(st.booleans())
    folder = "obj_train_data/" if listed else ""
    case = Case(images=[f"{folder}img{i}.png" for i in range(N_IMAGES)])
    names = "".join(f"good{k}\n" for k in range(6)).encode()
    names, names_ok = draw(_file_mutation(names))
    if _one_in(draw, 6):  # a name the project cannot hold, or a line shifted
        lines = names.decode("utf-8", "replace").splitlines()
        lines.insert(draw(st.integers(0, len(lines))), draw(ODD_TEXT).replace("\n", " "))
        names, names_ok = "\n".join(lines).encode(), False
    if listed:
        case.files["obj.names"] = names
        data = "classes = 6\ntrain = data/train.txt\nnames = data/obj.names\nbackup = backup/\n"
        data_ok = True
        if _one_in(draw, 5):
            key = draw(st.sampled_from(["classes", "train", "names"]))
            data = data.replace(f"{key} =", f"{key} = {draw(ODD_TEXT).replace(chr(10), ' ')} #")
            data_ok = False
        case.files["obj.data"] = data.encode()
        entries = [f"data/obj_train_data/img{i}.png" for i in range(N_IMAGES)]
        entries += draw(st.lists(ODD_LIST_LINES, max_size=3))
        listing, list_ok = draw(_file_mutation(("\n".join(entries) + "\n").encode()))
        case.files["train.txt"] = listing
        names_ok = names_ok and data_ok and list_ok
    else:
        case.files["classes.txt"] = names
    for i in range(N_IMAGES):
        lines, intact = [], []
        for _ in range(draw(st.integers(0, 3))):
            k = draw(st.integers(0, 5))
            line, ok = _yolo_line(draw, k)
            lines.append(line)
            if ok:
                intact.append(f"good{k}")
        data, file_ok = draw(_file_mutation(("\n".join(lines) + "\n").encode()))
        case.files[f"{folder}img{i}.txt"] = data
        case.records += len(lines)
        if file_ok and names_ok:
            case.good |= {(f"{folder}img{i}.png", n) for n in intact}
    return case


@SETTINGS
@given(case=darknet_case(), as_text=st.booleans())
def test_fuzz_darknet(case, as_text):
    check_import(case, "darknet", as_text and len(case.good) % 4 == 0)


# -- CVAT for video -----------------------------------------------------------------------
@st.composite
def cvat_video_case(draw) -> Case:
    """Tracks over the frames ``images/frame_NNNNNN.png``: keyframes, ``outside``, frames
    beyond the images, groups, and every attribute perhaps replaced by something odd."""
    case = Case(images=[f"images/frame_{i:06d}.png" for i in range(N_IMAGES)])
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    if draw(st.booleans()):
        size = ET.SubElement(task, "original_size")
        ET.SubElement(size, "width").text = str(W)
        ET.SubElement(size, "height").text = str(H)
        if _one_in(draw, 5):  # a wrong size: the frames' own size is the truth
            size.find("width").text = draw(ODD_TEXT)
    intact: set[tuple[str, str]] = set()
    for k in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["box", "polygon"]))
        attrs = {"id": str(k), "label": f"good{k}", "source": "manual"}
        if draw(st.booleans()):
            attrs["group_id"] = str(draw(st.integers(0, 2)))
        track_ok = True
        if _one_in(draw, 5):
            key = draw(st.sampled_from(sorted(attrs)))
            attrs[key] = draw(ODD_TEXT)
            track_ok = key in ("id", "source")  # what the importer does not read
        track = ET.SubElement(root, "track", attrs)
        frames = draw(st.lists(st.integers(0, N_IMAGES + 1), min_size=1, max_size=3, unique=True))
        for f in sorted(frames):
            x1, y1, x2, y2 = _box(k + f)
            outside = draw(st.integers(0, 3)) == 3
            a = {"frame": str(f), "keyframe": "1", "outside": "1" if outside else "0"}
            if kind == "box":
                a |= {"xtl": str(x1), "ytl": str(y1), "xbr": str(x2), "ybr": str(y2)}
            else:
                a["points"] = f"{x1},{y1};{x2},{y1};{x2},{y2}"
            ok = True
            if _one_in(draw, 4):
                key = draw(st.sampled_from(sorted(a)))
                a[key] = draw(ODD_TEXT)
                ok = False
            tag = draw(st.sampled_from([kind] * 6 + ["points", "ellipse"]))
            ET.SubElement(track, tag, a)
            if ok and track_ok and tag == kind and not outside and f < N_IMAGES:
                intact.add((f"images/frame_{f:06d}.png", f"good{k}"))
        # at most one shape per frame a track spans, and one per listed child
        case.records += N_IMAGES + len(frames)
    if draw(st.booleans()):
        ET.SubElement(root, "tag", {"frame": draw(st.sampled_from(["0", "1", "-1", "x"])),
                                    "label": "scene"})  # fmt: skip
        case.records += 1
    data, file_ok = draw(_file_mutation(ET.tostring(root, encoding="utf-8")))
    if file_ok and _well_formed(data):
        case.good = intact
    case.files["annotations.xml"] = data
    return case


@SETTINGS
@given(case=cvat_video_case(), as_text=st.booleans())
def test_fuzz_cvat_video(case, as_text):
    report = check_import(case, "cvat", as_text and len(case.good) % 4 == 0)
    if report is not None and case.good:  # the frames are the dataset's images
        assert report["images_added"] == N_IMAGES


# -- odd entries: what must never block or crash ------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "fmt, entry",
    [
        ("coco", "annotations/x.json"),
        ("labelme", "x.json"),
        ("yolo", "labels/train/img1.txt"),
        ("yolo", "images/train/odd.png"),
        ("voc", "Annotations/x.xml"),
        ("voc", "JPEGImages/odd.png"),
        ("cvat", "images/odd.png"),
        ("csv", "images/odd.png"),
    ],
)
@pytest.mark.parametrize("kind", ["fifo", "folder", "broken link"])
def test_odd_entries_are_reported_never_blocking(fmt, entry, kind):
    """A FIFO (which would block a plain open), a folder or a dangling link where a file
    is expected: the import goes on, and the entry is named unless it is a folder (which is
    walked like any folder)."""
    families = {
        "coco": coco_case,
        "labelme": labelme_case,
        "yolo": yolo_case,
        "voc": voc_case,
        "cvat": cvat_case,
        "csv": csv_case,
    }
    # The family's plainest dataset: hypothesis' first example, nothing broken.
    plain = settings(phases=[Phase.generate], database=None, max_examples=1)
    case = find(families[fmt](), lambda c: True, settings=plain)
    report = check_import(case, fmt, plant={entry: kind})
    if report is not None and kind != "folder":
        name = Path(entry).name
        said = report["problems"] + [e["path"] for e in report["not_imported"]]
        assert any(name in line for line in said), report
