"""The recipe editor as a project lead uses it: add ops, tune parameters while the preview
follows, see a bad value explained, save into the project, import and export files."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from labeler.app.imports import import_folders
from labeler.core.augment import Recipe, step
from labeler.core.shapes import Shape
from labeler.gui.recipe_editor import RecipeEditor, open_recipe_editor
from labeler.store import recipes as store


@pytest.fixture
def astronaut(project, photos) -> int:
    """The project with two demo photos; the astronaut has a person box. Returns its id."""
    import_folders(project, [photos / "astronaut.jpg", photos / "coffee.jpg"])
    person = project.add_class("person")
    image = project.find_image("astronaut.jpg")
    project.add_shape(image.id, Shape.box(person.id, 130, 20, 430, 510))
    return image.id


@pytest.fixture
def editor(qtbot, project, astronaut, monkeypatch):
    # Closing with unsaved work asks; a test must never block on a modal box.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dlg = open_recipe_editor(None, project, astronaut)
    qtbot.addWidget(dlg)
    qtbot.waitExposed(dlg)
    yield dlg
    dlg.close()
    assert dlg.workers is None  # closing stopped and waited for the preview thread


def _key(editor: RecipeEditor) -> int:
    pixmap = editor.preview.pixmap()
    return 0 if pixmap.isNull() else pixmap.cacheKey()


def _wait_for_new_preview(qtbot, editor: RecipeEditor, before: int) -> None:
    qtbot.waitUntil(lambda: _key(editor) not in (0, before), timeout=5000)


def test_add_op_and_change_a_parameter_update_the_preview(qtbot, editor):
    assert editor.recipe is not None and editor.recipe.steps == ()  # an empty new recipe
    qtbot.waitUntil(lambda: _key(editor) != 0, timeout=5000)
    empty = _key(editor)
    editor.add_op("rotate")
    assert editor.step_list.count() == 1 and editor.step_box.title() == "Step: rotate"
    _wait_for_new_preview(qtbot, editor, empty)
    rotated = _key(editor)
    low, high = editor.param_inputs["angle"]
    high.setValue(40.0)
    _wait_for_new_preview(qtbot, editor, rotated)
    assert editor.current_step()["params"]["angle"] == [-15.0, 40.0]
    assert "seed 0" in editor.preview_status.text()
    assert editor.grid_image().width() == 3 * 256 + 4 * 4  # 8 copies: 3 columns of 256 px


def test_an_invalid_parameter_shows_the_reason_and_disables_save(qtbot, editor):
    editor.add_op("rotate")
    assert editor.save_button.isEnabled()
    low, high = editor.param_inputs["angle"]
    low.setValue(30.0)  # above high (15): low must not exceed high
    assert editor.recipe is None
    assert not editor.save_button.isEnabled()
    assert editor.error_label.isVisibleTo(editor)
    assert "steps[0] (rotate): parameter 'angle' low must not exceed high" in editor.error
    low.setValue(5.0)
    assert editor.recipe is not None and editor.error == "" and editor.save_button.isEnabled()
    editor.name_edit.clear()
    assert editor.error == "a recipe needs a name" and not editor.save_button.isEnabled()


def test_save_writes_the_recipe_with_its_params(qtbot, editor, project):
    editor.name_edit.setText("light")
    editor.add_op("horizontal_flip")
    editor.p_spin.setValue(0.5)
    editor.add_op("gaussian_blur")
    editor.param_inputs["sigma"][1].setValue(2.5)
    editor.add_op("jpeg")
    editor.move_step(-1)  # jpeg before blur
    with qtbot.waitSignal(editor.recipe_saved) as saved:
        editor.save_button.click()
    assert saved.args == ["light"]
    stored = store.get_recipe(project, "light")
    recipe = Recipe.from_dict(stored.definition)
    assert [s.op.name for s in recipe.steps] == ["horizontal_flip", "jpeg", "gaussian_blur"]
    assert recipe.steps[0].p == 0.5
    assert recipe.steps[2].op.values["sigma"] == (0.8, 2.5)
    assert not editor.dirty and not editor.save_button.isEnabled()
    assert [editor.recipe_list.item(i).text() for i in range(editor.recipe_list.count())] == [
        "light"
    ]


def test_remove_duplicate_rename_and_delete(qtbot, editor, project):
    editor.add_op("rotate")
    editor.add_op("vertical_flip")
    editor.step_list.setCurrentRow(0)
    editor.remove_step()
    assert [s["op"] for s in editor.step_dicts()] == ["vertical_flip"]
    editor.name_edit.setText("a")
    assert editor.save()
    editor.duplicate_recipe()
    assert editor.name_edit.text() == "a-copy" and editor.dirty
    assert editor.save()
    assert [r.name for r in store.list_recipes(project)] == ["a", "a-copy"]
    editor.name_edit.setText("b")
    assert editor.save()  # a rename: the old name goes
    assert [r.name for r in store.list_recipes(project)] == ["a", "b"]
    editor.name_edit.setText("a")
    assert not editor.save() and "already exists" in editor.error  # no silent overwrite
    editor.revert()
    with qtbot.waitSignal(editor.recipe_removed):
        editor.delete_recipe()
    assert [r.name for r in store.list_recipes(project)] == ["a"]


def test_groups_are_shown_read_only_and_survive_a_save(editor, project):
    definition = {
        "schema_version": 1,
        "steps": [
            {"one_of": [{"op": "gaussian_blur"}, {"op": "motion_blur"}], "p": 0.3},
            {"op": "rotate", "params": {"angle": [-5, 5]}},
        ],
    }
    store.save_recipe(project, "grouped", definition)
    editor.reload_recipes(select="grouped")
    assert editor.step_list.item(0).text().startswith("one of: gaussian_blur, motion_blur")
    assert editor.param_inputs == {} and editor.p_spin is not None
    editor.p_spin.setValue(0.6)
    assert editor.save()
    saved = Recipe.from_dict(store.get_recipe(project, "grouped").definition)
    assert saved.steps[0].p == 0.6 and len(saved.steps[0].steps) == 2


def test_import_and_export_json_files(editor, project, tmp_path, monkeypatch):
    src = tmp_path / "detector.json"
    src.write_text(Recipe((step("rotate", p=0.5, angle=(-10, 10)),), name="detector").to_json())
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(src), ""))
    editor.import_recipe()
    assert editor.name_edit.text() == "detector" and editor.dirty
    assert editor.save()
    assert store.get_recipe(project, "detector") is not None
    out = tmp_path / "out.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    editor.export_recipe()
    assert json.loads(out.read_text())["steps"][0]["params"]["angle"] == [-10.0, 10.0]
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "steps": [{"op": "rotat"}]}')
    warned = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warned.append(text))
    editor.import_recipe()
    assert warned and "did you mean 'rotate'" in warned[0]


def test_only_the_latest_request_is_shown(qtbot, editor):
    qtbot.waitUntil(lambda: _key(editor) != 0, timeout=5000)
    editor.add_op("rotate")
    editor.n_spin.setValue(2)
    editor._start_preview()
    editor.n_spin.setValue(5)
    editor._start_preview()
    # Both may finish; whatever arrives, what stays on screen is the 5-copy grid.
    qtbot.waitUntil(lambda: editor.grid_image().width() == 3 * 256 + 16, timeout=5000)
    editor.workers.pool.waitForDone()
    qtbot.wait(50)
    assert editor.grid_image().width() == 3 * 256 + 16 and editor.grid_image().height() < 600


def test_a_drag_reorders_the_steps(editor):
    from PySide6.QtCore import QModelIndex

    for op in ("rotate", "jpeg", "grayscale"):
        editor.add_op(op)
    editor.dirty = False
    # What an internal drag does to the list's model: move row 2 to the top.
    assert editor.step_list.model().moveRow(QModelIndex(), 2, QModelIndex(), 0)
    assert [s["op"] for s in editor.step_dicts()] == ["grayscale", "rotate", "jpeg"]
    assert editor.dirty
    assert [s.op.name for s in editor.recipe.steps] == ["grayscale", "rotate", "jpeg"]


def test_a_stored_recipe_the_editor_cannot_read_shows_why(editor, project):
    bad = {
        "schema_version": 1,
        "steps": [
            {"op": "from_a_missing_plugin"},
            {"op": "clahe", "params": {"tiles": 16.0, "clip_limit": "high"}},
        ],
    }
    project.conn.execute(
        "INSERT INTO recipes(name, definition) VALUES (?, ?)", ("broken", json.dumps(bad))
    )
    project.conn.commit()
    editor.reload_recipes(select="broken")
    assert "unknown op 'from_a_missing_plugin'" in editor.error
    assert not editor.save_button.isEnabled()
    editor.step_list.setCurrentRow(1)
    assert editor.param_inputs["tiles"][0].value() == 16  # 16.0 read as the integer it is
    editor.step_list.setCurrentRow(0)
    editor.remove_step()
    assert "parameter 'clip_limit'" in editor.error  # the bad value is named, not hidden
