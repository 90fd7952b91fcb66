r"""GAN suggestions on CIFAR-10-LT inside one time budget: load, probe the GAN's throughput,
train the scoring classifier, train the GAN (checking when it becomes usable), suggest, and
evaluate every row over several seeds on the held-out test split.

Needs only torch, torchvision (with Pillow) and numpy, so it runs on a bare GPU machine (no
PySide6, no sqlite-utils). Progress goes to stderr with the elapsed and remaining time; the
JSON summary goes to stdout and, with ``--out DIR``, to ``DIR/summary.json`` (rewritten after
every phase, so a run cut short still leaves its figures) beside ``DIR/samples.png`` (accepted
suggestions, one row per class), ``DIR/generator.png`` (the generator's last sample grid) and
``DIR/gan-stats.jsonl``.

    python benchmarks/gan/bench_gan.py --quick --out /tmp/bench     # CPU smoke run, 1-2 minutes
    python benchmarks/gan/bench_gan.py --budget-minutes 9 --archive A --out DIR   # on a GPU

The budget: everything (data, probe, classifier, GAN, suggestion, evaluation) fits in
``--budget-minutes``. The evaluation is planned first (a timed classifier run gives the
seconds per step; epochs are chosen so the trainings of every row and seed take about
``--eval-share`` of the budget), the scoring classifier's real time corrects that plan, and the
GAN gets what is left less a margin. Past the budget plus ``--grace`` seconds the evaluation
stops and the summary says so.

The prepared GPU command, for one short device window: copy the archive to the ignored
``benchmarks/gan/data/`` here, then run on the device with carry ``["benchmarks/gan/data"]`` and
timeout_s 600. A ``--quick`` pass on the GPU comes first, so a broken CUDA path costs a minute,
not nine; the whole command takes about 9.5 minutes (quick ~40 s, then 8.5 minutes):

    mkdir -p benchmarks/gan/data && cp ../shared/data/cifar10-lt.tar.gz benchmarks/gan/data/

    PY=$(command -v python3 || command -v python); A=benchmarks/gan/data/cifar10-lt.tar.gz; \
    $PY benchmarks/gan/bench_gan.py --quick --device cuda --archive $A --out $OUT/quick \
        > $OUT/quick.json 2> $OUT/quick.err || { tail -40 $OUT/quick.err; exit 1; }; \
    tail -3 $OUT/quick.err; \
    $PY benchmarks/gan/bench_gan.py --budget-minutes 8.5 --archive $A --out $OUT/full \
        > $OUT/full.json 2> $OUT/full.err; tail -60 $OUT/full.err

Everything under ``$OUT`` comes back even if the command is cut off (``summary.json`` is
rewritten after every phase).

Options to compare what the literature says helps a small GAN's samples: ``--target``
(median, max), ``--tail-only`` (only the thinner half of the classes), ``--p-min`` (a stricter
classifier gate), ``--gen-weight`` (a generated image's loss weight); and for speed
``--gan-batch-size``, ``--compile``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.utils import save_image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from labeler.core.errors import LabelerError  # noqa: E402
from labeler.ml import evaluate as ev_mod  # noqa: E402
from labeler.ml.checkpoint import load_generator  # noqa: E402
from labeler.ml.classifier import train_classifier  # noqa: E402
from labeler.ml.data import load_image_folder  # noqa: E402
from labeler.ml.device import resolve_device  # noqa: E402
from labeler.ml.speed import measure_throughput  # noqa: E402
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
SUMMARY_KEYS = (
    "rows",
    "verdict",
    "throughput",
    "time_to_usable_s",
    "accepted",
    "accepted_per_class",
    "wall_s",
    "budget_s",
    "plan",
)
"""Keys every summary has (``None`` where a phase did not run)."""
CHECK_PER_CLASS = 100  # fixed-seed samples per class in each consistency check


class Clock:
    """Elapsed and remaining seconds of the budget, and the log line prefix."""

    def __init__(self, budget_s: float) -> None:
        self.t0, self.budget_s = time.monotonic(), budget_s

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    @property
    def left(self) -> float:
        return self.budget_s - self.elapsed

    def log(self, msg: str) -> None:
        print(
            f"[{self.elapsed:6.1f} s | {self.left:6.1f} s left] {msg}", file=sys.stderr, flush=True
        )


def _load(archive: Path, tmp: Path, fraction: float, limit_test: int | None):
    with tarfile.open(archive) as tar:
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


def _seconds_per_step(x, y, n, *, device, batch, arch) -> float:
    """Seconds per classifier step from a short timed run (after a warm-up run)."""
    kw = dict(device=device, batch_size=batch, arch=arch, balanced=True, seed=0)
    train_classifier(x, y, n, steps=3, **kw)  # warm-up: allocations, cuDNN's kernel choice
    t = time.monotonic()
    k = 12
    train_classifier(x, y, n, steps=k, **kw)
    return (time.monotonic() - t) / k


def _consistency(checkpoint: Path, clf, n: int, p_min: float, seed: int) -> list[float]:
    """Per class: the share of fixed-seed samples that pass the consistency gate."""
    G, _, _ = load_generator(checkpoint, clf.device)
    rates = []
    for c in range(n):
        imgs = generate(G, c, [sample_seed(seed + 999, c, i) for i in range(CHECK_PER_CLASS)])
        rates.append(float(consistent(clf.probs_and_features(imgs)[0], c, p_min).mean()))
    return rates


def _train_gan(a, clock: Clock, x_tr, y_tr, names, clf, run_dir: Path, gan_s_budget: float,
               steps_per_s: float):  # fmt: skip
    """Train the GAN in one call; at every snapshot (about every ``--check-every`` seconds)
    the per-class pass rate of fixed-seed samples. Usable: every class the suggestions fill
    passes often enough for the pool to fill it. Check time is left out of the GAN's time."""
    n = len(names)
    need = sorted(_fill_counts(a, np.bincount(y_tr, minlength=n))[1])
    curve: list[dict[str, Any]] = []
    seen: set[str] = set()
    state = {"usable_s": None, "check_s": 0.0}
    chunk_s = a.check_every or max(gan_s_budget / 6, 10.0)
    every = max(1, a.gan_steps // 3) if a.gan_steps else max(10, int(steps_per_s * chunk_s))
    t_start = time.monotonic()

    def check(path: Path, digest: str) -> None:
        if digest in seen:
            return
        seen.add(digest)
        gan_s = time.monotonic() - t_start - state["check_s"]
        t_c = time.monotonic()
        step = json.loads(path.with_suffix(".json").read_text())["step"]
        rates = _consistency(path, clf, n, a.p_min, a.seed)
        state["check_s"] += time.monotonic() - t_c
        curve.append(
            {"gan_s": round(gan_s, 1), "step": step, "pass_rate": [round(r, 3) for r in rates]}
        )
        worst = min((rates[c] for c in need), default=1.0)
        clock.log(f"gan {gan_s:.0f} s, step {step}: lowest pass rate of the filled {worst:.2f}")
        if state["usable_s"] is None and worst >= 1 / POOL_FACTOR:
            state["usable_s"] = gan_s

    budget = {"steps": a.gan_steps} if a.gan_steps else {"minutes": gan_s_budget / 60}
    res = train_gan(
        x_tr,
        y_tr,
        n,
        run_dir,
        device=a.device,
        batch_size=a.gan_batch_size,
        seed=a.seed,
        width=a.width,
        class_names=names,
        resume=False,
        compile=a.compile,
        lr_g=a.gan_lr,
        lr_d=a.gan_lr,
        snapshot_every=every,
        on_saved=check,
        progress=lambda d: (
            d["step"] % 500 == 0
            and clock.log(f"gan step {d['step']} {d['images_per_s']:.0f} images/s {d['losses']}")
        ),
        **budget,
    )
    total = time.monotonic() - t_start
    usable_s = state["usable_s"]
    gan = {
        "steps": res.step,
        "width": a.width,
        "batch_size": res.batch_size,
        "lr_g": res.lr_g,
        "lr_d": res.lr_d,
        "compiled": res.compiled,
        "train_s": round(total - state["check_s"], 1),
        "check_s": round(state["check_s"], 1),
        "check_every_steps": every,
        "train_images_per_s": round(res.images_per_s, 1),
        "device": res.device,
        "losses": res.losses,
        "warnings": res.warnings,
    }
    extra = {
        "consistency_curve": curve,
        "usable_pass_rate": 1 / POOL_FACTOR,
        "time_to_usable_s": None if usable_s is None else round(usable_s, 1),
    }
    return res, gan, extra


def _fill_counts(a, counts: np.ndarray) -> tuple[np.ndarray, dict[int, int], int]:
    """The counts ``suggest`` measures against, the deficits it will fill and the goal count:
    the median or the max; with ``--tail-only`` only the thinner half of the classes (the rest
    count as full)."""
    goal_deficits = deficits(counts, a.target)
    goal = int(max(counts[c] + d for c, d in goal_deficits.items())) if goal_deficits else 0
    if not a.tail_only:
        return counts, goal_deficits, goal
    thin = set(np.argsort(counts, kind="stable")[: len(counts) // 2].tolist())
    fill = np.array([n if c in thin else max(int(n), goal) for c, n in enumerate(counts)])
    return fill, {c: d for c, d in goal_deficits.items() if c in thin}, goal


def _write(out: Path | None, summary: dict[str, Any]) -> None:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / "summary.json.part"
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(out / "summary.json")


def _accepted_grid(x_gen: np.ndarray, y_gen: np.ndarray, n: int, path: Path, per_row: int = 16):
    """Accepted suggestions, one row per class that has any (up to ``per_row`` each)."""
    rows = []
    for c in range(n):
        imgs = x_gen[y_gen == c][:per_row]
        if len(imgs):
            pad = np.zeros((per_row - len(imgs), *imgs.shape[1:]), np.uint8)
            rows.append(np.concatenate([imgs, pad]))
    grid = torch.from_numpy(np.concatenate(rows)).permute(0, 3, 1, 2).float() / 255.0
    save_image(grid, path, nrow=per_row, padding=1)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-minutes", type=float, default=9.0, help="the whole run's wall time")
    p.add_argument("--archive", type=Path, default=ARCHIVE, help="cifar10-lt.tar.gz")
    p.add_argument("--out", type=Path, default=None, help="folder for summary.json and grids")
    p.add_argument("--quick", action="store_true", help="tiny CPU smoke run, 1-2 minutes")
    p.add_argument("--device", default="auto")
    p.add_argument("--seeds", type=int, default=3, help="classifier seeds per row")
    p.add_argument("--rows", nargs="+", default=list(ev_mod.ROWS), choices=ev_mod.ROWS)
    p.add_argument("--seed", type=int, default=0, help="the GAN's and the suggestions' seed")
    p.add_argument("--test-per-class", type=int, default=None, help="held-out images per class")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy CPU)")
    g = p.add_argument_group("GAN")
    g.add_argument("--width", default="base", choices=["tiny", "small", "base", "large"])
    g.add_argument("--gan-batch-size", type=int, default=None, help="default: from the device")
    g.add_argument("--gan-lr", type=float, default=None, help="default: scaled with the batch")
    g.add_argument("--compile", default="off", choices=["off", "on", "auto"])
    g.add_argument("--gan-minutes", type=float, default=None, help="default: what the plan leaves")
    g.add_argument("--gan-steps", type=int, default=None, help="GAN steps instead of minutes")
    g.add_argument("--check-every", type=float, default=None, help="seconds between checks")
    g.add_argument("--probe-cap", type=int, default=4096, help="largest batch the probe tries")
    g.add_argument("--probe-seconds", type=float, default=40.0, help="the probe's time limit")
    s = p.add_argument_group("suggestions")
    s.add_argument("--target", default="median", choices=["median", "max"])
    s.add_argument("--tail-only", action="store_true", help="fill only the thinner half")
    s.add_argument("--p-min", type=float, default=0.5, help="classifier-consistency threshold")
    s.add_argument(
        "--gen-weight", type=float, default=ev_mod.DEFAULT_GEN_WEIGHT, help="generated loss weight"
    )
    c = p.add_argument_group("classifier")
    c.add_argument("--arch", default="resnet18", choices=["resnet18", "small", "tiny"])
    c.add_argument("--clf-epochs", type=float, default=None, help="default: from the budget")
    c.add_argument("--clf-batch-size", type=int, default=None, help="default: from the device")
    c.add_argument("--max-clf-epochs", type=float, default=30.0)
    c.add_argument("--eval-share", type=float, default=0.4, help="budget share of the evaluation")
    c.add_argument("--grace", type=float, default=20.0, help="seconds past the budget, then stop")
    a = p.parse_args(argv)
    if not a.archive.is_file():
        p.error(f"no archive at {a.archive}: pass --archive PATH to cifar10-lt.tar.gz")
    if a.seeds < 1 or a.budget_minutes <= 0:
        p.error("--seeds and --budget-minutes must be positive")
    if a.device == "auto" and not a.quick and not torch.cuda.is_available():
        print("no CUDA GPU: running --quick; the real benchmark needs a GPU", file=sys.stderr)
        a.quick = True
    if a.quick:
        a.width, a.arch, a.gan_batch_size = "tiny", "tiny", a.gan_batch_size or 16
        a.gan_steps = a.gan_steps or 24
        a.clf_epochs = a.clf_epochs or 1.0
        a.clf_batch_size = a.clf_batch_size or 32
        a.probe_cap, a.budget_minutes = min(a.probe_cap, 32), min(a.budget_minutes, 3.0)
        a.p_min = 0.0  # an untrained classifier trusts nothing; let the smoke run fill rows
    return a


def main(argv: list[str] | None = None) -> dict[str, Any]:
    a = _parse(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    clock = Clock(a.budget_minutes * 60)
    dev, _ = resolve_device(a.device)
    a.device = str(dev)
    summary: dict[str, Any] = dict.fromkeys(SUMMARY_KEYS)
    summary |= {
        "cuda": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "device": str(dev),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "quick": a.quick,
        "budget_s": clock.budget_s,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
        "stopped": False,
    }
    out = a.out
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fraction, limit_test = (
            (0.04, a.test_per_class or 20) if a.quick else (1.0, a.test_per_class)
        )
        x_tr, y_tr, x_te, y_te, names = _load(a.archive, tmp, fraction, limit_test)
        n = len(names)
        counts = np.bincount(y_tr, minlength=n)
        clock.log(f"data: {len(x_tr)} train, {len(x_te)} test images, {n} classes")
        summary |= {"classes": names, "train_counts": counts.tolist(), "test_images": len(x_te)}

        # 1. Throughput: the chosen GAN batch beside the largest that fits, in one run.
        try:
            tp = measure_throughput(
                x_tr, y_tr, n, width=a.width, device=a.device, batch_size=a.gan_batch_size,
                cap=a.probe_cap, steps=2 if a.quick else 8, warmup=1 if a.quick else 3,
                max_seconds=a.probe_seconds,
            )  # fmt: skip
        except (RuntimeError, LabelerError) as exc:  # the figure is lost, not the run
            clock.log(f"throughput probe failed ({exc}); going on without it")
            tp = None
        summary["throughput"] = tp or {"error": "the probe failed; see the log"}
        if tp is not None:
            clock.log(
                f"GAN throughput: {tp['chosen_images_per_s']:.0f} images/s at batch"
                f" {tp['chosen_batch']}, {tp['largest_images_per_s']:.0f} at"
                f" {tp['largest_batch']} (largest that ran; {tp['limit']}): ratio {tp['ratio']:.2f}"
            )
            a.gan_batch_size = a.gan_batch_size or tp["chosen_batch"]
        _write(out, summary)

        # 2. Plan the evaluation: rows x seeds trainings of equal steps.
        clf_batch = a.clf_batch_size or ev_mod.default_batch_size(dev)
        trainings = len(a.rows) * a.seeds
        sps = _seconds_per_step(x_tr, y_tr, n, device=a.device, batch=clf_batch, arch=a.arch)
        steps_per_epoch = len(x_tr) / clf_batch
        epochs = a.clf_epochs
        if epochs is None:
            per_training = a.eval_share * clock.budget_s / (trainings + 1)
            epochs = min(a.max_clf_epochs, max(1.0, per_training / (sps * steps_per_epoch)))
            epochs = math.floor(epochs * 2) / 2
        clf_steps = max(1, math.ceil(epochs * steps_per_epoch))
        plan = {
            "trainings": trainings,
            "clf_batch_size": clf_batch,
            "clf_epochs": epochs,
            "clf_steps": clf_steps,
            "clf_s_per_step": round(sps, 4),
            "eval_estimate_s": round(trainings * clf_steps * sps, 1),
        }
        summary["plan"] = plan
        clock.log(
            f"plan: {trainings} classifier trainings of {epochs:g} epochs ({clf_steps} steps at"
            f" batch {clf_batch}), about {plan['eval_estimate_s']:.0f} s"
        )

        # 3. The scoring classifier: the balanced row's first seed, so evaluate can reuse it.
        t_clf = time.monotonic()
        clf = train_classifier(
            x_tr, y_tr, n, steps=clf_steps, balanced=True, seed=0, device=a.device,
            batch_size=clf_batch, arch=a.arch,
        )  # fmt: skip
        clf_s = time.monotonic() - t_clf
        real_rates = [
            float(consistent(clf.probs_and_features(x_te[y_te == c])[0], c, a.p_min).mean())
            for c in range(n)
        ]
        eval_s = trainings * clf_s * 1.1  # the measured training, plus scoring and KID/FID
        summary["classifier"] = {"arch": a.arch, "epochs": epochs, "train_s": round(clf_s, 1)}
        summary["real_test_pass_rate"] = [round(r, 3) for r in real_rates]
        plan["eval_measured_s"] = round(eval_s, 1)
        clock.log(f"classifier: {clf_s:.1f} s, so the evaluation takes about {eval_s:.0f} s")

        # 4. The GAN gets what is left, less the suggestion time and a margin.
        suggest_s = 5.0 if a.quick else 45.0 if a.target == "median" else 120.0
        margin = max(20.0, 0.08 * clock.budget_s)
        gan_s = a.gan_minutes * 60 if a.gan_minutes else clock.left - eval_s - suggest_s - margin
        if not a.gan_steps and gan_s < 30:
            clock.log(f"only {gan_s:.0f} s left for the GAN: training 30 s; the run may overrun")
            gan_s = 30.0
        plan |= {"gan_s": round(gan_s, 1), "suggest_estimate_s": suggest_s, "margin_s": margin}
        clock.log(f"GAN: {gan_s:.0f} s at batch {a.gan_batch_size}" if not a.gan_steps else
                  f"GAN: {a.gan_steps} steps at batch {a.gan_batch_size}")  # fmt: skip
        _write(out, summary)
        steps_per_s = (
            tp["chosen_images_per_s"] / (tp["chosen_batch"] * tp["d_steps"]) if tp else 5.0
        )
        res, gan, extra = _train_gan(
            a, clock, x_tr, y_tr, names, clf, tmp / "runs", gan_s, steps_per_s
        )
        summary |= {"gan": gan, **extra}
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            if res.sample_grid is not None:
                shutil.copyfile(res.sample_grid, out / "generator.png")
            if (res.run_dir / "stats.jsonl").is_file():  # none before the first log interval
                shutil.copyfile(res.run_dir / "stats.jsonl", out / "gan-stats.jsonl")
        _write(out, summary)

        # 5. Suggest and auto-accept every suggestion that passed the gates.
        t_s = time.monotonic()
        fill, todo, goal = _fill_counts(a, counts)
        sug = suggest(
            res.checkpoint, clf, (x_tr, y_tr), counts=fill, target=max(goal, 1), seed=a.seed,
            p_min=a.p_min, device=a.device,
        )  # fmt: skip
        kept = [s for s in sug.suggestions if s.class_id in todo]
        x_gen = np.stack([s.image for s in kept]) if kept else None
        y_gen = np.array([s.class_id for s in kept], dtype=np.int64)
        per_class = {
            str(c): {k: v for k, v in r.items() if k != "thresholds"}
            for c, r in sug.per_class.items()
        }
        summary |= {
            "accepted": len(kept),
            "accepted_per_class": np.bincount(y_gen, minlength=n).tolist(),
            "suggest": per_class,
            "suggest_s": round(time.monotonic() - t_s, 1),
        }
        clock.log(f"suggest: {len(kept)} accepted of {sum(todo.values())} wanted")
        if out is not None and x_gen is not None:
            _accepted_grid(x_gen, y_gen, n, out / "samples.png")
        _write(out, summary)

        # 6. Evaluate every row over the seeds; stop past the budget and say so.
        hard_stop = clock.budget_s + a.grace

        def progress(d: dict[str, Any]) -> None:
            if d.get("step", 0) % max(1, clf_steps // 2) == 0 or d.get("step") == d.get("steps"):
                clock.log(
                    f"eval {d['row']} seed {d['seed']} step {d['step']}/{d['steps']}"
                    f" (training {d.get('training', '?')} of {d.get('trainings', '?')})"
                )

        ev = ev_mod.evaluate(
            (x_tr, y_tr), (x_te, y_te), n,
            generated=(x_gen, y_gen) if x_gen is not None else None,
            steps=clf_steps, seeds=tuple(range(a.seeds)), device=a.device, progress=progress,
            should_stop=lambda: clock.elapsed > hard_stop, batch_size=clf_batch, arch=a.arch,
            reuse=clf, rows=tuple(a.rows), gen_weight=a.gen_weight,
        )  # fmt: skip
    metrics = ("accuracy", "macro_f1", "thin_recall", "thin_f1")
    summary |= {
        "rows": {
            row: {m: {k: v[m][k] for k in ("mean", "spread")} for m in metrics if m in v}
            for row, v in ev["summary"].items()
        },
        "verdict": ev.get("verdict"),
        "best_baseline": ev.get("best_baseline"),
        "reused_row": ev.get("reused"),
        "eval_estimated_s": ev.get("estimated_s"),
        "generation": {
            "mean_kid": (ev.get("generation") or {}).get("mean_kid"),
            "mean_fid": (ev.get("generation") or {}).get("mean_fid"),
        },
        "stopped": bool(ev.get("stopped")),
        "wall_s": round(clock.elapsed, 1),
    }
    for row, v in summary["rows"].items():
        clock.log(
            f"{row:>22}: "
            + ", ".join(f"{m} {s['mean']:.3f} ± {s['spread']:.3f}" for m, s in v.items())
        )
    if summary["verdict"] is None and ev_mod.GENERATED in a.rows and x_gen is None:
        summary["verdict"] = {
            "outcome": "no generated samples",
            "text": "No suggestion passed the gates, so there is no generated row to compare:"
            " train the GAN longer or lower --p-min.",
        }
    if summary["verdict"]:
        clock.log(summary["verdict"]["text"])
    if summary["stopped"]:
        clock.log("the evaluation was stopped at the budget: some rows are missing")
    _write(out, summary)
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
