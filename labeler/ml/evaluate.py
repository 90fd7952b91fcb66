"""The proof that suggestions help: the same classifier, budget and seed trained three ways,
scored on held-out real images, plus KID/FID of the generated images per class."""

from __future__ import annotations

from typing import Any

import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.progress import ShouldStop, StatsFn
from labeler.ml.classifier import Classifier, train_classifier, training_budget
from labeler.ml.data import check_images, check_labels
from labeler.ml.device import resolve_device
from labeler.ml.metrics import classification_report, fid, kid

ROWS = ("real", "real_balanced", "real_plus_generated")


def evaluate(
    train: tuple[np.ndarray, np.ndarray],
    heldout: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    generated: tuple[np.ndarray, np.ndarray] | None = None,
    steps: int | None = None,
    epochs: float | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: StatsFn | None = None,
    should_stop: ShouldStop | None = None,
    *,
    batch_size: int = 128,
    arch: str = "resnet18",
    reuse: Classifier | None = None,
    rows: tuple[str, ...] = ROWS,
) -> dict[str, Any]:
    """Train the small classifier on (1) real images, (2) real with class-balanced sampling,
    (3) real + accepted generated images with class-balanced sampling; score each on
    ``heldout`` real images. Same steps, batch size and seed for all three.

    Returns a JSON-ready dict: ``rows`` (name → accuracy, macro and thinnest-half recall/F1,
    per-class precision/recall/F1), ``generation`` (per class: KID mean/std and FID of generated
    vs held-out real images, on features of the real-balanced classifier), ``budget``, ``device``.
    Without ``generated`` the third row and the generation metrics are left out.

    ``reuse`` is a classifier already trained on the same real images (e.g. the one ``suggest``
    used); it stands in for the real-balanced row only if it was trained with exactly that row's
    budget (steps, batch size, seed, sampling, arch, device), which saves one training.
    ``rows`` picks which of the three rows to train (e.g. only the generated one, when the
    other two are already known from a run with the same budget and seed).
    """
    if not rows or set(rows) - set(ROWS):
        raise LabelerError(f"rows must be some of {', '.join(ROWS)}")
    x_tr, y_tr = check_images(train[0]), None
    y_tr = check_labels(train[1], len(x_tr), num_classes)
    x_te = check_images(heldout[0])
    y_te = check_labels(heldout[1], len(x_te), num_classes)
    dev, warning = resolve_device(device)
    if steps is None:
        steps = max(
            1, int(np.ceil((epochs if epochs is not None else 30) * len(x_tr) / batch_size))
        )
    counts = np.bincount(y_tr, minlength=num_classes)
    runs: list[tuple[str, np.ndarray, np.ndarray, bool]] = [
        ("real", x_tr, y_tr, False),
        ("real_balanced", x_tr, y_tr, True),
    ]
    if generated is not None and len(generated[0]):
        x_g = check_images(generated[0])
        y_g = check_labels(generated[1], len(x_g), num_classes)
        if x_g.shape[1:] != x_tr.shape[1:]:
            raise LabelerError("generated images must have the train images' size")
        runs.append(
            ("real_plus_generated", np.concatenate([x_tr, x_g]), np.concatenate([y_tr, y_g]), True)
        )
    out: dict[str, Any] = {
        "rows": {},
        "device": str(dev),
        "warnings": [warning] if warning else [],
        "budget": {"steps": steps, "batch_size": batch_size, "seed": seed, "arch": arch},
        "train_counts": counts.tolist(),
    }
    models: dict[str, Classifier] = {}
    runs = [r for r in runs if r[0] in rows]
    for name, x, y, balanced in runs:

        def row_progress(info: dict[str, Any], name: str = name) -> None:
            if progress is not None:
                progress({"row": name, **info})

        wanted = training_budget(steps, batch_size, seed, balanced, str(dev), len(x), arch=arch)
        if reuse is not None and name == "real_balanced" and reuse.budget == wanted:
            clf = reuse
            out["reused"] = name
        else:
            clf = train_classifier(
                x,
                y,
                num_classes,
                steps=steps,
                balanced=balanced,
                seed=seed,
                device=str(dev),
                progress=row_progress,
                should_stop=should_stop,
                batch_size=batch_size,
                arch=arch,
            )
        models[name] = clf
        report = classification_report(y_te, clf.predict(x_te), num_classes, counts)
        report["generated_images"] = int(len(x) - len(x_tr))
        out["rows"][name] = report
    if (v := verdict(out["rows"])) is not None:
        out["verdict"] = v
    if "real_plus_generated" in models and "real_balanced" in models:
        out["generation"] = generation_metrics(
            models["real_balanced"], x_g, y_g, x_te, y_te, num_classes, seed
        )
    return out


NO_CHANGE = 0.005  # a thin-class recall difference below this is reported as none


def verdict(rows: dict[str, Any]) -> dict[str, Any] | None:
    """The answer a user wants from the three rows: did the accepted generated samples raise
    thin-class recall above class balancing alone (the free baseline)? ``None`` without both rows.
    """
    if "real_balanced" not in rows or "real_plus_generated" not in rows:
        return None
    base = rows["real_balanced"]["thin_recall"]
    delta = rows["real_plus_generated"]["thin_recall"] - base
    if delta >= NO_CHANGE:
        text = (
            f"Generated samples raise thin-class recall by {delta:.3f} over class balancing"
            f" alone ({base:.3f} → {base + delta:.3f})."
        )
    elif delta <= -NO_CHANGE:
        text = (
            f"Generated samples lower thin-class recall by {-delta:.3f} against class balancing"
            f" alone ({base:.3f} → {base + delta:.3f}): rely on balancing, or train the generator"
            " longer and review more strictly."
        )
    else:
        text = f"Generated samples do not change thin-class recall ({base:.3f}) beyond balancing."
    return {"thin_recall_delta": delta, "helps": delta >= NO_CHANGE, "text": text}


def generation_metrics(
    clf: Classifier,
    x_gen: np.ndarray,
    y_gen: np.ndarray,
    x_real: np.ndarray,
    y_real: np.ndarray,
    num_classes: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-class KID (mean, std) and FID between generated and real images, in ``clf`` features.

    Classes with fewer than two images on either side get ``None`` scores.
    """
    _, f_gen = clf.probs_and_features(x_gen)
    _, f_real = clf.probs_and_features(x_real)
    per_class = []
    for c in range(num_classes):
        a, b = f_gen[y_gen == c], f_real[y_real == c]
        row: dict[str, Any] = {
            "class": c,
            "n_generated": int(len(a)),
            "n_real": int(len(b)),
            "kid": None,
            "kid_std": None,
            "fid": None,
        }
        if len(a) >= 2 and len(b) >= 2:
            row["kid"], row["kid_std"] = kid(a, b, seed=seed)
            row["fid"] = fid(a, b)
        per_class.append(row)
    scored = [r for r in per_class if r["kid"] is not None]
    return {
        "feature_source": "real_balanced classifier, penultimate layer",
        "per_class": per_class,
        "mean_kid": float(np.mean([r["kid"] for r in scored])) if scored else None,
        "mean_fid": float(np.mean([r["fid"] for r in scored])) if scored else None,
    }
