"""Jobs on the project from the GUI: the one way a panel runs work off the GUI thread.

A job is a plain function `fn(job)` that runs on a pool thread, never on the GUI thread.
`job.project` is a `Project` opened on that thread the first time the function asks for it
(a SQLite connection belongs to the thread that made it; the window's own connection stays
with the window) and closed when the function is done; `job.progress` and `job.should_stop`
are the callbacks the use cases in `labeler.app` take. What the function returns, the
one-line message of what it raised, and what it reports as progress come back to the GUI
thread through signals, to the callbacks given to `JobRunner.start`:

    runner = JobRunner(project.path, parent=panel)
    runner.start(
        lambda job: project_health(job.project, progress=job.progress,
                                   should_stop=job.should_stop),
        on_done=panel.show_report, on_failed=panel.show_error, on_progress=panel.progressed,
    )

Every job has a failure callback: an error always reaches the user as a message, and never
takes the window down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Signal

from labeler.gui.workers import error_message, make_pool
from labeler.store.project import Project


class JobContext:
    """What a job function gets on its worker thread (see the module docstring)."""

    def __init__(
        self,
        path: Path | None,
        report: Callable[[tuple], None],
        should_stop: Callable[[], bool],
        progress_every_s: float = 0.0,
    ) -> None:
        self.path = path
        self.should_stop = should_stop
        self._report = report
        self._every_s = progress_every_s
        self._last_report = float("-inf")
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        """This job's own connection to the project file, opened on first use."""
        if self._project is None:
            if self.path is None:
                raise RuntimeError("this job runner has no project")
            self._project = Project.open(self.path)
        return self._project

    def progress(self, *args: Any) -> None:
        """Report progress in whatever form the use case gives it (`done, total` or a dict);
        the runner's `on_progress` is called with the same arguments on the GUI thread. With
        `progress_every_s`, reports closer together than that are dropped."""
        if self._every_s:
            now = time.monotonic()
            if now - self._last_report < self._every_s:
                return
            self._last_report = now
        self._report(args)

    def close(self) -> None:
        if self._project is not None:
            project, self._project = self._project, None
            project.close()


class JobSignals(QObject):
    finished = Signal(object)  # the function's result
    failed = Signal(str)  # one line: what went wrong
    progressed = Signal(object)  # the tuple of arguments given to job.progress


class Job(QRunnable):
    """One job in flight: the handle `JobRunner.start` returns (to cancel it)."""

    def __init__(
        self,
        fn: Callable[[JobContext], Any],
        path: Path | None,
        progress_every_s: float,
        dequeue: Callable[[Job], bool],
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it; Qt must not free it under our feet
        self.fn = fn
        self.path = path
        self.progress_every_s = progress_every_s
        self.signals = JobSignals()
        self._stop = threading.Event()
        self._dequeue = dequeue

    def cancel(self) -> bool:
        """Ask the job to stop (its function sees `should_stop()`; what it returns still
        comes back). True when it was taken off the queue: then it never runs and never
        reports; False means it reports, as every job does."""
        self._stop.set()
        return self._dequeue(self)

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        # Stopped before it began yet still run: `cancel()` could not take it off the queue
        # (this thread had it), told its caller it will report, and the function sees
        # `should_stop()` at once. Returning here left that caller waiting for ever.
        job = JobContext(
            self.path, self.signals.progressed.emit, self._stop.is_set, self.progress_every_s
        )
        try:
            try:
                result = self.fn(job)
            finally:
                job.close()  # before the result is shown: the GUI may start the next job
        except Exception as e:  # the user sees it; a worker must never take the app down
            self.signals.failed.emit(error_message(e))
            return
        self.signals.finished.emit(result)


class JobRunner(QObject):
    """A panel's jobs: its pool (one thread keeps jobs in the order they were started), the
    jobs in flight, and stopping them when the panel closes.

    `path` is the project file each job's `job.project` opens (None for a runner whose jobs
    need no project, such as previews)."""

    def __init__(
        self, path: Path | None = None, *, threads: int = 1, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.path = path
        self.pool = make_pool(threads)
        self._jobs: set[Job] = set()
        self._closed = False

    def start(
        self,
        fn: Callable[[JobContext], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
        on_progress: Callable[..., None] | None = None,
        *,
        progress_every_s: float = 0.0,
        priority: int = 0,
    ) -> Job | None:
        """Run `fn(job)` on the pool; None after `shutdown()`. `on_done(result)`,
        `on_failed(message)` and `on_progress(*args)` run on the GUI thread."""
        if self._closed:
            return None
        job = Job(fn, self.path, progress_every_s, self._dequeue)
        self._jobs.add(job)

        # The job leaves the runner before its callback runs, so the callback sees the runner
        # as it is after the job (and may start the next one).
        def finished(result: Any) -> None:
            self._jobs.discard(job)
            on_done(result)

        def failed(message: str) -> None:
            self._jobs.discard(job)
            on_failed(message)

        job.signals.finished.connect(finished)
        job.signals.failed.connect(failed)
        if on_progress is not None:
            job.signals.progressed.connect(lambda args: on_progress(*args))
        self.pool.start(job, priority)
        return job

    def _dequeue(self, job: Job) -> bool:
        if self.pool.tryTake(job):
            self._jobs.discard(job)
            return True
        return False

    def busy(self) -> bool:
        """True while a job started here has not reported back."""
        return bool(self._jobs)

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Wait for the pool's threads (the results still arrive through the event loop)."""
        return self.pool.waitForDone(timeout_ms)

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job and wait for those running; the runner takes new jobs after this
        (a panel that is closed may be shown again). True when all stopped in time."""
        for job in list(self._jobs):
            job.cancel()
        return self.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, wait, and start nothing again (before the project closes)."""
        self._closed = True
        for job in list(self._jobs):
            job.cancel()
        self.pool.clear()
        done = self.wait(timeout_ms)
        self._jobs.clear()
        return done
