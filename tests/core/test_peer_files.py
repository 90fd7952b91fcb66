"""Files in the layouts other tools write come in whole, through the real command line.

``tests/data/peers/`` holds our own minimal files in the layouts of CVAT (a project export,
a video task), COCO's files that are not ``instances_*`` (keypoints, captions, panoptic,
stuff), Roboflow (COCO, YOLOv8, YOLO Darknet), darknet as CVAT's "YOLO 1.1" writes it,
Label Studio's and X-AnyLabeling's YOLO exports, on crops of CC0 photos
(``make_peers.py`` writes them; ``LICENCES.md`` says where everything comes from). Each is
imported into a new project with ``--format auto`` and counted in the project file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from labeler.cli import main

PEERS = Path(__file__).resolve().parents[1] / "data" / "peers"

# sample: (format, images, classes in order, boxes, polygons, tags, splits)
EXPECTED = {
    "cvat-project": (
        "cvat",
        3,
        ["cat", "dog", "tv/monitor", "indoor"],
        2,
        1,
        1,
        {"train": 2, "val": 1},
    ),
    "cvat-video": ("cvat", 5, ["car", "person"], 4, 1, 0, None),
    "coco-keypoints-captions": ("coco", 2, ["person"], 1, 1, 0, {"val": 2}),
    "coco-panoptic-stuff": (
        "coco",
        2,
        ["person", "sky-other-merged", "sky-other"],
        3,
        0,
        0,
        {"val": 2},
    ),
    "roboflow-coco": (
        "coco",
        4,
        ["pets", "cat", "dog"],
        3,
        1,
        0,
        {"train": 2, "val": 1, "test": 1},
    ),
    "roboflow-yolo": ("yolo", 4, ["cat", "dog"], 3, 1, 0, {"train": 2, "val": 1, "test": 1}),
    "darknet-cvat-yolo11": ("darknet", 3, ["cat", "dog"], 3, 0, 0, {"train": 3}),
    "labelstudio-yolo": ("darknet", 2, ["tv/monitor", "what: is?", 'say "hi"'], 3, 0, 0, None),
    "xanylabeling-yolo": ("darknet", 3, ["person", "car", "bicycle"], 2, 1, 0, None),
    "roboflow-darknet": ("darknet", 2, ["cat", "dog"], 2, 0, 0, {"train": 1, "val": 1}),
    # multi-part instances (counted as instances in test_peer_round_trip.py)
    "labelme2coco": ("coco", 2, ["_background_", "cat", "dog", "person"], 0, 9, 0, None),
    "labelme-groups": ("labelme", 1, ["cat", "dog"], 1, 5, 0, None),
    "cvat-groups": ("cvat", 1, ["cat", "dog"], 2, 3, 0, None),
}


def _run(capsys, *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _import(capsys, tmp_path: Path, ds: Path, fmt: str = "auto") -> tuple[int, dict, str]:
    proj = tmp_path / "p.labeler"
    assert _run(capsys, "init", proj)[0] == 0
    code, out, err = _run(capsys, "import", proj, ds, "--format", fmt, "--json")
    assert "Traceback" not in err and "unexpected" not in err, err
    return code, (json.loads(out) if code == 0 else {}), err


def _content(proj: Path) -> dict:
    con = sqlite3.connect(f"file:{proj}?mode=ro", uri=True)
    try:
        images = con.execute("SELECT path, split FROM images").fetchall()
        shapes = con.execute(
            "SELECT i.path, c.name, s.kind, s.geometry FROM shapes s"
            " JOIN images i ON i.id = s.image_id JOIN classes c ON c.id = s.class_id"
        ).fetchall()
        classes = [r[0] for r in con.execute("SELECT name FROM classes ORDER BY position")]
    finally:
        con.close()
    return {"images": images, "shapes": shapes, "classes": classes}


def _copy(sample: str, tmp_path: Path) -> Path:
    ds = tmp_path / sample
    shutil.copytree(PEERS / sample, ds)
    return ds


def test_every_sample_folder_is_counted():
    samples = {p.name for p in PEERS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert samples == set(EXPECTED)


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_peer_sample_imports_whole(capsys, tmp_path, sample):
    fmt, n_images, classes, boxes, polygons, tags, splits = EXPECTED[sample]
    ds = _copy(sample, tmp_path)
    code, report, err = _import(capsys, tmp_path, ds)
    assert code == 0, err
    assert report["format"] == fmt, report["detection"]
    assert report["images_added"] == n_images
    assert report["not_imported"] == []
    got = _content(tmp_path / "p.labeler")
    assert len(got["images"]) == n_images
    assert got["classes"] == classes
    kinds = Counter(kind for _, _, kind, _ in got["shapes"])
    assert (kinds["box"], kinds["polygon"], kinds["tag"]) == (boxes, polygons, tags)
    if splits is not None:
        assert dict(Counter(split for _, split in got["images"])) == splits


def test_cvat_video_tracks_follow_outside_and_keyframes(capsys, tmp_path):
    ds = _copy("cvat-video", tmp_path)
    code, report, _ = _import(capsys, tmp_path, ds)
    assert code == 0
    cars = {
        Path(path).name: json.loads(points)
        for path, name, kind, points in _content(tmp_path / "p.labeler")["shapes"]
        if name == "car"
    }
    # Listed on 0 and 1, frame 2 skipped (interpolated between 1 and 3), outside on 4.
    assert sorted(cars) == [f"frame_00000{i}.jpg" for i in range(4)]
    assert cars["frame_000002.jpg"] == [[20.0, 10.0], [40.0, 40.0]]
    assert any("<points> is not supported" in p for p in report["problems"])


def test_cvat_video_without_its_frames_is_refused_in_one_line(capsys, tmp_path):
    ds = _copy("cvat-video", tmp_path)
    shutil.rmtree(ds / "images")
    code, report, err = _import(capsys, tmp_path, ds, "cvat")
    lines = (report.get("problems") if code == 0 else err.splitlines()) or []
    said = [line for line in lines if "CVAT for video" in line]
    assert len(said) == 1 and "no frame images" in said[0], (code, report, err)
    assert "3 track(s) on frames 0..3" in said[0]
    assert _content(tmp_path / "p.labeler")["images"] == []


def test_coco_files_not_named_instances_report_what_is_not_held(capsys, tmp_path):
    code, report, _ = _import(capsys, tmp_path, _copy("coco-keypoints-captions", tmp_path))
    assert code == 0
    problems = report["problems"]
    assert (
        "annotations/captions_val2017.json: 3 caption(s) not imported: Labeler holds no"
        " captions" in problems
    )
    assert any(
        p.startswith("annotations/person_keypoints_val2017.json: 2 annotation(s) with keypoints")
        for p in problems
    )
    assert any("1 crowd region(s)" in p for p in problems)
    assert not any("described twice" in p for p in problems)  # captions add nothing

    where = tmp_path / "pan"
    where.mkdir()
    code, report, _ = _import(capsys, where, _copy("coco-panoptic-stuff", where))
    assert code == 0
    problems = report["problems"]
    assert any(
        "4 panoptic segment mask(s) (PNG) not imported: their boxes are" in p for p in problems
    )
    assert (
        "annotations/stuff_val2017.json: 2 RLE mask(s) not imported: Labeler holds boxes"
        " and polygons" in problems
    )


def test_a_data_yaml_of_a_billion_laughs_is_refused_in_one_line(capsys, tmp_path):
    ds = _copy("roboflow-yolo", tmp_path)
    levels = "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))
    (ds / "data.yaml").write_text(
        "train: ../train/images\na0: &a0 [lol]\n" + levels + "names: *a9\n"
    )
    code, report, err = _import(capsys, tmp_path, ds, "yolo")
    lines = (report.get("problems") if code == 0 else err.splitlines()) or []
    assert any(
        "data.yaml: over 100,000 values once its aliases are expanded" in line for line in lines
    ), (code, report, err)
    assert _content(tmp_path / "p.labeler")["images"] == []


def test_darknet_reads_nothing_outside_the_dataset(capsys, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "names.txt").write_text("TOPSECRET\n")
    shutil.copy(PEERS / "darknet-cvat-yolo11/obj_train_data/d0.jpg", secret / "far.jpg")
    ds = _copy("darknet-cvat-yolo11", tmp_path)
    (ds / "obj.names").unlink()
    (ds / "obj.names").symlink_to(secret / "names.txt")
    (ds / "obj_train_data/link.jpg").symlink_to(secret / "far.jpg")
    with (ds / "train.txt").open("a") as f:
        f.write(f"{secret / 'far.jpg'}\n../secret/far.jpg\ndata/obj_train_data/link.jpg\n")
    code, report, err = _import(capsys, tmp_path, ds, "darknet")
    out = json.dumps(report) + err
    assert "TOPSECRET" not in out
    if code == 0:
        assert report["images_added"] == 0
        assert any("obj.names: refused" in p for p in report["problems"])
    got = _content(tmp_path / "p.labeler")
    assert got["images"] == [] and "TOPSECRET" not in got["classes"]

    # With its class list back, the listed paths that leave the dataset are refused.
    (ds / "obj.names").unlink()
    (ds / "obj.names").write_text("cat\ndog\n")
    where = tmp_path / "again"
    where.mkdir()
    code, report, err = _import(capsys, where, ds, "darknet")
    assert code == 0, err
    assert report["images_added"] == 3 and report["shapes_added"] == 3
    problems = "\n".join(report["problems"])
    assert "far.jpg' not found" in problems and "link.jpg" in problems
    assert "TOPSECRET" not in json.dumps(report)
