"""Files: missing, moved (found again by SHA-256), unreadable; sizes, aspect ratios, grey."""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labeler.core.files import sha256_file
from labeler.core.health.model import Finding, HealthImage, HealthOptions, plural
from labeler.core.held import HeldFile
from labeler.core.images import is_image_path

SEARCH_LIMITS = {"files": 200_000, "folders": 20_000, "depth": 6, "seconds": 20.0}
"""How far the search for moved files may go: files listed, folders entered, levels below a
search root, and wall time. Whatever is cut short is said in the report, never hidden."""


@dataclass
class SearchLog:
    """What the search for moved files looked at, and why it stopped early (if it did)."""

    roots: list[str] = field(default_factory=list)
    skipped_roots: list[str] = field(default_factory=list)
    cut_short: str | None = None


def search_roots(
    project_folder: str | Path, image_paths: Sequence[str | Path]
) -> tuple[list[Path], list[Path]]:
    """Where moved files are looked for: the project's folder, each image's own folder and
    the folder above it (a file moved between sibling folders of one dataset is found), but
    never a file system's root, a top-level folder or a home folder as such: a relink search
    must not turn into a walk of the whole disk. Returns (roots, refused roots)."""
    wanted = {Path(project_folder)}
    for p in image_paths:
        wanted |= {Path(p).parent, Path(p).parent.parent}
    home = Path.home()
    ok, refused = set(), set()
    for r in wanted:
        r = Path(os.path.normpath(Path(r).absolute()))
        if r == Path(r.anchor) or r == home or r.parent == Path(r.anchor):
            refused.add(r)
        else:
            ok.add(r)
    # A root below another root is walked with it.
    roots = sorted(r for r in ok if not any(o != r and r.is_relative_to(o) for o in ok))
    return roots, sorted(refused)


def find_moved(
    missing: Sequence[HealthImage],
    roots: Sequence[str | Path],
    max_files: int = 50_000,
    log: SearchLog | None = None,
    limits: dict | None = None,
) -> dict[int, str]:
    """New paths for missing images, found by SHA-256 under ``roots``.

    Files with the same name are hashed first, then files of the same size (when the image's
    size is known), then the rest, until every missing image is found or ``max_files`` files
    have been hashed; that keeps the usual case (a folder renamed or moved) to a few hashes.
    The walk itself is bounded by ``SEARCH_LIMITS`` (``log.cut_short`` says which one hit).

    >>> find_moved([], ["/nonexistent"])
    {}
    """
    wanted = {im.sha256.lower(): im for im in missing if im.sha256}
    if not wanted:
        return {}
    log = log if log is not None else SearchLog()
    bounds = SEARCH_LIMITS | (limits or {})
    deadline = time.monotonic() + bounds["seconds"]
    files = _image_files(roots, bounds, deadline, log)
    names = {Path(im.path).name for im in wanted.values()}
    sizes = {im.size_bytes for im in wanted.values() if im.size_bytes is not None}
    sized_all = len(sizes) == len(wanted)

    def priority(p: Path) -> int:
        """0: same name, 1: same size, 2: any other file, 3: a size no missing image has."""
        if p.name in names:
            return 0
        try:
            size = p.stat().st_size
        except OSError:
            return 3
        return 1 if size in sizes else (3 if sized_all else 2)

    queue = sorted((priority(p), str(p)) for p in files)
    found: dict[int, str] = {}
    for n_hashed, (rank, path) in enumerate(queue):
        if not wanted or rank == 3:
            break
        if n_hashed >= max_files:
            log.cut_short = log.cut_short or f"{max_files} files hashed"
            break
        if time.monotonic() > deadline:
            log.cut_short = log.cut_short or f"{bounds['seconds']:g} s spent"
            break
        try:
            if not Path(path).is_file():
                continue
            digest = sha256_file(path)
        except (OSError, HeldFile):
            continue
        im = wanted.pop(digest, None)
        if im is not None:
            found[im.id] = path
    return found


