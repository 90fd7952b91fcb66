"""The GAN panel without Qt: what its jobs are asked to do, what it loads for the review, what
it remembers between jobs, and the words it shows for progress and results.

The panel (`labeler.gui.gan_panel`) reads its controls, calls these, and puts what they return
on screen; everything here is testable without a window. torch is imported only inside
`probe_cuda` and `set_threads`, which run on a worker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labeler.core.images import BadImage, decode, read_file_bytes
from labeler.store.project import Project

TILE_SIDE = 88
"""Pixels per image in a review tile (32 px samples are enlarged without smoothing)."""
SAMPLE_POLL_S = 2.0
"""How often a training run's folder is looked at for a new sample grid."""
PROGRESS_EVERY_S = 0.2
"""Training reports every step; the panel repaints at most this often."""
THIN_RATIO = 2.0
"""A class with this many times fewer images than the largest is called out in the selector."""
EVAL_ROWS = (
    ("real", "Real"),
    ("real_balanced", "Balanced"),
    ("real_logit_adjusted", "Logit-adjusted"),
    ("real_drw", "DRW"),
    ("real_plus_generated", "+ Generated"),
)
EVAL_ROW_TIPS = (
    "Real train images, plain cross-entropy",
    "Real train images, every class drawn equally often",
    "Real train images, logit-adjusted loss (Menon et al. 2021; the same as Balanced Softmax)",
    "Real train images, deferred re-weighting: class weights for the last quarter of the steps",
    "Real train images plus the accepted generated ones (each weighing half a real image in the"
    " loss), trained with the best baseline's recipe",
)
GUI_SEEDS = 2
"""Seeds the panel's evaluation runs by default: the fewest a verdict can come from (the CLI
runs 3); the panel says so beside the control."""
EVAL_COLUMNS = (
    ("accuracy", "Accuracy"),
    ("macro_recall", "Macro recall"),
    ("thin_recall", "Thin recall"),
    ("thin_f1", "Thin F1"),
)
JOB_NAMES = {"train": "Training", "suggest": "Suggesting", "evaluate": "Evaluating"}
NO_GENERATOR = "No generator yet."


