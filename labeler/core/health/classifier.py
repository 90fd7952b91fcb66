"""Suspicious labels: a cheap classifier's out-of-fold opinion against the given labels.

Features (numpy + OpenCV, about 460 numbers per image): an 8x8 Lab thumbnail, a 128-bin HSV
colour histogram and a 4x4-cell, 9-orientation gradient histogram (HOG-like), all from a
32x32 copy. They are standardised, whitened by PCA to at most 64 dimensions (n / 8 for n images) (fitted without
labels, so no fold sees another's labels), and fed to a multinomial logistic regression
trained by full-batch gradient descent. Every image gets a prediction from the model of the
fold it was held out of (k-fold, stratified, seeded).

Confident learning (Northcutt et al., 2021) then decides: the threshold of class j is the
mean predicted probability of j over the images labeled j; an image labeled i is suspicious
when the most probable class among those above their own threshold is some j != i. The
margin p_j - p_i ranks them. Weak features make weak hints; the report says how weak by
giving the out-of-fold balanced accuracy. A weak classifier (`is_weak`) that disputes more
than ``weak_classifier_max_flagged`` of the labels flags none: it reports the check as
inconclusive, since at that rate its disagreements are its own errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from labeler.core.health.model import Finding, HealthOptions, plural

FEATURE_SIDE = 32
PCA_DIMS = 64


def image_features(image: np.ndarray) -> np.ndarray:
    """A float32 feature vector of a grey (H, W), BGR (H, W, 3) or BGRA image, any size."""
    bgr = _as_bgr(image)
    small = cv2.resize(bgr, (FEATURE_SIDE, FEATURE_SIDE), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(cv2.resize(small, (8, 8), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2LAB)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist / max(hist.sum(), 1.0))  # Hellinger: tames dominant colours
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return np.concatenate([lab.ravel() / 255.0, hist, _gradient_histogram(grey)]).astype(np.float32)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    img = image
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    return img


def _gradient_histogram(grey: np.ndarray, cells: int = 4, bins: int = 9) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    mag, ang = cv2.cartToPolar(gx, gy)
    orient = np.minimum((ang % np.pi) / np.pi * bins, bins - 1).astype(np.int64)
    side = grey.shape[0] // cells
    rows, cols = np.indices(grey.shape)
    cell = (rows // side) * cells + cols // side
    h = np.bincount(
        (cell * bins + orient).ravel(), weights=mag.ravel(), minlength=cells * cells * bins
    )
    return h / (np.linalg.norm(h) + 1e-6)


def out_of_fold_probabilities(
    features: np.ndarray, labels: np.ndarray, n_classes: int, folds: int, seed: int
) -> np.ndarray:
    """(n, n_classes) probabilities, each row from a model that did not see that row."""
    x = _whiten(features)
    fold = stratified_folds(labels, folds, seed)
    probs = np.zeros((len(labels), n_classes))
    for f in range(folds):
        test = fold == f
        if not test.any():
            continue
        w, b = fit_logistic(x[~test], labels[~test], n_classes)
        probs[test] = _softmax(x[test] @ w + b)
    return probs


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per row: each class dealt round-robin over the folds in a seeded order."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    start = 0
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        # Rotating the starting fold keeps small classes from all landing in fold 0.
        fold[rows] = (np.arange(len(rows)) + start) % folds
        start += len(rows)
    return fold


def _whiten(features: np.ndarray) -> np.ndarray:
    x = features.astype(np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    # About one dimension per 8 images: more overfits the small classes this check is for.
    dims = max(1, min(PCA_DIMS, max(8, x.shape[0] // 8), x.shape[0] - 1, x.shape[1]))
    vals, vecs = np.linalg.eigh(x.T @ x / max(len(x) - 1, 1))
    top = np.argsort(vals)[::-1][:dims]
    return x @ vecs[:, top] / np.sqrt(np.maximum(vals[top], 1e-6))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    l2: float = 1e-2,
    steps: int = 300,
    lr: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent (deterministic).

    Whitened inputs keep the loss well conditioned, so a fixed step converges well enough.
    """
    n, d = x.shape
    w = np.zeros((d, n_classes))
    b = np.zeros(n_classes)
    onehot = np.eye(n_classes)[y]
    for _ in range(steps):
        g = (_softmax(x @ w + b) - onehot) / n
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(0)
    return w, b


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def confident_learning(probs: np.ndarray, labels: np.ndarray) -> list[tuple[int, int, float]]:
    """Rows whose given label disagrees confidently: ``(row, predicted, margin)``, most
    confident first. Thresholds per class are the mean self-confidence of that class."""
    n_classes = probs.shape[1]
    thresholds = np.array(
        [probs[labels == c, c].mean() if (labels == c).any() else 1.0 for c in range(n_classes)]
    )
    above = np.where(probs >= thresholds, probs, -1.0)
    best = above.argmax(1)
    confident = above.max(1) >= 0
    flagged = np.flatnonzero(confident & (best != labels))
    margin = probs[flagged, best[flagged]] - probs[flagged, labels[flagged]]
    order = np.lexsort((flagged, -margin))
    return [(int(flagged[i]), int(best[flagged[i]]), float(margin[i])) for i in order]


