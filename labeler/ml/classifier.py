"""The small classifier: judges whether a generated image shows its class, provides features
for the memorisation check and the KID/FID metrics, and is what ``evaluate`` trains several ways.

``resnet18`` is torchvision's ResNet-18 built with ``weights=None`` (never downloaded weights)
and adapted to small inputs: a 3x3 stride-1 stem and no max-pool, so a 32x32 image keeps its
detail. ``small`` is a ResNet-8 (one basic block per stage, 16/32/64 channels), for CPUs:
about 45 times fewer multiply-adds per image than the adapted ResNet-18. ``tiny`` is a few
convolutions, for CPU tests only.

The losses (``loss=``): plain cross-entropy (``ce``); the logit-adjusted loss of Menon et al.
(2021) with tau = 1 (``logit_adjusted``: cross-entropy on logits + log prior, which at tau = 1
is the same loss as Balanced Softmax, Ren et al. 2020; predictions use the plain logits); and
deferred re-weighting (``drw``, Cao et al. 2019: plain cross-entropy, then class weights from
the effective number of samples, beta = 0.9999, for the last quarter of the steps).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from labeler.core.errors import LabelerError
from labeler.core.progress import ShouldStop, StatsFn
from labeler.ml.checkpoint import FORMAT_VERSION, load_payload, load_state, save_payload
from labeler.ml.data import (
    check_images,
    check_labels,
    draw_by_cdf,
    sample_weights,
    to_float,
)
from labeler.ml.device import autocast, memory_format, resolve_device
from labeler.ml.diffaug import translation

CLASSIFIER_FORMAT = "labeler.classifier"
ARCHS = ("resnet18", "small", "tiny")
LOSSES = ("ce", "logit_adjusted", "drw")
DEFAULT_LR = 0.1
"""The learning rate at the reference batch of ``REFERENCE_BATCH`` images."""
REFERENCE_BATCH = 128
DEVICE_BATCH = {"cuda": 512, "cpu": 128}
"""The batch when none is given: a GPU is launch-bound at 128 on 32 px images; the CPU is not."""
LA_TAU = 1.0
"""The logit adjustment's temperature (Menon et al. 2021 use tau = 1)."""
DRW_FROM = 0.75
"""Deferred re-weighting starts after this share of the steps (Cao et al. 2019: 160 of 200
epochs, 0.8; the last quarter here, so a cosine-decayed rate still moves the weights)."""
DRW_BETA = 0.9999
"""The effective-number weights' beta (Cui et al. 2019; Cao et al. 2019 use 0.9999)."""
SMALL_WIDTHS = (16, 32, 64)
"""The ``small`` arch's channels per stage: He et al.'s CIFAR ResNet with one block per stage
(ResNet-8): 12.5 M multiply-adds per 32 px image against 0.56 G for the adapted ResNet-18."""
PROGRESS_EVERY = 20
"""Steps between progress reports: the loss is read from the device only then."""


def default_batch_size(device: str | torch.device) -> int:
    """The classifier's batch on ``device`` when the caller gives none (512 on CUDA, else 128)."""
    return DEVICE_BATCH.get(torch.device(device).type, REFERENCE_BATCH)


def default_lr(batch_size: int) -> float:
    """The linear scaling rule (Goyal et al. 2017) above the reference batch: 0.1 at 128 and
    below, 0.4 at 512; the warm-up of the first 5% of the steps keeps a large rate stable."""
    return DEFAULT_LR * max(batch_size, REFERENCE_BATCH) / REFERENCE_BATCH


@dataclass(frozen=True)
class ClassifierConfig:
    num_classes: int
    resolution: int = 32
    arch: str = "resnet18"

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise LabelerError("a classifier needs at least two classes")
        if self.arch not in ARCHS:
            raise LabelerError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if not isinstance(self.resolution, int) or not 8 <= self.resolution <= 512:
            raise LabelerError(f"classifier resolution must be 8..512, got {self.resolution!r}")


