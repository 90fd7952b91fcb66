"""GAN jobs on a project: train on the real train split, suggest for thin classes, review,
and evaluate whether the accepted samples help.

The use cases over `labeler.ml` (which needs only torch and numpy, for headless GPU machines,
and never reads the project) and `labeler.store.gan` (generators and suggestions as stored).
Checkpoints, the suggestion classifier and suggestion images live in the project's media
folder (`NAME_media/gan/`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.files import sha256_file
from labeler.core.images import BadImage, decode, probe_file, read_file_bytes
from labeler.core.shapes import Shape
from labeler.store.gan import Generator as StoredGenerator
from labeler.store.gan import (
    add_generator,
    add_suggestions,
    latest_generator,
    list_suggestions,
    pending_counts,
    record_checkpoint,
    recorded_checkpoint,
    reject_suggestions,
    require_pending,
    suggestion_rounds,
)
from labeler.store.project import Project

ProgressDict = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainSet:
    """Real images of one split as arrays, with the project's class ids in index order."""

    images: np.ndarray  # uint8 (N, R, R, 3) RGB
    labels: np.ndarray  # int64 (N,), indices into class_ids
    image_ids: list[int]
    class_ids: list[int]
    class_names: list[str]
    unreadable: tuple[str, ...] = ()  # project paths of images that could not be decoded

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.image_ids, self.class_ids]).encode())
        h.update(str(self.images.shape).encode())
        return h.hexdigest()


def gan_folder(project: Project) -> Path:
    return project.media_folder / "gan"


def load_split(
    project: Project, split: str, resolution: int, *, generated: bool = False
) -> TrainSet:
    """Images of `split` whose shapes all carry one class, resized to `resolution` squares.

    Only real images are read unless `generated` (the accepted suggestions) is asked for."""
    classes = project.classes()
    class_ids = [c.id for c in classes]
    index = {cid: k for k, cid in enumerate(class_ids)}
    shapes = project.all_shapes()
    pixels, labels, ids, unreadable = [], [], [], []
    for img in project.images(split=split):
        if (img.provenance == "generated") != generated:
            continue
        owned = {s.class_id for s in shapes.get(img.id, ())}
        if len(owned) != 1:
            continue
        try:
            bgr = decode(read_file_bytes(project.resolve(img)), reduced=_reduction(img, resolution))
        except BadImage:
            unreadable.append(img.path)  # said in the result (`skipped_warnings`), not hidden
            continue
        rgb = cv2.cvtColor(
            cv2.resize(bgr, (resolution, resolution), interpolation=cv2.INTER_AREA),
            cv2.COLOR_BGR2RGB,
        )
        pixels.append(rgb)
        labels.append(index[owned.pop()])
        ids.append(img.id)
    images = np.stack(pixels) if pixels else np.zeros((0, resolution, resolution, 3), np.uint8)
    return TrainSet(
        images, np.array(labels, np.int64), ids, class_ids, [c.name for c in classes],
        tuple(unreadable),
    )  # fmt: skip


def skipped_warnings(*sets: tuple[str, TrainSet]) -> list[str]:
    """One line per split whose images could not all be read: how many were left out and
    the first of them (`labeler health` lists them all)."""
    return [
        f"{len(ts.unreadable)} image(s) of the {name} split could not be read and were left"
        f" out, e.g. {ts.unreadable[0]} (labeler health lists them)"
        for name, ts in sets
        if ts.unreadable
    ]


def _reduction(img, resolution: int) -> int:
    # Decode no larger than needed: the smallest DCT scale that still covers the target size.
    for r in (8, 4, 2):
        if min(img.width, img.height) // r >= resolution:
            return r
    return 1


def _require_train(ts: TrainSet) -> None:
    present = len(set(ts.labels.tolist()))
    if len(ts.images) == 0:
        raise LabelerError(
            "no labelled train images: run 'labeler split' first (the GAN learns from the train"
            " split only)"
        )
    if present < 2:
        raise LabelerError("the GAN needs labelled train images of at least two classes")


