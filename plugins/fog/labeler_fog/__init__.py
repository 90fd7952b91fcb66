"""A fog augmentation op for Labeler: a first-party example of a plugin that adds an op.

The op blends the image towards a fog colour through a smooth, patchy opacity map, the way
haze thickens and thins across a scene. Random values (density, patch scale, the noise seed)
are drawn in ``sample`` from the generator the engine passes in; ``apply`` is deterministic,
so a recipe preview, an export and a re-export agree pixel for pixel. Geometry is unchanged,
so boxes and polygons are untouched.

Recipe step::

    {"op": "fog", "p": 0.3, "params": {"density": [0.2, 0.5], "scale": [0.1, 0.3]}}
"""

from __future__ import annotations

import cv2
import numpy as np

from labeler.core.augment import Number, Op, Range, register_op
from labeler.core.augment.registry import Drawn

__version__ = "1.0.0"


# Registered on import as well as in register(): augmentation runs in spawned worker
# processes, which import the module that defines each op of the recipe to find it.
@register_op
class Fog(Op):
    """Patchy fog: ``density`` is the opacity of the thickest fog (0 = none, 1 = opaque),
    ``scale`` the size of the fog patches as a fraction of the image's longer side,
    ``brightness`` the fog's grey level."""

    name = "fog"
    params = {
        "density": Range((0.2, 0.5), lo=0.0, hi=1.0, help="opacity of the thickest fog"),
        "scale": Range((0.1, 0.3), lo=0.02, hi=1.0, help="patch size, fraction of longer side"),
        "brightness": Number(225, lo=0, hi=255, integer=True, help="grey level of the fog"),
    }

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        return {
            "density": self.uniform(rng, "density"),
            "scale": self.uniform(rng, "scale"),
            "seed": int(rng.integers(0, 2**63 - 1)),
        }

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        if drawn["density"] == 0:
            return image.copy()
        h, w = image.shape[:2]
        alpha = drawn["density"] * fog_map(w, h, drawn["scale"], drawn["seed"])
        if image.ndim == 3:
            alpha = alpha[:, :, None]
        fog = np.float32(self.values["brightness"])
        out = image.astype(np.float32) * (1.0 - alpha) + fog * alpha
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def fog_map(width: int, height: int, scale: float, seed: int) -> np.ndarray:
    """A smooth opacity map in [0.35, 1] (float32, height x width): coarse uniform noise, one
    cell per patch, upsampled with cubic interpolation and softened. Deterministic in seed."""
    cells = max(2, round(1.0 / scale))
    gw = cells if width >= height else max(2, round(cells * width / height))
    gh = cells if height >= width else max(2, round(cells * height / width))
    grid = np.random.default_rng(seed).random((gh + 1, gw + 1), dtype=np.float32)
    noise = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    # Thin fog never clears completely: keep a floor so the whole image is hazed a little.
    return np.clip(0.35 + 0.65 * noise, 0.35, 1.0).astype(np.float32)


def register(api) -> None:
    """Labeler's plugin hook."""
    api.add_op(Fog)
