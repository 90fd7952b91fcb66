"""What an outside attack on imports found, each now a test run as the attacker ran it: the
real `labeler` command on a real project on disk, asserting what a user sees (the report's
lines, the shapes the project holds, what each export writes).

D2: COCO re-imports de-duplicated part by part (a part of a group dropped, a duplicate
annotation gone without a word). D3: shapes with no area or off the image imported without
a word and exported as zero-area objects. D7: a project named with '..' or through a link
stored absolute paths and could not find its images. And the minor ones: a bad CSV group
dropped the row, a 100,000-character image name reached SQLite, a read-only project could
not even be read.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
from testdata import fork_cli_unprivileged

LABELER = Path(sys.executable).parent / "labeler"
W, H = 451, 300  # the attacker's chelsea.jpg


def cli(*argv, cwd=None, ok: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [LABELER, *map(str, argv)], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    if ok:
        assert out.returncode == 0, out.stderr
    return out


def one_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0, out.stdout
    assert out.stderr.startswith("labeler: error: ") and out.stderr.count("\n") == 1, out.stderr
    return out.stderr


def image(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    return path


def coco(folder: Path, annotations: list[dict], seed: int = 0) -> Path:
    image(folder / "chelsea.jpg", seed)
    for k, a in enumerate(annotations, 1):
        a.update(id=k, image_id=1, category_id=1, iscrowd=0, area=1)
    doc = {
        "images": [{"id": 1, "file_name": "chelsea.jpg", "width": W, "height": H}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": annotations,
    }
    (folder / "ann.json").write_text(json.dumps(doc))
    return folder


def seg(*rings: list[float]) -> dict:
    xs = [v for r in rings for v in r[0::2]]
    ys = [v for r in rings for v in r[1::2]]
    box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return {"segmentation": [list(r) for r in rings], "bbox": box}


P = [10, 10, 60, 10, 60, 60, 10, 60]
Q = [100, 100, 150, 100, 150, 150, 100, 150]
R = [200, 200, 250, 200, 250, 250]


def stored(project: Path) -> list[tuple[int | None, str]]:
    """(group, geometry) of every shape, in order."""
    conn = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT group_id, geometry FROM shapes ORDER BY id").fetchall()
    finally:
        conn.close()


def stored_paths(project: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT path FROM images ORDER BY id")]
    finally:
        conn.close()


def new_project(path: Path) -> Path:
    cli("init", path)
    return path


def problems(out: subprocess.CompletedProcess) -> list[str]:
    return [line for line in out.stdout.splitlines() if line.startswith("problem: ")]


# -- D2: de-duplication per instance -----------------------------------------------------
def test_coco_import_keeps_every_part_of_a_group_and_counts_a_duplicate(tmp_path):
    ds = coco(tmp_path / "ds", [seg(P), seg(P, Q), seg(R), seg(R)])
    project = new_project(tmp_path / "p.labeler")
    out = cli("import", project, ds)
    assert "added 1 image(s), 4 shape(s)" in out.stdout
    assert any("1 duplicate shape(s) not added" in p for p in problems(out)), out.stdout
    shapes = stored(project)
    groups = [g for g, _ in shapes]
    assert groups[0] is None and groups[3] is None
    assert groups[1] is not None and groups[1] == groups[2]  # ann2: both parts, one group
    assert shapes[1][1] == shapes[0][1]  # ann2's part P, although ann1 is P too

    again = cli("import", project, ds)
    assert "added 0 image(s), 0 shape(s)" in again.stdout  # a re-import adds nothing
    assert stored(project) == shapes

    cli("export", project, "--format", "coco", "--out", tmp_path / "ex")
    doc = json.loads((tmp_path / "ex/annotations/instances_train.json").read_text())
    assert sorted(len(a["segmentation"]) for a in doc["annotations"]) == [1, 1, 2]


def test_reimporting_an_edited_instance_adds_it_as_new_and_says_so(tmp_path):
    project = new_project(tmp_path / "p.labeler")
    cli("import", project, coco(tmp_path / "v1", [seg(P, Q)]))
    out = cli("import", project, coco(tmp_path / "v2", [seg(P, Q, R)]))
    assert "added 0 image(s), 3 shape(s)" in out.stdout
    assert any("added as new instances, the old ones kept" in p for p in problems(out))
    stats = json.loads(cli("stats", project, "--json").stdout)
    assert stats["classes"][0]["shapes"] == 2  # two instances, as the report said


# -- D3: no area, off the image --------------------------------------------------------
def test_import_refuses_shapes_with_no_area_or_off_the_image_and_clips_the_rest(tmp_path):
    far = [5000, 5000, 6000, 5000, 6000, 6000, 5000, 6000]
    ds = coco(
        tmp_path / "ds",
        [
            {"bbox": [30, 30, 0, 0]},  # no area
            seg(far),  # wholly outside
            seg(P, far),  # a part outside: the group keeps P alone
            seg([400, 250, 500, 250, 500, 350, 400, 350]),  # partly outside: clipped
        ],
    )
    project = new_project(tmp_path / "p.labeler")
    out = cli("import", project, ds)
    lines = problems(out)
    assert any("1 shape(s) not imported: no area" in p for p in lines), out.stdout
    assert any("2 shape(s) not imported: wholly outside their image" in p for p in lines)
    assert any("1 shape(s) lay partly outside their image and were clipped" in p for p in lines)
    points = [json.loads(g) for _, g in stored(project)]
    assert len(points) == 2
    assert all(0 <= x <= W and 0 <= y <= H for pts in points for x, y in pts)

    # every format writes the same two objects, none of them stretched or squeezed
    for fmt in ("coco", "yolo", "voc", "csv"):
        cli("export", project, "--format", fmt, "--out", tmp_path / fmt)
    coco_boxes = sorted(
        a["bbox"]
        for a in json.loads((tmp_path / "coco/annotations/instances_train.json").read_text())[
            "annotations"
        ]
    )
    assert coco_boxes == [[10, 10, 50, 50], [400, 250, 51, 50]]
    yolo = (tmp_path / "yolo/labels/train/chelsea.txt").read_text().splitlines()
    assert len(yolo) == 2
    xml = ET.parse(tmp_path / "voc/Annotations/chelsea.xml")
    assert len(xml.findall("object")) == 2
    rows = (tmp_path / "csv/annotations.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and "5000" not in "".join(rows)


def test_export_leaves_out_shapes_with_no_area_that_a_project_already_holds(tmp_path):
    """Shapes stored before the import checked them (or by a script) are not written as
    zero-area objects: each format leaves them out and says how many."""
    from labeler.core.shapes import Shape
    from labeler.store.project import Project

    image(tmp_path / "photos/chelsea.jpg")
    project = new_project(tmp_path / "p.labeler")
    cli("import", project, tmp_path / "photos")
    cli("classes", project, "add", "cat")
    with Project.open(project) as p:
        cat = p.class_by_name("cat").id
        p.add_shape(1, Shape.box(cat, 30, 30, 30, 30))
        far = [(5000, 5000), (6000, 5000), (6000, 6000)]
        p.add_shape(1, Shape.polygon(cat, far))
        group = p.new_group()
        p.add_shape(1, Shape.polygon(cat, [(10, 10), (60, 10), (60, 60)], group=group))
        p.add_shape(1, Shape.polygon(cat, far, group=group))
    for fmt in ("coco", "yolo", "voc", "csv"):
        out = cli("export", project, "--format", fmt, "--out", tmp_path / fmt)
        assert f"{fmt}: 3 shape(s) with no area inside their image" in out.stdout + out.stderr
    ann = json.loads((tmp_path / "coco/annotations/instances_train.json").read_text())
    assert [a["bbox"] for a in ann["annotations"]] == [[10, 10, 50, 50]]  # not to the corner
    (line,) = (tmp_path / "yolo/labels/train/chelsea.txt").read_text().splitlines()
    assert all(0 <= float(v) <= 1 for v in line.split()[1:])
    (obj,) = ET.parse(tmp_path / "voc/Annotations/chelsea.xml").findall("object")
    assert obj.find("bndbox/xmax").text == "60"
    assert "5000" not in (tmp_path / "csv/annotations.csv").read_text()


# -- D7: '..', '.', links, a moved folder -----------------------------------------------
def test_a_project_named_with_dotdot_stores_relative_paths_and_finds_its_images(tmp_path):
    photos = tmp_path / "work/photos"
    image(photos / "chelsea.jpg")
    cli("init", "../a.labeler", cwd=photos)
    cli("import", "../a.labeler", ".", cwd=photos)
    assert stored_paths(tmp_path / "work/a.labeler") == ["photos/chelsea.jpg"]
    cli("classes", "../a.labeler", "add", "cat", cwd=photos)
    assert (
        "photos/chelsea.jpg: cat"
        in cli("label", "../a.labeler", "./chelsea.jpg", "cat", cwd=photos).stdout
    )
    cli("label", "../a.labeler", photos / "chelsea.jpg", "cat", cwd=photos)
    cli(
        "assist",
        "../a.labeler",
        "./chelsea.jpg",
        "--method",
        "wand",
        "--point",
        "5",
        "5",
        cwd=photos,
    )

    # through a link to the folder, the same image is found and nothing is added twice
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "work")
    cli("label", link / "a.labeler", photos / "chelsea.jpg", "cat")
    cli("label", tmp_path / "work/a.labeler", link / "photos/chelsea.jpg", "cat")
    again = cli("import", link / "a.labeler", link / "photos")
    assert "added 0 image(s); 1 already in the project" in again.stdout
    assert stored_paths(tmp_path / "work/a.labeler") == ["photos/chelsea.jpg"]

    # the folder moved: every image is still found
    link.unlink()
    moved = tmp_path / "moved"
    (tmp_path / "work").rename(moved)
    report = json.loads(cli("health", moved / "a.labeler", "--json").stdout)
    assert "files.missing" not in json.dumps(report)


def test_an_image_name_too_long_is_refused_in_one_line(tmp_path):
    image(tmp_path / "photos/chelsea.jpg")
    project = new_project(tmp_path / "p.labeler")
    cli("import", project, tmp_path / "photos")
    cli("classes", project, "add", "cat")
    err = one_error(cli("label", project, "x" * 100_000, "cat", ok=False))
    assert "too long" in err and "LIKE" not in err


# -- minor: CSV groups ------------------------------------------------------------------
def test_a_bad_csv_group_imports_the_shape_alone_and_says_so(tmp_path):
    ds = tmp_path / "ds"
    image(ds / "images/chelsea.jpg")
    head = "split,file_name,width,height,class,kind,x1,y1,x2,y2,points_json,group\n"
    rows = [
        f"train,images/chelsea.jpg,{W},{H},cat,box,{10 + 30 * k},10,{30 + 30 * k},30,,{g}\n"
        for k, g in enumerate(["0", "-3", "x", "1.5", " 9", "nan"])
    ]
    (ds / "annotations.csv").write_text(head + "".join(rows))
    project = new_project(tmp_path / "p.labeler")
    out = cli("import", project, ds)
    assert "added 1 image(s), 6 shape(s)" in out.stdout
    lines = problems(out)
    assert len(lines) == 6 and all("imported as an instance alone" in p for p in lines)
    assert [g for g, _ in stored(project)] == [None] * 6


# -- minor: a read-only project -----------------------------------------------------------
def _as_nobody(*argv: str) -> tuple[int, str, str]:
    """``labeler ARGV`` in a forked child without root's rights (root writes anything)."""
    import locale  # noqa: F401 - argparse needs it, and the child cannot read the library

    import labeler.app.health  # noqa: F401
    import labeler.store.queries  # noqa: F401
    from labeler.cli import build_parser

    build_parser()
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o777)
        out_path, err_path = Path(d) / "out", Path(d) / "err"
        pid = fork_cli_unprivileged(argv, out_path, err_path)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out_path.read_text(), err_path.read_text()


@pytest.mark.parametrize("folder_writable", [False, True])
def test_a_read_only_project_can_be_read(folder_writable):
    base = Path(tempfile.mkdtemp(prefix="labeler-ro-"))
    try:
        os.chmod(base, 0o755)
        image(base / "photos/chelsea.jpg")
        project = base / "p.labeler"
        new_project(project)
        cli("import", project, base / "photos")
        cli("classes", project, "add", "cat")
        cli("label", project, "chelsea.jpg", "cat")
        os.chmod(project, 0o444)
        os.chmod(base, 0o777 if folder_writable else 0o555)
        before = project.read_bytes()
        code, out, err = _as_nobody("stats", str(project), "--json")
        assert code == 0, err
        assert json.loads(out)["images"] == 1
        code, out, err = _as_nobody("classes", str(project), "add", "dog")
        assert code == 1 and err.startswith("labeler: error: ") and "read" in err, err
        assert project.read_bytes() == before
    finally:
        os.chmod(base, 0o755)
        shutil.rmtree(base)