def _image_files(
    roots: Sequence[str | Path], bounds: dict, deadline: float, log: SearchLog
) -> list[Path]:
    seen: set[Path] = set()
    folders = 0
    for root in roots:
        root = Path(root)
        log.roots.append(str(root))
        for dirpath, dirs, filenames in os.walk(root):  # symlinked folders are not followed
            folders += 1
            depth = len(Path(dirpath).relative_to(root).parts)
            if depth >= bounds["depth"]:
                dirs[:] = []
            dirs.sort()
            for fn in filenames:
                if is_image_path(fn):
                    seen.add(Path(dirpath, fn))
            if len(seen) >= bounds["files"]:
                log.cut_short = f"{bounds['files']} files listed"
                return sorted(seen)
            if folders >= bounds["folders"]:
                log.cut_short = f"{bounds['folders']} folders listed"
                return sorted(seen)
            if time.monotonic() > deadline:
                log.cut_short = f"{bounds['seconds']:g} s spent"
                return sorted(seen)
    return sorted(seen)


def check_missing(
    images: Sequence[HealthImage], roots: Sequence[str | Path], opts: HealthOptions
) -> list[Finding]:
    """Missing files, with a relink proposal for those found elsewhere by SHA-256."""
    missing = [im for im in images if im.exists is False]
    if not missing:
        return []
    log = SearchLog()
    moved = find_moved(missing, roots, opts.max_files_to_hash, log) if roots else {}
    findings = []
    if moved:
        rows = [
            {"image_id": im.id, "old_path": im.path, "new_path": moved[im.id]}
            for im in missing
            if im.id in moved
        ]
        findings.append(
            Finding(
                "files.moved",
                "warning",
                f"{plural(len(moved), 'missing file was', 'missing files were')} found elsewhere",
                "Files with the same SHA-256 as these missing images exist at a new path.",
                "Relink the images to the proposed paths.",
                "relink",
                image_ids=sorted(moved),
                details={"relink": rows},
            )
        )
    lost = sorted(im.id for im in missing if im.id not in moved)
    if lost:
        paths = {im.id: im.path for im in missing}
        findings.append(
            Finding(
                "files.missing",
                "error",
                f"{plural(len(lost), 'image file is', 'image files are')} missing",
                "These files are gone and no file with the same content was found in the "
                "searched folders"
                + (f" (the search stopped early: {log.cut_short})." if log.cut_short else "."),
                "Restore the files (or point the search at where they are now), or remove "
                "these images from the project.",
                "open_images",
                image_ids=lost,
                details={
                    "paths": {str(i): paths[i] for i in lost},
                    "searched": log.roots,
                    "search_cut_short": log.cut_short,
                },
            )
        )
    return findings


def check_files(
    images: Sequence[HealthImage], opts: HealthOptions
) -> tuple[list[Finding], dict[str, Any]]:
    """Unreadable files, very small / very large / extreme aspect ratio images, grey vs colour;
    and the size statistics behind the charts."""
    findings = []
    unreadable = [im.id for im in images if im.readable is False and im.exists is not False]
    if unreadable:
        findings.append(
            Finding(
                "files.unreadable",
                "error",
                f"{plural(len(unreadable), 'image file', 'image files')} cannot be decoded",
                "The files exist but do not decode as images (truncated or corrupt).",
                "Replace the files from a good copy, or remove these images.",
                "open_images",
                image_ids=unreadable,
            )
        )
    sized = [im for im in images if im.width and im.height]
    findings += _size_findings(sized, opts)
    findings += _grey_findings(images)
    return findings, size_stats(sized)


