"""Suggestions for thin classes: generate a pool per class, keep what passes the quality gates,
pick a diverse subset. Every gate is a small function on plain arrays so it can be tested alone.

Gates, in order: (a) the classifier must see the intended class with p ≥ ``p_min``;
(b) memorisation (privacy guard): a sample closer to a same-class training image than real
images of that class usually are to each other — below the ``memorisation_percentile``-th
percentile of real nearest-neighbour distances, in classifier features (cosine) or in pixels
(RMSE at 16x16) — is rejected and counted; (c) near-duplicates inside the pool, by the same
yardstick; (d) farthest-point sampling on features picks ``deficit`` diverse survivors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from labeler.core.errors import LabelerError
from labeler.core.files import sha256_file
from labeler.core.progress import ShouldStop, StatsFn
from labeler.ml.checkpoint import load_generator
from labeler.ml.data import check_images, check_labels, to_uint8
from labeler.ml.device import autocast, resolve_device
from labeler.ml.gan import GanConfig, Generator

PIXEL_SIZE = 16
# Floors keep the memorisation rule meaningful when a class holds duplicate real images (its
# 5th percentile is then 0 and an exact copy would pass a strict "<" test).
FEATURE_FLOOR = 1e-3
PIXEL_FLOOR = 4 / 255


POOL_FACTOR = 10  # candidates generated per missing image, before the gates


class FeatureClassifier(Protocol):
    """What ``suggest`` needs from a classifier (``labeler.ml.classifier.Classifier`` is one)."""

    def probs_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class Suggestion:
    """One accepted generated image, with everything needed to reproduce and audit it."""

    class_id: int
    image: np.ndarray  # uint8 (H, W, 3) RGB
    seed: int
    scores: dict[str, Any]
    generator_sha256: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready description without the pixels."""
        return {
            "class_id": self.class_id,
            "seed": self.seed,
            "scores": self.scores,
            "generator_sha256": self.generator_sha256,
        }


@dataclass
class SuggestResult:
    """The suggestions plus, per class, how many each gate rejected (the privacy guard count)."""

    suggestions: list[Suggestion]
    per_class: dict[int, dict[str, Any]]
    generator_sha256: str
    generator_step: int
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "generator_sha256": self.generator_sha256,
            "generator_step": self.generator_step,
            "per_class": {str(c): v for c, v in self.per_class.items()},
            "suggestions": [s.to_json() for s in self.suggestions],
            "warnings": self.warnings,
        }


def deficits(counts: Sequence[int], target: str | int = "median") -> dict[int, int]:
    """How many images each class lacks to reach ``target`` (``'median'``, ``'max'`` or a count).

    >>> deficits([100, 10, 40], "median")
    {1: 30}
    """
    arr = np.asarray(counts, dtype=np.int64)
    if target == "median":
        goal = int(np.ceil(np.median(arr)))
    elif target == "max":
        goal = int(arr.max())
    elif isinstance(target, int | np.integer) and not isinstance(target, bool) and target > 0:
        goal = int(target)
    else:
        raise LabelerError(f"target must be 'median', 'max' or a positive count, got {target!r}")
    return {c: goal - int(n) for c, n in enumerate(arr) if n < goal}


def sample_seed(seed: int, class_id: int, index: int) -> int:
    """A 63-bit seed per (run seed, class, pool index); the same triple gives the same image."""
    state = np.random.SeedSequence([seed, class_id, index]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


@torch.no_grad()
def generate(
    generator: str | Path | Generator,
    class_id: int,
    seeds: Sequence[int],
    device: str = "auto",
    batch_size: int = 256,
) -> np.ndarray:
    """Images (uint8, N×H×W×3) for ``class_id`` from per-image ``seeds``; reproducible, because
    each latent comes from its own seed and BatchNorm runs in eval mode (no batch dependence).
    """
    if isinstance(generator, str | Path):
        generator, _, _ = load_generator(generator, resolve_device(device)[0])
    dev = next(generator.parameters()).device
    z = (
        torch.stack(
            [
                torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(s))
                for s in seeds
            ]
        )
        if len(seeds)
        else torch.zeros(0, generator.z_dim)
    )
    out = []
    for i in range(0, len(z), batch_size):
        zb = z[i : i + batch_size].to(dev)
        y = torch.full((len(zb),), class_id, dtype=torch.long, device=dev)
        with autocast(dev):
            out.append(to_uint8(generator.eval()(zb, y).float()))
    return np.concatenate(out) if out else np.zeros((0, 1, 1, 3), np.uint8)


