"""The proof that suggestions help: the same classifier and budget trained with the baselines
the long-tail literature says work, and with the accepted generated images added, over several
seeds; each scored on held-out real images; plus KID/FID of the generated images per class.

The rows (``ROWS``):
- ``real``: plain cross-entropy, images drawn uniformly;
- ``real_balanced``: cross-entropy, every class drawn equally often;
- ``real_logit_adjusted``: the logit-adjusted loss (Menon et al. 2021, tau = 1; the same loss
  as Balanced Softmax), images drawn uniformly;
- ``real_drw``: deferred re-weighting (Cao et al. 2019): cross-entropy, then effective-number
  class weights for the last quarter of the steps;
- ``real_plus_generated``: the best baseline's recipe (highest mean thin-class recall over the
  seeds; ties go to the higher mean accuracy) on real + generated images, each generated image
  weighing ``gen_weight`` in the loss.

The verdict compares the generated row with the best baseline by the rule in ADR 0103.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.progress import ShouldStop, StatsFn
from labeler.ml.classifier import (
    Classifier,
    default_batch_size,
    default_lr,
    estimate_training_seconds,
    train_classifier,
    training_budget,
    weights_digest,
)
from labeler.ml.data import check_images, check_labels
from labeler.ml.device import resolve_device
from labeler.ml.metrics import classification_report, fid, kid

GENERATED = "real_plus_generated"
RECIPES: dict[str, dict[str, Any]] = {
    "real": {"balanced": False, "loss": "ce"},
    "real_balanced": {"balanced": True, "loss": "ce"},
    "real_logit_adjusted": {"balanced": False, "loss": "logit_adjusted"},
    "real_drw": {"balanced": False, "loss": "drw"},
}
"""How each baseline row trains (arguments of ``train_classifier``)."""
BASELINES = tuple(RECIPES)
ROWS = (*BASELINES, GENERATED)
METRICS = ("accuracy", "macro_recall", "macro_f1", "thin_recall", "thin_f1")
DEFAULT_GEN_WEIGHT = 0.5
"""A generated image's weight in the loss (a real image's is 1). Generated samples help only
when they count for less than real ones (DiffuLT down-weights its synthetic samples; GAN samples
alone train far worse classifiers than real ones, the Classification Accuracy Score paper):
half a real image adds the tail's missing variety without letting a GAN's artefacts outvote
the real images."""
DEFAULT_SEEDS = 3
SPREAD = "std"
"""Rows are mean ± the sample standard deviation over the seeds (ddof 1; 0 for one seed)."""
FLOOR = 0.005
"""A difference below this is never called a change, however small the spread (ADR 0103)."""
MAX_SEEDS = 20


def check_seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """``seeds`` as a tuple of distinct non-negative ints; an int N means seeds 0..N-1.

    >>> check_seeds(3)
    (0, 1, 2)
    """
    if isinstance(seeds, bool):
        raise LabelerError("seeds must be a count or a list of seeds")
    if isinstance(seeds, (int, np.integer)):
        if not 1 <= int(seeds) <= MAX_SEEDS:
            raise LabelerError(f"the number of seeds must be 1..{MAX_SEEDS}, not {seeds}")
        return tuple(range(int(seeds)))
    out = tuple(seeds)
    if not out or len(out) > MAX_SEEDS:
        raise LabelerError(f"give 1..{MAX_SEEDS} seeds, not {len(out)}")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in out):
        raise LabelerError(f"seeds must be non-negative integers, not {list(out)}")
    if len(set(out)) != len(out):
        raise LabelerError(f"seeds must be distinct, not {list(out)}")
    return tuple(int(s) for s in out)


def check_gen_weight(w: float) -> float:
    """A generated image's loss weight: finite, 0..1 (it never counts more than a real one)."""
    try:
        w = float(w)
    except (TypeError, ValueError):
        raise LabelerError(f"the generated images' weight must be a number, not {w!r}") from None
    if not (math.isfinite(w) and 0.0 <= w <= 1.0):
        raise LabelerError(f"the generated images' weight must be between 0 and 1, not {w}")
    return w


