"""Datasets built by someone who means harm, imported through the real command line.

Each test plays the attacker: annotation files that are symbolic links to a secret file
outside the dataset (whose text must never reach a class name or a message), XML that
hides a DTD behind an encoding, files that are too large, not regular, or too deep, and
small images whose header claims more than ``MAX_PIXELS`` (a decompression bomb). The
good files beside them must still import, and every refusal is one reported line.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeler.cli import main
from labeler.core.formats._io import (
    MAX_COCO_BYTES,
    MAX_TEXT_BYTES,
    MAX_WALK_DEPTH,
    FormatProblem,
    parse_xml_bytes,
)
from labeler.core.images import MAX_PIXELS

SECRET = "SECRET-TOKEN-123"
# The folder the secret lives in: its name must not leak either (a refusal names the
# link, never its target).
ELSEWHERE = "elsewhere-7f3a"


# -- helpers ------------------------------------------------------------------------------
def _png(path: Path, w: int = 40, h: int = 30, value: int = 127) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), value, np.uint8))
    return path


def _secret(tmp_path: Path, name: str, text: str) -> Path:
    """A file outside the dataset; its text is a valid annotation carrying the secret."""
    path = tmp_path / ELSEWHERE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def _run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _import(capsys, tmp_path: Path, dataset: Path, fmt: str) -> tuple[int, dict, str]:
    """``labeler import P DATASET --format FMT --json`` into a new project; the exit code,
    the JSON report and everything printed, joined, for the leak checks."""
    proj = tmp_path / "p.labeler"
    if not proj.exists():
        assert _run(capsys, "init", proj)[0] == 0
    code, out, err = _run(capsys, "import", proj, dataset, "--format", fmt, "--json")
    report = json.loads(out) if code == 0 else {}
    return code, report, out + err


def _classes(capsys, tmp_path: Path) -> list[str]:
    code, out, _ = _run(capsys, "classes", tmp_path / "p.labeler", "list", "--json")
    assert code == 0
    doc = json.loads(out)
    items = doc["classes"] if isinstance(doc, dict) else doc
    return [c["name"] for c in items]


def _assert_no_leak(capsys, tmp_path: Path, printed: str) -> None:
    assert SECRET not in printed
    assert ELSEWHERE not in printed
    assert not any(SECRET in name for name in _classes(capsys, tmp_path))


def _refusals(report: dict) -> list[str]:
    return [p for p in report["problems"] if "refused" in p]


# -- item 8: annotation files linked out of the dataset ----------------------------------
def test_coco_json_linked_outside_is_refused_and_the_good_file_imports(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "images/train/a.png")
    good = {
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10]}],
        "categories": [{"id": 1, "name": "cat"}],
    }
    (ds / "annotations").mkdir(parents=True)
    (ds / "annotations/instances_train.json").write_text(json.dumps(good))
    evil = dict(good, categories=[{"id": 1, "name": SECRET}])
    evil["images"] = [{"id": 1, "file_name": SECRET, "width": 40, "height": 30}]
    _link(
        ds / "annotations/instances_val.json",
        _secret(tmp_path, "coco.json", json.dumps(evil)),
    )
    code, report, printed = _import(capsys, tmp_path, ds, "coco")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0
    assert report["images_added"] == 1 and report["shapes_added"] == 1
    assert _refusals(report) == [
        "annotations/instances_val.json: refused: it is a symbolic link to a file outside"
        " the dataset"
    ]


@pytest.mark.parametrize("which", ["data.yaml", "label", "classes.txt", "obj.names"])
def test_yolo_files_linked_outside_are_refused(capsys, tmp_path, which):
    ds = tmp_path / "ds"
    _png(ds / "images/train/a.png", 100, 50)
    _png(ds / "images/train/b.png", 100, 50, value=30)
    (ds / "labels/train").mkdir(parents=True)
    (ds / "labels/train/b.txt").write_text("0 0.5 0.5 0.2 0.4\n")
    yaml_text = "train: images/train\nnames: [cat, dog]\n"
    if which == "data.yaml":
        _link(
            ds / "data.yaml",
            _secret(tmp_path, "data.yaml", f"train: images/train\nnames: [{SECRET}]\n"),
        )
    else:
        (ds / "data.yaml").write_text(yaml_text)
    if which == "label":
        # Four numbers after the "class", so the old importer echoed it in its message.
        _link(ds / "labels/train/a.txt", _secret(tmp_path, "a.txt", f"{SECRET} 0.5 0.5 0.1 0.1\n"))
    else:
        (ds / "labels/train/a.txt").write_text("1 0.5 0.5 0.2 0.4\n")
    if which in ("classes.txt", "obj.names"):
        _link(ds / which, _secret(tmp_path, which, f"{SECRET}\n"))
        _link(ds / "labels/train" / which, _secret(tmp_path, "2" + which, f"{SECRET}\n"))
    code, report, printed = _import(capsys, tmp_path, ds, "yolo")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0
    if which == "data.yaml":
        assert report["images_added"] == 0
        assert _refusals(report) == [
            "data.yaml: refused: it is a symbolic link to a file outside the dataset"
        ]
    elif which == "label":
        # Its image is not imported as a background image: its labels were refused.
        assert report["images_added"] == 1 and report["shapes_added"] == 1
        assert _refusals(report) == [
            "labels/train/a.txt: refused: it is a symbolic link to a file outside the"
            " dataset; images/train/a.png not imported"
        ]
    else:
        assert report["images_added"] == 2 and report["shapes_added"] == 2


VOC_XML = """<annotation><filename>{name}</filename>
<size><width>40</width><height>30</height><depth>3</depth></size>
<object><name>{cls}</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object>
</annotation>"""


@pytest.mark.parametrize("which", ["xml", "labelmap.txt", "ImageSets"])
def test_voc_files_linked_outside_are_refused(capsys, tmp_path, which):
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/a.png")
    _png(ds / "JPEGImages/b.png", value=30)
    (ds / "Annotations").mkdir(parents=True)
    (ds / "Annotations/a.xml").write_text(VOC_XML.format(name="a.png", cls="cat"))
    if which == "xml":
        evil = _secret(tmp_path, "b.xml", VOC_XML.format(name="b.png", cls=SECRET))
        _link(ds / "Annotations/b.xml", evil)
        rel = "Annotations/b.xml"
    else:
        (ds / "Annotations/b.xml").write_text(VOC_XML.format(name="b.png", cls="dog"))
    if which == "labelmap.txt":
        _link(ds / "labelmap.txt", _secret(tmp_path, "labelmap.txt", f"{SECRET}:::\n"))
        rel = "labelmap.txt"
    if which == "ImageSets":
        _link(ds / "ImageSets/Main/train.txt", _secret(tmp_path, "train.txt", f"a\n{SECRET}\n"))
        rel = "ImageSets/Main/train.txt"
    code, report, printed = _import(capsys, tmp_path, ds, "voc")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0
    assert report["images_added"] == (1 if which == "xml" else 2)
    assert _refusals(report) == [
        f"{rel}: refused: it is a symbolic link to a file outside the dataset"
    ]


def _labelme(image: str, cls: str) -> str:
    return json.dumps(
        {
            "imagePath": image,
            "imageWidth": 40,
            "imageHeight": 30,
            "shapes": [{"label": cls, "points": [[1, 2], [20, 25]], "shape_type": "rectangle"}],
        }
    )


def test_labelme_json_linked_outside_is_refused(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _png(ds / "b.png", value=30)
    (ds / "a.json").write_text(_labelme("a.png", "cat"))
    _link(ds / "b.json", _secret(tmp_path, "b.json", _labelme("b.png", SECRET)))
    code, report, printed = _import(capsys, tmp_path, ds, "labelme")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0 and report["images_added"] == 1 and report["shapes_added"] == 1
    assert _refusals(report) == [
        "b.json: refused: it is a symbolic link to a file outside the dataset"
    ]


def test_cvat_xml_linked_outside_is_refused(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "images/a.png")
    evil = (
        '<annotations><image name="a.png" width="40" height="30">'
        f'<tag label="{SECRET}"/></image></annotations>'
    )
    _link(ds / "annotations.xml", _secret(tmp_path, "annotations.xml", evil))
    code, report, printed = _import(capsys, tmp_path, ds, "cvat")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0 and report["images_added"] == 0
    assert _refusals(report) == [
        "annotations.xml: refused: it is a symbolic link to a file outside the dataset"
    ]


def test_csv_linked_outside_is_refused(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    header = "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json\n"
    evil = header + f"train,a.png,40,30,{SECRET},tag,,,,,\n"
    _link(ds / "annotations.csv", _secret(tmp_path, "annotations.csv", evil))
    code, report, printed = _import(capsys, tmp_path, ds, "csv")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0 and report["images_added"] == 0
    assert _refusals(report) == [
        "annotations.csv: refused: it is a symbolic link to a file outside the dataset"
    ]


def test_imagefolder_links_outside_are_refused(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "cat/a.png")
    outside = _png(tmp_path / ELSEWHERE / SECRET / "x.png", value=5)
    _link(ds / "dog", outside.parent)  # a class folder that is a link out
    _link(ds / "cat/b.png", outside)  # an image that is a link out
    code, report, printed = _import(capsys, tmp_path, ds, "imagefolder")
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0 and report["images_added"] == 1
    assert "dog: refused: a symbolic link to a folder outside the dataset" in report["problems"]
    assert any(p.startswith("cat/b.png") or "cat/b.png" in p for p in report["problems"])


def test_links_inside_the_dataset_are_still_read(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/a.png")
    (ds / "real").mkdir(parents=True)
    (ds / "real/a.xml").write_text(VOC_XML.format(name="a.png", cls="cat"))
    _link(ds / "Annotations/a.xml", Path("../real/a.xml"))
    code, report, _ = _import(capsys, tmp_path, ds, "voc")
    assert code == 0 and report["images_added"] == 1 and report["problems"] == []


def test_files_over_their_size_cap_are_refused_unread(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "images/train/a.png")
    (ds / "annotations").mkdir(parents=True)
    big = ds / "annotations/instances_train.json"
    with open(big, "wb") as f:  # sparse: the head says COCO, the size is over the cap
        f.write(b'{"images": [')
        f.truncate(MAX_COCO_BYTES + 1)
    code, report, _ = _import(capsys, tmp_path, ds, "coco")
    assert code == 0
    assert report["problems"] == [
        f"annotations/instances_train.json: refused: {MAX_COCO_BYTES + 1:,} bytes, over the"
        " 512 MiB limit for this kind of file"
    ]
    # A YOLO label over the text cap: refused, and its image with it.
    yolo = tmp_path / "yolo"
    _png(yolo / "images/train/a.png")
    (yolo / "data.yaml").write_text("train: images/train\nnames: [cat]\n")
    (yolo / "labels/train").mkdir(parents=True)
    with open(yolo / "labels/train/a.txt", "wb") as f:
        f.truncate(MAX_TEXT_BYTES + 1)
    code, report, _ = _import(capsys, tmp_path, yolo, "yolo")
    assert code == 0 and report["images_added"] == 0
    assert report["problems"] == [
        f"labels/train/a.txt: refused: {MAX_TEXT_BYTES + 1:,} bytes, over the 16 MiB limit"
        " for this kind of file; images/train/a.png not imported"
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.timeout(60)
def test_a_fifo_is_refused_without_hanging(capsys, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    os.mkfifo(ds / "annotations.csv")
    code, report, _ = _import(capsys, tmp_path, ds, "csv")
    assert code == 0 and report["problems"] == ["annotations.csv: refused: not a regular file"]


def test_folder_walks_are_bounded_in_depth_and_follow_no_folder_links(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    (ds / "a.json").write_text(_labelme("a.png", "cat"))
    deep = ds.joinpath(*["d"] * (MAX_WALK_DEPTH + 2))
    deep.mkdir(parents=True)
    (deep / "x.json").write_text(_labelme("../a.png", "deep"))
    (ds / "loop").symlink_to(ds)  # a link to a folder: a walk that followed it never ends
    code, report, _ = _import(capsys, tmp_path, ds, "labelme")
    assert code == 0 and report["images_added"] == 1
    assert report["classes_created"] == ["cat"]
    too_deep = "/".join(["d"] * (MAX_WALK_DEPTH + 1))
    assert sorted(report["problems"]) == sorted(
        [
            f"{too_deep}: skipped: more than {MAX_WALK_DEPTH} folder levels deep",
            "loop: skipped: a symbolic link to a folder is not followed",
        ]
    )


# -- item 9: a DTD hidden by an encoding ---------------------------------------------------
ENTITY_DOC = (
    '<?xml version="1.0" encoding="{declared}"?>\n'
    '<!DOCTYPE annotation [<!ENTITY e "{secret}">]>\n'
    "<annotation><filename>a.png</filename>"
    "<size><width>40</width><height>30</height><depth>3</depth></size>"
    "<object><name>&e;</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax>"
    "<ymax>25</ymax></bndbox></object></annotation>\n"
)
ENCODINGS = {
    "utf-16-le without BOM": ("UTF-16", "utf-16-le"),
    "utf-16-be without BOM": ("UTF-16", "utf-16-be"),
    "utf-16 with BOM": ("UTF-16", "utf-16"),
    "utf-8 declaring utf-16": ("UTF-16", "utf-8"),
    "utf-32 with BOM": ("UTF-32", "utf-32"),
    "utf-32-le without BOM": ("UTF-32", "utf-32-le"),
    "ucs-4 big endian": ("ISO-10646-UCS-4", "utf-32-be"),
    "ebcdic": ("cp037", "cp037"),
    "latin-1": ("ISO-8859-1", "latin-1"),
}


@pytest.mark.parametrize("fmt", ["voc", "cvat"])
@pytest.mark.parametrize("case", sorted(ENCODINGS))
def test_xml_entities_are_refused_whatever_the_encoding(capsys, tmp_path, fmt, case):
    declared, codec = ENCODINGS[case]
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/a.png")
    _png(ds / "images/a.png")
    text = ENTITY_DOC.format(declared=declared, secret=SECRET)
    if fmt == "cvat":
        text = text.replace(
            "<annotation>",
            '<annotations><image name="a.png" width="40" height="30"><tag label="&e;"/></image>',
        ).replace("</annotation>", "</annotations>")
        text = text.replace("DOCTYPE annotation", "DOCTYPE annotations")
        rel = "annotations.xml"
    else:
        rel = "Annotations/a.xml"
    (ds / rel).parent.mkdir(parents=True, exist_ok=True)
    (ds / rel).write_bytes(text.encode(codec))
    code, report, printed = _import(capsys, tmp_path, ds, fmt)
    _assert_no_leak(capsys, tmp_path, printed)
    assert code == 0 and report["images_added"] == 0
    (problem,) = report["problems"]
    assert problem.startswith(f"{rel}: ") and "\n" not in problem
    assert "unsafe XML" in problem or "malformed XML" in problem


def test_the_expat_handlers_refuse_a_dtd_the_byte_check_cannot_see():
    # UTF-16 without a byte-order mark: "<!DOCTYPE" is not in the bytes as ASCII.
    data = ENTITY_DOC.format(declared="UTF-16", secret=SECRET).encode("utf-16-le")
    assert b"<!DOCTYPE" not in data
    with pytest.raises(FormatProblem) as e:
        parse_xml_bytes(data, "a.xml")
    assert str(e.value) == "a.xml: line 2: DOCTYPE declarations are refused (unsafe XML)"


def test_plain_xml_in_utf16_still_parses():
    doc = parse_xml_bytes("<a><name>chat é</name></a>".encode("utf-16"), "a.xml")
    assert doc.findtext("name") == "chat é"
    doc = parse_xml_bytes(b'<a xmlns="urn:x"><b k="v">t</b></a>', "a.xml")
    assert doc.find("{urn:x}b").get("k") == "v"


_CODECS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "latin-1", "cp037"]
_DECLARED = [None, "UTF-8", "UTF-16", "UTF-32", "ISO-8859-1", "cp037", "ascii", "bogus"]


def _check_parse(data: bytes, secret: str | None = None) -> None:
    try:
        root = parse_xml_bytes(data, "f.xml")
    except FormatProblem as e:
        msg = str(e)
        assert msg.startswith("f.xml: ") and "\n" not in msg
        assert secret is None or secret not in msg
        return
    if secret is not None:
        texts = [t for el in root.iter() for t in (el.text, el.tail, *el.attrib.values()) if t]
        assert not any(secret in t for t in texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    codec=st.sampled_from(_CODECS),
    declared=st.sampled_from(_DECLARED),
    bom=st.booleans(),
    secret=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=16),
    doctype_spacing=st.sampled_from(["", " ", "\n", "\t"]),
)
def test_parse_xml_never_lets_an_entity_through(codec, declared, bom, secret, doctype_spacing):
    decl = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    text = (
        f'{decl}<!DOCTYPE{doctype_spacing or " "}a [<!ENTITY e "{secret}">]>'
        f'<a><name>&e;</name><b x="&e;"/></a>'
    )
    try:
        data = text.encode(codec)
    except UnicodeEncodeError:
        return
    if bom and codec in ("utf-8",):
        data = b"\xef\xbb\xbf" + data
    _check_parse(data, secret)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parse_xml_on_any_bytes_is_a_tree_or_one_line(data):
    _check_parse(data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"<a>",
                b"</a>",
                b"<b/>",
                b"&amp;",
                b"&e;",
                b"<!DOCTYPE a>",
                b"<!ENTITY e 'x'>",
                b"<?xml version='1.0' encoding='utf-16'?>",
                b"\x00",
                b"\xff\xfe",
                b"x",
                b"]]>",
                b"<![CDATA[",
                b"<!--",
                b"-->",
                b"<?pi?>",
                b"\xfe\xff",
            ]
        ),
        max_size=12,
    )
)
def test_parse_xml_on_xml_fragments_is_a_tree_or_one_line(parts):
    _check_parse(b"".join(parts))


# -- item 10: decompression bombs in annotation-format imports ----------------------------
def _tiff_bomb(path: Path, w: int = 20_000, h: int = 20_000, rows: int = 100) -> Path:
    """A valid 1-bit deflate TIFF of w x h zeros: ~55 KB on disk, 400 MP when decoded
    (OpenCV's decode of it peaked at ~800 MB)."""
    row = bytes((w + 7) // 8)
    strips = [zlib.compress(row * min(rows, h - y), 9) for y in range(0, h, rows)]
    n = len(strips)
    tags = [  # (tag, type: 3 SHORT / 4 LONG, count, value or None for the arrays)
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, 1, 1),
        (259, 3, 1, 8),
        (262, 3, 1, 1),
        (273, 4, n, None),
        (277, 3, 1, 1),
        (278, 4, 1, rows),
        (279, 4, n, None),
    ]
    offsets_at = 8 + 2 + 12 * len(tags) + 4
    counts_at = offsets_at + 4 * n
    pos, offsets = counts_at + 4 * n, []
    for s in strips:
        offsets.append(pos)
        pos += len(s)
    out = b"II*\x00" + struct.pack("<IH", 8, len(tags))
    for tag, typ, count, value in tags:
        value = {273: offsets_at, 279: counts_at}.get(tag, value)
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0)
    out += struct.pack(f"<{n}I", *offsets) + struct.pack(f"<{n}I", *map(len, strips))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + b"".join(strips))
    return path


