"""The recipe editor: the project's augmentation recipes, their steps, a parameter form built
from each op's declared parameters, and a live preview grid rendered off the GUI thread.

The editor holds the recipe as its JSON form (a list of step dicts) and rebuilds it with
`Recipe.from_dict` after every change: that one call is the validation, so the editor can never
save what the CLI would refuse, and a bad value shows as the same one-line message the CLI
prints. OneOf/SomeOf groups are shown read-only (their p can be edited; their members are
edited in the JSON file: export, edit, import).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from labeler.app.recipes import preview_source, render_preview
from labeler.core.augment import (
    SCHEMA_VERSION,
    Choice,
    Flag,
    Number,
    Param,
    Range,
    Recipe,
    load_recipe,
    registered_ops,
)
from labeler.core.augment import save_recipe as write_recipe_file
from labeler.core.augment.geometry import BORDERS, INTERPOLATIONS
from labeler.core.errors import LabelerError
from labeler.gui.workers import Task, Workers, to_qimage
from labeler.store import recipes as store
from labeler.store.project import Project

PREVIEW_DELAY_MS = 150
"""Debounce: a drag on a spin box renders once it pauses, not at every step."""
ERROR_STYLE = "color: #c5221f"
_UNBOUNDED = 1_000_000
_ID = Qt.ItemDataRole.UserRole


def open_recipe_editor(
    parent: QWidget | None, project: Project, image_id: int | None = None
) -> RecipeEditor:
    """Show the (non-modal) recipe editor on `project`, previewing `image_id` (default: the
    first image). The caller keeps the returned dialog; it emits `recipe_saved(name)`."""
    dialog = RecipeEditor(project, image_id, parent)
    dialog.show()
    return dialog


# -- parameter widgets ------------------------------------------------------------------------
def _decimals(spec: Number | Range) -> int:
    """Enough decimals to show the bounds and the default (0.0001 needs four)."""
    values = [spec.lo, spec.hi]
    values += list(spec.default) if isinstance(spec.default, tuple | list) else [spec.default]
    finest = min((abs(v) for v in values if v not in (None, 0)), default=1.0)
    return max(2, min(4, 1 - math.floor(math.log10(finest)))) if finest < 1 else 2


def _step_size(lo: float, hi: float) -> float:
    span = hi - lo
    return 10 ** math.floor(math.log10(span / 50)) if span > 0 else 1.0


def make_spin(spec: Number | Range) -> QSpinBox | QDoubleSpinBox:
    """A spin box bounded by the param's declared [lo, hi] (open bounds: a large number)."""
    lo = -_UNBOUNDED if spec.lo is None else spec.lo
    hi = _UNBOUNDED if spec.hi is None else spec.hi
    if spec.integer:
        box: QSpinBox | QDoubleSpinBox = QSpinBox()
        box.setRange(int(math.ceil(lo)), int(math.floor(hi)))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(_decimals(spec))
        box.setRange(float(lo), float(hi))
        box.setSingleStep(_step_size(float(lo), float(hi)))
    box.setAccelerated(True)
    box.setToolTip(spec.help or f"{lo:g} … {hi:g}")
    return box


def param_editor(
    spec: Param, value: Any, on_change: Callable[[Any], None]
) -> tuple[QWidget, list[QWidget]]:
    """A widget for one declared parameter, showing `value`; `on_change(new_value)` is called
    when the user edits it. Returns the widget and its inputs (for tests and focus)."""
    if isinstance(spec, Flag):
        box = QCheckBox(spec.help)
        box.setChecked(bool(value))
        box.toggled.connect(lambda v: on_change(bool(v)))
        return box, [box]
    if isinstance(spec, Choice):
        combo = QComboBox()
        combo.addItems(list(spec.options))
        combo.setCurrentText(str(value))
        combo.currentTextChanged.connect(on_change)
        return combo, [combo]
    if isinstance(spec, Number):
        spin = make_spin(spec)
        spin.setValue(int(value) if spec.integer else float(value))  # 8.0 is a valid integer
        spin.valueChanged.connect(on_change)
        return spin, [spin]
    if isinstance(spec, Range):
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        pair = list(value)
        spins = [make_spin(spec), make_spin(spec)]
        for i, spin in enumerate(spins):
            spin.setValue(int(pair[i]) if spec.integer else float(pair[i]))

            # Only the edited end is written back, so the other keeps its exact stored value.
            def changed(v: float, i: int = i) -> None:
                pair[i] = v
                on_change(list(pair))

            spin.valueChanged.connect(changed)
        lay.addWidget(spins[0])
        lay.addWidget(QLabel("to"))
        lay.addWidget(spins[1])
        return row, list(spins)
    raise LabelerError(f"no editor for parameter type {type(spec).__name__}")


