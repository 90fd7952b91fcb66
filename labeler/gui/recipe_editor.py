"""The recipe editor: the project's augmentation recipes, their steps, a parameter form built
from each op's declared parameters, and a live preview grid rendered off the GUI thread.

The editor holds the recipe as its JSON form (a list of step dicts, in a `RecipeDraft`) and
rebuilds it with `Recipe.from_dict` after every change: that one call is the validation, so the
editor can never save what the CLI would refuse, and a bad value shows as the same one-line
message the CLI prints. OneOf/SomeOf groups are shown read-only (their p can be edited; their
members are edited in the JSON file: export, edit, import). The layout and the parameter
widgets are in `labeler.gui.recipe_views`; the draft and its rules in
`labeler.app.recipe_draft`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QListWidgetItem,
    QMessageBox,
    QWidget,
)

from labeler.app.recipe_draft import (
    RecipeDraft,
    default_step,
    empty_definition,
    step_title,
    unique_name,
)
from labeler.app.recipes import preview_source, render_preview
from labeler.core.augment import Recipe, load_recipe, registered_ops
from labeler.core.augment import save_recipe as write_recipe_file
from labeler.core.errors import LabelerError
from labeler.gui.jobs import Job, JobContext, JobRunner
from labeler.gui.recipe_views import ERROR_STYLE, RecipeEditorUi, StepForm
from labeler.gui.workers import to_qimage
from labeler.store import recipes as store
from labeler.store.project import Project

PREVIEW_DELAY_MS = 150
"""Debounce: a drag on a spin box renders once it pauses, not at every step."""
_ID = Qt.ItemDataRole.UserRole


def open_recipe_editor(
    parent: QWidget | None, project: Project, image_id: int | None = None
) -> RecipeEditor:
    """Show the (non-modal) recipe editor on `project`, previewing `image_id` (default: the
    first image). The caller keeps the returned dialog; it emits `recipe_saved(name)`."""
    dialog = RecipeEditor(project, image_id, parent)
    dialog.show()
    return dialog


class RecipeEditor(QDialog, RecipeEditorUi):
    """Edit the project's recipes with a live preview grid of one image."""

    recipe_saved = Signal(str)
    recipe_removed = Signal(str)
    preview_shown = Signal()

    def __init__(
        self, project: Project, image_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Recipes")
        self.resize(1320, 780)
        self.workers: JobRunner | None = None  # made by the first preview, gone when closed
        self.draft = RecipeDraft()
        self.error: str = ""
        self._steps: dict[int, dict[str, Any]] = {}
        self._next_uid = 0
        self._loading = False
        self._request = 0
        self._preview_task: Job | None = None
        self._pixels: tuple[int, Any] | None = None  # (image id, decoded array), reused
        self._grid: QPixmap | None = None
        self.image = None
        self.step_form: StepForm | None = None
        self.param_inputs: dict[str, list[QWidget]] = {}
        self.p_spin: QDoubleSpinBox | None = None
        self._preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._start_preview)
        self.setup_ui(self)
        self._connect()
        self.set_image(image_id)
        self.reload_recipes()

    def _connect(self) -> None:
        self.close_button.clicked.connect(self.reject)
        self.recipe_list.currentItemChanged.connect(self._recipe_selected)
        for button, slot in (
            (self.new_button, self.new_recipe),
            (self.duplicate_button, self.duplicate_recipe),
            (self.delete_button, self.delete_recipe),
            (self.import_button, self.import_recipe),
            (self.export_button, self.export_recipe),
            (self.save_button, self.save),
            (self.revert_button, self.revert),
            (self.add_button, lambda: self.add_op(self.op_combo.currentText())),
            (self.up_button, lambda: self.move_step(-1)),
            (self.down_button, lambda: self.move_step(1)),
            (self.remove_button, self.remove_step),
        ):
            button.clicked.connect(lambda _checked=False, slot=slot: slot())
        for signal in (
            self.name_edit.textChanged,
            self.description_edit.textChanged,
            self.min_visibility.valueChanged,
            self.interpolation.currentTextChanged,
            self.border.currentTextChanged,
            self.fill.valueChanged,
        ):
            signal.connect(self._changed)
        self.step_list.currentRowChanged.connect(self._step_selected)
        self.step_list.model().rowsMoved.connect(lambda *_: self._changed())
        self.n_spin.valueChanged.connect(lambda _v: self.schedule_preview())
        self.seed_spin.valueChanged.connect(lambda _v: self.schedule_preview())

    # -- the draft's state, as the editor's ------------------------------------------------
    @property
    def recipe(self) -> Recipe | None:
        """The recipe as shown, or None while it is invalid (`error` says why)."""
        return self.draft.recipe

    @property
    def dirty(self) -> bool:
        return self.draft.dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self.draft.dirty = value

    # -- the recipe list ----------------------------------------------------------------
    def reload_recipes(self, select: str | None = None) -> None:
        """Re-read the project's recipes and select `select` (or keep/choose the first)."""
        keep = select or self.draft.stored_name
        self.recipe_list.blockSignals(True)
        self.recipe_list.clear()
        names = [r.name for r in store.list_recipes(self.project)]
        self.recipe_list.addItems(names)
        self.recipe_list.blockSignals(False)
        if keep in names:
            self.recipe_list.setCurrentRow(names.index(keep))
        elif names:
            self.recipe_list.setCurrentRow(0)
        else:
            self.load_definition(None, empty_definition(), "recipe")
        self._update_buttons()

    def _recipe_selected(self, item: QListWidgetItem | None, previous: QListWidgetItem | None):
        if item is None or item.text() == self.draft.stored_name:
            return
        if not self._may_discard():
            self.recipe_list.blockSignals(True)
            self.recipe_list.setCurrentItem(previous)
            self.recipe_list.blockSignals(False)
            return
        stored = store.get_recipe(self.project, item.text())
        if stored is not None:
            self.load_definition(stored.name, stored.definition, stored.name)

    def _may_discard(self) -> bool:
        if not self.dirty:
            return True
        answer = QMessageBox.question(
            self, "Unsaved recipe", "Discard the unsaved changes to this recipe?"
        )
        return answer == QMessageBox.StandardButton.Yes

    def _unique_name(self, base: str) -> str:
        return unique_name(base, (r.name for r in store.list_recipes(self.project)))

    def new_recipe(self) -> None:
        """An empty, unsaved recipe with a fresh name."""
        if not self._may_discard():
            return
        self.load_definition(None, empty_definition(), self._unique_name("new-recipe"))
        self._mark_unsaved()

    def duplicate_recipe(self) -> None:
        """The current recipe, unsaved, under a new name."""
        definition = self.current_definition()
        name = self._unique_name(f"{self.name_edit.text().strip() or 'recipe'}-copy")
        self.load_definition(None, definition, name)
        self._mark_unsaved()

    def delete_recipe(self) -> None:
        name = self.draft.stored_name
        if name is None:
            return
        answer = QMessageBox.question(self, "Delete recipe", f"Delete the recipe {name!r}?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            store.remove_recipe(self.project, name)
        except LabelerError as e:
            self._show_error(str(e))
            return
        self.draft.stored_name = None
        self.dirty = False
        self.reload_recipes()
        self.recipe_removed.emit(name)

    def import_recipe(self) -> None:
        """Load a recipe file into the editor; Save adds it to the project."""
        if not self._may_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import recipe", "", "Recipes (*.json)")
        if not path:
            return
        try:
            recipe = load_recipe(path)
        except LabelerError as e:
            QMessageBox.warning(self, "Import recipe", str(e))
            return
        name = self._unique_name(recipe.name or Path(path).stem)
        self.load_definition(None, recipe.to_dict(), name)
        self._mark_unsaved()

    def export_recipe(self) -> None:
        if self.recipe is None:
            return
        default = f"{self.name_edit.text().strip() or 'recipe'}.json"
        path, _ = QFileDialog.getSaveFileName(self, "Export recipe", default, "Recipes (*.json)")
        if not path:
            return
        try:
            write_recipe_file(self.recipe, path)
        except OSError as e:
            QMessageBox.warning(self, "Export recipe", f"Cannot write {path}: {e.strerror or e}")

    # -- loading and the JSON form -------------------------------------------------------
    def load_definition(self, stored_name: str | None, definition: dict, name: str) -> None:
        """Show `definition` in the editor; `stored_name` is its name in the project (None
        for a recipe not saved yet)."""
        self._loading = True
        self.draft.load(stored_name, definition)
        settings = self.draft.settings()
        self.name_edit.setText(name)
        self.description_edit.setText(str(settings["description"]))
        self.min_visibility.setValue(float(settings["min_visibility"]))
        self.interpolation.setCurrentText(str(settings["interpolation"]))
        self.border.setCurrentText(str(settings["border"]))
        self.fill.setValue(int(settings["fill"]))
        self.step_list.clear()
        self._steps.clear()
        for s in self.draft.steps():
            self._append_step(s)
        self._loading = False
        if self.step_list.count():
            self.step_list.setCurrentRow(0)
        else:
            self._step_selected(-1)
        self._revalidate()
        self._update_title()

    def _append_step(self, step: dict[str, Any]) -> QListWidgetItem:
        uid = self._next_uid
        self._next_uid += 1
        self._steps[uid] = step
        item = QListWidgetItem(step_title(step))
        item.setData(_ID, uid)
        if "op" not in step:
            item.setToolTip("A group: edit its members in the JSON file (Export, edit, Import)")
        self.step_list.addItem(item)
        return item

    def step_dicts(self) -> list[dict[str, Any]]:
        """The steps in list order, as the JSON form holds them."""
        return [
            self._steps[self.step_list.item(r).data(_ID)] for r in range(self.step_list.count())
        ]

    def current_definition(self) -> dict[str, Any]:
        """The recipe as shown, in its JSON form (may be invalid)."""
        settings = {
            "description": self.description_edit.text(),
            "min_visibility": self.min_visibility.value(),
            "interpolation": self.interpolation.currentText(),
            "border": self.border.currentText(),
            "fill": self.fill.value(),
        }
        return self.draft.definition(self.name_edit.text(), settings, self.step_dicts())

    # -- steps ----------------------------------------------------------------------------
    def add_op(self, op_name: str) -> None:
        """Append a step for `op_name` with its default parameters and select it."""
        if op_name not in registered_ops():
            return
        item = self._append_step(default_step(op_name))
        self.step_list.setCurrentItem(item)
        self._changed()

    def remove_step(self) -> None:
        row = self.step_list.currentRow()
        if row < 0:
            return
        item = self.step_list.takeItem(row)
        self._steps.pop(item.data(_ID), None)
        self._step_selected(self.step_list.currentRow())
        self._changed()

    def move_step(self, delta: int) -> None:
        row = self.step_list.currentRow()
        to = row + delta
        if row < 0 or not 0 <= to < self.step_list.count():
            return
        item = self.step_list.takeItem(row)
        self.step_list.insertItem(to, item)
        self.step_list.setCurrentRow(to)
        self._changed()

    def current_step(self) -> dict[str, Any] | None:
        item = self.step_list.currentItem()
        return None if item is None else self._steps.get(item.data(_ID))

    def _step_selected(self, row: int) -> None:
        if self.step_form is not None:
            # Hidden at once: deleteLater waits for the event loop, and until then the old
            # form would show through the new one.
            self.step_form.hide()
            self.step_form_holder.removeWidget(self.step_form)
            self.step_form.deleteLater()
        step = self.current_step() if row >= 0 else None
        self.step_form = StepForm(
            step,
            lambda v, s=step: self._set_step_value(s, "p", v),
            self._set_param,
        )
        self.param_inputs = self.step_form.param_inputs
        self.p_spin = self.step_form.p_spin
        self.step_form_holder.addWidget(self.step_form)
        self.step_box.setTitle(f"Step: {step['op']}" if step and "op" in step else "Step")
        self._update_buttons()

    def _set_step_value(self, step: dict[str, Any], key: str, value: Any) -> None:
        step[key] = value
        item = self.step_list.currentItem()
        if item is not None:
            item.setText(step_title(step))
        self._changed()

    def _set_param(self, key: str, value: Any) -> None:
        step = self.current_step()
        if step is None:
            return
        step.setdefault("params", {})[key] = value
        self._changed()

    # -- validation, saving ------------------------------------------------------------------
    def _changed(self, *_args: Any) -> None:
        if self._loading:
            return
        self.dirty = True
        self._revalidate()
        self._update_title()

    def _mark_unsaved(self) -> None:
        self.dirty = True
        self._update_title()
        self._update_buttons()

    def _revalidate(self) -> None:
        """Rebuild the recipe from what is shown; show the one-line reason when it fails."""
        recipe = self.draft.validate(self.current_definition())
        self._show_error(self.draft.error)
        if recipe is not None:
            self.schedule_preview()
        self._update_buttons()

    def _show_error(self, message: str) -> None:
        self.error = message
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _update_buttons(self) -> None:
        has_step = self.step_list.currentRow() >= 0
        self.save_button.setEnabled(self.recipe is not None and self.dirty)
        self.revert_button.setEnabled(self.dirty)
        self.export_button.setEnabled(self.recipe is not None)
        self.duplicate_button.setEnabled(self.recipe is not None)
        self.delete_button.setEnabled(self.draft.stored_name is not None)
        self.remove_button.setEnabled(has_step)
        self.up_button.setEnabled(has_step and self.step_list.currentRow() > 0)
        self.down_button.setEnabled(
            has_step and self.step_list.currentRow() < self.step_list.count() - 1
        )

    def _update_title(self) -> None:
        name = self.name_edit.text().strip() or "untitled"
        self.setWindowTitle(f"Recipes — {name}{' *' if self.dirty else ''}")

    def save(self) -> bool:
        """Write the shown recipe to the project under its name (replacing a recipe of that
        name; a renamed recipe leaves its old name). True when saved."""
        if self.recipe is None:
            return False
        try:
            name = self.draft.save(self.project)
        except LabelerError as e:
            self._show_error(str(e))
            self.save_button.setEnabled(False)
            return False
        self.reload_recipes(select=name)
        self._update_title()
        self._update_buttons()
        self.recipe_saved.emit(name)
        return True

    def revert(self) -> None:
        if self.draft.stored_name is None:
            self.reload_recipes()
            return
        stored = store.get_recipe(self.project, self.draft.stored_name)
        if stored is not None:
            self.load_definition(stored.name, stored.definition, stored.name)

    # -- preview --------------------------------------------------------------------------
    def set_image(self, image_id: int | None) -> None:
        """Preview on this image (None: the project's first image)."""
        image = self.project.image(image_id) if image_id is not None else None
        if image is None:
            image = next(iter(self.project.images()), None)
        self.image = image
        self.image_label.setText(
            f"Image: {Path(image.path).name}  ({image.width}×{image.height})"
            if image
            else "The project has no images to preview."
        )
        self.schedule_preview()

    def schedule_preview(self) -> None:
        """Render after a short pause, so a burst of edits renders once."""
        if self.image is not None and self.recipe is not None:
            self._preview_timer.start()

    def _ensure_workers(self) -> JobRunner:
        if self.workers is None:
            # One thread: previews are sequential; a newer request cancels a queued one. The
            # preview reads nothing from the project on the worker: no connection is opened.
            self.workers = JobRunner(None, threads=1, parent=self)
        return self.workers

    def _start_preview(self) -> None:
        if self.image is None or self.recipe is None or not self.isVisible():
            return
        self._request += 1
        request, image, recipe = self._request, self.image, self.recipe
        n, seed = self.n_spin.value(), self.seed_spin.value()
        source = preview_source(self.project, image)
        cached = self._pixels[1] if self._pixels and self._pixels[0] == image.id else None

        def work(job: JobContext) -> tuple | None:
            if job.should_stop():
                return None
            pixels, grid = render_preview(source, recipe, n=n, seed=seed, pixels=cached)
            return request, image.id, pixels, to_qimage(grid)

        if self._preview_task is not None:
            self._preview_task.cancel()  # dropped if still queued; its result is dropped anyway
        self.preview_status.setText("Rendering…")
        self._preview_task = self._ensure_workers().start(
            work,
            self._preview_done,
            lambda msg, r=request: self._preview_failed(r, msg),
        )

    def _preview_done(self, result: tuple | None) -> None:
        if result is None:
            return
        request, image_id, pixels, qimage = result
        self._pixels = (image_id, pixels)
        if request != self._request:
            return  # a newer request is on its way; showing this would flicker backwards
        self._grid = QPixmap.fromImage(qimage)
        self._show_grid()
        self.preview_status.setText(
            f"{self.n_spin.value()} copies, seed {self.seed_spin.value()}: cell i is copy i"
            " exactly as an export with this seed writes it."
        )
        self.preview_status.setStyleSheet("")
        self.preview_shown.emit()

    def _preview_failed(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self.preview_status.setText(f"Cannot preview: {message}")
        self.preview_status.setStyleSheet(ERROR_STYLE)

    def _show_grid(self) -> None:
        if self._grid is None:
            return
        self.preview.setPixmap(
            self._grid.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def grid_image(self) -> QImage | None:
        """The last preview grid at full size (for tests and screenshots)."""
        return None if self._grid is None else self._grid.toImage()

    # -- lifetime -------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._show_grid()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.schedule_preview()

    def reject(self) -> None:
        # Close, Escape and the title bar's X all come here: ask before unsaved work is lost.
        if self._may_discard():
            super().reject()

    def done(self, result: int) -> None:
        self.stop_workers()
        super().done(result)

    def stop_workers(self) -> None:
        """Cancel the preview and wait for its thread; a closed editor leaves nothing running."""
        self._preview_timer.stop()
        if self.workers is not None:
            self.workers.shutdown()
            self.workers = None
        self._preview_task = None