def _bmp_bomb(path: Path, w: int = 20_000, h: int = 20_000) -> Path:
    """An 8-bit RLE BMP of w x h that ends at once: 1 KB on disk, 400 MP when decoded."""
    palette = bytes(4 * 256)
    data = b"\x00\x00\x00\x01"  # end of line, end of bitmap: the rest is implicit
    off = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + info + palette + data
    )
    return path


def _webp_bomb(path: Path) -> Path:
    """A lossless WebP of one colour whose header is patched to 16384 x 16384 (268 MP):
    a single-colour VP8L stream costs no bits per pixel, so it still decodes, to 1.5 GB."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "WEBP", lossless=True)
    data = buf.getvalue()
    at = data.index(b"VP8L") + 8
    assert data[at] == 0x2F
    bits = int.from_bytes(data[at + 1 : at + 5], "little")
    bits = (bits & ~((1 << 28) - 1)) | (16383 | 16383 << 14)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: at + 1] + bits.to_bytes(4, "little") + data[at + 5 :])
    return path


BOMBS = {
    "tiff": ("tiff-bomb.tif", _tiff_bomb),
    "bmp": ("bmp-bomb.bmp", _bmp_bomb),
    "webp": ("webp-bomb.webp", _webp_bomb),
}

# The CLI runs in a grandchild: a small launcher starts it and reports the peak RSS of its
# children. Measuring a direct child of pytest would not do: on Linux a child's ru_maxrss
# starts from its parent's RSS at fork/exec time, and pytest's own is large.
_LAUNCHER = """
import json, resource, subprocess, sys
cli = "import sys; from labeler.cli import main; sys.exit(main(sys.argv[1:]))"
run = subprocess.run([sys.executable, "-c", cli, *sys.argv[1:]], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
peak = peak // 1024 if sys.platform == "darwin" else peak  # bytes there, KiB on Linux
print(json.dumps({"code": run.returncode, "out": run.stdout, "err": run.stderr, "kib": peak}))
"""


def _measured_import(tmp_path: Path, ds: Path, fmt: str) -> tuple[dict, int]:
    """``labeler import P DS --format FMT --json`` in a fresh process: (report, peak bytes)."""
    proj = tmp_path / f"{fmt}.labeler"
    assert main(["init", str(proj)]) == 0
    env = dict(os.environ, LABELER_PROGRESS="0")
    argv = ["import", str(proj), str(ds), "--format", fmt, "--json"]
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert launched.returncode == 0, launched.stderr
    result = json.loads(launched.stdout)
    assert result["code"] == 0, result["err"]
    return json.loads(result["out"]), result["kib"] * 1024


# Far below the 800 MB to 1.5 GB one of these bombs costs when decoded; the CLI alone
# (Python, NumPy, OpenCV, Pillow, SQLite) stays near 150 MB.
PEAK_LIMIT = 400 * 1024 * 1024


def _assert_bombs_refused(report: dict, names: list[str]) -> None:
    for name in names:
        (line,) = [p for p in report["problems"] if name in p]
        assert "too many pixels" in line and f"{MAX_PIXELS:,} limit" in line


def test_imagefolder_import_refuses_bombs_before_decoding(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "cat/good.png")
    for name, make in BOMBS.values():
        make(ds / "cat" / name)
    report, peak = _measured_import(tmp_path, ds, "imagefolder")
    assert report["images_added"] == 1
    _assert_bombs_refused(report, [name for name, _ in BOMBS.values()])
    assert peak < PEAK_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"


def test_yolo_import_refuses_bombs_before_decoding(tmp_path):
    ds = tmp_path / "ds"
    (ds / "data.yaml").parent.mkdir(parents=True)
    (ds / "data.yaml").write_text("train: images/train\nnames: [cat]\n")
    _png(ds / "images/train/good.png")
    (ds / "labels/train").mkdir(parents=True)
    (ds / "labels/train/good.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    for name, make in BOMBS.values():
        make(ds / "images/train" / name)
        (ds / "labels/train" / Path(name).with_suffix(".txt")).write_text("0 0.5 0.5 0.2 0.2\n")
    report, peak = _measured_import(tmp_path, ds, "yolo")
    assert report["images_added"] == 1 and report["shapes_added"] == 1
    _assert_bombs_refused(report, [name for name, _ in BOMBS.values()])
    assert peak < PEAK_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"


def test_voc_without_size_refuses_bombs_before_decoding(tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/good.png")
    (ds / "Annotations").mkdir(parents=True)
    (ds / "Annotations/good.xml").write_text(VOC_XML.format(name="good.png", cls="cat"))
    no_size = (
        "<annotation><filename>{}</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        "<ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    for name, make in BOMBS.values():
        make(ds / "JPEGImages" / name)
        (ds / "Annotations" / Path(name).with_suffix(".xml")).write_text(no_size.format(name))
    report, peak = _measured_import(tmp_path, ds, "voc")
    assert report["images_added"] == 1
    _assert_bombs_refused(report, [name for name, _ in BOMBS.values()])
    assert peak < PEAK_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_every_decode_path_checks_the_header_first(tmp_path, kind):
    from labeler.core.formats._io import image_size, read_image
    from labeler.core.images import BadImage, decode, load_image

    name, make = BOMBS[kind]
    path = make(tmp_path / name)
    for read in (image_size, read_image, load_image, lambda p: decode(p.read_bytes())):
        with pytest.raises(BadImage, match="too many pixels"):
            read(path)
