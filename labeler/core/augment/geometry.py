"""Geometry: 3x3 matrices, the one-pass warp, shape transforms and the geometric ops.

Coordinates are continuous pixel coordinates with pixel corners at integers, the convention of
``Shape``: the whole image is [0, W] x [0, H] and a horizontal flip is ``x -> W - x``. OpenCV
puts pixel *centres* at integers, so matrices are shifted by half a pixel only at the moment
they are handed to ``cv2.warp*``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from labeler.core.augment.registry import (
    MAX_OUTPUT_PIXELS,
    Choice,
    Drawn,
    Number,
    Op,
    Range,
    register_op,
)
from labeler.core.shapes import Shape

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
}
BORDERS = {
    "constant": cv2.BORDER_CONSTANT,
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
}


@dataclass(frozen=True)
class WarpSettings:
    """How pixels are resampled and what fills the area outside the source image."""

    interpolation: str = "linear"
    border: str = "constant"
    fill: int = 0


# -- matrices ---------------------------------------------------------------------------------
def translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def scaling(sx: float, sy: float) -> np.ndarray:
    return np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def rotation_about(degrees: float, cx: float, cy: float) -> np.ndarray:
    """Counter-clockwise on screen (y points down), like cv2.getRotationMatrix2D."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    r = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    return translation(cx, cy) @ r @ translation(-cx, -cy)


def is_affine(m: np.ndarray) -> bool:
    return bool(abs(m[2, 0]) < 1e-12 and abs(m[2, 1]) < 1e-12 and abs(m[2, 2] - 1.0) < 1e-12)


def transform_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """Apply a 3x3 matrix to an (N, 2) array; None when a point falls behind the projection."""
    h = pts @ m[:, :2].T + m[:, 2]
    w = h[:, 2]
    if np.any(w <= 1e-9):
        return None
    if np.all(w == 1.0):
        return h[:, :2]
    return h[:, :2] / w[:, None]


# -- shapes -----------------------------------------------------------------------------------
def polygon_area(pts: np.ndarray) -> float:
    if len(pts) < 3:
        return 0.0
    x, y = pts[:, 0], pts[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def clip_polygon(pts: np.ndarray, width: float, height: float) -> np.ndarray:
    """Sutherland-Hodgman clip against [0, width] x [0, height]; exact for any simple polygon
    because the clip window is convex (a concave polygon may keep zero-width seams on the edge).
    """
    out = [tuple(p) for p in pts]
    # (axis, limit, keep-if-greater)
    for axis, limit, keep_ge in (
        (0, 0.0, True),
        (0, width, False),
        (1, 0.0, True),
        (1, height, False),
    ):
        if not out:
            break
        src, out = out, []
        for i, cur in enumerate(src):
            prev = src[i - 1]
            cur_in = cur[axis] >= limit if keep_ge else cur[axis] <= limit
            prev_in = prev[axis] >= limit if keep_ge else prev[axis] <= limit
            if cur_in != prev_in:
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                cross = [prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])]
                cross[axis] = limit  # no drift off the edge from rounding
                out.append((cross[0], cross[1]))
            if cur_in:
                out.append(cur)
    return _dedupe(np.array(out, dtype=np.float64).reshape(-1, 2))


def _dedupe(pts: np.ndarray) -> np.ndarray:
    if len(pts) < 2:
        return pts
    keep = np.any(pts != np.roll(pts, 1, axis=0), axis=1)
    return pts[keep] if keep.any() else pts[:1]


def _corners(shape: Shape) -> np.ndarray:
    if shape.kind == "box":
        (x1, y1), (x2, y2) = shape.points
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
    return np.array(shape.points, dtype=np.float64)


