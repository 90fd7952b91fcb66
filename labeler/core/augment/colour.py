"""Pixel ops: colour, contrast, blur, noise, compression, cutout. Shapes are not moved.

Per-level tone changes (brightness/contrast, gamma) are one 256-entry lookup table; HSV
changes are one HSV round trip with a 3-channel table; colour jitter, being linear in colour, is
one 3x4 colour matrix (``cv2.transform``), the cheapest full-image pass OpenCV has. An op whose drawn values are neutral returns the input untouched, so an identity recipe
is exact. Grey images stay grey: hue and saturation have nothing to act on there.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from labeler.core.augment.registry import Drawn, Flag, Number, Op, Range, register_op

_LEVELS = np.arange(256, dtype=np.float64)


def _to_lut(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _is_colour(image: np.ndarray) -> bool:
    return image.ndim == 3 and image.shape[2] == 3


def _grey_mean(image: np.ndarray) -> float:
    b, g, r, _ = cv2.mean(image)
    return 0.114 * b + 0.587 * g + 0.299 * r if _is_colour(image) else b


def _hsv_tables(image: np.ndarray, hue_shift: float, sat: float, val: float) -> np.ndarray:
    """Shift hue (in OpenCV units, 180 per turn) and scale saturation and value by tables."""
    if hue_shift == 0 and sat == 1 and val == 1:
        return image
    if not _is_colour(image):
        return image if val == 1 else cv2.LUT(image, _to_lut(_LEVELS * val))
    hue_lut = np.mod(_LEVELS + hue_shift, 180.0)
    table = np.stack(
        [np.where(hue_lut >= 179.5, 0, hue_lut), _LEVELS * sat, _LEVELS * val], axis=-1
    )
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    # One 3-channel table: cheaper than split, three LUTs and merge.
    return cv2.cvtColor(cv2.LUT(hsv, _to_lut(table).reshape(256, 1, 3)), cv2.COLOR_HSV2BGR)


@register_op
class BrightnessContrast(Op):
    """out = in * (1 + contrast) + brightness * 255, as one lookup table."""

    name = "brightness_contrast"
    params = {
        "brightness": Range((-0.2, 0.2), lo=-1, hi=1, help="added, fraction of full scale"),
        "contrast": Range((-0.2, 0.2), lo=-1, hi=10, help="gain - 1"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {
            "brightness": self.uniform(rng, "brightness"),
            "contrast": self.uniform(rng, "contrast"),
        }

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        b, c = drawn["brightness"], drawn["contrast"]
        if b == 0 and c == 0:
            return image
        return cv2.LUT(image, _to_lut(_LEVELS * (1 + c) + b * 255))


@register_op
class Gamma(Op):
    """out = 255 * (in / 255) ** gamma; above 1 darkens the mid-tones."""

    name = "gamma"
    params = {"gamma": Range((0.8, 1.2), lo=0.01, hi=10)}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"gamma": self.uniform(rng, "gamma")}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        if drawn["gamma"] == 1:
            return image
        return cv2.LUT(image, _to_lut(255.0 * (_LEVELS / 255.0) ** drawn["gamma"]))


@register_op
class HueSaturationValue(Op):
    """Shift hue by degrees; scale saturation and value by (1 + shift)."""

    name = "hue_saturation_value"
    params = {
        "hue": Range((-10.0, 10.0), lo=-180, hi=180, help="degrees"),
        "saturation": Range((-0.2, 0.2), lo=-1, hi=10, help="gain - 1"),
        "value": Range((-0.2, 0.2), lo=-1, hi=10, help="gain - 1"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {k: self.uniform(rng, k) for k in ("hue", "saturation", "value")}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        return _hsv_tables(image, drawn["hue"] / 2.0, 1 + drawn["saturation"], 1 + drawn["value"])


# BGR -> YIQ: luma plus two chroma axes; turning the chroma plane turns the hue, keeping luma.
_YIQ = np.array(
    [[0.114, 0.587, 0.299], [-0.321263, -0.274453, 0.595716], [0.311135, -0.522591, 0.211456]]
)
_YIQ_INV = np.linalg.inv(_YIQ)
_LUMA = _YIQ[0]


def _jitter_matrix(b: float, c: float, s: float, hue: float, mean: float) -> np.ndarray:
    """One 3x4 affine colour matrix for brightness, contrast, saturation and hue (BGR)."""
    m = np.eye(4)
    m[:3, :3] *= b
    contrast = np.eye(4)
    contrast[:3, :3] *= c
    contrast[:3, 3] = (1 - c) * b * mean  # pivot on the mean grey after brightness
    sat = np.eye(4)
    sat[:3, :3] = s * np.eye(3) + (1 - s) * np.outer(np.ones(3), _LUMA)
    turn = np.eye(3)
    a = -2 * math.pi * hue  # sign chosen so +hue moves red towards yellow, as in HSV
    turn[1:, 1:] = [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    hue_m = np.eye(4)
    hue_m[:3, :3] = _YIQ_INV @ turn @ _YIQ
    return (hue_m @ sat @ contrast @ m)[:3]


@register_op
class ColorJitter(Op):
    """torchvision's ColorJitter: brightness, contrast and saturation factors drawn from
    [1 - x, 1 + x], hue from [-hue, hue] of a turn, applied in that fixed order.

    All four are linear in colour, so they are folded into one 3x4 matrix and one
    ``cv2.transform`` pass (clipping happens once, at the end); hue turns the YIQ chroma plane,
    which keeps luma where an HSV shift would not. Saturation blends with luma as torchvision
    does; contrast pivots on the mean grey level.
    """

    name = "color_jitter"
    params = {
        "brightness": Number(0.2, lo=0, hi=10),
        "contrast": Number(0.2, lo=0, hi=10),
        "saturation": Number(0.2, lo=0, hi=10),
        "hue": Number(0.05, lo=0, hi=0.5, help="fraction of a turn"),
    }

    def _factor(self, rng: np.random.Generator, key: str) -> float:
        x = self.values[key]
        return float(rng.uniform(max(0.0, 1 - x), 1 + x)) if x else 1.0

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        hue = self.values["hue"]
        return {
            "brightness": self._factor(rng, "brightness"),
            "contrast": self._factor(rng, "contrast"),
            "saturation": self._factor(rng, "saturation"),
            "hue": float(rng.uniform(-hue, hue)) if hue else 0.0,
        }

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        b, c, s, hue = (drawn[k] for k in ("brightness", "contrast", "saturation", "hue"))
        if _is_colour(image):
            if b == 1 and c == 1 and s == 1 and hue == 0:
                return image
            m = _jitter_matrix(b, c, s, hue, _grey_mean(image) if c != 1 else 0.0)
            return cv2.transform(image, m.astype(np.float32))
        if b == 1 and c == 1:
            return image
        pivot = b * _grey_mean(image)
        return cv2.LUT(image, _to_lut((_LEVELS * b - pivot) * c + pivot))


@register_op
class Grayscale(Op):
    """Drop colour; a colour image keeps three (equal) channels so the format does not change."""

    name = "grayscale"

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        if not _is_colour(image):
            return image
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


@register_op
class Clahe(Op):
    """Contrast-limited adaptive histogram equalisation on lightness (LAB L for colour)."""

    name = "clahe"
    params = {
        "clip_limit": Range((1.0, 4.0), lo=0.01, hi=100),
        "tiles": Number(8, lo=1, hi=64, integer=True, help="grid cells per side"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"clip_limit": self.uniform(rng, "clip_limit")}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        t = self.values["tiles"]
        clahe = cv2.createCLAHE(clipLimit=drawn["clip_limit"], tileGridSize=(t, t))
        if not _is_colour(image):
            return clahe.apply(image)
        lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
        lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
        return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


@register_op
class Sharpen(Op):
    """Blend the image with a 3x3 sharpened copy: ``alpha`` is the blend weight, ``lightness``
    the centre weight (1 keeps the brightness)."""

    name = "sharpen"
    params = {
        "alpha": Range((0.2, 0.5), lo=0, hi=1),
        "lightness": Range((0.5, 1.0), lo=0, hi=10),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"alpha": self.uniform(rng, "alpha"), "lightness": self.uniform(rng, "lightness")}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        a = drawn["alpha"]
        if a == 0:
            return image
        identity = np.zeros((3, 3))
        identity[1, 1] = 1
        sharp = -np.ones((3, 3))
        sharp[1, 1] = 8 + drawn["lightness"]
        kernel = ((1 - a) * identity + a * sharp).astype(np.float32)
        return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


@register_op
class GaussianBlur(Op):
    """Gaussian blur with sigma drawn in pixels; the kernel covers about 3 sigma."""

    name = "gaussian_blur"
    params = {"sigma": Range((0.8, 1.4), lo=0, hi=50, help="pixels")}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"sigma": self.uniform(rng, "sigma")}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        sigma = drawn["sigma"]
        if sigma <= 0:
            return image
        # (0, 0): OpenCV sizes the kernel to cover +-3 sigma.
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)


@register_op
class MotionBlur(Op):
    """Average along a line of ``size`` pixels (odd, drawn from the range) at a random angle."""

    name = "motion_blur"
    params = {"size": Range((3, 7), lo=3, hi=101, integer=True, help="kernel length, pixels")}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        lo, hi = self.values["size"]
        odd = list(range(lo | 1, hi + 1, 2)) or [lo | 1]
        return {"size": int(rng.choice(odd)), "angle": float(rng.uniform(0, 180))}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        k = drawn["size"]
        r = (k - 1) / 2
        dx = r * math.cos(math.radians(drawn["angle"]))
        dy = r * math.sin(math.radians(drawn["angle"]))
        kernel = np.zeros((k, k), dtype=np.float32)
        # cv2.line wants integer points; 4 fractional bits keep the angle accurate.
        p1 = (round((r - dx) * 16), round((r - dy) * 16))
        p2 = (round((r + dx) * 16), round((r + dy) * 16))
        cv2.line(kernel, p1, p2, 1.0, thickness=1, lineType=cv2.LINE_AA, shift=4)
        kernel /= kernel.sum()
        return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


@register_op
class GaussianNoise(Op):
    """Add zero-mean Gaussian noise; ``std`` is a fraction of full scale. The noise comes from
    a seed drawn with the other values, so ``apply`` stays deterministic."""

    name = "gaussian_noise"
    params = {
        "std": Range((0.01, 0.05), lo=0, hi=1, help="fraction of 255"),
        "per_channel": Flag(True, help="independent noise per colour channel"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"std": self.uniform(rng, "std"), "seed": int(rng.integers(0, 2**63 - 1))}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        std = drawn["std"] * 255.0
        if std == 0:
            return image
        gen = np.random.default_rng(drawn["seed"])
        shape = image.shape if self.values["per_channel"] else image.shape[:2]
        noise = gen.standard_normal(shape, dtype=np.float32) * np.float32(std)
        if noise.ndim < image.ndim:
            noise = noise[:, :, None]
        return np.clip(image + noise + 0.5, 0, 255).astype(np.uint8)


@register_op
class Jpeg(Op):
    """Compress and decompress as JPEG at a quality drawn from the range."""

    name = "jpeg"
    params = {"quality": Range((50, 95), lo=1, hi=100, integer=True)}

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {"quality": self.integer(rng, "quality")}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, drawn["quality"]])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


@register_op
class Cutout(Op):
    """Fill ``holes`` random rectangles, each side a fraction of the image side, with ``fill``.
    Shapes are kept: a hidden part of an object is still that object."""

    name = "cutout"
    params = {
        "holes": Range((1, 4), lo=0, hi=1000, integer=True),
        "size": Range((0.05, 0.2), lo=0, hi=1, help="fraction of width/height"),
        "fill": Number(0, lo=0, hi=255, integer=True),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        rects = []
        for _ in range(self.integer(rng, "holes")):
            w = round(self.uniform(rng, "size") * width)
            h = round(self.uniform(rng, "size") * height)
            x = int(rng.integers(0, width - w + 1))
            y = int(rng.integers(0, height - h + 1))
            rects.append((x, y, w, h))
        return {"rects": rects}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        rects = [r for r in drawn["rects"] if r[2] > 0 and r[3] > 0]
        if not rects:
            return image
        out = image.copy()
        for x, y, w, h in rects:
            out[y : y + h, x : x + w] = self.values["fill"]
        return out
