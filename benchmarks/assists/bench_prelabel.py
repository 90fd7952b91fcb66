"""Pre-labels on CIFAR-10-LT (issue 18): how often a proposal is right, what it saves in key
presses, and uncertainty order against random order.

Data: /work/shared/data/cifar10-lt.tar.gz (read here directly; tests never do), train split
(long-tailed, 5000 airplanes to 50 trucks) as the project, its balanced test split (1,000 per
class) as the yardstick for the model. The model is exactly what ``labeler prelabel`` runs
(``labeler.ml.prelabel.prelabel``: the health classifier's features and logistic regression,
k-fold held-out balanced accuracy, the same bar).

1. With 10, 50 and 200 labelled images per class (fewer where the class has fewer), the rest of
   the train split unlabeled: held-out balanced accuracy, whether Labeler would offer the
   proposals (the bar), and the share of unlabeled images whose proposal is right.
2. Key presses per correctly labelled image over the unlabeled images, for an annotator who
   checks every image: without proposals a class key and a next key (2); with proposals one
   key ("accept and next") when the proposal is right, else a class key and a next key.
3. Active learning: from 10 per class, label 5 rounds of 200 images chosen by the model's
   uncertainty or at random (the annotator uses the proposals while labelling them); the
   balanced accuracy of the model on the test split after each round, the key presses spent.

    .venv/bin/python benchmarks/assists/bench_prelabel.py [--data PATH] [--pool N]
    .venv/bin/python benchmarks/assists/bench_prelabel.py --model cnn [--arch tiny] [--epochs E]

``--model cnn`` runs parts 1-2 with the GAN's small classifier (`prelabel_cnn`: a training per
fold and one on everything, class-balanced sampling); ResNet-18 wants a GPU.
"""

from __future__ import annotations

import argparse
import tarfile
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from labeler.core.health.classifier import image_features
from labeler.ml.prelabel import prelabel, prelabel_cnn

DATA = Path("/work/shared/data/cifar10-lt.tar.gz")


def load(
    tar: Path, split: str, limit: int | None, rng
) -> tuple[np.ndarray, np.ndarray, list, np.ndarray]:
    """Features, labels, class names and the RGB pixels (for the CNN) of one split."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tar) as t:
            members = [m for m in t.getmembers() if m.isfile() and f"/{split}/" in m.name]
            t.extractall(tmp, members=members, filter="data")
        files = sorted(Path(tmp).rglob("*.jpg"))
        classes = sorted({f.parent.name for f in files})
        if limit is not None and len(files) > limit:
            files = [files[i] for i in sorted(rng.choice(len(files), limit, replace=False))]
        bgr = [cv2.imread(str(f)) for f in files]
        x = np.stack([image_features(b) for b in bgr])
        rgb = np.stack([cv2.cvtColor(b, cv2.COLOR_BGR2RGB) for b in bgr])
        y = np.array([classes.index(f.parent.name) for f in files])
    return x, y, classes, rgb


def balanced(pred: np.ndarray, y: np.ndarray, n: int) -> float:
    return float(np.mean([(pred[y == k] == k).mean() for k in range(n) if (y == k).any()]))


def keys(right: np.ndarray) -> float:
    """Key presses per correctly labelled image with proposals (annotator always right)."""
    return float(np.where(right, 1, 2).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--pool", type=int, default=None, help="cap on train images (speed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", choices=["features", "cnn"], default="features")
    ap.add_argument("--arch", choices=["resnet18", "tiny"], default="resnet18", help="cnn")
    ap.add_argument("--epochs", type=float, default=30.0, help="cnn: passes per training")
    ap.add_argument("--device", default="auto", help="cnn: auto, cuda or cpu")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    x, y, classes, px = load(args.data, "train", args.pool, rng)
    xt, yt, _, _ = load(args.data, "test", None, rng)
    n = len(classes)
    print(f"CIFAR-10-LT: {len(y)} train images ({np.bincount(y).max()} to {np.bincount(y).min()}"
          f" per class), {len(yt)} test; features in {time.perf_counter() - t0:.0f} s")  # fmt: skip

    name = args.model if args.model == "features" else f"cnn:{args.arch}, {args.epochs:g} epochs"
    print(f"\n1-2. proposals for the unlabeled train images ({name})")
    print(f"{'per class':>9} {'labelled':>8} {'held-out bal.acc':>16} {'offered':>8}"
          f" {'right':>6} {'right (bal.)':>12} {'keys w/o':>8} {'keys with':>9} {'ratio':>6}")  # fmt: skip
    for k in (10, 50, 200):
        lab = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in range(n)])
        rest = np.setdiff1d(np.arange(len(y)), lab)
        t = time.perf_counter()
        if args.model == "cnn":
            r = prelabel_cnn(
                px[lab], y[lab], px[rest], n, seed=args.seed, epochs=args.epochs,
                arch=args.arch, device=args.device,
            )  # fmt: skip
        else:
            r = prelabel(x[lab], y[lab], x[rest], n, seed=args.seed)
        right = r.classes == y[rest]
        with_p = keys(right)
        print(
            f"{k:>9} {len(lab):>8} {r.balanced_accuracy:>16.3f} {'yes' if r.good_enough else 'no':>8}"
            f" {right.mean():>6.3f} {balanced(r.classes, y[rest], n):>12.3f} {2.0:>8.2f}"
            f" {with_p:>9.2f} {with_p / 2:>6.2f}   ({time.perf_counter() - t:.1f} s)"
        )

    if args.model == "cnn":
        return  # the active-learning loop trains 50+ models: features only
    print("\n3. active learning from 10 per class: 5 rounds of 200 labels")
    start = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:10] for c in range(n)])
    for order in ("uncertainty", "random"):
        lab = start.copy()
        spent = 0
        accs = []
        order_rng = np.random.default_rng(args.seed + 1)
        for _round in range(5):
            rest = np.setdiff1d(np.arange(len(y)), lab)
            r = prelabel(x[lab], y[lab], x[rest], n, seed=args.seed)
            if order == "uncertainty":
                pick = rest[np.argsort(-r.uncertainty, kind="stable")[:200]]
                chosen = np.argsort(-r.uncertainty, kind="stable")[:200]
            else:
                chosen = order_rng.choice(len(rest), 200, replace=False)
                pick = rest[chosen]
            spent += int(np.where(r.classes[chosen] == y[pick], 1, 2).sum())
            lab = np.concatenate([lab, pick])
            test = prelabel(x[lab], y[lab], xt, n, seed=args.seed)
            accs.append(balanced(test.classes, yt, n))
        rest = np.setdiff1d(np.arange(len(y)), lab)
        final = prelabel(x[lab], y[lab], x[rest], n, seed=args.seed)
        print(
            f"{order:>11}: test balanced accuracy by round "
            + " ".join(f"{a:.3f}" for a in accs)
            + f"; {spent} keys for 1000 labels ({spent / 1000:.2f} per image);"
            f" then right on {(final.classes == y[rest]).mean():.3f} of the rest,"
            f" {keys(final.classes == y[rest]):.2f} keys per image"
        )


if __name__ == "__main__":
    main()
