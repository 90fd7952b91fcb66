"""The GAN panel: train the project's class-conditional GAN, generate suggestions for thin
classes, review them side by side with their nearest real image, and evaluate whether the
accepted ones help a classifier.

The same jobs as ``labeler gan train|suggest|review|evaluate`` (`labeler.app.gan`), each run on
a pool thread with its own `Project` connection. torch is imported only inside those workers,
so opening the panel does not load it on the GUI thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QColor, QIcon, QImage, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
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

from labeler.core.images import BadImage, decode, read_file_bytes
from labeler.gui.health_panel import project_task
from labeler.gui.workers import Task, Workers, to_qimage
from labeler.store.project import Project

TILE_SIDE = 88
"""Pixels per image in a review tile (32 px samples are enlarged without smoothing)."""
SAMPLE_POLL_S = 2.0
"""How often a training run's folder is looked at for a new sample grid."""
PROGRESS_EVERY_S = 0.2
"""Training reports every step; the panel repaints at most this often."""
THIN_RATIO = 2.0
"""A class with this many times fewer images than the largest is called out in the selector."""
EVAL_ROWS = (
    ("real", "Real"),
    ("real_balanced", "Balanced"),
    ("real_plus_generated", "+ Generated"),
)
EVAL_ROW_TIPS = (
    "Trained on the real train images only",
    "Real train images, sampled class-balanced",
    "Real train images plus the accepted generated ones, class-balanced",
)
EVAL_COLUMNS = (
    ("accuracy", "Accuracy"),
    ("macro_recall", "Macro recall"),
    ("thin_recall", "Thin recall"),
    ("thin_f1", "Thin F1"),
)
WARNING_STYLE = (
    "QLabel { color: #7a4b00; background: #fff4e0; border: 1px solid #f0c987; padding: 4px;"
    " border-radius: 3px; }"
)
ERROR_STYLE = (
    "QLabel { color: #8a1c1c; background: #fdecea; border: 1px solid #f5c2c0; padding: 4px;"
    " border-radius: 3px; }"
)
OK_STYLE = "QLabel { color: #1b5e20; }"
ID_ROLE = Qt.ItemDataRole.UserRole


