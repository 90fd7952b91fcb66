"""The Health panel: run the project's health checks off the GUI thread, read the findings,
and act on them (relink moved files, drop duplicates, re-split, ask for GAN suggestions).

Every read and write is a job (`labeler.gui.jobs`): it runs on a pool thread with its own
`Project` connection (one SQLite connection per thread); results come back through signals.
The window that opens the panel listens to `images_requested`, `gan_requested` and
`project_changed`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from labeler.core.health import Finding, HealthReport
from labeler.core.health.model import plural
from labeler.core.neardup import clusters_from_pairs
from labeler.gui.jobs import Job, JobContext, JobRunner
from labeler.store.project import Project

SEVERITY_COLOURS = {"error": "#c62828", "warning": "#e08a00", "info": "#1e6fbf"}
SEVERITY_ICONS = {"error": "✖", "warning": "▲", "info": "ℹ"}
SEVERITY_WORDS = {"error": ("error", "errors"), "warning": ("warning", "warnings")}
SEVERITY_WORDS["info"] = ("note", "notes")

ACTION_LABELS = {
    "open_images": ("Show {n} image", "Show {n} images"),
    "relink": ("Relink {n} file…", "Relink {n} files…"),
    "remove_duplicates": ("Remove {n} duplicate…", "Remove {n} duplicates…"),
    "resplit": ("Re-split keeping groups together…",) * 2,
    "suggest_gan": ("GAN suggestions…",) * 2,
}
MAX_LISTED = 15
"""At most this many lines of a relink list go into a confirmation box."""


def duplicates_to_remove(finding: Finding) -> list[int]:
    """All but the first image of each duplicate group (the first is kept: it was imported
    first, so labels made on it survive)."""
    groups = finding.details.get("groups") or clusters_from_pairs(finding.pairs)
    return sorted({i for g in groups for i in sorted(g)[1:]})


def gan_class_names(finding: Finding, classes: dict[int, str]) -> list[str]:
    """The thin classes a balance finding points at, by name."""
    d = finding.details
    ids = list(d.get("classes") or ([d["smallest"]] if "smallest" in d else []))
    return [classes.get(int(c), f"#{c}") for c in ids]


def show_images_text(shown: int, counted: int) -> str:
    """The button that opens a finding's images: it says how many open, and when that is only
    the top of a longer ranked list, of how many (the card's title counts them all)."""
    if shown < counted:
        return f"Show the first {shown:,} of {counted:,} images"
    return f"Show {shown:,} image" if shown == 1 else f"Show {shown:,} images"


def _badge(text: str, colour: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(
        f"QLabel {{ background: {colour}; color: white; border-radius: 9px;"
        " padding: 2px 10px; font-weight: bold; }"
    )
    return label


class FindingCard(QFrame):
    """One finding: severity mark, title, message, suggestion and its action button."""

    acted = Signal(object, str)  # finding, action (an ACTIONS id, or "show" for its images)

    def __init__(self, finding: Finding, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.finding = finding
        colour = SEVERITY_COLOURS[finding.severity]
        self.setObjectName("finding")
        self.setStyleSheet(
            f"QFrame#finding {{ border: 1px solid #d0d0d0; border-left: 5px solid {colour};"
            " border-radius: 3px; background: palette(base); }"
        )
        icon = QLabel(SEVERITY_ICONS[finding.severity])
        icon.setStyleSheet(f"color: {colour}; font-size: 16px;")
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        icon.setToolTip(finding.severity)
        title = QLabel(f"<b>{_escape(finding.title)}</b>")
        message = QLabel(_escape(finding.message))
        suggestion = QLabel(f"<i>→ {_escape(finding.suggestion)}</i>" if finding.suggestion else "")
        for w in (title, message, suggestion):
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        suggestion.setStyleSheet("color: palette(dark);")
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(title)
        text.addWidget(message)
        if finding.suggestion:
            text.addWidget(suggestion)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.action_button: QPushButton | None = None
        if finding.action is not None and self._action_count() != 0:
            self.action_button = self._button(finding.action)
            buttons.addWidget(self.action_button)
        if finding.image_ids and finding.action != "open_images":
            buttons.addWidget(self._button("show", self._show_text()))
        text.addLayout(buttons)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(icon)
        row.addLayout(text, 1)

    def _action_count(self) -> int | None:
        f = self.finding
        if f.action == "relink":
            return len(f.details.get("relink", []))
        if f.action == "remove_duplicates":
            return len(duplicates_to_remove(f))
        if f.action == "open_images":
            return len(f.image_ids)
        return None

    def _show_text(self) -> str:
        shown = len(self.finding.image_ids)
        return show_images_text(shown, int(self.finding.details.get("total_flagged", shown)))

    def _button(self, action: str, text: str | None = None) -> QPushButton:
        if text is None and action == "open_images":
            text = self._show_text()
        if text is None:
            n = self._action_count()
            one, many = ACTION_LABELS[action]
            text = (one if n == 1 else many).format(n=n)
        b = QPushButton(text)
        b.setObjectName(f"action_{action}")
        b.clicked.connect(lambda _c=False: self.acted.emit(self.finding, action))
        return b


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class HealthPanel(QDialog):
    """Check the project, list what the check found, and offer a fix for each finding."""

    images_requested = Signal(list)  # image ids the window should filter its list to
    gan_requested = Signal(list)  # names of thin classes to fill with GAN suggestions
    project_changed = Signal()  # the panel wrote to the project (relink, remove, re-split)
    check_finished = Signal(object)  # the HealthReport (or a cancelled partial one)
    action_finished = Signal(str)  # the action id, after it was written

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Health — {project.path.name}")
        self.path = project.path
        self.report: HealthReport | None = None
        self.cards: list[FindingCard] = []
        self.workers = JobRunner(self.path, threads=1, parent=self)
        self._task: Job | None = None
        self._build()
        self.resize(760, 640)

    # -- building -------------------------------------------------------------------------
    def _build(self) -> None:
        self.check_button = QPushButton("Check")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.start_check)
        self.decode_box = QCheckBox("Decode images (finds unreadable files and suspicious labels)")
        self.decode_box.setChecked(True)
        self.export_button = QPushButton("Export HTML report…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.ask_export_html)
        top = QHBoxLayout()
        top.addWidget(self.check_button)
        top.addWidget(self.decode_box, 1)
        top.addWidget(self.export_button)

        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        self.busy_row = QWidget()
        self.busy_row.setLayout(busy)
        busy.setContentsMargins(0, 0, 0, 0)
        self.busy_row.hide()

        self.badges = QHBoxLayout()
        self.summary = QLabel("Press Check to look for problems in this project.")
        self.summary.setWordWrap(True)
        summary_row = QHBoxLayout()
        summary_row.addLayout(self.badges)
        summary_row.addWidget(self.summary, 1)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(
            "QLabel { color: #8a1c1c; background: #fdecea; border: 1px solid #f5c2c0;"
            " padding: 6px; border-radius: 3px; }"
        )
        self.error_label.hide()

        self.list_widget = QWidget()
        self.list_layout = QVBoxLayout(self.list_widget)
        self.list_layout.setContentsMargins(0, 0, 6, 0)
        self.list_layout.setSpacing(6)
        self.list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.list_widget)
        scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.busy_row)
        layout.addLayout(summary_row)
        layout.addWidget(self.error_label)
        layout.addWidget(scroll, 1)

    # -- the check ------------------------------------------------------------------------
    def start_check(self) -> Job | None:
        """Run every health check on a worker; the findings replace the list when done."""
        from labeler.app.health import project_health

        decode = self.decode_box.isChecked()

        def check(job: JobContext) -> HealthReport:
            return project_health(
                job.project,
                decode_images=decode,
                progress=job.progress,
                should_stop=job.should_stop,
            )

        return self._start(check, self._check_done, "Checking…")

    def _check_done(self, report: HealthReport) -> None:
        self._idle()
        self.report = report
        self.export_button.setEnabled(True)
        self._show_report(report)
        self.check_finished.emit(report)

    def _show_report(self, report: HealthReport) -> None:
        while self.badges.count():
            w = self.badges.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        counts = report.severity_counts()
        for sev in ("error", "warning", "info"):
            one, many = SEVERITY_WORDS[sev]
            n = counts.get(sev, 0)
            badge = _badge(f"{n} {one if n == 1 else many}", SEVERITY_COLOURS[sev])
            badge.setObjectName(f"badge_{sev}")
            if n == 0:
                badge.setStyleSheet(badge.styleSheet().replace(SEVERITY_COLOURS[sev], "#9e9e9e"))
            self.badges.addWidget(badge)
        images = report.stats.get("images", {}).get("total", 0)
        text = f"{plural(images, 'image', 'images')} checked."
        if report.cancelled:
            text += " The check was cancelled: only the checks that ran are listed."
        elif not report.findings:
            text += " No problems found."
        self.summary.setText(text)
        for f in report.findings:
            card = FindingCard(f)
            card.acted.connect(self.act)
            self.list_layout.insertWidget(self.list_layout.count() - 1, card)
            self.cards.append(card)

    # -- actions --------------------------------------------------------------------------
    def act(self, finding: Finding, action: str) -> None:
        """Carry out a finding's action (after a confirmation where it writes)."""
        if action in ("open_images", "show"):
            self.images_requested.emit(list(finding.image_ids))
        elif action == "suggest_gan":
            classes = self.report.classes if self.report else {}
            self.gan_requested.emit(gan_class_names(finding, classes))
        elif action == "relink":
            self._relink(finding)
        elif action == "remove_duplicates":
            self._remove_duplicates(finding)
        elif action == "resplit":
            self._resplit()

    def _relink(self, finding: Finding) -> None:
        rows = finding.details.get("relink", [])
        if not rows:
            return
        lines = [f"{Path(r['old_path']).name}: {r['old_path']} → {r['new_path']}" for r in rows]
        more = len(lines) - MAX_LISTED
        listing = "\n".join(lines[:MAX_LISTED]) + (f"\n… and {more} more" if more > 0 else "")
        if not self._confirm(
            "Relink moved files",
            f"Point {plural(len(rows), 'image', 'images')} at the file found elsewhere (same SHA-256, so the"
            f" same pixels):\n\n{listing}",
        ):
            return

        def relink(job: JobContext) -> int:
            p = job.project
            with p.atomic():  # one transaction: all relinked or none
                for r in rows:
                    p.relink_image(int(r["image_id"]), r["new_path"])
            return len(rows)

        self._start(relink, lambda _n: self._action_done("relink"), "Relinking…")

    def _remove_duplicates(self, finding: Finding) -> None:
        ids = duplicates_to_remove(finding)
        if not ids:
            return
        if not self._confirm(
            "Remove duplicates",
            f"Remove {plural(len(ids), 'image', 'images')} from the project, keeping the first image of each"
            " group? Their labels go with them.\n\nThe files on disk are not touched.",
        ):
            return

        def remove(job: JobContext) -> int:
            job.project.remove_images(ids)
            return len(ids)

        self._start(remove, lambda _n: self._action_done("remove_duplicates"), "Removing…")

    def _resplit(self) -> None:
        if not self._confirm(
            "Re-split the project",
            "Assign train/val/test again for every image, stratified by class. Near-duplicates"
            " are kept together in one split, so the same picture can no longer be in train"
            " and in val/test (that leak makes scores look better than they are).\n\nGenerated"
            " images stay in train. Any split you set by hand is replaced.",
        ):
            return
        from labeler.app.splits import split_project

        def resplit(job: JobContext) -> None:
            split_project(job.project, reshuffle=True)

        self._start(resplit, lambda _r: self._action_done("resplit"), "Re-splitting…")

    def _action_done(self, action: str) -> None:
        self._idle()
        self.project_changed.emit()
        self.action_finished.emit(action)
        self.start_check()

    def ask_export_html(self) -> None:
        """Write the last report as a self-contained HTML page where the user says."""
        if self.report is None:
            return
        suggested = str(self.path.with_name(f"{self.path.stem}-health.html"))
        out, _ = QFileDialog.getSaveFileName(self, "Export HTML report", suggested, "HTML (*.html)")
        if not out:
            return
        from labeler.app.health import write_html

        report, title = self.report, f"Health of {self.path.name}"
        self._start(
            lambda job: write_html(report, out, title, project=job.project),
            lambda target: self.summary.setText(f"Report written to {target}"),
            "Writing the report…",
        )

    # -- running work ---------------------------------------------------------------------
    def _start(
        self, fn: Callable[[JobContext], Any], on_done: Callable[[Any], None], label: str
    ) -> Job | None:
        if self._task is not None:
            return None  # one job at a time; the buttons are disabled meanwhile
        self.error_label.hide()

        def done(result: Any) -> None:
            self._task = None
            self._idle()
            on_done(result)

        task = self.workers.start(fn, done, self._failed, self._progressed)
        if task is None:
            return None
        self._task = task
        self.progress.setRange(0, 0)
        self.progress.setFormat(label)
        self.busy_row.show()
        self.cancel_button.setEnabled(True)
        self._set_enabled(False)
        return task

    def _progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"Checking… {done} / {total}")

    def _failed(self, message: str) -> None:
        self._task = None
        self._idle()
        self.error_label.setText(f"Could not finish: {message}")
        self.error_label.show()

    def _idle(self) -> None:
        self.busy_row.hide()
        self._set_enabled(True)

    def _set_enabled(self, on: bool) -> None:
        self.check_button.setEnabled(on)
        self.export_button.setEnabled(on and self.report is not None)
        for card in self.cards:
            card.setEnabled(on)

    def cancel(self) -> None:
        """Ask the running check to stop; it reports the findings of the checks that ran."""
        if self._task is not None:
            if self._task.cancel():  # it had not begun: it will not report
                self._task = None
                self._idle()
                return
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("Cancelling…")

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def busy(self) -> bool:
        return self._task is not None

    def shutdown(self) -> None:
        """Stop the running job and wait for the worker; the panel cannot start work after
        this (the window calls it when it closes the project)."""
        self.workers.shutdown()
        self._task = None

    def closeEvent(self, event: QCloseEvent) -> None:
        # Closing only hides the panel (it may be shown again), so stop the job but keep the
        # pool; a check cancels within one image, writes are short.
        if self._task is not None:
            self.cancel()
            self.workers.wait(10_000)
        super().closeEvent(event)


def open_health_panel(parent: QWidget | None, project: Project) -> HealthPanel:
    """Show the Health panel for `project` (non-modal); the caller connects its signals:
    `images_requested(list[int])`, `gan_requested(list[str])` and `project_changed()`."""
    panel = HealthPanel(project, parent)
    panel.show()
    return panel
