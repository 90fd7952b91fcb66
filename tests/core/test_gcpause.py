"""An export holds Python's cyclic collector off (`labeler.core.gcpause`): the collector must
come back on afterwards whatever happened, and the export must leave no cyclic garbage, so
that holding the collector off holds no memory."""

from __future__ import annotations

import dataclasses
import gc
import threading

import pytest

from labeler.core.errors import LabelerError
from labeler.core.formats import export_dataset
from labeler.core.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_resumes_when_the_last_block_ends_even_on_an_error():
    with gc_paused():
        assert not gc.isenabled()
        with pytest.raises(ValueError), gc_paused():
            raise ValueError("inner")
        assert not gc.isenabled()  # the outer block still holds it off
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_blocks_on_several_threads_are_counted():
    inside, leave = threading.Event(), threading.Event()

    def other():
        with gc_paused():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread is still inside
    leave.set()
    t.join(10)
    assert gc.isenabled()


def _garbage_of_an_export(items, classes, out) -> int:
    """The objects only the collector could free that an export left: counted before the
    collector resumes (its first turn after would free them unseen)."""
    with gc_paused():
        gc.collect()
        report = export_dataset("coco", items, classes, out, manifest={"name": "v1"})
        found = gc.collect()
    assert report.verified and gc.isenabled()
    return found


def test_an_export_leaves_the_collector_on_and_garbage_that_does_not_grow(dataset, tmp_path):
    """Only ``json``'s encoder leaves a cycle (its closures, once per document laid out
    with an indent): a few dozen objects per export, whatever its size, and whatever the
    images' provenance holds (numbers, nested records, lists)."""
    items, classes = dataset
    more = [
        dataclasses.replace(
            it,
            image_id=it.image_id + 1000 * k,
            file_name=f"{k}-{it.file_name}",
            provenance={"kind": "imported", "seed": k, "scores": {"p": 0.5}, "tags": [1, "a"]},
        )
        for k in range(4)
        for it in items
    ]
    small = _garbage_of_an_export(items, classes, tmp_path / "small")
    large = _garbage_of_an_export(more, classes, tmp_path / "large")
    assert small == large < 100


def test_a_failed_export_leaves_the_collector_on(dataset, tmp_path):
    items, classes = dataset
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "someone else's.txt").write_text("x")
    with pytest.raises(LabelerError):
        export_dataset("yolo", items, classes, tmp_path / "out", manifest={})
    assert gc.isenabled()
