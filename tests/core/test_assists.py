"""Assists without model weights: box to polygon, magic wand, edge snapping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from testdata import DEMO_PHOTOS

from labeler.core.assists import (
    MAX_VERTICES,
    AssistFailed,
    Strokes,
    box_to_polygon,
    combine,
    crosses,
    magic_wand,
    snap_path,
)


def iou(polygon, reference: np.ndarray) -> float:
    mask = np.zeros(reference.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.array(polygon)).astype(np.int32)], 1)
    return float((mask & reference).sum() / (mask | reference).sum())


@pytest.fixture
def disc():
    """A red disc on a grey, slightly noisy background, and its true mask."""
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(190, 8, (400, 600, 3)), 0, 255).astype(np.uint8)
    cv2.circle(img, (300, 200), 100, (40, 50, 200), -1)
    ref = np.zeros((400, 600), np.uint8)
    cv2.circle(ref, (300, 200), 100, 1, -1)
    return img, ref


def test_box_to_polygon_outlines_the_object(disc):
    img, ref = disc
    polygon = box_to_polygon(img, (185, 85, 415, 315))
    assert iou(polygon, ref) > 0.95
    assert 3 <= len(polygon) <= MAX_VERTICES
    assert polygon == box_to_polygon(img, (185, 85, 415, 315))  # same box, same polygon


def test_a_background_stroke_cuts_off_what_the_object_touches(disc):
    img, ref = disc
    cv2.rectangle(img, (390, 190), (470, 210), (40, 50, 200), -1)  # a same-colour handle
    box = (185, 85, 480, 315)
    plain = box_to_polygon(img, box)
    assert max(x for x, _ in plain) > 440  # the handle came with it
    stroke = Strokes(background=(((430.0, 195.0), (465.0, 205.0)),), radius=6)
    refined = box_to_polygon(img, box, stroke)
    assert max(x for x, _ in refined) < 430 and iou(refined, ref) > 0.9


def test_magic_wand_fills_the_clicked_region(disc):
    img, ref = disc
    polygon = magic_wand(img, (300, 200), tolerance=30)
    assert iou(polygon, ref) > 0.9
    cv2.circle(img, (520, 320), 50, (200, 160, 40), -1)  # another object, another colour
    other = np.zeros(ref.shape, np.uint8)
    cv2.circle(other, (520, 320), 50, 1, -1)
    second = magic_wand(img, (520, 320), tolerance=30)
    assert iou(second, other) > 0.85 and iou(second, ref) < 0.01


def test_magic_wand_with_edges_stops_at_an_edge_of_close_colour():
    img = np.full((200, 300, 3), 120, np.uint8)
    img[:, 150:] = 135  # close in colour, but a clear edge
    left = magic_wand(img, (50, 100), tolerance=30, use_edges=True)
    assert max(x for x, _ in left) < 160
    both = magic_wand(img, (50, 100), tolerance=30, use_edges=False)
    assert max(x for x, _ in both) > 280


def test_snap_path_follows_the_edge(disc):
    img, _ = disc
    path = snap_path(img, (300, 100), (400, 200))
    assert path[0] == (300, 100) and path[-1] == (400, 200)
    assert len(path) > 2
    radii = [np.hypot(x - 300, y - 200) for x, y in path]
    assert all(95 <= r <= 105 for r in radii)  # on the circle, not across the chord


def test_snap_path_runs_from_start_to_end_in_order(disc):
    """Issue 18: each snapped stretch was stored backwards (from A it jumped near B, ran back
    to A, then jumped to B), so the polygon zig-zagged. The path must go A -> B."""
    img, _ = disc
    for start, end in [
        ((300, 100), (400, 200)),
        ((400, 200), (300, 300)),
        ((200, 200), (300, 100)),
    ]:
        path = snap_path(img, start, end)
        assert path[0] == start and path[-1] == end
        inner = path[1:-1]
        assert len(inner) >= 2
        # The first bend is near A, the last near B.
        assert np.hypot(inner[0][0] - start[0], inner[0][1] - start[1]) < np.hypot(
            inner[0][0] - end[0], inner[0][1] - end[1]
        )
        assert np.hypot(inner[-1][0] - end[0], inner[-1][1] - end[1]) < np.hypot(
            inner[-1][0] - start[0], inner[-1][1] - start[1]
        )
        # Monotone progress round the rim: the angle from A only grows towards B's.
        a0 = np.arctan2(start[1] - 200, start[0] - 300)
        turned = [np.unwrap([a0, np.arctan2(y - 200, x - 300)])[1] - a0 for x, y in path]
        sign = np.sign(turned[-1])
        steps = np.diff([t * sign for t in turned])
        assert (steps > -0.02).all(), turned
        # No segment of the path crosses another.
        assert not any(
            _cross(path[i], path[i + 1], path[j], path[j + 1])
            for i in range(len(path) - 1)
            for j in range(i + 2, len(path) - 1)
        )


def test_crosses_tells_a_closing_path_that_would_cross_or_retrace_the_polygon():
    drawn = [(0, 0), (10, 0), (10, 10)]  # three clicks; the polygon closes back to (0, 0)
    assert not crosses([(10, 10), (3, 8), (0, 0)], drawn)  # round the outside: fine
    assert crosses([(10, 10), (5, -3), (0, 0)], drawn)  # over the first edge
    assert crosses([(10, 10), (10, 5), (0, 0)], drawn)  # back along the last edge
    assert not crosses([(10, 10), (0, 0)], drawn)  # straight: nothing inside to cross


def _cross(p1, p2, q1, q2) -> bool:
    """Whether segments p1-p2 and q1-q2 properly cross."""

    def side(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = side(q1, q2, p1), side(q1, q2, p2)
    d3, d4 = side(p1, p2, q1), side(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def test_real_photo_box_gives_a_plausible_polygon():
    img = cv2.imread(str(DEMO_PHOTOS / "coffee.jpg"))
    box = (90, 30, 520, 380)
    polygon = box_to_polygon(img, box)
    xs, ys = zip(*polygon, strict=True)
    assert min(xs) >= 60 and max(xs) <= 540 and min(ys) >= 0 and max(ys) <= 400
    area = cv2.contourArea(np.array(polygon, np.float32))
    assert 0.2 < area / ((box[2] - box[0]) * (box[3] - box[1])) < 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda img: box_to_polygon(img, (10, 10, 11, 11)),
        lambda img: box_to_polygon(img, (700, 500, 900, 600)),
        lambda img: magic_wand(img, (-5, 10)),
        lambda img: magic_wand(np.zeros((50, 50, 3), np.uint8)[:, :, :1].squeeze(), (900, 1)),
    ],
)
def test_unusable_input_is_one_clear_error(disc, call):
    with pytest.raises(AssistFailed):
        call(disc[0])


def test_grey_and_alpha_images_work(disc):
    img, ref = disc
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert iou(magic_wand(grey, (300, 200), tolerance=30), ref) > 0.9
    bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    assert iou(box_to_polygon(bgra, (185, 85, 415, 315)), ref) > 0.95


def test_combine_adds_and_subtracts_outlines():
    square = [(10, 10), (50, 10), (50, 50), (10, 50)]
    right = [(40, 10), (90, 10), (90, 50), (40, 50)]
    ref = np.zeros((100, 100), np.uint8)
    ref[10:50, 10:90] = 1
    assert iou(combine(square, right), ref) > 0.95
    ref[:] = 0
    ref[10:50, 10:40] = 1
    assert iou(combine(square, right, subtract=True), ref) > 0.9
    with pytest.raises(AssistFailed, match="nothing is left"):
        combine(square, [(0, 0), (60, 0), (60, 60), (0, 60)], subtract=True)
    apart = combine(square, [(70, 70), (80, 70), (80, 80), (70, 80)])
    assert max(x for x, _ in apart) <= 51, "the largest region of two apart is the outline"
