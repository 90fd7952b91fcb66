"""The GAN panel on a tiny CPU run: training with progress and the CPU warning, suggestions,
the review grid driven by keys and buttons, and the evaluation table."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette

from labeler.app.imports import import_folders
from labeler.app.splits import split_project
from labeler.gui.gan_panel import GanPanel, open_gan_panel
from labeler.store import gan as store

TIMEOUT = 60_000


@pytest.fixture(autouse=True)
def _two_threads(monkeypatch):
    import torch

    torch.set_num_threads(2)
    monkeypatch.setattr(GanPanel, "torch_threads", 2)  # the workers' threads too


@pytest.fixture
def labelled(project, cifar_subset):
    """Three CIFAR classes (5/4/3 images), split 60/20/20."""
    import_folders(project, [cifar_subset], labels_from_folders=True)
    split_project(project, (0.6, 0.2, 0.2), 0)
    return project


@pytest.fixture
def suggested(labelled):
    """A 3-step tiny generator and one round of suggestions up to 6 images per class (every
    sample kept: p_min=0)."""
    from labeler.app import gan as jobs

    jobs.train(labelled, steps=3, device="cpu", width="tiny", batch_size=8)
    jobs.suggest(labelled, target=6, device="cpu", arch="tiny", classifier_epochs=1, p_min=0)
    return labelled


@pytest.fixture
def opened(qtbot):
    panels = []

    def make(project, class_name=None) -> GanPanel:
        panel = open_gan_panel(None, project, class_name)
        qtbot.addWidget(panel)
        panels.append(panel)
        with qtbot.waitSignal(panel.review_loaded, timeout=TIMEOUT):
            pass
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown()
        assert panel.jobs.pool.waitForDone(10_000) and panel.io.pool.waitForDone(10_000)


def tiny_settings(panel: GanPanel) -> None:
    panel.device_box.setCurrentText("cpu")
    panel.width_box.setCurrentText("tiny")
    panel.budget_box.setCurrentText("steps")  # the CPU's default budget is 15 minutes
    panel.steps_spin.setValue(3)
    panel.batch_spin.setValue(8)
    panel.arch_box.setCurrentText("tiny")
    panel.clf_epochs_spin.setValue(1)
    panel.eval_epochs_spin.setValue(1)
    panel.p_min_spin.setValue(0.0)
    panel.target_box.setCurrentText("max")


def test_training_then_suggestions_fill_the_review_grid(qtbot, labelled, opened):
    panel = opened(labelled)
    assert panel.grid.count() == 0
    tiny_settings(panel)
    assert panel.cpu_warning.isVisible()  # the CPU was picked: the warning says it is slow
    with qtbot.waitSignal(panel.training_finished, timeout=TIMEOUT) as done:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    assert done.args[0]["step"] == 3
    assert "step 3" in panel.train_status.text() and "cpu" in panel.train_status.text()
    assert panel.cpu_warning.isVisible() and panel.cuda_label.text()
    assert panel.samples_label.pixmap() is not None and not panel.samples_label.pixmap().isNull()
    assert store.latest_generator(labelled).step == 3

    with qtbot.waitSignal(panel.review_loaded, timeout=TIMEOUT):
        qtbot.mouseClick(panel.suggest_button, Qt.MouseButton.LeftButton)
    pending = store.list_suggestions(
        labelled, status="pending", class_id=panel.session.wanted_class
    )
    assert panel.grid.count() == len(pending) > 0
    assert "waiting for review" in panel.suggest_status.text()


def test_stop_saves_a_checkpoint_and_start_resumes(qtbot, labelled, opened):
    panel = opened(labelled)
    tiny_settings(panel)
    panel.steps_spin.setValue(100_000)
    with qtbot.waitSignal(panel.training_finished, timeout=TIMEOUT) as done:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Step" in panel.train_status.text(), timeout=TIMEOUT)
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    first = done.args[0]
    assert first["stopped"] and "Start continues" in panel.train_status.text()
    # Issue 17: a stopped run's bar was full and blue, as a finished one.
    bar = panel.train_bar
    assert bar.value() < bar.maximum()
    assert bar.format().startswith(f"Stopped at step {first['step']} of ")
    highlight = bar.palette().color(QPalette.ColorRole.Highlight)
    assert highlight != panel.palette().color(QPalette.ColorRole.Highlight)
    panel.steps_spin.setValue(2)
    with qtbot.waitSignal(panel.training_finished, timeout=TIMEOUT) as again:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert again.args[0]["resumed"] and again.args[0]["step"] == first["step"] + 2
    assert bar.value() == bar.maximum() and bar.format().startswith("Trained at step")
    assert bar.palette().color(QPalette.ColorRole.Highlight) == panel.palette().color(
        QPalette.ColorRole.Highlight
    )


def test_evaluation_headers_are_not_clipped_at_the_default_size(qtbot, labelled, opened):
    panel = opened(labelled)
    panel.show()
    qtbot.waitExposed(panel)
    assert (panel.width(), panel.height()) == (1280, 820)
    header = panel.eval_table.horizontalHeader()
    for c in range(header.count()):
        title = panel.eval_table.horizontalHeaderItem(c).text()
        assert header.sectionSize(c) >= header.fontMetrics().horizontalAdvance(title) + 12, title


def test_keys_accept_and_reject_tiles(qtbot, suggested, opened):
    truck = suggested.class_by_name("truck")
    panel = opened(suggested, "truck")
    assert panel.class_box.currentData() == truck.id
    assert panel.class_box.currentText().startswith("truck: 3 images")  # 5 airplanes: not thin
    pending = store.list_suggestions(suggested, status="pending", class_id=truck.id)
    assert panel.grid.count() == len(pending) >= 2
    changed = []
    panel.project_changed.connect(lambda: changed.append(True))
    panel.grid.setFocus()

    first = panel.grid.currentItem().data(Qt.ItemDataRole.UserRole)
    with qtbot.waitSignal(panel.decided, timeout=TIMEOUT) as accepted:
        qtbot.keyClick(panel.grid, Qt.Key.Key_A)
    assert accepted.args == ["accepted", [first]] and changed
    (s,) = [s for s in store.list_suggestions(suggested) if s.id == first]
    img = suggested.image(s.image_id)
    assert (img.provenance, img.split) == ("generated", "train")
    assert [sh.class_id for sh in suggested.shapes(img.id)] == [truck.id]
    assert panel.grid.count() == len(pending) - 1

    second = panel.grid.currentItem().data(Qt.ItemDataRole.UserRole)
    assert second != first and panel.grid.currentItem().isSelected()
    with qtbot.waitSignal(panel.decided, timeout=TIMEOUT) as rejected:
        qtbot.keyClick(panel.grid, Qt.Key.Key_R)
    assert rejected.args == ["rejected", [second]]
    assert {s.id: s.status for s in store.list_suggestions(suggested)}[second] == "rejected"
    assert panel.grid.count() == len(pending) - 2


def test_select_all_and_bulk_reject_then_evaluate(qtbot, suggested, opened):
    panel = opened(suggested)
    tiny_settings(panel)
    cid = panel.class_box.currentData()
    n = panel.grid.count()
    panel.grid.setFocus()
    qtbot.keyClick(panel.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(panel.grid.selectedItems()) == n
    with qtbot.waitSignal(panel.decided, timeout=TIMEOUT) as rejected:
        qtbot.mouseClick(panel.reject_button, Qt.MouseButton.LeftButton)
    assert len(rejected.args[1]) == n and panel.grid.count() == 0
    assert not store.list_suggestions(suggested, status="pending", class_id=cid)

    assert panel.eval_seeds_spin.value() == 2  # fewer than the CLI's 3, and it says so
    assert panel.eval_seeds_label.text() == "Seeds (2 by default; the CLI runs 3)"
    with qtbot.waitSignal(panel.evaluation_finished, timeout=TIMEOUT) as done:
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    data = done.args[0]
    baselines = {"real", "real_balanced", "real_logit_adjusted", "real_drw"}
    assert set(data["summary"]) == baselines and data["seeds"] == [0, 1]
    mean, spread = panel.eval_table.item(0, 0).text().split(" ± ")
    accuracy = data["summary"]["real"]["accuracy"]
    assert float(mean) == pytest.approx(accuracy["mean"], abs=1e-3)
    assert float(spread) == pytest.approx(accuracy["spread"], abs=1e-3)
    assert panel.eval_table.item(4, 0).text() == "—"  # nothing accepted: no generated row
    assert "2 seeds" in panel.eval_status.text() and "Best baseline" in panel.eval_status.text()


def test_evaluation_states_whether_generated_samples_helped(qtbot, labelled, opened):
    from labeler.ml.evaluate import verdict

    panel = opened(labelled)
    metrics = ("accuracy", "macro_recall", "thin_recall", "thin_f1")
    means = (("real", 0.1), ("real_balanced", 0.5), ("real_logit_adjusted", 0.45),
             ("real_drw", 0.3), ("real_plus_generated", 0.4))  # fmt: skip
    summary = {
        name: {m: {"mean": v, "spread": 0.01, "values": [v - 0.01, v, v + 0.01]} for m in metrics}
        for name, v in means
    }
    data = {"summary": summary, "verdict": verdict(summary), "device": "cpu", "seeds": [0, 1, 2],
            "best_baseline": "real_balanced"}  # fmt: skip
    panel._evaluation_done(data)
    assert panel.eval_table.item(4, 2).text() == "0.400 ± 0.010"
    assert panel.eval_status.text().endswith(data["verdict"]["text"])
    assert "Worse: the best baseline (class-balanced sampling)" in panel.eval_status.text()


def test_errors_read_as_messages(qtbot, labelled, opened):
    panel = opened(labelled)
    tiny_settings(panel)
    with qtbot.waitSignal(panel.job_failed, timeout=TIMEOUT) as failed:
        qtbot.mouseClick(panel.suggest_button, Qt.MouseButton.LeftButton)
    assert "no generator yet" in failed.args[0]
    assert panel.error_label.isVisible() and panel.suggest_button.isEnabled()


def _shown(panel: GanPanel) -> dict:
    return {
        "width": panel.width_box.currentText(),
        "budget": panel.budget_box.currentText(),
        "steps": panel.steps_spin.value(),
        "minutes": panel.minutes_spin.value(),
        "arch": panel.arch_box.currentText(),
        "classifier_epochs": panel.clf_epochs_spin.value(),
        "eval_epochs": panel.eval_epochs_spin.value(),
    }


def test_defaults_follow_the_device_instead_of_a_warning_against_them(qtbot, labelled, opened):
    panel = opened(labelled)
    qtbot.waitUntil(lambda: panel.session.cuda_known, timeout=TIMEOUT)
    if panel.cuda_name:
        pytest.skip("a CUDA GPU is present: the CPU defaults are tested on a machine without")
    # No CUDA here: "auto" runs on the CPU, so the panel offers what finishes there.
    assert _shown(panel) == {
        "width": "small",
        "budget": "minutes",
        "steps": 500,
        "minutes": 15,
        "arch": "small",
        "classifier_epochs": 10,
        "eval_epochs": 10,
    }
    options = panel.training_options()
    assert options["minutes"] == 15 and options["steps"] is None  # a wait the user can plan
    assert panel.batch_spin.text() == "auto" and options["batch_size"] is None
    assert panel.cpu_warning.isVisible() and panel.minutes_spin.isVisible()
    warning = panel.cpu_warning.text()
    assert "width small" in warning and "15 minutes" in warning and "small classifier" in warning
    # Picking the GPU brings the GPU's sizes; a control the user set keeps its value.
    panel.steps_spin.setValue(120)
    panel.device_box.setCurrentText("cuda")
    assert _shown(panel) == {
        "width": "base",
        "budget": "steps",
        "steps": 120,
        "minutes": 10,
        "arch": "resnet18",
        "classifier_epochs": 30,
        "eval_epochs": 30,
    }
    assert not panel.cpu_warning.isVisible()
    panel.device_box.setCurrentText("cpu")
    assert _shown(panel)["width"] == "small" and _shown(panel)["steps"] == 120
    assert panel.cpu_warning.isVisible()
    panel.batch_spin.setValue(24)
    assert panel.training_options()["batch_size"] == 24


def test_auto_batch_trains_with_the_devices_batch(qtbot, labelled, opened):
    panel = opened(labelled)
    tiny_settings(panel)
    panel.batch_spin.setValue(0)  # back to "auto"
    assert panel.batch_spin.text() == "auto"
    with qtbot.waitSignal(panel.training_finished, timeout=TIMEOUT) as done:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert done.args[0]["batch_size"] == 32 and done.args[0]["step"] == 3


def test_an_earlier_run_is_offered_at_its_width_so_start_continues_it(qtbot, labelled, opened):
    """Outside try: the panel said "Start continues it" over an earlier tiny run, but its CPU
    default width (small) started a new run beside it."""
    from labeler.app import gan as jobs

    jobs.train(labelled, steps=2, device="cpu", width="tiny", batch_size=8)
    panel = opened(labelled)
    assert panel.width_box.currentText() == "tiny" and panel.resolution_box.currentText() == "32"
    assert "width tiny" in panel.train_status.text()
    panel.device_box.setCurrentText("cpu")
    panel.budget_box.setCurrentText("steps")
    panel.steps_spin.setValue(2)
    panel.batch_spin.setValue(8)
    with qtbot.waitSignal(panel.training_finished, timeout=TIMEOUT) as done:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert done.args[0]["resumed"] and done.args[0]["step"] == 4
    runs = [d for d in (jobs.gan_folder(labelled) / "runs").iterdir() if d.is_dir()]
    assert len(runs) == 1