def train(
    project: Project,
    *,
    resolution: int = 32,
    steps: int | None = None,
    minutes: float | None = None,
    device: str = "auto",
    width: str = "base",
    batch_size: int | None = None,
    seed: int = 0,
    progress: ProgressDict | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Train (or resume) the project's GAN on its real train split; records the generator."""
    from labeler.ml.train import train_gan

    ts = load_split(project, "train", resolution)
    _require_train(ts)

    def trusted(path: Path, digest: str) -> bool:
        return recorded_checkpoint(project, path) == digest

    def on_saved(path: Path, digest: str) -> None:
        record_checkpoint(project, path, digest)

    result = train_gan(
        ts.images,
        ts.labels,
        len(ts.class_ids),
        gan_folder(project) / "runs",
        resolution=resolution,
        steps=steps,
        minutes=minutes,
        device=device,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
        should_stop=should_stop,
        width=width,
        class_names=ts.class_names,
        trusted=trusted,
        on_saved=on_saved,
    )
    generator_id = add_generator(
        project,
        run_dir=str(result.run_dir),
        checkpoint=str(result.checkpoint),
        sha256=result.checkpoint_sha256,
        step=result.step,
        resolution=resolution,
        class_ids=ts.class_ids,
    )
    out = result.to_json() | {"generator": generator_id, "train_images": len(ts.images)}
    out["warnings"] = list(out.get("warnings") or []) + skipped_warnings(("train", ts))
    return out


def _classifier_path(project: Project, ts: TrainSet, arch: str) -> Path:
    return gan_folder(project) / f"classifier-{arch}-{ts.fingerprint()[:16]}.pt"


def _classifier(
    project: Project,
    ts: TrainSet,
    device: str,
    epochs: float,
    arch: str,
    progress: ProgressDict | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The suggestion classifier for this train set, trained once and cached by fingerprint,
    and what it cost: before a training starts, `progress` gets its measured estimate
    (``{"stage": "classifier", "estimated_s", "steps", "arch", "device"}``)."""
    from labeler.ml.classifier import (
        default_batch_size,
        estimate_training_seconds,
        save_classifier,
        train_classifier,
    )
    from labeler.ml.device import resolve_device

    path = _classifier_path(project, ts, arch)
    dev = str(resolve_device(device)[0])
    batch = default_batch_size(dev)
    steps = max(1, math.ceil(epochs * len(ts.images) / batch))
    info: dict[str, Any] = {"arch": arch, "epochs": epochs, "cached": False}
    if path.exists():
        clf, why = _cached_classifier(path, device, steps, batch, len(ts.images))
        if clf is not None:
            info["cached"] = True
            return clf, info
        # A cache is only a cache: one that is damaged, changed or of another budget is
        # trained again, and the result says why.
        info["retrained"] = why
    n_classes = len(ts.class_ids)
    est = estimate_training_seconds(
        len(ts.images), n_classes, steps, batch_size=batch, arch=arch, device=dev,
        resolution=ts.images.shape[1],
    )  # fmt: skip
    info |= {"steps": steps, "batch_size": batch, "device": dev, "estimated_s": est}
    if progress is not None:
        progress({"stage": "classifier", **info})
    started = time.monotonic()
    clf = train_classifier(
        ts.images, ts.labels, n_classes, epochs=epochs, balanced=True, seed=0,
        device=device, arch=arch, should_stop=should_stop,
    )  # fmt: skip
    info["train_s"] = time.monotonic() - started
    if clf.budget is None:  # stopped part-way: not worth keeping
        return clf, info
    path.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(clf, path)
    return clf, info


def _cached_classifier(
    path: Path, device: str, steps: int | None = None, batch: int = 0, n_images: int = 0
) -> tuple[Any, str | None]:
    """The cached suggestion classifier when it is the file that was saved (its SHA-256 as
    the sidecar recorded it) and, given ``steps``, was trained with this budget; else None
    and why not."""
    from labeler.ml.classifier import load_classifier

    try:
        side = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        recorded = side.get("sha256") if isinstance(side, dict) else None
    except (OSError, ValueError):
        recorded = None
    try:
        same = recorded is not None and sha256_file(path) == recorded
    except (OSError, LabelerError):
        same = False
    if not same:
        return None, "the cached classifier changed on disk since it was saved"
    try:
        clf = load_classifier(path, device=device)
    except LabelerError:
        return None, "the cached classifier could not be read"
    budget = clf.budget or {}
    if steps is not None and (
        budget.get("steps"),
        budget.get("batch_size"),
        budget.get("num_images"),
    ) != (
        steps,
        batch,
        n_images,
    ):
        return None, "the cached classifier was trained with another budget"
    return clf, None


def suggest(
    project: Project,
    *,
    target: str | int = "median",
    device: str = "auto",
    classifier_epochs: float = 30,
    arch: str = "resnet18",
    p_min: float = 0.5,
    progress: ProgressDict | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Generate, filter and store pending suggestions for classes below `target`.

    When `should_stop()` turns true between classes, the classes already done are stored
    and the result says `cancelled`."""
    from labeler.ml.suggest import suggest as run_suggest

    gen = latest_generator(project)
    if gen is None:
        raise LabelerError("no generator yet: run 'labeler gan train' first")
    ts = load_split(project, "train", gen.resolution)
    _require_train(ts)
    if ts.class_ids != gen.class_ids:
        raise LabelerError("the classes changed since the generator was trained: train it again")
    require_recorded_checkpoint(project, gen)
    clf, clf_info = _classifier(project, ts, device, classifier_epochs, arch, progress, should_stop)
    if should_stop is not None and should_stop():
        return {"per_class": {}, "suggestions": [], "cancelled": True, "classifier": clf_info,
                "memorisation_rejected": 0}  # fmt: skip
    # Counts that already include accepted and pending samples, so rounds do not overshoot.
    counts = np.bincount(ts.labels, minlength=len(ts.class_ids))
    extra = load_split(project, "train", gen.resolution, generated=True)
    counts += np.bincount(extra.labels, minlength=len(ts.class_ids))
    pending = pending_counts(project)
    counts += np.array([pending.get(cid, 0) for cid in ts.class_ids])
    round_seed = suggestion_rounds(project, gen.id)  # a fresh seed each round: no repeats
    result = run_suggest(
        gen.checkpoint, clf, (ts.images, ts.labels), counts=counts, target=target,
        p_min=p_min, seed=round_seed, device=device, progress=progress, should_stop=should_stop,
    )  # fmt: skip
    folder = gan_folder(project) / "suggestions"
    rows = []
    for s in result.suggestions:
        nn = s.scores.get("nn_index")
        rows.append(
            {
                "class_id": ts.class_ids[s.class_id],
                "seed": s.seed,
                "scores": s.scores,
                "nn_image_id": ts.image_ids[nn] if nn is not None else None,
                "rgb": s.image,
            }
        )
    ids = add_suggestions(project, gen.id, round_seed, rows, folder)
    data = result.to_json()
    data["per_class"] = {
        ts.class_names[int(k)]: v for k, v in data["per_class"].items()
    }  # names, not indices
    data["suggestions"] = [
        {
            "id": i,
            "class": ts.class_names[s.class_id],
            **s.to_json(),
            "class_id": ts.class_ids[s.class_id],
        }
        for i, s in zip(ids, result.suggestions, strict=True)
    ]
    data["cancelled"] = bool(should_stop and should_stop())
    data["classifier"] = clf_info
    data["warnings"] = data.get("warnings", []) + skipped_warnings(("train", ts))
    data["memorisation_rejected"] = sum(
        v.get("rejected_memorised", 0) for v in data["per_class"].values()
    )
    return data


def evaluate(
    project: Project,
    *,
    epochs: float | None = None,
    steps: int | None = None,
    device: str = "auto",
    arch: str = "resnet18",
    resolution: int | None = None,
    seeds: int | Sequence[int] = 3,
    gen_weight: float | None = None,
    batch_size: int | None = None,
    heldout_split: str = "val",
    progress: ProgressDict | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """The baselines (plain, balanced, logit-adjusted, DRW) and real + accepted generated
    images with the best baseline's recipe, over `seeds`, scored on the real held-out split;
    the verdict compares the generated row with the best baseline (`labeler.ml.evaluate`).

    Stopping raises `LabelerError`: scores of half-trained classifiers would mislead."""
    from labeler.ml.evaluate import DEFAULT_GEN_WEIGHT, check_gen_weight, check_seeds
    from labeler.ml.evaluate import evaluate as run_evaluate

    seeds = check_seeds(seeds)  # refused before any image is read
    gen_weight = check_gen_weight(DEFAULT_GEN_WEIGHT if gen_weight is None else gen_weight)
    gen = latest_generator(project)
    res = resolution or (gen.resolution if gen else 32)
    ts = load_split(project, "train", res)
    _require_train(ts)
    held = load_split(project, heldout_split, res)
    if len(held.images) == 0:
        raise LabelerError(f"no labelled real images in the {heldout_split} split to score on")
    generated = load_split(project, "train", res, generated=True)
    # The suggestion classifier of this very train set stands in for the balanced row at seed
    # 0 when it was trained with that row's budget (evaluate checks); it saves one training.
    cached = _classifier_path(project, ts, arch)
    reuse = None
    if cached.exists():  # one that is damaged or changed: the row is trained instead
        reuse, _why = _cached_classifier(cached, device)
    data = run_evaluate(
        (ts.images, ts.labels), (held.images, held.labels), len(ts.class_ids),
        generated=(generated.images, generated.labels) if len(generated.images) else None,
        steps=steps, epochs=epochs, seeds=seeds, device=device, progress=progress, arch=arch,
        should_stop=should_stop, reuse=reuse, gen_weight=gen_weight, batch_size=batch_size,
    )  # fmt: skip
    if data.get("stopped") or (should_stop is not None and should_stop()):
        raise LabelerError("evaluation cancelled; nothing was reported")
    data["classes"] = ts.class_names
    data["heldout_split"] = heldout_split
    data["warnings"] = data.get("warnings", []) + skipped_warnings(
        ("train", ts), (heldout_split, held)
    )
    return data


def require_recorded_checkpoint(project: Project, generator: StoredGenerator) -> None:
    """Refuse a generator whose checkpoint on disk is not the file the project recorded."""
    path = Path(generator.checkpoint)
    if not path.is_file():
        raise LabelerError(f"the generator's checkpoint is missing: {path}")
    digest = sha256_file(path)
    if digest != generator.sha256:
        raise LabelerError(
            f"{path.name} in {path.parent.name} is not the checkpoint this project recorded"
            f" (SHA-256 {digest[:12]}…, recorded {generator.sha256[:12]}…): it was"
            " changed on disk and is not used; train the generator again"
        )


_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def accept_suggestions(project: Project, ids: Sequence[int]) -> list[int]:
    """Turn pending suggestions into generated train images tagged with their class; returns
    the new images' ids. A suggestion whose pixels are already in the project is rejected."""
    chosen = require_pending(project, ids)
    gens = {
        row[0]: row[1:]
        for row in project.conn.execute("SELECT id, sha256, step, checkpoint FROM generators")
    }
    image_ids = []
    with project.atomic():
        for s in chosen:
            info = probe_file(project.resolve(s.path))
            sha, step, checkpoint = gens[s.generator_id]
            provenance = {
                "generator": s.generator_id,
                "checkpoint": checkpoint,
                "checkpoint_sha256": sha,
                "generator_step": step,
                "seed": s.seed,
                "suggestion": s.id,
                "scores": s.scores,
            }
            if project.image_by_sha(info.sha256) is not None:
                # The very same pixels are already in the project: nothing new to add.
                project.conn.execute(
                    f"UPDATE suggestions SET status = 'rejected', decided_at = {_NOW} WHERE id = ?",
                    (s.id,),
                )
                continue
            image_id = project.add_probed(
                project.resolve(s.path), info,
                provenance="generated", provenance_info=json.dumps(provenance, default=float),
                split="train", source_group="generated",
            )  # fmt: skip
            project.add_shape(image_id, Shape.tag(s.class_id))
            project.conn.execute(
                f"UPDATE suggestions SET status = 'accepted', image_id = ?, decided_at = {_NOW}"
                " WHERE id = ?",
                (image_id, s.id),
            )
            image_ids.append(image_id)
    return image_ids


def review(
    project: Project,
    *,
    accept: Sequence[int] = (),
    reject: Sequence[int] = (),
    accept_top: int | None = None,
) -> tuple[list[int], list[int]]:
    """Apply review decisions: accept these suggestions (plus, with ``accept_top``, the N
    best-ranked pending ones of each class) and reject those. Returns (the suggestions
    accepted, the new images' ids)."""
    chosen = list(accept)
    if accept_top:
        per_class: dict[int, int] = {}
        pending = list_suggestions(project, status="pending")
        for s in sorted(pending, key=lambda s: s.scores.get("rank", 0)):
            if per_class.get(s.class_id, 0) < accept_top and s.id not in chosen:
                per_class[s.class_id] = per_class.get(s.class_id, 0) + 1
                chosen.append(s.id)
    image_ids = accept_suggestions(project, chosen) if chosen else []
    if reject:
        reject_suggestions(project, reject)
    return chosen, image_ids
