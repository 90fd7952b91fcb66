"""Pre-labels from the project's own model (issue 18), Qt-free, for the CLI and the window.

`run_prelabel` trains the small classifier on the project's image-level labels, measures its
balanced accuracy on held-out labelled images, and only when that clears the health
classifier's bar writes one proposal (class + confidence) per unlabeled image into the
``proposals`` table, replacing the last run's. Too weak: the measured accuracy is recorded and
reported and no proposal is written. Every run that writes none (too weak, or too little to
train on) drops the earlier ones, as ADR 0097 decided (they came from a model that no longer
describes the labels), and says how many went. An image whose file is not the one imported
(another size, or another SHA-256) is reported with the unreadable ones: it is neither trained
on nor given a proposal. A proposal is never a label: statistics, splits and exports read
shapes only, until `accept_proposal` turns one into a tag, as one undoable edit.

>>> report = run_prelabel(project)            # doctest: +SKIP
>>> report.offered, report.balanced_accuracy  # doctest: +SKIP
(True, 0.83)
>>> accept_proposal(project, "12")            # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.formats.export import check_is_imported
from labeler.core.health.classifier import image_features
from labeler.core.images import BadImage, decode, read_file_bytes, read_header
from labeler.core.prelabellers import PRELABELLERS, feature_row, probabilities
from labeler.core.progress import ShouldStop
from labeler.store import proposals as store
from labeler.store.project import Project

MIN_PER_CLASS = 10
"""A class takes part when it has this many single-label images (k-fold needs at least 5)."""
FOLDS = 5


class Cancelled(LabelerError):
    """The user stopped the job; nothing was written."""


@dataclass(frozen=True)
class PrelabelReport:
    """What a run measured and did. ``offered`` is False when there was too little to train on
    (``reason`` says what) or the model was too weak (``balanced_accuracy`` below ``bar``)."""

    offered: bool
    reason: str
    balanced_accuracy: float | None = None
    chance: float | None = None
    bar: float | None = None
    labelled: int = 0
    classes: list[str] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    unlabeled: int = 0
    proposals: int = 0
    unreadable: list[str] = field(default_factory=list)
    run_id: int | None = None
    removed: int = 0
    """Earlier pending proposals removed by a run that wrote none (a run that writes
    proposals replaces them and leaves this 0)."""

    def to_dict(self) -> dict:
        return {
            "offered": self.offered,
            "reason": self.reason,
            "balanced_accuracy": _round(self.balanced_accuracy),
            "chance": _round(self.chance),
            "bar": _round(self.bar),
            "labelled_images": self.labelled,
            "classes": self.classes,
            "classes_left_out": self.left_out,
            "unlabeled_images": self.unlabeled,
            "proposals": self.proposals,
            "unreadable": self.unreadable,
            "run": self.run_id,
            "removed_proposals": self.removed,
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _single_labels(project: Project) -> dict[int, int]:
    """image id -> class id for images whose only shapes are one tag."""
    rows = project.conn.execute(
        "SELECT image_id, MIN(class_id) FROM shapes GROUP BY image_id"
        " HAVING COUNT(*) = 1 AND MAX(kind = 'tag') = 1"
    ).fetchall()
    return dict(rows)


def _none_offered(project: Project, reason: str, **kw) -> PrelabelReport:
    """A run that writes no proposal: the earlier ones go, and the reason says how many."""
    removed = store.clear_proposals(project)
    if removed:
        reason += f"; {removed} earlier proposal(s) removed"
    return PrelabelReport(False, reason, removed=removed, **kw)


class PrelabellerFailed(LabelerError):
    """A plugin's pre-labeller failed: the run stops (every image would fail alike)."""


def _plugin_call(model: str, fn: Callable, *args):
    # A plugin's bug, SystemExit and KeyboardInterrupt included, is one line naming it.
    try:
        return fn(*args)
    except LabelerError as e:
        raise PrelabellerFailed(f"pre-labeller {model!r}: {e}") from None
    except BaseException as e:  # noqa: BLE001 - a plugin must never end the program unsaid
        text = str(e).strip().splitlines()
        why = f"{type(e).__name__}: {text[-1]}" if text else type(e).__name__
        raise PrelabellerFailed(f"pre-labeller {model!r} failed: {why}") from None