def evaluate(
    train: tuple[np.ndarray, np.ndarray],
    heldout: tuple[np.ndarray, np.ndarray],
    num_classes: int,
    generated: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: float | None = None,
    steps: int | None = None,
    seeds: int | Sequence[int] = (0,),
    device: str = "auto",
    progress: StatsFn | None = None,
    should_stop: ShouldStop | None = None,
    *,
    batch_size: int | None = None,
    arch: str = "resnet18",
    reuse: Classifier | None = None,
    rows: Sequence[str] = ROWS,
    gen_weight: float = DEFAULT_GEN_WEIGHT,
    generated_recipe: str | None = None,
) -> dict[str, Any]:
    """Train the classifier once per row and seed, score each on ``heldout`` real images.

    The same steps, batch size and seeds for every row. ``seeds`` is a list of seeds or a
    count N (seeds 0..N-1). ``batch_size`` None chooses it from the device. The generated row
    (only with ``generated``) uses the best trained baseline's recipe, or ``generated_recipe``
    (a baseline's name) when no baseline is in ``rows``.

    Returns a JSON-ready dict: ``summary`` (row → metric → ``{"mean", "spread", "values"}``,
    spread = sample std over seeds), ``rows`` (row → ``{"recipe", "generated_images",
    "seeds": [per-seed report: accuracy, macro and thinnest-half recall/F1, per class]}``),
    ``baseline_rows``, ``best_baseline``, ``verdict`` (None without a generated row),
    ``generation`` (per class: KID/FID of generated vs held-out real images, on the features
    of the best baseline's first-seed classifier), ``budget``, ``estimated_s``, ``device``.

    ``reuse`` is a classifier already trained on the same real images (e.g. the one ``suggest``
    used); it stands in for the row and seed whose budget it matches exactly (the balanced row
    at seed 0, for ``suggest``'s classifier), which saves one training.

    ``progress`` gets ``{"row", "seed", "step", "steps", ...}``; the first report (step 0)
    carries ``estimated_s``, the measured estimate of the whole run's training time.
    """
    rows = tuple(rows)
    if not rows or set(rows) - set(ROWS):
        raise LabelerError(f"rows must be some of {', '.join(ROWS)}")
    seeds = check_seeds(seeds)
    gen_weight = check_gen_weight(gen_weight)
    if generated_recipe is not None and generated_recipe not in BASELINES:
        raise LabelerError(f"generated_recipe must be one of {', '.join(BASELINES)}")
    x_tr = check_images(train[0])
    y_tr = check_labels(train[1], len(x_tr), num_classes)
    x_te = check_images(heldout[0])
    y_te = check_labels(heldout[1], len(x_te), num_classes)
    dev, warning = resolve_device(device)
    batch_size = batch_size or default_batch_size(dev)
    if steps is None:
        steps = max(
            1, int(np.ceil((epochs if epochs is not None else 30) * len(x_tr) / batch_size))
        )
    counts = np.bincount(y_tr, minlength=num_classes)
    x_g = y_g = None
    if generated is not None and len(generated[0]):
        x_g = check_images(generated[0])
        y_g = check_labels(generated[1], len(x_g), num_classes)
        if x_g.shape[1:] != x_tr.shape[1:]:
            raise LabelerError("generated images must have the train images' size")
    baselines = [r for r in BASELINES if r in rows]
    with_generated = GENERATED in rows and x_g is not None
    if with_generated and not baselines and generated_recipe is None:
        raise LabelerError(
            "the generated row takes the best baseline's recipe: train a baseline row too, or"
            " name the recipe (generated_recipe)"
        )
    trainings = len(seeds) * (len(baselines) + int(with_generated))
    out: dict[str, Any] = {
        "summary": {},
        "rows": {},
        "baseline_rows": baselines,
        "best_baseline": None,
        "verdict": None,
        "seeds": list(seeds),
        "spread": SPREAD,
        "device": str(dev),
        "warnings": [warning] if warning else [],
        "budget": {
            "steps": steps,
            "batch_size": batch_size,
            "lr": default_lr(batch_size),
            "seeds": list(seeds),
            "arch": arch,
            "gen_weight": gen_weight,
        },
        "train_counts": counts.tolist(),
    }
    est = estimate_training_seconds(
        len(x_tr), num_classes, steps, batch_size=batch_size, arch=arch, device=str(dev),
        resolution=x_tr.shape[1],
    )  # fmt: skip
    out["estimated_s"] = est * trainings
    out["trainings"] = trainings
    first = (baselines or [GENERATED])[0]
    if progress is not None:
        progress(
            {"row": first, "seed": seeds[0], "step": 0, "steps": steps, "trainings": trainings,
             "training": 0, "estimated_s": out["estimated_s"]}
        )  # fmt: skip
    done = [0]
    first_models: dict[str, Classifier] = {}

    def run_row(name: str, x: np.ndarray, y: np.ndarray, recipe: dict[str, Any], iw) -> bool:
        reports = []
        for seed in seeds:
            if should_stop is not None and should_stop():
                return False

            def row_progress(info: dict[str, Any], seed: int = seed) -> None:
                if progress is not None:
                    progress(
                        {"row": name, "seed": seed, "trainings": trainings,
                         "training": done[0] + 1, **info}
                    )  # fmt: skip

            digest = weights_digest(iw)
            wanted = training_budget(
                steps, batch_size, seed, recipe["balanced"], str(dev), len(x), arch=arch,
                loss=recipe["loss"], image_weights=digest,
            )  # fmt: skip
            if reuse is not None and reuse.budget == wanted:
                clf = reuse
                out["reused"] = name
            else:
                clf = train_classifier(
                    x, y, num_classes, steps=steps, seed=seed, device=str(dev),
                    progress=row_progress, should_stop=should_stop, batch_size=batch_size,
                    arch=arch, image_weights=iw, **recipe,
                )  # fmt: skip
                if clf.budget is None:  # stopped part-way: its scores would mislead
                    return False
            done[0] += 1
            if seed == seeds[0]:
                first_models[name] = clf
            report = classification_report(y_te, clf.predict(x_te), num_classes, counts)
            reports.append({"seed": seed, **report})
        out["rows"][name] = {
            "recipe": dict(recipe),
            "generated_images": int(len(x) - len(x_tr)),
            "seeds": reports,
        }
        out["summary"][name] = summarise(reports)
        return True

    unscored = sorted(set(range(num_classes)) - set(np.unique(y_te).tolist()))
    if unscored:
        out["warnings"].append(
            f"{len(unscored)} class(es) have no held-out image and are left out of the macro and"
            f" thin-class means: class id(s) {', '.join(map(str, unscored))}"
        )
        out["unscored_classes"] = unscored
    for name in baselines:
        if not run_row(name, x_tr, y_tr, RECIPES[name], None):
            out["stopped"] = True
            return out
    if baselines:
        out["best_baseline"] = best_baseline(out["summary"])
    if with_generated:
        recipe_name = out["best_baseline"] or generated_recipe
        x = np.concatenate([x_tr, x_g])
        y = np.concatenate([y_tr, y_g])
        iw = np.concatenate([np.ones(len(x_tr)), np.full(len(x_g), gen_weight)])
        if not run_row(GENERATED, x, y, RECIPES[recipe_name], iw):
            out["stopped"] = True
            return out
        out["rows"][GENERATED] |= {"recipe_of": recipe_name, "gen_weight": gen_weight}
        if out["best_baseline"] is not None:
            out["verdict"] = verdict(out["summary"], out["best_baseline"], len(seeds))
            if out["best_baseline"] in first_models:
                out["generation"] = generation_metrics(
                    first_models[out["best_baseline"]], x_g, y_g, x_te, y_te, num_classes,
                    seeds[0],
                )  # fmt: skip
    return out


