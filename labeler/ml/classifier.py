"""The small classifier: judges whether a generated image shows its class, provides features
for the memorisation check and the KID/FID metrics, and is what ``evaluate`` trains three ways.

It is torchvision's ResNet-18 built with ``weights=None`` (never downloaded weights) and adapted
to small inputs: a 3x3 stride-1 stem and no max-pool, so a 32x32 image keeps its detail. The
``tiny`` arch is a few convolutions, for CPU tests only.
"""

from __future__ import annotations

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
from labeler.ml.data import check_images, check_labels, class_weights, sample_weights, to_float
from labeler.ml.device import autocast, memory_format, resolve_device
from labeler.ml.diffaug import translation

CLASSIFIER_FORMAT = "labeler.classifier"
ARCHS = ("resnet18", "tiny")
DEFAULT_LR = 0.1


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
        # How it was trained (steps, batch, seed, sampling, ...; saved with it), or None when
        # unknown or cut short; ``evaluate`` reuses a classifier only when this matches its row.
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
    weighted_loss: bool = False,
    batch_size: int = 128,
    lr: float = DEFAULT_LR,
    arch: str = "resnet18",
    resolution: int | None = None,
) -> Classifier:
    """Train the small classifier from scratch on uint8 (N, H, W, 3) RGB images.

    The budget is ``steps`` optimiser steps, or ``epochs`` passes over the data (default 30).
    ``balanced`` samples every class equally often; ``weighted_loss`` weights the loss by inverse
    class frequency instead (or as well). SGD with Nesterov momentum, warm-up then cosine decay,
    flips and ±4 px shifts; bf16 on CUDA. ``should_stop`` ends training early (the partly
    trained classifier is returned). ``progress`` gets ``{step, steps, loss, images_per_s}``.
    """
    images = check_images(images)
    labels = check_labels(labels, len(images), num_classes)
    dev, _ = resolve_device(device)
    cfg = ClassifierConfig(num_classes, resolution or images.shape[1], arch)
    if steps is None:
        steps = max(1, math.ceil((epochs if epochs is not None else 30) * len(images) / batch_size))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    net = ClassifierNet(cfg).to(dev, memory_format=memory_format(dev)).train()
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    )
    weights = torch.as_tensor(
        sample_weights(labels, num_classes, "balanced" if balanced else "uniform")
    )
    loss_w = None
    if weighted_loss:
        counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
        w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        loss_w = torch.as_tensor(
            w / (w * class_weights(labels, num_classes, "uniform")).sum(),
            dtype=torch.float32,
            device=dev,
        )
    data = torch.from_numpy(np.ascontiguousarray(images)).to(dev)
    ys = torch.as_tensor(labels, device=dev)
    budget: dict[str, Any] | None = training_budget(
        steps, batch_size, seed, balanced, str(dev), len(images),
        weighted_loss=weighted_loss, lr=lr, arch=arch,
    )  # fmt: skip
    start = time.monotonic()
    for step in range(steps):
        if should_stop is not None and should_stop():
            budget = None  # stopped early: not the budget it was asked for
            break
        idx = torch.multinomial(weights, batch_size, replacement=True, generator=gen).to(dev)
        x = _augment(to_float(data[idx], cfg.resolution), dev_gen)
        with autocast(dev):
            logits, _ = net(x.contiguous(memory_format=memory_format(dev)))
        loss = F.cross_entropy(logits.float(), ys[idx], weight=loss_w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None and (step % 20 == 0 or step == steps - 1):
            rate = (step + 1) * batch_size / max(time.monotonic() - start, 1e-9)
            progress(
                {
                    "step": step + 1,
                    "steps": steps,
                    "loss": float(loss.detach()),
                    "images_per_s": rate,
                }
            )
    return Classifier(net, cfg, dev, budget)


def training_budget(
    steps: int,
    batch_size: int,
    seed: int,
    balanced: bool,
    device: str,
    num_images: int,
    *,
    weighted_loss: bool = False,
    lr: float = DEFAULT_LR,
    arch: str = "resnet18",
) -> dict[str, Any]:
    """Everything that decides what ``train_classifier`` produces from the same images."""
    return {
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "balanced": balanced,
        "weighted_loss": weighted_loss,
        "lr": lr,
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
