"""Real images in, batches out: validation, class-weighted sampling, loading an image folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from labeler.core.errors import LabelerError

SAMPLING_MODES = ("balanced", "sqrt", "uniform")


def check_labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    """Return labels as an int64 array of length ``n`` with values in ``[0, num_classes)``."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise LabelerError(f"expected {n} labels, got an array of shape {arr.shape}")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise LabelerError(f"labels must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64)
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise LabelerError(f"labels must lie in [0, {num_classes}), got {arr.min()}..{arr.max()}")
    return arr


def check_images(images: Any) -> np.ndarray:
    """Return ``images`` as a uint8 array of shape (N, H, W, 3) or raise ``LabelerError``."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise LabelerError(
            f"images must be a uint8 array (N, H, W, 3) in RGB, got {arr.dtype} {arr.shape}"
        )
    if len(arr) == 0:
        raise LabelerError("no images given")
    return arr


def to_float(images: torch.Tensor, resolution: int | None = None) -> torch.Tensor:
    """uint8 NHWC (or NCHW) images -> float NCHW in [-1, 1], resized to ``resolution``."""
    if images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.permute(0, 3, 1, 2)
    x = images.float().div_(127.5).sub_(1.0)
    if resolution is not None and tuple(x.shape[-2:]) != (resolution, resolution):
        # Antialiased bilinear keeps downscaled real images as smooth as generated ones.
        x = F.interpolate(
            x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
        )
    return x


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float NCHW in [-1, 1] -> uint8 NHWC numpy array."""
    x = x.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255)
    return x.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def class_weights(labels: np.ndarray, num_classes: int, mode: str) -> np.ndarray:
    """Per-class sampling probabilities: ``balanced`` (equal), ``sqrt`` (∝ √count), ``uniform``."""
    if mode not in SAMPLING_MODES:
        raise LabelerError(f"unknown sampling {mode!r}: use one of {', '.join(SAMPLING_MODES)}")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    present = counts > 0
    if mode == "balanced":
        w = present.astype(np.float64)
    elif mode == "sqrt":
        w = np.sqrt(counts)
    else:
        w = counts
    return w / w.sum()


def sample_weights(labels: np.ndarray, num_classes: int, mode: str) -> np.ndarray:
    """Per-image sampling weights that give each class the share ``class_weights`` says."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    per_class = class_weights(labels, num_classes, mode) / np.maximum(counts, 1)
    return per_class[labels]


class RealSampler:
    """Draws batches of real images (float, [-1, 1], NCHW, on ``device``) with their labels.

    A uint8 array is copied to the device once, so a step costs one gather; a ``Dataset`` is read
    item by item (each item an HxWx3 uint8 image, or a tuple whose first element is one).
    Randomness comes only from ``generator``, whose state travels in checkpoints. Draws are
    inverse-CDF lookups (``torch.rand`` then ``searchsorted`` on the cumulative weights) on the
    generator's device: with a device generator and an array, a batch needs no host→device copy,
    no CPU random numbers and no host synchronisation (``torch.multinomial`` validates its
    input with one on CUDA).
    """

    def __init__(
        self,
        images: Any,
        labels: np.ndarray,
        num_classes: int,
        resolution: int,
        device: torch.device,
        mode: str,
        generator: torch.Generator,
    ) -> None:
        self.labels = labels
        self.resolution = resolution
        self.device = device
        self.generator = generator
        draw_on = generator.device
        self._image_cdf = _cdf(sample_weights(labels, num_classes, mode), draw_on)
        self._class_cdf = _cdf(class_weights(labels, num_classes, mode), draw_on)
        self._labels_dev = torch.as_tensor(labels, device=device)
        if isinstance(images, torch.utils.data.Dataset):
            self._dataset = images
            self._images = None
        else:
            arr = check_images(images)
            self._dataset = None
            self._images = torch.from_numpy(np.ascontiguousarray(arr)).to(device)

    def __len__(self) -> int:
        return len(self.labels)

    def indices(self, batch_size: int) -> torch.Tensor:
        """``batch_size`` image indices drawn with the sampling weights (with replacement)."""
        return draw_by_cdf(self._image_cdf, batch_size, self.generator)

    def next(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.indices(batch_size)
        if self._images is not None:
            idx = idx.to(self.device, non_blocking=True)  # a no-op with a device generator
            return to_float(self._images[idx], self.resolution), self._labels_dev[idx]
        idx = idx.cpu()
        batch = torch.stack([_item_tensor(self._dataset[int(i)]) for i in idx]).to(self.device)
        return to_float(batch, self.resolution), self._labels_dev[idx.to(self.device)]

    def sample_labels(self, batch_size: int) -> torch.Tensor:
        """Class ids for generated images, drawn with the classes' sampling shares."""
        return draw_by_cdf(self._class_cdf, batch_size, self.generator).to(self.device)