def check_suspicious(
    features: Mapping[int, np.ndarray],
    labels: Mapping[int, frozenset[int]],
    classes: Mapping[int, str],
    opts: HealthOptions,
) -> tuple[list[Finding], dict[str, Any]]:
    """The suspicious-labels finding and the classifier's statistics (or why it was skipped).

    Only images with exactly one class and decoded features take part; classes with fewer
    than ``opts.classifier_min_class_images`` such images are left out.
    """
    single = {i: next(iter(cs)) for i, cs in labels.items() if len(cs) == 1 and i in features}
    counts: dict[int, int] = {}
    for c in single.values():
        counts[c] = counts.get(c, 0) + 1
    kept = sorted(c for c, n in counts.items() if n >= opts.classifier_min_class_images)
    ids = sorted(i for i, c in single.items() if c in kept)
    if len(kept) < 2 or len(ids) < 2 * opts.classifier_folds:
        return [], {"skipped": "needs two or more classes with enough single-label images"}
    index = {c: k for k, c in enumerate(kept)}
    y = np.array([index[single[i]] for i in ids])
    x = np.stack([features[i] for i in ids])
    probs = out_of_fold_probabilities(x, y, len(kept), opts.classifier_folds, opts.classifier_seed)
    pred = probs.argmax(1)
    recalls = [float((pred[y == k] == k).mean()) for k in range(len(kept))]
    stats = {
        "images": len(ids),
        "classes": [classes.get(c, f"#{c}") for c in kept],
        "accuracy": round(float((pred == y).mean()), 4),
        "balanced_accuracy": round(float(np.mean(recalls)), 4),
        "chance": round(1.0 / len(kept), 4),
    }
    flagged = confident_learning(probs, y)
    stats["flagged"] = len(flagged)
    if not flagged:
        return [], stats
    weak = is_weak(stats["balanced_accuracy"], stats["chance"])
    if weak and len(flagged) > opts.weak_classifier_max_flagged * len(ids):
        return [_inconclusive(stats, len(flagged))], stats
    rows = [
        {
            "image_id": ids[r],
            "given": classes.get(kept[y[r]], f"#{kept[y[r]]}"),
            "predicted": classes.get(kept[p], f"#{kept[p]}"),
            "confidence": round(float(probs[r, p]), 4),
            "given_probability": round(float(probs[r, y[r]]), 4),
            "margin": round(m, 4),
        }
        for r, p, m in flagged[: opts.max_suspicious]
    ]
    note = (
        f" The classifier is weak ({stats['balanced_accuracy']:.0%} balanced accuracy, chance "
        f"{stats['chance']:.0%}): treat these as hints."
        if weak
        else f" Classifier balanced accuracy {stats['balanced_accuracy']:.0%}."
    )
    listed = f" The {len(rows)} most confident are listed." if len(rows) < len(flagged) else ""
    return [
        Finding(
            "labels.suspicious",
            "info" if weak else "warning",
            f"{plural(len(flagged), 'label looks', 'labels look')} suspicious",
            "A simple classifier, trained without each image, confidently prefers another "
            "class for these images (ranked by margin)." + listed + note,
            "Open them in order and correct the labels that are wrong.",
            "open_images",
            image_ids=[row["image_id"] for row in rows],
            details={"images": rows, "total_flagged": len(flagged)},
        )
    ], stats


def is_weak(balanced_accuracy: float, chance: float) -> bool:
    """Whether the classifier is too weak for its disagreements to be more than hints.

    Below 60% balanced accuracy a cheap classifier flags too many honest labels, however far
    above chance it is; with few classes it must also reach twice chance (at most 90%).

    >>> is_weak(0.30, 0.10), is_weak(0.95, 0.5)
    (True, False)
    """
    return balanced_accuracy < max(0.6, min(0.9, 2 * chance))


def _inconclusive(stats: dict[str, Any], flagged: int) -> Finding:
    """A weak classifier disputing a large share of the labels: that is its own error rate
    showing, not a finding about the labels, so no image is listed (issue 17)."""
    images = stats["images"]
    return Finding(
        "labels.inconclusive",
        "info",
        "Label check inconclusive: the classifier is too weak for this data",
        f"A simple classifier reached {stats['balanced_accuracy']:.0%} balanced accuracy "
        f"(chance {stats['chance']:.0%}) and disputed {flagged} of {images} labels. At that "
        "accuracy most of its disagreements are its own mistakes, so no label is flagged.",
        "Review the labels class by class; the check gets sharper as classes grow.",
        details={"total_flagged": flagged, "images_checked": images},
    )
