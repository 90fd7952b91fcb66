"""Pre-labels: the project's own small classifier proposes a class for unlabeled images.

The model is the health check's classifier (``labeler.core.health.classifier``, reused, not
rewritten): numpy + OpenCV features per image, whitened by PCA, and a multinomial logistic
regression. It trains in seconds on two CPU cores, so pre-labels need no GPU and no torch
(ADR 0097). `prelabel_cnn` measures and proposes the same way with the GAN's small classifier
(ResNet-18, on the GPU when there is one). Before anything is proposed the model is measured: k-fold, stratified, each
labelled image predicted by a model that did not see it, and the balanced accuracy over those
held-out predictions decides. The bar is the health classifier's (`is_weak`: below
``max(0.6, min(0.9, 2 * chance))``): a weaker model proposes nothing.

Uncertainty is ``1 - (p_best - p_second)``: 0 when the model is sure, 1 when two classes tie;
labelling the least sure first is margin-based active learning.

>>> result = prelabel(labelled_x, labelled_y, unlabeled_x, n_classes=3)   # doctest: +SKIP
>>> result.good_enough, result.balanced_accuracy                            # doctest: +SKIP
(True, 0.84)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.health.classifier import (
    _softmax,
    _whiten,
    fit_logistic,
    is_weak,
    stratified_folds,
)
from labeler.core.progress import ShouldStop

MODEL = "features+logistic"
"""The default model's name as runs record it; the CNN is ``cnn:<arch>``."""


def weak_bar(chance: float) -> float:
    """The balanced accuracy a model must reach to be offered, for messages: the bar of the
    health classifier's `is_weak`, which makes the decision."""
    return max(0.6, min(0.9, 2 * chance))


@dataclass(frozen=True)
class PrelabelResult:
    """What one training measured and, when good enough, proposed.

    ``probabilities`` is (n_unlabeled, n_classes), rows in the order the unlabeled features
    were given; ``classes`` and ``confidence`` are its argmax and max; ``uncertainty`` is one
    minus the margin between the two most probable classes.
    """

    balanced_accuracy: float
    accuracy: float
    chance: float
    bar: float
    labelled: int
    folds: int
    recalls: tuple[float, ...]
    probabilities: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    uncertainty: np.ndarray

    @property
    def good_enough(self) -> bool:
        return not is_weak(self.balanced_accuracy, self.chance)


def uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """1 - (top probability - second probability) per row."""
    if probabilities.shape[1] < 2:
        return np.zeros(len(probabilities))
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def _check(labels: np.ndarray, n_classes: int, folds: int) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    if n_classes < 2:
        raise LabelerError("pre-labels need at least two classes with enough labelled images")
    counts = np.bincount(labels, minlength=n_classes)
    if counts.min() < folds:
        raise LabelerError(f"each class needs at least {folds} labelled images to be measured")
    return labels


def _result(
    held_out: np.ndarray, labels: np.ndarray, probs: np.ndarray, n_classes: int, folds: int
) -> PrelabelResult:
    pred = held_out.argmax(1)
    recalls = tuple(float((pred[labels == k] == k).mean()) for k in range(n_classes))
    chance = 1.0 / n_classes
    return PrelabelResult(
        balanced_accuracy=float(np.mean(recalls)),
        accuracy=float((pred == labels).mean()),
        chance=chance,
        bar=weak_bar(chance),
        labelled=len(labels),
        folds=folds,
        recalls=recalls,
        probabilities=probs,
        classes=probs.argmax(1) if len(probs) else np.zeros(0, np.int64),
        confidence=probs.max(1) if len(probs) else np.zeros(0),
        uncertainty=uncertainty(probs),
    )