def transform_shapes(
    shapes: Sequence[Shape],
    visible: Sequence[float],
    m: np.ndarray,
    width: int,
    height: int,
    min_visibility: float,
) -> tuple[list[Shape], list[float]]:
    """Move shapes through matrix ``m`` into a ``width`` x ``height`` image.

    A box goes through its four corners (so a rotated box becomes the box around the rotated
    rectangle); polygons are clipped to the image. ``visible`` carries each shape's visible
    fraction so far: after several warps it is the product of each warp's (area after clipping /
    area before), and a shape under ``min_visibility`` is dropped. Tags always stay.
    """
    out: list[Shape] = []
    vis_out: list[float] = []
    for shape, vis in zip(shapes, visible, strict=True):
        if shape.kind == "tag":
            out.append(shape)
            vis_out.append(vis)
            continue
        moved = transform_points(m, _corners(shape))
        if moved is None:
            continue
        before = polygon_area(moved)
        clipped = clip_polygon(moved, width, height)
        after = polygon_area(clipped)
        frac = vis * (after / before) if before > 0 else 0.0
        if after <= 0 or len(clipped) < 3 or frac < min_visibility:
            continue
        if shape.kind == "box":
            x1, y1 = clipped.min(axis=0)
            x2, y2 = clipped.max(axis=0)
            out.append(shape.with_points(((x1, y1), (x2, y2))))
        else:
            out.append(shape.with_points(tuple(map(tuple, clipped))))
        vis_out.append(frac)
    return out, vis_out


# -- the warp -----------------------------------------------------------------------------------
def warp(image: np.ndarray, m: np.ndarray, width: int, height: int, s: WarpSettings) -> np.ndarray:
    """Resample ``image`` through ``m`` once, straight to ``width`` x ``height``.

    Exact paths come first: a matrix made of flips, quarter turns and whole-pixel shifts moves
    pixels without interpolating (cv2.flip/rotate plus slicing). A strong shrink is first done
    with INTER_AREA so the bilinear warp that follows does not alias.
    """
    exact = _exact_warp(image, m, width, height, s)
    if exact is not None:
        return exact
    image, m = _prefilter_shrink(image, m)
    # From corner-at-integer coordinates to OpenCV's centre-at-integer ones.
    m_cv = translation(-0.5, -0.5) @ m @ translation(0.5, 0.5)
    flags = INTERPOLATIONS[s.interpolation]
    border = BORDERS[s.border]
    value = (s.fill,) * 4
    if is_affine(m_cv):
        return cv2.warpAffine(
            image, m_cv[:2], (width, height), flags=flags, borderMode=border, borderValue=value
        )
    return cv2.warpPerspective(
        image, m_cv, (width, height), flags=flags, borderMode=border, borderValue=value
    )


def _prefilter_shrink(image: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not is_affine(m):
        return image, m
    sx = math.hypot(m[0, 0], m[1, 0])  # output pixels per input pixel along input x
    sy = math.hypot(m[0, 1], m[1, 1])
    if min(sx, sy) >= 0.5:
        return image, m
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * min(1.0, sx))), max(1, round(h * min(1.0, sy)))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return small, m @ scaling(w / nw, h / nh)


# The eight matrices that only flip and swap axes, keyed by their 2x2 part (a, b, c, d), and
# the exact OpenCV call for each; the remaining integer shift is a slice.
_DIHEDRAL = {
    (1, 0, 0, 1): lambda im: im,
    (-1, 0, 0, 1): lambda im: cv2.flip(im, 1),
    (1, 0, 0, -1): lambda im: cv2.flip(im, 0),
    (-1, 0, 0, -1): lambda im: cv2.flip(im, -1),
    (0, 1, 1, 0): cv2.transpose,
    (0, 1, -1, 0): lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE),
    (0, -1, 1, 0): lambda im: cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE),
    (0, -1, -1, 0): lambda im: cv2.flip(cv2.transpose(im), -1),
}


def _exact_warp(
    image: np.ndarray, m: np.ndarray, width: int, height: int, s: WarpSettings
) -> np.ndarray | None:
    if not is_affine(m):
        return None
    lin = m[:2, :2]
    key = tuple(int(v) for v in np.rint(lin).ravel())
    if key not in _DIHEDRAL or np.abs(lin - np.rint(lin)).max() > 1e-9:
        return None
    h, w = image.shape[:2]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64) @ lin.T
    shift = m[:2, 2] + corners.min(axis=0)  # what is left after the whole-image flip/turn
    if np.abs(shift - np.rint(shift)).max() > 1e-6:
        return None
    turned = _DIHEDRAL[key](image)
    return _shift_into(turned, int(round(shift[0])), int(round(shift[1])), width, height, s)


