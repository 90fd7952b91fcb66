"""The split and export dialog as a project lead uses it: split, export a checked version,
cancel a slow export, and read why a target folder was refused."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from labeler.app.imports import import_folders
from labeler.core.augment import Recipe, step
from labeler.core.shapes import Shape
from labeler.gui.export_dialog import ExportDialog, open_export_dialog
from labeler.store import recipes as store
from labeler.store.versions import list_versions


@pytest.fixture
def dialog(qtbot, project, cifar_subset, monkeypatch):
    import_folders(project, [cifar_subset], labels_from_folders=True)  # 12 tagged images
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail("modal box"))
    dlg = open_export_dialog(None, project)
    qtbot.addWidget(dlg)
    qtbot.waitExposed(dlg)
    yield dlg
    dlg.close()
    assert dlg.workers is None


def _export(qtbot, dlg: ExportDialog, target, signal="export_finished", timeout=10_000):
    dlg.target_edit.setText(str(target))
    with qtbot.waitSignal(getattr(dlg, signal), timeout=timeout) as got:
        dlg.export_button.click()
    return got.args[0]


def test_ratios_must_add_up_to_one(dialog):
    assert dialog.split_button.isEnabled() and not dialog.ratio_message.isVisibleTo(dialog)
    dialog.ratio_spins[1].setValue(0.2)
    assert not dialog.split_button.isEnabled()
    assert dialog.ratio_message.text() == "The ratios must add up to 1 (now 1.10)."
    dialog.ratio_spins[0].setValue(0.7)
    assert dialog.split_button.isEnabled() and dialog.ratio_message.text() == ""


def test_split_now_writes_splits_and_shows_counts(qtbot, dialog, project):
    assert all(i.split is None for i in project.images())
    dialog.ratio_spins[0].setValue(0.6)
    dialog.ratio_spins[1].setValue(0.2)
    dialog.ratio_spins[2].setValue(0.2)
    with qtbot.waitSignal(dialog.project_changed, timeout=10_000):
        dialog.split_button.click()
    splits = [i.split for i in project.images()]
    assert None not in splits and set(splits) == {"train", "val", "test"}
    data = dialog.last_split
    assert data["ratios"] == {"train": 0.6, "val": 0.2, "test": 0.2}
    assert sum(data["images"].values()) == 12
    assert dialog.table.rowCount() == 3  # airplane, cat, truck
    assert dialog.table.horizontalHeaderItem(3).text() == "deviation"
    assert "Largest deviation" in dialog.summary.text()
    bar = dialog.progress
    assert bar.value() == bar.maximum() and bar.text() == "Split finished"


def test_export_coco_is_verified_and_recorded(qtbot, dialog, project, tmp_path):
    cat = project.class_by_name("cat")
    first = project.images()[0]
    project.add_shape(first.id, Shape.box(cat.id, 2, 3, 20, 25))  # COCO keeps boxes, not tags
    dialog.format_combo.setCurrentText("coco")
    assert dialog.target_edit.text().endswith("test-coco-v1")  # a suggested version folder
    with qtbot.waitSignal(dialog.project_changed, timeout=10_000):
        data = _export(qtbot, dialog, tmp_path / "out" / "v1")
    assert (tmp_path / "out" / "v1" / "manifest.json").is_file()
    assert data["verified"] and data["version"] == 1 and data["auto_split"] == 12
    assert "verified: yes" in dialog.summary.text()
    assert "Exported version 1" in dialog.result_title.text()
    # Issue 17: the bar was blank once the export ended; it says it finished, and full.
    bar = dialog.progress
    assert bar.value() == bar.maximum() and bar.text() == "Exported version 1: 12 images"
    assert dialog.table.verticalHeaderItem(0).text() == "images"
    assert dialog.table.rowCount() == 2  # images, then the one class with a box
    assert dialog.table.verticalHeaderItem(1).text() == "cat"
    split = next(s for s in ("train", "val", "test") if data["shapes"][s])
    assert dialog.table.item(1, ("train", "val", "test").index(split)).text() == "1 box"
    # The 12 image-level tags have no place in COCO: the report says so.
    assert "coco holds no image-level tags: 12 tag(s) were not written" in (
        dialog.notes.toPlainText()
    )
    assert [v.format for v in list_versions(project)] == ["coco"]
    assert all(i.split for i in project.images())  # the export assigned the missing splits
    assert dialog.target_edit.text().endswith("test-coco-v2")  # ready for the next one


def test_export_with_a_recipe_adds_augmented_copies(qtbot, dialog, project, tmp_path):
    recipe = Recipe((step("horizontal_flip"),), name="flip")
    store.save_recipe(project, "flip", recipe.to_dict())
    assert not dialog.multiplier.isEnabled()
    dialog.reload_recipes()
    dialog.recipe_combo.setCurrentText("flip")
    assert dialog.multiplier.isEnabled()
    dialog.multiplier.setValue(2)
    dialog.format_combo.setCurrentText("imagefolder")
    data = _export(qtbot, dialog, tmp_path / "aug")
    assert 3 * data["augmented"] == 2 * data["images"]["train"]  # two copies per original
    assert data["augmented"] > 0 and data["verified"]
    assert list_versions(project)[0].recipe == "flip"
    assert "augmented" in dialog.summary.text()


def test_cancel_mid_export_leaves_no_target(qtbot, dialog, project, tmp_path, monkeypatch):
    from labeler.core import linking

    real = linking.write_image
    written: list[int] = []
    held = threading.Event()

    def stuck(*args, **kwargs):  # a disk that stalls on the third image until Cancel
        written.append(1)
        if len(written) == 3:
            held.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(linking, "write_image", stuck)
    target = tmp_path / "cancelled"
    dialog.target_edit.setText(str(target))
    dialog.export_button.click()
    assert dialog.cancel_button.isEnabled() and not dialog.export_button.isEnabled()
    qtbot.waitUntil(lambda: len(written) >= 3, timeout=20_000)
    with qtbot.waitSignal(dialog.export_failed, timeout=20_000):
        dialog.cancel_button.click()
        held.set()  # however loaded the machine, the export was mid-way when Cancel came
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cancelled")]
    assert list_versions(project) == []
    assert all(i.split is None for i in project.images())
    assert "Export cancelled" in dialog.result_title.text()
    assert "Nothing was changed" in dialog.summary.text()
    assert dialog.progress.text() == "Export cancelled"
    assert dialog.progress.value() < dialog.progress.maximum()  # never full when it stopped
    assert dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_non_empty_target_without_overwrite_reads_clearly(qtbot, dialog, project, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    message = _export(qtbot, dialog, target, signal="export_failed")
    assert "is not empty; tick Overwrite to replace it" in message
    assert "--overwrite" not in dialog.summary.text()
    assert (target / "notes.txt").read_text() == "keep me"
    assert list_versions(project) == []
    dialog.overwrite.setChecked(True)  # replaces an earlier export only, never this folder
    message = _export(qtbot, dialog, target, signal="export_failed")
    assert "not an export of ours" in message and "--overwrite" not in message
    assert (target / "notes.txt").read_text() == "keep me"
    (target / "notes.txt").unlink()
    assert _export(qtbot, dialog, target)["verified"]
    assert _export(qtbot, dialog, target)["verified"]  # an export of ours: replaced


def test_browse_sets_the_target_and_closing_mid_export_stops_the_worker(
    qtbot, dialog, tmp_path, monkeypatch
):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "b"))
    dialog.browse_button.click()
    assert dialog.target_edit.text() == str(tmp_path / "b")
    dialog.format_combo.setCurrentText("yolo")
    assert dialog.target_edit.text() == str(tmp_path / "b")  # typed or browsed: kept
    dialog.export_button.click()
    dialog.close()  # waits for the export thread; the autouse fixture checks none is left
    assert dialog.workers is None


def test_an_export_that_leaves_images_out_says_so_in_the_summary(qtbot, dialog, project, tmp_path):
    # Two classes on one image: an ImageFolder tree cannot place it, so it is left out.
    first = project.images()[0]
    other = next(
        c for c in project.classes() if c.id not in {s.class_id for s in project.shapes(first.id)}
    )
    project.set_setting("multi_label", "1")
    project.add_shape(first.id, Shape.tag(other.id))
    dialog.format_combo.setCurrentText("imagefolder")
    data = _export(qtbot, dialog, tmp_path / "out" / "v1")
    assert data["not_exported"] == 1 and data["project_images"] == 12
    assert "1 of 12 project image(s) are NOT in this export" in dialog.summary.text()
    assert first.path.rsplit("/", 1)[-1] in dialog.notes.toPlainText()


def test_an_export_of_no_label_at_all_is_loud(qtbot, dialog, tmp_path):
    dialog.format_combo.setCurrentText("yolo")  # YOLO holds no image-level tag
    _export(qtbot, dialog, tmp_path / "out" / "v1")
    assert "NO LABEL IS EXPORTED" in dialog.summary.text()
