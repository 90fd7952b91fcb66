"""How fast the GAN trains on this device: images/s at the batch ``train_gan`` would choose
beside the largest batch that fits, measured in one run, so the ratio says how much of the
device the chosen batch uses (issue 15: at the old batch of 128 an H200 ran at a quarter of
what it does at 2,048)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from labeler.core.errors import LabelerError
from labeler.ml.data import RealSampler, check_images, check_labels
from labeler.ml.device import choose_batch, resolve_device, scale_lr
from labeler.ml.diffaug import DEFAULT_POLICY
from labeler.ml.gan import GanConfig
from labeler.ml.train import DEFAULT_LR, _Loop, _make_nets

DEFAULT_CAP = 4096


def measure_throughput(
    images: np.ndarray,
    labels: Any,
    num_classes: int,
    *,
    resolution: int = 32,
    width: str = "base",
    device: str = "auto",
    batch_size: int | None = None,
    cap: int = DEFAULT_CAP,
    steps: int = 10,
    warmup: int = 2,
    d_steps: int = 2,
    max_seconds: float | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train fresh networks for ``steps`` timed steps (after ``warmup``) at the chosen batch
    (``batch_size``, else ``choose_batch``), then at twice that, and so on until the batch runs
    out of GPU memory, passes ``cap``, or ``max_seconds`` are spent.

    Returns ``chosen_batch``, ``chosen_images_per_s``, ``largest_batch`` (the largest that ran),
    ``largest_images_per_s``, ``ratio`` (chosen ÷ largest images/s), ``best_batch``,
    ``limit`` (``"out of memory"``, ``"error"``, ``"cap"`` or ``"time"``) and ``tried`` (every batch with
    its images/s, or ``fits: False``). Images/s counts real images D saw, as ``train_gan``'s
    ``images_per_s`` does.

    >>> measure_throughput(images, labels, 10, device="cuda")["ratio"]  # doctest: +SKIP
    """
    arr = check_images(images)
    labels = check_labels(labels, len(arr), num_classes)
    if steps < 1 or warmup < 0 or cap < 1:
        raise LabelerError("steps and cap must be positive and warmup ≥ 0")
    dev, _ = resolve_device(device)
    cfg = GanConfig(num_classes, resolution, width)
    chosen = batch_size or choose_batch(dev, resolution, width)
    gen = torch.Generator(device=dev).manual_seed(seed)
    sampler = RealSampler(arr, labels, num_classes, resolution, dev, "balanced", gen)
    start = time.monotonic()
    tried: list[dict[str, Any]] = []
    batch, limit = chosen, "cap"
    while True:
        try:
            rate = _rate(cfg, sampler, dev, gen, batch, steps, warmup, d_steps)
        except torch.cuda.OutOfMemoryError:
            tried.append({"batch": batch, "fits": False})
            limit = "out of memory"
            break
        except RuntimeError as exc:
            if batch == chosen:  # the batch training will use must work
                raise
            # Past the chosen batch a library may run out of its own resources first
            # (cuDNN or cuBLAS workspaces, 32-bit index limits): that is where it stops too.
            tried.append({"batch": batch, "fits": False, "error": str(exc)[:200]})
            limit = "error"
            break
        finally:
            if dev.type == "cuda":
                torch.cuda.empty_cache()
        tried.append({"batch": batch, "fits": True, "images_per_s": round(rate, 1)})
        if batch * 2 > max(cap, chosen):
            break
        if max_seconds is not None and time.monotonic() - start > max_seconds:
            limit = "time"
            break
        batch *= 2
    ran = [t for t in tried if t["fits"]]
    if not ran:
        raise LabelerError(f"the GAN does not fit on {dev} at a batch of {chosen}")
    first, last = ran[0], ran[-1]
    best = max(ran, key=lambda t: t["images_per_s"])
    return {
        "device": str(dev),
        "resolution": resolution,
        "width": width,
        "d_steps": d_steps,
        "chosen_batch": chosen,
        "chosen_images_per_s": first["images_per_s"],
        "largest_batch": last["batch"],
        "largest_images_per_s": last["images_per_s"],
        "ratio": round(first["images_per_s"] / max(last["images_per_s"], 1e-9), 3),
        "best_batch": best["batch"],
        "best_images_per_s": best["images_per_s"],
        "limit": limit,
        "seconds": round(time.monotonic() - start, 1),
        "tried": tried,
    }


def _rate(cfg, sampler, dev, gen, batch, steps, warmup, d_steps) -> float:
    torch.manual_seed(0)
    lr = scale_lr(DEFAULT_LR, batch)
    nets = _make_nets(cfg, dev, lr, lr)
    loop = _Loop(cfg, nets, sampler, dev, gen, batch, d_steps, 0.1, 0.999, DEFAULT_POLICY)
    try:
        for i in range(warmup):
            loop.step(i)
        _sync(dev, loop)
        t0 = time.perf_counter()
        for i in range(steps):
            loop.step(warmup + i)
        _sync(dev, loop)
        return steps * batch * d_steps / max(time.perf_counter() - t0, 1e-9)
    finally:
        del loop, nets


def _sync(dev: torch.device, loop: _Loop) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    loop.pop_losses()
