"""Importers: real layouts from other tools, and every kind of bad file reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.core.errors import LabelerError
from labeler.core.formats import detect_format, get_importer, import_dataset
from labeler.core.formats._io import FormatProblem
from labeler.core.formats.yolo import read_yaml


def _image(path: Path, w: int = 40, h: int = 30) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 127, np.uint8))
    return path


def _coco(root: Path, annotations: list, images: list | None = None) -> Path:
    doc = {
        "images": images or [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "annotations": annotations,
        "categories": [{"id": 3, "name": "cat"}, {"id": 1, "name": "dog"}],
    }
    path = root / "annotations/instances_train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))
    _image(root / "images/train/a.png")
    return path


def test_coco_reports_a_bad_bbox_by_key_and_keeps_the_rest(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]},
        {"id": 3, "image_id": 1, "category_id": 9, "bbox": [1, 2, 3, 4]},
        {"id": 4, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]},
    ]
    _coco(tmp_path, anns)
    result = import_dataset("auto", tmp_path)
    assert result.problems == [
        "annotations/instances_train.json: annotations[1].bbox: expected 4 numbers",
        "annotations/instances_train.json: annotations[2].category_id: unknown category 9",
    ]
    (rec,) = result.records
    assert rec.path == "images/train/a.png" and rec.split == "train"
    assert [(s.class_name, s.kind) for s in rec.shapes] == [("cat", "box"), ("dog", "polygon")]
    assert rec.shapes[0].points == ((1, 2), (4, 6))
    assert result.classes == ["dog", "cat"]  # by category id


def test_coco_refuses_file_names_outside_the_root(tmp_path):
    images = [
        {"id": 1, "file_name": "../../etc/passwd", "width": 4, "height": 4},
        {"id": 2, "file_name": "/etc/passwd", "width": 4, "height": 4},
        {"id": 3, "file_name": "a.png", "width": 40, "height": 30},
    ]
    _coco(tmp_path, [], images)
    result = get_importer("coco").read(tmp_path)
    assert len(result.records) == 1
    assert "images[0].file_name" in result.problems[0] and "outside" in result.problems[0]
    assert "images[1].file_name" in result.problems[1] and "absolute" in result.problems[1]


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "annotations/instances_val.json"
    path.parent.mkdir()
    path.write_text('{"images": [\n  {"id": 1,}\n]}')
    result = get_importer("coco").read(tmp_path)
    assert result.records == []
    assert result.problems[0].startswith("annotations/instances_val.json: line 2 column")


def test_yolo_bad_lines_are_reported_with_numbers(tmp_path):
    (tmp_path / "data.yaml").write_text("train: images/train\nnames: [cat, dog]\n")
    _image(tmp_path / "images/train/a.png", 100, 50)
    _image(tmp_path / "images/train/b.png", 100, 50)
    (tmp_path / "labels/train").mkdir(parents=True)
    (tmp_path / "labels/train/a.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n1 0.5 0.5 0.2\n7 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.9 0.1 0.5 0.9\n0 2 0.5 0.1 0.1\n"
    )
    result = import_dataset("auto", tmp_path)
    assert result.problems == [
        "labels/train/a.txt: line 2: expected a class and 4 numbers (box) or 6 or more "
        "(polygon), got 3 numbers",
        "labels/train/a.txt: line 3: class '7' is not an index into names (0..1)",
        "labels/train/a.txt: line 5: coordinates must be normalised to 0..1",
    ]
    a, b = result.records
    assert b.shapes == () and b.split == "train"
    assert [(s.class_name, s.kind) for s in a.shapes] == [("cat", "box"), ("dog", "polygon")]
    assert [v for pt in a.shapes[0].points for v in pt] == pytest.approx([40, 15, 60, 35])


def test_yolo_split_folder_outside_the_root_is_refused(tmp_path):
    root = tmp_path / "ds"
    _image(tmp_path / "elsewhere/images/x.png")
    root.mkdir()
    (root / "data.yaml").write_text("train: ../elsewhere/images\nnames: {0: cat}\n")
    result = get_importer("yolo").read(root)
    assert result.records == []
    assert result.problems == [
        "data.yaml: train: folder '../elsewhere/images' is outside the dataset"
    ]


VOC = """<annotation><filename>{name}</filename>
<size><width>40</width><height>30</height><depth>3</depth></size>
<object><name>cat</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object>
<object><name>dog</name><bndbox><xmin>x</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object>
</annotation>"""


def test_voc_reads_boxes_and_reports_bad_numbers(tmp_path):
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations/a.xml").write_text(VOC.format(name="a.png"))
    (tmp_path / "Annotations/b.xml").write_text(VOC.format(name="../b.png"))
    _image(tmp_path / "JPEGImages/a.png")
    result = import_dataset("auto", tmp_path)
    (rec,) = result.records
    assert rec.path == "JPEGImages/a.png"
    assert rec.shapes[0].points == ((1, 2), (20, 25))
    assert "Annotations/a.xml: object[2]/bndbox/xmin: expected a number, got 'x'" in result.problems
    assert any(p.startswith("Annotations/b.xml: filename:") for p in result.problems)


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<annotations><image name="a.png" width="4" height="4"><tag label="&lol2;"/></image></annotations>
"""


