"""Pre-labels in the window: Data -> Pre-labels trains on a worker, says the measured accuracy
first, shows the current image's proposal as text (never as a label), Y accepts it as one undo
step, and the list can be ordered least sure first. Checked in the project file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from labeler.app.imports import import_folders
from labeler.store import proposals as store
from labeler.store.project import Project

COLOURS = {"red": (30, 30, 200), "green": (40, 180, 40), "blue": (200, 60, 30)}


def _photo(rng, bgr) -> np.ndarray:
    img = np.clip(rng.normal(0, 18, (48, 48, 3)) + np.array(bgr), 0, 255).astype(np.uint8)
    x, y = rng.integers(4, 30, 2)
    cv2.circle(img, (int(x), int(y)), int(rng.integers(4, 12)), (128, 128, 128), -1)
    return img


def _project(tmp_path, noise: bool):
    """12 labelled images per class (by folder) and 3 unlabeled per class; `noise`: the
    pixels say nothing about the labels."""
    rng = np.random.default_rng(7)
    root, loose = tmp_path / "labelled", tmp_path / "loose"
    loose.mkdir(parents=True)
    for name, bgr in COLOURS.items():
        (root / name).mkdir(parents=True)
        for k in range(12):
            img = rng.integers(0, 255, (32, 32, 3), np.uint8) if noise else _photo(rng, bgr)
            cv2.imwrite(str(root / name / f"{k}.png"), img)
        for k in range(3):
            img = rng.integers(0, 255, (32, 32, 3), np.uint8) if noise else _photo(rng, bgr)
            cv2.imwrite(str(loose / f"{name}{k}.png"), img)
    path = tmp_path / "colours.labeler"
    with Project.create(path) as p:
        import_folders(p, [root], labels_from_folders=True)
        import_folders(p, [loose])
    return path


def _open(qtbot, path):
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(path), open_last=False)
    qtbot.addWidget(w)
    w.resize(1100, 750)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def good(qtbot, tmp_path):
    path = _project(tmp_path, noise=False)
    w = _open(qtbot, path)
    yield w, path
    w.close()


def _train(qtbot, w):
    w.actions["prelabel"].trigger()  # Data -> Pre-labels…
    panel = w.prelabels
    assert panel.isVisible()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.last_report is not None, timeout=60000)
    return panel


def _tags(path, image_id):
    with Project.open(path) as p:
        return [s.class_id for s in p.shapes(image_id) if s.kind == "tag"]


def test_train_shows_accuracy_then_y_accepts_the_proposal_in_one_undo_step(qtbot, good):
    w, path = good
    panel = _train(qtbot, w)
    assert panel.last_report.offered
    assert panel.result.text().startswith("Measured on held-out labelled images: ")
    w.set_filter("unlabeled")
    image = w.current.id
    with Project.open(path) as p:
        proposal = store.proposal(p, image)
        name = {c.id: c.name for c in p.classes()}[proposal.class_id]
        before = p.stats()
    assert f"proposal {name}" in panel.current.text().replace("<b>", "").replace("</b>", "")
    assert w.prelabels.status_label.text().startswith(f"Proposal: {name} ")
    assert _tags(path, image) == []  # shown, not stored
    assert [s.kind for s in w.session.shapes] == []  # nor drawn as a label
    w.canvas.setFocus()
    qtbot.keyClick(w.canvas, Qt.Key.Key_Y)
    assert _tags(path, image) == [proposal.class_id]
    with Project.open(path) as p:
        assert store.proposal(p, image) is None
        assert p.stats() != before
    qtbot.keyClick(w.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _tags(path, image) == []
    with Project.open(path) as p:
        assert store.proposal(p, image) == proposal  # pending again
        assert p.stats() == before


def test_the_list_can_be_ordered_least_sure_first(qtbot, good):
    w, path = good
    panel = _train(qtbot, w)
    panel.order.setChecked(True)
    with Project.open(path) as p:
        expected = [x.image_id for x in store.pending_proposals(p, by_uncertainty=True)]
    listed = [w.session.images.row(r).id for r in range(len(expected))]
    assert listed == expected
    panel.order.setChecked(False)
    assert w.sort_box.currentData() == "name"


def test_a_weak_model_says_so_and_nothing_is_proposed_or_accepted(qtbot, tmp_path):
    path = _project(tmp_path, noise=True)
    w = _open(qtbot, path)
    try:
        panel = _train(qtbot, w)
        assert not panel.last_report.offered
        text = panel.result.text()
        assert text.startswith("Measured on held-out labelled images: ")
        assert "Too weak: nothing is proposed" in text
        w.set_filter("unlabeled")
        assert panel.current.text() == "This image: no proposal pending."
        w.canvas.setFocus()
        qtbot.keyClick(w.canvas, Qt.Key.Key_Y)
        assert _tags(path, w.current.id) == []
        assert "no pending proposal" in w.statusBar().currentMessage()
    finally:
        w.close()


def test_cancel_stops_the_run_and_writes_nothing(qtbot, good):
    w, path = good
    w.actions["prelabel"].trigger()
    panel = w.prelabels
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert not panel.run_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=30000)
    assert panel.result.text() == "Stopped; nothing was written."
    assert panel.last_report is None
    with Project.open(path) as p:
        assert store.pending_proposals(p) == [] and store.latest_run(p) is None


def _fully_shown(widget) -> bool:
    """The widget's whole rect is inside every ancestor's (the scroll area's viewport, the
    dock, the window): nothing of it is clipped off."""
    top = widget.window()
    rect = widget.rect().translated(widget.mapTo(top, widget.rect().topLeft()))
    parent = widget.parentWidget()
    while parent is not None:
        shown = parent.rect().translated(parent.mapTo(top, parent.rect().topLeft()))
        if not shown.contains(rect):
            return False
        parent = parent.parentWidget()
    return True


def test_the_dock_shows_all_its_text_at_the_default_window_size(qtbot, tmp_path):
    """Issue 18: at 1280x820 the intro was sliced at top and bottom and, after training,
    only the accuracy line showed; the verdict and the classes left out were hidden."""
    path = _project(tmp_path, noise=True)
    rng = np.random.default_rng(1)
    few = tmp_path / "few"
    for name, n in (("ship", 8), ("truck", 6)):
        (few / name).mkdir(parents=True)
        for k in range(n):
            cv2.imwrite(str(few / name / f"{k}.png"), rng.integers(0, 255, (32, 32, 3), np.uint8))
    with Project.open(path) as p:
        import_folders(p, [few], labels_from_folders=True)
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(path), open_last=False)  # its own default size
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        assert (w.width(), w.height()) == (1280, 820)
        w.actions["prelabel"].trigger()
        panel = w.prelabels
        labels = (panel.intro, panel.result, panel.current)

        def all_shown() -> bool:
            return all(
                label.isVisible()
                and label.height() >= label.heightForWidth(label.width())
                and _fully_shown(label)
                for label in labels
            )

        qtbot.waitUntil(all_shown, timeout=3000)
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.last_report is not None, timeout=60000)
        text = panel.result.text()
        assert "Too weak: nothing is proposed" in text
        assert "Left out, too few labels: ship (8), truck (6)" in text
        assert text.count("\n") == 2  # three lines, each wrapped to the dock's width
        qtbot.waitUntil(all_shown, timeout=3000)
        assert _fully_shown(panel.order)
    finally:
        w.close()


def test_a_plugin_s_pre_labeller_is_offered_in_the_dock_and_measured(qtbot, tmp_path):
    from labeler.core.prelabellers import PRELABELLERS

    class MeanColour:  # a site's model: mean colour, nearest class centroid
        name, title = "mean-colour", "Mean colour"

        def features(self, image):
            return image.reshape(-1, 3).mean(axis=0)

        def fit_predict(self, x, y, x_new, n_classes):
            c = np.stack([x[y == k].mean(axis=0) for k in range(n_classes)])
            d = ((x_new[:, None] - c[None]) ** 2).sum(-1)
            return np.exp(-(d - d.min(axis=1, keepdims=True)) / 500.0)

    before = PRELABELLERS.snapshot()
    PRELABELLERS.register("mean-colour", MeanColour())
    try:
        w = _open(qtbot, _project(tmp_path, noise=False))
        w.actions["prelabel"].trigger()
        box = w.prelabels.model_box
        box.setCurrentIndex(box.findData("mean-colour"))
        assert box.currentText() == "Mean colour (plugin)"
        qtbot.mouseClick(w.prelabels.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: w.prelabels.last_report is not None, timeout=60000)
        assert w.prelabels.last_report.offered
        with Project.open(w.session.project.path) as p:
            from labeler.store import proposals as store

            assert store.latest_run(p).model == "plugin:mean-colour"
        w.close()
    finally:
        PRELABELLERS.restore(before)
