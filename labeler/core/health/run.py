"""`run_health`: every registered check over a project's plain data, in one cancellable pass."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from labeler.core.health.balance import image_classes
from labeler.core.health.checks import registered_health_checks, run_check
from labeler.core.health.classifier import image_features
from labeler.core.health.model import (
    SEVERITIES,
    CheckInput,
    Finding,
    HealthData,
    HealthImage,
    HealthOptions,
    HealthReport,
)
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress

LoadImage = Callable[[int], "np.ndarray | None"]
"""load_image(image_id) -> the decoded image (grey or BGR, uint8), or None if it cannot be read."""


def run_health(
    data: HealthData,
    load_image: LoadImage | None = None,
    progress: ProgressFn | None = None,
    should_stop: ShouldStop | None = None,
    options: HealthOptions | None = None,
) -> HealthReport:
    """Check a dataset and say what is wrong with it, and what to do.

    Without ``load_image`` only the fast checks run (metadata, hashes, geometry: seconds for
    100,000 images). With it, every existing image is decoded once: unreadable files are
    found, unknown sizes and grey/colour are filled in, and the suspicious-label classifier
    runs. Then every registered check runs in turn, Labeler's own first (see
    ``labeler.core.health.checks``). ``progress(done, total)`` is called as images and checks
    complete; when ``should_stop()`` turns True the report of the checks done so far comes
    back with ``cancelled=True``.

    >>> from labeler.core.health import HealthData, HealthImage
    >>> report = run_health(HealthData([HealthImage(1, "a.jpg", exists=True)]))
    >>> report.by_check("balance.unlabeled").image_ids
    [1]
    """
    opts = options or HealthOptions()
    progress = progress or no_progress
    stop = should_stop or never_stop
    checks = list(registered_health_checks().items())
    total = (len(data.images) if load_image else 0) + len(checks)
    images = [_stat(im) for im in data.images]
    findings: list[Finding] = []
    stats: dict[str, Any] = {"images": {"total": len(images)}}

    def done(cancelled: bool = False) -> HealthReport:
        order = {s: k for k, s in enumerate(SEVERITIES)}
        findings.sort(key=lambda f: order[f.severity])  # stable: check order kept within
        return HealthReport(findings, stats, dict(data.classes), opts, cancelled=cancelled)

    features: dict[int, np.ndarray] = {}
    if load_image is not None:
        images = _decode_all(images, load_image, features, progress, stop, total)
    done_units = total - len(checks)
    given = CheckInput(
        tuple(images),
        data.shapes,
        data.classes,
        data.search_roots,
        options=opts,
        labels=image_classes(images, data.shapes),
        features=features,
        stats=stats,
    )
    for name, check in checks:
        if stop():
            return done(cancelled=True)
        findings.extend(run_check(name, check, given))
        done_units += 1
        progress(min(done_units, total), total)
    stats["images"].update(
        {
            "missing": sum(1 for im in images if im.exists is False),
            "generated": sum(1 for im in images if im.generated),
            "grey": sum(1 for im in images if im.is_grey is True),
            "colour": sum(1 for im in images if im.is_grey is False),
        }
    )
    return done()


def _stat(im: HealthImage) -> HealthImage:
    return im if im.exists is not None else replace(im, exists=os.path.exists(im.path))


def _decode_all(
    images: list[HealthImage],
    load_image: LoadImage,
    features: dict[int, np.ndarray],
    progress: ProgressFn,
    stop: ShouldStop,
    total: int,
) -> list[HealthImage]:
    out = []
    for k, im in enumerate(images):
        if stop():
            return out + images[k:]
        out.append(_decode(im, load_image, features) if im.exists else im)
        if k % 32 == 31 or k == len(images) - 1:
            progress(k + 1, total)
    return out


def _decode(im: HealthImage, load_image: LoadImage, features: dict[int, np.ndarray]) -> HealthImage:
    try:
        img = load_image(im.id)
    except Exception:  # a loader failing on one bad file must not end the whole check
        img = None
    if img is None or img.size == 0:
        return replace(im, readable=False)
    features[im.id] = image_features(img)
    return replace(
        im,
        readable=True,
        width=im.width or int(img.shape[1]),
        height=im.height or int(img.shape[0]),
        is_grey=im.is_grey if im.is_grey is not None else looks_grey(img),
    )


def looks_grey(image: np.ndarray) -> bool:
    """True for one-channel images and for colour images whose channels (nearly) agree; the
    tolerance absorbs the chroma noise JPEG adds to a grey picture saved as colour."""
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    small = cv2.resize(image[:, :, :3], (64, 64), interpolation=cv2.INTER_AREA).astype(np.int16)
    b, g, r = small[:, :, 0], small[:, :, 1], small[:, :, 2]
    return float(np.abs(b - g).mean() + np.abs(g - r).mean()) < 3.0
