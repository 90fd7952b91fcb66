"""Split and export: assign train/val/test, then write a checked dataset version.

Both run the same use cases as `labeler split` and `labeler export`, as jobs
(`labeler.gui.jobs`): on a pool thread with their own `Project` connection (a connection
belongs to the thread that opened it). The
dialog only reads the window's project on the GUI thread (recipe names, version count). The
result comes back as the same JSON the CLI prints with `--json`, so the dialog shows what a
script would see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labeler.app.exports import export_project
from labeler.app.splits import DEFAULT_RATIOS, split_json, split_project
from labeler.core.formats import EXPORTERS, ExportCancelled
from labeler.core.model import SPLITS
from labeler.gui.jobs import Job, JobContext, JobRunner
from labeler.store.project import Project
from labeler.store.recipes import list_recipes
from labeler.store.versions import list_versions

ERROR_STYLE = "color: #c5221f"
GOOD_STYLE = "color: #188038"
NO_RECIPE = "(none)"
NOTHING_CHANGED = "Nothing was changed: the project and the target folder are as they were."

# The store speaks the CLI's language; the dialog names its own controls instead.
_WORDING = (
    ("pass --overwrite to replace it", "tick Overwrite to replace it"),
    ("--multiplier", "Multiplier"),
    ("--recipe", "a recipe"),
)


def open_export_dialog(parent: QWidget | None, project: Project) -> ExportDialog:
    """Show the (non-modal) split and export dialog on `project`; it emits `project_changed()`
    after a split or an export wrote to the project."""
    dialog = ExportDialog(project, parent)
    dialog.show()
    return dialog


def gui_message(message: str) -> str:
    """A store error in the dialog's words (`--overwrite` becomes the Overwrite checkbox)."""
    for cli, gui in _WORDING:
        message = message.replace(cli, gui)
    return message


def ratios_problem(ratios: tuple[float, float, float]) -> str:
    """Why these split ratios cannot be used, or '' when they can."""
    total = sum(ratios)
    if abs(total - 1.0) > 1e-6:
        return f"The ratios must add up to 1 (now {total:.2f})."
    if ratios[0] <= 0:
        return "The train ratio must be above 0."
    return ""


def kinds_text(kinds: dict[str, int]) -> str:
    """`{"box": 3, "tag": 1}` as `3 box, 1 tag`."""
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))