def _shift_into(
    image: np.ndarray, dx: int, dy: int, width: int, height: int, s: WarpSettings
) -> np.ndarray | None:
    """out[y, x] = image[y - dy, x - dx], filled outside the image."""
    h, w = image.shape[:2]
    x0, y0 = -dx, -dy
    if x0 >= 0 and y0 >= 0 and x0 + width <= w and y0 + height <= h:
        return np.ascontiguousarray(image[y0 : y0 + height, x0 : x0 + width])
    if s.border != "constant":
        return None  # reflect/replicate padding: leave it to warpAffine, which agrees
    out = np.full((height, width) + image.shape[2:], s.fill, dtype=image.dtype)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + width), min(h, y0 + height)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


# -- geometric ops ------------------------------------------------------------------------------
class GeometricOp(Op):
    geometric = True


class FixedSizeOp(GeometricOp):
    """A geometric op whose output is ``width`` x ``height`` whatever the input: the size is
    refused when the recipe is read if it exceeds ``MAX_OUTPUT_PIXELS`` (a 65535 x 65535 resize
    would be 12.9 GB per copy)."""

    def check(self) -> None:
        w, h = self.values["width"], self.values["height"]
        if w * h > MAX_OUTPUT_PIXELS:
            raise ValueError(
                f"width x height is {w}x{h} = {w * h:,} pixels; the limit is"
                f" {MAX_OUTPUT_PIXELS:,} pixels per augmented image"
            )

    def output_pixels(self, pixels: int) -> int:
        return int(self.values["width"]) * int(self.values["height"])


@register_op
class HorizontalFlip(GeometricOp):
    """Mirror left-right."""

    name = "horizontal_flip"

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        return np.array([[-1.0, 0, width], [0, 1, 0], [0, 0, 1]]), width, height


@register_op
class VerticalFlip(GeometricOp):
    """Mirror top-bottom."""

    name = "vertical_flip"

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        return np.array([[1.0, 0, 0], [0, -1, height], [0, 0, 1]]), width, height


@register_op
class Rotate90(GeometricOp):
    """Turn by a whole number of quarter turns counter-clockwise (like numpy.rot90), drawn
    uniformly from ``turns``."""

    name = "rotate90"
    params = {"turns": Range((0, 3), lo=0, hi=3, integer=True, help="quarter turns")}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"turns": self.integer(rng, "turns")}

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        m = np.eye(3)
        w, h = width, height
        for _ in range(drawn["turns"]):
            m = np.array([[0.0, 1, 0], [-1, 0, w], [0, 0, 1]]) @ m
            w, h = h, w
        return m, w, h


@register_op
class Rotate(GeometricOp):
    """Rotate about the centre by an angle in degrees (counter-clockwise positive); the size
    stays and the corners are filled."""

    name = "rotate"
    params = {"angle": Range((-15.0, 15.0), lo=-360, hi=360, help="degrees")}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"angle": self.uniform(rng, "angle")}

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        return rotation_about(drawn["angle"], width / 2, height / 2), width, height


