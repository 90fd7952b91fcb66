"""The GAN panel's logic without Qt: the jobs' options from the controls, the review as loaded
from a project, the state between jobs, and the words for progress and results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labeler.app import gan_session as gs
from labeler.app.gan import gan_folder
from labeler.app.imports import import_folders
from labeler.store import gan as store


def test_class_lines_call_out_thin_classes():
    stats = {
        "classes": [
            {"id": 1, "name": "airplane", "images": 5000},
            {"id": 2, "name": "truck", "images": 50},
            {"id": 3, "name": "cat", "images": 4000},
        ]
    }
    lines = {cid: text for cid, text, _k in gs.class_lines(stats, {2: 12})}
    assert lines[2] == "truck: 50 images, 100× fewer than airplane — 12 pending"
    assert lines[1] == "airplane: 5000 images" and lines[3] == "cat: 4000 images"


def test_training_options_take_steps_or_minutes():
    controls = dict(resolution="64", width="tiny", steps=300, minutes=5, device="cpu")
    by_steps = gs.training_options(**controls, budget="steps", batch_size=8)
    assert by_steps == {
        "resolution": 64,
        "width": "tiny",
        "steps": 300,
        "minutes": None,
        "device": "cpu",
        "batch_size": 8,
    }
    by_time = gs.training_options(**controls, budget="minutes", batch_size=8)
    assert (by_time["steps"], by_time["minutes"]) == (None, 5.0)


@pytest.mark.parametrize(
    ("target", "expected"), [("median", "median"), ("max", "max"), ("count", 40)]
)
def test_suggestion_target_is_a_rule_or_the_count(target, expected):
    options = gs.suggestion_options(
        target=target, count=40, device="auto", arch="tiny", classifier_epochs=3, p_min=0.25
    )
    assert options == {
        "target": expected,
        "device": "auto",
        "arch": "tiny",
        "classifier_epochs": 3.0,
        "p_min": 0.25,
    }
    assert gs.evaluation_options(epochs=2, device="cpu", arch="small", seeds=3) == {
        "epochs": 2.0,
        "device": "cpu",
        "arch": "small",
        "seeds": 3,
    }
    # The panel runs fewer seeds than the CLI unless asked, and says so when it starts.
    default = gs.evaluation_options(epochs=2, device="cpu", arch="small")
    assert default["seeds"] == gs.GUI_SEEDS == 2
    assert "2 seeds each" in gs.evaluation_start_text(default)


def test_cpu_warning_follows_the_choice_the_probe_and_the_running_device():
    s = gs.GanSession()
    assert not s.on_cpu("auto")  # the probe has not answered: no warning yet
    assert s.on_cpu("cpu")
    s.cuda_known, s.cuda_name = True, None
    assert s.on_cpu("auto") and s.cuda_text().startswith("CUDA is not available")
    s.cuda_name = "H100"
    assert not s.on_cpu("auto") and "H100" in s.cuda_text()
    assert s.on_cpu("cuda", device_in_use="cpu")  # the trainer fell back to the CPU
    assert not s.on_cpu("cpu", device_in_use="cuda:0")


def test_training_progress_counts_from_where_a_resumed_run_started():
    s = gs.GanSession(job_kind="train")
    s.start_training({"steps": 10})
    info = {"step": 101, "images_per_s": 1234.5, "losses": {"g": 0.5}, "eta_s": 30, "device": "cpu"}
    value, maximum, bar, status = s.train_progress(info)
    assert (value, maximum, bar) == (1, 10, "step 101 · ETA 30 s")
    assert status == "Step 101 · 1,234 images/s · losses: g 0.500 · ETA 30 s · on cpu"
    assert s.train_progress({"step": 125})[:2] == (10, 10)  # never past the bar's end
    s.start_training({"steps": None})  # a budget in minutes: a busy bar
    assert s.train_progress({"step": 7})[:3] == (0, 0, "step 7")


def test_job_progress_and_failure_read_as_sentences():
    s = gs.GanSession(job_kind="suggest")
    assert s.job_progress({"classes_done": 1, "classes": 3}) == "Generating: class 1 of 3…"
    assert s.job_progress({"row": "real"}) is None
    s.job_kind = "evaluate"
    assert s.job_progress({"row": "real_balanced", "seed": 1, "step": 4, "steps": 9}) == (
        "Balanced, seed 1: step 4 of 9…"
    )
    # The measured estimate comes first and stays beside the progress until the job ends.
    first = {"row": "real", "seed": 0, "step": 0, "steps": 9, "trainings": 10, "training": 0,
             "estimated_s": 150.0, "arch": "resnet18", "device": "cpu"}  # fmt: skip
    estimate = s.job_progress(first)
    assert estimate.startswith("10 classifier trainings: about 2.5 min in all.")
    assert "small classifier trains many times faster" in estimate
    later = {"row": "real_drw", "seed": 2, "step": 5, "steps": 9, "trainings": 10, "training": 9}
    assert s.job_progress(later) == f"DRW, seed 2: step 5 of 9 (training 9 of 10)… {estimate}"
    s.job_kind = "suggest"  # a new job forgets the last one's estimate
    assert s.estimate == ""
    clf = {"stage": "classifier", "estimated_s": 42, "arch": "small", "steps": 90,
           "device": "cpu"}  # fmt: skip
    assert (
        s.job_progress(clf) == "Training the suggestion classifier (small, 90 steps): about 42 s."
    )
    s.job_kind = "evaluate"
    assert s.failure_text("no generator yet") == "Evaluating failed: no generator yet"
    s.job_kind = None
    assert s.failure_text("boom") == "The job failed: boom"


def test_a_suggestion_is_never_decided_twice():
    s = gs.GanSession()
    assert s.begin_decision([1, 2]) == [1, 2]
    assert s.begin_decision([2, 3]) == [3]
    s.end_decision([1, 2])
    assert s.begin_decision([1, 2, 3]) == [1, 2]


def test_results_in_words():
    assert [gs.duration(x) for x in (42, 600, 7200)] == ["42 s", "10.0 min", "2.0 h"]
    bar, status = gs.training_done(
        {"step": 50, "device": "cpu", "stopped": True, "images_per_s": 10, "train_images": 9}
    )
    assert bar == "Stopped at step 50"
    assert status == (
        "Stopped at step 50 on cpu (10 images/s, 9 real train images)."
        " Start continues from the checkpoint."
    )
    per_class = {
        "truck": {"accepted": 4, "pool": 10, "rejected_classifier": 5, "rejected_memorised": 1},
        "cat": {"accepted": 2, "pool": 4, "rejected_duplicate": 2},
    }
    summary = gs.suggestion_summary({"per_class": per_class, "suggestions": [1] * 6})
    assert summary == (
        "6 suggestions for 2 class(es) waiting for review.\nTurned away: 5 by the classifier,"
        " 1 too close to a real image (memorised), 2 near-duplicates of each other."
    )
    assert gs.suggestion_summary({}).startswith("Every class already reaches the target")
    assert gs.suggestion_details({"per_class": per_class}).splitlines()[0] == (
        "truck: 4 kept of 10 generated (rejected: classifier 5, memorised 1, duplicate 0)"
    )


def test_evaluation_table_shows_mean_and_spread_and_the_verdict():
    def cell(values):
        spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        return {"mean": float(np.mean(values)), "spread": spread, "values": values}

    summary = {
        "real": {"accuracy": cell([0.5, 0.6]), "thin_f1": cell([0.25, 0.25])},
        "real_logit_adjusted": {"accuracy": cell([0.75, 0.75]), "thin_recall": cell([0.5, 0.4])},
    }
    data = {
        "summary": summary, "device": "cpu", "seeds": [0, 1], "spread": "std",
        "best_baseline": "real_logit_adjusted",
        "verdict": {"outcome": "worse", "text": "Worse: the best baseline does better."},
    }  # fmt: skip
    cells = gs.evaluation_cells(data)
    rows = ["real", "real_balanced", "real_logit_adjusted", "real_drw", "real_plus_generated"]
    assert [k for k, _t in gs.EVAL_ROWS] == rows and len(cells) == len(rows)
    assert cells[0] == ["0.550 ± 0.071", "—", "—", "0.250 ± 0.000"]
    assert cells[2][2] == "0.450 ± 0.071" and cells[4] == ["—"] * 4
    assert gs.evaluation_status(data) == (
        "Scored on the real val split, on cpu; 2 seeds, each cell mean ± std. Best baseline:"
        " Logit-adjusted. No accepted suggestions yet: the + Generated row is empty. Worse: the"
        " best baseline does better."
    )
    one = {"summary": {"real": {"accuracy": cell([0.5])}}, "seeds": [0], "device": "cpu"}
    assert gs.evaluation_cells(one)[0][0] == "0.500"  # no spread to show with one seed
    assert gs.evaluation_status(one).startswith("Scored on the real val split, on cpu; 1 seed.")


def test_tile_words():
    tile = {
        "id": 7,
        "seed": 3,
        "scores": {"p_class": 0.91, "nn_distance": 0.25, "pixel_nn_distance": 0.5},
        "nn_id": 2,
        "nn_name": "a.png",
    }
    assert gs.tile_caption(tile["scores"]) == "p 0.91 · nn 0.25"
    assert gs.tile_tooltip(tile).splitlines() == [
        "Suggestion #7 (seed 3)",
        "Class probability: 0.910",
        "Distance to the nearest real image: 0.250 (pixels: 0.500)",
        "Nearest real image: image #2 (a.png)",
    ]
    assert (
        gs.review_status(3, 0) == "3 pending" and gs.review_status(3, 2) == "3 pending, 2 selected"
    )
    assert gs.review_status(0, 0) == "Nothing to review for this class."


def test_train_watcher_thins_progress_and_reports_new_sample_grids(tmp_path):
    now = [100.0]
    progress, grids = [], []
    run = tmp_path / "runs" / "00001"
    run.mkdir(parents=True)
    (run / "samples-000010.png").write_bytes(b"old")
    watcher = gs.TrainWatcher(tmp_path / "runs", progress.append, grids.append, lambda: now[0])
    info = {"step": 1}
    watcher(info)
    now[0] += 0.1
    watcher({"step": 2})  # too soon: dropped
    now[0] += gs.SAMPLE_POLL_S
    (run / "samples-000020.png").write_bytes(b"new")
    watcher({"step": 3})
    assert progress == [{"step": 1}, {"step": 3}] and progress[0] is not info
    assert grids == [run / "samples-000020.png"]  # the grid that was there before is not new
    watcher.look_for_samples(force=True)
    assert grids[-1] == run / "samples-000020.png" and len(grids) == 2


@pytest.fixture
def reviewed(project, cifar_subset):
    """Three CIFAR classes, a recorded generator, pending suggestions for truck (2) and cat
    (1), a sample grid and the run's options."""
    import_folders(project, [cifar_subset], labels_from_folders=True)
    run = gan_folder(project) / "runs" / "00001"
    run.mkdir(parents=True)
    (run / "samples-000003.png").write_bytes(b"png")
    config = {"class_names": ["a", "b"], "width": "tiny"}
    (run / "options.json").write_text(json.dumps({"config": config}))
    gid = store.add_generator(
        project, run_dir=str(run), checkpoint=str(run / "checkpoint.pt"), sha256="0" * 64,
        step=3, resolution=32, class_ids=[c.id for c in project.classes()],
    )  # fmt: skip
    truck, cat = project.class_by_name("truck"), project.class_by_name("cat")
    nn = project.images()[0]
    rgb = np.full((32, 32, 3), 128, np.uint8)
    rows = [
        {"class_id": truck.id, "seed": 1, "rgb": rgb, "scores": {"rank": 1}, "nn_image_id": nn.id},
        {"class_id": truck.id, "seed": 2, "rgb": rgb, "scores": {"rank": 0}},
        {"class_id": cat.id, "seed": 3, "rgb": rgb, "scores": {"rank": 0}},
    ]
    store.add_suggestions(project, gid, 0, rows, gan_folder(project) / "suggestions")
    return project