def _read_features(data: bytes, record, model: str, cnn: CnnOptions) -> np.ndarray:
    """One image's training row, after checking the file is the one imported (a replaced
    file is refused as export refuses it: `check_size_on_disk`, then its SHA-256)."""
    _, w, h, _, _ = read_header(data)
    check_is_imported(record, data, (w, h))
    if model == "cnn":
        r = _reduction(record.width, record.height, cnn.resolution)
        img = decode(data, reduced=r)
        side = (cnn.resolution, cnn.resolution)
        small = cv2.resize(img, side, interpolation=cv2.INTER_AREA)  # IMREAD_COLOR: BGR
        return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    if model in PRELABELLERS:
        plugin = PRELABELLERS.get(model)
        raw = _plugin_call(model, plugin.features, decode(data))
        try:
            return feature_row(model, raw)
        except LabelerError as e:
            raise PrelabellerFailed(str(e)) from None
    return image_features(decode(data, reduced=4))


def _unlabeled(project: Project) -> list[int]:
    rows = project.conn.execute(
        "SELECT id FROM images i WHERE NOT EXISTS (SELECT 1 FROM shapes s WHERE s.image_id = i.id)"
        " ORDER BY id"
    ).fetchall()
    return [r[0] for r in rows]


MODELS = ("features", "cnn")


@dataclass(frozen=True)
class CnnOptions:
    """How the CNN pre-labeller trains: the GAN's small classifier (`train_classifier`)."""

    arch: str = "resnet18"
    device: str = "auto"
    epochs: float = 30.0
    resolution: int = 32


def _reduction(width: int, height: int, resolution: int) -> int:
    # Decode no larger than needed: the smallest DCT scale that still covers the target size.
    for r in (8, 4, 2):
        if min(width, height) // r >= resolution:
            return r
    return 1


def check_cnn_options(cnn: CnnOptions) -> None:
    """A one-line `LabelerError` for options the CNN cannot train with."""
    if not (isinstance(cnn.resolution, int) and 8 <= cnn.resolution <= 256):
        raise LabelerError(f"--resolution must be 8..256, not {cnn.resolution!r}")
    if not (math.isfinite(cnn.epochs) and 0 < cnn.epochs <= 1000):
        raise LabelerError(f"--epochs must be above 0 and at most 1000, not {cnn.epochs!r}")
    if cnn.arch not in ("resnet18", "tiny"):
        raise LabelerError(f"--arch must be resnet18 or tiny, not {cnn.arch!r}")


