"""The GAN panel's widgets: the review tiles and grid, the trainer's sample grid, and the
panel's layout (`GanPanelUi`, which builds the controls and connects nothing; the panel in
`labeler.gui.gan_panel` wires them to its jobs). What the panel decides and says is in
`labeler.app.gan_session`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeyEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labeler.app.gan_session import (
    EVAL_COLUMNS,
    EVAL_ROW_TIPS,
    EVAL_ROWS,
    GUI_SEEDS,
    NO_GENERATOR,
    TILE_SIDE,
    sample_names,
    tile_caption,
    tile_tooltip,
)
from labeler.gui.workers import to_qimage

WARNING_STYLE = (
    "QLabel { color: #7a4b00; background: #fff4e0; border: 1px solid #f0c987; padding: 4px;"
    " border-radius: 3px; }"
)
ERROR_STYLE = (
    "QLabel { color: #8a1c1c; background: #fdecea; border: 1px solid #f5c2c0; padding: 4px;"
    " border-radius: 3px; }"
)
OK_STYLE = "QLabel { color: #1b5e20; }"
HEADER_PADDING = 10
CELL_PADDING = 4  # a table cell's text margin on each side
"""Pixels either side of a table column's title."""
STOPPED_COLOUR = "#9e9e9e"
"""The training bar's fill once a run was stopped: grey, never the finished blue."""
ID_ROLE = Qt.ItemDataRole.UserRole


# -- pictures (made on workers: QImage, never QPixmap) ----------------------------------------
def load_samples(path: Path) -> tuple[QImage, list[str]] | None:
    """A sample grid and the class names of its rows (from the run's options.json)."""
    image = QImage(str(path))
    if image.isNull():
        return None
    return image, sample_names(path)


def tile_images(data: dict[str, Any]) -> dict[str, Any]:
    """`load_review`'s answer with its pixels as QImages and its sample grid loaded."""
    for t in data["tiles"]:
        for key in ("image", "nn"):
            t[key] = _qimage(t[key])
    data["samples"] = load_samples(data["samples"]) if data["samples"] else None
    return data


def _qimage(pixels: np.ndarray | None) -> QImage | None:
    return None if pixels is None else to_qimage(pixels)


