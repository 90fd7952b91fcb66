"""Checkpoints as tensors plus JSON, never pickled code.

A checkpoint file holds only tensors, numbers, strings and dicts/lists of them, written by
``torch.save`` and read back with ``torch.load(weights_only=True)``, whose restricted unpickler
refuses any global that is not a tensor type; a pickle that would run code is an error, not an
execution. The networks are rebuilt from the JSON config and filled with ``load_state_dict``
(strict), so wrong or missing keys are caught too. Every failure is one ``LabelerError`` line.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from labeler.core.errors import LabelerError
from labeler.core.files import atomic_write_text, atomic_writer, sha256_file
from labeler.ml.gan import GanConfig, Generator

GAN_FORMAT = "labeler.gan"
FORMAT_VERSION = 1


def save_payload(
    payload: dict[str, Any], path: str | Path, sidecar: dict[str, Any] | None = None
) -> str:
    """Write ``payload`` atomically (a unique temporary name, fsync, ``os.replace``); return
    its SHA-256, which identifies the generator behind every suggestion.

    ``sidecar`` is written as ``<path>.json`` (same stem) for people and for the CLI.
    """
    path = Path(path)
    with atomic_writer(path) as f:
        torch.save(payload, f)
    digest = sha256_file(path)
    if sidecar is not None:
        side = json.dumps({**sidecar, "sha256": digest}, indent=2, sort_keys=True)
        atomic_write_text(path.with_suffix(".json"), side)
    return digest


def load_payload(path: str | Path, expected_format: str) -> dict[str, Any]:
    """Read a checkpoint safely; raise ``LabelerError`` for anything that is not ours."""
    path = Path(path)
    if not path.is_file():
        raise LabelerError(f"checkpoint not found: {path}")
    # torch.save writes a zip archive; refusing anything else keeps the legacy raw-pickle
    # reader (the widest attack surface) out of reach entirely.
    if not zipfile.is_zipfile(path):
        raise LabelerError(f"{path.name} is not a Labeler checkpoint (not a torch zip archive)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        ValueError,
        OSError,
        KeyError,
        AttributeError,
        TypeError,
        zipfile.BadZipFile,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LabelerError(
            f"{path.name} is corrupt or unsafe and was not loaded ({first[:160]})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise LabelerError(f"{path.name} is not a {expected_format} checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise LabelerError(
            f"{path.name} has format version {payload.get('format_version')!r}; "
            f"this Labeler reads version {FORMAT_VERSION}"
        )
    return payload


def load_state(module: torch.nn.Module, state: Any, what: str) -> None:
    """``load_state_dict(strict=True)`` with a readable error for wrong keys or shapes."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise LabelerError(f"checkpoint's {what} is not a state dict of tensors")
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise LabelerError(
            f"checkpoint's {what} does not fit the network: {str(exc)[:200]}"
        ) from None


def load_generator(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[Generator, GanConfig, int]:
    """Load the EMA generator from a GAN checkpoint: ``(generator in eval mode, config, step)``.

    >>> G, cfg, step = load_generator("runs/00001-gan-r32-c10/checkpoint.pt")  # doctest: +SKIP
    """
    payload = load_payload(path, GAN_FORMAT)
    cfg = GanConfig.from_json(payload.get("config"))
    generator = Generator(cfg)
    load_state(generator, payload.get("generator_ema"), "generator_ema")
    step = payload.get("step")
    if not isinstance(step, int):
        raise LabelerError("checkpoint has no step counter")
    return generator.to(device).eval(), cfg, step