def pixel_vectors(images: np.ndarray, size: int = PIXEL_SIZE) -> np.ndarray:
    """Images as flat float vectors in [0, 1] at ``size``×``size`` (the pixel memorisation check)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x.flatten(1).numpy()


def normalise(feats: np.ndarray) -> np.ndarray:
    f = np.asarray(feats, np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def nearest(
    queries: np.ndarray, refs: np.ndarray, metric: str, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to and index of each query's nearest reference (``'cosine'`` or ``'rmse'``).

    Inputs for ``'cosine'`` must be L2-normalised. ``exclude_self`` is for refs vs themselves.
    """
    dist = np.empty(len(queries), np.float32)
    idx = np.empty(len(queries), np.int64)
    for i in range(0, len(queries), 1024):  # chunks bound memory on big classes
        q = queries[i : i + 1024]
        if metric == "cosine":
            d = 1.0 - q @ refs.T
        else:
            sq = (q * q).sum(1)[:, None] + (refs * refs).sum(1)[None, :] - 2 * q @ refs.T
            d = np.sqrt(np.maximum(sq, 0) / q.shape[1])
        if exclude_self:
            d[np.arange(len(q)), np.arange(i, i + len(q))] = np.inf
        idx[i : i + len(q)] = d.argmin(1)
        dist[i : i + len(q)] = np.maximum(d[np.arange(len(q)), idx[i : i + len(q)]], 0)
    return dist, idx


def memorisation_thresholds(
    real_feats: np.ndarray, real_pixels: np.ndarray, percentile: float = 5.0
) -> tuple[float, float]:
    """(feature, pixel) distances below which a sample counts as a copy: the ``percentile`` of
    real-to-real nearest-neighbour distances within the class, never below the floors."""
    if len(real_feats) < 2:
        return FEATURE_FLOOR, PIXEL_FLOOR
    fd, _ = nearest(real_feats, real_feats, "cosine", exclude_self=True)
    pd, _ = nearest(real_pixels, real_pixels, "rmse", exclude_self=True)
    return (
        max(float(np.percentile(fd, percentile)), FEATURE_FLOOR),
        max(float(np.percentile(pd, percentile)), PIXEL_FLOOR),
    )


def consistent(probs: np.ndarray, class_id: int, p_min: float) -> np.ndarray:
    """Gate (a): True where the classifier gives ``class_id`` a probability ≥ ``p_min``."""
    return np.asarray(probs)[:, class_id] >= p_min


