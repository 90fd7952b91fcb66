"""Exports checked by real loaders, round trips, safety and determinism."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from testdata import perfect_detections

from labeler.core.errors import LabelerError
from labeler.core.formats import (
    EXPORTERS,
    IMPORTERS,
    ExportCancelled,
    ExportItem,
    Placed,
    export_dataset,
    get_importer,
    register_exporter,
)
from labeler.core.shapes import Shape

MANIFEST = {"name": "v1", "created": "2025-01-01T00:00:00Z", "seed": 7}


def _bbox_box(s: Shape) -> tuple[str, tuple]:
    x1, y1, x2, y2 = s.bbox()
    return "box", ((x1, y1), (x2, y2))


def _corners(s: Shape) -> tuple[str, tuple]:
    if s.kind == "polygon":
        return "polygon", s.points
    (x1, y1), (x2, y2) = s.points
    return "polygon", ((x1, y1), (x2, y1), (x2, y2), (x1, y2))


def _expected(fmt: str, item: ExportItem, names: dict[int, str]):
    """What each format can hold of an item, derived from the documented rules, not from
    the exporter; None means the format skips the image. Returns (shapes, tolerance)."""
    geo = [s for s in item.shapes if s.kind != "tag"]
    if fmt in ("coco",):
        return [(names[s.class_id], s.kind, s.points) for s in geo], 0.001
    if fmt == "csv":
        return [(names[s.class_id], s.kind, s.points) for s in item.shapes], 0.001
    if fmt == "voc":
        return [(names[s.class_id], *_bbox_box(s)) for s in geo], 1.0
    if fmt in ("yolo", "yolo-segment"):  # the fixture has polygons, so auto picks segment
        return [(names[s.class_id], *_corners(s)) for s in geo], 0.05
    if fmt == "yolo-detect":
        return [(names[s.class_id], *_bbox_box(s)) for s in geo], 0.05
    if fmt == "imagefolder":
        tags = {s.class_id for s in item.shapes if s.kind == "tag"}
        return ([(names[tags.pop()], "tag", ())], 0.0) if len(tags) == 1 else (None, 0.0)
    raise AssertionError(f"format {fmt!r} is registered but has no round-trip rule here")


def _close(a, b, tol) -> bool:
    return len(a) == len(b) and all(
        abs(x1 - x2) <= tol + 1e-9 and abs(y1 - y2) <= tol + 1e-9
        for (x1, y1), (x2, y2) in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_every_format_round_trips(fmt, dataset, tmp_path):
    items, classes = dataset
    names = dict(classes)
    out = tmp_path / f"out-{fmt}"
    report = export_dataset(fmt, items, classes, out, manifest=MANIFEST)
    assert report.verified
    result = get_importer(EXPORTERS[fmt].importer).read(out)
    assert result.problems == []
    by_name = {}
    for rec in result.records:
        match = [it for it in items if rec.path.endswith("/" + it.file_name)]
        assert len(match) == 1, rec.path
        by_name[match[0].file_name] = rec
    for it in items:
        want, tol = _expected(fmt, it, names)
        if want is None:
            assert it.file_name not in by_name
            assert it.file_name in {f for f, _ in report.skipped}
            continue
        rec = by_name[it.file_name]
        assert rec.split == it.split and (rec.width, rec.height) == (it.width, it.height)
        pool = list(rec.shapes)
        for name, kind, pts in want:
            hit = next(
                (
                    g
                    for g in pool
                    if (g.class_name, g.kind) == (name, kind) and _close(g.points, pts, tol)
                ),
                None,
            )
            assert hit is not None, f"{fmt}: {it.file_name}: {name} {kind} {pts} not in {pool}"
            pool.remove(hit)
        assert pool == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["version"] == MANIFEST
    assert {i["file_name"]: i["generated"] for i in manifest["images"]}.get("gen.png") in (
        True,
        None,
    )


def test_coco_loads_in_pycocotools_and_self_evaluates_to_ap_1(dataset, tmp_path, capsys):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    items, classes = dataset
    export_dataset("coco", items, classes, tmp_path / "coco", manifest=MANIFEST)
    ann = tmp_path / "coco/annotations/instances_train.json"
    gt = COCO(str(ann))
    assert sorted(c["name"] for c in gt.loadCats(gt.getCatIds())) == ["car", "cat", "dog"]
    assert len(gt.getImgIds()) == 5 and min(gt.getImgIds()) == 1
    assert min(gt.getAnnIds()) == 1
    for iou in ("bbox", "segm"):
        anns = gt.loadAnns(gt.getAnnIds())
        if iou == "segm":
            anns = [a for a in anns if "segmentation" in a]
        dets = perfect_detections(gt, anns, iou)
        if iou == "segm":  # evaluate only images whose GT are all polygons
            gt_seg = COCO()
            doc = json.loads(ann.read_text())
            doc["annotations"] = [a for a in doc["annotations"] if "segmentation" in a]
            gt_seg.dataset = doc
            gt_seg.createIndex()
            ev = COCOeval(gt_seg, gt_seg.loadRes(dets), iou)
        else:
            ev = COCOeval(gt, gt.loadRes(dets), iou)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        assert ev.stats[0] == pytest.approx(1.0), iou
    # a polygon's bbox and area come from the polygon
    poly = next(a for a in gt.loadAnns(gt.getAnnIds()) if "labeler_shape" not in a)
    assert poly["iscrowd"] == 0
    assert poly["area"] == pytest.approx(
        Shape.polygon(0, [(150, 30), (320, 40), (300, 280), (160, 270)]).area()
    )
    assert poly["bbox"] == [150, 30, 170, 250]


def test_torchvision_reads_imagefolder_and_coco(dataset, tmp_path):
    from torchvision import datasets

    items, classes = dataset
    export_dataset("imagefolder", items, classes, tmp_path / "if", manifest=MANIFEST)
    train = datasets.ImageFolder(str(tmp_path / "if/train"))
    assert train.classes == ["car", "cat"]
    assert Counter(train.classes[t] for t in train.targets) == {"cat": 3, "car": 1}
    img, _ = train[0]
    assert img.size[0] > 0

    export_dataset("coco", items, classes, tmp_path / "coco", manifest=MANIFEST)
    det = datasets.CocoDetection(
        str(tmp_path / "coco/images/train"), str(tmp_path / "coco/annotations/instances_train.json")
    )
    assert len(det) == 5
    by_file = {det.coco.imgs[i]["file_name"]: k for k, i in enumerate(det.ids)}
    image, anns = det[by_file["s0.png"]]
    assert image.size == (64, 48)
    assert sorted(a["bbox"] for a in anns) == [[1, 2, 39, 28], [10.4, 11.6, 49.8, 35.4]]


def test_yolo_layout_data_yaml_and_background_image(dataset, tmp_path):
    items, classes = dataset
    out = tmp_path / "yolo"
    export_dataset("yolo-detect", items, classes, out, manifest=MANIFEST)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert "path" not in data  # relative to data.yaml: the export can be moved (ADR 0020)
    assert data["train"] == "images/train" and data["test"] == "images/test"
    assert data["names"] == {0: "cat", 1: "dog", 2: "car"}
    assert (out / "labels/train/s1.txt").read_text() == ""  # background image
    assert (out / "images/train/cifar/c1.jpg").is_file()
    lines = (out / "labels/train/s0.txt").read_text().splitlines()
    assert lines[0] == "2 0.320312 0.333333 0.609375 0.583333"
    seg = tmp_path / "seg"
    export_dataset("yolo", items, classes, seg, manifest=MANIFEST)
    for label in (seg / "labels").rglob("*.txt"):
        counts = {len(line.split()) for line in label.read_text().splitlines()}
        assert 5 not in counts, f"{label} mixes boxes into a segment file"


def test_unchanged_images_are_linked_and_strip_metadata_reencodes(dataset, tmp_path):
    items, classes = dataset
    out = tmp_path / "csv"
    report = export_dataset("csv", items, classes, out, manifest=MANIFEST)
    assert report.reencoded == 0 and report.linked + report.copied == len(items)
    if report.linked:
        assert os.path.samefile(out / "images/train/chelsea.jpg", items[0].source_path)
    stripped = tmp_path / "stripped"
    report = export_dataset("csv", items, classes, stripped, manifest=MANIFEST, strip_metadata=True)
    assert report.reencoded == len(items)
    assert b"Exif" not in (stripped / "images/train/chelsea.jpg").read_bytes()[:4096]


def test_rotated_jpeg_is_written_upright(tmp_path):
    from PIL import Image

    src = tmp_path / "rot.jpg"
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # the stored left half is white
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise: 20 wide, 40 high
    Image.fromarray(pixels).save(src, exif=exif, quality=95)
    item = ExportItem(1, src, "rot.jpg", 20, 40, "train", (Shape.box(1, 0, 0, 20, 20),))
    report = export_dataset("coco", [item], [(1, "a")], tmp_path / "out", manifest={})
    assert report.reencoded == 1
    out = tmp_path / "out/images/train/rot.jpg"
    raw = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)  # ignores any EXIF tag
    assert raw.shape[:2] == (40, 20)
    upright = np.asarray(Image.open(src).transpose(Image.Transpose.ROTATE_270))
    assert np.abs(raw[..., ::-1].astype(int) - upright.astype(int)).mean() < 6
    assert raw[:20].mean() > 200 and raw[20:].mean() < 50  # the white half is now on top


def test_non_empty_target_is_refused_without_overwrite(dataset, tmp_path):
    items, classes = dataset
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(LabelerError, match="not empty"):
        export_dataset("coco", items, classes, out, manifest=MANIFEST)
    assert (out / "keep.txt").read_text() == "mine"
    # --overwrite replaces only an earlier export of ours, never an arbitrary folder
    with pytest.raises(LabelerError, match="not an export of ours"):
        export_dataset("coco", items, classes, out, manifest=MANIFEST, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    export_dataset("coco", items, classes, out, manifest=MANIFEST)
    export_dataset("coco", items, classes, out, manifest=MANIFEST, overwrite=True)
    assert (out / "manifest.json").is_file()


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_cancel_halfway_leaves_old_target_and_no_temp(dataset, tmp_path):
    items, classes = dataset
    out = tmp_path / "out"
    export_dataset("yolo", items, classes, out, manifest={"name": "old"})
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 4

    with pytest.raises(ExportCancelled):
        export_dataset(
            "yolo",
            items,
            classes,
            out,
            manifest={"name": "new"},
            overwrite=True,
            should_stop=should_stop,
        )
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert _leftovers(tmp_path) == []


def test_missing_source_image_fails_cleanly(dataset, tmp_path):
    items, classes = dataset
    out = tmp_path / "out"
    export_dataset("voc", items, classes, out, manifest={"name": "old"})
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    items[5].source_path.unlink()
    with pytest.raises(LabelerError, match="s2.png: source image not found"):
        export_dataset("voc", items, classes, out, manifest={"name": "new"}, overwrite=True)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert json.loads((out / "manifest.json").read_text())["version"] == {"name": "old"}
    assert _leftovers(tmp_path) == []
    with pytest.raises(LabelerError):
        export_dataset("voc", items, classes, tmp_path / "fresh", manifest={})
    assert not (tmp_path / "fresh").exists() and _leftovers(tmp_path) == []


class _LossyExporter:
    """A plugin exporter that silently drops every second box: the check must catch it."""

    name = "test-lossy"
    importer = "csv"
    tolerance_px = 0.001

    def place(self, items, names):
        return [Placed(it, f"images/{it.split}/{it.file_name}", it.shapes) for it in items]

    def write(self, placed, classes, root, final_dir):
        lossy = [Placed(p.item, p.path, p.shapes[::2]) for p in placed]
        return EXPORTERS["csv"].write(lossy, classes, root, final_dir)


def test_check_after_export_catches_a_lossy_plugin(dataset, tmp_path):
    items, classes = dataset
    register_exporter(_LossyExporter())
    try:
        with pytest.raises(LabelerError, match="export check failed: .*chelsea.jpg: shapes"):
            export_dataset("test-lossy", items, classes, tmp_path / "out", manifest={})
        with pytest.raises(LabelerError, match="already registered"):
            register_exporter(_LossyExporter())
    finally:
        EXPORTERS.unregister("test-lossy")
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_exports_are_deterministic(fmt, dataset, tmp_path):
    items, classes = dataset
    out = tmp_path / "out"

    def snapshot() -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix not in (".jpg", ".png")
        }

    export_dataset(fmt, items, classes, out, manifest=MANIFEST)
    first = snapshot()
    export_dataset(fmt, list(reversed(items)), classes, out, manifest=MANIFEST, overwrite=True)
    assert snapshot() == first
    assert "manifest.json" in first


def test_manifest_lists_files_hashes_splits_and_generated(dataset, tmp_path):
    items, classes = dataset
    export_dataset("coco", items, classes, tmp_path / "out", manifest=MANIFEST)
    doc = json.loads((tmp_path / "out/manifest.json").read_text())
    images = {i["file_name"]: i for i in doc["images"]}
    assert images["gen.png"]["generated"] is True and images["gen.png"]["split"] == "train"
    assert images["s2.png"]["generated"] is False and images["s2.png"]["split"] == "val"
    import hashlib

    data = (tmp_path / "out" / images["s2.png"]["file"]).read_bytes()
    assert images["s2.png"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert {f["file"] for f in doc["annotation_files"]} == {
        "annotations/instances_train.json",
        "annotations/instances_val.json",
        "annotations/instances_test.json",
    }


def test_bad_input_is_refused(dataset, tmp_path):
    items, classes = dataset
    with pytest.raises(LabelerError, match="unknown export format"):
        export_dataset("tfrecord", items, classes, tmp_path / "o", manifest={})
    with pytest.raises(LabelerError, match="generated image can only"):
        ExportItem(1, tmp_path / "a.png", "a.png", 1, 1, "val", generated=True)
    with pytest.raises(LabelerError, match="outside"):
        ExportItem(1, tmp_path / "a.png", "../a.png", 1, 1, "train")
    twin = ExportItem(99, items[3].source_path, "s0.jpg", 64, 48, "val")
    with pytest.raises(LabelerError, match="share the export file name"):
        export_dataset("coco", [*items, twin], classes, tmp_path / "o", manifest={})
    with pytest.raises(LabelerError, match="unknown class id"):
        export_dataset("coco", items, classes[:2], tmp_path / "o", manifest={})
    wrong = ExportItem(1, items[3].source_path, "s0.png", 65, 48, "train")
    with pytest.raises(LabelerError, match="64x48 on disk but 65x48"):
        export_dataset("csv", [wrong], classes, tmp_path / "o", manifest={})
    assert not (tmp_path / "o").exists()


def test_every_importer_is_registered_with_detect():
    assert set(IMPORTERS) >= {"coco", "yolo", "voc", "labelme", "cvat", "csv", "imagefolder"}
    for exporter in EXPORTERS.values():
        assert exporter.importer in IMPORTERS
