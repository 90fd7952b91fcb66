"""The `labeler` command as users and scripts meet it: output, JSON shapes, error exits."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from testdata import REPO

from labeler.cli import build_parser, main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def proj(tmp_path, capsys, cifar_subset, photos) -> Path:
    path = tmp_path / "p.labeler"
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "import", path, cifar_subset, "--labels-from-folders")[0] == 0
    assert run(capsys, "import", path, photos)[0] == 0
    return path


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert re.fullmatch(r"labeler \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_installed_console_script_runs(tmp_path):
    exe = Path(sys.executable).parent / "labeler"
    out = subprocess.run([exe, "init", tmp_path / "x.labeler"], capture_output=True, text=True)
    assert out.returncode == 0 and (tmp_path / "x.labeler").exists()


def test_init_json_and_refusal(capsys, tmp_path):
    data = run_json(capsys, "init", tmp_path / "a.labeler")
    assert data["schema"] >= 1 and data["project"].endswith("a.labeler")
    code, out, err = run(capsys, "init", tmp_path / "a.labeler")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("labeler: error:")


def test_import_json_lists_skipped_files(capsys, tmp_path, photos):
    path = tmp_path / "p.labeler"
    run(capsys, "init", path)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    data = run_json(capsys, "import", path, photos)
    assert data["added"] == 8
    assert data["skipped"] == [
        {"path": str(photos / "broken.jpg"), "reason": data["skipped"][0]["reason"]}
    ]
    assert data["skipped"][0]["reason"]
    again = run_json(capsys, "import", path, photos)
    assert again["added"] == 0 and again["already_present"] == 8


def test_import_of_missing_folder_fails_and_changes_nothing(capsys, proj, tmp_path):
    before = digest(proj)
    code, _, err = run(capsys, "import", proj, tmp_path / "nope")
    assert code == 1 and "no such file or folder" in err
    assert digest(proj) == before


def test_classes_add_list_rename_merge_remove(capsys, proj):
    data = run_json(capsys, "classes", proj, "add", "bird", "ship")
    assert [c["name"] for c in data["added"]] == ["bird", "ship"]
    listing = run_json(capsys, "classes", proj, "list")["classes"]
    assert [c["name"] for c in listing] == ["airplane", "cat", "truck", "bird", "ship"]
    assert listing[0] | {"images": 5} == listing[0] and set(listing[0]) >= {
        "id", "name", "colour", "shortcut", "images", "shapes"
    }  # fmt: skip
    assert run_json(capsys, "classes", proj, "rename", "ship", "boat")["renamed"]["name"] == "boat"
    merged = run_json(capsys, "classes", proj, "merge", "truck", "airplane")
    assert merged["moved_shapes"] == 3
    removed = run_json(capsys, "classes", proj, "remove", "boat")
    assert removed["deleted_shapes"] == 0
    names = [c["name"] for c in removed["classes"]]
    assert names == ["airplane", "cat", "bird"]
    code, out, _ = run(capsys, "classes", proj, "list")
    assert code == 0 and "airplane" in out and "8 images" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["classes", "{p}", "add", "cat"], "already exists"),
        (["classes", "{p}", "add", "new", "a\tb"], "cannot hold"),
        (["classes", "{p}", "rename", "nope", "x"], "no class named 'nope'"),
        (["classes", "{p}", "merge", "cat", "cat"], "into itself"),
        (["classes", "{p}", "remove", "cat"], "used by 4 shape"),
        (["classes", "{p}", "rename", "cat"], "takes 2 name"),
        (["label", "{p}", "astronaut.jpg", "dinosaur"], "no class named 'dinosaur'"),
        (["label", "{p}", "nothing.jpg", "cat"], "no image 'nothing.jpg'"),
        (["stats", "{d}/missing.labeler"], "no project at"),
        (["import", "{p}", "{d}/nothing", "--format", "coco"], "is not a folder"),
        (["export", "{p}", "--format", "tiff", "--out", "{d}/o"], "tiff"),
        (
            ["export", "{p}", "--format", "coco", "--out", "{d}/o", "--multiplier", "2"],
            "needs --recipe",
        ),
        (["recipe", "{p}", "show", "nope"], "no recipe named"),
        (["split", "{p}", "--ratios", "0.5", "0.5", "0.5"], "ratio"),
    ],
)
def test_bad_input_is_one_line_nonzero_and_changes_nothing(capsys, proj, argv, message):
    before = digest(proj)
    argv = [a.format(p=proj, d=proj.parent) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("labeler: error:")
    assert message in err
    assert digest(proj) == before


def test_adding_one_bad_name_among_good_ones_adds_none(capsys, proj):
    code, _, _ = run(capsys, "classes", proj, "add", "bird", "cat")
    assert code == 1
    names = [c["name"] for c in run_json(capsys, "classes", proj, "list")["classes"]]
    assert "bird" not in names


def test_label_by_name_and_id_single_label_replaces(capsys, proj):
    data = run_json(capsys, "label", proj, "astronaut.jpg", "cat")
    assert data["tags"] == ["cat"] and data["replaced"] == []
    again = run_json(capsys, "label", proj, str(data["image"]), "truck")
    assert again["tags"] == ["truck"] and again["replaced"] == ["cat"]


def test_stats_json_and_table(capsys, proj):
    s = run_json(capsys, "stats", proj)
    assert s["images"] == 20 and s["unlabeled"] == 8
    assert {c["name"]: c["images"] for c in s["classes"]} == {"airplane": 5, "cat": 4, "truck": 3}
    assert s["imbalance_ratio"] == pytest.approx(5 / 3, abs=1e-3)
    assert s["splits"]["unassigned"] == 20
    code, out, _ = run(capsys, "stats", proj)
    assert code == 0 and "imbalance ratio: 1.667" in out


def test_every_command_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"labeler {name}" in readme, f"README does not document 'labeler {name}'"


RECIPE = {
    "schema_version": 1,
    "name": "light",
    "steps": [
        {"op": "horizontal_flip", "p": 0.5},
        {"op": "rotate", "params": {"angle": [-10, 10]}},
    ],
}


def test_split_then_export_then_reimport(capsys, proj, tmp_path):
    plan = run_json(capsys, "split", proj, "--ratios", "0.6", "0.2", "0.2", "--seed", "4")
    assert sum(plan["images"].values()) == 20 and plan["new"] == 20
    assert set(plan["class_counts"]["train"]) <= {"airplane", "cat", "truck"}
    again = run_json(capsys, "split", proj)
    assert again["new"] == 0 and again["moved"] == 0  # stable
    out = run_json(capsys, "export", proj, "--format", "imagefolder", "--out", tmp_path / "if")
    assert out["verified"] and out["version"] == 1 and out["auto_split"] == 0
    assert sum(out["images"].values()) == 12  # the 8 untagged photos have no folder to go in
    code, _, err = run(capsys, "export", proj, "--format", "imagefolder", "--out", tmp_path / "if")
    assert code == 1 and "not empty" in err and "--overwrite" in err
    new = tmp_path / "copy.labeler"
    run(capsys, "init", new)
    imported = run_json(capsys, "import", new, tmp_path / "if", "--format", "imagefolder")
    assert imported["images_added"] == 12 and imported["shapes_added"] == 12


def test_recipe_add_list_show_preview_and_augmented_export(capsys, proj, tmp_path):
    recipe = tmp_path / "light.json"
    recipe.write_text(json.dumps(RECIPE))
    assert run_json(capsys, "recipe", proj, "add", recipe)["added"] == "light"
    listing = run_json(capsys, "recipe", proj, "list")["recipes"]
    assert listing == [{"name": "light", "ops": ["horizontal_flip", "rotate"]}]
    code, out, _ = run(capsys, "recipe", proj, "show", "light")
    assert code == 0 and json.loads(out)["steps"][1]["params"]["angle"] == [-10, 10]
    grid = tmp_path / "grid.png"
    run_json(capsys, "recipe", proj, "preview", "light", "--image", "coffee.jpg", "--out", grid,
             "--n", "4")  # fmt: skip
    import cv2

    assert cv2.imread(str(grid)).shape[0] > 256
    out = run_json(
        capsys, "export", proj, "--format", "coco", "--out", tmp_path / "aug",
        "--recipe", "light", "--multiplier", "2",
    )  # fmt: skip
    train = out["images"]["train"]
    assert out["augmented"] * 3 == train * 2  # two copies per real train image
    assert run_json(capsys, "recipe", proj, "remove", "light")["removed"] == "light"


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({"schema_version": 1, "steps": [{"op": "twirl"}]}, "unknown op 'twirl'"),
        ({"schema_version": 1, "steps": [{"op": "rotate", "params": {"spin": 3}}]}, "'spin'"),
        ({"schema_version": 1, "steps": [{"op": "rotate", "p": 2}]}, "p"),
        ({"schema_version": 99, "steps": []}, "schema"),
    ],
)
def test_bad_recipe_file_is_refused_with_its_problem(capsys, proj, tmp_path, recipe, message):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(recipe))
    before = digest(proj)
    code, _, err = run(capsys, "recipe", proj, "add", f)
    assert code == 1 and message in err and err.count("\n") == 1
    assert digest(proj) == before


def test_gan_commands_train_suggest_review_and_evaluate_on_the_cpu(capsys, proj):
    import torch

    torch.set_num_threads(2)
    before = digest(proj)
    code, _, err = run(capsys, "gan", "suggest", proj, "--device", "cpu", "--arch", "tiny")
    # A refused command prints its one error line and nothing else (no device note first).
    assert code == 1 and err.startswith("labeler: error:") and err.count("\n") == 1
    assert "no generator yet" in err
    code, _, err = run(capsys, "gan", "train", proj, "--steps", "1", "--device", "cpu")
    assert code == 1 and "labeler split" in err
    assert digest(proj) == before  # refused commands change nothing
    run_json(capsys, "split", proj, "--ratios", "0.6", "0.2", "0.2", "--seed", "1")
    tiny = ("--device", "cpu", "--arch", "tiny")
    code, out, err = run(
        capsys, "gan", "train", proj, "--steps", "2", "--width", "tiny", "--batch-size", "8",
        "--device", "cpu", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert "running on the CPU" in err  # work that runs names the CPU, never silently uses it
    trained = json.loads(out)
    assert trained["step"] == 2 and trained["device"] == "cpu"
    assert Path(trained["checkpoint"]).is_file()
    code, _, err = run(capsys, "gan", "suggest", proj, "--p-min", "1.5", *tiny)
    assert code == 1 and "--p-min must be between 0 and 1" in err
    sug = run_json(
        capsys, "gan", "suggest", proj, "--target", "max", "--classifier-epochs", "1",
        "--p-min", "0", *tiny,
    )  # fmt: skip
    assert sug["suggestions"] and all(s["class"] != "airplane" for s in sug["suggestions"])
    review = run_json(capsys, "gan", "review", proj, "--accept-top", "1")
    assert review["accepted"] and len(review["images"]) == len(review["accepted"])
    code, out, err = run(capsys, "gan", "evaluate", proj, "--epochs", "1", *tiny)
    assert code == 0, err
    assert "real_plus_generated" in out and "thin-class recall" in out


def test_auto_falling_back_to_a_folder_import_says_why_in_text_and_json(capsys, tmp_path, photos):
    path = tmp_path / "p.labeler"
    assert run(capsys, "init", path)[0] == 0
    (photos / "obj.names").write_text("cat\n")  # darknet YOLO: nothing reads it
    code, out, _ = run(capsys, "import", path, photos)
    assert code == 0 and out.startswith("format: folder of images (")
    assert "not read: obj.names: darknet YOLO" in out
    data = run_json(capsys, "import", path, photos)
    assert data["format"] == "folder" and data["detection"]["asked"] == "auto"
    assert data["detection"]["unused"] and data["already_present"] > 0


def test_gan_evaluate_prints_rows_over_seeds_and_the_verdict_against_the_best_baseline(
    capsys, proj
):
    import torch

    torch.set_num_threads(2)
    run_json(capsys, "split", proj, "--ratios", "0.6", "0.2", "0.2", "--seed", "1")
    tiny = ("--device", "cpu", "--arch", "tiny")
    code, _, err = run(capsys, "gan", "train", proj, "--steps", "2", "--width", "tiny",
                       "--batch-size", "8", "--device", "cpu")  # fmt: skip
    assert code == 0, err
    run_json(capsys, "gan", "suggest", proj, "--target", "max", "--classifier-epochs", "1",
             "--p-min", "0", *tiny)  # fmt: skip
    assert run_json(capsys, "gan", "review", proj, "--accept-top", "2")["images"]
    before = digest(proj)
    for flags, message in (
        (("--seeds", "0"), "--seeds must be a positive number, not 0"),
        (("--seeds", "99"), "--seeds must be 1..20, not 99"),
        (("--gen-weight", "-1"), "--gen-weight must be between 0 and 1, not -1.0"),
        (("--gen-weight", "nan"), "--gen-weight must be between 0 and 1, not nan"),
        # Outside try: 1e300 epochs trained until killed; a 1e11 batch was "unexpected".
        (("--epochs", "1e300"), "--epochs must be at most 10,000, not 1e+300"),
        (("--batch-size", "100000000000"), "--batch-size must be at most 4,096, not 1e+11"),
    ):
        flags = ("--epochs", "1", *flags) if "--epochs" not in flags else flags
        code, out, err = run(capsys, "gan", "evaluate", proj, *flags, *tiny)
        assert code == 1 and out == "" and err == f"labeler: error: {message}\n", err
    assert digest(proj) == before  # refused: nothing changed
    code, out, err = run(capsys, "gan", "evaluate", proj, "--epochs", "1", "--seeds", "2", *tiny)
    assert code == 0, err
    # Before any training: how long the classifiers will take, measured.
    assert "training 10 classifiers (" in err and "about" in err
    assert "2 seed(s) [0, 1]; each cell: mean ± std over seeds" in out
    for name in ("real ", "real_balanced", "real_logit_adjusted", "real_drw", "real_plus_gen"):
        assert name in out
    verdict = out.strip().splitlines()[-1]
    assert re.match(r"(Better|Worse|No measurable difference)\b.*best baseline", verdict)
    data = run_json(capsys, "gan", "evaluate", proj, "--epochs", "1", "--seeds", "2",
                    "--gen-weight", "0.25", *tiny)  # fmt: skip
    assert data["verdict"]["outcome"] in ("better", "no measurable difference", "worse")
    assert data["verdict"]["best_baseline"] == data["best_baseline"]
    assert data["rows"]["real_plus_generated"]["gen_weight"] == 0.25
    s = data["summary"]["real_drw"]["thin_recall"]
    assert set(s) >= {"mean", "spread"} and len(s["values"]) == 2
    one = run_json(capsys, "gan", "evaluate", proj, "--epochs", "1", "--seeds", "1", *tiny)
    assert one["verdict"]["outcome"] == "not measurable"
    assert digest(proj) == before  # evaluating writes nothing to the project


def test_gan_evaluate_says_which_train_images_it_could_not_read(capsys, proj):
    """Outside try: a train image overwritten with text was left out of the evaluation with
    "warnings": [] (train_counts fell by one, and nothing said why)."""
    import sqlite3

    import torch

    torch.set_num_threads(2)
    run_json(capsys, "split", proj, "--ratios", "0.6", "0.2", "0.2", "--seed", "1")
    with sqlite3.connect(proj) as db:
        (rel,) = db.execute(
            "SELECT i.path FROM images i JOIN shapes s ON s.image_id = i.id"
            " WHERE i.split = 'train' ORDER BY i.id LIMIT 1"
        ).fetchone()
    (proj.parent / rel).write_text("not an image")
    code, out, err = run(capsys, "gan", "evaluate", proj, "--epochs", "1", "--seeds", "1",
                         "--device", "cpu", "--arch", "tiny", "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    said = [w for w in data["warnings"] if "could not be read" in w]
    assert said and "1 image(s) of the train split" in said[0] and rel in said[0]
    assert f"labeler: warning: {said[0]}" in err