@pytest.mark.parametrize("fmt,rel", [("cvat", "annotations.xml"), ("voc", "Annotations/a.xml")])
def test_xml_with_entities_is_refused_before_parsing(fmt, rel, tmp_path):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BOMB)
    result = get_importer(fmt).read(tmp_path)
    assert result.records == []
    assert result.problems == [f"{rel}: line 2: DOCTYPE declarations are refused (unsafe XML)"]


def test_malformed_xml_names_the_line(tmp_path):
    (tmp_path / "annotations.xml").write_text("<annotations>\n<image name='a.png'>\n</annotations>")
    result = get_importer("cvat").read(tmp_path)
    assert result.problems[0].startswith("annotations.xml: line 3 column")


CVAT = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><labels><label><name>dog</name></label><label><name>cat</name></label></labels></task></meta>
  <image id="0" name="a.png" width="40" height="30" subset="Train">
    <box label="cat" occluded="0" xtl="1.5" ytl="2" xbr="20" ybr="25.25" z_order="0"/>
    <polygon label="dog" occluded="0" points="1.0,1.0;30,2;20,25"/>
    <tag label="cat"/>
    <ellipse label="cat" cx="4" cy="4" rx="2" ry="2"/>
  </image>
  <image id="1" name="../../outside.png" width="4" height="4"/>