def run_prelabel(
    project: Project,
    *,
    min_per_class: int = MIN_PER_CLASS,
    seed: int = 0,
    model: str = "features",
    cnn: CnnOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: ShouldStop | None = None,
) -> PrelabelReport:
    """Train, measure, and (when good enough) write proposals for every unlabeled image.

    ``model`` is ``features`` (the health classifier: seconds on the CPU) or ``cnn`` (the
    GAN's small classifier, `cnn` options; torch, a GPU when there is one). ``progress`` gets
    (done, total) over the images read, then, for the CNN, over the trainings."""
    from labeler.ml.prelabel import MODEL, prelabel

    if model not in MODELS and model not in PRELABELLERS:
        known = ", ".join([*MODELS, *PRELABELLERS.keys()])
        raise LabelerError(f"unknown pre-label model {model!r}; known: {known}")
    cnn = cnn or CnnOptions()
    if model == "cnn":
        check_cnn_options(cnn)
    if min_per_class < FOLDS:
        raise LabelerError(f"--min-per-class must be at least {FOLDS} (one per held-out fold)")
    names = {c.id: c.name for c in project.classes()}
    single = _single_labels(project)
    counts: dict[int, int] = {}
    for c in single.values():
        counts[c] = counts.get(c, 0) + 1
    kept = sorted(c for c, n in counts.items() if n >= min_per_class)
    left_out = {names[c]: n for c, n in sorted(counts.items()) if c not in kept}
    unlabeled = _unlabeled(project)
    base = dict(classes=[names[c] for c in kept], left_out=left_out, unlabeled=len(unlabeled))
    if len(kept) < 2:
        return _none_offered(
            project,
            f"needs two or more classes with {min_per_class} or more single-label images"
            f" each (has {len(kept)}); no proposals written",
            **base,
        )
    labelled_ids = sorted(i for i, c in single.items() if c in kept)
    ids = labelled_ids + unlabeled
    feats: dict[int, np.ndarray] = {}
    unreadable: list[str] = []
    for n, image_id in enumerate(ids):
        if should_stop is not None and should_stop():
            raise Cancelled("pre-labelling cancelled; nothing was written")
        record = project.image(image_id)
        try:
            data = read_file_bytes(project.resolve(record))
            feats[image_id] = _read_features(data, record, model, cnn)
        except PrelabellerFailed:
            raise
        except BadImage as e:
            unreadable.append(f"{record.path}: {e}")
        except LabelerError as e:  # another file than the one imported; names its path
            unreadable.append(str(e))
        except OSError as e:
            unreadable.append(f"{record.path}: {e.strerror or e}")
        if progress is not None:
            progress(n + 1, len(ids))
    labelled_ids = [i for i in labelled_ids if i in feats]
    unlabeled = [i for i in unlabeled if i in feats]
    index = {c: k for k, c in enumerate(kept)}
    y = np.array([index[single[i]] for i in labelled_ids], dtype=np.int64)
    if np.bincount(y, minlength=len(kept)).min() < FOLDS:
        return _none_offered(
            project,
            f"too few readable labelled images per class (needs {FOLDS} in each);"
            " no proposals written",
            labelled=len(labelled_ids),
            unreadable=unreadable,
            **base,
        )
    x = np.stack([feats[i] for i in labelled_ids])
    x_new = np.stack([feats[i] for i in unlabeled]) if unlabeled else np.zeros((0, *x.shape[1:]))
    if model == "cnn":
        from labeler.ml.prelabel import Stopped, prelabel_cnn

        name = f"cnn:{cnn.arch}"
        try:
            result = prelabel_cnn(
                x, y, x_new.astype(np.uint8), len(kept), folds=FOLDS, seed=seed,
                epochs=cnn.epochs, arch=cnn.arch, device=cnn.device, progress=progress,
                should_stop=should_stop,
            )  # fmt: skip
        except Stopped as e:
            raise Cancelled(str(e)) from None
    elif model in PRELABELLERS:
        from labeler.ml.prelabel import Stopped, prelabel_with

        plugin, n = PRELABELLERS.get(model), len(kept)

        def fit_predict(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray) -> np.ndarray:
            raw = _plugin_call(model, plugin.fit_predict, xa, ya, xb, n)
            try:
                return probabilities(model, raw, len(xb), n)
            except LabelerError as e:
                raise PrelabellerFailed(str(e)) from None

        name = f"plugin:{model}"
        try:
            result = prelabel_with(
                fit_predict, x, y, x_new, n, folds=FOLDS, seed=seed, progress=progress,
                should_stop=should_stop,
            )  # fmt: skip
        except Stopped as e:
            raise Cancelled(str(e)) from None
    else:
        name = MODEL
        result = prelabel(x, y, x_new, len(kept), folds=FOLDS, seed=seed)
    details = {
        "classes": [names[c] for c in kept],
        "recalls": [round(r, 4) for r in result.recalls],
        "accuracy": round(result.accuracy, 4),
        "folds": FOLDS,
        "bar": round(result.bar, 4),
    }
    measured = dict(
        balanced_accuracy=result.balanced_accuracy,
        chance=result.chance,
        bar=result.bar,
        labelled=len(labelled_ids),
        unreadable=unreadable,
        **base,
    )
    with project.atomic():
        run_id = store.record_run(
            project, name, len(labelled_ids), result.balanced_accuracy, result.chance, details
        )
        if not result.good_enough:
            return _none_offered(
                project,
                f"the model is too weak: {result.balanced_accuracy:.0%} balanced accuracy on"
                f" held-out labelled images (needs {result.bar:.0%}; chance"
                f" {result.chance:.0%}); no proposals written",
                run_id=run_id,
                **measured,
            )
        rows = [
            (image_id, kept[int(c)], float(p), float(u))
            for image_id, c, p, u in zip(
                unlabeled, result.classes, result.confidence, result.uncertainty, strict=True
            )
        ]
        written = store.write_proposals(project, run_id, rows)
    return PrelabelReport(
        True,
        f"{result.balanced_accuracy:.0%} balanced accuracy on held-out labelled images"
        f" (bar {result.bar:.0%}, chance {result.chance:.0%})",
        proposals=written,
        run_id=run_id,
        **measured,
    )


def accept_proposal(project: Project, image: str) -> store.AcceptProposal:
    """Make the proposal for ``image`` (id, path or file name) its label: one tag, one edit;
    ``edit.undo(project)`` takes the tag back and the proposal is pending again. A one-line
    error when there is none pending. (The window pushes `proposal_edit` onto its history.)"""
    edit = proposal_edit(project, image)
    edit.do(project)
    return edit


def proposal_edit(project: Project, image: str) -> store.AcceptProposal:
    """The not-yet-done edit that accepts the proposal for ``image``."""
    record = project.find_image(image)
    found = store.proposal(project, record.id)
    if found is None:
        raise LabelerError(
            f"no pending proposal for {record.path!r} (it is labelled, or run"
            " 'labeler prelabel' first)"
        )
    return store.AcceptProposal(found)


def by_uncertainty(project: Project) -> list[store.Proposal]:
    """Unlabeled images with a proposal, least sure first: the order to label them in."""
    return store.pending_proposals(project, by_uncertainty=True)


def pending(project: Project) -> list[store.Proposal]:
    """Pending proposals by image id."""
    return store.pending_proposals(project)
