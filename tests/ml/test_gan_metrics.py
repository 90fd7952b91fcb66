"""KID/FID, per-class reports, the small classifier and the evaluation's rows (the baselines
and the verdict in detail: test_gan_evaluate.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from labeler.core.errors import LabelerError
from labeler.ml.classifier import load_classifier, save_classifier, train_classifier
from labeler.ml.evaluate import GENERATED, ROWS, evaluate
from labeler.ml.metrics import classification_report, fid, kid


def test_kid_and_fid_are_zero_for_a_set_against_itself_and_grow_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 16))
    kid_self, _ = kid(a, a, subsets=5, subset_size=200)
    kid_shift, _ = kid(a, a + 0.5, subsets=5, subset_size=200)
    # Unbiased MMD of a set against itself dips a little below zero (shared points sit on the
    # cross-term's diagonal); it is still tiny next to a real shift.
    assert abs(kid_self) < 0.06 * kid_shift and kid_shift > 0.5
    b = rng.standard_normal((300, 16))  # another draw of the same distribution
    assert abs(kid(a, b)[0]) < 0.01
    assert fid(a, a) == pytest.approx(0, abs=1e-6) and fid(a, a + 0.5) > 3.9


def test_classification_report_counts_the_thinnest_half():
    report = classification_report(
        [0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 2, 1], 3, train_counts=np.array([100, 5, 10])
    )
    assert [c["recall"] for c in report["per_class"]] == [1.0, 0.5, 0.5]
    assert report["thin_classes"] == [1] and report["thin_recall"] == 0.5
    assert report["accuracy"] == pytest.approx(4 / 6)


def test_classifier_trains_saves_loads_and_refuses_garbage(mini, tmp_path):
    images, labels = mini
    seen = []
    clf = train_classifier(
        images,
        labels,
        3,
        steps=3,
        balanced=True,
        device="cpu",
        batch_size=16,
        arch="tiny",
        progress=seen.append,
    )
    probs, feats = clf.probs_and_features(images[:5])
    assert probs.shape == (5, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert feats.shape[0] == 5 and seen[-1]["step"] == 3
    path = tmp_path / "classifier.pt"
    save_classifier(clf, path)
    again = load_classifier(path, device="cpu")
    assert np.allclose(again.probs_and_features(images[:5])[0], probs, atol=1e-5)
    assert again.budget == clf.budget and clf.budget["steps"] == 3  # how it was trained travels
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(LabelerError):
        load_classifier(path, device="cpu")


def test_resnet18_classifier_is_adapted_to_small_images():
    from labeler.ml.classifier import ClassifierConfig, ClassifierNet

    net = ClassifierNet(ClassifierConfig(3, 32, "resnet18"))
    assert net.backbone.conv1.kernel_size == (3, 3) and net.backbone.conv1.stride == (1, 1)
    assert net.head.in_features == 512


def test_evaluate_reports_every_row_and_generation_metrics(mini):
    images, labels = mini
    rng = np.random.default_rng(0)
    held = rng.permutation(len(images))[:30]
    fake = images[labels == 2][:4]
    out = evaluate(
        (images, labels),
        (images[held], labels[held]),
        3,
        generated=(fake, np.full(4, 2)),
        steps=2,
        batch_size=16,
        device="cpu",
        arch="tiny",
    )
    assert list(out["rows"]) == list(ROWS)
    assert out["rows"]["real_plus_generated"]["generated_images"] == 4
    assert out["budget"]["steps"] == 2 and "thin_f1" in out["rows"]["real"]["seeds"][0]
    assert out["generation"]["per_class"][2]["kid"] is not None
    assert out["verdict"]["text"].startswith("Not measurable with one seed")
    json.dumps(out)
    # One row alone (the others known from a run with the same budget): only it is trained.
    kw = dict(generated=(fake, np.full(4, 2)), steps=2, batch_size=16, device="cpu", arch="tiny")
    one = evaluate((images, labels), (images[held], labels[held]), 3, rows=("real",), **kw)
    assert list(one["rows"]) == ["real"] and one["rows"]["real"] == out["rows"]["real"]
    with pytest.raises(LabelerError, match="rows must be"):
        evaluate((images, labels), (images[held], labels[held]), 3, rows=("fake",), **kw)
    # The generated row alone needs the recipe it would have taken from the best baseline.
    with pytest.raises(LabelerError, match="generated_recipe"):
        evaluate((images, labels), (images[held], labels[held]), 3, rows=(GENERATED,), **kw)
    alone = evaluate(
        (images, labels), (images[held], labels[held]), 3, rows=(GENERATED,),
        generated_recipe=out["best_baseline"], **kw,
    )  # fmt: skip
    assert alone["rows"][GENERATED]["seeds"] == out["rows"][GENERATED]["seeds"]
    assert alone["verdict"] is None


def test_evaluate_reuses_a_classifier_only_when_it_was_trained_with_the_rows_budget(mini):
    images, labels = mini
    held = np.random.default_rng(1).permutation(len(images))[:40]
    kw = dict(steps=6, batch_size=16, device="cpu", arch="tiny")
    rows = ("real_balanced",)
    fresh = evaluate((images, labels), (images[held], labels[held]), 3, seeds=(3,), rows=rows, **kw)
    same = train_classifier(images, labels, 3, balanced=True, seed=3, **kw)
    reused = evaluate(
        (images, labels), (images[held], labels[held]), 3, seeds=(3,), rows=rows, reuse=same, **kw
    )
    # The stand-in gives the very report a fresh training would: nothing about the row changes.
    assert reused["reused"] == "real_balanced" and "reused" not in fresh
    assert reused["rows"]["real_balanced"] == fresh["rows"]["real_balanced"]
    # Any difference in budget (seed, sampling, loss) or an early stop: trained afresh.
    other_seed = train_classifier(images, labels, 3, balanced=True, seed=4, **kw)
    unbalanced = train_classifier(images, labels, 3, balanced=False, seed=3, **kw)
    drw = train_classifier(images, labels, 3, balanced=True, seed=3, loss="drw", **kw)
    stopped = train_classifier(
        images, labels, 3, balanced=True, seed=3, should_stop=lambda: True, **kw
    )
    for clf in (other_seed, unbalanced, drw, stopped):
        out = evaluate(
            (images, labels), (images[held], labels[held]), 3, seeds=(3,), rows=rows, reuse=clf,
            **kw,
        )  # fmt: skip
        assert "reused" not in out


def test_ml_imports_nothing_heavy_at_package_level_and_never_qt_or_opencv():
    code = (
        "import sys, labeler.ml; assert 'torch' not in sys.modules;"
        "import labeler.ml.suggest, labeler.ml.train, labeler.ml.evaluate, labeler.ml.classifier;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'cv2', 'sqlite_utils')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