def summarise(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric: the mean and spread (sample std, ddof 1; 0 for one seed) over the seeds."""
    out = {}
    for m in METRICS:
        values = [float(r[m]) for r in reports if r.get(m) is not None]
        if not values:
            continue
        spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        out[m] = {"mean": float(np.mean(values)), "spread": spread, "values": values}
    return out


BASELINE_NAMES = {
    "real": "plain cross-entropy",
    "real_balanced": "class-balanced sampling",
    "real_logit_adjusted": "logit-adjusted loss",
    "real_drw": "deferred re-weighting",
}
"""How a verdict names each baseline (a row's key is not words)."""


def best_baseline(summary: dict[str, dict[str, Any]]) -> str:
    """The baseline with the highest mean thin-class recall; a tie goes to the higher mean
    accuracy, then to the earlier row (the simpler recipe)."""
    names = [n for n in BASELINES if n in summary]
    if not names:
        raise LabelerError("no baseline row to choose from")
    return max(
        names,
        key=lambda n: (
            round(summary[n].get("thin_recall", {"mean": -1.0})["mean"], 12),
            round(summary[n]["accuracy"]["mean"], 12),
            -names.index(n),
        ),
    )


def verdict(
    summary: dict[str, dict[str, Any]], best: str | None = None, n_seeds: int | None = None
) -> dict[str, Any] | None:
    """Did the generated images help beyond the best baseline? The rule (ADR 0103):

    - gain = mean thin-class recall (generated) − mean thin-class recall (best baseline);
      noise = the larger of the two rows' spreads (sample std over seeds), and never below
      ``FLOOR``. The same for accuracy.
    - "better": gain > noise, and accuracy not lower than the baseline's by more than its noise;
    - "worse": thin-class recall lower by more than its noise, or accuracy lower by more than
      its noise;
    - otherwise "no measurable difference".
    - With one seed there is no spread to measure against: "not measurable with one seed".

    ``best`` None: chosen by ``best_baseline``. None without a generated row or a baseline.
    """
    if GENERATED not in summary:
        return None
    if best is None:
        if not any(n in summary for n in BASELINES):
            return None
        best = best_baseline(summary)
    gen, base = summary[GENERATED], summary[best]
    label = BASELINE_NAMES.get(best, best.replace("_", " "))
    if "thin_recall" not in gen or "thin_recall" not in base:
        return {
            "outcome": "not measurable",
            "text": (
                "Not measurable: the held-out split holds no image of the thinnest classes, so"
                " no row's thin-class recall can be scored; split again so that every class has"
                " held-out images."
            ),
            "best_baseline": best,
            "seeds": n_seeds,
            "helps": False,
        }
    n = n_seeds if n_seeds is not None else len(gen["thin_recall"].get("values", [0]))
    d_recall = gen["thin_recall"]["mean"] - base["thin_recall"]["mean"]
    d_acc = gen["accuracy"]["mean"] - base["accuracy"]["mean"]
    noise_r = max(gen["thin_recall"]["spread"], base["thin_recall"]["spread"], FLOOR)
    noise_a = max(gen["accuracy"]["spread"], base["accuracy"]["spread"], FLOOR)
    figures = (
        f"thin-class recall {base['thin_recall']['mean']:.3f} → {gen['thin_recall']['mean']:.3f}"
        f" ({d_recall:+.3f}, seed-to-seed spread ±{noise_r:.3f}), accuracy"
        f" {base['accuracy']['mean']:.3f} → {gen['accuracy']['mean']:.3f} ({d_acc:+.3f},"
        f" ±{noise_a:.3f})"
    )
    if n < 2:
        outcome = "not measurable"
        one = (
            f"thin-class recall {base['thin_recall']['mean']:.3f} →"
            f" {gen['thin_recall']['mean']:.3f} ({d_recall:+.3f}), accuracy"
            f" {base['accuracy']['mean']:.3f} → {gen['accuracy']['mean']:.3f} ({d_acc:+.3f})"
        )  # no spread to quote: one seed has none
        text = (
            f"Not measurable with one seed: against the best baseline ({label}), {one}; run"
            " with 3 seeds to tell a change from seed-to-seed noise."
        )
    elif d_recall > noise_r and d_acc >= -noise_a:
        outcome = "better"
        text = f"Better: the generated samples beat the best baseline ({label}): {figures}."
    elif d_recall < -noise_r or d_acc < -noise_a:
        outcome = "worse"
        why = (
            f"against the best baseline ({label}) the generated samples raise thin-class recall"
            " but cost more accuracy than the seed-to-seed spread"
            if d_recall > noise_r
            else f"the best baseline ({label}) without generated samples does better"
        )
        text = (
            f"Worse: {why}: {figures}. Rely on the baseline, or train the generator longer and"
            " review more strictly."
        )
    else:
        outcome = "no measurable difference"
        text = (
            f"No measurable difference from the best baseline ({label}) over {n} seeds: {figures}."
        )
    return {
        "outcome": outcome,
        "text": text,
        "best_baseline": best,
        "seeds": n,
        "thin_recall_delta": d_recall,
        "accuracy_delta": d_acc,
        "thin_recall_noise": noise_r,
        "accuracy_noise": noise_a,
        "helps": outcome == "better",
    }


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
        "feature_source": "the best baseline's classifier (first seed), penultimate layer",
        "per_class": per_class,
        "mean_kid": float(np.mean([r["kid"] for r in scored])) if scored else None,
        "mean_fid": float(np.mean([r["fid"] for r in scored])) if scored else None,
    }
