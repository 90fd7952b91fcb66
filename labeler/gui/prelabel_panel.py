"""Pre-labels in the window (issue 18): train the project's own classifier on its image-level
labels in the background, say how good it measured before offering anything, show the current
image's proposal, accept it with one key, and order the list by the model's uncertainty.

The work is `labeler.app.prelabel.run_prelabel`, run on a `JobRunner` with its own project
connection; the window never waits. A proposal is shown as text here and in the status bar,
never as a label on the canvas, the shape list or the counts, until it is accepted (Y:
`accept_current`, one undoable edit).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from labeler.app.prelabel import PrelabelReport, proposal_edit, run_prelabel
from labeler.app.session import Session
from labeler.core.errors import LabelerError
from labeler.core.prelabellers import PRELABELLERS
from labeler.gui.jobs import Job, JobRunner
from labeler.store import proposals as store

MODELS: tuple[tuple[str, str], ...] = (
    ("Colour and texture features (seconds, on the CPU)", "features"),
    ("Small CNN (torch; the GPU when there is one)", "cnn"),
)
UNCERTAINTY_SORT = "uncertainty"  # the image list's sort key: least sure proposal first


def accept_current(session: Session) -> bool:
    """The current image's pending proposal becomes its tag: one edit, one undo step. A
    message, and nothing written, when it has none."""
    if session.project is None or session.current is None:
        return False
    try:
        edit = proposal_edit(session.project, str(session.current.id))
    except LabelerError as e:
        session.view.message(str(e), 5000)
        return False
    if not session.apply(edit):
        return False
    name = session.classes[edit.class_id].name if edit.class_id in session.classes else "?"
    session.view.message(f"Proposal accepted: tagged {name}; Ctrl+Z takes it back", 4000)
    return True


def report_text(report: PrelabelReport) -> str:
    """What a run says, the measured accuracy first; plain about offering nothing."""
    lines = []
    if report.balanced_accuracy is not None:
        lines.append(
            f"Measured on held-out labelled images: {report.balanced_accuracy:.0%} balanced"
            f" accuracy (needs {report.bar:.0%}; chance {report.chance:.0%}),"
            f" {report.labelled} labelled images, classes {', '.join(report.classes)}."
        )
    if report.offered:
        lines.append(f"{report.proposals} unlabeled image(s) have a proposal. Y accepts one.")
    elif report.balanced_accuracy is not None:
        lines.append("Too weak: nothing is proposed. Label more images and train again.")
    else:
        lines.append(f"Nothing is proposed: {report.reason}.")
    if report.left_out:
        few = ", ".join(f"{k} ({v})" for k, v in report.left_out.items())
        lines.append(f"Left out, too few labels: {few}.")
    if report.unreadable:
        lines.append(f"{len(report.unreadable)} image(s) could not be read: {report.unreadable[0]}")
    return "\n".join(lines)


class _Fitted(QScrollArea):
    """The dock's body, scrolled when the dock is short: it asks for the height its wrapped
    text needs at its width (up to 3/5 of the window), so the docks above give way and the
    verdict lines are not cut off (issue 18: only the accuracy line showed)."""

    def _needed(self) -> int:
        body = self.widget()
        width = max(self.viewport().width(), body.minimumSizeHint().width())
        need = body.heightForWidth(width) if body.hasHeightForWidth() else -1
        need = max(need, body.minimumSizeHint().height()) + 2 * self.frameWidth()
        window = self.window()
        return min(need, int(window.height() * 0.6)) if window is not self else need

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(super().minimumSizeHint().width(), self._needed())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(super().sizeHint().width(), self._needed())

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if obj is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # new text: perhaps more lines
        return super().eventFilter(obj, event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()  # the text wraps to another height


class PrelabelPanel(QDockWidget):
    """The Pre-labels dock (Data → Pre-labels…). The window hands in itself; what this reads
    of it: `session`, its status bar, `sort_box` and `_apply_query`."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("Pre-labels", window)
        self.setObjectName("dock_prelabels")
        self.window_ = window
        self.session: Session = window.session  # type: ignore[attr-defined]
        self.jobs = JobRunner(parent=self)
        self.task: Job | None = None
        self._stop = threading.Event()
        self._run_no = 0
        self.last_report: PrelabelReport | None = None
        body = QWidget()
        col = QVBoxLayout(body)
        self.intro = intro = QLabel(
            "Trains a classifier on this project's image tags and proposes a class for each"
            " unlabeled image. A proposal is not a label until you accept it (Y)."
        )
        intro.setWordWrap(True)
        self.model_box = QComboBox()
        for text, key in MODELS:
            self.model_box.addItem(text, key)
        for key, plugin in PRELABELLERS.items():  # a plugin's model, measured like ours
            self.model_box.addItem(f"{plugin.title} (plugin)", key)
        # Narrower than its longest item: the dock's width decides, and the text wraps to it.
        self.model_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_box.setMinimumContentsLength(16)
        self.run_button = QPushButton("Train and propose")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.result = QLabel("Not trained yet.")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.current = QLabel("")
        self.current.setWordWrap(True)
        self.order = QCheckBox("Order the image list by uncertainty")
        self.order.setToolTip("The least sure proposal first; images without one after")
        for w in (intro, self.model_box):
            col.addWidget(w)
        col.addLayout(row)
        for w in (self.progress, self.result, self.current, self.order):
            col.addWidget(w)
        col.addStretch(1)
        self.scroll = _Fitted()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(body)
        self.setWidget(self.scroll)
        # The current image's proposal, in the status bar too (permanent, beside the tool).
        self.status_label = QLabel("")
        window.statusBar().addPermanentWidget(self.status_label)  # type: ignore[attr-defined]
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.order.toggled.connect(self.set_order)

    # -- the job ----------------------------------------------------------------------
    def start(self) -> Job | None:
        """Train and propose on a worker; the measured result replaces the text when done."""
        project = self.session.project
        if project is None or self.task is not None:
            return None
        self.jobs.path = project.path
        model = self.model_box.currentData()
        # Our own flag, not `Job.cancel`: a job cancelled just as its thread takes it never
        # reports back, and the dock would wait forever. This one always runs and reports.
        stop = self._stop = threading.Event()

        def work(job):
            return run_prelabel(
                job.project, model=model, progress=job.progress, should_stop=stop.is_set
            )

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.result.setText("Training on the labelled images…")
        self._run_no += 1
        run_no = self._run_no

        def current(callback):  # a run of a closed project reports to no one
            return lambda *a: callback(*a) if run_no == self._run_no else None

        self.task = self.jobs.start(
            work, current(self._done), current(self._failed), current(self._progressed)
        )
        return self.task

    def cancel(self) -> None:
        """Stop the run; what was written before stays as it was (a run writes at its end)."""
        if self.task is not None:
            self._stop.set()
            self.cancel_button.setEnabled(False)
            self.result.setText("Stopping…")

    def _progressed(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _finished(self) -> None:
        self.task = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)

    def _done(self, report: PrelabelReport) -> None:
        self._finished()
        self.last_report = report
        self.result.setText(report_text(report))
        self.result.setStyleSheet("" if report.offered else "color: #c5221f")
        if self.order.isChecked():
            self.session.reload_list()
        self.image_changed()

    def _failed(self, message: str) -> None:
        stopped = self._stop.is_set()
        self._finished()
        self.result.setText(
            "Stopped; nothing was written." if stopped else f"Pre-labelling failed: {message}"
        )
        self.result.setStyleSheet("color: #c5221f")

    # -- what the window tells it -----------------------------------------------------
    def project_changed(self) -> None:
        """Another project: stop a run on the last one and say what this one measured."""
        self._stop.set()
        self._run_no += 1
        self.jobs.stop()
        self._finished()
        self.last_report = None
        project = self.session.project
        run = store.latest_run(project) if project is not None else None
        if run is None:
            self.result.setText("Not trained yet.")
        else:
            self.result.setText(
                f"Last run ({run.model}): {run.balanced_accuracy:.0%} balanced accuracy on"
                f" held-out labelled images (chance {run.chance:.0%});"
                f" {len(store.pending_proposals(project))} proposal(s) pending."  # type: ignore[arg-type]
            )
        self.result.setStyleSheet("")
        self.image_changed()

    def image_changed(self) -> None:
        """Show the current image's proposal (or that it has none)."""
        s = self.session
        p = store.proposal(s.project, s.current.id) if s.project and s.current else None
        if p is None:
            self.current.setText("This image: no proposal pending.")
            self.status_label.setText("")
            return
        c = s.classes.get(p.class_id)
        name = c.name if c is not None else "?"
        self.current.setText(
            f"This image: proposal <b>{name}</b> ({p.confidence:.0%} sure). Y accepts it;"
            " a class key labels it as usual."
        )
        self.status_label.setText(f"Proposal: {name} {p.confidence:.0%} (Y)")

    def set_order(self, on: bool) -> None:
        """Order the list least sure first (images without a proposal after), or by name."""
        box = self.window_.sort_box  # type: ignore[attr-defined]
        i = box.findData(UNCERTAINTY_SORT if on else "name")
        if i >= 0 and i != box.currentIndex():
            box.setCurrentIndex(i)
            self.window_._apply_query()  # type: ignore[attr-defined]

    def shutdown(self) -> None:
        self._stop.set()
        self.jobs.shutdown()
