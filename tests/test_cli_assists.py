"""`labeler assist` and `labeler prelabel` as users and scripts meet them: the polygon printed
and stored, proposals written, listed and accepted, and every bad input a one-line error that
changes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.cli import main
from labeler.store import proposals as store
from labeler.store.project import Project


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's refusals
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def proj(tmp_path, capsys, photos) -> Path:
    path = tmp_path / "p.labeler"
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "import", path, photos)[0] == 0
    assert run(capsys, "classes", path, "add", "cup", "coin")[0] == 0
    return path


def state(path: Path) -> tuple:
    """What a failed command must leave as it was: shapes, proposals, runs."""
    with Project.open(path) as p:
        return (
            p.all_shapes(),
            store.pending_proposals(p),
            p.conn.execute("SELECT COUNT(*) FROM prelabel_runs").fetchone()[0],
        )


def test_assist_prints_the_polygon_and_stores_it_on_request(proj, capsys):
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 130, 40, 460, 330, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "grabcut" and 3 <= doc["vertices"] == len(doc["polygon"]) <= 60
    xs, ys = zip(*doc["polygon"], strict=True)
    assert min(xs) >= 100 and max(xs) <= 470 and min(ys) >= 30 and max(ys) <= 340
    assert state(proj)[0] == {}, "without --write nothing is stored"

    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 130, 40, 460, 330,
                         "--write", "cup")  # fmt: skip
    assert code == 0, err
    line, stored = out.splitlines()
    assert len(line.split()) == doc["vertices"] and "stored as shape" in stored
    shapes = next(iter(state(proj)[0].values()))
    assert [s.kind for s in shapes] == ["polygon"]
    assert [list(v) for v in shapes[0].points] == doc["polygon"]


def test_a_box_over_the_whole_image_still_gives_a_polygon(proj, capsys):
    # GrabCut needs background to learn from; a box to the image's edges left it none and
    # OpenCV raised an assertion.
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 0, 0, 600, 400, "--json")
    assert code == 0, err
    assert len(json.loads(out)["polygon"]) >= 3


def test_a_stroke_far_off_the_box_is_refused_not_ignored(proj, capsys):
    # GrabCut reads the box and a margin; a stroke wholly outside was ignored without a word.
    box = ["--box", 130, 40, 460, 330, "--write", "cup"]
    before = state(proj)
    for far in ((2000, 2000, 1e300, 1e300), (0, 380, 20, 390)):
        code, out, err = run(capsys, "assist", proj, "coffee.jpg", *box, "--bg", *far)
        assert code == 1 and out == "" and err.count("\n") == 1, err
        assert "background stroke" in err and "outside the box" in err, err
    assert state(proj) == before
    # A background stroke in the margin around the box is used, so it is accepted.
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", *box, "--bg", 120, 30, 470, 30)
    assert code == 0, err


def test_strokes_that_leave_nothing_are_one_line(proj, capsys):
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 100, 100, 106, 106,
                         "--bg", 95, 103, 111, 103)  # fmt: skip
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "the background strokes cover the whole box" in err, err


def test_wand_on_a_coin(proj, capsys):
    code, out, err = run(capsys, "assist", proj, "coins.png", "--method", "wand",
                         "--point", 100, 60, "--tolerance", 40, "--json")  # fmt: skip
    assert code == 0, err
    assert len(json.loads(out)["polygon"]) >= 3


HOSTILE = {
    "box outside the image": (["--box", 5000, 5000, 5100, 5100], "outside the image"),
    "box left of the image": (["--box", -300, 10, -100, 200], "outside the image"),
    "box of zero area": (["--box", 50, 50, 50, 200], "has no area"),
    "box of one pixel": (["--box", 10, 10, 11, 11], "under 3 x 3"),
    "box with nan": (["--box", "nan", 1, 100, 100], "not a finite number"),
    "box with inf": (["--box", 1, 1, "inf", 100], "not a finite number"),
    "stroke with nan": (["--box", 130, 40, 460, 330, "--fg", 1, "nan", 3, 4], "stroke has a"),
    "non-numeric box": (["--box", "a", 1, 2, 3], "invalid float value: 'a'"),
    "box with three numbers": (["--box", 1, 2, 3], "expected 4 arguments"),
    "grabcut without a box": ([], "needs a box"),
    "wand without a point": (["--method", "wand"], "needs a point"),
    "wand off the image": (["--method", "wand", "--point", 601, 10], "outside the image"),
    "wand with a bad tolerance": (
        ["--method", "wand", "--point", 10, 10, "--tolerance", -1],
        "tolerance must be 0..255",
    ),
    "unknown method": (["--method", "sam", "--box", 1, 1, 90, 90], "unknown assist method 'sam'"),
    "unknown class to write": (["--box", 130, 40, 460, 330, "--write", "dog"], "no class named"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_bad_assist_input_is_one_line_and_changes_nothing(proj, capsys, case):
    args, message = HOSTILE[case]
    before = state(proj)
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", *args)
    assert code in (1, 2) and out == ""
    assert err.count("\n") == 1 and err.startswith("labeler: error: "), err
    assert message in err, err
    assert state(proj) == before


def test_unknown_image_and_project_are_one_line(proj, capsys, tmp_path):
    for argv, message in (
        (["assist", proj, "nope.jpg", "--box", 1, 1, 50, 50], "no image 'nope.jpg'"),
        (["assist", proj, "999", "--box", 1, 1, 50, 50], "no image '999'"),
        (["assist", tmp_path / "none.labeler", "coffee.jpg", "--box", 1, 1, 50, 50], "none"),
        (["prelabel", proj, "--accept", "nope.jpg"], "no image 'nope.jpg'"),
        (["prelabel", proj, "--accept", "coffee.jpg"], "no pending proposal"),
        (["prelabel", proj, "--min-per-class", "x"], "invalid int value"),
        (["prelabel", proj, "--min-per-class", 1], "at least 5"),
        (["prelabel", proj, "--model", "cnn", "--epochs", "nan"], "--epochs must be above 0"),
        (["prelabel", proj, "--model", "cnn", "--resolution", 3], "--resolution must be 8..256"),
        (
            ["prelabel", proj, "--model", "sam"],
            "unknown pre-label model 'sam'; known: features, cnn",
        ),
    ):
        code, out, err = run(capsys, *argv)
        assert code in (1, 2) and out == "" and err.count("\n") == 1, (argv, err)
        assert message in err, (argv, err)


def test_a_broken_image_file_is_one_line(proj, capsys):
    (proj.parent / "photos" / "coffee.jpg").write_bytes(b"\xff\xd8 truncated")
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 1, 1, 50, 50)
    assert code == 1 and out == "" and err.count("\n") == 1 and "coffee.jpg" in err, err


# -- prelabel --------------------------------------------------------------------------------
@pytest.fixture
def colour_proj(tmp_path, capsys) -> Path:
    rng = np.random.default_rng(5)
    root, loose = tmp_path / "lab", tmp_path / "loose"
    loose.mkdir()
    for name, bgr in (("red", (30, 30, 210)), ("blue", (210, 60, 30))):
        (root / name).mkdir(parents=True)
        for k in range(14):
            img = np.clip(rng.normal(0, 15, (40, 40, 3)) + bgr, 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / name / f"{k}.png"), img)
            if k < 3:
                img = np.clip(rng.normal(0, 15, (40, 40, 3)) + bgr, 0, 255).astype(np.uint8)
                cv2.imwrite(str(loose / f"{name}-{k}.png"), img)
    path = tmp_path / "c.labeler"
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "import", path, root, "--labels-from-folders")[0] == 0
    assert run(capsys, "import", path, loose)[0] == 0
    return path


def test_prelabel_measures_proposes_lists_and_accepts(colour_proj, capsys):
    code, out, err = run(capsys, "prelabel", colour_proj, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["offered"] and doc["proposals"] == 6 and doc["balanced_accuracy"] >= doc["bar"]
    stats_before = run(capsys, "stats", colour_proj, "--json")[1]

    code, out, _ = run(capsys, "prelabel", colour_proj, "--list", "--json")
    listed = json.loads(out)["proposals"]
    assert [Path(r["path"]).name.split("-")[0] for r in listed] == [r["class"] for r in listed]
    u = [r["uncertainty"] for r in listed]
    assert u == sorted(u, reverse=True)
    assert run(capsys, "stats", colour_proj, "--json")[1] == stats_before

    code, out, err = run(capsys, "prelabel", colour_proj, "--accept", "red-0.png", "blue-1.png")
    assert code == 0, err and out.splitlines()[0].endswith(": red")
    stats = json.loads(run(capsys, "stats", colour_proj, "--json")[1])
    assert stats["unlabeled"] == json.loads(stats_before)["unlabeled"] - 2

    before = state(colour_proj)
    code, out, err = run(capsys, "prelabel", colour_proj, "--accept", "red-1.png", "red-0.png")
    assert code == 1 and "no pending proposal" in err and err.count("\n") == 1
    assert state(colour_proj) == before, "one bad IMAGE: no proposal of the batch accepted"


def test_prelabel_too_weak_prints_the_accuracy(colour_proj, capsys, tmp_path):
    # Two classes of the same colour: nothing to tell them apart.
    code, out, err = run(capsys, "classes", colour_proj, "list", "--json")
    with Project.open(colour_proj) as p:
        red, blue = (p.require_class(n) for n in ("red", "blue"))
        rows = p.conn.execute("SELECT id FROM shapes WHERE class_id = ?", (blue.id,)).fetchall()
        ids = [r[0] for r in rows]
        with p.atomic():
            for k, sid in enumerate(ids):  # relabel half the blue photos red: labels are noise
                p.conn.execute(
                    "UPDATE shapes SET class_id = ? WHERE id = ?",
                    (red.id if k % 2 else blue.id, sid),
                )
            rows = p.conn.execute("SELECT id FROM shapes WHERE class_id = ?", (red.id,)).fetchall()
            for k, (sid,) in enumerate(rows):
                p.conn.execute(
                    "UPDATE shapes SET class_id = ? WHERE id = ?",
                    (blue.id if k % 2 else red.id, sid),
                )
    code, out, err = run(capsys, "prelabel", colour_proj)
    assert code == 0, err
    assert out.startswith("the model is too weak: ") and "balanced accuracy" in out
    assert "no proposals written" in out and state(colour_proj)[1] == []


def test_assist_from_a_real_process(proj):
    out = subprocess.run(
        [sys.executable, "-m", "labeler", "assist", str(proj), "coffee.jpg", "--box", "0", "0",
         "-5", "-5"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert out.returncode == 1 and out.stdout == "" and out.stderr.count("\n") == 1
    assert "outside the image" in out.stderr


# -- attack on issue 18 ----------------------------------------------------------------------
def test_assist_refuses_a_replaced_image_file_as_export_does(proj, capsys, photos, tmp_path):
    shutil.copy(photos / "retina.jpg", photos / "coffee.jpg")
    before = state(proj)
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 700, 700, 1400, 1400,
                         "--write", "cup")  # fmt: skip
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.endswith("coffee.jpg: the image is 1411x1411 on disk but 600x400 in the project\n")
    assert state(proj) == before
    code, _, export_err = run(capsys, "export", proj, "--format", "yolo", "--out", tmp_path / "y")
    assert code == 1 and "the image is 1411x1411 on disk but 600x400 in the project" in export_err


def test_a_huge_image_id_is_no_image(proj, colour_proj, capsys):
    huge = "99999999999999999999"
    for argv in (
        ("assist", proj, huge, "--box", 1, 1, 50, 50),
        ("label", proj, huge, "cup"),
        ("prelabel", colour_proj, "--accept", huge),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 1 and err == f"labeler: error: no image '{huge}' in the project\n", err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "wand", "--point", 10, 10, "--box", 1, 1, 50, 50], "--box does not apply"),
        (["--method", "wand", "--point", 10, 10, "--fg", 1, 1, 5, 5], "--fg does not apply"),
        (["--method", "wand", "--point", 10, 10, "--bg", 1, 1, 5, 5], "--bg does not apply"),
        (["--box", 10, 10, 200, 200, "--tolerance", 3], "--tolerance does not apply"),
        (["--box", 10, 10, 200, 200, "--edges"], "--edges does not apply"),
        (["--box", 10, 10, 200, 200, "--point", 5, 5], "--point does not apply"),
    ],
)
def test_options_an_assist_would_ignore_are_refused(proj, capsys, args, message):
    before = state(proj)
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", *args, "--write", "cup")
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err, err
    assert state(proj) == before


def test_a_negative_coordinate_in_exponent_form_is_a_number(proj, capsys):
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", "-1e3", 0, 300, 300)
    assert code == 0, err
    assert len(out.split()) >= 3


def test_the_wand_on_a_one_pixel_image_speaks_of_the_point(tmp_path, capsys):
    (tmp_path / "one").mkdir()
    cv2.imwrite(str(tmp_path / "one" / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    path = tmp_path / "one.labeler"
    for argv in (("init", path), ("import", path, tmp_path / "one")):
        assert run(capsys, *argv)[0] == 0
    code, out, err = run(capsys, "assist", path, "dot.png", "--method", "wand", "--point", 0, 0)
    assert code == 1 and err.count("\n") == 1
    assert "too small to fill from a point" in err and "box" not in err, err


def test_write_reports_the_class_as_stored(proj, capsys):
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 130, 40, 460, 330,
                         "--write", " CUP ", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["class"] == "cup"
    code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 130, 40, 460, 330,
                         "--write", " CUP ")  # fmt: skip
    assert out.splitlines()[1].startswith("stored as shape") and "(cup)" in out, out


def test_an_unreadable_plugin_folder_is_one_warning_and_assists_work(proj, capsys, monkeypatch):
    from labeler import plugins

    folder, real = plugins.plugin_dir(), Path.iterdir
    folder.mkdir(parents=True, exist_ok=True)

    def iterdir(self):  # a folder with mode 000, as anyone but root meets it
        if self == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    plugins.unload_plugins()
    try:
        code, out, err = run(capsys, "assist", proj, "coffee.jpg", "--box", 130, 40, 460, 330)
        assert code == 0, err
        assert err == (
            f"labeler: warning: plugin folder {folder} cannot be read (Permission denied);"
            " its plugins are not loaded\n"
        )
        assert len(out.split()) >= 3
        code, out, err = run(capsys, "plugins", "list")
        assert code == 0 and "cannot be read (Permission denied)" in out and err == ""
    finally:
        plugins.unload_plugins()


def _earlier_proposals(path: Path, n: int) -> None:
    """Proposals of an earlier run for ``n`` unlabeled images, red for every one."""
    with Project.open(path) as p:
        red = p.require_class("red").id
        unlabeled = [i.id for i in p.images() if "loose" in i.path][:n]
        run_id = store.record_run(p, "old", 28, 0.9, 0.5, {})
        store.write_proposals(p, run_id, [(i, red, 0.9, 0.1) for i in unlabeled])


def test_merge_moves_proposals_and_remove_counts_them(colour_proj, capsys, tmp_path):
    _earlier_proposals(colour_proj, 4)
    assert run(capsys, "classes", colour_proj, "add", "green")[0] == 0
    code, out, err = run(capsys, "classes", colour_proj, "merge", "red", "blue")
    assert code == 0, err
    assert out.splitlines()[0].endswith("4 pending proposal(s) moved too"), out
    code, out, _ = run(capsys, "prelabel", colour_proj, "--list", "--json")
    assert [r["class"] for r in json.loads(out)["proposals"]] == ["blue"] * 4
    code, out, err = run(capsys, "classes", colour_proj, "remove", "blue", "--force", "--json")
    assert code == 0 and json.loads(out)["deleted_proposals"] == 4, err
    assert state(colour_proj)[1] == []


def test_a_weak_run_says_how_many_earlier_proposals_it_removed(colour_proj, capsys):
    _earlier_proposals(colour_proj, 5)
    with Project.open(colour_proj) as p:  # labels as noise: every other image swaps class
        red, blue = (p.require_class(n).id for n in ("red", "blue"))
        with p.atomic():
            p.conn.execute(
                "UPDATE shapes SET class_id = CASE WHEN id % 2 = 0 THEN ? ELSE ? END", (red, blue)
            )
    code, out, err = run(capsys, "prelabel", colour_proj)
    assert code == 0, err
    first = out.splitlines()[0]
    assert "too weak" in first and first.endswith(
        "no proposals written; 5 earlier proposal(s) removed"
    )
    assert state(colour_proj)[1] == []


def test_missing_labelled_files_are_listed_and_counted(colour_proj, capsys, tmp_path):
    _earlier_proposals(colour_proj, 3)
    gone = sorted((tmp_path / "lab" / "red").iterdir())[:10]  # 4 red ones are left
    for f in gone:
        f.unlink()
    code, out, err = run(capsys, "prelabel", colour_proj, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert not doc["offered"] and doc["reason"].startswith("too few readable labelled images")
    assert doc["labelled_images"] == 18 and len(doc["unreadable"]) == 10
    assert all("file not found" in line for line in doc["unreadable"])
    assert doc["removed_proposals"] == 3 and doc["reason"].endswith("3 earlier proposal(s) removed")
    assert state(colour_proj)[1] == []


def test_a_replaced_file_gets_no_proposal_and_is_not_trained_on(colour_proj, capsys, tmp_path):
    # A red photo replaced by a blue one of another size, and a labelled one by noise of
    # the same size: both are reported as not the file imported.
    blue = np.full((56, 56, 3), (210, 60, 30), np.uint8)
    cv2.imwrite(str(tmp_path / "loose" / "red-0.png"), blue)
    noise = np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "lab" / "red" / "0.png"), noise)
    code, out, err = run(capsys, "prelabel", colour_proj, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["offered"] and doc["proposals"] == 5 and doc["labelled_images"] == 27
    assert sorted(doc["unreadable"]) == [
        "lab/red/0.png: the image changed on disk since import",
        "loose/red-0.png: the image is 56x56 on disk but 40x40 in the project",
    ]
    code, out, _ = run(capsys, "prelabel", colour_proj, "--list", "--json")
    assert "red-0.png" not in out


def test_accept_twice_the_same_image_accepts_it_once(colour_proj, capsys):
    assert run(capsys, "prelabel", colour_proj)[0] == 0
    code, out, err = run(capsys, "prelabel", colour_proj, "--accept", "red-0.png", "red-0.png",
                         "--json")  # fmt: skip
    assert code == 0, err
    assert [a["class"] for a in json.loads(out)["accepted"]] == ["red"]
    code, out, err = run(capsys, "prelabel", colour_proj, "--accept", "red-1.png", "--list")
    assert code == 1 and "--accept and --list" in err and err.count("\n") == 1


def test_prelabel_counts_what_it_wrote_not_what_became_moot(colour_proj, capsys, monkeypatch):
    from labeler.app import prelabel as app_prelabel

    real = app_prelabel.run_prelabel

    def labelling_meanwhile(p, **kw):
        def progress(done, total):  # the features are read: someone labels a loose image
            if done == total and not p.shapes(p.find_image("blue-2.png").id):
                p.set_tag(p.find_image("blue-2.png").id, p.require_class("blue").id)

        return real(p, **{**kw, "progress": progress})

    monkeypatch.setattr(app_prelabel, "run_prelabel", labelling_meanwhile)
    code, out, err = run(capsys, "prelabel", colour_proj, "--json")
    assert code == 0, err
    assert json.loads(out)["proposals"] == 5
    code, out, _ = run(capsys, "prelabel", colour_proj, "--list", "--json")
    assert len(json.loads(out)["proposals"]) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["--accept", "red-0.png", "--seed", 3], "--seed does not apply to --accept"),
        (["--list", "--model", "cnn"], "--model does not apply to --list"),
        (["--order", "image"], "--order does not apply to training"),
        (["--epochs", 3, "--arch", "tiny"], "--arch, --epochs do not apply to training (--model"),
    ],
)
def test_prelabel_options_a_run_would_ignore_are_refused(colour_proj, capsys, args, message):
    before = state(colour_proj)
    code, out, err = run(capsys, "prelabel", colour_proj, *args)
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err, err
    assert state(colour_proj) == before