def prelabel(
    labelled: np.ndarray,
    labels: np.ndarray,
    unlabeled: np.ndarray,
    n_classes: int,
    *,
    folds: int = 5,
    seed: int = 0,
) -> PrelabelResult:
    """Measure the features classifier on ``labelled`` (k-fold held-out) and score
    ``unlabeled`` (both image feature rows, `image_features`).

    ``labels`` are class indices 0..n_classes-1, each present at least ``folds`` times (so
    every fold holds each class out once). The whitening is fitted on all features, labelled
    and unlabeled, without labels, as the health check fits it.
    """
    everything = np.concatenate([labelled, unlabeled]) if len(unlabeled) else labelled
    x_all = _whiten(everything.astype(np.float64))
    x, x_new = x_all[: len(labelled)], x_all[len(labelled) :]

    def fit_predict(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray) -> np.ndarray:
        w, b = fit_logistic(xa, ya, n_classes)
        return _softmax(xb @ w + b)

    return prelabel_with(fit_predict, x, labels, x_new, n_classes, folds=folds, seed=seed)


def prelabel_with(
    fit_predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    labelled: np.ndarray,
    labels: np.ndarray,
    unlabeled: np.ndarray,
    n_classes: int,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop | None = None,
) -> PrelabelResult:
    """The same measurement with any model: ``fit_predict(x, y, x_new)`` trains on rows ``x``
    with labels ``y`` and returns (len(x_new), n_classes) probabilities (a plugin's
    pre-labeller, checked by its caller). Called once per held-out fold, then on everything."""
    labels = _check(labels, n_classes, folds)
    fold = stratified_folds(labels, folds, seed)
    held_out = np.zeros((len(labels), n_classes))
    for f in range(folds):
        test = fold == f
        if test.any():
            held_out[test] = fit_predict(labelled[~test], labels[~test], labelled[test])
        if should_stop is not None and should_stop():
            raise Stopped("pre-labelling cancelled; nothing was written")
        if progress is not None:
            progress(f + 1, folds + 1)
    probs = fit_predict(labelled, labels, unlabeled) if len(unlabeled) else np.zeros((0, n_classes))
    if progress is not None:
        progress(folds + 1, folds + 1)
    return _result(held_out, labels, probs, n_classes, folds)


def prelabel_cnn(
    labelled: np.ndarray,
    labels: np.ndarray,
    unlabeled: np.ndarray,
    n_classes: int,
    *,
    folds: int = 5,
    seed: int = 0,
    epochs: float = 30.0,
    arch: str = "resnet18",
    device: str = "auto",
    batch_size: int = 128,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop | None = None,
) -> PrelabelResult:
    """The same measurement with the GAN's small classifier (`train_classifier`, ResNet-18 or
    ``tiny``, class-balanced sampling) on uint8 (N, H, W, 3) RGB images: one training per fold
    for the held-out accuracy, one on everything for the proposals. Torch is imported here."""
    from labeler.ml.classifier import train_classifier

    labels = _check(labels, n_classes, folds)
    fold = stratified_folds(labels, folds, seed)
    held_out = np.zeros((len(labels), n_classes))

    def train(images: np.ndarray, ys: np.ndarray, k: int):
        clf = train_classifier(
            images, ys, n_classes, epochs=epochs, balanced=True, seed=seed + k, device=device,
            arch=arch, batch_size=min(batch_size, len(ys)), should_stop=should_stop,
        )  # fmt: skip
        if should_stop is not None and should_stop():
            raise Stopped("pre-labelling cancelled; nothing was written")
        if progress is not None:
            progress(k + 1, folds + 1)
        return clf

    for f in range(folds):
        test = fold == f
        if test.any():
            clf = train(labelled[~test], labels[~test], f)
            held_out[test] = clf.probs_and_features(labelled[test])[0]
    final = train(labelled, labels, folds)
    probs = (
        final.probs_and_features(unlabeled)[0].astype(np.float64)
        if len(unlabeled)
        else np.zeros((0, n_classes))
    )
    return _result(held_out, labels, probs, n_classes, folds)


class Stopped(LabelerError):
    """The user stopped the training; nothing was written."""