def step_title(step: dict[str, Any]) -> str:
    """The step as one list row: `rotate  p 0.5` or `one of: blur, noise  p 0.3`."""
    p = step.get("p", 1.0)
    ptext = f"p {p:g}" if isinstance(p, int | float) else f"p {p!r}"
    if "op" in step:
        return f"{step['op']}    {ptext}"
    kind = "one_of" if "one_of" in step else "some_of"
    members = ", ".join(_member_name(s) for s in step.get(kind, []))
    n = f" (n {step['n'][0]}–{step['n'][1]})" if kind == "some_of" and "n" in step else ""
    return f"{kind.replace('_', ' ')}{n}: {members}    {ptext}"


def _member_name(step: Any) -> str:
    if isinstance(step, dict) and "op" in step:
        return str(step["op"])
    return "group"


def default_step(op_name: str) -> dict[str, Any]:
    """A new step for `op_name` with its declared defaults, as the JSON form holds it."""
    cls = registered_ops()[op_name]
    params = {k: list(s.default) if isinstance(s.default, tuple) else s.default
              for k, s in cls.params.items()}  # fmt: skip
    return {"op": op_name, "version": cls.version, "p": 1.0, "params": params}


# -- the dialog ---------------------------------------------------------------------------------
class RecipeEditor(QDialog):
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
        self.workers: Workers | None = None
        self.recipe: Recipe | None = None
        self.error: str = ""
        self.dirty = False
        self._stored_name: str | None = None
        self._base: dict[str, Any] = {}
        self._steps: dict[int, dict[str, Any]] = {}
        self._next_uid = 0
        self._loading = False
        self._request = 0
        self._preview_task: Task | None = None
        self._pixels: tuple[int, Any] | None = None  # (image id, decoded array), reused
        self._grid: QPixmap | None = None
        self.image = None
        self._preview_timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._start_preview)
        self._build()
        self.set_image(image_id)
        self.reload_recipes()

    # -- building -----------------------------------------------------------------------
    def _build(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._build_recipe_list())
        split.addWidget(self._build_editor())
        split.addWidget(self._build_preview())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 2)
        split.setSizes([220, 470, 630])
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def _button(self, text: str, slot: Callable[[], None], tip: str = "") -> QPushButton:
        b = QPushButton(text)
        b.clicked.connect(lambda _checked=False: slot())
        b.setToolTip(tip)
        return b

    def _build_recipe_list(self) -> QWidget:
        box = QGroupBox("Recipes in this project")
        self.recipe_list = QListWidget()
        self.recipe_list.currentItemChanged.connect(self._recipe_selected)
        self.new_button = self._button("New", self.new_recipe, "Start an empty recipe")
        self.duplicate_button = self._button(
            "Duplicate", self.duplicate_recipe, "Copy this recipe under a new name"
        )
        self.delete_button = self._button(
            "Delete", self.delete_recipe, "Remove it from the project"
        )
        self.import_button = self._button(
            "Import…", self.import_recipe, "Load a recipe JSON file (then Save to add it)"
        )
        self.export_button = self._button(
            "Export…", self.export_recipe, "Write this recipe as a JSON file"
        )
        grid = QGridLayout()
        grid.addWidget(self.new_button, 0, 0)
        grid.addWidget(self.duplicate_button, 0, 1)
        grid.addWidget(self.delete_button, 1, 0)
        grid.addWidget(self.import_button, 1, 1)
        grid.addWidget(self.export_button, 2, 1)
        lay = QVBoxLayout(box)
        lay.addWidget(self.recipe_list, 1)
        lay.addLayout(grid)
        return box

    def _build_editor(self) -> QWidget:
        panel = QWidget()
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._build_settings())
        lay.addWidget(self._build_steps(), 1)
        self.step_box = QGroupBox("Step")
        self.step_form_holder = QVBoxLayout(self.step_box)
        self.step_form: QWidget | None = None
        self.param_inputs: dict[str, list[QWidget]] = {}
        self.p_spin: QDoubleSpinBox | None = None
        lay.addWidget(self.step_box)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.error_label)
        self.save_button = self._button("Save", self.save, "Write the recipe to the project")
        self.save_button.setDefault(True)
        self.revert_button = self._button("Revert", self.revert, "Drop unsaved changes")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.revert_button)
        row.addWidget(self.save_button)
        lay.addLayout(row)
        return panel

    def _build_settings(self) -> QWidget:
        box = QGroupBox("Recipe")
        form = QFormLayout(box)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name used by export --recipe")
        self.description_edit = QLineEdit()
        self.min_visibility = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.min_visibility.setToolTip(
            "A box or polygon with less than this fraction left in the image is dropped"
        )
        self.interpolation = QComboBox()
        self.interpolation.addItems(list(INTERPOLATIONS))
        self.border = QComboBox()
        self.border.addItems(list(BORDERS))
        self.fill = QSpinBox(minimum=0, maximum=255)
        self.fill.setToolTip("Grey level outside the image when border is constant")
        warp = QHBoxLayout()
        for w in (self.interpolation, QLabel("border"), self.border, QLabel("fill"), self.fill):
            warp.addWidget(w)
        form.addRow("Name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Min. visibility", self.min_visibility)
        form.addRow("Resampling", warp)
        self.name_edit.textChanged.connect(self._changed)
        self.description_edit.textChanged.connect(self._changed)
        self.min_visibility.valueChanged.connect(self._changed)
        self.interpolation.currentTextChanged.connect(self._changed)
        self.border.currentTextChanged.connect(self._changed)
        self.fill.valueChanged.connect(self._changed)
        return box

    def _build_steps(self) -> QWidget:
        box = QGroupBox("Steps (run top to bottom; drag to reorder)")
        self.step_list = QListWidget()
        self.step_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.step_list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.step_list.currentRowChanged.connect(self._step_selected)
        self.step_list.model().rowsMoved.connect(lambda *_: self._changed())
        self.op_combo = QComboBox()
        self.op_combo.addItems(sorted(registered_ops()))
        self.op_combo.setToolTip("Ops from the registry, plugins included")
        self.add_button = self._button(
            "Add", lambda: self.add_op(self.op_combo.currentText()), "Append this op"
        )
        self.up_button = self._button("Up", lambda: self.move_step(-1))
        self.down_button = self._button("Down", lambda: self.move_step(1))
        self.remove_button = self._button("Remove", self.remove_step)
        side = QVBoxLayout()
        for b in (self.up_button, self.down_button, self.remove_button):
            side.addWidget(b)
        side.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.step_list, 1)
        top.addLayout(side)
        add = QHBoxLayout()
        add.addWidget(QLabel("Op"))
        add.addWidget(self.op_combo, 1)
        add.addWidget(self.add_button)
        lay = QVBoxLayout(box)
        lay.addLayout(top, 1)
        lay.addLayout(add)
        return box

    def _build_preview(self) -> QWidget:
        box = QGroupBox("Preview")
        self.n_spin = QSpinBox(minimum=1, maximum=64, value=8)
        self.n_spin.setToolTip("How many augmented copies to show (copies 0 … n-1)")
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed_spin.setToolTip("Same meaning as export --seed: cell i is copy i as exported")
        self.n_spin.valueChanged.connect(lambda _v: self.schedule_preview())
        self.seed_spin.valueChanged.connect(lambda _v: self.schedule_preview())
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Copies"))
        controls.addWidget(self.n_spin)
        controls.addWidget(QLabel("Seed"))
        controls.addWidget(self.seed_spin)
        controls.addStretch(1)
        self.image_label = QLabel("")
        self.preview = QLabel("No preview yet")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(QSize(360, 360))
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setStyleSheet("background: #282828; color: #ddd")
        self.preview_status = QLabel("")
        self.preview_status.setWordWrap(True)
        lay = QVBoxLayout(box)
        lay.addLayout(controls)
        lay.addWidget(self.image_label)
        lay.addWidget(self.preview, 1)
        lay.addWidget(self.preview_status)
        return box

    # -- the recipe list ----------------------------------------------------------------
    def reload_recipes(self, select: str | None = None) -> None:
        """Re-read the project's recipes and select `select` (or keep/choose the first)."""
        keep = select or self._stored_name
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
            self.load_definition(None, {"schema_version": SCHEMA_VERSION, "steps": []}, "recipe")
        self._update_buttons()

    def _recipe_selected(self, item: QListWidgetItem | None, previous: QListWidgetItem | None):
        if item is None or item.text() == self._stored_name:
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
        names = {r.name for r in store.list_recipes(self.project)}
        if base not in names:
            return base
        k = 2
        while f"{base}-{k}" in names:
            k += 1
        return f"{base}-{k}"

    def new_recipe(self) -> None:
        """An empty, unsaved recipe with a fresh name."""
        if not self._may_discard():
            return
        name = self._unique_name("new-recipe")
        self.load_definition(None, {"schema_version": SCHEMA_VERSION, "steps": []}, name)
        self._mark_unsaved()

    def duplicate_recipe(self) -> None:
        """The current recipe, unsaved, under a new name."""
        definition = self.current_definition()
        name = self._unique_name(f"{self.name_edit.text().strip() or 'recipe'}-copy")
        self.load_definition(None, definition, name)
        self._mark_unsaved()

    def delete_recipe(self) -> None:
        name = self._stored_name
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
        self._stored_name = None
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
        self._stored_name = stored_name
        self._base = copy.deepcopy(dict(definition))
        self.name_edit.setText(name)
        self.description_edit.setText(str(self._base.get("description", "")))
        self.min_visibility.setValue(float(self._base.get("min_visibility", 0.3)))
        self.interpolation.setCurrentText(str(self._base.get("interpolation", "linear")))
        self.border.setCurrentText(str(self._base.get("border", "constant")))
        self.fill.setValue(int(self._base.get("fill", 0)))
        self.step_list.clear()
        self._steps.clear()
        steps = self._base.get("steps", [])
        for s in steps if isinstance(steps, list) else []:
            self._append_step(copy.deepcopy(s))
        self._loading = False
        self.dirty = False
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
        d = copy.deepcopy(self._base)
        d.setdefault("schema_version", SCHEMA_VERSION)
        d["name"] = self.name_edit.text().strip()
        d["description"] = self.description_edit.text()
        d["min_visibility"] = self.min_visibility.value()
        d["interpolation"] = self.interpolation.currentText()
        d["border"] = self.border.currentText()
        d["fill"] = self.fill.value()
        d["steps"] = copy.deepcopy(self.step_dicts())
        return d

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
        self.param_inputs = {}
        self.p_spin = None
        step = self.current_step() if row >= 0 else None
        self.step_form = self._build_step_form(step)
        self.step_form_holder.addWidget(self.step_form)
        self.step_box.setTitle(f"Step: {step['op']}" if step and "op" in step else "Step")
        self._update_buttons()

    def _build_step_form(self, step: dict[str, Any] | None) -> QWidget:
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        form.setContentsMargins(0, 0, 0, 0)
        if step is None:
            form.addRow(QLabel("Add an op, or select a step to edit its parameters."))
            return form_widget
        p = step.get("p", 1.0)
        self.p_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.p_spin.setValue(float(p) if isinstance(p, int | float) else 1.0)
        self.p_spin.setToolTip("Probability that this step runs on a copy")
        self.p_spin.valueChanged.connect(lambda v, s=step: self._set_step_value(s, "p", v))
        form.addRow("p (probability)", self.p_spin)
        if "op" not in step:
            members = QLabel(step_title(step))
            members.setWordWrap(True)
            form.addRow("Group", members)
            form.addRow(QLabel("Group members are read-only here: Export, edit the JSON, Import."))
            return form_widget
        cls = registered_ops().get(step["op"])
        if cls is None:
            form.addRow(QLabel(f"Unknown op {step['op']!r}: not registered (missing plugin?)"))
            return form_widget
        params = step.setdefault("params", {})
        if not cls.params:
            form.addRow(QLabel("This op has no parameters."))
        for key, spec in cls.params.items():
            value = params.get(key, spec.default)
            try:
                widget, inputs = param_editor(spec, value, lambda v, k=key: self._set_param(k, v))
            except (TypeError, ValueError, LabelerError):
                # A stored value the widget cannot show (wrong type): reset to the default.
                widget, inputs = param_editor(
                    spec, spec.default, lambda v, k=key: self._set_param(k, v)
                )
            self.param_inputs[key] = inputs
            label = QLabel(key.replace("_", " "))
            label.setToolTip(spec.help)
            form.addRow(label, widget)
            if spec.help and not isinstance(spec, Flag):
                hint = QLabel(spec.help)
                hint.setStyleSheet("color: palette(placeholder-text)")
                form.addRow("", hint)
        return form_widget

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
        try:
            recipe = Recipe.from_dict(self.current_definition())
            if not recipe.name:
                raise LabelerError("a recipe needs a name")
        except LabelerError as e:
            self.recipe = None
            self._show_error(str(e))
        else:
            self.recipe = recipe
            self._show_error("")
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
        self.delete_button.setEnabled(self._stored_name is not None)
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
        name = self.recipe.name
        renamed = self._stored_name is not None and self._stored_name != name
        try:
            if (renamed or self._stored_name is None) and store.get_recipe(self.project, name):
                raise LabelerError(f"a recipe named {name!r} already exists; pick another name")
            with self.project.atomic():
                store.save_recipe(self.project, name, self.recipe.to_dict(), replace=True)
                if renamed:
                    store.remove_recipe(self.project, self._stored_name)  # type: ignore[arg-type]
        except LabelerError as e:
            self._show_error(str(e))
            self.save_button.setEnabled(False)
            return False
        self._stored_name = name
        self.dirty = False
        self.reload_recipes(select=name)
        self._update_title()
        self._update_buttons()
        self.recipe_saved.emit(name)
        return True

    def revert(self) -> None:
        if self._stored_name is None:
            self.reload_recipes()
            return
        stored = store.get_recipe(self.project, self._stored_name)
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

    def _ensure_workers(self) -> Workers:
        if self.workers is None:
            # One thread: previews are sequential; a newer request cancels a queued one.
            self.workers = Workers(threads=1, parent=self)
        return self.workers

    def _start_preview(self) -> None:
        if self.image is None or self.recipe is None or not self.isVisible():
            return
        self._request += 1
        request, image, recipe = self._request, self.image, self.recipe
        n, seed = self.n_spin.value(), self.seed_spin.value()
        source = preview_source(self.project, image)
        cached = self._pixels[1] if self._pixels and self._pixels[0] == image.id else None

        def work(_progress: Any, should_stop: Callable[[], bool]) -> tuple | None:
            if should_stop():
                return None
            pixels, grid = render_preview(source, recipe, n=n, seed=seed, pixels=cached)
            return request, image.id, pixels, to_qimage(grid)

        if self._preview_task is not None:
            self._preview_task.cancel()  # skipped if still queued; its result is dropped anyway
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
