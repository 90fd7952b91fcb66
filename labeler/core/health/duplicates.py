"""Exact and near duplicates, and what they cause: train/test leakage and label noise."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from labeler.core.health.model import Finding, HealthImage, HealthOptions, plural
from labeler.core.neardup import clusters_from_pairs, near_duplicate_pairs

Pair = tuple[int, int, int]


def check_duplicates(
    images: Sequence[HealthImage],
    classes: Mapping[int, str],
    labels: Mapping[int, frozenset[int]],
    opts: HealthOptions,
) -> tuple[list[Finding], dict[str, Any]]:
    """Findings for exact duplicates, near-duplicate clusters, leakage and label conflicts;
    and stats (comparisons made, groups found)."""
    exact_groups = _exact_groups(images)
    exact_pairs = [(g[0], other, 0) for g in exact_groups for other in g[1:]]
    hashed = [im for im in images if im.phash is not None]
    near = near_duplicate_pairs(
        [im.phash for im in hashed], [im.id for im in hashed], opts.near_duplicate_distance
    )
    sha = {im.id: im.sha256 for im in images}
    near_only = [p for p in near.pairs if sha[p[0]] is None or sha[p[0]] != sha[p[1]]]
    findings = []
    if exact_groups:
        n_extra = sum(len(g) - 1 for g in exact_groups)
        findings.append(
            Finding(
                "duplicates.exact",
                "warning",
                f"{plural(n_extra, 'image is an exact copy', 'images are exact copies')} of another",
                f"{plural(len(exact_groups), 'group of images has', 'groups of images have')} identical bytes (same SHA-256).",
                "Keep one image of each group and remove the copies.",
                "remove_duplicates",
                image_ids=sorted({i for g in exact_groups for i in g[1:]}),
                pairs=exact_pairs,
                details={"groups": exact_groups},
            )
        )
    near_groups = clusters_from_pairs(near_only)
    if near_groups:
        findings.append(
            Finding(
                "duplicates.near",
                "warning",
                f"{plural(len(near_groups), 'group', 'groups')} of near-duplicate images",
                f"{plural(len(near_only), 'pair of images looks', 'pairs of images look')} "
                f"alike (pHash distance <= "
                f"{opts.near_duplicate_distance} of 64 bits) without being identical files.",
                "Review each group; keep the best image, or keep the group in one split.",
                "remove_duplicates",
                image_ids=sorted({i for g in near_groups for i in g}),
                pairs=near_only,
                details={"groups": near_groups, "max_distance": opts.near_duplicate_distance},
            )
        )
    all_pairs = sorted(set(exact_pairs) | set(near.pairs), key=lambda p: (p[0], p[1], p[2]))
    all_pairs = _dedupe(all_pairs)
    by_id = {im.id: im for im in images}
    findings += _leakage(all_pairs, by_id)
    findings += _label_conflicts(all_pairs, labels, classes)
    missing_hash = [im.id for im in images if im.phash is None]
    if missing_hash:
        findings.append(
            Finding(
                "duplicates.no_phash",
                "info",
                f"{plural(len(missing_hash), 'image has', 'images have')} no perceptual hash",
                "The near-duplicate and leakage checks could not look at them.",
                "Re-import or re-scan these images so that their hash is computed.",
                "open_images",
                image_ids=missing_hash,
            )
        )
    n = len(hashed)
    stats = {
        "exact_groups": len(exact_groups),
        "near_pairs": len(near_only),
        "near_groups": len(near_groups),
        "near_comparisons": near.comparisons,
        "all_pairs": n * (n - 1) // 2,
    }
    return findings, stats


def duplicate_groups(images: Sequence[HealthImage], max_distance: int = 8) -> list[list[int]]:
    """Groups of image ids that are exact or near duplicates of each other (for splits)."""
    exact = [(g[0], o) for g in _exact_groups(images) for o in g[1:]]
    hashed = [im for im in images if im.phash is not None]
    near = near_duplicate_pairs([im.phash for im in hashed], [im.id for im in hashed], max_distance)
    return clusters_from_pairs(exact + near.pairs)


def _exact_groups(images: Sequence[HealthImage]) -> list[list[int]]:
    by_sha: dict[str, list[int]] = defaultdict(list)
    for im in images:
        if im.sha256:
            by_sha[im.sha256.lower()].append(im.id)
    return sorted((sorted(g) for g in by_sha.values() if len(g) > 1), key=lambda g: g[0])


def _dedupe(pairs: list[Pair]) -> list[Pair]:
    """One entry per id pair, at its smallest distance."""
    best: dict[tuple[int, int], int] = {}
    for a, b, d in pairs:
        key = (min(a, b), max(a, b))
        best[key] = min(d, best.get(key, d))
    return [(a, b, d) for (a, b), d in sorted(best.items())]


def _leakage(pairs: list[Pair], by_id: Mapping[int, HealthImage]) -> list[Finding]:
    leaks = [
        p
        for p in pairs
        if by_id[p[0]].split and by_id[p[1]].split and by_id[p[0]].split != by_id[p[1]].split
    ]
    if not leaks:
        return []
    rows = [
        {"a": a, "b": b, "distance": d, "split_a": by_id[a].split, "split_b": by_id[b].split}
        for a, b, d in leaks
    ]
    return [
        Finding(
            "duplicates.leakage",
            "error",
            f"{plural(len(leaks), 'duplicate pair crosses', 'duplicate pairs cross')} splits (leakage)",
            "The same or nearly the same image sits in two splits, so test scores overstate "
            "what the model learned.",
            "Re-split with duplicate groups kept together on one side.",
            "resplit",
            image_ids=sorted({i for a, b, _ in leaks for i in (a, b)}),
            pairs=leaks,
            details={"pairs": rows},
        )
    ]


def _label_conflicts(
    pairs: list[Pair], labels: Mapping[int, frozenset[int]], classes: Mapping[int, str]
) -> list[Finding]:
    # An unlabeled copy is not a contradiction, only two differing label sets are.
    conflicts = [p for p in pairs if labels[p[0]] and labels[p[1]] and labels[p[0]] != labels[p[1]]]
    if not conflicts:
        return []

    def names(i: int) -> list[str]:
        return [classes.get(c, f"#{c}") for c in sorted(labels[i])]

    rows = [
        {"a": a, "b": b, "distance": d, "labels_a": names(a), "labels_b": names(b)}
        for a, b, d in conflicts
    ]
    return [
        Finding(
            "duplicates.label_conflict",
            "warning",
            f"{plural(len(conflicts), 'duplicate pair carries', 'duplicate pairs carry')} different labels",
            "Two copies of the same picture were labeled differently: one of them is likely wrong.",
            "Open each pair and make the labels agree.",
            "open_images",
            image_ids=sorted({i for a, b, _ in conflicts for i in (a, b)}),
            pairs=conflicts,
            details={"pairs": rows},
        )
    ]
