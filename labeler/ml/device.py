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