# -- work done on workers ----------------------------------------------------------------------
def set_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` when `n` is set (shared or test machines)."""
    if n:
        import torch

        torch.set_num_threads(n)


def probe_cuda() -> str | None:
    """The CUDA GPU's name, or None when torch sees none (imports torch: run it on a worker)."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def newest_samples(runs: Path) -> Path | None:
    """The newest ``samples-*.png`` of any training run under `runs`."""
    grids = list(runs.glob("*/samples-*.png")) if runs.is_dir() else []
    return max(grids, key=lambda p: (p.stat().st_mtime, p.name)) if grids else None


def sample_names(grid: Path) -> list[str]:
    """The class names of a sample grid's rows, from its run's ``options.json`` ([] when
    the file cannot be read)."""
    try:
        options = json.loads((grid.parent / "options.json").read_text())
        return list(options["config"].get("class_names") or [])
    except (OSError, ValueError, KeyError):
        return []


def small_pixels(
    path: Path, short_side: int | None = None, side: int = TILE_SIDE
) -> np.ndarray | None:
    """A file decoded no larger than a tile needs (JPEG's reduced decode where it fits), as
    a BGR array; None when it cannot be read."""
    r = next((r for r in (8, 4, 2) if short_side and short_side // r >= side), 1)
    try:
        return decode(read_file_bytes(path), reduced=r)
    except (BadImage, OSError):
        return None


def class_lines(stats: dict[str, Any], pending: dict[int, int]) -> list[tuple[int, str, int]]:
    """(class id, selector text, pending count) per class, calling out thin classes:
    ``"truck: 50 images, 100× fewer than airplane — 12 pending"``."""
    classes = stats["classes"]
    biggest = max(classes, key=lambda c: c["images"], default=None)
    out = []
    for c in classes:
        n, k = c["images"], pending.get(c["id"], 0)
        text = f"{c['name']}: {n} image{'s' if n != 1 else ''}"
        if biggest is not None and c is not biggest and n > 0:
            ratio = biggest["images"] / n
            if ratio >= THIN_RATIO:
                text += f", {ratio:.0f}× fewer than {biggest['name']}"
        if k:
            text += f" — {k} pending"
        out.append((c["id"], text, k))
    return out


def pending_lines(project: Project) -> list[tuple[int, str, int]]:
    """The class selector's lines as the project is now."""
    from labeler.store.gan import pending_counts

    return class_lines(project.stats(), pending_counts(project))


def load_review(
    project: Project,
    class_id: int | None,
    *,
    prefer_pending: bool = False,
    pixels: Callable[..., Any] = small_pixels,
) -> dict[str, Any]:
    """What the review side shows: the class selector's lines, and the pending suggestions of
    one class (the given one, else the first with any; with `prefer_pending` also when the
    given one has none) decoded small (`pixels(path[, short_side])`) beside their nearest real
    image, the latest generator and the newest sample grid's path."""
    from labeler.app.gan import gan_folder
    from labeler.store.gan import latest_generator, list_suggestions, pending_counts

    pending = pending_counts(project)
    lines = class_lines(project.stats(), pending)
    if class_id is None or (prefer_pending and not pending.get(class_id) and pending):
        class_id = next((cid for cid, _t, k in lines if k), lines[0][0] if lines else None)
    tiles = []
    for s in list_suggestions(project, status="pending", class_id=class_id):
        nn = project.image(s.nn_image_id) if s.nn_image_id is not None else None
        tiles.append(
            {
                "id": s.id,
                "seed": s.seed,
                "scores": s.scores,
                "image": pixels(project.resolve(s.path)),
                "nn": pixels(project.resolve(nn), min(nn.width, nn.height)) if nn else None,
                "nn_name": Path(nn.path).name if nn else None,
                "nn_id": s.nn_image_id,
            }
        )
    tiles.sort(key=lambda t: t["scores"].get("rank", 0))
    gen = latest_generator(project)
    return {
        "lines": lines,
        "class_id": class_id,
        "tiles": tiles,
        "generator": None
        if gen is None
        else {"step": gen.step, "resolution": gen.resolution, "width": _run_width(gen.run_dir)},
        "samples": newest_samples(gan_folder(project) / "runs"),
    }


class TrainWatcher:
    """Training's progress callback (runs on the worker): forwards progress at most every
    `PROGRESS_EVERY_S`, and the path of a newly written sample grid when one appears in the
    run folder (looked for every `SAMPLE_POLL_S`)."""

    def __init__(
        self,
        runs: Path,
        emit_progress: Callable[[dict], None],
        emit_samples: Callable[[Path], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runs = runs
        self.emit_progress = emit_progress
        self.emit_samples = emit_samples
        self.clock = clock
        self.last_emit = float("-inf")
        self.last_look = clock()
        self.seen = newest_samples(runs)

    def __call__(self, info: dict[str, Any]) -> None:
        now = self.clock()
        if now - self.last_emit >= PROGRESS_EVERY_S:
            self.last_emit = now
            self.emit_progress(dict(info))
        if now - self.last_look >= SAMPLE_POLL_S:
            self.look_for_samples()

    def look_for_samples(self, force: bool = False) -> None:
        self.last_look = self.clock()
        newest = newest_samples(self.runs)
        if newest is not None and (force or newest != self.seen):
            self.seen = newest
            self.emit_samples(newest)


# -- the options of the jobs, from what the controls show -------------------------------------
def training_options(
    *,
    resolution: str,
    width: str,
    budget: str,
    steps: int,
    minutes: int,
    device: str,
    batch_size: int,
) -> dict[str, Any]:
    """The keyword arguments for `labeler.app.gan.train`: a budget of steps or of minutes."""
    by_steps = budget == "steps"
    return {
        "resolution": int(resolution),
        "width": width,
        "steps": steps if by_steps else None,
        "minutes": None if by_steps else float(minutes),
        "device": device,
        "batch_size": batch_size,
    }


def suggestion_options(
    *, target: str, count: int, device: str, arch: str, classifier_epochs: int, p_min: float
) -> dict[str, Any]:
    """The keyword arguments for `labeler.app.gan.suggest`: the target is ``median``,
    ``max``, or the number in `count` when `target` is ``count``."""
    return {
        "target": count if target == "count" else target,
        "device": device,
        "arch": arch,
        "classifier_epochs": float(classifier_epochs),
        "p_min": p_min,
    }


def evaluation_options(
    *, epochs: int, device: str, arch: str, seeds: int = GUI_SEEDS
) -> dict[str, Any]:
    """The keyword arguments for `labeler.app.gan.evaluate`."""
    return {"epochs": float(epochs), "device": device, "arch": arch, "seeds": int(seeds)}


def evaluation_start_text(options: dict[str, Any]) -> str:
    """What the panel says when an evaluation starts, before the estimate arrives."""
    seeds = options.get("seeds", GUI_SEEDS)
    return (
        f"Training {len(EVAL_ROWS) - 1} baselines and the generated row, {seeds}"
        f" seed{'s' if seeds != 1 else ''} each; measuring how long it will take…"
    )


# -- what the panel remembers ------------------------------------------------------------------
@dataclass
class GanSession:
    """The GAN panel's state between jobs: the device, the class under review, the job that
    runs, the training budget and the suggestions whose decision is being written."""

    cuda_known: bool = False
    cuda_name: str | None = None
    wanted_class: int | None = None
    job_kind: str | None = None  # "train" | "suggest" | "evaluate" while one runs
    train_budget: dict[str, Any] = field(default_factory=dict)
    first_step: int | None = None
    deciding: set[int] = field(default_factory=set)
    estimate: str = ""  # the running job's measured estimate, kept beside its progress

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "job_kind":  # a new job (or none) forgets the last one's estimate
            object.__setattr__(self, "estimate", "")
        object.__setattr__(self, name, value)

    def on_cpu(self, chosen: str, device_in_use: str | None = None) -> bool:
        """Whether the CPU warning shows: the device a running job reported, else the choice
        (``auto`` means the CPU once the probe found no CUDA GPU)."""
        if device_in_use:
            return device_in_use.startswith("cpu")
        return chosen == "cpu" or (chosen == "auto" and self.cuda_known and not self.cuda_name)

    def cuda_text(self) -> str:
        if self.cuda_name:
            return f"CUDA is available: {self.cuda_name}. Training and scoring use it."
        return "CUDA is not available: every job runs on the CPU."

    def start_training(self, options: dict[str, Any]) -> None:
        self.train_budget = dict(options)
        self.first_step = None

    def train_progress(self, info: dict[str, Any]) -> tuple[int, int, str, str]:
        """(bar value, bar maximum (0: busy), bar text, status line) for a training report."""
        step = int(info.get("step", 0))
        if self.first_step is None:
            self.first_step = step - 1  # a resumed run counts from where it started
        done = step - self.first_step
        steps = self.train_budget.get("steps")
        eta = info.get("eta_s")
        losses = " ".join(f"{k} {v:.3f}" for k, v in (info.get("losses") or {}).items())
        status = (
            f"Step {step} · {info.get('images_per_s', 0):,.0f} images/s"
            + (f" · losses: {losses}" if losses else "")
            + (f" · ETA {duration(eta)}" if eta else "")
            + f" · on {info.get('device', '')}"
        )
        bar = f"step {step}" + (f" · ETA {duration(eta)}" if eta else "")
        return (min(done, steps) if steps else 0), (steps or 0), bar, status

    def job_progress(self, info: dict[str, Any]) -> str | None:
        """The status line for a suggestion or evaluation report (None: nothing to say)."""
        if info.get("estimated_s") is not None:
            self.estimate = estimate_text(self.job_kind, info)
            return self.estimate
        if self.job_kind == "suggest" and "classes" in info:
            return f"Generating: class {info['classes_done']} of {info['classes']}…"
        if self.job_kind == "evaluate" and "row" in info:
            row = dict(EVAL_ROWS).get(info["row"], info["row"])
            text = f"{row}, seed {info.get('seed', 0)}: step {info.get('step', 0)} of"
            text += f" {info.get('steps', '?')}"
            if info.get("trainings"):
                text += f" (training {info.get('training', 1)} of {info['trainings']})"
            return text + "…" + (f" {self.estimate}" if self.estimate else "")
        return None

    def failure_text(self, message: str) -> str:
        return f"{JOB_NAMES.get(self.job_kind or '', 'The job')} failed: {message}"

    def begin_decision(self, ids: list[int]) -> list[int]:
        """The ids not already being written (a tile is never decided twice); marks them."""
        fresh = [i for i in ids if i not in self.deciding]
        self.deciding |= set(fresh)
        return fresh

    def end_decision(self, ids: list[int]) -> None:
        self.deciding -= set(ids)


# -- words for results -------------------------------------------------------------------------
def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def training_done(result: dict[str, Any]) -> tuple[str, str]:
    """(bar text, status line) once training returned."""
    step, device = result["step"], result["device"]
    how = "Stopped" if result.get("stopped") else "Trained"
    status = (
        f"{how} at step {step} on {device} ({result.get('images_per_s', 0):,.0f} images/s,"
        f" {result.get('train_images', 0)} real train images)."
        + (" Start continues from the checkpoint." if result.get("stopped") else "")
    )  # the run's only warning, the CPU fallback, is the panel's warning line
    return f"{how} at step {step}", status


def generator_text(generator: dict[str, Any]) -> str:
    width = f", width {generator['width']}" if generator.get("width") else ""
    return (
        f"Generator at step {generator['step']} ({generator['resolution']} px{width}). Start"
        " continues it at its resolution and width; another starts a new run."
    )


def _run_width(run_dir: str) -> str | None:
    """The network width a run was trained at, from its ``options.json`` (None when that
    cannot be read: the panel then leaves its width as it is)."""
    try:
        with open(Path(run_dir) / "options.json", encoding="utf-8") as f:
            options = json.loads(f.read(64 * 1024))
        width = (options.get("config") or {}).get("width")
    except (OSError, ValueError, AttributeError):
        return None
    return width if isinstance(width, str) else None


def suggestion_summary(data: dict[str, Any]) -> str:
    """Two lines on a suggestion round: how many wait, and what each gate turned away."""
    per_class = data.get("per_class", {})
    if not per_class:
        return "Every class already reaches the target: nothing to suggest."
    n = len(data.get("suggestions", []))

    def total(key: str) -> int:
        return sum(int(c.get(key, 0)) for c in per_class.values())

    return (
        f"{n} suggestion{'s' if n != 1 else ''} for {len(per_class)} class(es) waiting for"
        f" review.\nTurned away: {total('rejected_classifier')} by the classifier,"
        f" {total('rejected_memorised')} too close to a real image (memorised),"
        f" {total('rejected_duplicate')} near-duplicates of each other."
    )


def suggestion_details(data: dict[str, Any]) -> str:
    """One line per class: kept of generated, and why the others were turned away."""
    return "\n".join(
        f"{name}: {c.get('accepted', 0)} kept of {c.get('pool', 0)} generated"
        f" (rejected: classifier {c.get('rejected_classifier', 0)},"
        f" memorised {c.get('rejected_memorised', 0)},"
        f" duplicate {c.get('rejected_duplicate', 0)})"
        for name, c in data.get("per_class", {}).items()
    )


def estimate_text(kind: str | None, info: dict[str, Any]) -> str:
    """The measured estimate of the classifier training(s) a job is about to run."""
    took = duration(float(info["estimated_s"]))
    if kind == "suggest":
        text = (
            f"Training the suggestion classifier ({info.get('arch')}, {info.get('steps')}"
            f" steps): about {took}."
        )
    else:
        text = f"{info.get('trainings', '?')} classifier trainings: about {took} in all."
    if info.get("arch") == "resnet18" and str(info.get("device", "")).startswith("cpu"):
        text += " On a CPU the small classifier trains many times faster."
    return text


def evaluation_cells(data: dict[str, Any]) -> list[list[str]]:
    """The evaluation table's text, one row per `EVAL_ROWS`, one column per `EVAL_COLUMNS`:
    mean ± spread over the seeds (the spread left out for one seed)."""
    summary = data.get("summary", {})
    return [
        [_score(summary.get(key, {}).get(col)) for col, _t in EVAL_COLUMNS] for key, _t in EVAL_ROWS
    ]


def _score(value: dict[str, float] | None) -> str:
    if value is None:
        return "—"
    if len(value.get("values", ())) < 2:
        return f"{value['mean']:.3f}"
    return f"{value['mean']:.3f} ± {value['spread']:.3f}"


def evaluation_status(data: dict[str, Any]) -> str:
    """Where the scores come from, the seeds, the best baseline, and the verdict."""
    summary = data.get("summary", {})
    seeds = data.get("seeds", [0])
    n = len(seeds)
    parts = [
        f"Scored on the real {data.get('heldout_split', 'val')} split, on"
        f" {data.get('device', '?')}; {n} seed{'s' if n != 1 else ''}"
        + (f", each cell mean ± {data.get('spread', 'std')}." if n > 1 else ".")
    ]
    best = data.get("best_baseline")
    if best:
        parts.append(f"Best baseline: {dict(EVAL_ROWS).get(best, best)}.")
    if "real_plus_generated" not in summary:
        parts.append("No accepted suggestions yet: the + Generated row is empty.")
    verdict = (data.get("verdict") or {}).get("text", "")
    if verdict:
        parts.append(verdict)
    return " ".join(parts)


def tile_caption(scores: dict[str, float]) -> str:
    return (
        f"p {scores.get('p_class', float('nan')):.2f}"
        f" · nn {scores.get('nn_distance', float('nan')):.2f}"
    )


def tile_tooltip(tile: dict[str, Any]) -> str:
    s = tile["scores"]
    nn = f"image #{tile['nn_id']} ({tile['nn_name']})" if tile["nn_id"] is not None else "none"
    return (
        f"Suggestion #{tile['id']} (seed {tile['seed']})\n"
        f"Class probability: {s.get('p_class', 0):.3f}\n"
        f"Distance to the nearest real image: {s.get('nn_distance', 0):.3f}"
        f" (pixels: {s.get('pixel_nn_distance', 0):.3f})\nNearest real image: {nn}"
    )


def review_status(visible: int, chosen: int) -> str:
    if not visible:
        return "Nothing to review for this class."
    return f"{visible} pending" + (f", {chosen} selected" if chosen else "")
