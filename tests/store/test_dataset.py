"""Splits, exports and annotation imports of a real project (store + core together)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from testdata import DEMO_PHOTOS

from labeler.app.annotations import import_annotations
from labeler.app.exports import export_project
from labeler.app.imports import import_folders
from labeler.app.splits import split_project
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.store.project import Project
from labeler.store.versions import list_versions


@pytest.fixture
def boxed(project, photos):
    """The demo photos with a box and a polygon each, in two classes."""
    import_folders(project, [photos])
    a, b = project.add_class("thing"), project.add_class("other")
    for n, img in enumerate(project.images()):
        cls = a if n % 2 else b
        project.add_shape(img.id, Shape.box(cls.id, 10, 20, img.width // 2, img.height // 2))
        project.add_shape(img.id, Shape.polygon(cls.id, [(30, 30), (90, 40), (60, 100)]))
    return project


def test_split_keeps_near_duplicates_together_and_is_stable(project, tmp_path, cifar_subset):
    src = tmp_path / "near"
    src.mkdir()
    original = cv2.imread(str(DEMO_PHOTOS / "astronaut.jpg"))
    cv2.imwrite(str(src / "a.jpg"), original)
    cv2.imwrite(str(src / "a-small.jpg"), cv2.resize(original, (256, 256)))
    import_folders(project, [src, cifar_subset], labels_from_folders=True)
    for seed in range(6):
        split_project(project, (0.5, 0.25, 0.25), seed, reshuffle=True)
        s = {i.path.rsplit("/", 1)[-1]: i.split for i in project.images()}
        assert s["a.jpg"] == s["a-small.jpg"]
    before = {i.id: i.split for i in project.images()}
    extra = tmp_path / "more"
    shutil.copytree(DEMO_PHOTOS, extra)
    import_folders(project, [extra])
    plan = split_project(project, (0.5, 0.25, 0.25), 99)
    after = {i.id: i.split for i in project.images()}
    assert all(after[i] == s for i, s in before.items())  # old images keep their split
    assert len(plan.new) == 8 and all(after[i] for i in plan.new)


def test_generated_images_only_ever_go_to_train(project, cifar_subset):
    import_folders(project, [cifar_subset], labels_from_folders=True)
    gen = project.images()[0]
    project.conn.execute("UPDATE images SET provenance = 'generated' WHERE id = ?", (gen.id,))
    for seed in range(5):
        split_project(project, (0.2, 0.4, 0.4), seed, reshuffle=True)
        assert project.image(gen.id).split == "train"


def test_coco_export_loads_in_pycocotools_and_is_recorded(boxed, tmp_path):
    from pycocotools.coco import COCO

    outcome = export_project(boxed, "coco", tmp_path / "v1", seed=3)
    assert outcome.report.verified and outcome.auto_split == 8
    total = 0
    for split, n in outcome.report.images.items():
        coco = COCO(str(tmp_path / "v1" / "annotations" / f"instances_{split}.json"))
        assert len(coco.getImgIds()) == n
        total += len(coco.getAnnIds())
    assert total == 16
    assert outcome.report.warnings == []  # boxes and polygons: COCO holds both
    (version,) = list_versions(boxed)
    assert version.format == "coco" and version.fingerprint == outcome.fingerprint
    manifest = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    assert manifest["version"]["fingerprint"] == outcome.fingerprint
    assert manifest["version"]["tool"] == "labeler"


def test_reexport_gives_identical_files(boxed, tmp_path):
    a = export_project(boxed, "yolo", tmp_path / "a", seed=1)
    b = export_project(boxed, "yolo", tmp_path / "b", seed=1)
    assert a.fingerprint == b.fingerprint
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.txt"))
    assert files_a
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_export_refuses_missing_files_and_writes_nothing(boxed, tmp_path):
    victim = boxed.resolve(boxed.images()[0])
    victim.unlink()
    with pytest.raises(LabelerError, match="1 image file"):
        export_project(boxed, "coco", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list_versions(boxed) == []
    assert {i.split for i in boxed.images()} == {None}  # the automatic split is not kept


def _summary(p: Project, *, boxes_only: bool = False):
    names = {c.id: c.name for c in p.classes()}
    return sorted(
        (img.sha256, names[s.class_id])
        + (
            ("bbox", *map(round, s.bbox()))
            if boxes_only
            else (s.kind, *map(round, sum(s.points, ())))
        )
        for img in p.images()
        for s in p.shapes(img.id)
    )


@pytest.mark.parametrize("fmt", ["coco", "csv", "yolo"])
def test_round_trip_through_each_format_gives_back_the_shapes(boxed, tmp_path, fmt):
    # YOLO cannot mix boxes and polygons in one file: a segmentation export writes boxes as
    # 4-corner polygons, so there the round trip is compared by bounding boxes.
    lossy = fmt == "yolo"
    export_project(boxed, fmt, tmp_path / fmt)
    with Project.create(tmp_path / f"{fmt}.labeler") as fresh:
        report = import_annotations(fresh, tmp_path / fmt, fmt)
        assert report.problems == [] and report.images_added == 8
        assert _summary(fresh, boxes_only=lossy) == _summary(boxed, boxes_only=lossy)
        again = import_annotations(fresh, tmp_path / fmt, fmt)
        assert (again.images_added, again.shapes_added) == (0, 0)


def test_annotation_import_refuses_paths_outside_the_dataset(project, tmp_path, photos):
    root = tmp_path / "ds"
    root.mkdir()
    shutil.copy(photos / "coffee.jpg", root / "coffee.jpg")
    coco = {
        "images": [
            {"id": 1, "file_name": "coffee.jpg", "width": 600, "height": 400},
            {"id": 2, "file_name": "../photos/rocket.jpg", "width": 640, "height": 427},
        ],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]}],
        "categories": [{"id": 1, "name": "cup"}],
    }
    (root / "instances.json").write_text(json.dumps(coco))
    report = import_annotations(project, root, "coco")
    assert report.images_added == 1 and report.shapes_added == 1
    assert any("rocket.jpg" in p for p in report.problems)
    (img,) = project.images()
    assert project.shapes(img.id)[0].points == ((1, 2), (31, 42))


def test_what_a_format_cannot_hold_is_said(boxed, tmp_path):
    first = boxed.images()[0]
    boxed.set_tag(first.id, boxed.classes()[0].id)
    coco = export_project(boxed, "coco", tmp_path / "c").report.warnings
    assert coco == ["coco holds no image-level tags: 1 tag(s) were not written"]
    voc = export_project(boxed, "voc", tmp_path / "v").report.warnings
    assert "voc: 8 polygon(s) were written as their bounding boxes" in voc


def test_a_project_without_classes_is_refused(project, photos, tmp_path):
    import_folders(project, [photos])
    with pytest.raises(LabelerError, match="no classes"):
        export_project(project, "yolo", tmp_path / "y")


def test_imagefolder_import_takes_every_image_and_counts_those_outside_class_folders(
    project, tmp_path
):
    """Issue 13: loose images (at the top, directly in a split folder) and the images of a
    folder beside the split folders come in without a class, counted; odd entries named like
    images, and hidden folders, are each reported; nothing is left out in silence."""
    root = tmp_path / "ds"
    png = (DEMO_PHOTOS / "coins.png").read_bytes()

    def put(rel: str, n: int) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[: 20 + n, :30]
        cv2.imwrite(str(path), img)

    put("train/cat/a.png", 0)
    put("train/cat/deep/b.png", 1)
    put("val/dog/c.png", 2)
    put("train/loose.png", 3)
    put("top.png", 4)
    put("valid/cat/d.png", 5)  # Roboflow's name for val: beside the splits, not one of them
    put("train/.ipynb_checkpoints/e.png", 6)
    os.mkfifo(root / "train" / "cat" / "pipe.png")
    (root / "val" / "dog" / "gone.png").symlink_to(root / "nowhere.png")
    report = import_annotations(project, root, "imagefolder")
    problems = "\n".join(report.problems)
    assert report.images_added == 6 and report.shapes_added == 3
    assert "the dataset's top folder: 1 image(s) outside any class folder" in problems
    assert "train: 1 image(s) outside any class folder imported without a class" in problems
    assert "valid: 1 image(s) imported without a class or split" in problems
    assert "train/.ipynb_checkpoints: skipped: a hidden folder" in problems
    assert "train/cat/pipe.png: skipped: not a regular file" in problems
    assert "val/dog/gone.png: skipped: a broken symbolic link" in problems
    by_name = {Path(i.path).name: i for i in project.images()}
    assert by_name["loose.png"].split == "train" and by_name["d.png"].split is None
    assert not project.shapes(by_name["top.png"].id) and not project.shapes(by_name["d.png"].id)
    assert [s.kind for s in project.shapes(by_name["b.png"].id)] == ["tag"]


def test_labels_from_folders_reports_the_images_lying_in_the_source_folder(project, cifar_subset):
    shutil.copy(DEMO_PHOTOS / "coins.png", cifar_subset / "loose.png")
    report = import_folders(project, [cifar_subset], labels_from_folders=True)
    assert report.added == 13 and report.tags_added == 12 and report.untagged == 1
    assert [(u.path, u.images) for u in report.untagged_folders] == [(str(cifar_subset), 1)]