@register_op
class Affine(GeometricOp):
    """Scale, rotate, shear and translate about the centre; the size stays."""

    name = "affine"
    params = {
        "scale": Range((0.9, 1.1), lo=0.01, hi=100, help="zoom factor"),
        "translate": Range((-0.1, 0.1), lo=-1, hi=1, help="fraction of width/height"),
        "rotate": Range((0.0, 0.0), lo=-360, hi=360, help="degrees"),
        "shear": Range((-10.0, 10.0), lo=-80, hi=80, help="degrees, x and y drawn apart"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {
            "scale": self.uniform(rng, "scale"),
            "tx": self.uniform(rng, "translate"),
            "ty": self.uniform(rng, "translate"),
            "rotate": self.uniform(rng, "rotate"),
            "shear_x": self.uniform(rng, "shear"),
            "shear_y": self.uniform(rng, "shear"),
        }

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        cx, cy = width / 2, height / 2
        shear = np.array(
            [
                [1.0, math.tan(math.radians(drawn["shear_x"])), 0],
                [math.tan(math.radians(drawn["shear_y"])), 1.0, 0],
                [0, 0, 1],
            ]
        )
        m = (
            translation(cx + drawn["tx"] * width, cy + drawn["ty"] * height)
            @ rotation_about(drawn["rotate"], 0, 0)
            @ shear
            @ scaling(drawn["scale"], drawn["scale"])
            @ translation(-cx, -cy)
        )
        return m, width, height


@register_op
class Perspective(GeometricOp):
    """Pull each corner inwards by a random fraction of the size and stretch that
    quadrilateral over the whole output (a change of viewpoint); the size stays."""

    name = "perspective"
    params = {"scale": Range((0.02, 0.08), lo=0, hi=0.45, help="corner shift, fraction of size")}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        lo, hi = self.values["scale"]
        return {"offsets": rng.uniform(lo, hi, size=(4, 2)).round(6).tolist()}

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
        inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
        src = dst + inward * np.asarray(drawn["offsets"]) * [width, height]
        m = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
        return m.astype(np.float64), width, height


def _crop_matrix(x: float, y: float, cw: float, ch: float, ow: int, oh: int) -> np.ndarray:
    return scaling(ow / cw, oh / ch) @ translation(-x, -y)


@register_op
class RandomResizedCrop(FixedSizeOp):
    """Crop a random area (``scale`` of the image area, aspect ``ratio``) and resize it to
    width x height, as torchvision and albumentations do."""

    name = "random_resized_crop"
    params = {
        "width": Number(512, lo=1, hi=65535, integer=True),
        "height": Number(512, lo=1, hi=65535, integer=True),
        "scale": Range((0.08, 1.0), lo=1e-4, hi=1, help="fraction of the image area"),
        "ratio": Range((3 / 4, 4 / 3), lo=1e-3, hi=1e3, help="crop width / height"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        area = width * height
        lo, hi = self.values["ratio"]
        log_ratio = (math.log(lo), math.log(hi))
        for _ in range(10):
            target = area * self.uniform(rng, "scale")
            aspect = math.exp(rng.uniform(*log_ratio)) if hi > lo else lo
            cw = round(math.sqrt(target * aspect))
            ch = round(math.sqrt(target / aspect))
            if 0 < cw <= width and 0 < ch <= height:
                x = int(rng.integers(0, width - cw + 1))
                y = int(rng.integers(0, height - ch + 1))
                return {"box": (x, y, cw, ch)}
        # Fallback: the largest centred crop within the ratio limits.
        in_ratio = width / height
        if in_ratio < lo:
            cw, ch = width, round(width / lo)
        elif in_ratio > hi:
            cw, ch = round(height * hi), height
        else:
            cw, ch = width, height
        return {"box": ((width - cw) // 2, (height - ch) // 2, cw, ch)}

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        ow, oh = self.values["width"], self.values["height"]
        return _crop_matrix(*drawn["box"], ow, oh), ow, oh


@register_op
class Crop(FixedSizeOp):
    """Cut a width x height window, centred or at a random place; a smaller image is padded."""

    name = "crop"
    params = {
        "width": Number(512, lo=1, hi=65535, integer=True),
        "height": Number(512, lo=1, hi=65535, integer=True),
        "position": Choice("center", options=("center", "random")),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        cw, ch = self.values["width"], self.values["height"]
        if self.values["position"] == "center":
            return {"x": (width - cw) // 2, "y": (height - ch) // 2}
        x = int(rng.integers(0, width - cw + 1)) if width > cw else (width - cw) // 2
        y = int(rng.integers(0, height - ch + 1)) if height > ch else (height - ch) // 2
        return {"x": x, "y": y}

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        cw, ch = self.values["width"], self.values["height"]
        return translation(-drawn["x"], -drawn["y"]), cw, ch


@register_op
class Resize(FixedSizeOp):
    """Resize to exactly width x height (the aspect ratio may change)."""

    name = "resize"
    params = {
        "width": Number(512, lo=1, hi=65535, integer=True),
        "height": Number(512, lo=1, hi=65535, integer=True),
    }

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        ow, oh = self.values["width"], self.values["height"]
        return scaling(ow / width, oh / height), ow, oh


@register_op
class Letterbox(FixedSizeOp):
    """Fit inside width x height keeping the aspect ratio, centred, padded with the fill."""

    name = "letterbox"
    params = {
        "width": Number(640, lo=1, hi=65535, integer=True),
        "height": Number(640, lo=1, hi=65535, integer=True),
    }

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        ow, oh = self.values["width"], self.values["height"]
        s = min(ow / width, oh / height)
        # Whole-pixel margins keep the padding edge crisp.
        dx, dy = (ow - round(width * s)) // 2, (oh - round(height * s)) // 2
        return translation(dx, dy) @ scaling(s, s), ow, oh