def _cdf(weights: np.ndarray, device: torch.device) -> torch.Tensor:
    cdf = torch.as_tensor(np.cumsum(weights / weights.sum()), dtype=torch.float64)
    return cdf.to(device)


def draw_by_cdf(cdf: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` indices drawn with replacement by inverse CDF on ``cdf``'s device: kernels only,
    no host sync (CUDA's multinomial may check its input on the host)."""
    u = torch.rand(n, generator=generator, device=cdf.device, dtype=torch.float64) * cdf[-1]
    # right=True: u lands in [cdf[i-1], cdf[i]), an empty range for an item of weight zero.
    return torch.searchsorted(cdf, u, right=True).clamp_(max=len(cdf) - 1)


def _item_tensor(item: Any) -> torch.Tensor:
    if isinstance(item, tuple | list):
        item = item[0]
    t = torch.as_tensor(np.asarray(item))
    if t.dtype != torch.uint8 or t.ndim != 3 or 3 not in (t.shape[0], t.shape[-1]):
        raise LabelerError(
            f"dataset items must be HxWx3 uint8 images, got {t.dtype} {tuple(t.shape)}"
        )
    return t if t.shape[-1] == 3 else t.permute(1, 2, 0)


def dataset_length(images: Any) -> int:
    """Number of images in an array or a ``Dataset``."""
    if isinstance(images, torch.utils.data.Dataset):
        return len(images)  # type: ignore[arg-type]
    return len(check_images(images))


def load_image_folder(
    root: str | Path,
    class_names: Sequence[str] | None = None,
    resolution: int | None = None,
    limit_per_class: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode an ImageFolder tree (``root/<class>/*.jpg|png``) into (images, labels, classes).

    Decoding uses Pillow (which torchvision needs anyway), not OpenCV, so it runs on a bare GPU machine. Images are resized
    to ``resolution`` (square) when given; otherwise they must all share one size.

    >>> images, labels, names = load_image_folder("resources/cifar10-lt-mini")  # doctest: +SKIP
    """
    from PIL import Image  # a torchvision dependency; torchvision's own decoders are deprecated

    root = Path(root)
    names = (
        list(class_names) if class_names else sorted(p.name for p in root.iterdir() if p.is_dir())
    )
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for c, name in enumerate(names):
        files = sorted(
            p for p in (root / name).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
        )
        for path in files[:limit_per_class]:
            with Image.open(path) as pil:
                img = torch.from_numpy(np.array(pil.convert("RGB"))).permute(2, 0, 1)
            if resolution is not None and img.shape[-2:] != (resolution, resolution):
                img = to_float(img[None], resolution)
                img = torch.from_numpy(to_uint8(img)[0]).permute(2, 0, 1)
            images.append(img)
            labels.append(c)
    if not images:
        raise LabelerError(f"no images found under {root}")
    stacked = torch.stack(images).permute(0, 2, 3, 1).contiguous().numpy()
    return stacked, np.asarray(labels, dtype=np.int64), names
