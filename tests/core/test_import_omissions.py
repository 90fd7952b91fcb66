"""Nothing is left out of an annotation import without a word (issue 13), through the real
command line: the images no annotation names, what ``--format auto`` found and why, an
explicit format that finds nothing, an image described twice, classes differing only in
case, class names the project cannot hold, records that used to abort a whole import, and
exports that must pass their own check (a space in a VOC file name, a 9,000-vertex polygon
in a CSV).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.cli import main
from labeler.core.formats import explain_format

# -- helpers ------------------------------------------------------------------------------
_VALUES = iter(range(1, 10_000))


def _png(path: Path, w: int = 40, h: int = 30) -> Path:
    """A PNG whose pixels no other test image shares (the project keys images by hash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    v = next(_VALUES)
    img = np.zeros((h, w, 3), np.uint8)
    img[0, 0] = (v % 256, v // 256 % 256, 7)
    assert cv2.imwrite(str(path), img)
    return path


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _labelme(image: str, *labels: str, w: int = 40, h: int = 30) -> str:
    shapes = [
        {"label": lab, "points": [[1 + k, 2], [20, 25]], "shape_type": "rectangle"}
        for k, lab in enumerate(labels)
    ]
    doc = {"imagePath": image, "imageWidth": w, "imageHeight": h, "shapes": shapes, "flags": {}}
    return json.dumps(doc)


def _coco(images: list[dict], annotations: list[dict], categories: list[dict]) -> str:
    return json.dumps({"images": images, "annotations": annotations, "categories": categories})


def _run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _import(capsys, tmp_path: Path, ds: Path, fmt: str = "auto", json_out: bool = True):
    """``labeler import P DS --format FMT`` into a new project: (code, report or text, err)."""
    proj = tmp_path / "p.labeler"
    if not proj.exists():
        assert _run(capsys, "init", proj)[0] == 0
    extra = ["--json"] if json_out else []
    code, out, err = _run(capsys, "import", proj, ds, "--format", fmt, *extra)
    assert "unexpected" not in err
    if json_out and code == 0:
        return code, json.loads(out), err
    return code, out, err


def _content(proj: Path) -> dict:
    """The project's images (path, split) and shapes (image path, class, kind), read
    through SQLite."""
    con = sqlite3.connect(f"file:{proj}?mode=ro", uri=True)
    try:
        images = sorted(con.execute("SELECT path, split FROM images").fetchall())
        shapes = sorted(
            con.execute(
                "SELECT i.path, c.name, s.kind FROM shapes s JOIN images i ON i.id = s.image_id"
                " JOIN classes c ON c.id = s.class_id"
            ).fetchall()
        )
        classes = [r[0] for r in con.execute("SELECT name FROM classes ORDER BY position")]
    finally:
        con.close()
    return {"images": images, "shapes": shapes, "classes": classes}


def _names(rows) -> list[str]:
    return sorted(Path(r[0]).name for r in rows)


# -- silent omission 1: images no annotation names ---------------------------------------
def test_a_half_annotated_labelme_folder_imports_every_image(capsys, tmp_path):
    ds = tmp_path / "ds"
    for i in range(8):
        _png(ds / f"photo{i}.png")
    _write(ds / "photo0.json", _labelme("photo0.png", "cat"))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0
    assert report["format"] == "labelme" and report["detection"]["format"] == "labelme"
    assert report["images_added"] == 8 and report["shapes_added"] == 1
    assert report["images_unannotated"] == 7
    assert sorted(report["unannotated"]) == [f"photo{i}.png" for i in range(1, 8)]
    assert report["not_imported"] == [] and report["problems"] == []
    content = _content(tmp_path / "p.labeler")
    assert len(content["images"]) == 8 and _names(content["shapes"]) == ["photo0.png"]


def test_the_text_report_counts_unannotated_images_by_folder(capsys, tmp_path):
    ds = tmp_path / "ds"
    for i in range(3):
        _png(ds / f"a{i}.png")
    _png(ds / "more/b.png")
    _write(ds / "a0.json", _labelme("a0.png", "cat"))
    code, out, _ = _import(capsys, tmp_path, ds, json_out=False)
    assert code == 0
    assert "labelme: added 4 image(s), 1 shape(s)" in out
    assert "imported without annotations: ./: 2 image(s) no annotation names" in out
    assert "imported without annotations: more/: 1 image(s) no annotation names" in out


def test_labelme_image_whose_own_json_is_broken_is_reported_not_imported_bare(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _png(ds / "b.png")
    _write(ds / "a.json", _labelme("a.png", "cat"))
    _write(ds / "b.json", '{"shapes": [')
    code, report, _ = _import(capsys, tmp_path, ds, "labelme")
    assert code == 0 and report["images_added"] == 1
    assert report["problems"][0].startswith("b.json: line 1 column")
    assert report["not_imported"] == [{"path": "b.png", "reason": "its b.json could not be read"}]


def test_voc_images_without_xml_are_imported_and_other_images_reported(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/a.png")
    _png(ds / "JPEGImages/b.png")
    _png(ds / "SegmentationClass/a.png")  # a mask, not a photo: reported, not imported
    _write(ds / "Annotations/a.xml", _voc("a.png", "cat"))
    _write(ds / "ImageSets/Main/val.txt", "a\nb\n")
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["format"] == "voc"
    assert report["images_added"] == 2 and report["unannotated"] == ["JPEGImages/b.png"]
    assert report["not_imported"] == [
        {"path": "SegmentationClass/a.png", "reason": "no annotation file of the dataset names it"}
    ]
    assert [split for _, split in _content(tmp_path / "p.labeler")["images"]] == ["val", "val"]


@pytest.mark.parametrize("fmt", ["coco", "yolo", "cvat", "csv"])
def test_images_the_dataset_does_not_list_are_reported(capsys, tmp_path, fmt):
    """COCO's images, YOLO's split folders, CVAT's <image>s and the CSV rows are the
    dataset: an image they leave out is listed with the reason, not imported."""
    ds = tmp_path / "ds"
    listed = _png(ds / "images/train/a.png")
    _png(ds / "images/train/extra.png" if fmt != "yolo" else ds / "other/extra.png")
    if fmt == "coco":
        image = {"id": 1, "file_name": "a.png", "width": 40, "height": 30}
        cats = [{"id": 1, "name": "cat"}]
        _write(ds / "annotations/instances_train.json", _coco([image], [], cats))
    elif fmt == "yolo":
        _write(ds / "data.yaml", "train: images/train\nnames: [cat]\n")
        _write(ds / "labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n")
    elif fmt == "cvat":
        _write(
            ds / "annotations.xml",
            '<annotations><image name="train/a.png" width="40" height="30"/></annotations>',
        )
    else:
        _write(
            ds / "annotations.csv",
            "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json\n"
            "train,images/train/a.png,40,30,,,,,,,\n",
        )
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["format"] == fmt and report["images_added"] == 1
    assert listed.exists()
    extra = "other/extra.png" if fmt == "yolo" else "images/train/extra.png"
    assert report["not_imported"] == [
        {"path": extra, "reason": "no annotation file of the dataset names it"}
    ]
    assert report["unannotated"] == []


# -- silent omission 2: what auto found, and why -----------------------------------------
def test_auto_says_what_it_found_why_and_what_it_could_not_use(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _write(ds / "a.json", _labelme("a.png", "cat"))
    _write(ds / "obj.names", "cat\n")
    _write(ds / "train/_annotations.csv", "filename,width,height,class,xmin,ymin,xmax,ymax\n")
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0
    detection = report["detection"]
    assert detection["asked"] == "auto" and detection["format"] == "labelme"
    assert detection["reason"] == "a.json: JSON with labelme's 'shapes'"
    assert any(line.startswith("obj.names: darknet YOLO") for line in detection["unused"])
    assert any(
        line.startswith("train/_annotations.csv: a Roboflow") for line in detection["unused"]
    )
    proj2 = tmp_path / "q"
    proj2.mkdir()
    code, out, _ = _import(capsys, proj2, ds, json_out=False)
    assert code == 0
    assert "format: labelme, found a.json: JSON with labelme's 'shapes'" in out
    assert "not read: obj.names: darknet YOLO" in out


def test_the_json_report_has_one_schema_whatever_the_format(capsys, tmp_path):
    keys = None
    for fmt, make in {
        "labelme": lambda ds: _write(ds / "a.json", _labelme("a.png", "cat")),
        "csv": lambda ds: _write(
            ds / "annotations.csv",
            "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json\n,a.png,40,30,,,,,,,\n",
        ),
    }.items():
        ds = tmp_path / fmt
        _png(ds / "a.png")
        make(ds)
        for asked in ("auto", fmt):
            where = tmp_path / f"{fmt}-{asked}"
            where.mkdir()
            code, report, _ = _import(capsys, where, ds, asked)
            assert code == 0 and report["format"] == fmt
            assert report["detection"]["asked"] == asked
            keys = keys or list(report)
            assert list(report) == keys
    assert keys[:2] == ["format", "detection"]


def test_darknet_and_classes_txt_layouts_are_read_as_darknet(tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "obj_train_data/a.png")
    _write(ds / "obj_train_data/a.txt", "0 0.5 0.5 0.1 0.1\n")
    _write(ds / "obj.names", "cat\n")
    _write(ds / "obj.data", "classes = 1\n")
    _write(ds / "labelimg/classes.txt", "cat\n")
    from labeler.app.annotations import choose_format

    found = choose_format([ds])
    assert found.format == "darknet"
    assert not any("darknet YOLO" in line for line in found.unused)
    # A class list with no .txt label beside any image is still only named.
    photos = tmp_path / "photos"
    _png(photos / "a.png")
    _write(photos / "obj.names", "cat\n")
    _write(photos / "labelimg/classes.txt", "cat\n")
    found = choose_format([photos])
    assert found.format == "folder"
    unused = "\n".join(found.unused)
    assert "obj.names: darknet YOLO" in unused and "--format darknet" in unused
    assert "labelimg/classes.txt: a YOLO class list without data.yaml" in unused


def test_roboflow_coco_and_yolo_layouts_are_read(capsys, tmp_path):
    coco = tmp_path / "coco"
    for split in ("train", "valid"):
        _png(coco / split / "a.png")
        image = {"id": 1, "file_name": "a.png", "width": 40, "height": 30}
        ann = {"id": 1, "image_id": 1, "category_id": 0, "bbox": [1, 1, 5, 5]}
        _write(
            coco / split / "_annotations.coco.json",
            _coco([image], [ann], [{"id": 0, "name": "cat"}]),
        )
    assert explain_format(coco).format == "coco"
    code, report, _ = _import(capsys, tmp_path, coco)
    assert code == 0 and report["images_added"] == 2 and report["shapes_added"] == 2
    splits = sorted(s for _, s in _content(tmp_path / "p.labeler")["images"])
    assert splits == ["train", "val"]

    yolo = tmp_path / "yolo"
    _png(yolo / "train/images/a.png")
    _write(yolo / "train/labels/a.txt", "0 0.5 0.5 0.2 0.2\n")
    _write(
        yolo / "data.yaml", "train: ../train/images\nval: ../valid/images\nnc: 1\nnames: ['cat']\n"
    )
    where = tmp_path / "y"
    where.mkdir()
    code, report, _ = _import(capsys, where, yolo)
    assert code == 0 and report["format"] == "yolo" and report["shapes_added"] == 1
    assert report["problems"] == ["data.yaml: val: folder '../valid/images' not found"]


# -- silent omission 3: an explicit format that finds nothing -----------------------------
@pytest.mark.parametrize(
    "fmt, reason",
    [
        ("coco", "no COCO JSON in"),
        ("yolo", "no data.yaml"),
        ("voc", "no Annotations/ folder"),
        ("cvat", "no annotations.xml"),
        ("csv", "no annotations.csv"),
        ("labelme", "no labelme JSON"),
    ],
)
def test_an_explicit_format_that_finds_nothing_fails_in_one_line(capsys, tmp_path, fmt, reason):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _write(ds / "notes.json", '{"hello": 1}')
    proj = tmp_path / "p.labeler"
    _run(capsys, "init", proj)
    before = _content(proj)
    code, out, err = _import(capsys, tmp_path, ds, fmt)
    assert code == 1 and out == ""
    assert err.startswith(f"labeler: error: nothing to import as {fmt}: {reason}")
    assert err.count("\n") == 1
    assert _content(proj) == before


def test_a_coco_file_that_lists_no_image_fails_and_says_what_is_there(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "images/a.png")
    _write(ds / "annotations/instances.json", _coco([], [], [{"id": 1, "name": "cat"}]))
    code, _, err = _import(capsys, tmp_path, ds, "coco")
    assert code == 1 and err.count("\n") == 1
    assert "no image is described" in err and "1 image file(s) under it not listed" in err


# -- silent omission 6: an image described twice -----------------------------------------
def _voc(name: str, cls: str, box: tuple[int, ...] = (2, 3, 20, 25)) -> str:
    x1, y1, x2, y2 = box
    return (
        f"<annotation><filename>{name}</filename>"
        "<size><width>40</width><height>30</height><depth>3</depth></size>"
        f"<object><name>{cls}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object></annotation>"
    )


def _twice(ds: Path, fmt: str) -> None:
    """The image a.png described twice in ``fmt``, a cat box once and a dog box once."""
    if fmt == "coco":
        _png(ds / "images/a.png")
        images = [
            {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "a.png", "width": 40, "height": 30},
        ]
        anns = [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [9, 9, 5, 5]},
        ]
        cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
        _write(ds / "annotations/instances_train.json", _coco(images, anns, cats))
    elif fmt == "voc":
        _png(ds / "JPEGImages/a.png")
        _write(ds / "Annotations/a.xml", _voc("a.png", "cat"))
        _write(ds / "Annotations/a_copy.xml", _voc("a.png", "dog", (5, 5, 30, 28)))
    elif fmt == "labelme":
        _png(ds / "a.png")
        _write(ds / "a.json", _labelme("a.png", "cat"))
        _write(ds / "old/a.json", _labelme("../a.png", "x", "dog"))
    else:
        _png(ds / "images/a.png")
        box = '<box label="{}" xtl="{}" ytl="1" xbr="20" ybr="20"/>'
        _write(
            ds / "annotations.xml",
            '<annotations><image name="a.png" width="40" height="30">'
            + box.format("cat", 1)
            + '</image><image name="a.png" width="40" height="30">'
            + box.format("dog", 2)
            + "</image></annotations>",
        )


@pytest.mark.parametrize("fmt", ["coco", "voc", "labelme", "cvat"])
def test_an_image_described_twice_keeps_the_shapes_of_both_and_says_so(capsys, tmp_path, fmt):
    ds = tmp_path / "ds"
    _twice(ds, fmt)
    code, report, _ = _import(capsys, tmp_path, ds, fmt)
    assert code == 0 and report["images_added"] == 1
    (line,) = [p for p in report["problems"] if "described twice" in p]
    assert "shapes merged" in line
    classes = {c for _, c, _ in _content(tmp_path / "p.labeler")["shapes"]}
    assert {"cat", "dog"} <= classes


def test_an_image_in_two_coco_splits_keeps_the_first_split_and_says_so(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "images/a.png")
    cats = [{"id": 1, "name": "cat"}]
    for split, x in (("train", 1), ("val", 9)):
        image = {"id": 1, "file_name": "a.png", "width": 40, "height": 30}
        ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [x, 1, 5, 5]}
        _write(ds / f"annotations/instances_{split}.json", _coco([image], [ann], cats))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["shapes_added"] == 2
    (line,) = report["problems"]
    assert line.startswith("images/a.png: described twice (annotations/instances_train.json")
    assert "splits differ (train and val): kept train" in line


# -- silent omission 7: classes differing only in case ------------------------------------
def test_coco_categories_differing_only_in_case_are_reported(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "images/a.png")
    image = {"id": 1, "file_name": "a.png", "width": 40, "height": 30}
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [9, 9, 5, 5]},
    ]
    cats = [{"id": 1, "name": "Car"}, {"id": 2, "name": "car"}]
    _write(ds / "annotations/instances.json", _coco([image], anns, cats))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["shapes_added"] == 2 and report["classes_created"] == ["Car"]
    assert report["problems"] == [
        "class 'car' is imported as the class 'Car': class names that differ only in case are"
        " one class"
    ]


# -- class names --------------------------------------------------------------------------
def test_names_of_other_tools_are_kept_and_a_name_we_cannot_hold_is_reported_once(capsys, tmp_path):
    ds = tmp_path / "ds"
    for name in ("a", "b", "c"):
        _png(ds / f"{name}.png")
    _write(ds / "a.json", _labelme("a.png", "tv/monitor", "what?", "bad\nname"))
    _write(ds / "b.json", _labelme("b.png", "bad\nname", "x" * 101))
    _write(ds / "c.json", _labelme("c.png", "a:b"))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["images_added"] == 3
    assert report["classes_created"] == ["tv/monitor", "what?", "a:b"]
    assert report["shapes_added"] == 3
    problems = report["problems"]
    assert len(problems) == 2
    assert problems[0].startswith("class name 'bad\\nname' contains U+000A")
    assert problems[0].endswith("its 2 shape(s) are not imported, on 2 image(s): a.png, b.png")
    assert problems[1].startswith("class name 'xxxx")
    assert "too long (101 > 100 characters); its 1 shape(s)" in problems[1]


def test_a_class_name_with_a_colon_exports_to_voc_without_a_labelmap(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _write(ds / "a.json", _labelme("a.png", "a:b"))
    assert _import(capsys, tmp_path, ds)[0] == 0
    proj = tmp_path / "p.labeler"
    assert _run(capsys, "split", proj)[0] == 0
    code, out, err = _run(capsys, "export", proj, "--format", "voc", "--out", tmp_path / "voc")
    assert code == 0, err
    assert not (tmp_path / "voc/labelmap.txt").exists()
    assert "<name>a:b</name>" in next((tmp_path / "voc/Annotations").glob("*.xml")).read_text()


# -- one bad record must not abort the rest -----------------------------------------------
DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_one_problem_in_every_format(capsys, tmp_path):
    cases = {
        "coco": ("annotations/instances.json", '{"images": ' + DEEP + "}"),
        "labelme": ("b.json", '{"shapes": ' + DEEP + "}"),
        "yolo": ("data.yaml", DEEP),
    }
    for fmt, (rel, text) in cases.items():
        ds = tmp_path / fmt
        _png(ds / "a.png")
        _write(ds / rel, text)
        if fmt == "labelme":
            _write(ds / "a.json", _labelme("a.png", "cat"))
        where = tmp_path / f"p-{fmt}"
        where.mkdir()
        code, report, _ = _import(capsys, where, ds, fmt)
        assert code == 0, fmt
        assert f"{rel}: nested too deeply" in report["problems"], fmt
    ds = tmp_path / "csv"
    _png(ds / "a.png")
    _write(
        ds / "annotations.csv",
        "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json\n"
        f",a.png,40,30,cat,polygon,,,,,{DEEP}\n,a.png,40,30,cat,box,1,1,5,5,\n",
    )
    code, report, _ = _import(capsys, tmp_path, ds, "csv")
    assert code == 0 and report["shapes_added"] == 1
    assert report["problems"] == ["annotations.csv: line 2: points_json: expected [[x, y], ...]"]


@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_text_that_is_not_utf8_is_one_problem_and_utf16_with_a_bom_is_read(capsys, tmp_path, codec):
    ds = tmp_path / "ds"
    _png(ds / "images/train/a.png")
    _png(ds / "images/train/b.png")
    _write(ds / "data.yaml", "train: images/train\nnames: [chat, café]\n".encode("utf-16"))
    _write(ds / "labels/train/a.txt", "1 0.5 0.5 0.2 0.2\n")
    _write(ds / "labels/train/b.txt", "# café\n0 0.5 0.5 0.2 0.2\n".encode(codec))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert (
        code == 0 and report["images_added"] == 1 and report["classes_created"] == ["chat", "café"]
    )
    assert report["problems"] == [
        "labels/train/b.txt: line 1: not valid UTF-8 text; images/train/b.png not imported"
    ]


def test_voc_text_files_that_are_not_utf8_are_problems_and_the_xml_still_reads(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/a.png")
    _write(ds / "Annotations/a.xml", _voc("a.png", "cat"))
    _write(ds / "labelmap.txt", "café:::\n".encode("latin-1"))
    _write(ds / "ImageSets/Main/train.txt", "a\n\xe9\n".encode("latin-1"))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["shapes_added"] == 1
    assert report["problems"] == [
        "labelmap.txt: line 1: not valid UTF-8 text",
        "ImageSets/Main/train.txt: line 2: not valid UTF-8 text",
    ]


def test_short_csv_rows_are_problems_and_the_rest_imports(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _write(
        ds / "annotations.csv",
        "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json\n"
        ",a.png,40\n"
        ",a.png,40,30,cat,box,1,1,5\n"
        "\n"
        "train\n"
        ",a.png,40,30,cat,box,1,1,5,5\n",
    )
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["images_added"] == 1 and report["shapes_added"] == 1
    assert report["problems"] == [
        "annotations.csv: line 2: a short row: no height, class, kind; a.png not imported",
        "annotations.csv: line 3: x1..y2: expected numbers",
        "annotations.csv: line 5: a short row: no file_name, width, height, class, kind",
    ]


@pytest.mark.parametrize(
    "names, problem",
    [
        ("{0: cat, '1': dog}", None),  # an int and a digit string: both indices
        ("{0: cat, one: dog}", "data.yaml: names: key 'one' is not a class index"),
        ("[cat, null]", "data.yaml: names[1]: expected a name, got None"),
        ("[cat, cat]", "data.yaml: names[1]: 'cat' is names[0] too"),
    ],
)
def test_yolo_names_of_mixed_kinds_are_read_or_reported(capsys, tmp_path, names, problem):
    ds = tmp_path / "ds"
    _png(ds / "images/train/a.png")
    _write(ds / "data.yaml", f"train: images/train\nnames: {names}\n")
    _write(ds / "labels/train/a.txt", "0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.4 0.4\n")
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0
    if problem is None:
        assert report["problems"] == [] and report["shapes_added"] == 2
    elif "key" in problem:
        assert report["images_added"] == 0 and report["problems"][0].startswith(problem)
    else:
        assert report["images_added"] == 1 and report["shapes_added"] >= 1
        assert report["problems"][0].startswith(problem)


def test_a_9000_vertex_polygon_round_trips_through_a_checked_csv_export(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png", 4000, 3000)
    angles = np.linspace(0, 2 * np.pi, 9000, endpoint=False)
    pts = [
        [round(2000 + 1400.1234 * np.cos(a), 4), round(1500 + 1400.5678 * np.sin(a), 4)]
        for a in angles
    ]
    doc = {"imagePath": "a.png", "imageWidth": 4000, "imageHeight": 3000, "flags": {}}
    doc["shapes"] = [{"label": "blob", "points": pts, "shape_type": "polygon"}]
    _write(ds / "a.json", json.dumps(doc))
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["shapes_added"] == 1
    proj = tmp_path / "p.labeler"
    assert _run(capsys, "split", proj)[0] == 0
    code, out, err = _run(capsys, "export", proj, "--format", "csv", "--out", tmp_path / "csv")
    assert code == 0, err
    assert len((tmp_path / "csv/annotations.csv").read_text()) > 131_072
    again = tmp_path / "again"
    again.mkdir()
    code, report, _ = _import(capsys, again, tmp_path / "csv")
    assert code == 0 and report["shapes_added"] == 1 and report["problems"] == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.timeout(60)
def test_json_entries_that_are_folders_links_or_fifos_are_reported(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "a.png")
    _write(ds / "a.json", _labelme("a.png", "cat"))
    (ds / "folder.json").mkdir()
    _write(ds / "folder.json/b.json", _labelme("../a.png", "dog"))
    (ds / "broken.json").symlink_to(ds / "gone.json")
    os.mkfifo(ds / "pipe.json")
    os.mkfifo(ds / "pipe.png")
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0 and report["images_added"] == 1 and report["shapes_added"] == 2
    assert sorted(report["problems"]) == [
        "a.png: described twice (a.json; folder.json/b.json): shapes merged (2 in all)",
        "broken.json: cannot read: broken symbolic link",
        "pipe.json: refused: not a regular file",
        "pipe.png: skipped: not a regular file",
    ]


# -- VOC problems name the file and the record --------------------------------------------
def test_voc_problems_name_the_file_and_the_object(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "JPEGImages/a.png")
    _write(
        ds / "Annotations/a.xml", _voc("a.png", "cat").replace("<xmin>2</xmin>", "<xmin>inf</xmin>")
    )
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0
    (problem,) = report["problems"]
    assert problem.startswith("Annotations/a.xml: object[1]: box has a non-finite coordinate")


# -- exports that must pass their own check -----------------------------------------------
def test_a_voc_export_of_a_file_name_with_a_space_passes_its_check(capsys, tmp_path):
    ds = tmp_path / "ds"
    _png(ds / "IMG 0001.png")
    _write(ds / "IMG 0001.json", _labelme("IMG 0001.png", "cat"))
    assert _import(capsys, tmp_path, ds)[0] == 0
    proj = tmp_path / "p.labeler"
    assert _run(capsys, "split", proj)[0] == 0
    code, out, err = _run(capsys, "export", proj, "--format", "voc", "--out", tmp_path / "voc")
    assert code == 0, err
    lists = "".join(p.read_text() for p in (tmp_path / "voc/ImageSets/Main").glob("*.txt"))
    assert lists == "IMG 0001\n"
    again = tmp_path / "again"
    again.mkdir()
    code, report, _ = _import(capsys, again, tmp_path / "voc")
    assert code == 0 and report["shapes_added"] == 1 and report["problems"] == []
    assert _content(again / "p.labeler")["images"][0][1] is not None  # the split came back
