"""Honest baselines for `gan evaluate` (issue 15): the losses, the generated images' weight,
several seeds as mean ± spread, the verdict against the best baseline, the device's batch, and
the measured estimate of a training's time."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labeler.core.errors import LabelerError
from labeler.ml.classifier import (
    ARCHS,
    classifier_loss,
    default_batch_size,
    default_lr,
    drw_start,
    effective_number_weights,
    estimate_training_seconds,
    train_classifier,
)
from labeler.ml.evaluate import (
    BASELINES,
    DEFAULT_GEN_WEIGHT,
    FLOOR,
    GENERATED,
    ROWS,
    best_baseline,
    evaluate,
    verdict,
)

TINY = dict(device="cpu", arch="tiny", batch_size=16)


def blobs(counts: tuple[int, ...], seed: int, noise: float = 110.0):
    """8x8 images of three overlapping colour blobs, ``counts`` of each class."""
    rng = np.random.default_rng(seed)
    means = np.array([[90, 90, 90], [165, 165, 165], [128, 90, 165]])
    xs, ys = [], []
    for c, n in enumerate(counts):
        x = means[c][None, None, None, :] + rng.normal(0, noise, (n, 8, 8, 3))
        xs.append(np.clip(x, 0, 255).astype(np.uint8))
        ys.append(np.full(n, c))
    return np.concatenate(xs), np.concatenate(ys)


def state(clf) -> list[torch.Tensor]:
    return [t.detach().clone() for t in clf.net.state_dict().values()]


def same_state(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(state(a), state(b), strict=True))


# -- the losses --------------------------------------------------------------------------------
def test_logit_adjustment_adds_the_log_prior_to_the_logits():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    y = torch.tensor([1, 2])
    prior = torch.tensor([0.9, 0.08, 0.02])
    adjusted = classifier_loss(logits, y, log_prior=prior.log())
    assert float(adjusted) == pytest.approx(float(F.cross_entropy(logits + prior.log(), y)))
    # The head class's prior raises the loss on tail samples: the net must push tail logits up.
    assert float(adjusted) > float(classifier_loss(logits, y))


def test_logit_adjusted_loss_raises_tail_recall_over_plain_cross_entropy():
    x, y = blobs((300, 15, 10), seed=0)
    xt, yt = blobs((200, 200, 200), seed=1)

    def tail_recall(loss: str) -> float:
        p = train_classifier(x, y, 3, steps=60, batch_size=32, device="cpu", arch="tiny",
                             loss=loss).predict(xt)  # fmt: skip
        return float(np.mean([(p[yt == c] == c).mean() for c in (1, 2)]))

    plain, adjusted = tail_recall("ce"), tail_recall("logit_adjusted")
    assert adjusted > plain + 0.3, (plain, adjusted)


def test_drw_trains_as_plain_cross_entropy_until_its_step_then_reweights(mini):
    images, labels = mini
    steps = 8
    switch = drw_start(steps)
    assert switch == 6  # the last quarter of the steps

    def stopped_after(k: int, loss: str):
        calls = iter(range(10**6))
        return train_classifier(
            images, labels, 3, steps=steps, loss=loss, seed=5,
            should_stop=lambda: next(calls) >= k, **TINY,
        )  # fmt: skip

    assert same_state(stopped_after(switch, "drw"), stopped_after(switch, "ce"))
    assert not same_state(stopped_after(switch + 1, "drw"), stopped_after(switch + 1, "ce"))
    w = effective_number_weights(np.bincount(labels))
    assert w[0] < w[2] and w.sum() == pytest.approx(3)  # the thin class weighs most


def test_unknown_loss_and_bad_image_weights_are_refused(mini):
    images, labels = mini
    with pytest.raises(LabelerError, match="loss must be one of"):
        train_classifier(images, labels, 3, steps=1, loss="focal", **TINY)
    for bad in (np.full(len(labels), -1.0), np.full(len(labels), np.nan), np.ones(3)):
        with pytest.raises(LabelerError, match="weight"):
            train_classifier(images, labels, 3, steps=1, image_weights=bad, **TINY)


# -- the generated images' weight ----------------------------------------------------------
def test_generated_weight_reaches_the_loss_and_zero_means_not_there(mini):
    images, labels = mini
    fake = images[labels == 2][:6]
    x = np.concatenate([images, fake])
    y = np.concatenate([labels, np.full(6, 2)])
    kw = dict(steps=4, seed=2, balanced=True, **TINY)  # the thin class, fakes too, drawn often

    def weights(w: float) -> np.ndarray:
        return np.concatenate([np.ones(len(images)), np.full(6, w)])

    without = train_classifier(images, labels, 3, **kw)
    zero = train_classifier(x, y, 3, image_weights=weights(0.0), **kw)
    assert same_state(zero, without)  # bit for bit: weight 0 is the same as leaving them out
    half = train_classifier(x, y, 3, image_weights=weights(0.5), **kw)
    full = train_classifier(x, y, 3, image_weights=weights(1.0), **kw)
    plain = train_classifier(x, y, 3, **kw)
    assert same_state(full, plain) and not same_state(half, full)
    assert half.budget != full.budget  # a classifier is reused only for the same weights


def test_evaluate_with_gen_weight_zero_reproduces_the_best_baseline(mini):
    images, labels = mini
    held = np.random.default_rng(0).permutation(len(images))[:30]
    fake = images[labels == 2][:4]
    out = evaluate(
        (images, labels), (images[held], labels[held]), 3, generated=(fake, np.full(4, 2)),
        steps=3, seeds=2, gen_weight=0.0, **TINY,
    )  # fmt: skip
    best = out["best_baseline"]
    assert out["rows"][GENERATED]["recipe_of"] == best
    assert out["rows"][GENERATED]["seeds"] == out["rows"][best]["seeds"]
    for bad in (-1, float("nan"), 1.5):
        with pytest.raises(LabelerError, match="weight must be"):
            evaluate((images, labels), (images[held], labels[held]), 3, steps=1, gen_weight=bad,
                     **TINY)  # fmt: skip


# -- several seeds ------------------------------------------------------------------------------
def test_rows_are_mean_and_std_over_the_seeds_with_progress_for_each(mini):
    images, labels = mini
    held = np.random.default_rng(0).permutation(len(images))[:30]
    fake = images[labels == 2][:4]
    seen: list[dict] = []
    out = evaluate(
        (images, labels), (images[held], labels[held]), 3, generated=(fake, np.full(4, 2)),
        steps=2, seeds=(4, 7), progress=seen.append, **TINY,
    )  # fmt: skip
    assert (*BASELINES, GENERATED) == ROWS and list(out["summary"]) == list(ROWS)
    assert out["baseline_rows"] == list(BASELINES) and out["seeds"] == [4, 7]
    for name in ROWS:
        per_seed = out["rows"][name]["seeds"]
        assert [r["seed"] for r in per_seed] == [4, 7]
        for m in ("accuracy", "macro_f1", "thin_recall", "thin_f1"):
            values = [r[m] for r in per_seed]
            s = out["summary"][name][m]
            assert s["mean"] == pytest.approx(np.mean(values))
            assert s["spread"] == pytest.approx(np.std(values, ddof=1))
    assert out["verdict"]["outcome"] in ("better", "no measurable difference", "worse")
    assert out["verdict"]["best_baseline"] == out["best_baseline"] in BASELINES
    assert out["rows"][GENERATED]["gen_weight"] == DEFAULT_GEN_WEIGHT == 0.5
    assert out["generation"]["per_class"][2]["kid"] is not None
    trained = {(d["row"], d["seed"]) for d in seen if d["step"] > 0}
    assert trained == {(r, s) for r in ROWS for s in (4, 7)}
    assert all({"row", "seed", "step", "steps"} <= set(d) for d in seen)
    first = seen[0]
    assert first["step"] == 0 and first["estimated_s"] > 0 and first["trainings"] == 10
    json.dumps(out)


def test_one_seed_gives_no_verdict_either_way_and_bad_seeds_are_refused(mini):
    images, labels = mini
    held = np.random.default_rng(0).permutation(len(images))[:30]
    fake = images[labels == 2][:4]
    out = evaluate(
        (images, labels), (images[held], labels[held]), 3, generated=(fake, np.full(4, 2)),
        steps=2, **TINY,
    )  # fmt: skip
    assert out["seeds"] == [0] and out["verdict"]["outcome"] == "not measurable"
    assert "one seed" in out["verdict"]["text"]
    assert all(s["spread"] == 0 for s in out["summary"]["real"].values())
    for bad in (0, [], (1, 1), (-1,), 21, True):
        with pytest.raises(LabelerError, match="seed"):
            evaluate((images, labels), (images[held], labels[held]), 3, steps=1, seeds=bad,
                     **TINY)  # fmt: skip
    # Without generated images there is no verdict, only the baselines.
    plain = evaluate((images, labels), (images[held], labels[held]), 3, steps=1, **TINY)
    assert plain["verdict"] is None and GENERATED not in plain["summary"]


# -- the verdict's rule (ADR 0103), on made-up rows ---------------------------------------------
def row(thin: list[float], acc: list[float]) -> dict:
    def m(values: list[float]) -> dict:
        spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        return {"mean": float(np.mean(values)), "spread": spread, "values": values}

    return {"thin_recall": m(thin), "accuracy": m(acc)}


def test_verdict_says_better_only_beyond_the_seed_spread_and_without_losing_accuracy():
    base = {
        "real": row([0.50, 0.49, 0.49], [0.66, 0.66, 0.66]),
        "real_balanced": row([0.45, 0.46, 0.47], [0.64, 0.63, 0.64]),
        "real_logit_adjusted": row([0.55, 0.57, 0.56], [0.65, 0.66, 0.64]),
        "real_drw": row([0.53, 0.52, 0.54], [0.66, 0.66, 0.65]),
    }
    assert best_baseline(base) == "real_logit_adjusted"

    def judge(thin, acc):
        return verdict({**base, GENERATED: row(thin, acc)})

    better = judge([0.60, 0.61, 0.59], [0.65, 0.65, 0.65])
    assert better["outcome"] == "better" and better["best_baseline"] == "real_logit_adjusted"
    assert better["thin_recall_delta"] == pytest.approx(0.04) and "Better" in better["text"]
    # +0.005 against the baseline's spread of 0.01: inside the noise.
    same = judge([0.565, 0.575, 0.555], [0.65, 0.65, 0.65])
    assert same["outcome"] == "no measurable difference"
    # Beating plain and balanced training is not enough: logit adjustment alone did better.
    assert judge([0.51, 0.52, 0.50], [0.65, 0.65, 0.65])["outcome"] == "worse"
    # More thin recall bought with accuracy lost beyond its spread is no gain.
    traded = judge([0.62, 0.63, 0.61], [0.60, 0.61, 0.60])
    assert traded["outcome"] == "worse" and not traded["helps"]
    assert traded["text"].startswith(
        "Worse: against the best baseline (logit-adjusted loss) the generated samples raise"
    )
    # A gain larger than the spread but below the floor is not a change.
    flat = {n: row([0.5, 0.5], [0.6, 0.6]) for n in BASELINES}
    tiny_gain = verdict({**flat, GENERATED: row([0.5 + FLOOR / 2] * 2, [0.6, 0.6])})
    assert tiny_gain["outcome"] == "no measurable difference"
    one = verdict({**{n: row([0.5], [0.6]) for n in BASELINES}, GENERATED: row([0.9], [0.9])})
    assert one["outcome"] == "not measurable" and not one["helps"]
    assert verdict(base) is None


def test_best_baseline_breaks_a_thin_recall_tie_by_accuracy():
    rows = {
        "real": row([0.5, 0.5], [0.60, 0.60]),
        "real_balanced": row([0.5, 0.5], [0.62, 0.62]),
        "real_drw": row([0.4, 0.4], [0.70, 0.70]),
    }
    assert best_baseline(rows) == "real_balanced"


# -- the device's batch, and the estimate ----------------------------------------------------
def test_batch_and_learning_rate_follow_the_device():
    assert default_batch_size("cpu") == 128 and default_batch_size(torch.device("cuda")) == 512
    assert default_lr(128) == default_lr(32) == 0.1 and default_lr(512) == pytest.approx(0.4)
    assert "small" in ARCHS


def test_batch_from_the_device_is_recorded_with_its_learning_rate(mini):
    images, labels = mini
    clf = train_classifier(images, labels, 3, steps=1, device="cpu", arch="tiny")
    assert clf.budget["batch_size"] == 128 and clf.budget["lr"] == 0.1
    assert clf.budget["loss"] == "ce" and clf.budget["image_weights"] is None


@pytest.mark.parametrize("arch", ["tiny", "small"])
def test_estimate_is_a_positive_figure_and_leaves_the_random_state_alone(arch):
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    s = estimate_training_seconds(500, 10, 200, batch_size=8, arch=arch, device="cpu")
    assert math.isfinite(s) and s > 0
    assert torch.equal(torch.rand(3), expected)
    with pytest.raises(LabelerError):
        estimate_training_seconds(0, 10, 10, batch_size=8, arch=arch, device="cpu")


def test_small_arch_trains_and_predicts(mini):
    images, labels = mini
    clf = train_classifier(images, labels, 3, steps=2, device="cpu", arch="small", batch_size=8)
    probs, feats = clf.probs_and_features(images[:4])
    assert probs.shape == (4, 3) and feats.shape == (4, 64)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_a_training_step_on_cuda_never_waits_for_the_device(mini):
    """Sampling, augmentation, every loss and the optimiser stay on the GPU: with no progress
    callback, not one step synchronises with the host (CUDA's sync debug mode raises if so)."""
    images, labels = mini
    x = np.concatenate([images, images[labels == 2]])
    y = np.concatenate([labels, labels[labels == 2]])
    iw = np.concatenate([np.ones(len(images)), np.full(int((labels == 2).sum()), 0.5)])

    def strict() -> bool:
        torch.cuda.set_sync_debug_mode("error")  # from the first step on
        return False

    for loss in ("ce", "logit_adjusted", "drw"):
        try:
            clf = train_classifier(x, y, 3, steps=8, device="cuda", arch="tiny", loss=loss,
                                   image_weights=iw, should_stop=strict)  # fmt: skip
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert clf.budget is not None and clf.budget["batch_size"] == 512


def test_classes_without_held_out_images_are_left_out_and_can_make_the_verdict_unmeasurable(
    mini,
):
    """Outside try: a split that left the thin classes without val images gave every row a
    thin recall of 0.000 and the verdict "no measurable difference"; an empty class also
    counted as a thin class at 0 and capped macro recall."""
    images, labels = mini
    counts = np.bincount(labels)
    thin = int(np.argmin(counts))
    # Every class but the thinnest has held-out images; the thinnest has none.
    held = np.concatenate([np.flatnonzero(labels == c)[:30] for c in range(3) if c != thin])
    fake = images[labels == thin][:4]
    out = evaluate(
        (images, labels), (images[held], labels[held]), 3,
        generated=(fake, np.full(4, thin)), steps=2, seeds=2, **TINY,
    )  # fmt: skip
    assert out["unscored_classes"] == [thin]
    assert any("no held-out image" in w for w in out["warnings"])
    for row in out["rows"].values():
        for report in row["seeds"]:
            assert thin not in report["thin_classes"]
            assert report["unscored_classes"] == [thin]
    # With 3 classes the thin half is one class: the thinnest scored one, not the unscored.
    assert out["verdict"]["outcome"] != "not measurable"
    # No class of the thin half scored at all: the verdict says it cannot tell.
    rows = {n: {"accuracy": {"mean": 0.5, "spread": 0.0, "values": [0.5, 0.5]}} for n in BASELINES}
    rows[GENERATED] = {"accuracy": {"mean": 0.5, "spread": 0.0, "values": [0.5, 0.5]}}
    unmeasured = verdict(rows, n_seeds=2)
    assert (
        unmeasured["outcome"] == "not measurable"
        and "no image of the thinnest" in (unmeasured["text"])
    )


def test_one_seed_verdict_quotes_no_spread():
    """Outside try: "Not measurable with one seed ... seed-to-seed spread ±0.005" quoted a
    spread it had just said does not exist."""

    def one(recall: float, acc: float) -> dict:
        return {
            "thin_recall": {"mean": recall, "spread": 0.0, "values": [recall]},
            "accuracy": {"mean": acc, "spread": 0.0, "values": [acc]},
        }

    text = verdict({"real": one(0.4, 0.6), GENERATED: one(0.5, 0.6)}, n_seeds=1)["text"]
    assert "one seed" in text and "±" not in text and "spread" not in text
