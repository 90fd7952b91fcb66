"""Every registered op, the geometry it moves shapes with, and the fused warp."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.core.augment import (
    Recipe,
    augment,
    augment_copy,
    plan,
    registered_ops,
    rng_for,
    step,
)
from labeler.core.augment.geometry import (
    WarpSettings,
    clip_polygon,
    polygon_area,
    translation,
    warp,
)
from labeler.core.shapes import Shape

# Example parameters for every op: a registered op missing here fails the suite (plugins too).
EXAMPLE_PARAMS: dict[str, dict] = {
    "horizontal_flip": {},
    "vertical_flip": {},
    "rotate90": {"turns": [1, 3]},
    "rotate": {"angle": [-30, 30]},
    "affine": {
        "scale": [0.8, 1.2],
        "translate": [-0.1, 0.1],
        "rotate": [-10, 10],
        "shear": [-5, 5],
    },
    "perspective": {"scale": [0.05, 0.1]},
    "random_resized_crop": {"width": 40, "height": 30, "scale": [0.3, 1.0]},
    "crop": {"width": 32, "height": 24, "position": "random"},
    "resize": {"width": 50, "height": 30},
    "letterbox": {"width": 80, "height": 80},
    "brightness_contrast": {"brightness": [-0.3, 0.3], "contrast": [-0.3, 0.3]},
    "gamma": {"gamma": [0.5, 2.0]},
    "hue_saturation_value": {"hue": [-20, 20], "saturation": [-0.3, 0.3], "value": [-0.2, 0.2]},
    "color_jitter": {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.1},
    "grayscale": {},
    "clahe": {"clip_limit": [1.0, 3.0], "tiles": 4},
    "sharpen": {"alpha": [0.2, 0.6], "lightness": [0.5, 1.5]},
    "gaussian_blur": {"sigma": [0.5, 2.0]},
    "motion_blur": {"size": [3, 9]},
    "gaussian_noise": {"std": [0.02, 0.08], "per_channel": False},
    "jpeg": {"quality": [30, 80]},
    "cutout": {"holes": [1, 3], "size": [0.1, 0.3], "fill": 127},
}

# Parameters that must leave image and shapes exactly as they were (None: the op has none).
IDENTITY_PARAMS: dict[str, dict | None] = {
    "horizontal_flip": None,
    "vertical_flip": None,
    "rotate90": {"turns": [0, 0]},
    "rotate": {"angle": [0, 0]},
    "affine": {"scale": [1, 1], "translate": [0, 0], "rotate": [0, 0], "shear": [0, 0]},
    "perspective": {"scale": [0, 0]},
    "random_resized_crop": {"width": 64, "height": 48, "scale": [1, 1], "ratio": [4 / 3, 4 / 3]},
    "crop": {"width": 64, "height": 48},
    "resize": {"width": 64, "height": 48},
    "letterbox": {"width": 64, "height": 48},
    "brightness_contrast": {"brightness": [0, 0], "contrast": [0, 0]},
    "gamma": {"gamma": [1, 1]},
    "hue_saturation_value": {"hue": [0, 0], "saturation": [0, 0], "value": [0, 0]},
    "color_jitter": {"brightness": 0, "contrast": 0, "saturation": 0, "hue": 0},
    "grayscale": None,
    "clahe": None,
    "sharpen": {"alpha": [0, 0]},
    "gaussian_blur": {"sigma": [0, 0]},
    "motion_blur": None,
    "gaussian_noise": {"std": [0, 0]},
    "jpeg": None,
    "cutout": {"holes": [0, 0]},
}

W, H = 64, 48
OPS = sorted(EXAMPLE_PARAMS)


def _image(grey: bool = False, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (5, 5), 0)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if grey else img


SHAPES = [
    Shape.tag(7),
    Shape.box(1, 10, 8, 40, 30),
    Shape.polygon(2, [(20, 20), (50, 22), (44, 44), (18, 40)]),
]


def _inside(shapes: list[Shape], w: int, h: int) -> bool:
    return all(0 <= x <= w and 0 <= y <= h for s in shapes for x, y in s.points)


def test_every_registered_op_has_test_parameters() -> None:
    assert set(EXAMPLE_PARAMS) == set(registered_ops())
    assert set(IDENTITY_PARAMS) == set(registered_ops())


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("grey", [False, True], ids=["bgr", "grey"])
def test_op_keeps_type_moves_shapes_inside_and_is_deterministic(name: str, grey: bool) -> None:
    recipe = Recipe(steps=(step(name, **EXAMPLE_PARAMS[name]),), min_visibility=0.0)
    img = _image(grey)
    before = img.copy()
    out, shapes = augment_copy(img, SHAPES, recipe, image_key="k", copy_index=3)
    assert np.array_equal(img, before), "the input must not be modified"
    assert out.dtype == np.uint8 and out.ndim == img.ndim and out.shape[2:] == img.shape[2:]
    assert shapes[0] == Shape.tag(7)
    assert _inside(shapes, out.shape[1], out.shape[0])
    again, shapes2 = augment_copy(img, SHAPES, recipe, image_key="k", copy_index=3)
    assert np.array_equal(out, again) and shapes == shapes2


@pytest.mark.parametrize("name", OPS)
def test_serialised_recipe_gives_identical_output(name: str) -> None:
    recipe = Recipe(steps=(step(name, p=0.9, **EXAMPLE_PARAMS[name]),), seed=5)
    loaded = Recipe.from_json(recipe.to_json())
    assert loaded == recipe and loaded.to_dict() == recipe.to_dict()
    for copy in range(3):
        a = augment_copy(_image(), SHAPES, recipe, image_key="x", copy_index=copy)
        b = augment_copy(_image(), SHAPES, loaded, image_key="x", copy_index=copy)
        assert np.array_equal(a[0], b[0]) and a[1] == b[1]


@pytest.mark.parametrize("name", [n for n in OPS if IDENTITY_PARAMS[n] is not None])
def test_identity_parameters_return_the_input(name: str) -> None:
    recipe = Recipe(steps=(step(name, **IDENTITY_PARAMS[name]),))
    for img in (_image(), _image(grey=True)):
        out, shapes = augment(img, SHAPES, recipe, rng_for(0, "id", 0))
        assert np.array_equal(out, img)
        assert shapes == SHAPES


def test_rng_for_is_stable_and_distinct() -> None:
    a = rng_for(3, "abc", 1).integers(0, 2**32, 4)
    assert np.array_equal(a, rng_for(3, "abc", 1).integers(0, 2**32, 4))
    for other in (rng_for(4, "abc", 1), rng_for(3, "abd", 1), rng_for(3, "abc", 2)):
        assert not np.array_equal(a, other.integers(0, 2**32, 4))


def test_switching_a_step_off_does_not_change_the_others() -> None:
    rot = step("rotate", angle=(-40, 40))
    full = Recipe(steps=(rot, step("gaussian_blur"), step("affine")))
    off = Recipe(steps=(rot, step("gaussian_blur", p=0.0), step("affine")))
    a = plan(full, rng_for(0, "k", 0), W, H)
    b = plan(off, rng_for(0, "k", 0), W, H)
    assert [p.drawn for p in a if p.op.name != "gaussian_blur"] == [p.drawn for p in b]


# -- geometry ---------------------------------------------------------------------------------
coords = st.integers(0, 4 * 40).map(lambda v: v / 4)  # quarter pixels: exact in binary


@st.composite
def boxes_and_polygons(draw: st.DrawFn) -> list[Shape]:
    out = []
    for _ in range(draw(st.integers(1, 4))):
        x1, x2 = sorted((draw(coords), draw(coords)))
        y1, y2 = sorted((draw(coords), draw(coords)))
        out.append(Shape.box(0, x1, y1, x2 + 0.25, y2 + 0.25))
    pts = [(draw(coords), draw(coords)) for _ in range(3)]
    pts[1] = (pts[1][0] + 0.5, pts[1][1])
    pts[2] = (pts[2][0], pts[2][1] + 0.75)
    if polygon_area(np.array(pts)) > 0:
        out.append(Shape.polygon(1, pts))
    return out


@settings(max_examples=30, deadline=None)
@given(shapes=boxes_and_polygons(), flip=st.sampled_from(["horizontal_flip", "vertical_flip"]))
def test_flips_are_exact_and_invertible(shapes: list[Shape], flip: str) -> None:
    img = _image()
    once, moved = augment(img, shapes, Recipe(steps=(step(flip),)), rng_for(0, "", 0))
    expected = img[:, ::-1] if flip == "horizontal_flip" else img[::-1]
    assert np.array_equal(once, expected)
    for a, b in zip(shapes, moved, strict=True):
        if flip == "horizontal_flip":
            assert b.bbox() == (W - a.bbox()[2], a.bbox()[1], W - a.bbox()[0], a.bbox()[3])
        else:
            assert b.bbox() == (a.bbox()[0], H - a.bbox()[3], a.bbox()[2], H - a.bbox()[1])
    twice, back = augment(img, shapes, Recipe(steps=(step(flip), step(flip))), rng_for(0, "", 0))
    assert np.array_equal(twice, img) and back == shapes


@settings(max_examples=30, deadline=None)
@given(shapes=boxes_and_polygons(), k=st.integers(0, 3))
def test_rot90_is_exact_and_invertible(shapes: list[Shape], k: int) -> None:
    img = _image()
    recipe = Recipe(steps=(step("rotate90", turns=(k, k)),))
    out, moved = augment(img, shapes, recipe, rng_for(0, "", 0))
    assert np.array_equal(out, np.rot90(img, k))
    for a, b in zip(shapes, moved, strict=True):
        x1, y1, x2, y2 = a.bbox()
        box = [(x1, y1, x2, y2), (y1, W - x2, y2, W - x1), (W - x2, H - y2, W - x1, H - y1),
               (H - y2, x1, H - y1, x2)][k]  # fmt: skip
        assert b.bbox() == box
    undo = step("rotate90", turns=((4 - k) % 4,) * 2)
    back, restored = augment(img, shapes, Recipe(steps=(recipe.steps[0], undo)), rng_for(0, "", 0))
    assert np.array_equal(back, img) and restored == shapes


@settings(max_examples=40, deadline=None)
@given(
    shapes=boxes_and_polygons(),
    angle=st.floats(-180, 180),
    scale=st.floats(0.3, 3.0),
    shift=st.floats(-0.5, 0.5),
    crop=st.booleans(),
)
def test_boxes_and_polygons_stay_inside_the_image(
    shapes: list[Shape], angle: float, scale: float, shift: float, crop: bool
) -> None:
    steps = [
        step("affine", scale=(scale, scale), translate=(shift, shift), rotate=(angle, angle)),
        step("perspective", scale=(0.0, 0.2)),
    ]
    if crop:
        steps.append(step("random_resized_crop", width=37, height=29, scale=(0.2, 1.0)))
    recipe = Recipe(steps=tuple(steps), min_visibility=0.0)
    out, moved = augment(_image(), shapes, recipe, rng_for(0, str(angle), 0))
    oh, ow = out.shape[:2]
    assert _inside(moved, ow, oh)
    for s in moved:
        x1, y1, x2, y2 = s.bbox()
        assert x1 < x2 and y1 < y2


def test_box_goes_through_its_corners_and_low_visibility_is_dropped() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    box = Shape.box(0, 40, 40, 60, 60)
    out, (moved,) = augment(
        img, [box], Recipe(steps=(step("rotate", angle=(45, 45)),)), rng_for(0, "", 0)
    )
    half = 10 * math.sqrt(2)
    assert moved.bbox() == pytest.approx((50 - half, 50 - half, 50 + half, 50 + half))
    # A crop that keeps a quarter of a box: kept at min_visibility 0.2, dropped at 0.3.
    shapes = [Shape.tag(1), Shape.box(2, 0, 0, 20, 20)]
    crop = step("crop", width=90, height=90, position="center")  # offset (5, 5)
    keep = Recipe(steps=(crop,), min_visibility=0.5)
    assert augment(img, shapes, keep, rng_for(0, "", 0))[1][1].points == ((0, 0), (15, 15))
    drop = Recipe(steps=(crop,), min_visibility=0.6)
    assert augment(img, shapes, drop, rng_for(0, "", 0))[1] == [Shape.tag(1)]


def test_clip_polygon_keeps_the_inside_part() -> None:
    tri = np.array([[-10.0, 0.0], [10.0, 0.0], [10.0, 20.0]])
    clipped = clip_polygon(tri, 100, 100)
    assert polygon_area(clipped) == pytest.approx(150)  # of 200: x < 0 holds 50
    assert clipped[:, 0].min() == 0


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("flip", [False, True])
def test_exact_fast_path_matches_opencv_warp(turns: int, flip: bool) -> None:
    img = _image()
    steps = [step("rotate90", turns=(turns, turns))] + ([step("horizontal_flip")] if flip else [])
    steps.append(step("crop", width=30, height=50, position="center"))  # needs padding one way
    planned = plan(Recipe(steps=tuple(steps)), rng_for(0, "", 0), W, H)
    m = np.eye(3)
    for p in planned:
        m = p.matrix @ m
    exact = warp(img, m, 30, 50, WarpSettings())
    m_cv = translation(-0.5, -0.5) @ m @ translation(0.5, 0.5)
    ref = cv2.warpAffine(img, m_cv[:2], (30, 50), flags=cv2.INTER_NEAREST)
    assert np.array_equal(exact, ref)


def _pattern(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 128 + 60 * np.sin(0.9 * x + 0.4 * y) + 50 * np.cos(0.3 * x - 1.1 * y)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255**2 / float(np.mean((a.astype(float) - b.astype(float)) ** 2)))


def test_fused_warp_is_sharper_than_one_warp_per_op() -> None:
    """Against the exact answer (an analytic pattern sampled through the inverse matrix), one
    resampling beats four."""
    n = 96
    ys, xs = np.mgrid[0:n, 0:n] + 0.5
    img = np.clip(np.rint(_pattern(xs, ys)), 0, 255).astype(np.uint8)
    recipe = Recipe(
        steps=(
            step("rotate", angle=(11, 11)),
            step("affine", scale=(1.1, 1.1), translate=(0.02, 0.02), shear=(4, 4)),
            step("rotate", angle=(-23, -23)),
            step("resize", width=90, height=90),
            # The centre only: every intermediate image still has content there, so the
            # comparison measures blur, not corners lost to an early rotation.
            step("crop", width=40, height=40),
        )
    )
    planned = plan(recipe, rng_for(0, "", 0), n, n)
    m = np.eye(3)
    for p in planned:
        m = p.matrix @ m
    oy, ox = np.mgrid[0:40, 0:40] + 0.5
    src = np.linalg.inv(m) @ np.stack([ox.ravel(), oy.ravel(), np.ones(ox.size)])
    sx, sy = src[0] / src[2], src[1] / src[2]
    ideal = _pattern(sx, sy).reshape(40, 40)
    inside = ((sx > 2) & (sx < n - 2) & (sy > 2) & (sy < n - 2)).reshape(40, 40)
    fused = augment(img, [], recipe, rng_for(0, "", 0))[0]
    sequential = augment(img, [], recipe, rng_for(0, "", 0), fuse=False)[0]
    ideal_u8 = np.clip(np.rint(ideal), 0, 255)
    p_fused = _psnr(fused[inside], ideal_u8[inside])
    p_seq = _psnr(sequential[inside], ideal_u8[inside])
    assert p_fused > p_seq + 3, (p_fused, p_seq)


def test_strong_shrink_is_prefiltered() -> None:
    """Downscaling a fine checkerboard 8x: averaged grey, not aliased stripes."""
    board = (np.indices((256, 256)).sum(axis=0) % 2 * 255).astype(np.uint8)
    out = augment(
        board, [], Recipe(steps=(step("resize", width=32, height=32),)), rng_for(0, "", 0)
    )[0]
    assert abs(float(out.mean()) - 127.5) < 3 and out.std() < 3
