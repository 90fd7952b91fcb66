"""The fog op, loaded as a user would install it by hand: from the user plugin folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.core.augment import (
    AugmentJob,
    Recipe,
    augment_copy,
    augment_files,
    make_op,
    registered_ops,
    step,
)
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape

DEMO_PHOTOS = Path(__file__).resolve().parents[3] / "resources" / "demo-photos"
SHAPES = [Shape.tag(1), Shape.box(1, 10, 8, 40, 30), Shape.polygon(2, [(5, 5), (50, 9), (30, 40)])]


@pytest.fixture
def fog(load_from_folder):
    status = load_from_folder("fog", "labeler_fog")
    assert status.error is None and status.loaded
    return status


def _photo(grey: bool = False) -> np.ndarray:
    img = cv2.resize(cv2.imread(str(DEMO_PHOTOS / "astronaut.jpg")), (96, 64))
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if grey else img


def test_the_plugin_loads_from_the_user_folder_and_adds_one_op(fog):
    assert fog.source == "folder" and fog.version == "1.0.0"
    assert fog.adds.ops == ("fog",) and not fog.adds.exporters
    assert registered_ops()["fog"].__module__ == "labeler_fog"


def test_the_op_is_gone_after_unloading(fog):
    from labeler.plugins import unload_plugins

    unload_plugins()
    assert "fog" not in registered_ops()
    with pytest.raises(LabelerError, match="unknown op 'fog'"):
        make_op("fog")


@pytest.mark.parametrize("grey", [False, True], ids=["bgr", "grey"])
def test_fog_is_deterministic_keeps_shapes_and_hazes_towards_the_fog_colour(fog, grey):
    recipe = Recipe(steps=(step("fog", density=[0.4, 0.6]),), seed=3)
    img = _photo(grey)
    before = img.copy()
    out, shapes = augment_copy(img, SHAPES, recipe, image_key="k", copy_index=0)
    assert np.array_equal(img, before), "the input must not be modified"
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert shapes == SHAPES  # a pixel op moves nothing
    again, _ = augment_copy(img, SHAPES, recipe, image_key="k", copy_index=0)
    assert np.array_equal(out, again)
    other, _ = augment_copy(img, SHAPES, recipe, image_key="k", copy_index=1)
    assert not np.array_equal(out, other), "another copy draws another fog"
    # Fog lowers contrast and pulls every pixel towards the fog's grey level (225).
    assert out.std() < 0.75 * img.std()
    assert np.abs(out.astype(int) - 225).mean() < np.abs(img.astype(int) - 225).mean()


def test_fog_is_patchy_not_a_flat_tint(fog):
    op = make_op("fog", {"density": [1.0, 1.0], "scale": [0.25, 0.25], "brightness": 255})
    flat = np.zeros((80, 120, 3), np.uint8)
    out = op.apply(flat, op.sample(np.random.default_rng(0), 120, 80))
    assert out.min() >= 0.35 * 255 - 1 and out.max() > 0.9 * 255
    assert out[..., 0].std() > 10


def test_zero_density_changes_nothing(fog):
    op = make_op("fog", {"density": [0, 0]})
    img = _photo()
    assert np.array_equal(op.apply(img, op.sample(np.random.default_rng(1), 96, 64)), img)


def test_parameters_are_declared_and_checked_like_the_built_in_ops(fog):
    op = make_op("fog")
    assert op.to_dict() == {"density": [0.2, 0.5], "scale": [0.1, 0.3], "brightness": 225}
    with pytest.raises(LabelerError, match="fog: parameter 'density' must be within"):
        make_op("fog", {"density": [0.5, 2]})
    with pytest.raises(LabelerError, match="unknown parameter 'thickness'"):
        make_op("fog", {"thickness": 1})
    recipe = Recipe(steps=(step("fog", p=0.5, scale=[0.05, 0.2]),), name="foggy")
    assert Recipe.from_json(recipe.to_json()) == recipe


@pytest.mark.slow
def test_spawned_augmentation_workers_find_the_plugin_op(fog, tmp_path):
    """Exports augment in spawned processes, which import each op's module by name: the
    folder plugin must be importable there too, and give the same pixels."""
    src = tmp_path / "a.png"
    cv2.imwrite(str(src), _photo())
    recipe = Recipe(steps=(step("fog"),), seed=7)
    jobs = [AugmentJob(src, (), "key", 0, tmp_path / f"out{k}.png") for k in (0, 1)]
    serial = list(augment_files(jobs[:1], recipe, workers=0))
    pooled = list(augment_files(jobs[1:], recipe, workers=1))
    assert serial[0].error is None and pooled[0].error is None, pooled[0].error
    a = cv2.imread(str(jobs[0].output), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(jobs[1].output), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(a, b)
