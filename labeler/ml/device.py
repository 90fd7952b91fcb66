"""Choosing the device, and saying so when the CPU has to do a GPU's work."""

from __future__ import annotations

import warnings

import torch

from labeler.core.errors import LabelerError

CPU_WARNING = "No CUDA GPU found: running on the CPU, which is much slower."


def resolve_device(device: str | torch.device = "auto") -> tuple[torch.device, str | None]:
    """Return the torch device for ``'auto'``, ``'cuda'``, ``'cuda:N'`` or ``'cpu'``.

    The second item is a warning message when ``'auto'`` fell back to the CPU (it is also raised
    as a ``UserWarning`` so a plain script sees it); it is ``None`` otherwise.

    >>> resolve_device("cpu")
    (device(type='cpu'), None)
    """
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda"), None
        warnings.warn(CPU_WARNING, UserWarning, stacklevel=3)
        return torch.device("cpu"), CPU_WARNING
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise LabelerError(f"device {name!r} asked for, but no CUDA GPU is available")
        return torch.device(name), None
    if name == "cpu":
        return torch.device("cpu"), None
    raise LabelerError(f"unknown device {name!r}: use auto, cuda or cpu")


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on CUDA (no loss scaling needed); a disabled context on the CPU."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def memory_format(device: torch.device) -> torch.memory_format:
    """channels_last feeds tensor cores better on CUDA; on the CPU it buys nothing here."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


# -- batch size and learning rate from the device (ADR 0105) -------------------------------------
CPU_BATCH = {32: 32, 64: 16, 128: 8}
"""GAN batch on the CPU: small, so a step stays short and progress keeps coming."""
CUDA_BATCH = {32: 512, 64: 256, 128: 128}
"""GAN batch on a CUDA GPU with room to spare: at 32 px a base-width step is launch-bound up to
about 512 (issue 15: 3,489 images/s at 128, 11,220 at 512, 13,482 at 2,048 on an H200), so
512 buys four times the images per step for the same steps per second."""
PER_IMAGE_BYTES = {32: 6 << 20, 64: 20 << 20, 128: 80 << 20}
"""Rough GPU memory one image of a batch costs in a GAN step at base width (G with gradients,
D on real and fake); only used to shrink the batch on a small GPU."""
MEMORY_SHARE = 0.5  # of the free GPU memory the batch may plan to use
LR_REFERENCE_BATCH = 64
LR_MAX_FACTOR = 2.0
WIDTH_FACTOR = {"tiny": 0.125, "small": 0.5, "base": 1.0, "large": 2.0}


def choose_batch(
    device: torch.device | str,
    resolution: int = 32,
    width: str = "base",
    free_memory: int | None = None,
) -> int:
    """The GAN batch size for ``device``: small on the CPU; on CUDA the launch-bound size for the
    resolution, halved until it plans to use at most half of the free memory (``free_memory``
    in bytes; asked of the GPU when ``None``).

    >>> choose_batch("cpu"), choose_batch("cuda", 32, "base", free_memory=80 << 30)
    (32, 512)
    """
    dev = torch.device(device)
    res = resolution if resolution in CPU_BATCH else max(r for r in CPU_BATCH if r <= resolution)
    if dev.type != "cuda":
        return CPU_BATCH[res]
    if free_memory is None:
        free_memory = torch.cuda.mem_get_info(dev)[0]
    per_image = PER_IMAGE_BYTES[res] * WIDTH_FACTOR.get(width, 1.0)
    batch = CUDA_BATCH[res]
    while batch > 8 and batch * per_image > MEMORY_SHARE * free_memory:
        batch //= 2
    return batch


def scale_lr(lr: float, batch_size: int) -> float:
    """Adam's learning rate for ``batch_size``: square-root scaling from a batch of 64 (the batch
    the default rates were tuned at), never below them and at most twice them (ADR 0105).

    >>> scale_lr(2e-4, 32), scale_lr(2e-4, 256), scale_lr(2e-4, 2048)
    (0.0002, 0.0004, 0.0004)
    """
    factor = min(LR_MAX_FACTOR, max(1.0, (batch_size / LR_REFERENCE_BATCH) ** 0.5))
    return round(lr * factor, 12)