def memorised(
    feats: np.ndarray,
    pixels: np.ndarray,
    real_feats: np.ndarray,
    real_pixels: np.ndarray,
    feat_threshold: float,
    pixel_threshold: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Gate (b): True where a sample sits closer to a real image than the thresholds allow.

    Also returns the nearest-neighbour distances and indices (into the given real arrays).
    """
    fd, fi = nearest(feats, real_feats, "cosine")
    pd, pi = nearest(pixels, real_pixels, "rmse")
    mask = (fd < feat_threshold) | (pd < pixel_threshold)
    return mask, {"nn_distance": fd, "nn_index": fi, "pixel_nn_distance": pd, "pixel_nn_index": pi}


def drop_near_duplicates(
    feats: np.ndarray,
    pixels: np.ndarray,
    order: np.ndarray,
    feat_threshold: float,
    pixel_threshold: float,
) -> np.ndarray:
    """Gate (c): walk ``order`` (best first) and keep an item only if no kept item is within
    the thresholds of it. Returns the kept indices in order."""
    kept: list[int] = []
    for i in order:
        if kept:
            fd = 1.0 - feats[kept] @ feats[i]
            pd = np.sqrt(((pixels[kept] - pixels[i]) ** 2).mean(1))
            if (fd < feat_threshold).any() or (pd < pixel_threshold).any():
                continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.int64)


def farthest_points(feats: np.ndarray, k: int, first: int = 0) -> np.ndarray:
    """Gate (d): greedy farthest-point sampling (cosine on normalised features), from ``first``."""
    n = len(feats)
    if k >= n:
        k = n
    if k <= 0:
        return np.zeros(0, np.int64)
    chosen = [first]
    dist = 1.0 - feats @ feats[first]
    dist[first] = -np.inf
    for _ in range(k - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = np.minimum(dist, 1.0 - feats @ feats[nxt])
        dist[chosen] = -np.inf
    return np.asarray(chosen, np.int64)


def suggest(
    generator_checkpoint: str | Path,
    classifier: FeatureClassifier,
    real_train: tuple[np.ndarray, np.ndarray],
    counts: Sequence[int] | Mapping[int, int] | None = None,
    target: str | int = "median",
    pool_factor: int = POOL_FACTOR,
    p_min: float = 0.5,
    memorisation_percentile: float = 5.0,
    seed: int = 0,
    device: str = "auto",
    *,
    max_pool: int = 10000,
    batch_size: int = 256,
    progress: StatsFn | None = None,
    should_stop: ShouldStop | None = None,
) -> SuggestResult:
    """Generate, filter and pick suggestions for every class below ``target``.

    ``real_train`` is the real train split (uint8 images, labels); ``counts`` the images per class
    that the target is measured against (default: counted from ``real_train``; pass the project's
    train counts when they differ, e.g. when generated images were already accepted).
    ``nn_index`` in each suggestion's scores indexes ``real_train``.

    >>> result = suggest("run/checkpoint.pt", clf, (images, labels), target="median")  # doctest: +SKIP
    >>> [s.to_json() for s in result.suggestions]  # doctest: +SKIP
    """
    images = check_images(real_train[0])
    dev, warning = resolve_device(device)
    G, cfg, step = load_generator(generator_checkpoint, dev)
    labels = check_labels(real_train[1], len(images), cfg.num_classes)
    counts_arr = _counts(counts, labels, cfg)
    digest = sha256_file(generator_checkpoint)
    real_probs, real_feats = classifier.probs_and_features(images)
    real_feats, real_pixels = normalise(real_feats), pixel_vectors(images)
    result = SuggestResult([], {}, digest, step, [warning] if warning else [])
    todo = deficits(counts_arr, target)
    for n_done, (c, deficit) in enumerate(todo.items()):
        if should_stop is not None and should_stop():
            result.warnings.append("stopped before every class was done")
            break
        members = np.flatnonzero(labels == c)
        sugs, report = _suggest_class(
            G,
            cfg,
            c,
            deficit,
            classifier,
            members,
            real_feats,
            real_pixels,
            pool=min(max_pool, pool_factor * deficit),
            p_min=p_min,
            percentile=memorisation_percentile,
            seed=seed,
            batch_size=batch_size,
            digest=digest,
        )
        report.update(count=int(counts_arr[c]), target=int(counts_arr[c]) + deficit)
        result.suggestions += sugs
        result.per_class[c] = report
        if progress is not None:
            progress({"class_id": c, "classes_done": n_done + 1, "classes": len(todo), **report})
    return result


def _counts(counts: Any, labels: np.ndarray, cfg: GanConfig) -> np.ndarray:
    if counts is None:
        return np.bincount(labels, minlength=cfg.num_classes)
    if isinstance(counts, Mapping):
        arr = np.zeros(cfg.num_classes, np.int64)
        for c, n in counts.items():
            arr[int(c)] = int(n)
        return arr
    arr = np.asarray(counts, np.int64)
    if arr.shape != (cfg.num_classes,):
        raise LabelerError(f"counts must give {cfg.num_classes} classes, got {arr.shape}")
    return arr


def _suggest_class(
    G: Generator,
    cfg: GanConfig,
    c: int,
    deficit: int,
    classifier: FeatureClassifier,
    members: np.ndarray,
    real_feats: np.ndarray,
    real_pixels: np.ndarray,
    *,
    pool: int,
    p_min: float,
    percentile: float,
    seed: int,
    batch_size: int,
    digest: str,
) -> tuple[list[Suggestion], dict[str, Any]]:
    seeds = [sample_seed(seed, c, i) for i in range(pool)]
    imgs = generate(G, c, seeds, batch_size=batch_size)
    probs, feats = classifier.probs_and_features(imgs)
    feats, pixels = normalise(feats), pixel_vectors(imgs)
    cls_f, cls_p = real_feats[members], real_pixels[members]
    f_thr, p_thr = memorisation_thresholds(cls_f, cls_p, percentile)
    ok = consistent(probs, c, p_min)
    if len(members):
        copy_mask, nn = memorised(feats, pixels, cls_f, cls_p, f_thr, p_thr)
    else:  # a class with no real image: nothing to copy, and no neighbour to report
        copy_mask = np.zeros(pool, bool)
        nn = {k: np.full(pool, -1.0) for k in ("nn_distance", "nn_index", "pixel_nn_distance")}
    survivors = np.flatnonzero(ok & ~copy_mask)
    order = survivors[np.argsort(-probs[survivors, c], kind="stable")]
    kept = drop_near_duplicates(feats, pixels, order, f_thr, p_thr)
    picked = kept[farthest_points(feats[kept], deficit)] if len(kept) else kept
    thresholds = {
        "p_min": p_min,
        "nn_distance": f_thr,
        "pixel_distance": p_thr,
        "percentile": percentile,
    }
    sugs = []
    for rank, i in enumerate(picked):
        nn_index = int(members[int(nn["nn_index"][i])]) if len(members) else -1
        scores = {
            "p_class": float(probs[i, c]),
            "nn_distance": float(nn["nn_distance"][i]),
            "pixel_nn_distance": float(nn["pixel_nn_distance"][i]),
            "nn_index": nn_index,
            "rank": rank,
            "thresholds": thresholds,
        }
        sugs.append(Suggestion(c, imgs[i], seeds[i], scores, digest))
    report = {
        "deficit": deficit,
        "pool": pool,
        "rejected_classifier": int((~ok).sum()),
        "rejected_memorised": int((ok & copy_mask).sum()),
        "memorised_any": int(copy_mask.sum()),
        "rejected_duplicate": int(len(survivors) - len(kept)),
        "not_selected": int(len(kept) - len(picked)),
        "accepted": len(sugs),
        "shortfall": deficit - len(sugs),
        "thresholds": thresholds,
    }
    return sugs, report
