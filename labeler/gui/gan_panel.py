"""The GAN panel: train the project's class-conditional GAN, generate suggestions for thin
classes, review them side by side with their nearest real image, and evaluate whether the
accepted ones help a classifier.

The same jobs as ``labeler gan train|suggest|review|evaluate`` (`labeler.app.gan`), each run
as a job (`labeler.gui.jobs`) with its own `Project` connection. torch is imported only inside
those jobs, so opening the panel does not load it on the GUI thread. The layout is in
`labeler.gui.gan_views`; what the panel decides and says, without Qt, in
`labeler.app.gan_session`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QComboBox, QDialog, QListWidgetItem, QSpinBox, QWidget

from labeler.app import gan_session
from labeler.app.gan_session import PROGRESS_EVERY_S, GanSession
from labeler.gui.gan_views import (
    ERROR_STYLE,
    ID_ROLE,
    OK_STYLE,
    GanPanelUi,
    load_samples,
    tile_images,
    tile_item,
)
from labeler.gui.jobs import Job, JobContext, JobRunner
from labeler.store.project import Project

AUTO_BATCH = 0  # the batch spin's "auto": train_gan chooses from the device (ADR 0105)
GPU_DEFAULTS: dict[str, Any] = {
    "width": "base",
    "budget": "steps",
    "steps": 2000,
    "minutes": 10,
    "arch": "resnet18",
    "classifier_epochs": 30,
    "eval_epochs": 30,
}
CPU_DEFAULTS: dict[str, Any] = {
    "width": "small",
    "budget": "minutes",
    "steps": 500,
    "minutes": 15,
    "arch": "small",
    "classifier_epochs": 10,
    "eval_epochs": 10,
}
"""What the panel starts with on the CPU: a GAN and classifiers that finish in minutes there,
not the GPU's hours (issue 15 item 6). The GAN trains for 15 minutes, not a step count: the
width ``small`` at batch 32 became usable after 902 s on two CPU cores (README, CIFAR-10-LT),
and a time says what the wait is on any CPU. ``arch`` falls back to ``tiny`` without
``small``."""


def device_defaults(on_cpu: bool, archs: list[str]) -> dict[str, Any]:
    """The panel's defaults for the device the jobs will run on; ``archs`` the classifier
    archs on offer (``small`` on the CPU when offered, else ``tiny``)."""
    if not on_cpu:
        return dict(GPU_DEFAULTS)
    return CPU_DEFAULTS | {"arch": "small" if "small" in archs else "tiny"}


def cpu_text(defaults: dict[str, Any]) -> str:
    return (
        "Running on the CPU, much slower than a CUDA GPU: the settings are sized for it"
        f" (width {defaults['width']}, {defaults['minutes']} minutes, the {defaults['arch']}"
        f" classifier, {defaults['eval_epochs']} epochs). The GPU's sizes take hours here."
    )


class GanPanel(QDialog, GanPanelUi):
    """Train, suggest, review and evaluate, on one open project."""

    project_changed = Signal()  # a decision added (accepted) or settled (rejected) suggestions
    training_finished = Signal(dict)  # jobs.train's result
    suggestions_finished = Signal(dict)  # jobs.suggest's result
    evaluation_finished = Signal(dict)  # jobs.evaluate's result
    review_loaded = Signal()  # the selector and the grid show the project as it is now
    decided = Signal(str, list)  # "accepted" | "rejected", suggestion ids
    job_failed = Signal(str)

    torch_threads: int | None = None
    """When set, workers call ``torch.set_num_threads`` first (shared or test machines)."""

    def __init__(
        self, project: Project, parent: QWidget | None = None, class_name: str | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"GAN suggestions — {project.path.name}")
        self.path = project.path
        self.jobs = JobRunner(self.path, parent=self)  # train / suggest / evaluate, one at a time
        self.io = JobRunner(self.path, parent=self)  # review loads and decisions, in order
        self._job: Job | None = None
        cls = project.class_by_name(class_name) if class_name else None
        self.session = GanSession(wanted_class=cls.id if cls else None)
        self.setup_ui(self)
        self.batch_spin.setMinimum(AUTO_BATCH)
        self.batch_spin.setSpecialValueText("auto")
        self.batch_spin.setValue(AUTO_BATCH)
        self.batch_spin.setToolTip(
            "auto: 32 on the CPU; on a GPU 512 at 32 px, fewer at 64 or 128 px or on a small GPU,"
            " with the learning rates scaled to it"
        )
        self._shown_defaults = {k: _value(w) for k, w in self._default_controls().items()}
        self._from_run: set[str] = set()  # settings the earlier run fixes (to continue it)
        self._connect()
        self._update_review_buttons()
        self.resize(1280, 820)
        self._probe()
        self.refresh()

    def _connect(self) -> None:
        self.device_box.currentTextChanged.connect(lambda _t: self._device_changed())
        self.start_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop)
        self.suggest_button.clicked.connect(self.start_suggestions)
        self.evaluate_button.clicked.connect(self.start_evaluation)
        self.class_box.currentIndexChanged.connect(self._class_picked)
        self.grid.accept_pressed.connect(lambda: self.decide(True))
        self.grid.reject_pressed.connect(lambda: self.decide(False))
        self.grid.itemSelectionChanged.connect(self._update_review_buttons)
        self.accept_button.clicked.connect(lambda: self.decide(True))
        self.reject_button.clicked.connect(lambda: self.decide(False))
        self.select_all_button.clicked.connect(self.grid.selectAll)

    @property
    def cuda_known(self) -> bool:
        return self.session.cuda_known

    @property
    def cuda_name(self) -> str | None:
        return self.session.cuda_name

    # -- device ---------------------------------------------------------------------------
    def _probe(self) -> None:
        threads = self.torch_threads

        def work(_job: JobContext) -> str | None:
            gan_session.set_threads(threads)
            return gan_session.probe_cuda()

        self.jobs.start(work, self._probed, self._probe_failed)

    def _probed(self, name: str | None) -> None:
        self.session.cuda_known, self.session.cuda_name = True, name
        self.cuda_label.setText(self.session.cuda_text())
        if name:
            self.cuda_label.setStyleSheet(OK_STYLE)
        self._device_changed()

    def _probe_failed(self, message: str) -> None:
        self.cuda_label.setText(f"Cannot load torch: {message}")
        self.cuda_label.setStyleSheet(ERROR_STYLE)

    def _default_controls(self) -> dict[str, QComboBox | QSpinBox]:
        return {
            "width": self.width_box,
            "budget": self.budget_box,
            "steps": self.steps_spin,
            "minutes": self.minutes_spin,
            "arch": self.arch_box,
            "classifier_epochs": self.clf_epochs_spin,
            "eval_epochs": self.eval_epochs_spin,
        }

    def _device_changed(self) -> None:
        """Defaults follow the device the jobs will run on; a control the user changed keeps
        its value."""
        on_cpu = self.session.on_cpu(self.device_box.currentText())
        archs = [self.arch_box.itemText(i) for i in range(self.arch_box.count())]
        wanted = device_defaults(on_cpu, archs)
        for key, control in self._default_controls().items():
            if key in self._from_run:
                continue
            if _value(control) == self._shown_defaults[key] and _set_value(control, wanted[key]):
                self._shown_defaults[key] = wanted[key]
        self.cpu_warning.setText(cpu_text(wanted if on_cpu else device_defaults(True, archs)))
        self._update_cpu_warning()

    def _update_cpu_warning(self, device_in_use: str | None = None) -> None:
        chosen = self.device_box.currentText()
        self.cpu_warning.setVisible(self.session.on_cpu(chosen, device_in_use))

    # -- running jobs ---------------------------------------------------------------------
    def _start_job(
        self,
        kind: str,
        fn: Callable[[JobContext], Any],
        on_done: Callable[[Any], None],
        on_progress: Callable[[dict], None],
        progress_every_s: float = 0.0,
    ) -> Job | None:
        if self._job is not None:
            return None
        self.error_label.hide()
        threads = self.torch_threads

        def work(job: JobContext) -> Any:
            gan_session.set_threads(threads)
            return fn(job)

        def done(result: Any) -> None:
            self._job_ended()
            on_done(result)

        job = self.jobs.start(
            work, done, self._job_error, on_progress, progress_every_s=progress_every_s
        )
        if job is not None:
            self._job, self.session.job_kind = job, kind
            self._set_running(True)
        return job

    def _job_ended(self) -> None:
        self._job, self.session.job_kind = None, None
        self._set_running(False)

    def _job_error(self, message: str) -> None:
        text = self.session.failure_text(message)
        self._job_ended()
        self.reset_train_bar()
        self.show_error(text)
        self.job_failed.emit(message)

    def _set_running(self, running: bool) -> None:
        for w in (self.start_button, self.suggest_button, self.evaluate_button):
            w.setEnabled(not running)
        self.stop_button.setEnabled(running and self.session.job_kind == "train")

    def busy(self) -> bool:
        return self._job is not None

    def stop(self) -> None:
        """Ask training to stop: the trainer saves a checkpoint that the next Start resumes."""
        if self._job is not None and self.session.job_kind == "train":
            self.stop_button.setEnabled(False)
            if self._job.cancel():
                # Still queued (behind the CUDA probe): it will never run nor report back.
                self._job_ended()
                self.reset_train_bar()
                self.train_status.setText("Stopped before training began.")
                return
            self.train_bar.setFormat("Stopping: saving a checkpoint…")

    # -- training -------------------------------------------------------------------------
    def training_options(self) -> dict[str, Any]:
        """The keyword arguments for `jobs.train` as the controls set them (batch size None:
        chosen from the device)."""
        options = gan_session.training_options(
            resolution=self.resolution_box.currentText(),
            width=self.width_box.currentText(),
            budget=self.budget_box.currentText(),
            steps=self.steps_spin.value(),
            minutes=self.minutes_spin.value(),
            device=self.device_box.currentText(),
            batch_size=self.batch_spin.value(),
        )
        if options["batch_size"] == AUTO_BATCH:
            options["batch_size"] = None
        return options

    def start_training(self) -> Job | None:
        """Train (or resume) the GAN on a worker, with live progress and sample grids."""
        options = self.training_options()

        def train(job: JobContext) -> dict[str, Any]:
            from labeler.app import gan as jobs

            watcher = gan_session.TrainWatcher(
                jobs.gan_folder(job.project) / "runs",
                job.progress,
                lambda grid: job.progress({"sample_grid": load_samples(grid)}),
            )
            result = jobs.train(
                job.project, **options, progress=watcher, should_stop=job.should_stop
            )
            watcher.look_for_samples(force=True)
            return result

        self.session.start_training(options)
        self.reset_train_bar()
        self.train_bar.setRange(0, options["steps"] or 0)
        self.train_bar.setValue(0)
        self.train_bar.setFormat("Loading the train split…")
        self.train_status.setText("Starting…")
        self._update_cpu_warning(options["device"] if options["device"] == "cpu" else None)
        return self._start_job("train", train, self._training_done, self._show_train_progress)

    def _show_train_progress(self, info: dict) -> None:
        if "sample_grid" in info:  # a new sample grid, loaded on the worker
            if info["sample_grid"] is not None:
                self.show_samples(*info["sample_grid"])
            return
        value, maximum, bar, status = self.session.train_progress(info)
        self.train_bar.setRange(0, maximum)
        if maximum:
            self.train_bar.setValue(value)
        self.train_bar.setFormat(bar)
        self.train_status.setText(status)
        self._update_cpu_warning(str(info.get("device", "")))

    def _training_done(self, result: dict) -> None:
        bar, status = gan_session.training_done(result)
        stopped = bool(result.get("stopped"))
        steps = int(self.session.train_budget.get("steps") or 0)
        first = self.session.first_step
        done = result["step"] - first if first is not None else 0
        if stopped and steps and first is not None:
            bar += f" of {first + steps:,}"  # "Stopped at step 7 of 2,000": a share, not done
        self.show_train_end(bar, done, steps, finished=not stopped)
        self.train_status.setText(status)
        self._update_cpu_warning(result["device"])
        self.training_finished.emit(result)

    # -- suggestions ----------------------------------------------------------------------
    def suggestion_options(self) -> dict[str, Any]:
        """The keyword arguments for `jobs.suggest` as the controls set them."""
        return gan_session.suggestion_options(
            target=self.target_box.currentText(),
            count=self.target_spin.value(),
            device=self.device_box.currentText(),
            arch=self.arch_box.currentText(),
            classifier_epochs=self.clf_epochs_spin.value(),
            p_min=self.p_min_spin.value(),
        )

    def start_suggestions(self) -> Job | None:
        """Generate pending suggestions for the classes below the target, on a worker."""
        options = self.suggestion_options()

        def suggest(job: JobContext) -> dict[str, Any]:
            from labeler.app import gan as jobs

            return jobs.suggest(
                job.project,
                **options,
                progress=lambda info: job.progress(dict(info)),
                should_stop=job.should_stop,
            )

        self.suggest_status.setText(
            "Training the scoring classifier (once per train set), then generating…"
        )
        return self._start_job(
            "suggest", suggest, self._suggestions_done, self._show_job_progress, PROGRESS_EVERY_S
        )

    def _show_job_progress(self, info: dict) -> None:
        text = self.session.job_progress(info)
        if text is not None:
            suggesting = self.session.job_kind == "suggest"
            (self.suggest_status if suggesting else self.eval_status).setText(text)

    def _suggestions_done(self, data: dict) -> None:
        self.suggest_status.setText(gan_session.suggestion_summary(data))
        self.suggest_status.setToolTip(gan_session.suggestion_details(data))
        self.suggestions_finished.emit(data)
        self.refresh(prefer_pending=True)

    # -- evaluation -----------------------------------------------------------------------
    def start_evaluation(self) -> Job | None:
        """Score real / real-balanced / real+generated classifiers on the val split."""
        options = gan_session.evaluation_options(
            epochs=self.eval_epochs_spin.value(),
            device=self.device_box.currentText(),
            arch=self.arch_box.currentText(),
            seeds=self.eval_seeds_spin.value(),
        )

        def evaluate(job: JobContext) -> dict[str, Any]:
            from labeler.app import gan as jobs

            return jobs.evaluate(
                job.project,
                **options,
                progress=lambda info: job.progress(dict(info)),
                should_stop=job.should_stop,
            )

        self.eval_status.setText(gan_session.evaluation_start_text(options))
        return self._start_job(
            "evaluate", evaluate, self._evaluation_done, self._show_job_progress, PROGRESS_EVERY_S
        )

    def _evaluation_done(self, data: dict) -> None:
        self.show_scores(gan_session.evaluation_cells(data))
        self.eval_status.setText(gan_session.evaluation_status(data))
        self.evaluation_finished.emit(data)

    # -- review ---------------------------------------------------------------------------
    def refresh(self, *, prefer_pending: bool = False) -> None:
        """Reload the class selector and the grid from the project (on a worker); with
        `prefer_pending`, move to a class that has suggestions when this one has none."""
        wanted = self.session.wanted_class

        def work(job: JobContext) -> dict[str, Any]:
            data = gan_session.load_review(job.project, wanted, prefer_pending=prefer_pending)
            return tile_images(data)

        self.io.start(work, self._review_loaded, lambda m: self.show_error(f"Review: {m}"))

    def _review_loaded(self, data: dict) -> None:
        self.show_lines(data["lines"], data["class_id"])
        self.session.wanted_class = data["class_id"]
        self.grid.clear()
        self.session.deciding.clear()
        for t in data["tiles"]:
            self.grid.addItem(tile_item(t))
        if self.grid.count():
            self.grid.setCurrentRow(0)
        training = self.session.job_kind == "train"
        gen = data.get("generator")
        if gen and not training and self.train_status.text() == gan_session.NO_GENERATOR:
            self.train_status.setText(gan_session.generator_text(gen))
            # Start continues the run only at its settings: offer them, unless changed.
            for key, control, value in (
                ("width", self.width_box, gen.get("width")),
                ("resolution", self.resolution_box, str(gen["resolution"])),
            ):
                shown = self._shown_defaults.get(key, _value(control))
                if value and _value(control) == shown and _set_value(control, value):
                    self._shown_defaults[key] = value
                    self._from_run.add(key)  # the device's defaults leave it alone
        if data.get("samples") and not training:
            self.show_samples(*data["samples"])
        self._update_review_buttons()
        self.review_loaded.emit()

    def _class_picked(self, index: int) -> None:
        if index >= 0:
            self.session.wanted_class = self.class_box.itemData(index)
            self.refresh()

    def _update_review_buttons(self) -> None:
        visible = len(self.grid.visible_items())
        chosen = len(self._chosen())
        self.accept_button.setEnabled(chosen > 0)
        self.reject_button.setEnabled(chosen > 0)
        self.select_all_button.setEnabled(bool(visible))
        self.review_status.setText(gan_session.review_status(visible, chosen))

    def _chosen(self) -> list[QListWidgetItem]:
        items = [i for i in self.grid.selectedItems() if not i.isHidden()]
        current = self.grid.currentItem()
        if not items and current is not None and not current.isHidden():
            items = [current]
        return items

    def decide(self, accept: bool) -> Job | None:
        """Accept or reject the selected tiles (the current one when none is selected). The
        tiles leave the grid at once; the decision is written on a worker."""
        items = self._chosen()
        ids = self.session.begin_decision([int(i.data(ID_ROLE)) for i in items])
        if not ids:
            return None
        first_row = min(self.grid.row(i) for i in items)
        for i in items:
            i.setHidden(True)
        self._select_near(first_row)

        def work(job: JobContext) -> list[int]:
            from labeler.app.gan import accept_suggestions
            from labeler.store.gan import reject_suggestions

            if accept:
                return accept_suggestions(job.project, ids)
            reject_suggestions(job.project, ids)
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
        self.session.end_decision(ids)
        self._update_review_buttons()
        self.decided.emit(verdict, ids)
        self.project_changed.emit()
        self._refresh_counts()

    def _decision_failed(self, ids: list[int], message: str) -> None:
        for r in range(self.grid.count()):
            if int(self.grid.item(r).data(ID_ROLE)) in ids:
                self.grid.item(r).setHidden(False)
        self.session.end_decision(ids)
        self._update_review_buttons()
        self.show_error(f"Could not save the decision: {message}")

    def _refresh_counts(self) -> None:
        # The selector's counts changed; reload only its lines, so tiles keep their order.
        self.io.start(
            lambda job: gan_session.pending_lines(job.project),
            self.update_lines,
            lambda m: self.show_error(f"Review: {m}"),
        )

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
            if self._job.cancel():  # still queued: it will never report
                self._job_ended()
            self.jobs.wait(60_000)
        self.io.wait(10_000)
        super().closeEvent(event)


def open_gan_panel(
    parent: QWidget | None, project: Project, class_name: str | None = None
) -> GanPanel:
    """Show the GAN panel for `project` (non-modal), reviewing `class_name` first when given.
    Connect `project_changed()` to reload the image list; call `shutdown()` before closing
    the project."""
    panel = GanPanel(project, parent, class_name)
    panel.show()
    return panel


def _value(control: QComboBox | QSpinBox) -> Any:
    return control.currentText() if isinstance(control, QComboBox) else control.value()


def _set_value(control: QComboBox | QSpinBox, value: Any) -> bool:
    if isinstance(control, QComboBox):
        if control.findText(value) < 0:
            return False
        control.setCurrentText(value)
    else:
        control.setValue(value)
    return True