# -- work done on pool threads (plain functions: no widgets touched) -------------------------
def _set_threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def probe_cuda() -> str | None:
    """The CUDA GPU's name, or None when torch sees none (runs on a worker: imports torch)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def newest_samples(runs: Path) -> Path | None:
    """The newest ``samples-*.png`` of any training run under `runs`."""
    grids = list(runs.glob("*/samples-*.png")) if runs.is_dir() else []
    return max(grids, key=lambda p: (p.stat().st_mtime, p.name)) if grids else None


def load_samples(path: Path) -> tuple[QImage, list[str]] | None:
    """A sample grid and the class names of its rows (from the run's options.json)."""
    image = QImage(str(path))
    if image.isNull():
        return None
    try:
        options = json.loads((path.parent / "options.json").read_text())
        names = list(options["config"].get("class_names") or [])
    except (OSError, ValueError, KeyError):
        names = []
    return image, names


def _small(path: Path, short_side: int | None = None, side: int = TILE_SIDE) -> QImage | None:
    """A file decoded no larger than a tile needs (JPEG's reduced decode where it fits)."""
    r = next((r for r in (8, 4, 2) if short_side and short_side // r >= side), 1)
    try:
        bgr = decode(read_file_bytes(path), reduced=r)
    except (BadImage, OSError):
        return None
    return to_qimage(bgr)


def class_lines(stats: dict[str, Any], pending: dict[int, int]) -> list[tuple[int, str, int]]:
    """(class id, selector text, pending count) per class, calling out thin classes:
    ``"truck: 50 images, 100× fewer than airplane — 12 pending"``."""
    classes = stats["classes"]
    biggest = max(classes, key=lambda c: c["images"], default=None)
    out = []
    for c in classes:
        n, k = c["images"], pending.get(c["id"], 0)
        text = f"{c['name']}: {n} image{'s' if n != 1 else ''}"
        if biggest is not None and c is not biggest and n > 0:
            ratio = biggest["images"] / n
            if ratio >= THIN_RATIO:
                text += f", {ratio:.0f}× fewer than {biggest['name']}"
        if k:
            text += f" — {k} pending"
        out.append((c["id"], text, k))
    return out


def load_review(
    project: Project, class_id: int | None, *, prefer_pending: bool = False
) -> dict[str, Any]:
    """What the review side shows: the class selector's lines, and the pending suggestions of
    one class (the given one, else the first with any; with `prefer_pending` also when the
    given one has none) decoded small beside their nearest real image."""
    from labeler.app.gan import gan_folder
    from labeler.store.gan import latest_generator, list_suggestions, pending_counts

    pending = pending_counts(project)
    lines = class_lines(project.stats(), pending)
    if class_id is None or (prefer_pending and not pending.get(class_id) and pending):
        class_id = next((cid for cid, _t, k in lines if k), lines[0][0] if lines else None)
    tiles = []
    for s in list_suggestions(project, status="pending", class_id=class_id):
        nn = project.image(s.nn_image_id) if s.nn_image_id is not None else None
        tiles.append(
            {
                "id": s.id,
                "seed": s.seed,
                "scores": s.scores,
                "image": _small(project.resolve(s.path)),
                "nn": _small(project.resolve(nn), min(nn.width, nn.height)) if nn else None,
                "nn_name": Path(nn.path).name if nn else None,
                "nn_id": s.nn_image_id,
            }
        )
    tiles.sort(key=lambda t: t["scores"].get("rank", 0))
    gen = latest_generator(project)
    grid = newest_samples(gan_folder(project) / "runs")
    return {
        "lines": lines,
        "class_id": class_id,
        "tiles": tiles,
        "generator": None if gen is None else {"step": gen.step, "resolution": gen.resolution},
        "samples": load_samples(grid) if grid else None,
    }


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


def suggestion_summary(data: dict[str, Any]) -> str:
    """Two lines on a suggestion round: how many wait, and what each gate turned away."""
    per_class = data.get("per_class", {})
    if not per_class:
        return "Every class already reaches the target: nothing to suggest."
    n = len(data.get("suggestions", []))

    def total(key: str) -> int:
        return sum(int(c.get(key, 0)) for c in per_class.values())

    return (
        f"{n} suggestion{'s' if n != 1 else ''} for {len(per_class)} class(es) waiting for"
        f" review.\nTurned away: {total('rejected_classifier')} by the classifier,"
        f" {total('rejected_memorised')} too close to a real image (memorised),"
        f" {total('rejected_duplicate')} near-duplicates of each other."
    )


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


class GanPanel(QDialog):
    """Train, suggest, review and evaluate, on one open project."""

    project_changed = Signal()  # a decision added (accepted) or settled (rejected) suggestions
    training_finished = Signal(dict)  # jobs.train's result
    suggestions_finished = Signal(dict)  # jobs.suggest's result
    evaluation_finished = Signal(dict)  # jobs.evaluate's result
    review_loaded = Signal()  # the selector and the grid show the project as it is now
    decided = Signal(str, list)  # "accepted" | "rejected", suggestion ids
    job_failed = Signal(str)
    _train_progressed = Signal(dict)  # emitted on the worker: queued onto the GUI thread
    _samples_loaded = Signal(QImage, list)
    _job_progressed = Signal(dict)

    torch_threads: int | None = None
    """When set, workers call ``torch.set_num_threads`` first (shared or test machines)."""

    def __init__(
        self, project: Project, parent: QWidget | None = None, class_name: str | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"GAN suggestions — {project.path.name}")
        self.path = project.path
        self.jobs = Workers(threads=1, parent=self)  # train / suggest / evaluate, one at a time
        self.io = Workers(threads=1, parent=self)  # review loads and decisions, in order
        self._job: Task | None = None
        self._job_kind: str | None = None
        self._train_first_step: int | None = None
        self._deciding: set[int] = set()
        self._wanted_class: int | None = None
        cls = project.class_by_name(class_name) if class_name else None
        self._wanted_class = cls.id if cls else None
        self.cuda_name: str | None = None
        self.cuda_known = False
        self._build()
        self._train_progressed.connect(self._show_train_progress)
        self._samples_loaded.connect(self._show_samples)
        self._job_progressed.connect(self._show_job_progress)
        self.resize(1280, 820)
        self._probe()
        self.refresh()

    # -- building -------------------------------------------------------------------------
    def _build(self) -> None:
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
        layout = QVBoxLayout(self)
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
        self.device_box.currentTextChanged.connect(lambda _t: self._update_cpu_warning())
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
        self.start_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Save a checkpoint and stop; Start continues from it")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        self.train_bar = QProgressBar()
        self.train_bar.setFormat("idle")
        self.train_status = QLabel("No generator yet.")
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
        self.arch_box = _combo(["resnet18", "tiny"], "resnet18")
        self.arch_box.setToolTip("The small classifier that scores suggestions (tiny on a CPU)")
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
        self.suggest_button.clicked.connect(self.start_suggestions)
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
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip(
            "Train the classifier three ways and score each on the real val split"
        )
        self.evaluate_button.clicked.connect(self.start_evaluation)
        self.eval_status = QLabel()
        self.eval_status.setWordWrap(True)
        self.eval_table = QTableWidget(len(EVAL_ROWS), len(EVAL_COLUMNS))
        self.eval_table.setHorizontalHeaderLabels([t for _k, t in EVAL_COLUMNS])
        self.eval_table.setVerticalHeaderLabels([t for _k, t in EVAL_ROWS])
        self.eval_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.eval_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.eval_table.setFixedHeight(
            self.eval_table.horizontalHeader().sizeHint().height() + 3 * 30 + 4
        )
        for r, tip in enumerate(EVAL_ROW_TIPS):
            self.eval_table.setRowHeight(r, 30)
            self.eval_table.verticalHeaderItem(r).setToolTip(tip)
        epochs = QHBoxLayout()
        epochs.addWidget(QLabel("Epochs per classifier"))
        epochs.addWidget(self.eval_epochs_spin, 1)
        col = QVBoxLayout(box)
        col.addLayout(epochs)
        col.addWidget(self.evaluate_button)
        col.addWidget(self.eval_table)
        col.addWidget(self.eval_status)
        col.addStretch(1)
        return box

    def _build_review(self) -> QWidget:
        box = QGroupBox("Review")
        self.class_box = QComboBox()
        self.class_box.currentIndexChanged.connect(self._class_picked)
        self.review_hint = QLabel(
            "Each tile: the suggestion (left) beside its nearest real training image (right),"
            " with the classifier's probability for the class and the distance to that image."
            "  Keys: A accept · R reject · arrows move · Ctrl+A select all."
        )
        self.review_hint.setWordWrap(True)
        self.grid = ReviewGrid()
        self.grid.accept_pressed.connect(lambda: self.decide(True))
        self.grid.reject_pressed.connect(lambda: self.decide(False))
        self.grid.itemSelectionChanged.connect(self._update_review_buttons)
        self.accept_button = QPushButton("Accept selected (A)")
        self.accept_button.clicked.connect(lambda: self.decide(True))
        self.reject_button = QPushButton("Reject selected (R)")
        self.reject_button.clicked.connect(lambda: self.decide(False))
        self.select_all_button = QPushButton("Select all")
        self.select_all_button.clicked.connect(self.grid.selectAll)
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
        self._update_review_buttons()
        return box

    def _budget_changed(self, kind: str) -> None:
        self.steps_spin.setVisible(kind == "steps")
        self.minutes_spin.setVisible(kind == "minutes")

    # -- device ---------------------------------------------------------------------------
    def _probe(self) -> None:
        threads = self.torch_threads

        def work(_progress, _stop) -> str | None:
            _set_threads(threads)
            return probe_cuda()

        self.jobs.start(work, self._probed, self._probe_failed)

    def _probed(self, name: str | None) -> None:
        self.cuda_known, self.cuda_name = True, name
        if name:
            self.cuda_label.setText(f"CUDA is available: {name}. Training and scoring use it.")
            self.cuda_label.setStyleSheet(OK_STYLE)
        else:
            self.cuda_label.setText("CUDA is not available: every job runs on the CPU.")
        self._update_cpu_warning()

    def _probe_failed(self, message: str) -> None:
        self.cuda_label.setText(f"Cannot load torch: {message}")
        self.cuda_label.setStyleSheet(ERROR_STYLE)

    def _update_cpu_warning(self, device_in_use: str | None = None) -> None:
        chosen = self.device_box.currentText()
        on_cpu = (
            device_in_use.startswith("cpu")
            if device_in_use
            else chosen == "cpu" or (chosen == "auto" and self.cuda_known and not self.cuda_name)
        )
        self.cpu_warning.setVisible(on_cpu)

    # -- running jobs ---------------------------------------------------------------------
    def _start_job(
        self, kind: str, fn: Callable[..., Any], on_done: Callable[[Any], None]
    ) -> Task | None:
        if self._job is not None:
            return None
        self.error_label.hide()
        threads = self.torch_threads

        def work(p: Project, progress, should_stop) -> Any:
            _set_threads(threads)
            return fn(p, should_stop)

        def done(result: Any) -> None:
            self._job_ended()
            on_done(result)

        task = self.jobs.start(project_task(self.path, work), done, self._job_error)
        if task is not None:
            self._job, self._job_kind = task, kind
            self._set_running(True)
        return task

    def _job_ended(self) -> None:
        self._job, self._job_kind = None, None
        self._set_running(False)

    def _job_error(self, message: str) -> None:
        kind = self._job_kind
        self._job_ended()
        self.train_bar.setRange(0, 1)
        self.train_bar.setFormat("idle")
        text = {"train": "Training", "suggest": "Suggesting", "evaluate": "Evaluating"}
        self.show_error(f"{text.get(kind or '', 'The job')} failed: {message}")
        self.job_failed.emit(message)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()

    def _set_running(self, running: bool) -> None:
        for w in (self.start_button, self.suggest_button, self.evaluate_button):
            w.setEnabled(not running)
        self.stop_button.setEnabled(running and self._job_kind == "train")

    def busy(self) -> bool:
        return self._job is not None

    def stop(self) -> None:
        """Ask training to stop: the trainer saves a checkpoint that the next Start resumes."""
        if self._job is not None and self._job_kind == "train":
            self._job.cancel()
            self.stop_button.setEnabled(False)
            if self.jobs.pool.tryTake(self._job):
                # Still queued (behind the CUDA probe): it will never run nor report back.
                self._job_ended()
                self.train_bar.setRange(0, 1)
                self.train_bar.setFormat("idle")
                self.train_status.setText("Stopped before training began.")
                return
            self.train_bar.setFormat("Stopping: saving a checkpoint…")

    # -- training -------------------------------------------------------------------------
    def training_options(self) -> dict[str, Any]:
        """The keyword arguments for `jobs.train` as the controls set them."""
        by_steps = self.budget_box.currentText() == "steps"
        return {
            "resolution": int(self.resolution_box.currentText()),
            "width": self.width_box.currentText(),
            "steps": self.steps_spin.value() if by_steps else None,
            "minutes": None if by_steps else float(self.minutes_spin.value()),
            "device": self.device_box.currentText(),
            "batch_size": self.batch_spin.value(),
        }

    def start_training(self) -> Task | None:
        """Train (or resume) the GAN on a worker, with live progress and sample grids."""
        options = self.training_options()
        emit_progress, emit_samples = self._train_progressed.emit, self._samples_loaded.emit

        def train(p: Project, should_stop) -> dict[str, Any]:
            from labeler.app import gan as jobs

            watcher = _TrainWatcher(jobs.gan_folder(p) / "runs", emit_progress, emit_samples)
            result = jobs.train(p, **options, progress=watcher, should_stop=should_stop)
            watcher.look_for_samples(force=True)
            return result

        self._train_first_step = None
        self.train_bar.setRange(0, options["steps"] or 0)
        self.train_bar.setValue(0)
        self.train_bar.setFormat("Loading the train split…")
        self.train_status.setText("Starting…")
        self._update_cpu_warning(options["device"] if options["device"] == "cpu" else None)
        self._train_budget = options
        return self._start_job("train", train, self._training_done)

    def _show_train_progress(self, info: dict) -> None:
        step = int(info.get("step", 0))
        if self._train_first_step is None:
            self._train_first_step = step - 1
        done = step - self._train_first_step
        steps = self._train_budget.get("steps")
        eta = info.get("eta_s")
        if steps:
            self.train_bar.setRange(0, steps)
            self.train_bar.setValue(min(done, steps))
        else:
            self.train_bar.setRange(0, 0)
        self.train_bar.setFormat(f"step {step}" + (f" · ETA {_duration(eta)}" if eta else ""))
        losses = " ".join(f"{k} {v:.3f}" for k, v in (info.get("losses") or {}).items())
        device = str(info.get("device", ""))
        self.train_status.setText(
            f"Step {step} · {info.get('images_per_s', 0):,.0f} images/s"
            + (f" · losses: {losses}" if losses else "")
            + (f" · ETA {_duration(eta)}" if eta else "")
            + f" · on {device}"
        )
        self._update_cpu_warning(device)

    def _show_samples(self, image: QImage, names: list) -> None:
        width = max(
            300, self.samples_label.width() - 4 if self.samples_label.width() > 100 else 360
        )
        self.samples_label.setPixmap(labelled_grid(image, list(names), width))
        self.samples_label.setToolTip("Generator samples: one row per class")

    def _training_done(self, result: dict) -> None:
        step, device = result["step"], result["device"]
        self.train_bar.setRange(0, 1)
        self.train_bar.setValue(1)
        how = "Stopped" if result.get("stopped") else "Trained"
        self.train_bar.setFormat(f"{how} at step {step}")
        self.train_status.setText(
            f"{how} at step {step} on {device} ({result.get('images_per_s', 0):,.0f} images/s,"
            f" {result.get('train_images', 0)} real train images)."
            + (" Start continues from the checkpoint." if result.get("stopped") else "")
        )  # the run's only warning, the CPU fallback, is the warning line above
        self._update_cpu_warning(device)
        self.training_finished.emit(result)

    # -- suggestions ----------------------------------------------------------------------
    def suggestion_options(self) -> dict[str, Any]:
        """The keyword arguments for `jobs.suggest` as the controls set them."""
        kind = self.target_box.currentText()
        return {
            "target": self.target_spin.value() if kind == "count" else kind,
            "device": self.device_box.currentText(),
            "arch": self.arch_box.currentText(),
            "classifier_epochs": float(self.clf_epochs_spin.value()),
            "p_min": self.p_min_spin.value(),
        }

    def start_suggestions(self) -> Task | None:
        """Generate pending suggestions for the classes below the target, on a worker."""
        options = self.suggestion_options()
        emit = _throttled(self._job_progressed.emit)

        def suggest(p: Project, should_stop) -> dict[str, Any]:
            from labeler.app import gan as jobs

            return jobs.suggest(p, **options, progress=emit, should_stop=should_stop)

        self.suggest_status.setText(
            "Training the scoring classifier (once per train set), then generating…"
        )
        return self._start_job("suggest", suggest, self._suggestions_done)

    def _show_job_progress(self, info: dict) -> None:
        if self._job_kind == "suggest" and "classes" in info:
            self.suggest_status.setText(
                f"Generating: class {info['classes_done']} of {info['classes']}…"
            )
        elif self._job_kind == "evaluate" and "row" in info:
            row = dict(EVAL_ROWS).get(info["row"], info["row"])
            self.eval_status.setText(
                f"{row}: step {info.get('step', 0)} of {info.get('steps', '?')}…"
            )

    def _suggestions_done(self, data: dict) -> None:
        self.suggest_status.setText(suggestion_summary(data))
        self.suggest_status.setToolTip(
            "\n".join(
                f"{name}: {c.get('accepted', 0)} kept of {c.get('pool', 0)} generated"
                f" (rejected: classifier {c.get('rejected_classifier', 0)},"
                f" memorised {c.get('rejected_memorised', 0)},"
                f" duplicate {c.get('rejected_duplicate', 0)})"
                for name, c in data.get("per_class", {}).items()
            )
        )
        self.suggestions_finished.emit(data)
        self.refresh(prefer_pending=True)

    # -- evaluation -----------------------------------------------------------------------
    def start_evaluation(self) -> Task | None:
        """Score real / real-balanced / real+generated classifiers on the val split."""
        epochs = float(self.eval_epochs_spin.value())
        device, arch = self.device_box.currentText(), self.arch_box.currentText()
        emit = _throttled(self._job_progressed.emit)

        def evaluate(p: Project, should_stop) -> dict[str, Any]:
            from labeler.app import gan as jobs

            return jobs.evaluate(
                p, epochs=epochs, device=device, arch=arch, progress=emit, should_stop=should_stop
            )

        self.eval_status.setText("Training three classifiers…")
        return self._start_job("evaluate", evaluate, self._evaluation_done)

    def _evaluation_done(self, data: dict) -> None:
        rows = data.get("rows", {})
        for r, (key, _title) in enumerate(EVAL_ROWS):
            for c, (col, _t) in enumerate(EVAL_COLUMNS):
                value = rows.get(key, {}).get(col)
                item = QTableWidgetItem("—" if value is None else f"{value:.3f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.eval_table.setItem(r, c, item)
        note = "" if "real_plus_generated" in rows else " No accepted suggestions yet: row 3 empty."
        verdict = data.get("verdict", {}).get("text", "")
        self.eval_status.setText(
            f"Scored on the real {data.get('heldout_split', 'val')} split, on"
            f" {data.get('device', '?')}.{note} {verdict}".strip()
        )
        self.evaluation_finished.emit(data)

    # -- review ---------------------------------------------------------------------------
    def refresh(self, *, prefer_pending: bool = False) -> None:
        """Reload the class selector and the grid from the project (on a worker); with
        `prefer_pending`, move to a class that has suggestions when this one has none."""
        wanted, path = self._wanted_class, self.path

        def work(_progress, _stop) -> dict[str, Any]:
            with Project.open(path) as p:
                return load_review(p, wanted, prefer_pending=prefer_pending)

        self.io.start(work, self._review_loaded, lambda m: self.show_error(f"Review: {m}"))

    def _review_loaded(self, data: dict) -> None:
        self.class_box.blockSignals(True)
        self.class_box.clear()
        for cid, text, _k in data["lines"]:
            self.class_box.addItem(text, cid)
        idx = self.class_box.findData(data["class_id"])
        self.class_box.setCurrentIndex(max(idx, 0))
        self.class_box.blockSignals(False)
        self._wanted_class = data["class_id"]
        self.grid.clear()
        self._deciding.clear()
        for t in data["tiles"]:
            self.grid.addItem(self._tile(t))
        if self.grid.count():
            self.grid.setCurrentRow(0)
        gen = data.get("generator")
        if gen and self._job_kind != "train" and self.train_status.text() == "No generator yet.":
            self.train_status.setText(
                f"Generator at step {gen['step']} ({gen['resolution']} px). Start continues it."
            )
        if data.get("samples") and self._job_kind != "train":
            self._show_samples(*data["samples"])
        self._update_review_buttons()
        self.review_loaded.emit()

    def _tile(self, t: dict[str, Any]) -> QListWidgetItem:
        s = t["scores"]
        item = QListWidgetItem(
            tile_icon(t["image"], t["nn"]),
            f"p {s.get('p_class', float('nan')):.2f} · nn {s.get('nn_distance', float('nan')):.2f}",
        )
        item.setData(ID_ROLE, t["id"])
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        nn = f"image #{t['nn_id']} ({t['nn_name']})" if t["nn_id"] is not None else "none"
        item.setToolTip(
            f"Suggestion #{t['id']} (seed {t['seed']})\n"
            f"Class probability: {s.get('p_class', 0):.3f}\n"
            f"Distance to the nearest real image: {s.get('nn_distance', 0):.3f}"
            f" (pixels: {s.get('pixel_nn_distance', 0):.3f})\nNearest real image: {nn}"
        )
        return item

    def _class_picked(self, index: int) -> None:
        if index >= 0:
            self._wanted_class = self.class_box.itemData(index)
            self.refresh()

    def _update_review_buttons(self) -> None:
        visible = self.grid.visible_items()
        chosen = len(self._chosen())
        self.accept_button.setEnabled(chosen > 0)
        self.reject_button.setEnabled(chosen > 0)
        self.select_all_button.setEnabled(bool(visible))
        self.review_status.setText(
            f"{len(visible)} pending" + (f", {chosen} selected" if chosen else "")
            if visible
            else "Nothing to review for this class."
        )

    def _chosen(self) -> list[QListWidgetItem]:
        items = [i for i in self.grid.selectedItems() if not i.isHidden()]
        current = self.grid.currentItem()
        if not items and current is not None and not current.isHidden():
            items = [current]
        return items

    def decide(self, accept: bool) -> Task | None:
        """Accept or reject the selected tiles (the current one when none is selected). The
        tiles leave the grid at once; the decision is written on a worker."""
        items = self._chosen()
        ids = [int(i.data(ID_ROLE)) for i in items if int(i.data(ID_ROLE)) not in self._deciding]
        if not ids:
            return None
        first_row = min(self.grid.row(i) for i in items)
        for i in items:
            i.setHidden(True)
        self._deciding |= set(ids)
        self._select_near(first_row)

        path = self.path

        def work(_progress, _stop) -> list[int]:
            from labeler.app.gan import accept_suggestions
            from labeler.store.gan import reject_suggestions

            with Project.open(path) as p:
                if accept:
                    return accept_suggestions(p, ids)
                reject_suggestions(p, ids)
                return []

        verdict = "accepted" if accept else "rejected"
        return self.io.start(
            work,
            lambda _r: self._decided(verdict, ids),
            lambda m: self._decision_failed(ids, m),
        )

    def _select_near(self, row: int) -> None:
        self.grid.clearSelection()
        for r in list(range(row, self.grid.count())) + list(range(row - 1, -1, -1)):
            item = self.grid.item(r)
            if not item.isHidden():
                self.grid.setCurrentItem(item)
                item.setSelected(True)
                break
        self._update_review_buttons()

    def _decided(self, verdict: str, ids: list[int]) -> None:
        for r in reversed(range(self.grid.count())):
            if int(self.grid.item(r).data(ID_ROLE)) in ids:
                self.grid.takeItem(r)
        self._deciding -= set(ids)
        self._update_review_buttons()
        self.decided.emit(verdict, ids)
        self.project_changed.emit()
        self._refresh_counts()

    def _decision_failed(self, ids: list[int], message: str) -> None:
        for r in range(self.grid.count()):
            if int(self.grid.item(r).data(ID_ROLE)) in ids:
                self.grid.item(r).setHidden(False)
        self._deciding -= set(ids)
        self._update_review_buttons()
        self.show_error(f"Could not save the decision: {message}")

    def _refresh_counts(self) -> None:
        # The selector's counts changed; reload only its lines, so tiles keep their order.
        path = self.path

        def work(_progress, _stop) -> list[tuple[int, str, int]]:
            from labeler.store.gan import pending_counts

            with Project.open(path) as p:
                return class_lines(p.stats(), pending_counts(p))

        self.io.start(work, self._lines_loaded, lambda m: self.show_error(f"Review: {m}"))

    def _lines_loaded(self, lines: list[tuple[int, str, int]]) -> None:
        for cid, text, _k in lines:
            idx = self.class_box.findData(cid)
            if idx >= 0:
                self.class_box.setItemText(idx, text)

    # -- closing --------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop the running job (training saves a checkpoint; suggesting keeps the classes
        done; evaluating reports nothing), wait for every worker; True when all stopped in
        time. The panel starts nothing after this."""
        ok = self.jobs.shutdown(timeout_ms)
        return self.io.shutdown(timeout_ms) and ok

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing hides the panel and stops a running job at its next step (training saves
        # a checkpoint first).
        if self._job is not None:
            self._job.cancel()
            self.jobs.pool.waitForDone(60_000)
        self.io.pool.waitForDone(10_000)
        super().closeEvent(event)


class _TrainWatcher:
    """Training's progress callback (runs on the worker): forwards progress at most every
    `PROGRESS_EVERY_S`, and a newly written sample grid when one appears in the run folder."""

    def __init__(
        self,
        runs: Path,
        emit_progress: Callable[[dict], None],
        emit_samples: Callable[[QImage, list], None],
    ) -> None:
        self.runs = runs
        self.emit_progress = emit_progress
        self.emit_samples = emit_samples
        self.last_emit = 0.0
        self.last_look = time.monotonic()
        self.seen = newest_samples(runs)

    def __call__(self, info: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last_emit >= PROGRESS_EVERY_S:
            self.last_emit = now
            self.emit_progress(dict(info))
        if now - self.last_look >= SAMPLE_POLL_S:
            self.look_for_samples()

    def look_for_samples(self, force: bool = False) -> None:
        self.last_look = time.monotonic()
        newest = newest_samples(self.runs)
        if newest is not None and (force or newest != self.seen):
            self.seen = newest
            loaded = load_samples(newest)
            if loaded is not None:
                self.emit_samples(*loaded)


def _throttled(emit: Callable[[dict], None], every_s: float = PROGRESS_EVERY_S):
    last = [0.0]

    def report(info: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            emit(dict(info))

    return report


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def open_gan_panel(
    parent: QWidget | None, project: Project, class_name: str | None = None
) -> GanPanel:
    """Show the GAN panel for `project` (non-modal), reviewing `class_name` first when given.
    Connect `project_changed()` to reload the image list; call `shutdown()` before closing
    the project."""
    panel = GanPanel(project, parent, class_name)
    panel.show()
    return panel
