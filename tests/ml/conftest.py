"""Shared fixtures for the ML tests: small real images, two threads, tiny networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

MINI = Path(__file__).resolve().parents[2] / "resources" / "cifar10-lt-mini"
CLASSES = ["airplane", "ship", "truck"]


@pytest.fixture(autouse=True)
def _few_threads():
    # The test machine is shared: two threads keep the whole ML suite well under a minute.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mini() -> tuple[np.ndarray, np.ndarray]:
    """Real 32x32 CIFAR images of three classes (120, 8 and 6 of them: a long tail)."""
    from labeler.ml.data import load_image_folder

    images, labels, names = load_image_folder(MINI, class_names=CLASSES)
    assert names == CLASSES
    return images, labels
