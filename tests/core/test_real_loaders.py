"""Our exports read by the loaders people train with, not by our own importer.

One project holds image-level tags, boxes, polygons, multi-part instances (two polygons of
one object; a box and a polygon of another), images with no shape and an empty val split. It is exported to COCO and to YOLO (detect and segment) and read by pycocotools
(bbox and segm self-evaluation), torchvision's CocoDetection with the v2 wrapper (boxes,
labels, masks) and Ultralytics' own dataset checks (``check_det_dataset``, ``YOLODataset``),
the YOLO export from a moved copy whose original is gone.

Ultralytics is installed without its dependencies (see the Makefile); it runs here with its
settings in a temporary folder, offline, and with every socket refused, so a download or
an update check fails the test instead of reaching the network.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import yaml
from testdata import perfect_detections

from labeler.core.formats import EXPORTERS, ExportItem, Placed, export_dataset
from labeler.core.shapes import Shape, instances

MANIFEST = {"name": "loaders", "created": "2025-01-01T00:00:00Z", "seed": 1}
CLASSES = [(10, "cat"), (20, "dog"), (30, "car")]
CAT, DOG, CAR = 10, 20, 30
INDEX = {cid: i for i, (cid, _) in enumerate(CLASSES)}


def _png(path: Path, w: int, h: int, seed: int) -> Path:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def project(tmp_path: Path) -> list[ExportItem]:
    """Train holds boxes, polygons, a tag, a box-and-polygon instance, a tag-only image and
    a background image; val is empty; test holds a box, two polygons of one class, a
    two-polygon instance of that class and a background image."""
    src = tmp_path / "src"
    src.mkdir()
    specs = [
        ("mixed.png", 96, 64, "train", [
            Shape.box(CAT, 4, 6, 40, 30),
            Shape.polygon(DOG, [(50, 10), (90, 12), (85, 60), (55, 55)]),
            Shape.box(CAR, 10.5, 35.25, 30.75, 60),
            Shape.tag(CAR),
            Shape.box(CAT, 60, 40, 70, 50, group=5),  # one cat seen in two parts
            Shape.polygon(CAT, [(75, 40), (90, 42), (88, 62), (76, 60)], group=5),
        ]),
        ("tag-only.png", 64, 48, "train", [Shape.tag(CAT)]),
        ("background.png", 80, 40, "train", []),
        ("many.png", 120, 90, "test", [
            Shape.box(CAR, 0, 0, 120, 90),
            Shape.polygon(DOG, [(10, 10), (40, 12), (30, 50)]),
            Shape.polygon(DOG, [(60, 20), (110, 25), (100, 80), (70, 70), (65, 40)]),
            Shape.polygon(DOG, [(2, 60), (20, 62), (12, 85)], group=1),  # one dog behind a car
            Shape.polygon(DOG, [(30, 60), (50, 62), (45, 88), (28, 80)], group=1),
        ]),
        ("empty-test.png", 50, 50, "test", []),
    ]  # fmt: skip
    return [
        ExportItem(i, _png(src / name, w, h, i), name, w, h, split, shapes=tuple(shapes))
        for i, (name, w, h, split, shapes) in enumerate(specs, 1)
    ]


def _geometry(items: list[ExportItem]) -> dict[str, list[int]]:
    """Ours: file name -> sorted class indices of its instances of boxes and polygons (tags
    excluded; a multi-part instance once)."""
    return {
        it.file_name: sorted(
            INDEX[parts[0].class_id] for parts in instances(s for s in it.shapes if s.kind != "tag")
        )
        for it in items
    }


# ---------------------------------------------------------------- COCO


def _coco(items: list[ExportItem], out: Path) -> Path:
    report = export_dataset("coco", items, CLASSES, out, manifest=MANIFEST)
    assert report.verified
    assert not (out / "annotations/instances_val.json").exists()  # the val split is empty
    return out


def test_every_coco_instance_has_a_segmentation_and_boxes_come_back_as_boxes(project, tmp_path):
    from labeler.core.formats import get_importer

    out = _coco(project, tmp_path / "coco")
    for split in ("train", "test"):
        doc = json.loads((out / f"annotations/instances_{split}.json").read_text())
        for ann in doc["annotations"]:
            assert ann["segmentation"] and len(ann["segmentation"][0]) >= 6, ann
    back = get_importer("coco").read(out)
    assert back.problems == []
    kinds = sorted(s.kind for r in back.records for s in r.shapes)
    # A box that is one part of a multi-part instance is one of the annotation's polygons.
    want = [
        "polygon" if len(parts) > 1 else s.kind
        for it in project
        for parts in instances(s for s in it.shapes if s.kind != "tag")
        for s in parts
    ]
    assert kinds == sorted(want)


def test_a_multi_part_instance_is_one_coco_annotation_and_comes_back_as_one(project, tmp_path):
    """Issue 14 item 4: one annotation with a polygon per part, bbox the union, area the sum;
    read back, its parts are one instance again."""
    from labeler.core.formats import get_importer
    from labeler.core.formats.model import imported_instances

    out = _coco(project, tmp_path / "coco")
    doc = json.loads((out / "annotations/instances_test.json").read_text())
    many = next(i["id"] for i in doc["images"] if i["file_name"] == "many.png")
    anns = [a for a in doc["annotations"] if a["image_id"] == many]
    assert len(anns) == 4  # a box, two dogs, and one dog in two parts
    (two,) = [a for a in anns if len(a["segmentation"]) == 2]
    assert two["bbox"] == [2, 60, 48, 28]  # x 2..50, y 60..88
    parts = [s for s in project[3].shapes if s.group == 1]
    assert two["area"] == pytest.approx(sum(s.area() for s in parts))
    back = {r.path: r for r in get_importer("coco").read(out).records}
    for it in project:
        rec = back.get(f"images/{it.split}/{it.file_name}")
        if rec is not None:
            assert imported_instances(rec.shapes) == len(_geometry([it])[it.file_name])


def test_coco_self_evaluates_to_ap_1_in_pycocotools_bbox_and_segm(project, tmp_path, capsys):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    out = _coco(project, tmp_path / "coco")
    for split in ("train", "test"):
        gt = COCO(str(out / f"annotations/instances_{split}.json"))
        anns = gt.loadAnns(gt.getAnnIds())
        assert len(anns) == sum(len(v) for k, v in _geometry(project).items() if _split(k) == split)
        for iou in ("bbox", "segm"):
            dets = perfect_detections(gt, anns, iou)
            ev = COCOeval(gt, gt.loadRes(dets), iou)  # a KeyError here was issue 14's item 1
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            assert ev.stats[0] == pytest.approx(1.0), (split, iou)


def _split(file_name: str) -> str:
    return {"many.png": "test", "empty-test.png": "test"}.get(file_name, "train")


def test_torchvision_v2_wrapper_gives_aligned_boxes_labels_and_masks(project, tmp_path):
    import torch
    from torchvision import datasets
    from torchvision.ops import masks_to_boxes

    out = _coco(project, tmp_path / "coco")
    want = _geometry(project)
    seen = set()
    for split in ("train", "test"):
        base = datasets.CocoDetection(
            str(out / "images" / split), str(out / f"annotations/instances_{split}.json")
        )
        wrapped = datasets.wrap_dataset_for_transforms_v2(
            base, target_keys={"boxes", "labels", "masks"}
        )
        for k, image_id in enumerate(base.ids):
            name = base.coco.imgs[image_id]["file_name"]
            seen.add(name)
            _, target = wrapped[k]
            n = len(want[name])
            if n == 0:  # the wrapper gives no keys for an image without annotations
                assert "boxes" not in target or len(target["boxes"]) == 0
                continue
            boxes, labels, masks = target["boxes"], target["labels"], target["masks"]
            assert len(boxes) == len(labels) == masks.shape[0] == n, name
            assert sorted(int(v) - 1 for v in labels) == want[name]  # category ids from 1
            # Aligned: mask i lies on box i (rasterised, so within a pixel or two).
            from_masks = masks_to_boxes(masks.to(torch.bool)).float()
            assert torch.allclose(from_masks, boxes.float(), atol=2.0), name
    assert seen == set(want)


# ---------------------------------------------------------------- Ultralytics


@pytest.fixture(scope="module")
def ultralytics(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """Ultralytics' dataset checks, imported with settings in a temporary folder, offline,
    every socket refused and its font download (for plots only) stubbed."""
    attempts: list[str] = []

    def refused(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network access refused in tests")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("ultralytics-settings")))
        mp.setenv("YOLO_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", refused)
        mp.setattr(socket, "getaddrinfo", refused)
        data_utils = importlib.import_module("ultralytics.data.utils")
        dataset = importlib.import_module("ultralytics.data.dataset")
        mp.setattr(data_utils, "check_font", lambda *a, **k: None)
        yield SimpleNamespace(
            check_det_dataset=data_utils.check_det_dataset, YOLODataset=dataset.YOLODataset
        )
    assert attempts == [], f"Ultralytics tried the network: {attempts}"


def _moved_yolo(items: list[ExportItem], tmp_path: Path, fmt: str) -> tuple[Path, Path]:
    """Export, copy the export elsewhere, and delete the original: a moved export."""
    out = tmp_path / f"{fmt}-original"
    report = export_dataset(fmt, items, CLASSES, out, manifest=MANIFEST)
    assert report.verified
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    return out, moved


@pytest.mark.parametrize(("fmt", "task"), [("yolo-detect", "detect"), ("yolo-segment", "segment")])
def test_ultralytics_checks_and_loads_a_moved_yolo_export(
    ultralytics, project, tmp_path, fmt, task, monkeypatch
):
    original, moved = _moved_yolo(project, tmp_path, fmt)
    monkeypatch.chdir(tmp_path)  # not the export's folder: resolution must not need it
    data = ultralytics.check_det_dataset(str(moved / "data.yaml"))
    assert Path(data["path"]).resolve() == moved.resolve()
    for split in ("train", "val", "test"):
        assert Path(data[split]) == (moved / "images" / split).resolve()
        assert str(original) not in data[split]
    assert data["names"] == {0: "cat", 1: "dog", 2: "car"} and data["nc"] == 3
    assert list((moved / "images/val").iterdir()) == []  # the empty split: key and folder

    want = _geometry(project)
    got = {}
    for split in ("train", "test"):
        ds = ultralytics.YOLODataset(
            img_path=data[split], data=data, task=task, imgsz=128, augment=False
        )
        for label in ds.labels:
            name = Path(label["im_file"]).name
            assert Path(label["im_file"]).resolve().is_relative_to(moved.resolve())
            got[name] = sorted(int(c) for c in label["cls"].reshape(-1))
            assert len(label["bboxes"]) == len(got[name])
            if task == "segment":
                assert len(label["segments"]) == len(got[name])
            if name == "many.png":  # the two-part dog is one label: the box around both parts
                union = np.array([26 / 120, 74 / 90, 48 / 120, 28 / 90])  # x 2..50, y 60..88
                assert np.isclose(label["bboxes"], union, atol=1e-4).all(axis=1).any()
    assert got == want


def test_yolo_data_yaml_is_relative_and_says_which_split_is_empty(project, tmp_path):
    out = tmp_path / "yolo"
    export_dataset("yolo", project, CLASSES, out, manifest=MANIFEST)
    text = (out / "data.yaml").read_text()
    data = yaml.safe_load(text)
    assert "path" not in data
    assert (data["train"], data["val"], data["test"]) == (
        "images/train",
        "images/val",
        "images/test",
    )
    assert "# val: no image is in the val split" in text

    exporter = EXPORTERS["yolo"]
    placed = [p for p in exporter.place(project, dict(CLASSES)) if isinstance(p, Placed)]
    notes = exporter.notes(placed)
    assert len(notes) == 2 and notes[0].startswith("the val split is empty")
    assert notes[1].startswith("2 multi-part instance(s) written as one label line each")
    coco_notes = EXPORTERS["coco"].notes(placed)
    assert coco_notes == ["the val split is empty: no annotations/instances_val.json was written"]


def test_a_relative_data_yaml_resolves_from_the_working_folder_too(ultralytics, project, tmp_path):
    """``yolo train data=data.yaml`` run inside the (moved) export folder."""
    _, moved = _moved_yolo(project, tmp_path, "yolo")
    cwd = os.getcwd()
    os.chdir(moved)
    try:
        data = ultralytics.check_det_dataset("data.yaml")
    finally:
        os.chdir(cwd)
    assert Path(data["train"]) == (moved / "images/train").resolve()


def test_grouping_is_part_of_an_exports_fingerprint(project):
    """Two exports whose shapes differ only in which parts make one instance are two
    datasets; the group numbers themselves (the store's) do not count."""
    from dataclasses import replace

    from labeler.core.formats.export import fingerprint

    many = project[3]
    alone = replace(many, shapes=tuple(s.in_group(None) for s in many.shapes))
    renumbered = replace(many, shapes=tuple(s.in_group(s.group and 99) for s in many.shapes))
    prints = {
        k: fingerprint([*project[:3], it, *project[4:]], CLASSES, {})
        for k, it in (("grouped", many), ("alone", alone), ("renumbered", renumbered))
    }
    assert prints["grouped"] != prints["alone"]
    assert prints["grouped"] == prints["renumbered"]  # the numbers are the store's, not data