class ExportDialog(QDialog):
    """Split the project into train/val/test and export a verified dataset version."""

    project_changed = Signal()
    split_finished = Signal(dict)  # split_json(...)
    export_finished = Signal(dict)  # ExportOutcome.to_json()
    export_failed = Signal(str)  # the reason; nothing was changed

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle(f"Split and export — {project.path.stem}")
        self.resize(1100, 680)
        self.workers: JobRunner | None = None  # made by the first job, gone when closed
        self.task: Job | None = None
        self.last_split: dict | None = None
        self.last_export: dict | None = None
        self._target_edited = False
        self._build()
        self.reload_recipes()
        self._suggest_target()
        self._validate()

    # -- building -----------------------------------------------------------------------
    def _build(self) -> None:
        left = QVBoxLayout()
        left.addWidget(self._build_split())
        left.addWidget(self._build_export())
        left.addLayout(self._build_progress())
        left.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(left, 0)
        body.addWidget(self._build_result(), 1)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(bottom)

    def _ratio_spin(self, value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        spin.setValue(value)
        spin.valueChanged.connect(lambda _v: self._validate())
        return spin

    def _build_split(self) -> QWidget:
        box = QGroupBox("Split")
        self.ratio_spins = [self._ratio_spin(r) for r in DEFAULT_RATIOS]
        ratios = QHBoxLayout()
        for name, spin in zip(SPLITS, self.ratio_spins, strict=True):
            ratios.addWidget(QLabel(name))
            ratios.addWidget(spin)
        self.ratio_message = QLabel("")
        self.ratio_message.setStyleSheet(ERROR_STYLE)
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed_spin.setToolTip(
            "Seeds the split, the split of images that have none at export, and the"
            " augmented copies (the same as --seed on the command line)"
        )
        self.reshuffle = QCheckBox("Reshuffle: assign every image again, not only new ones")
        self.group_by_folder = QCheckBox("Keep images from one source folder in one split")
        self.group_by_folder.setToolTip(
            "Near-duplicates always share a split; this also keeps each imported folder"
            " (a patient, a camera, a session) together"
        )
        self.split_button = QPushButton("Split now")
        self.split_button.clicked.connect(self.start_split)
        form = QFormLayout(box)
        form.addRow("Ratios", ratios)
        form.addRow("", self.ratio_message)
        form.addRow("Seed", self.seed_spin)
        form.addRow("", self.reshuffle)
        form.addRow("", self.group_by_folder)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.split_button)
        form.addRow(row)
        return box

    def _build_export(self) -> QWidget:
        box = QGroupBox("Export a dataset version")
        self.format_combo = QComboBox()
        self.format_combo.addItems(sorted(EXPORTERS))
        self.format_combo.setCurrentText("coco" if "coco" in EXPORTERS else "")
        self.format_combo.currentTextChanged.connect(lambda _t: self._suggest_target())
        self.recipe_combo = QComboBox()
        self.recipe_combo.currentTextChanged.connect(lambda _t: self._validate())
        self.multiplier = QSpinBox(minimum=1, maximum=100, value=1)
        self.multiplier.setToolTip("Augmented copies per train image, added to the originals")
        self.target_edit = QLineEdit()
        self.target_edit.textEdited.connect(self._target_typed)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse_target)
        target = QHBoxLayout()
        target.addWidget(self.target_edit, 1)
        target.addWidget(self.browse_button)
        self.strip_metadata = QCheckBox("Strip metadata (EXIF, GPS) from the images")
        self.overwrite = QCheckBox("Overwrite a target folder that is not empty")
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        form = QFormLayout(box)
        form.addRow("Format", self.format_combo)
        form.addRow("Recipe", self.recipe_combo)
        form.addRow("Multiplier", self.multiplier)
        form.addRow("Target folder", target)
        form.addRow("", self.strip_metadata)
        form.addRow("", self.overwrite)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.export_button)
        form.addRow(row)
        return box

    def _build_progress(self) -> QHBoxLayout:
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        return row

    def _build_result(self) -> QWidget:
        box = QGroupBox("Result")
        self.result_title = QLabel("Split the project or export a version; the outcome shows here.")
        self.result_title.setWordWrap(True)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.notes = QPlainTextEdit()
        self.notes.setReadOnly(True)
        self.notes.setMaximumHeight(120)
        self.notes.hide()
        lay = QVBoxLayout(box)
        lay.addWidget(self.result_title)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.notes)
        return box

    # -- state ------------------------------------------------------------------------------
    def reload_recipes(self) -> None:
        """Re-read the project's recipes (after the recipe editor saved one)."""
        keep = self.recipe_combo.currentText()
        self.recipe_combo.blockSignals(True)
        self.recipe_combo.clear()
        self.recipe_combo.addItems([NO_RECIPE] + [r.name for r in list_recipes(self.project)])
        self.recipe_combo.setCurrentText(keep or NO_RECIPE)
        self.recipe_combo.blockSignals(False)
        self._validate()

    def ratios(self) -> tuple[float, float, float]:
        a, b, c = (round(s.value(), 4) for s in self.ratio_spins)
        return (a, b, c)

    def recipe(self) -> str | None:
        name = self.recipe_combo.currentText()
        return None if name in ("", NO_RECIPE) else name

    @property
    def busy(self) -> bool:
        return self.task is not None

    def _validate(self) -> None:
        problem = ratios_problem(self.ratios())
        self.ratio_message.setText(problem)
        self.ratio_message.setVisible(bool(problem))
        self.multiplier.setEnabled(self.recipe() is not None and not self.busy)
        self.split_button.setEnabled(not problem and not self.busy)
        self.export_button.setEnabled(bool(self.target_edit.text().strip()) and not self.busy)
        self.cancel_button.setEnabled(self.busy)

    def _target_typed(self, _text: str) -> None:
        self._target_edited = True
        self._validate()

    def _suggest_target(self) -> None:
        """<project folder>/exports/<project>-<format>-v<next version>, until the user types."""
        if self._target_edited:
            return
        n = len(list_versions(self.project)) + 1
        fmt = self.format_combo.currentText()
        path = self.project.folder / "exports" / f"{self.project.path.stem}-{fmt}-v{n}"
        self.target_edit.setText(str(path))
        self._validate()

    def browse_target(self) -> None:
        start = self.target_edit.text() or str(self.project.folder)
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", start)
        if folder:
            self.target_edit.setText(folder)
            self._target_typed(folder)

    # -- running work ---------------------------------------------------------------------------
    def _start(
        self,
        fn: Callable[[JobContext], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
        label: str,
    ) -> None:
        if self.workers is None:
            self.workers = JobRunner(self.project.path, threads=1, parent=self)
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.progress.setFormat(f"{label} %v / %m")
        self.task = self.workers.start(fn, on_done, on_failed, self._progressed)
        self._validate()

    def _progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _finished_work(self, outcome: str = "", finished: bool = False) -> None:
        """The job returned: the bar says how it ended (full only when it finished)."""
        self.task = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if finished else 0)
        self.progress.setFormat(outcome)
        self._validate()

    def cancel(self) -> None:
        """Ask the running split or export to stop; it stops between images."""
        if self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.result_title.setText("Cancelling…")

    def start_split(self) -> None:
        """Run `split_project` with the shown settings on a worker thread."""
        if self.busy or ratios_problem(self.ratios()):
            return
        ratios, seed = self.ratios(), self.seed_spin.value()
        reshuffle, by_folder = self.reshuffle.isChecked(), self.group_by_folder.isChecked()

        def work(job: JobContext) -> dict:
            p = job.project
            plan = split_project(p, ratios, seed, reshuffle=reshuffle, group_by_folder=by_folder)
            return split_json(p, plan)

        self.result_title.setText("Splitting…")
        self._start(work, self._split_done, self._split_failed, "splitting")

    def _split_done(self, data: dict) -> None:
        self._finished_work("Split finished", finished=True)
        self.last_split = data
        self.show_split(data)
        self.split_finished.emit(data)
        self.project_changed.emit()

    def _split_failed(self, message: str) -> None:
        self._finished_work("Split failed")
        self._show_failure("Split failed", message)

    def start_export(self) -> None:
        """Run `export_project` with the shown settings on a worker thread."""
        target = self.target_edit.text().strip()
        if self.busy or not target:
            return
        recipe = self.recipe()
        kwargs = {
            "seed": self.seed_spin.value(),
            "recipe": recipe,
            "multiplier": self.multiplier.value() if recipe else 0,
            "strip_metadata": self.strip_metadata.isChecked(),
            "overwrite": self.overwrite.isChecked(),
        }
        fmt = self.format_combo.currentText()

        def work(job: JobContext) -> dict:
            try:
                outcome = export_project(
                    job.project,
                    fmt,
                    target,
                    progress=job.progress,
                    should_stop=job.should_stop,
                    **kwargs,
                )
            except ExportCancelled as e:
                return {"cancelled": str(e)}
            return outcome.to_json()

        self.result_title.setText(f"Exporting {fmt} to {target}…")
        self.summary.setText("")
        self._start(work, self._export_done, self._export_failed, "exporting")

    def _export_done(self, data: dict) -> None:
        if "cancelled" in data:
            self._finished_work("Export cancelled")
            self._show_failure("Export cancelled", "stopped before the end")
            return
        images = sum(data["images"].values())
        self._finished_work(
            f"Exported version {data['version']}: {images:,} image{'' if images == 1 else 's'}",
            finished=True,
        )
        self.last_export = data
        self.show_report(data)
        self._suggest_target()  # the next export goes to a new version folder
        self.export_finished.emit(data)
        self.project_changed.emit()

    def _export_failed(self, message: str) -> None:
        self._finished_work("Export failed")
        self._show_failure("Export failed", message)

    def _show_failure(self, title: str, message: str) -> None:
        message = gui_message(message).rstrip(".")
        if "nothing was changed" in message.lower():
            message = message[: message.lower().index("nothing was changed")].rstrip("; ,")
        self.result_title.setText(f"<b>{title}</b>")
        self.summary.setText(f"{message}.<br>{NOTHING_CHANGED}")
        self.summary.setStyleSheet(ERROR_STYLE)
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.notes.hide()
        if title.startswith("Export"):
            self.export_failed.emit(message)

    # -- showing results ------------------------------------------------------------------------
    def _fill_table(self, columns: list[str], rows: list[tuple[str, list[str], str]]) -> None:
        self.table.clear()
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)
        self.table.setRowCount(len(rows))
        for r, (name, cells, tip) in enumerate(rows):
            self.table.setVerticalHeaderItem(r, QTableWidgetItem(name))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(tip)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def show_split(self, data: dict) -> None:
        """The split's per-class counts and deviation from the ratios (`split_json`)."""
        im = data["images"]
        self.result_title.setText("<b>Split</b>")
        self.summary.setStyleSheet("")
        self.summary.setText(
            f"train {im['train']}, val {im['val']}, test {im['test']} images"
            f" ({data['new']} newly assigned, {data['moved']} moved; seed {data['seed']})."
            f"<br>Largest deviation of a class from the ratios: {data['max_deviation']:.3f}"
        )
        cc = data["class_counts"]
        rows = [
            (
                name,
                [str(cc[s].get(name, 0)) for s in SPLITS] + [f"{dev:.3f}"],
                f"{name}: share of each split vs. the ratios; deviation {dev:.3f}",
            )
            for name, dev in data["deviation"].items()
        ]
        self._fill_table([*SPLITS, "deviation"], rows)
        self.notes.hide()

    def show_report(self, data: dict) -> None:
        """The export report: images and shapes per split and class, the check, warnings,
        skipped files and the version number (`ExportOutcome.to_json()`)."""
        im = data["images"]
        verified = (
            f"<span style='{GOOD_STYLE}'>verified: yes</span> (re-read and found what was written)"
            if data["verified"]
            else f"<span style='{ERROR_STYLE}'>verified: NO</span>"
        )
        extra = []
        if data.get("augmented"):
            extra.append(
                f"{data['augmented']} augmented cop{'y' if data['augmented'] == 1 else 'ies'}"
            )
        if data.get("auto_split"):
            extra.append(f"{data['auto_split']} image(s) had no split and got one")
        left_out = data.get("not_exported") or 0
        if left_out:
            # Never a bare "verified" over an export that left images out (issue 13).
            extra.append(
                f"<span style='{ERROR_STYLE}'><b>{left_out} of {data.get('project_images', '?')}"
                " project image(s) are NOT in this export</b></span> (see below)"
            )
        loud = [w for w in data["warnings"] if w.split(":")[0].isupper()]
        extra += [f"<span style='{ERROR_STYLE}'>{w}</span>" for w in loud]
        self.result_title.setText(f"<b>Exported version {data['version']}</b> ({data['format']})")
        self.summary.setStyleSheet("")
        self.summary.setText(
            f"{sum(im.values())} images — train {im.get('train', 0)}, val {im.get('val', 0)},"
            f" test {im.get('test', 0)}; {verified}"
            + (f"<br>{'; '.join(extra)}" if extra else "")
            + f"<br>Folder: {data['out_dir']}"
        )
        classes = sorted({c for per in data["shapes"].values() for c in per})
        rows = [("images", [str(im.get(s, 0)) for s in SPLITS], "images per split")]
        for name in classes:
            per_split = [data["shapes"].get(s, {}).get(name, {}) for s in SPLITS]
            rows.append((name, [kinds_text(k) or "–" for k in per_split], f"shapes of {name}"))
        self._fill_table(list(SPLITS), rows)
        lines = [f"not exported: {s['file_name']}: {s['reason']}" for s in data["skipped"]]
        lines += [f"warning: {w}" for w in data["warnings"]]
        self.notes.setPlainText("\n".join(lines) or "No warnings; no file was skipped.")
        self.notes.show()

    # -- lifetime -------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        self.stop_workers()
        super().done(result)

    def stop_workers(self) -> None:
        """Cancel what runs and wait for it: an export stops between images and cleans up."""
        if self.workers is not None:
            self.workers.shutdown()
            self.workers = None
        self.task = None
