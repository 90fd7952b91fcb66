"""Pre-labels from the project's own model: measured before offered, written apart from the
labels, never counted in stats, splits or exports until accepted, accepted as one edit."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from testdata import TEST_DATA

from labeler.app.exports import export_project
from labeler.app.imports import import_folders
from labeler.app.prelabel import accept_proposal, by_uncertainty, pending, run_prelabel
from labeler.app.splits import split_project
from labeler.core.errors import LabelerError
from labeler.store import proposals as store
from labeler.store.project import Project

COLOURS = {"red": (30, 30, 200), "green": (40, 180, 40), "blue": (200, 60, 30)}
LABELLED, UNLABELED = 12, 5


def _photo(rng: np.random.Generator, bgr) -> np.ndarray:
    img = np.clip(rng.normal(0, 18, (48, 48, 3)) + np.array(bgr), 0, 255).astype(np.uint8)
    x, y = rng.integers(4, 30, 2)
    cv2.circle(img, (int(x), int(y)), int(rng.integers(4, 12)), (128, 128, 128), -1)
    return img


@pytest.fixture
def colours(tmp_path) -> tuple[Project, dict[int, str]]:
    """A project of red, green and blue photos: 12 of each labelled by folder, 5 of each
    imported unlabeled; returns it and the true colour of every unlabeled image."""
    rng = np.random.default_rng(7)
    root, loose = tmp_path / "labelled", tmp_path / "loose"
    truth_by_name = {}
    for name, bgr in COLOURS.items():
        (root / name).mkdir(parents=True)
        loose.mkdir(exist_ok=True)
        for k in range(LABELLED):
            cv2.imwrite(str(root / name / f"{k}.png"), _photo(rng, bgr))
        for k in range(UNLABELED):
            cv2.imwrite(str(loose / f"{name}{k}.png"), _photo(rng, bgr))
            truth_by_name[f"{name}{k}.png"] = name
    p = Project.create(tmp_path / "colours.labeler")
    import_folders(p, [root], labels_from_folders=True)
    import_folders(p, [loose])
    truth = {
        img.id: truth_by_name[Path(img.path).name] for img in p.images() if "loose" in img.path
    }
    yield p, truth
    p.close()


def _names(p: Project) -> dict[int, str]:
    return {c.id: c.name for c in p.classes()}


def test_a_good_model_proposes_the_right_class_for_every_unlabeled_image(colours):
    p, truth = colours
    report = run_prelabel(p)
    assert report.offered, report.reason
    assert report.balanced_accuracy >= report.bar and report.labelled == 3 * LABELLED
    assert "balanced accuracy on held-out labelled images" in report.reason
    props = pending(p)
    assert sorted(q.image_id for q in props) == sorted(truth)
    names = _names(p)
    right = sum(names[q.class_id] == truth[q.image_id] for q in props)
    assert right >= 0.9 * len(truth)
    assert all(0 < q.confidence <= 1 and 0 <= q.uncertainty <= 1 for q in props)
    assert store.latest_run(p).balanced_accuracy == pytest.approx(report.balanced_accuracy)


def _export(p: Project, fmt: str, out: Path) -> dict[str, bytes]:
    """Every annotation file an export wrote (not the images, not the manifest's times)."""
    export_project(p, fmt, out)
    return {
        str(f.relative_to(out)): f.read_bytes()
        for f in sorted(out.rglob("*"))
        if f.is_file() and f.suffix in (".csv", ".txt", ".json") and "manifest" not in f.name
    } | {"tree": "\n".join(sorted(str(f.relative_to(out)) for f in out.rglob("*"))).encode()}


def test_proposals_never_count_in_stats_splits_or_exports(colours, tmp_path):
    p, truth = colours
    stats = p.stats()
    plan = split_project(p, seed=1, write=False).assignments
    csv = _export(p, "csv", tmp_path / "csv-before")
    folders = _export(p, "imagefolder", tmp_path / "if-before")
    p.set_splits({i: None for i in plan})  # the export gave every image a split: undo that

    assert run_prelabel(p).offered and len(pending(p)) == len(truth)
    assert p.stats() == stats, "a proposal is not a label"
    assert stats["unlabeled"] == len(truth)
    assert split_project(p, seed=1, write=False).assignments == plan
    assert _export(p, "csv", tmp_path / "csv-after") == csv
    assert _export(p, "imagefolder", tmp_path / "if-after") == folders
    assert any(b"red" in v for v in csv.values()), "the labelled images are exported"


def test_accepting_a_proposal_labels_the_image_in_one_undoable_step(colours):
    p, truth = colours
    run_prelabel(p)
    first = pending(p)[0]
    unlabeled = p.stats()["unlabeled"]
    edit = accept_proposal(p, str(first.image_id))
    assert [s.class_id for s in p.shapes(first.image_id)] == [first.class_id]
    assert p.stats()["unlabeled"] == unlabeled - 1
    assert first.image_id not in {q.image_id for q in pending(p)}
    edit.undo(p)
    assert p.shapes(first.image_id) == [] and p.stats()["unlabeled"] == unlabeled
    assert store.proposal(p, first.image_id) == first, "undo makes the proposal pending again"
    edit.do(p)
    assert [s.class_id for s in p.shapes(first.image_id)] == [first.class_id]
    assert store.proposal(p, first.image_id) is None
    edit.undo(p)
    with pytest.raises(LabelerError, match="no pending proposal"):
        accept_proposal(p, str(next(iter(i.id for i in p.images() if i.id not in truth))))


def test_labelling_an_image_by_hand_makes_its_proposal_moot(colours):
    p, _ = colours
    run_prelabel(p)
    q = pending(p)[0]
    other = next(c for c in p.classes() if c.id != q.class_id)
    p.set_tag(q.image_id, other.id)
    assert q.image_id not in {x.image_id for x in pending(p)}
    assert store.proposal(p, q.image_id) is None
    assert [s.class_id for s in p.shapes(q.image_id)] == [other.id]


def test_uncertainty_order_puts_the_least_sure_first(colours):
    p, truth = colours
    run_prelabel(p)
    ordered = by_uncertainty(p)
    assert sorted(q.image_id for q in ordered) == sorted(truth)
    u = [q.uncertainty for q in ordered]
    assert u == sorted(u, reverse=True) and u[0] > u[-1]


def test_a_weak_model_says_its_accuracy_and_writes_nothing(tmp_path):
    """Noise photos with arbitrary labels: the model cannot beat chance by enough."""
    rng = np.random.default_rng(3)
    root, loose = tmp_path / "noise", tmp_path / "loose"
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
        for k in range(12):
            cv2.imwrite(str(root / name / f"{k}.png"), rng.integers(0, 255, (32, 32, 3), np.uint8))
    loose.mkdir()
    for k in range(4):
        cv2.imwrite(str(loose / f"{k}.png"), rng.integers(0, 255, (32, 32, 3), np.uint8))
    with Project.create(tmp_path / "noise.labeler") as p:
        import_folders(p, [root], labels_from_folders=True)
        import_folders(p, [loose])
        # Proposals of an earlier, better model must not outlive a weak measurement.
        run = store.record_run(p, "old", 36, 0.9, 1 / 3, {})
        store.write_proposals(p, run, [(p.images()[-1].id, p.classes()[0].id, 0.9, 0.1)])
        report = run_prelabel(p)
        assert not report.offered
        assert "too weak" in report.reason and f"{report.balanced_accuracy:.0%}" in report.reason
        assert report.balanced_accuracy < report.bar
        assert pending(p) == [] and report.proposals == 0


def test_too_few_labels_is_said_and_nothing_is_trained(colours):
    p, _ = colours
    report = run_prelabel(p, min_per_class=13)
    assert not report.offered and "needs two or more classes" in report.reason
    assert report.left_out == {name: LABELLED for name in COLOURS} and pending(p) == []
    with pytest.raises(LabelerError, match="at least 5"):
        run_prelabel(p, min_per_class=2)


def test_an_unreadable_image_is_reported_not_fatal(colours):
    p, truth = colours
    victim = p.image(next(iter(truth)))
    p.resolve(victim).write_bytes(b"not an image")
    report = run_prelabel(p)
    assert report.offered and len(report.unreadable) == 1
    assert victim.path in report.unreadable[0]
    assert victim.id not in {q.image_id for q in pending(p)}


def test_a_project_made_before_proposals_is_upgraded(tmp_path):
    src = TEST_DATA / "project_v1.labeler"
    dst = tmp_path / "old.labeler"
    shutil.copy(src, dst)
    with Project.open(dst) as p:
        assert pending(p) == [] and store.latest_run(p) is None
    tables = {
        r[0]
        for r in sqlite3.connect(dst).execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    assert {"proposals", "prelabel_runs"} <= tables


@pytest.mark.parametrize("n_classes", [2, 3, 5, 10, 100])
def test_the_bar_is_the_health_classifier_s(n_classes):
    from labeler.core.health.classifier import is_weak
    from labeler.ml.prelabel import weak_bar

    chance = 1 / n_classes
    bar = weak_bar(chance)
    assert not is_weak(bar, chance) and is_weak(bar - 1e-6, chance)


def test_an_image_removed_while_the_model_trained_gets_no_proposal(colours):
    p, truth = colours
    gone, kept = sorted(truth)[:2]
    calls = []

    def progress(done, total):
        if done == total and not calls:  # features are done: another window removes an image
            calls.append(done)
            p.remove_images([gone])

    report = run_prelabel(p, progress=progress)
    assert report.offered and report.proposals == len(truth) - 1
    assert {q.image_id for q in pending(p)} == set(truth) - {gone}


def test_the_cnn_pre_labeller_trains_on_the_cpu_at_a_tiny_size(colours):
    """The GAN's small classifier (tiny arch, CPU): measured and recorded the same way."""
    from labeler.app.prelabel import CnnOptions

    p, truth = colours
    seen = []
    report = run_prelabel(
        p,
        model="cnn",
        cnn=CnnOptions(arch="tiny", device="cpu", epochs=20, resolution=16),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.balanced_accuracy is not None and 0 <= report.balanced_accuracy <= 1
    assert store.latest_run(p).model == "cnn:tiny"
    assert (6, 6) in seen, "one training per fold and one on everything"
    assert report.offered, report.reason  # three plain colours: even a tiny CNN separates them
    assert sorted(q.image_id for q in pending(p)) == sorted(truth)
    names = _names(p)
    right = sum(names[q.class_id] == truth[q.image_id] for q in pending(p))
    assert right >= 0.8 * len(truth)
    with pytest.raises(LabelerError, match="unknown pre-label model"):
        run_prelabel(p, model="sam")


def test_stopping_the_cnn_writes_nothing(colours):
    from labeler.app.prelabel import Cancelled, CnnOptions

    p, _ = colours
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 60  # after the images are read, during the first training

    with pytest.raises(Cancelled, match="nothing was written"):
        run_prelabel(
            p, model="cnn", cnn=CnnOptions(arch="tiny", device="cpu", epochs=5), should_stop=stop
        )
    assert pending(p) == [] and store.latest_run(p) is None
