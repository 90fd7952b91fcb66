"""The panels' job runner: a job runs off the GUI thread on its own connection, its progress,
result and errors come back on the GUI thread, it can be cancelled, and a runner that was
shut down starts nothing."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from labeler.core.errors import LabelerError
from labeler.gui.jobs import JobContext, JobRunner

TIMEOUT = 10_000


@pytest.fixture
def runner(qapp, project):
    r = JobRunner(project.path)
    yield r
    assert r.shutdown()


def run(qtbot, runner: JobRunner, fn, **kwargs):
    """Start `fn`, wait until it reports: (result or None, message or None, progress reports)."""
    done, failed, reports, busy = [], [], [], []

    def finished(result):
        busy.append(runner.busy())
        done.append(result)

    def fail(message):
        busy.append(runner.busy())
        failed.append(message)

    runner.start(fn, finished, fail, lambda *a: reports.append(a), **kwargs)
    qtbot.waitUntil(lambda: bool(done or failed), timeout=TIMEOUT)
    assert busy == [False]  # the job has left the runner when its callback runs
    return (done or [None])[0], (failed or [None])[0], reports


def test_a_job_runs_on_a_worker_with_its_own_connection(qtbot, runner, project):
    seen = {}

    def work(job: JobContext) -> int:
        seen["thread"] = threading.get_ident()
        seen["conn"] = job.project.conn
        job.project.add_class("from-the-worker")  # committed before the result comes back
        return job.project.image_count()

    result, message, _ = run(qtbot, runner, work)
    assert (result, message) == (0, None)
    assert seen["thread"] != threading.get_ident()
    assert seen["conn"] is not project.conn
    with pytest.raises(sqlite3.ProgrammingError):  # closed when the job was done
        seen["conn"].execute("select 1")
    assert project.class_by_name("from-the-worker") is not None
    assert not runner.busy()


def test_progress_arrives_on_the_gui_thread_in_order(qtbot, runner):
    threads = []

    def work(job: JobContext) -> str:
        job.progress(1, 3)
        job.progress({"step": 2})
        return "done"

    done, failed, reports = [], [], []

    def progressed(*args):
        threads.append(threading.get_ident())
        reports.append(args)

    runner.start(work, done.append, failed.append, progressed)
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT)
    assert reports == [(1, 3), ({"step": 2},)]
    assert set(threads) == {threading.get_ident()}


def test_progress_can_be_thinned(qtbot, runner):
    def work(job: JobContext) -> None:
        for k in range(1000):
            job.progress(k, 1000)

    _, _, reports = run(qtbot, runner, work, progress_every_s=60)
    assert reports == [(0, 1000)]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (LabelerError("no generator yet\nsecond line"), "no generator yet"),
        (OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
        (KeyError(), "KeyError"),
    ],
)
def test_errors_come_back_as_one_line(qtbot, runner, error, message):
    def work(_job: JobContext) -> None:
        raise error

    result, got, _ = run(qtbot, runner, work)
    assert (result, got) == (None, message)
    assert not runner.busy()


def test_a_project_that_cannot_be_opened_is_reported(qtbot, qapp, tmp_path):
    runner = JobRunner(tmp_path / "gone.labeler")
    _, message, _ = run(qtbot, runner, lambda job: job.project.image_count())
    assert message and "gone.labeler" in message
    _, message, _ = run(qtbot, JobRunner(None), lambda job: job.project)
    assert message == "this job runner has no project"
    # a job that never asks for the project opens nothing
    result, message, _ = run(qtbot, JobRunner(tmp_path / "gone.labeler"), lambda job: 42)
    assert (result, message) == (42, None)


def test_cancel_stops_a_running_job_and_drops_a_queued_one(qtbot, runner):
    started = threading.Event()

    def long(job: JobContext) -> str:
        started.set()
        while not job.should_stop():
            threading.Event().wait(0.01)
        return "stopped"

    done, failed = [], []
    first = runner.start(long, done.append, failed.append)
    queued = runner.start(lambda job: "never", done.append, failed.append)
    assert started.wait(5) and runner.busy()
    assert queued.cancel()  # one thread: it had not begun, so it never runs
    assert not first.cancel() and first.cancelled  # running: asked to stop, still reports
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT)
    assert runner.wait()
    qtbot.wait(20)
    assert done == ["stopped"] and not failed and not runner.busy()


def test_stop_keeps_the_runner_and_shutdown_ends_it(qtbot, runner):
    started = threading.Event()

    def long(job: JobContext) -> None:
        started.set()
        while not job.should_stop():
            threading.Event().wait(0.01)

    runner.start(long, lambda _r: None, lambda _m: None)
    assert started.wait(5)
    assert runner.stop() and runner.pool.activeThreadCount() == 0
    result, _, _ = run(qtbot, runner, lambda job: "again")
    assert result == "again"
    assert runner.shutdown()
    assert runner.start(lambda job: 1, print, print) is None


def test_a_job_cancelled_as_its_thread_picks_it_up_still_reports(qtbot, runner, monkeypatch):
    """cancel() says False when the job could not be taken off the queue (its thread had
    picked it up): the caller then waits for its report. The job once returned without one,
    and the pre-labels dock waited for ever with its runner busy."""
    release = threading.Event()
    runner.start(lambda job: release.wait(TIMEOUT / 1000), lambda r: None, lambda m: None)
    reported = []
    job = runner.start(
        lambda job: "stopped early" if job.should_stop() else "ran",
        reported.append,
        reported.append,
    )
    monkeypatch.setattr(runner.pool, "tryTake", lambda j: False)  # the thread has it already
    assert job.cancel() is False
    release.set()
    qtbot.waitUntil(lambda: bool(reported), timeout=TIMEOUT)
    assert reported == ["stopped early"]
    qtbot.waitUntil(lambda: not runner.busy(), timeout=TIMEOUT)
