"""Annotation geometry: degenerate, outside, self-intersecting and stacked shapes; the
boxes-per-image and box-size histograms and the per-class location heatmaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from labeler.core.health.model import Finding, HealthImage, HealthOptions
from labeler.core.shapes import Shape

BOX_SIDE_EDGES = [0, 8, 16, 32, 64, 128, 256, 512, 1024, float("inf")]
BOXES_PER_IMAGE_EDGES = [0, 1, 2, 3, 4, 5, 6, 11, 21, 51, float("inf")]


def polygon_self_intersects(points: Sequence[tuple[float, float]]) -> bool:
    """True when two non-adjacent edges of the closed polygon cross or touch.

    >>> polygon_self_intersects([(0, 0), (4, 0), (0, 4), (4, 4)])  # a bow tie
    True
    >>> polygon_self_intersects([(0, 0), (4, 0), (4, 4), (0, 4)])
    False
    """
    p = np.asarray(points, dtype=np.float64)
    n = len(p)
    if n < 4:
        return False
    a, b = p, np.roll(p, -1, axis=0)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the first and last edges share vertex 0
    i, j = i[keep], j[keep]
    a1, b1, a2, b2 = a[i], b[i], a[j], b[j]
    o1, o2 = _orient(a1, b1, a2), _orient(a1, b1, b2)
    o3, o4 = _orient(a2, b2, a1), _orient(a2, b2, b1)
    crossing = (o1 * o2 < 0) & (o3 * o4 < 0)
    touching = (
        ((o1 == 0) & _on_segment(a1, b1, a2))
        | ((o2 == 0) & _on_segment(a1, b1, b2))
        | ((o3 == 0) & _on_segment(a2, b2, a1))
        | ((o4 == 0) & _on_segment(a2, b2, b1))
    )
    return bool((crossing | touching).any())


def _orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.sign(
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    )


def _on_segment(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return (
        (np.minimum(a[:, 0], b[:, 0]) <= c[:, 0])
        & (c[:, 0] <= np.maximum(a[:, 0], b[:, 0]))
        & (np.minimum(a[:, 1], b[:, 1]) <= c[:, 1])
        & (c[:, 1] <= np.maximum(a[:, 1], b[:, 1]))
    )


def _stacked(shapes: Sequence[Shape], iou_min: float) -> list[tuple[int, int]]:
    """Index pairs of shapes lying on top of each other: regions with IoU >= iou_min (for
    polygons: bounding boxes that close and areas within 5 %), or the same tag twice."""
    out = []
    tags = [k for k, s in enumerate(shapes) if s.kind == "tag"]
    for x, k in enumerate(tags):
        out += [(k, m) for m in tags[x + 1 :] if shapes[k].class_id == shapes[m].class_id]
    regions = [k for k, s in enumerate(shapes) if s.kind != "tag"]
    if len(regions) < 2:
        return out
    boxes = [shapes[k].bbox() for k in regions]
    for x, y in _overlapping(boxes, iou_min):
        sa, sb = shapes[regions[x]], shapes[regions[y]]
        if sa.kind != sb.kind:
            continue
        if sa.kind == "polygon" and abs(sa.area() - sb.area()) > 0.05 * max(sa.area(), sb.area()):
            continue
        out.append((regions[x], regions[y]))
    return out


def _overlapping(boxes: list, iou_min: float) -> list[tuple[int, int]]:
    """Index pairs (x < y) of boxes with IoU >= iou_min."""
    if len(boxes) > 12:  # numpy pays off only past a handful of boxes per image
        iou = _iou_matrix(np.array(boxes, dtype=np.float64))
        return [
            (int(x), int(y)) for x, y in zip(*np.nonzero(np.triu(iou >= iou_min, k=1)), strict=True)
        ]
    out = []
    for x, (ax1, ay1, ax2, ay2) in enumerate(boxes):
        for y in range(x + 1, len(boxes)):
            bx1, by1, bx2, by2 = boxes[y]
            inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(
                0.0, min(ay2, by2) - max(ay1, by1)
            )
            union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
            if union > 0 and inter / union >= iou_min:
                out.append((x, y))
    return out


def _iou_matrix(b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(b[:, None, 0], b[None, :, 0])
    y1 = np.maximum(b[:, None, 1], b[None, :, 1])
    x2 = np.minimum(b[:, None, 2], b[None, :, 2])
    y2 = np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area[:, None] + area[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def check_annotations(
    images: Sequence[HealthImage],
    shapes: Mapping[int, Sequence[Shape]],
    classes: Mapping[int, str],
    opts: HealthOptions,
) -> tuple[list[Finding], dict[str, Any]]:
    """Geometry findings (each listing ``{image_id, shape_id, shape_index}``) and the
    annotation statistics: boxes per image, box sizes, per-class heatmaps."""
    problems: dict[str, list[dict[str, Any]]] = {
        "degenerate": [],
        "outside": [],
        "self_intersecting": [],
        "stacked": [],
    }
    for im in images:
        _check_image(im, shapes.get(im.id, ()), opts, problems)
    findings = [_finding(key, rows) for key, rows in problems.items() if rows]
    return findings, annotation_stats(images, shapes, classes, opts.heatmap_size)


def _check_image(
    im: HealthImage, shapes: Sequence[Shape], opts: HealthOptions, problems: dict[str, list]
) -> None:
    def row(k: int, **extra: Any) -> dict[str, Any]:
        return {"image_id": im.id, "shape_id": shapes[k].id, "shape_index": k, **extra}

    tol = opts.outside_tolerance
    for k, s in enumerate(shapes):
        if s.kind == "tag":
            continue
        crossed = s.kind == "polygon" and polygon_self_intersects(s.points)
        if crossed:
            problems["self_intersecting"].append(row(k))
        elif s.area() < opts.min_shape_area:  # a crossed polygon's signed area means nothing
            problems["degenerate"].append(row(k, area=s.area()))
        if im.width and im.height:
            x1, y1, x2, y2 = s.bbox()
            if x1 < -tol or y1 < -tol or x2 > im.width + tol or y2 > im.height + tol:
                fully = x2 <= 0 or y2 <= 0 or x1 >= im.width or y1 >= im.height
                problems["outside"].append(row(k, fully_outside=fully))
    for k, m in _stacked(shapes, opts.stacked_iou):
        problems["stacked"].append(row(k, other_shape_id=shapes[m].id, other_shape_index=m))


_TEXTS = {
    "degenerate": (
        "warning",
        ("{n} shape has no area", "{n} shapes have no area"),
        "Boxes or polygons with (almost) zero area: a click instead of a drag, or collinear points.",
        "Open the images and delete or redraw these shapes.",
    ),
    "outside": (
        "warning",
        ("{n} shape lies outside its image", "{n} shapes lie outside their image"),
        "Shapes that extend past the image border (or lie wholly outside it).",
        "Open the images and clip or redraw these shapes.",
    ),
    "self_intersecting": (
        "warning",
        ("{n} polygon crosses itself", "{n} polygons cross themselves"),
        "Self-intersecting polygons give undefined masks in most training code.",
        "Open the images and redraw these polygons.",
    ),
    "stacked": (
        "warning",
        ("{n} shape is stacked on an identical one", "{n} shapes are stacked on an identical one"),
        "Two shapes on one image cover the same place (a double click or a double import).",
        "Open the images and delete the extra shape.",
    ),
}


def _finding(key: str, rows: list[dict[str, Any]]) -> Finding:
    severity, title, message, suggestion = _TEXTS[key]
    return Finding(
        f"annotations.{key}",
        severity,  # type: ignore[arg-type]
        title[len(rows) != 1].format(n=len(rows)),
        message,
        suggestion,
        "open_images",
        image_ids=sorted({r["image_id"] for r in rows}),
        details={"shapes": rows},
    )


def annotation_stats(
    images: Sequence[HealthImage],
    shapes: Mapping[int, Sequence[Shape]],
    classes: Mapping[int, str],
    grid: int,
) -> dict[str, Any]:
    """Histograms of regions per labeled image and of region size (sqrt of area, px), and a
    ``grid`` x ``grid`` heatmap per class of where regions lie (image-relative)."""
    per_image, sides = [], []
    rects: dict[int, list[tuple[float, float, float, float]]] = {}
    for im in images:
        regions = [s for s in shapes.get(im.id, ()) if s.kind != "tag"]
        if shapes.get(im.id):
            per_image.append(len(regions))
        for s in regions:
            sides.append(max(s.area(), 0.0) ** 0.5)
            if im.width and im.height:
                x1, y1, x2, y2 = s.bbox()
                rects.setdefault(s.class_id, []).append(
                    (x1 / im.width, y1 / im.height, x2 / im.width, y2 / im.height)
                )
    return {
        "boxes_per_image_histogram": _hist(per_image, BOXES_PER_IMAGE_EDGES),
        "box_side_histogram": _hist(sides, BOX_SIDE_EDGES),
        "regions": len(sides),
        "heatmaps": {str(c): heatmap(np.array(r), grid).tolist() for c, r in sorted(rects.items())},
    }


def heatmap(rects: np.ndarray, grid: int) -> np.ndarray:
    """Count, per cell of a grid x grid raster of the unit square, the rectangles
    ``(x1, y1, x2, y2)`` (image-relative) covering it; a summed-area scatter, O(n + grid²)."""
    acc = np.zeros((grid + 1, grid + 1), dtype=np.int64)
    if len(rects):
        r = np.clip(rects, 0.0, 1.0)
        c1 = np.minimum(np.floor(r[:, 0] * grid), grid - 1).astype(np.int64)
        r1 = np.minimum(np.floor(r[:, 1] * grid), grid - 1).astype(np.int64)
        c2 = np.maximum(np.ceil(r[:, 2] * grid).astype(np.int64), c1 + 1)
        r2 = np.maximum(np.ceil(r[:, 3] * grid).astype(np.int64), r1 + 1)
        np.add.at(acc, (r1, c1), 1)
        np.add.at(acc, (r1, c2), -1)
        np.add.at(acc, (r2, c1), -1)
        np.add.at(acc, (r2, c2), 1)
    return acc.cumsum(0).cumsum(1)[:grid, :grid]


def _hist(values: list[float], edges: list[float]) -> dict[str, list]:
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=edges)
    return {"edges": [None if e == float("inf") else e for e in edges], "counts": counts.tolist()}