class _Block(nn.Module):
    """A ResNet basic block: two 3x3 convolutions and a shortcut (1x1 when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.short(x))


def _small() -> nn.Module:
    a, b, c = SMALL_WIDTHS
    return nn.Sequential(
        nn.Conv2d(3, a, 3, padding=1, bias=False),
        nn.BatchNorm2d(a),
        nn.ReLU(),
        _Block(a, a, 1),
        _Block(a, b, 2),
        _Block(b, c, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class ClassifierNet(nn.Module):
    """Backbone to penultimate features, then one linear head to class logits."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        if cfg.arch == "resnet18":
            from torchvision.models import resnet18

            net = resnet18(weights=None, num_classes=cfg.num_classes)
            net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
            dim = net.fc.in_features
            net.fc = nn.Identity()
            self.backbone = net
        elif cfg.arch == "small":
            dim = SMALL_WIDTHS[-1]
            self.backbone = _small()
        else:
            dim = 32
            self.backbone = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1),
                nn.BatchNorm2d(16),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, dim, 3, padding=1),
                nn.BatchNorm2d(dim),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
        self.head = nn.Linear(dim, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.backbone(x)
        return self.head(feats), feats


class Classifier:
    """A trained classifier; call ``probs_and_features(uint8 NHWC images)``."""

    def __init__(
        self,
        net: ClassifierNet,
        cfg: ClassifierConfig,
        device: torch.device,
        budget: dict[str, Any] | None = None,
    ) -> None:
        self.net, self.cfg, self.device = net.to(device).eval(), cfg, device
        # How it was trained (steps, batch, seed, sampling, loss, ...; saved with it), or None
        # when unknown or cut short; ``evaluate`` reuses a classifier only when this matches.
        self.budget = budget

    @property
    def num_classes(self) -> int:
        return self.cfg.num_classes

    @torch.no_grad()
    def probs_and_features(
        self, images: np.ndarray, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Softmax probabilities (N, C) and penultimate features (N, D), both float32 numpy."""
        images = check_images(images)
        probs, feats = [], []
        for i in range(0, len(images), batch_size):
            x = to_float(
                torch.from_numpy(images[i : i + batch_size]).to(self.device), self.cfg.resolution
            )
            with autocast(self.device):
                logits, f = self.net(x.contiguous(memory_format=memory_format(self.device)))
            probs.append(logits.float().softmax(1).cpu())
            feats.append(f.float().cpu())
        return torch.cat(probs).numpy(), torch.cat(feats).numpy()

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Most likely class id per image."""
        return self.probs_and_features(images)[0].argmax(1)


# -- the losses ----------------------------------------------------------------------------
def classifier_loss(
    logits: torch.Tensor,
    y: torch.Tensor,
    *,
    log_prior: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
    image_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy with the options the recipes use, all on the device (no host sync).

    ``log_prior`` (C,) is added to the logits before the softmax (logit adjustment: tau x log
    of the class prior). ``class_weights`` (C,) weight each sample by its class, normalised by
    their sum over the batch as ``F.cross_entropy(weight=...)`` does (so only their ratios
    count). ``image_weights`` (B,) scale each sample's loss and are not normalised away: a
    batch whose generated images count 0.5 pulls half as hard on their account.

    >>> logits, y = torch.zeros(2, 3), torch.tensor([0, 1])
    >>> float(classifier_loss(logits, y)) == float(F.cross_entropy(logits, y))
    True
    """
    logits = logits.float()
    if log_prior is not None:
        logits = logits + log_prior
    if class_weights is None and image_weights is None:
        return F.cross_entropy(logits, y)
    per = F.cross_entropy(logits, y, reduction="none")
    if class_weights is None:
        return (per * image_weights).sum() / per.shape[0]
    cw = class_weights[y]
    w = cw if image_weights is None else cw * image_weights
    return (per * w).sum() / cw.sum()


def effective_number_weights(counts: np.ndarray, beta: float = DRW_BETA) -> np.ndarray:
    """Class weights from the effective number of samples (Cui et al. 2019): (1 - beta) /
    (1 - beta ** n), scaled to sum to the number of classes; absent classes weigh 0.

    >>> effective_number_weights(np.array([1000.0, 10.0])).round(3).tolist()
    [0.021, 1.979]
    """
    counts = np.asarray(counts, np.float64)
    eff = 1.0 - np.power(beta, counts)
    w = np.divide(1.0 - beta, eff, out=np.zeros_like(counts), where=counts > 0)
    return w * len(counts) / max(w.sum(), 1e-12)


def drw_start(steps: int) -> int:
    """The first step (0-based) trained with DRW's class weights."""
    return int(steps * DRW_FROM)


def weights_digest(w: np.ndarray | None) -> str | None:
    """What the per-image loss weights are, for ``training_budget``: None when all are 1."""
    if w is None or np.all(np.asarray(w) == 1.0):
        return None
    return hashlib.sha256(np.ascontiguousarray(w, np.float64).tobytes()).hexdigest()[:16]


# -- training ------------------------------------------------------------------------------
@dataclass
class _Recipe:
    """What one optimiser step needs besides the batch: all tensors on the device."""

    sample_cdf: torch.Tensor  # (N,) cumulative sampling probabilities
    log_prior: torch.Tensor | None
    class_weights: torch.Tensor | None
    weights_from: int  # the step from which class_weights apply
    image_weights: torch.Tensor | None  # (N,) per-image loss weights


def _recipe(
    labels: np.ndarray,
    num_classes: int,
    dev: torch.device,
    *,
    balanced: bool,
    loss: str,
    weighted_loss: bool,
    image_weights: np.ndarray | None,
    steps: int,
) -> _Recipe:
    probs = sample_weights(labels, num_classes, "balanced" if balanced else "uniform")
    probs = probs / probs.sum()
    iw = np.ones(len(labels)) if image_weights is None else image_weights
    # The class mix the loss sees: how often each class is drawn, times its images' weights.
    seen = np.bincount(labels, weights=probs * iw, minlength=num_classes)
    weighted_counts = np.bincount(labels, weights=iw, minlength=num_classes)
    log_prior = class_w = None
    weights_from = 0
    if loss == "logit_adjusted":
        prior = seen / seen.sum()
        log_prior = torch.as_tensor(
            LA_TAU * np.log(np.maximum(prior, 1e-12)), dtype=torch.float32, device=dev
        )
    if loss == "drw":
        class_w = effective_number_weights(weighted_counts)
        weights_from = drw_start(steps)
    elif weighted_loss:  # inverse class frequency from the first step
        class_w = np.divide(
            1.0, weighted_counts, out=np.zeros(num_classes), where=weighted_counts > 0
        )
    cdf = torch.as_tensor(np.cumsum(probs), dtype=torch.float64, device=dev)
    return _Recipe(
        sample_cdf=cdf,
        log_prior=log_prior,
        class_weights=None
        if class_w is None
        else torch.as_tensor(class_w, dtype=torch.float32, device=dev),
        weights_from=weights_from,
        image_weights=None
        if image_weights is None
        else torch.as_tensor(image_weights, dtype=torch.float32, device=dev),
    )


def _step(
    net: ClassifierNet,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    data: torch.Tensor,
    ys: torch.Tensor,
    recipe: _Recipe,
    step: int,
    batch_size: int,
    resolution: int,
    gens: tuple[torch.Generator, torch.Generator],
) -> torch.Tensor:
    """One optimiser step on a batch drawn on the device; returns the loss (still on it)."""
    dev = data.device
    idx = draw_by_cdf(recipe.sample_cdf, batch_size, gens[0])
    x = _augment(to_float(data[idx], resolution), gens[1])
    with autocast(dev):
        logits, _ = net(x.contiguous(memory_format=memory_format(dev)))
    y = ys[idx]
    loss = classifier_loss(
        logits,
        y,
        log_prior=recipe.log_prior,
        class_weights=recipe.class_weights if step >= recipe.weights_from else None,
        image_weights=None if recipe.image_weights is None else recipe.image_weights[idx],
    )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss.detach()


def _optimiser(
    net: nn.Module, lr: float, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    )
    return opt, sched


def _check_image_weights(w: Any, n: int) -> np.ndarray | None:
    if w is None:
        return None
    arr = np.asarray(w, np.float64)
    if arr.shape != (n,):
        raise LabelerError(f"image_weights must hold one weight per image ({n}), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise LabelerError("image weights must be finite and at least 0")
    return None if np.all(arr == 1.0) else arr


def train_classifier(
    images: np.ndarray,
    labels: Any,
    num_classes: int,
    steps: int | None = None,
    epochs: float | None = None,
    balanced: bool = False,
    seed: int = 0,
    device: str = "auto",
    progress: StatsFn | None = None,
    should_stop: ShouldStop | None = None,
    *,
    loss: str = "ce",
    weighted_loss: bool = False,
    image_weights: Any = None,
    batch_size: int | None = None,
    lr: float | None = None,
    arch: str = "resnet18",
    resolution: int | None = None,
) -> Classifier:
    """Train the small classifier from scratch on uint8 (N, H, W, 3) RGB images.

    The budget is ``steps`` optimiser steps, or ``epochs`` passes over the data (default 30).
    ``balanced`` samples every class equally often; ``loss`` is ``ce``, ``logit_adjusted`` or
    ``drw`` (see the module docstring); ``weighted_loss`` weights the loss by inverse class
    frequency from the first step. ``image_weights`` (one per image, >= 0) scale each image's
    loss, e.g. 0.5 for generated images; an image of weight 0 is never drawn (it would teach
    nothing and take a batch slot), so weight 0 trains exactly as if it were not given.
    ``batch_size`` None: from the device (``default_batch_size``); ``lr`` None: scaled with the
    batch (``default_lr``). SGD with Nesterov momentum, warm-up then cosine decay, flips and
    ±4 px shifts; bf16 on CUDA; batches are drawn on the device and the loss is read back only
    for ``progress`` (every ``PROGRESS_EVERY`` steps). ``should_stop`` ends training early (the
    partly trained classifier is returned, with no budget). ``progress`` gets ``{step, steps,
    loss, images_per_s}``.
    """
    images = check_images(images)
    labels = check_labels(labels, len(images), num_classes)
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise LabelerError(f"batch_size must be at least 1, not {batch_size!r}")
    if loss not in LOSSES:
        raise LabelerError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    iw = _check_image_weights(image_weights, len(images))
    digest, given = weights_digest(iw), len(images)  # the budget names what was given
    if iw is not None and (iw == 0).any():
        keep = iw > 0
        if not keep.any():
            raise LabelerError("every image has weight 0: nothing to train on")
        images, labels, iw = images[keep], labels[keep], iw[keep]
        iw = None if np.all(iw == 1.0) else iw
    dev, _ = resolve_device(device)
    batch_size = batch_size or default_batch_size(dev)
    lr = lr if lr is not None else default_lr(batch_size)
    cfg = ClassifierConfig(num_classes, resolution or images.shape[1], arch)
    if steps is None:
        steps = max(1, math.ceil((epochs if epochs is not None else 30) * len(images) / batch_size))
    torch.manual_seed(seed)
    gens = (
        torch.Generator(device=dev).manual_seed(seed),
        torch.Generator(device=dev).manual_seed(seed + 1),
    )
    net = ClassifierNet(cfg).to(dev, memory_format=memory_format(dev)).train()
    opt, sched = _optimiser(net, lr, steps)
    recipe = _recipe(
        labels, num_classes, dev, balanced=balanced, loss=loss, weighted_loss=weighted_loss,
        image_weights=iw, steps=steps,
    )  # fmt: skip
    data = torch.from_numpy(np.ascontiguousarray(images)).to(dev)
    ys = torch.as_tensor(labels, device=dev)
    budget: dict[str, Any] | None = training_budget(
        steps, batch_size, seed, balanced, str(dev), given,
        weighted_loss=weighted_loss, lr=lr, arch=arch, loss=loss, image_weights=digest,
    )  # fmt: skip
    start = time.monotonic()
    for step in range(steps):
        if should_stop is not None and should_stop():
            budget = None  # stopped early: not the budget it was asked for
            break
        loss_t = _step(net, opt, sched, data, ys, recipe, step, batch_size, cfg.resolution, gens)
        if progress is not None and (step % PROGRESS_EVERY == 0 or step == steps - 1):
            rate = (step + 1) * batch_size / max(time.monotonic() - start, 1e-9)
            progress(
                {"step": step + 1, "steps": steps, "loss": float(loss_t), "images_per_s": rate}
            )
    return Classifier(net, cfg, dev, budget)


def estimate_training_seconds(
    num_images: int,
    num_classes: int,
    steps: int,
    *,
    batch_size: int | None = None,
    arch: str = "resnet18",
    device: str = "auto",
    resolution: int = 32,
    timed_steps: int = 3,
) -> float:
    """Seconds ``train_classifier`` will take for ``steps`` steps, from timing ``timed_steps``
    real optimiser steps (after one warm-up step) on random images of the same shape.

    The global random state is left as it was. The figure leaves out the per-step progress
    reports and the final scoring, which are small beside the steps.
    """
    if num_images < 1 or steps < 1 or num_classes < 2:
        raise LabelerError("an estimate needs images, steps and at least two classes")
    dev, _ = resolve_device(device)
    batch_size = batch_size or default_batch_size(dev)
    cfg = ClassifierConfig(num_classes, resolution, arch)
    cuda = []
    if dev.type == "cuda":
        cuda = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(0)
        gens = (
            torch.Generator(device=dev).manual_seed(0),
            torch.Generator(device=dev).manual_seed(1),
        )
        n = min(num_images, 2 * batch_size)
        data = torch.randint(0, 256, (n, resolution, resolution, 3), dtype=torch.uint8, device=dev)
        labels = np.arange(n) % num_classes
        ys = torch.as_tensor(labels, device=dev)
        net = ClassifierNet(cfg).to(dev, memory_format=memory_format(dev)).train()
        opt, sched = _optimiser(net, default_lr(batch_size), steps)
        recipe = _recipe(
            labels, num_classes, dev, balanced=False, loss="ce", weighted_loss=False,
            image_weights=None, steps=steps,
        )  # fmt: skip

        def run(k: int, first: int) -> float:
            t0 = time.perf_counter()
            for s in range(first, first + k):
                loss = _step(net, opt, sched, data, ys, recipe, s, batch_size, resolution, gens)
            float(loss)  # waits for the device
            return time.perf_counter() - t0

        run(1, 0)  # warm-up: allocations, cuDNN's choice of kernels
        per_step = run(timed_steps, 1) / timed_steps
    return max(per_step, 1e-6) * steps


def training_budget(
    steps: int,
    batch_size: int,
    seed: int,
    balanced: bool,
    device: str,
    num_images: int,
    *,
    weighted_loss: bool = False,
    lr: float | None = None,
    arch: str = "resnet18",
    loss: str = "ce",
    image_weights: str | None = None,
) -> dict[str, Any]:
    """Everything that decides what ``train_classifier`` produces from the same images
    (``image_weights``: the digest of the per-image weights, None when all are 1)."""
    return {
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "balanced": balanced,
        "loss": loss,
        "weighted_loss": weighted_loss,
        "image_weights": image_weights,
        "lr": lr if lr is not None else default_lr(batch_size),
        "arch": arch,
        "device": device,
        "num_images": num_images,
    }


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], 1, 1, 1, generator=g, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x)
    return translation(x, ratio=4 / x.shape[-1], g=g)


def save_classifier(clf: Classifier, path: str | Path) -> str:
    """Save as state_dict + JSON config (same safe format as GAN checkpoints); return SHA-256."""
    cfg_json = json.dumps(asdict(clf.cfg), sort_keys=True)
    state = {k: v.detach().cpu() for k, v in clf.net.state_dict().items()}
    payload = {
        "format": CLASSIFIER_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": cfg_json,
        "state": state,
        "budget": json.dumps(clf.budget, sort_keys=True),  # how it was trained, or null
    }
    sidecar = {"format": CLASSIFIER_FORMAT, "config": asdict(clf.cfg), "budget": clf.budget}
    return save_payload(payload, path, sidecar)


def load_classifier(path: str | Path, device: str = "auto") -> Classifier:
    """Load a classifier saved by ``save_classifier``; unsafe or corrupt files raise ``LabelerError``."""
    payload = load_payload(path, CLASSIFIER_FORMAT)
    try:
        data = json.loads(payload.get("config"))
        cfg = ClassifierConfig(**data)
    except (TypeError, ValueError) as exc:
        raise LabelerError(f"classifier config unreadable: {exc}") from None
    net = ClassifierNet(cfg)
    load_state(net, payload.get("state"), "classifier state")
    dev, _ = resolve_device(device)
    try:  # older files have none; then the classifier is never reused in place of a training
        budget = json.loads(payload.get("budget") or "null")
    except (TypeError, ValueError):
        budget = None
    return Classifier(net, cfg, dev, budget if isinstance(budget, dict) else None)