def test_load_review_shows_one_class_with_its_tiles_in_rank_order(reviewed):
    truck, airplane = reviewed.class_by_name("truck"), reviewed.class_by_name("airplane")
    data = gs.load_review(reviewed, truck.id)
    assert data["class_id"] == truck.id
    assert [t["seed"] for t in data["tiles"]] == [2, 1]
    first, second = data["tiles"]
    assert first["image"].shape == (32, 32, 3) and first["nn"] is None and first["nn_id"] is None
    assert (
        second["nn"] is not None and second["nn_name"] == reviewed.images()[0].path.split("/")[-1]
    )
    assert data["generator"] == {"step": 3, "resolution": 32, "width": "tiny"}
    assert data["samples"].name == "samples-000003.png"
    assert gs.sample_names(data["samples"]) == ["a", "b"]
    lines = dict((cid, text) for cid, text, _k in data["lines"])
    assert lines[truck.id].endswith("— 2 pending")

    assert gs.load_review(reviewed, airplane.id)["tiles"] == []  # asked for: shown, empty
    moved = gs.load_review(reviewed, airplane.id, prefer_pending=True)
    assert moved["class_id"] != airplane.id and moved["tiles"]  # a class with suggestions
    assert gs.load_review(reviewed, None)["class_id"] == moved["class_id"]
    assert gs.pending_lines(reviewed) == data["lines"]


def test_a_tile_whose_file_is_gone_shows_no_picture(reviewed):
    for s in store.list_suggestions(reviewed):
        reviewed.resolve(s.path).unlink()
    data = gs.load_review(reviewed, reviewed.class_by_name("truck").id)
    assert [t["image"] for t in data["tiles"]] == [None, None]
    assert gs.sample_names(data["samples"].with_name("missing.png")) == ["a", "b"]
    (data["samples"].parent / "options.json").write_text("not json")
    assert gs.sample_names(data["samples"]) == []
