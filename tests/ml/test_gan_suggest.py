"""The suggestion gates on planted cases, and the whole suggest() on a tiny generator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from labeler.core.errors import LabelerError
from labeler.core.files import sha256_file
from labeler.ml.suggest import (
    consistent,
    deficits,
    drop_near_duplicates,
    farthest_points,
    memorisation_thresholds,
    memorised,
    normalise,
    pixel_vectors,
    suggest,
)
from labeler.ml.train import train_gan


def test_deficits_to_median_max_and_a_count():
    assert deficits([100, 10, 40], "median") == {1: 30}
    assert deficits([100, 10, 40], "max") == {1: 90, 2: 60}
    assert deficits([100, 10, 40], 50) == {1: 40, 2: 10}
    with pytest.raises(LabelerError):
        deficits([1, 2], "mean")


def test_a_sample_the_classifier_calls_another_class_is_rejected():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    assert consistent(probs, 0, 0.5).tolist() == [True, False, True]
    assert consistent(probs, 1, 0.6).tolist() == [False, True, False]


def _class_images(mini, class_id):
    images, labels = mini
    return images[labels == class_id]


def test_an_exact_copy_of_a_training_image_is_rejected_as_memorised(mini):
    real = _class_images(mini, 0)[:60]
    real_pix = pixel_vectors(real)
    # Stand-in features: the pixels themselves, normalised, so the test needs no trained net.
    real_f = normalise(real_pix - real_pix.mean(0))
    f_thr, p_thr = memorisation_thresholds(real_f, real_pix, 5.0)
    other = _class_images(mini, 0)[60:64]  # real images of the class the "generator" never saw
    samples = np.concatenate([real[17:18], other])
    s_pix = pixel_vectors(samples)
    s_f = normalise(s_pix - real_pix.mean(0))
    mask, nn = memorised(s_f, s_pix, real_f, real_pix, f_thr, p_thr)
    assert mask[0] and nn["nn_index"][0] == 17 and nn["nn_distance"][0] < 1e-5
    assert not mask[1:].any(), "fresh images of the class must not count as copies"
    # A barely changed copy (one grey level of noise) is still a copy.
    rng = np.random.default_rng(0)
    nudged = np.clip(real[17:18].astype(int) + rng.integers(-1, 2, real[17:18].shape), 0, 255)
    n_pix = pixel_vectors(nudged.astype(np.uint8))
    assert memorised(normalise(n_pix - real_pix.mean(0)), n_pix, real_f, real_pix, f_thr, p_thr)[0][
        0
    ]


def test_thresholds_have_floors_when_the_class_has_duplicates():
    img = np.full((3, 32, 32, 3), 100, np.uint8)
    pix = pixel_vectors(img)
    f_thr, p_thr = memorisation_thresholds(normalise(pix + 1), pix)
    assert f_thr > 0 and p_thr > 0


def test_near_duplicates_in_the_pool_are_dropped_best_first():
    feats = normalise(np.array([[1, 0, 0], [1, 1e-4, 0], [0, 1, 0], [0, 0, 1]], np.float32))
    pix = np.array([[0.0] * 4, [0.001] * 4, [0.5] * 4, [1.0] * 4], np.float32)
    kept = drop_near_duplicates(feats, pix, np.array([1, 0, 2, 3]), 0.01, 0.01)
    assert kept.tolist() == [1, 2, 3]


def test_farthest_point_sampling_picks_one_item_per_cluster():
    rng = np.random.default_rng(0)
    centres = np.eye(4, 8, dtype=np.float32)
    sizes = [50, 3, 3, 3]  # one crowded cluster and three small ones
    feats = np.concatenate(
        [c + 0.01 * rng.standard_normal((n, 8)) for c, n in zip(centres, sizes, strict=True)]
    )
    cluster = np.repeat(np.arange(4), sizes)
    picked = farthest_points(normalise(feats), 4)
    assert sorted(cluster[picked].tolist()) == [0, 1, 2, 3]
    assert len(farthest_points(normalise(feats), 100)) == len(feats)


class StubClassifier:
    """Says every image is class 0; features are the images' pixels."""

    def probs_and_features(self, images):
        probs = np.zeros((len(images), 3), np.float32)
        probs[:, 0] = 1.0
        return probs, pixel_vectors(images, 8)


def test_suggest_fills_thin_classes_through_the_gates(mini, tmp_path):
    images, labels = mini
    run = train_gan(images, labels, 3, tmp_path, steps=1, width="tiny", batch_size=8, device="cpu")
    result = suggest(
        run.checkpoint,
        StubClassifier(),
        (images, labels),
        counts=[3, 120, 8],
        target="median",
        pool_factor=4,
        seed=1,
        device="cpu",
    )
    assert set(result.per_class) == {0}  # median 8: only class 0 (3 images) is short
    report = result.per_class[0]
    assert report["deficit"] == 5 and report["pool"] == 20
    gates = ("accepted", "rejected_classifier", "rejected_memorised", "rejected_duplicate")
    assert sum(report[k] for k in gates) + report["not_selected"] == 20
    assert 1 <= report["accepted"] <= 5
    s = result.suggestions[0]
    assert s.class_id == 0 and s.image.shape == (32, 32, 3) and s.image.dtype == np.uint8
    assert s.generator_sha256 == sha256_file(run.checkpoint) == result.generator_sha256
    assert labels[s.scores["nn_index"]] == 0 and s.scores["p_class"] == 1.0
    json.dumps(result.to_json())

    # Class 2 asked for by count: the stub classifier rejects every sample of it.
    other = suggest(
        run.checkpoint,
        StubClassifier(),
        (images, labels),
        counts=[120, 120, 6],
        target=10,
        pool_factor=2,
        device="cpu",
    )
    assert other.per_class[2]["rejected_classifier"] == 8 and other.suggestions == []
    assert other.per_class[2]["shortfall"] == 4
