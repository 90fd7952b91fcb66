"""Offline metrics: KID and FID on the project classifier's features, and per-class recall/F1.

No Inception network is downloaded: features come from the classifier trained on this project's
own images, so the numbers compare runs on one project, not with published FID tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def kid(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    subsets: int = 10,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD² with a cubic polynomial kernel): (mean, std).

    Unbiased, so it is usable with the few dozen samples a thin class gets; ≈ 0 for two draws
    from one distribution (it can dip slightly below zero).
    """
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError("kid needs two (N, D) feature arrays with N ≥ 2 and the same D")
    m = min(len(a), len(b), subset_size)
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    scores = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = m * (m - 1)
        scores.append(
            (kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean()
        )
    return float(np.mean(scores)), float(np.std(scores))


def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    tr((Σa Σb)^½) is computed from the eigenvalues of Σa^½ Σb Σa^½, which stays real and
    stable when few samples make the covariances singular. Biased upward for small N.
    """
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError("fid needs two (N, D) feature arrays with N ≥ 2 and the same D")
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    wa, va = np.linalg.eigh(ca)
    root_a = (va * np.sqrt(np.clip(wa, 0, None))) @ va.T
    cross = np.linalg.eigvalsh(root_a @ cb @ root_a)
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, train_counts: np.ndarray | None = None
) -> dict[str, Any]:
    """Per-class precision, recall and F1, their macro means, accuracy, and — given the train
    counts — the mean recall and F1 over the thinnest half of the classes."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    conf = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(conf, (y_true, y_pred), 1)
    tp = np.diag(conf).astype(np.float64)
    support, predicted = conf.sum(1), conf.sum(0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    # A class with no held-out image cannot be scored: it is left out of the means (as a 0 it
    # would cap them and, among the thin classes, make every row look the same).
    held = support > 0
    report: dict[str, Any] = {
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "macro_recall": float(recall[held].mean()) if held.any() else 0.0,
        "macro_f1": float(f1[held].mean()) if held.any() else 0.0,
        "unscored_classes": np.flatnonzero(~held).tolist(),
        "per_class": [
            {
                "class": c,
                "support": int(support[c]),
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
            }
            for c in range(num_classes)
        ],
    }
    if train_counts is not None:
        # The thinnest half of the classes that have train images and held-out images; None
        # when there is none (the verdict then says the comparison cannot be made).
        counts = np.asarray(train_counts)
        scored = np.flatnonzero(held & (counts > 0))
        thin = scored[thinnest_half(counts[scored])] if scored.size else scored
        report["thin_classes"] = thin.tolist()
        report["thin_recall"] = float(recall[thin].mean()) if thin.size else None
        report["thin_f1"] = float(f1[thin].mean()) if thin.size else None
    return report


def thinnest_half(counts: np.ndarray) -> np.ndarray:
    """Class ids of the half of the classes with the fewest training images (at least one)."""
    k = max(1, len(counts) // 2)
    return np.sort(np.argsort(counts, kind="stable")[:k])
