"""The recipe editor's widgets: parameter editors generated from an op's declared parameters,
the form of one step, and the editor's layout (`RecipeEditorUi`, which builds the controls
and connects nothing; `labeler.gui.recipe_editor` wires them). What the editor decides
without Qt is in `labeler.app.recipe_draft`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from labeler.app.recipe_draft import spin_bounds, step_title
from labeler.core.augment import Choice, Flag, Number, Param, Range, registered_ops
from labeler.core.augment.geometry import BORDERS, INTERPOLATIONS
from labeler.core.errors import LabelerError

ERROR_STYLE = "color: #c5221f"


# -- parameter widgets ------------------------------------------------------------------------
def make_spin(spec: Number | Range) -> QSpinBox | QDoubleSpinBox:
    """A spin box bounded by the param's declared [lo, hi] (open bounds: a large number)."""
    bounds = spin_bounds(spec)
    if bounds.integer:
        box: QSpinBox | QDoubleSpinBox = QSpinBox()
        box.setRange(int(bounds.lo), int(bounds.hi))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(bounds.decimals)
        box.setRange(float(bounds.lo), float(bounds.hi))
        box.setSingleStep(bounds.step)
    box.setAccelerated(True)
    box.setToolTip(bounds.tip)
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


class StepForm(QWidget):
    """The form of one step: its p, then one editor per declared parameter (a group shows
    its members read-only; an op that is not registered says so). Edits are reported through
    `on_p(value)` and `on_param(key, value)`."""

    def __init__(
        self,
        step: dict[str, Any] | None,
        on_p: Callable[[float], None],
        on_param: Callable[[str, Any], None],
    ) -> None:
        super().__init__()
        self.param_inputs: dict[str, list[QWidget]] = {}
        self.p_spin: QDoubleSpinBox | None = None
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        if step is None:
            form.addRow(QLabel("Add an op, or select a step to edit its parameters."))
            return
        p = step.get("p", 1.0)
        self.p_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.p_spin.setValue(float(p) if isinstance(p, int | float) else 1.0)
        self.p_spin.setToolTip("Probability that this step runs on a copy")
        self.p_spin.valueChanged.connect(on_p)
        form.addRow("p (probability)", self.p_spin)
        if "op" not in step:
            members = QLabel(step_title(step))
            members.setWordWrap(True)
            form.addRow("Group", members)
            form.addRow(QLabel("Group members are read-only here: Export, edit the JSON, Import."))
            return
        cls = registered_ops().get(step["op"])
        if cls is None:
            form.addRow(QLabel(f"Unknown op {step['op']!r}: not registered (missing plugin?)"))
            return
        params = step.setdefault("params", {})
        if not cls.params:
            form.addRow(QLabel("This op has no parameters."))
        for key, spec in cls.params.items():
            value = params.get(key, spec.default)
            changed = partial(on_param, key)
            try:
                widget, inputs = param_editor(spec, value, changed)
            except (TypeError, ValueError, LabelerError):
                # A stored value the widget cannot show (wrong type): reset to the default.
                widget, inputs = param_editor(spec, spec.default, changed)
            self.param_inputs[key] = inputs
            label = QLabel(key.replace("_", " "))
            label.setToolTip(spec.help)
            form.addRow(label, widget)
            if spec.help and not isinstance(spec, Flag):
                hint = QLabel(spec.help)
                hint.setStyleSheet("color: palette(placeholder-text)")
                form.addRow("", hint)


def _button(text: str, tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.setToolTip(tip)
    return b


class RecipeEditorUi:
    """The recipe editor's controls and layout, built onto the dialog by `setup_ui` (Qt
    Designer's multiple-inheritance pattern: the widgets become the dialog's attributes)."""

    def setup_ui(self, dialog: QWidget) -> None:
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._build_recipe_list())
        split.addWidget(self._build_editor())
        split.addWidget(self._build_preview())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 2)
        split.setSizes([220, 470, 630])
        self.close_button = QPushButton("Close")
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(dialog)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)

    def _build_recipe_list(self) -> QWidget:
        box = QGroupBox("Recipes in this project")
        self.recipe_list = QListWidget()
        self.new_button = _button("New", "Start an empty recipe")
        self.duplicate_button = _button("Duplicate", "Copy this recipe under a new name")
        self.delete_button = _button("Delete", "Remove it from the project")
        self.import_button = _button("Import…", "Load a recipe JSON file (then Save to add it)")
        self.export_button = _button("Export…", "Write this recipe as a JSON file")
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
        lay.addWidget(self.step_box)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.error_label)
        self.save_button = _button("Save", "Write the recipe to the project")
        self.save_button.setDefault(True)
        self.revert_button = _button("Revert", "Drop unsaved changes")
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
        return box

    def _build_steps(self) -> QWidget:
        box = QGroupBox("Steps (run top to bottom; drag to reorder)")
        self.step_list = QListWidget()
        self.step_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.step_list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.op_combo = QComboBox()
        self.op_combo.addItems(sorted(registered_ops()))
        self.op_combo.setToolTip("Ops from the registry, plugins included")
        self.add_button = _button("Add", "Append this op")
        self.up_button = _button("Up")
        self.down_button = _button("Down")
        self.remove_button = _button("Remove")
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