def _size_findings(sized: Sequence[HealthImage], opts: HealthOptions) -> list[Finding]:
    small = [im.id for im in sized if min(im.width, im.height) < opts.small_image_side]
    large = [
        im.id
        for im in sized
        if max(im.width, im.height) > opts.large_image_side
        or im.width * im.height > opts.large_image_pixels
    ]
    wide = [
        im.id
        for im in sized
        if max(im.width, im.height) / min(im.width, im.height) > opts.extreme_aspect_ratio
    ]
    out = []
    if small:
        out.append(
            Finding(
                "files.small_images",
                "warning",
                f"{plural(len(small), 'image is', 'images are')} very small",
                f"Shorter side below {opts.small_image_side} px: little for a model to see.",
                "Check these are not thumbnails or crops imported by mistake.",
                "open_images",
                image_ids=small,
            )
        )
    if large:
        out.append(
            Finding(
                "files.large_images",
                "info",
                f"{plural(len(large), 'image is', 'images are')} very large",
                f"Longer side above {opts.large_image_side} px or more than "
                f"{opts.large_image_pixels / 1e6:.0f} MP: slow to load and train on.",
                "Consider downscaling them, or tiling if small objects matter.",
                "open_images",
                image_ids=large,
            )
        )
    if wide:
        out.append(
            Finding(
                "files.extreme_aspect",
                "info",
                f"{plural(len(wide), 'image has', 'images have')} an extreme aspect ratio",
                f"Wider or taller than {opts.extreme_aspect_ratio:g} : 1; a square resize "
                "squashes them.",
                "Check them; crop or pad before training.",
                "open_images",
                image_ids=wide,
            )
        )
    return out


def _grey_findings(images: Sequence[HealthImage]) -> list[Finding]:
    grey = [im.id for im in images if im.is_grey is True]
    colour = [im.id for im in images if im.is_grey is False]
    if not grey or not colour:
        return []
    minority, kind = (grey, "grey") if len(grey) <= len(colour) else (colour, "colour")
    other = "colour" if kind == "grey" else "grey"
    return [
        Finding(
            "files.grey_mix",
            "info",
            f"{plural(len(minority), f'{kind} image', f'{kind} images')} among "
            f"{plural(len(images) - len(minority), f'{other} image', f'{other} images')}",
            "A model can learn colour vs grey instead of the classes when they correlate.",
            f"Check the {kind} images belong; convert them or spread them over the classes.",
            "open_images",
            image_ids=minority,
            details={"grey": len(grey), "colour": len(colour)},
        )
    ]


def size_stats(sized: Sequence[HealthImage], max_points: int = 2000) -> dict[str, Any]:
    """Width/height summary, common sizes, aspect-ratio histogram and a scatter sample."""
    if not sized:
        return {"count": 0}
    w = np.array([im.width for im in sized], dtype=np.int64)
    h = np.array([im.height for im in sized], dtype=np.int64)
    aspect = w / h
    edges = [0.0, 0.25, 0.5, 0.75, 0.9, 1.1, 1.34, 1.6, 2.0, 4.0, float("inf")]
    hist, _ = np.histogram(aspect, bins=edges)
    side_edges = [0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, float("inf")]
    side_hist, _ = np.histogram(np.maximum(w, h), bins=side_edges)
    # Evenly spaced, not random, so the report is the same on every run.
    pick = np.linspace(0, len(w) - 1, min(max_points, len(w))).astype(np.int64)
    common = Counter(zip(w.tolist(), h.tolist(), strict=True)).most_common(10)
    by_size: dict[str, int] = defaultdict(int)
    for (ww, hh), n in common:
        by_size[f"{ww}x{hh}"] = n
    return {
        "count": len(w),
        "width": _summary(w),
        "height": _summary(h),
        "common_sizes": dict(by_size),
        "aspect_ratio_histogram": {"edges": _edges(edges), "counts": hist.tolist()},
        "longer_side_histogram": {"edges": _edges(side_edges), "counts": side_hist.tolist()},
        "scatter": {"width": w[pick].tolist(), "height": h[pick].tolist()},
    }


def _summary(v: np.ndarray) -> dict[str, float]:
    return {"min": int(v.min()), "median": float(np.median(v)), "max": int(v.max())}


def _edges(edges: list[float]) -> list[float | None]:
    """JSON has no infinity: the open upper edge is null."""
    return [None if e == float("inf") else e for e in edges]
