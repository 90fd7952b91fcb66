"""Pre-labels: the project's own small classifier proposes a class for unlabeled images.

The model is the health check's classifier (``labeler.core.health.classifier``, reused, not
rewritten): numpy + OpenCV features per image, whitened by PCA, and a multinomial logistic
regression. It trains in seconds on two CPU cores, so pre-labels need no GPU and no torch
(ADR 0097). Before anything is proposed the model is measured: k-fold, stratified, each
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

MODEL = "features+logistic"
"""The model's name as runs record it."""


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


def prelabel(
    labelled: np.ndarray,
    labels: np.ndarray,
    unlabeled: np.ndarray,
    n_classes: int,
    *,
    folds: int = 5,
    seed: int = 0,
) -> PrelabelResult:
    """Measure the classifier on ``labelled`` (k-fold held-out) and score ``unlabeled``.

    ``labels`` are class indices 0..n_classes-1, each present at least ``folds`` times (so
    every fold holds each class out once). The whitening is fitted on all features, labelled
    and unlabeled, without labels, as the health check fits it.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if n_classes < 2:
        raise LabelerError("pre-labels need at least two classes with enough labelled images")
    counts = np.bincount(labels, minlength=n_classes)
    if counts.min() < folds:
        raise LabelerError(f"each class needs at least {folds} labelled images to be measured")
    everything = np.concatenate([labelled, unlabeled]) if len(unlabeled) else labelled
    x_all = _whiten(everything.astype(np.float64))
    x, x_new = x_all[: len(labelled)], x_all[len(labelled) :]
    fold = stratified_folds(labels, folds, seed)
    held_out = np.zeros((len(labels), n_classes))
    for f in range(folds):
        test = fold == f
        if test.any():
            w, b = fit_logistic(x[~test], labels[~test], n_classes)
            held_out[test] = _softmax(x[test] @ w + b)
    pred = held_out.argmax(1)
    recalls = tuple(float((pred[labels == k] == k).mean()) for k in range(n_classes))
    chance = 1.0 / n_classes
    if len(x_new):
        w, b = fit_logistic(x, labels, n_classes)
        probs = _softmax(x_new @ w + b)
    else:
        probs = np.zeros((0, n_classes))
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
