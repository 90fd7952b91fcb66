"""GAN suggestions for thin classes, the small classifier and the metrics that judge them.

Importing this package is cheap: torch is loaded only when one of the names below is first used,
so the CLI and the GUI can refer to ``labeler.ml`` without paying for torch at start-up. Only
torch, torchvision, numpy, the standard library and the standard-library-only parts of the core
(``labeler.core.errors``, ``.files``, ``.progress``) are used here, so the package runs on a
headless GPU machine.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train_gan": "train",
    "RunResult": "train",
    "GanConfig": "gan",
    "load_generator": "checkpoint",
    "generate": "suggest",
    "suggest": "suggest",
    "Suggestion": "suggest",
    "SuggestResult": "suggest",
    "train_classifier": "classifier",
    "Classifier": "classifier",
    "save_classifier": "classifier",
    "load_classifier": "classifier",
    "evaluate": "evaluate",
    "kid": "metrics",
    "fid": "metrics",
    "classification_report": "metrics",
    "load_image_folder": "data",
    "resolve_device": "device",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labeler.ml' has no attribute {name!r}")
    return getattr(importlib.import_module(f"labeler.ml.{module}"), name)
