"""Pre-labellers from plugins: a model a site already has, proposing classes for unlabeled images.

A plugin adds one with ``api.add_prelabeller(obj)``. ``obj`` carries:

- ``name`` (str): what ``labeler prelabel --model NAME`` and the window's Pre-labels dock call it;
- ``title`` (str): one line for menus and reports;
- ``features(image) -> 1-D array``: a row of numbers for one decoded image (BGR uint8, upright,
  as `labeler.core.images.decode` gives it), e.g. an ONNX encoder's embedding;
- ``fit_predict(x, y, x_new, n_classes) -> probabilities``: train on rows ``x`` with class
  indices ``y`` (0..n_classes-1) and return a (len(x_new), n_classes) array of class
  probabilities for rows ``x_new``.

Labeler, not the plugin, decides whether the model is offered: it calls ``fit_predict`` once
per held-out fold of the labelled images and once on all of them, measures the balanced
accuracy of the held-out predictions, and applies the same bar as its own models (ADR 0102).
A plugin cannot claim an accuracy. Model files come with the plugin's package or from the
user, never from a download.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.registry import Registry

MAX_FEATURES = 65_536  # numbers per image row: a generous embedding, not a copy of the pixels


class Prelabeller(Protocol):
    name: str
    title: str

    def features(self, image: np.ndarray) -> Any: ...

    def fit_predict(
        self, x: np.ndarray, y: np.ndarray, x_new: np.ndarray, n_classes: int
    ) -> Any: ...


OWN_MODELS = ("features", "cnn")


def _check_prelabeller(name: str, obj: object) -> None:
    if name in OWN_MODELS:
        raise ValueError(f"pre-labeller {name!r}: that name is one of Labeler's own models")
    if getattr(obj, "name", None) != name:
        raise ValueError(f"pre-labeller {name!r} must carry its name (its .name is not {name!r})")
    if not isinstance(getattr(obj, "title", None), str):
        raise ValueError(f"pre-labeller {name!r} has no title")
    for method in ("features", "fit_predict"):
        if not callable(getattr(obj, method, None)):
            raise TypeError(f"pre-labeller {name!r} has no {method}() method")


PRELABELLERS: Registry[Prelabeller] = Registry(
    "pre-labeller", called="pre-label model", check=_check_prelabeller
)
"""Pre-labellers added by plugins, by name (Labeler's own models are `features` and `cnn`)."""


def feature_row(name: str, raw: object) -> np.ndarray:
    """A plugin's ``features`` answer as a finite 1-D float row, or one line naming it."""
    try:
        row = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise LabelerError(
            f"pre-labeller {name!r} returned features that are not numbers"
        ) from None
    if row.ndim != 1 or not 1 <= row.size <= MAX_FEATURES:
        raise LabelerError(
            f"pre-labeller {name!r} returned features of shape {row.shape}; expected one row of"
            f" 1 to {MAX_FEATURES} numbers"
        )
    if not np.isfinite(row).all():
        raise LabelerError(f"pre-labeller {name!r} returned features that are not finite")
    return row


def probabilities(name: str, raw: object, rows: int, n_classes: int) -> np.ndarray:
    """A plugin's ``fit_predict`` answer as (rows, n_classes) probabilities summing to 1 per
    row (non-negative scores are normalised), or one line naming it."""
    try:
        p = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise LabelerError(
            f"pre-labeller {name!r} returned probabilities that are not numbers"
        ) from None
    if p.shape != (rows, n_classes):
        raise LabelerError(
            f"pre-labeller {name!r} returned probabilities of shape {p.shape}; expected"
            f" ({rows}, {n_classes})"
        )
    if not np.isfinite(p).all() or (p < 0).any():
        raise LabelerError(f"pre-labeller {name!r} returned negative or non-finite probabilities")
    sums = p.sum(axis=1, keepdims=True)
    if rows and (sums <= 0).any():
        raise LabelerError(f"pre-labeller {name!r} returned a row of zero probabilities")
    return p / np.where(sums > 0, sums, 1.0)
