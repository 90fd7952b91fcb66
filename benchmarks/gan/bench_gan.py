"""GAN suggestions on CIFAR-10-LT, end to end: train the GAN, suggest up to the median, accept
the top-ranked suggestions, and evaluate the classifier three ways on the held-out test split.

Needs only torch, torchvision (with Pillow) and numpy, so it runs on a bare GPU machine:

    python benchmarks/gan/bench_gan.py --minutes 20            # full run on CUDA
    python benchmarks/gan/bench_gan.py --quick                 # tiny CPU smoke run (~1 minute)

Prints one JSON summary on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import save_image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from labeler.ml.checkpoint import load_generator  # noqa: E402
from labeler.ml.classifier import (  # noqa: E402
    load_classifier,
    save_classifier,
    train_classifier,
)
from labeler.ml.data import load_image_folder  # noqa: E402
from labeler.ml.evaluate import ROWS, evaluate  # noqa: E402
from labeler.ml.suggest import (  # noqa: E402
    POOL_FACTOR,
    consistent,
    deficits,
    generate,
    sample_seed,
    suggest,
)
from labeler.ml.train import train_gan  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-lt.tar.gz"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load(tmp: Path, fraction: float, limit_test: int | None):
    with tarfile.open(ARCHIVE) as tar:
        tar.extractall(tmp, filter="data")
    base = tmp / "cifar10-lt"
    x_tr, y_tr, names = load_image_folder(base / "train")
    x_te, y_te, _ = load_image_folder(base / "test", class_names=names, limit_per_class=limit_test)
    if fraction < 1:  # keep the long tail's shape: the same fraction of every class
        keep = np.concatenate(
            [
                np.flatnonzero(y_tr == c)[: max(2, int(np.ceil(fraction * n)))]
                for c, n in enumerate(np.bincount(y_tr))
            ]
        )
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    return x_tr, y_tr, x_te, y_te, names


def _throughput(x, y, n, run_dir: Path, width: str, batch: int, device: str, steps: int) -> float:
    """Images/s of GAN training after a short warm-up run (warm-up excluded from the figure)."""
    kw = dict(width=width, batch_size=batch, device=device, log_every=10**9, snapshot_every=10**9)
    train_gan(x, y, n, run_dir, steps=2, resume=False, **kw)
    r = train_gan(x, y, n, run_dir, steps=steps, **kw)
    return r.images_per_s


def _consistency(checkpoint: Path, clf, n: int, per_class: int, p_min: float, seed: int):
    """Per class: the share of ``per_class`` fixed-seed samples that pass the consistency gate."""
    G, _, _ = load_generator(checkpoint, clf.device)  # read once, not once per class
    rates = []
    for c in range(n):
        imgs = generate(G, c, [sample_seed(seed + 999, c, i) for i in range(per_class)])
        rates.append(float(consistent(clf.probs_and_features(imgs)[0], c, p_min).mean()))
    return rates


def _train_with_curve(a, x_tr, y_tr, names, clf, run_dir: Path, gan_batch: int):
    """Train the GAN in chunks; after each, the per-class pass rate of fixed-seed samples."""
    n = len(names)
    need = sorted(deficits(np.bincount(y_tr, minlength=n), "median"))
    chunk = a.check_minutes or a.minutes
    curve, usable_s, gan_s, res = [], None, 0.0, None
    while True:
        if a.steps:
            left_steps = a.steps - (res.step if res else 0)
            if left_steps <= 0:
                break
            budget = dict(steps=left_steps, minutes=None)
        else:
            left = a.minutes - gan_s / 60
            if left <= 1e-3:
                break
            budget = dict(steps=None, minutes=min(chunk, left))
        t_g = time.monotonic()
        res = train_gan(
            x_tr,
            y_tr,
            n,
            run_dir,
            device=a.device,
            batch_size=gan_batch,
            seed=a.seed,
            width=a.width,
            class_names=names,
            resume=res is not None,
            progress=lambda d: d["step"] % 200 == 0 and _log(f"gan step {d['step']} {d['losses']}"),
            **budget,
        )
        gan_s += time.monotonic() - t_g
        rates = _consistency(res.checkpoint, clf, n, 100, a.p_min, a.seed)
        curve.append(
            {"gan_s": round(gan_s, 1), "step": res.step, "pass_rate": [round(r, 3) for r in rates]}
        )
        _log(f"gan {gan_s:.0f} s, step {res.step}: pass rates {rates}")
        # Usable: every class below the target passes often enough for the 10x pool to fill it.
        if usable_s is None and min((rates[c] for c in need), default=1.0) >= 1 / POOL_FACTOR:
            usable_s = gan_s
    _log(f"GAN: {res.step} steps on {res.device} at {res.images_per_s:.1f} images/s")
    gan = {
        "steps": res.step,
        "width": a.width,
        "batch_size": gan_batch,
        "train_s": round(gan_s, 1),
        "train_images_per_s": round(res.images_per_s, 1),
        "device": res.device,
        "losses": res.losses,
    }
    extra = {
        "consistency_curve": curve,
        "usable_pass_rate": 1 / POOL_FACTOR,
        "time_to_usable_s": None if usable_s is None else round(usable_s, 1),
    }
    return res.checkpoint, gan, extra


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny CPU smoke run, about a minute")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=None, help="GAN steps (default: from --minutes)")
    p.add_argument("--minutes", type=float, default=20.0, help="GAN training time budget")
    p.add_argument("--check-minutes", type=float, default=None, help="consistency check interval")
    p.add_argument("--width", default="base", choices=["tiny", "small", "base", "large"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--gan-batch-size", type=int, default=None, help="default: --batch-size")
    p.add_argument("--clf-epochs", type=float, default=30.0, help="classifier budget per row")
    p.add_argument("--p-min", type=float, default=0.5, help="classifier-consistency threshold")
    p.add_argument("--test-per-class", type=int, default=None, help="held-out images per class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=Path, default=None, help="keep the run folder here")
    p.add_argument("--gan-checkpoint", type=Path, help="use this generator; no GAN training")
    p.add_argument("--classifier", type=Path, help="use this saved classifier; no training")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS, help="rows to train")
    a = p.parse_args()
    if a.device == "auto" and not a.quick and not torch.cuda.is_available():
        # `make bench` on a machine without a GPU: the full run would take hours on the CPU.
        _log("no CUDA GPU: running the --quick smoke version; the real benchmark needs a GPU")
        a.quick = True
    if a.quick:
        a.steps, a.width, a.batch_size, a.clf_epochs = 30, "tiny", 16, 1.0
        a.gan_batch_size = None
        # An untrained classifier trusts nothing; let the smoke run reach the third row.
        a.p_min = 0.0
    fraction, limit_test = (0.04, 20) if a.quick else (1.0, a.test_per_class)
    arch = "tiny" if a.quick else "resnet18"
    gan_batch = a.gan_batch_size or a.batch_size
    t0 = time.monotonic()
    summary: dict = {
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "quick": a.quick,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        x_tr, y_tr, x_te, y_te, names = _load(tmp, fraction, limit_test)
        n = len(names)
        _log(f"data: {len(x_tr)} train, {len(x_te)} test images, {n} classes")
        summary |= {
            "classes": names,
            "train_counts": np.bincount(y_tr, minlength=n).tolist(),
            "test_images": len(x_te),
        }
        run_dir = a.keep or tmp / "runs"
        if a.gan_checkpoint is None:
            steps = 5 if a.quick else 50 if torch.cuda.is_available() else 10
            ips = _throughput(x_tr, y_tr, n, tmp / "speed", a.width, gan_batch, a.device, steps)
            _log(f"GAN throughput: {ips:.1f} real images/s")
            summary["gan_images_per_s"] = round(ips, 1)
        # The classifier first: it judges the generator while it trains (time to usable).
        t_clf = time.monotonic()
        if a.classifier:
            clf = load_classifier(a.classifier, device=a.device)
        else:
            clf = train_classifier(
                x_tr,
                y_tr,
                n,
                epochs=a.clf_epochs,
                balanced=True,
                seed=a.seed,
                device=a.device,
                batch_size=a.batch_size,
                arch=arch,
            )
            if a.keep:
                a.keep.mkdir(parents=True, exist_ok=True)
                save_classifier(clf, a.keep / "classifier.pt")
        real_rates = [
            float(consistent(clf.probs_and_features(x_te[y_te == c])[0], c, a.p_min).mean())
            for c in range(n)
        ]
        _log(f"classifier: {time.monotonic() - t_clf:.0f} s; real test pass rates {real_rates}")
        summary["classifier"] = {
            "arch": arch,
            "epochs": a.clf_epochs,
            "train_s": round(time.monotonic() - t_clf, 1),
            "loaded": bool(a.classifier),
        }
        summary["real_test_pass_rate"] = [round(r, 3) for r in real_rates]
        if a.gan_checkpoint is None:
            checkpoint, gan, extra = _train_with_curve(
                a, x_tr, y_tr, names, clf, run_dir, gan_batch
            )
            summary |= {"gan": gan, **extra}
        else:
            checkpoint = a.gan_checkpoint
        sug = suggest(
            checkpoint, clf, (x_tr, y_tr), target="median", seed=a.seed, p_min=a.p_min,
            device=a.device,
        )  # fmt: skip
        # Auto-accept: every suggestion that passed the gates (they are already top-ranked).
        x_gen = np.stack([s.image for s in sug.suggestions]) if sug.suggestions else None
        y_gen = np.array([s.class_id for s in sug.suggestions])
        _log(f"suggest: {len(sug.suggestions)} accepted")
        if x_gen is not None and a.keep:
            order = np.argsort(y_gen, kind="stable")[:400]
            grid = torch.from_numpy(x_gen[order]).permute(0, 3, 1, 2) / 255.0
            save_image(grid, a.keep / f"accepted-p{a.p_min:g}.png", nrow=20)
        summary |= {
            "suggest": {
                str(c): {k: v for k, v in r.items() if k != "thresholds"}
                for c, r in sug.per_class.items()
            },
            "accepted": len(sug.suggestions),
            "p_min": a.p_min,
        }
        ev = evaluate(
            (x_tr, y_tr),
            (x_te, y_te),
            n,
            generated=(x_gen, y_gen) if x_gen is not None else None,
            epochs=a.clf_epochs,
            seed=a.seed,
            device=a.device,
            batch_size=a.batch_size,
            arch=arch,
            reuse=clf,
            rows=tuple(a.rows),
            progress=lambda d: d["step"] % 100 == 0 and _log(f"eval {d['row']} step {d['step']}"),
        )
    metrics = ("accuracy", "macro_f1", "thin_recall", "thin_f1")
    summary |= {
        "rows": {k: {m: v[m] for m in metrics} for k, v in ev["rows"].items()},
        "reused_row": ev.get("reused"),
        "per_class_recall": {
            k: [c["recall"] for c in v["per_class"]] for k, v in ev["rows"].items()
        },
        "generation": {
            "mean_kid": ev.get("generation", {}).get("mean_kid"),
            "mean_fid": ev.get("generation", {}).get("mean_fid"),
        },
        "wall_s": round(time.monotonic() - t0, 1),
    }
    print(json.dumps(summary, indent=2))
    if a.keep:
        (a.keep / f"summary-p{a.p_min:g}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