# -- widgets -----------------------------------------------------------------------------
def tile_icon(image: QImage | None, nn: QImage | None, side: int = TILE_SIDE) -> QIcon:
    """The suggestion (left) beside its nearest real image (right), each `side` pixels."""
    pm = QPixmap(side * 2 + 6, side)
    pm.fill(QColor("#2b2b2b"))
    with QPainter(pm) as p:
        for k, img in enumerate((image, nn)):
            x = k * (side + 6)
            if img is None:
                p.fillRect(x, 0, side, side, QColor("#555"))
                p.setPen(QColor("#ddd"))
                p.drawText(x, 0, side, side, Qt.AlignmentFlag.AlignCenter, "—")
                continue
            scaled = img.scaled(
                side,
                side,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation  # crisp pixels for 32 px samples
                if img.width() < side
                else Qt.TransformationMode.SmoothTransformation,
            )
            p.drawImage(x + (side - scaled.width()) // 2, (side - scaled.height()) // 2, scaled)
    return QIcon(pm)


def tile_item(t: dict[str, Any]) -> QListWidgetItem:
    """One review tile: the picture pair, its scores below, the details as a tooltip."""
    item = QListWidgetItem(tile_icon(t["image"], t["nn"]), tile_caption(t["scores"]))
    item.setData(ID_ROLE, t["id"])
    item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    item.setToolTip(tile_tooltip(t))
    return item


def labelled_grid(image: QImage, names: list[str], width: int = 420) -> QPixmap:
    """The trainer's sample grid (one row per class) scaled to `width`, class names left."""
    label_w = 78
    scale = max(1, (width - label_w) // max(image.width(), 1))
    grid = image.scaled(
        image.width() * scale, image.height() * scale, mode=Qt.TransformationMode.FastTransformation
    )
    pm = QPixmap(label_w + grid.width(), grid.height())
    pm.fill(QColor("#f4f4f4"))
    rows = min(len(names), 32)
    with QPainter(pm) as p:
        p.drawImage(label_w, 0, grid)
        if rows:
            row_h = grid.height() / rows
            p.setPen(QColor("#333"))
            for i, name in enumerate(names[:rows]):
                rect = (2, int(i * row_h), label_w - 6, int(row_h))
                p.drawText(*rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, name)
    return pm


class ReviewGrid(QListWidget):
    """Pending suggestions as tiles: arrows move, Ctrl+A selects all, A accepts, R rejects."""

    accept_pressed = Signal()
    reject_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(TILE_SIDE * 2 + 6, TILE_SIDE))
        self.setGridSize(QSize(TILE_SIDE * 2 + 22, TILE_SIDE + 44))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSpacing(4)
        # The selection must show on the pictures, not only on the caption.
        self.setStyleSheet(
            "QListWidget::item { border: 2px solid transparent; border-radius: 3px; }"
            "QListWidget::item:selected { border: 2px solid #1e6fbf; background: #d6e6f8;"
            " color: black; }"
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if plain and event.key() == Qt.Key.Key_A:
            self.accept_pressed.emit()
        elif plain and event.key() == Qt.Key.Key_R:
            self.reject_pressed.emit()
        else:
            super().keyPressEvent(event)  # arrows, Ctrl+A, Home/End; letters would search

    def visible_items(self) -> list[QListWidgetItem]:
        return [self.item(i) for i in range(self.count()) if not self.item(i).isHidden()]


def _spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setSingleStep(step)
    return s


def _combo(items: list[str], current: str) -> QComboBox:
    c = QComboBox()
    c.addItems(items)
    c.setCurrentText(current)
    return c


class GanPanelUi:
    """The GAN panel's controls and layout, built onto the dialog by `setup_ui` (Qt
    Designer's multiple-inheritance pattern: the widgets become the dialog's attributes)."""

    def setup_ui(self, dialog: QWidget) -> None:
        # Left: device and training (the long-running part, with its sample grid). Right: the
        # review grid, the thing looked at most, above the suggestion and evaluation controls.
        left = QWidget()
        col = QVBoxLayout(left)
        col.addWidget(self._build_device())
        col.addWidget(self._build_training(), 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(400)
        below = QHBoxLayout()
        below.addWidget(self._build_suggestions(), 1)
        below.addWidget(self._build_evaluate(), 1)
        right = QWidget()
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(0, 0, 0, 0)
        rcol.addWidget(self._build_review(), 1)
        rcol.addLayout(below)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.hide()
        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([430, 970])
        layout = QVBoxLayout(dialog)
        layout.addWidget(self.error_label)
        layout.addWidget(split, 1)

    def _build_device(self) -> QWidget:
        box = QGroupBox("Device")
        self.cuda_label = QLabel("Looking for a CUDA GPU…")
        self.cuda_label.setWordWrap(True)
        self.cpu_warning = QLabel(
            "Training on the CPU is much slower than on a GPU: keep 32 px, width tiny or small,"
            " and a few hundred steps."
        )
        self.cpu_warning.setWordWrap(True)
        self.cpu_warning.setStyleSheet(WARNING_STYLE)
        self.cpu_warning.hide()
        self.device_box = _combo(["auto", "cuda", "cpu"], "auto")
        self.device_box.setToolTip("auto uses the CUDA GPU when there is one, else the CPU")
        form = QFormLayout(box)
        form.addRow("Run on", self.device_box)
        form.addRow(self.cuda_label)
        form.addRow(self.cpu_warning)
        return box

    def _build_training(self) -> QWidget:
        box = QGroupBox("Training")
        self.resolution_box = _combo(["32", "64", "128"], "32")
        self.width_box = _combo(["tiny", "small", "base", "large"], "base")
        self.width_box.setToolTip("Network width: tiny for CPU trials, base or large on a GPU")
        self.budget_box = _combo(["steps", "minutes"], "steps")
        self.steps_spin = _spin(1, 1_000_000, 2000, 100)
        self.minutes_spin = _spin(1, 24 * 60, 10)
        self.minutes_spin.hide()
        self.budget_box.currentTextChanged.connect(self._budget_changed)
        self.batch_spin = _spin(1, 1024, 64, 8)
        budget = QHBoxLayout()
        budget.addWidget(self.budget_box)
        budget.addWidget(self.steps_spin, 1)
        budget.addWidget(self.minutes_spin, 1)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train, or continue the last compatible run")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Save a checkpoint and stop; Start continues from it")
        self.stop_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        self.train_bar = QProgressBar()
        self.train_bar.setFormat("idle")
        self.train_status = QLabel(NO_GENERATOR)
        self.train_status.setWordWrap(True)
        self.samples_label = QLabel("The per-class sample grid appears here during training.")
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.samples_label.setMinimumHeight(120)
        self.samples_label.setStyleSheet("QLabel { color: palette(dark); }")
        form = QFormLayout(box)
        form.addRow("Resolution", self.resolution_box)
        form.addRow("Width", self.width_box)
        form.addRow("Budget", budget)
        form.addRow("Batch size", self.batch_spin)
        form.addRow(buttons)
        form.addRow(self.train_bar)
        form.addRow(self.train_status)
        samples = QScrollArea()  # many classes make a tall grid: scroll rather than shrink
        samples.setWidgetResizable(True)
        samples.setWidget(self.samples_label)
        samples.setMinimumHeight(240)
        form.addRow(samples)
        return box

    def _build_suggestions(self) -> QWidget:
        box = QGroupBox("Suggestions")
        self.target_box = _combo(["median", "max", "count"], "median")
        self.target_box.setToolTip(
            "Fill each class up to the median class, the largest class, or a number of images"
        )
        self.target_spin = _spin(1, 1_000_000, 100, 10)
        self.target_spin.setEnabled(False)
        self.target_box.currentTextChanged.connect(
            lambda t: self.target_spin.setEnabled(t == "count")
        )
        target = QHBoxLayout()
        target.addWidget(self.target_box)
        target.addWidget(self.target_spin, 1)
        self.arch_box = _combo(["resnet18", "small", "tiny"], "resnet18")
        self.arch_box.setToolTip(
            "The classifier that scores suggestions and is trained by Evaluate: resnet18 on a"
            " GPU, small (a ResNet-8) on a CPU, tiny for quick trials"
        )
        self.clf_epochs_spin = _spin(1, 500, 30)
        self.p_min_spin = QDoubleSpinBox()
        self.p_min_spin.setRange(0.0, 1.0)
        self.p_min_spin.setSingleStep(0.05)
        self.p_min_spin.setValue(0.5)
        self.p_min_spin.setToolTip(
            "A suggestion is kept only when the classifier gives its class at least this"
            " probability"
        )
        self.suggest_button = QPushButton("Generate suggestions")
        self.suggest_status = QLabel()
        self.suggest_status.setWordWrap(True)
        form = QFormLayout(box)
        form.addRow("Target", target)
        form.addRow("Classifier", self.arch_box)
        form.addRow("Classifier epochs", self.clf_epochs_spin)
        form.addRow("Min. class probability", self.p_min_spin)
        form.addRow(self.suggest_button)
        form.addRow(self.suggest_status)
        return box

    def _build_evaluate(self) -> QWidget:
        box = QGroupBox("Evaluate")
        self.eval_epochs_spin = _spin(1, 500, 30)
        self.eval_seeds_spin = _spin(1, 20, GUI_SEEDS)
        self.eval_seeds_spin.setToolTip(
            "Every row is trained once per seed and shown as mean ± standard deviation. A verdict"
            f" needs at least 2 seeds; the panel runs {GUI_SEEDS} by default to save time,"
            " the command line (labeler gan evaluate --seeds) 3."
        )
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip(
            "Train the classifier with four baselines and with the accepted generated images,"
            " once per seed, and score each on the real val split"
        )
        self.eval_status = QLabel()
        self.eval_status.setWordWrap(True)
        self.eval_table = QTableWidget(len(EVAL_ROWS), len(EVAL_COLUMNS))
        self.eval_table.setHorizontalHeaderLabels([t for _k, t in EVAL_COLUMNS])
        self.eval_table.setVerticalHeaderLabels([t for _k, t in EVAL_ROWS])
        self.eval_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.eval_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # Stretched sections shrink below their titles in a narrow panel ("Macro re…"):
        # every column keeps room for its title and for a mean ± std on one line, and the
        # table for all of them.
        self.eval_table.setWordWrap(False)
        titles = max(header.fontMetrics().horizontalAdvance(t) for _k, t in EVAL_COLUMNS)
        cell = self.eval_table.fontMetrics().horizontalAdvance("0.000 ± 0.000")
        header.setMinimumSectionSize(max(titles + 2 * HEADER_PADDING, cell + 2 * CELL_PADDING))
        self.eval_table.setMinimumWidth(
            self.eval_table.verticalHeader().sizeHint().width()
            + len(EVAL_COLUMNS) * header.minimumSectionSize()
            + 2 * self.eval_table.frameWidth()
            + 2
        )
        self.eval_table.setFixedHeight(
            self.eval_table.horizontalHeader().sizeHint().height() + len(EVAL_ROWS) * 30 + 4
        )
        for r, tip in enumerate(EVAL_ROW_TIPS):
            self.eval_table.setRowHeight(r, 30)
            self.eval_table.verticalHeaderItem(r).setToolTip(tip)
        epochs = QHBoxLayout()
        epochs.addWidget(QLabel("Epochs per classifier"))
        epochs.addWidget(self.eval_epochs_spin, 1)
        seeds = QHBoxLayout()
        self.eval_seeds_label = QLabel(f"Seeds ({GUI_SEEDS} by default; the CLI runs 3)")
        seeds.addWidget(self.eval_seeds_label)
        seeds.addWidget(self.eval_seeds_spin, 1)
        col = QVBoxLayout(box)
        col.addLayout(epochs)
        col.addLayout(seeds)
        col.addWidget(self.evaluate_button)
        col.addWidget(self.eval_table)
        col.addWidget(self.eval_status)
        col.addStretch(1)
        return box

    def _build_review(self) -> QWidget:
        box = QGroupBox("Review")
        self.class_box = QComboBox()
        self.review_hint = QLabel(
            "Each tile: the suggestion (left) beside its nearest real training image (right),"
            " with the classifier's probability for the class and the distance to that image."
            "  Keys: A accept · R reject · arrows move · Ctrl+A select all."
        )
        self.review_hint.setWordWrap(True)
        self.grid = ReviewGrid()
        self.accept_button = QPushButton("Accept selected (A)")
        self.reject_button = QPushButton("Reject selected (R)")
        self.select_all_button = QPushButton("Select all")
        self.review_status = QLabel()
        buttons = QHBoxLayout()
        buttons.addWidget(self.review_status, 1)
        buttons.addWidget(self.select_all_button)
        buttons.addWidget(self.reject_button)
        buttons.addWidget(self.accept_button)
        top = QHBoxLayout()
        top.addWidget(QLabel("Class"))
        top.addWidget(self.class_box, 1)
        col = QVBoxLayout(box)
        col.addLayout(top)
        col.addWidget(self.review_hint)
        col.addWidget(self.grid, 1)
        col.addLayout(buttons)
        return box

    def _budget_changed(self, kind: str) -> None:
        self.steps_spin.setVisible(kind == "steps")
        self.minutes_spin.setVisible(kind == "minutes")

    # -- showing ------------------------------------------------------------------------
    def show_samples(self, image: QImage, names: list) -> None:
        width = max(
            300, self.samples_label.width() - 4 if self.samples_label.width() > 100 else 360
        )
        self.samples_label.setPixmap(labelled_grid(image, list(names), width))
        self.samples_label.setToolTip("Generator samples: one row per class")

    def show_scores(self, cells: list[list[str]]) -> None:
        for r, row in enumerate(cells):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.eval_table.setItem(r, c, item)

    def show_lines(self, lines: list[tuple[int, str, int]], class_id: int | None) -> None:
        """Fill the class selector without announcing a pick."""
        self.class_box.blockSignals(True)
        self.class_box.clear()
        for cid, text, _k in lines:
            self.class_box.addItem(text, cid)
        idx = self.class_box.findData(class_id)
        self.class_box.setCurrentIndex(max(idx, 0))
        self.class_box.blockSignals(False)

    def update_lines(self, lines: list[tuple[int, str, int]]) -> None:
        """New counts for the selector's classes, keeping its choice."""
        for cid, text, _k in lines:
            idx = self.class_box.findData(cid)
            if idx >= 0:
                self.class_box.setItemText(idx, text)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def reset_train_bar(self) -> None:
        self.train_bar.setRange(0, 1)
        self.train_bar.setFormat("idle")
        self.train_bar.setPalette(self.palette())

    def show_train_end(self, text: str, done: int, total: int, finished: bool) -> None:
        """Training returned: a finished run fills the bar; a stopped one keeps the share it
        reached in grey, so it never reads as done."""
        self.train_bar.setRange(0, max(total, 1))
        self.train_bar.setValue(max(total, 1) if finished else max(0, min(done, total)))
        self.train_bar.setFormat(text)
        palette = self.palette()
        if not finished:
            palette.setColor(QPalette.ColorRole.Highlight, QColor(STOPPED_COLOUR))
        self.train_bar.setPalette(palette)