</annotations>
"""


def test_cvat_reads_boxes_polygons_tags(tmp_path):
    (tmp_path / "annotations.xml").write_text(CVAT)
    _image(tmp_path / "images/a.png")
    result = import_dataset("auto", tmp_path)
    (rec,) = result.records
    assert (
        rec.path == "images/a.png" and rec.split == "train" and (rec.width, rec.height) == (40, 30)
    )
    assert [(s.class_name, s.kind) for s in rec.shapes] == [
        ("cat", "box"),
        ("dog", "polygon"),
        ("cat", "tag"),
    ]
    assert rec.shapes[0].points == ((1.5, 2), (20, 25.25))
    assert result.classes == ["dog", "cat"]
    assert result.problems[0] == "annotations.xml: image[0]/ellipse[3]: <ellipse> is not supported"
    assert "image[1]@name" in result.problems[1] and "outside" in result.problems[1]


def test_labelme_reads_rectangles_polygons_and_flags(tmp_path):
    _image(tmp_path / "images/a.png")
    doc = {
        "version": "5.4.1",
        "flags": {"outdoor": True, "night": False},
        "imagePath": "../images/a.png",
        "imageData": None,
        "imageHeight": 30,
        "imageWidth": 40,
        "shapes": [
            {"label": "cat", "points": [[20, 25], [1, 2]], "shape_type": "rectangle", "flags": {}},
            {"label": "dog", "points": [[1, 1], [30, 2], [20, 25]], "shape_type": "polygon"},
            {"label": "dog", "points": [[1, 1], [3, 3]], "shape_type": "circle"},
        ],
    }
    (tmp_path / "json").mkdir()
    (tmp_path / "json/a.json").write_text(json.dumps(doc))
    evil = dict(doc, imagePath="../../../etc/passwd")
    (tmp_path / "json/evil.json").write_text(json.dumps(evil))
    absolute = dict(doc, imagePath="/etc/passwd")
    (tmp_path / "json/abs.json").write_text(json.dumps(absolute))
    assert detect_format(tmp_path) == "labelme"
    result = import_dataset("labelme", tmp_path)
    (rec,) = result.records
    assert rec.path == "images/a.png"
    assert [(s.class_name, s.kind) for s in rec.shapes] == [
        ("outdoor", "tag"),
        ("cat", "box"),
        ("dog", "polygon"),
    ]
    assert rec.shapes[1].points == ((1, 2), (20, 25))
    assert "json/a.json: shapes[2].shape_type: 'circle' is not supported" in result.problems
    assert any(
        p.startswith("json/evil.json: imagePath:") and "outside" in p for p in result.problems
    )
    assert any(p.startswith("json/abs.json: imagePath:") for p in result.problems)


def test_imagefolder_reads_class_folders(tmp_path):
    _image(tmp_path / "cat/1.png")
    _image(tmp_path / "dog/sub/2.png", 10, 20)
    result = import_dataset("imagefolder", tmp_path)
    assert [(r.path, r.width, r.height, r.shapes[0].class_name) for r in result.records] == [
        ("cat/1.png", 40, 30, "cat"),
        ("dog/sub/2.png", 10, 20, "dog"),
    ]


def test_csv_reports_bad_rows_by_line(tmp_path):
    _image(tmp_path / "images/train/a.png")
    (tmp_path / "annotations.csv").write_text(
        "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json\n"
        "train,images/train/a.png,40,30,cat,box,1,2,3,4,\n"
        "train,images/train/a.png,40,30,cat,box,1,x,3,4,\n"
        "train,../a.png,40,30,cat,tag,,,,,\n"
    )
    result = import_dataset("auto", tmp_path)
    assert result.records[0].shapes[0].points == ((1, 2), (3, 4))
    assert result.problems[0] == "annotations.csv: line 3: x1..y2: expected numbers"
    assert (
        result.problems[1].startswith("annotations.csv: line 4:")
        and "outside" in result.problems[1]
    )


def test_auto_detect_fails_clearly(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(LabelerError, match="cannot tell the format"):
        import_dataset("auto", tmp_path)
    with pytest.raises(LabelerError, match="not a folder"):
        import_dataset("auto", tmp_path / "missing")


def test_read_yaml_is_pyyaml_safe_with_aliases_capped():
    text = (
        "# Ultralytics style\npath: ../datasets/x  # root\ntrain: images/train\n"
        "val: [images/val, 'more val']\nnames:\n  - cat\n  - \"dog: big\"\n"
        "roboflow:\n  workspace: w\n  version: 2\n  license: CC BY 4.0\n"
        "note: |\n  two\n  lines\n"
    )
    assert read_yaml(text, "d.yaml") == {
        "path": "../datasets/x",
        "train": "images/train",
        "val": ["images/val", "more val"],
        "names": ["cat", "dog: big"],
        "roboflow": {"workspace": "w", "version": 2, "license": "CC BY 4.0"},
        "note": "two\nlines\n",
    }
    assert read_yaml('{"names": {"0": "a"}}', "d.json") == {"names": {"0": "a"}}
    assert read_yaml("base: &b images/train\ntrain: *b\n", "d.yaml")["train"] == "images/train"
    # Billion laughs: nine levels of ten aliases; refused at the alias cap, in no time.
    levels = "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
    )
    text = "a0: &a0 [lol]\n" + levels + "names: *a9\n"
    with pytest.raises(FormatProblem, match="d.yaml: over 100,000 values once its aliases"):
        read_yaml(text, "d.yaml")
    many = "a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    with pytest.raises(FormatProblem, match=r"d.yaml: line 2: more than 100 aliases"):
        read_yaml(many, "d.yaml")
    with pytest.raises(FormatProblem, match="over 100,000 values"):
        read_yaml("names: &r [a, *r]\n", "d.yaml")
    with pytest.raises(FormatProblem, match="d.yaml: nested too deeply"):
        read_yaml("names: " + "[" * 100_000 + "]" * 100_000 + "\n", "d.yaml")
    with pytest.raises(FormatProblem, match="d.yaml: .*could not determine a constructor"):
        read_yaml("names: !!python/object/apply:os.system [echo hi]\n", "d.yaml")
    with pytest.raises(FormatProblem, match="d.yaml: expected a mapping"):
        read_yaml("- a\n- b\n", "d.yaml")
    with pytest.raises(FormatProblem, match="d.yaml: line 2: "):
        read_yaml("a: 1\n b: [\n", "d.yaml")
