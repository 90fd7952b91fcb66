"""Near-duplicate search over 64-bit perceptual hashes, without comparing all pairs.

Two images are near-duplicates when their 64-bit pHashes (see `labeler.core.imagehash`)
differ in at most ``max_distance`` bits. The default, 8 of 64, catches a resize plus a JPEG
re-encode (typically 0-6 bits) while two unrelated photos differ in about 32 (ADR 0030).

The search is multi-index hashing (Norouzi, Punjani and Fleet, 2012): cut the 64 bits into
``m`` chunks; if two hashes differ in at most ``k`` bits, then by pigeonhole at least one
chunk differs in at most ``k // m`` bits. So for each chunk we look up every chunk value
within that small radius of each hash's own chunk, and compute the full distance only for the
hashes found that way. ``m`` is chosen by a cost model from ``n`` and ``k``; with 100,000
hashes and k = 8 it verifies well under 0.1 % of the n(n-1)/2 pairs.

>>> pairs, comparisons = near_duplicate_pairs([0b1011, 0b1001, 1 << 40], [7, 8, 9], max_distance=2)
>>> pairs
[(7, 8, 1)]
>>> clusters([0b1011, 0b1001, 0b1000, 1 << 40], [1, 2, 3, 4], max_distance=1)
[[1, 2, 3]]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

MASK64 = (1 << 64) - 1
DEFAULT_MAX_DISTANCE = 8
"""Hamming distance (bits of 64) at or below which two pHashes count as near-duplicates."""

# Chunks this wide or narrower are looked up in a dense offset table (at most 16 MiB);
# wider ones by binary search in the sorted chunk values.
_TABLE_BITS = 22


class NearDupResult(NamedTuple):
    """Pairs ``(id_a, id_b, distance)`` with ``id_a < id_b``, sorted; and the number of
    candidate pairs whose full distance was computed (the work done, to compare with
    ``n * (n - 1) // 2``)."""

    pairs: list[tuple[int, int, int]]
    comparisons: int


def near_duplicate_pairs(
    hashes: Sequence[int] | np.ndarray,
    ids: Sequence[int] | np.ndarray,
    max_distance: int = DEFAULT_MAX_DISTANCE,
) -> NearDupResult:
    """Every pair of ids whose hashes differ in at most ``max_distance`` bits.

    ``hashes`` are 64-bit integers, signed (as SQLite stores them) or unsigned: both are
    read modulo 2**64. ``ids`` must be distinct integers, one per hash. The result is exact:
    the same pairs as comparing all n(n-1)/2 pairs, for any ``max_distance`` in 0..64.

    >>> near_duplicate_pairs([-1, (1 << 64) - 2], [1, 2], max_distance=1).pairs
    [(1, 2, 1)]
    """
    h = as_uint64(hashes)
    id_arr = np.asarray(ids, dtype=np.int64)
    if id_arr.shape != h.shape:
        raise ValueError(f"{len(h)} hashes but {len(id_arr)} ids")
    if len(np.unique(id_arr)) != len(id_arr):
        raise ValueError("ids must be distinct")
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be in 0..64, got {max_distance}")
    n = len(h)
    if n < 2:
        return NearDupResult([], 0)
    left, right = _candidate_pairs(h, max_distance)
    dist = np.bitwise_count(h[left] ^ h[right]).astype(np.int64)
    keep = dist <= max_distance
    a, b, d = id_arr[left[keep]], id_arr[right[keep]], dist[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((hi, lo))
    pairs = list(zip(lo[order].tolist(), hi[order].tolist(), d[order].tolist(), strict=True))
    return NearDupResult(pairs, len(left))


def clusters(
    hashes: Sequence[int] | np.ndarray,
    ids: Sequence[int] | np.ndarray,
    max_distance: int = DEFAULT_MAX_DISTANCE,
) -> list[list[int]]:
    """Groups of near-duplicate ids: the connected components of the near-duplicate pairs.

    Only groups of two or more are returned; each group is sorted and the groups are
    ordered by their smallest id. Linking is transitive (single linkage), so a group can
    hold two members further apart than ``max_distance`` when a chain joins them; that is
    what a leakage-safe split needs (keep the whole chain on one side).

    >>> clusters([0, 0b11, 0b1111, (1 << 50) - 1], [10, 11, 12, 13], max_distance=2)
    [[10, 11, 12]]
    """
    return clusters_from_pairs(near_duplicate_pairs(hashes, ids, max_distance).pairs)


def clusters_from_pairs(pairs: Iterable[tuple[int, int] | tuple[int, int, int]]) -> list[list[int]]:
    """Connected components (size >= 2) of a set of id pairs, by union-find.

    Extra items in a pair (a distance) are ignored, so exact-duplicate pairs and
    near-duplicate pairs can be merged before grouping.

    >>> clusters_from_pairs([(1, 2), (3, 4, 0), (2, 5)])
    [[1, 2, 5], [3, 4]]
    """
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression keeps later finds near O(1)
            parent[x], x = root, parent[x]
        return root

    for pair in pairs:
        ra, rb = find(pair[0]), find(pair[1])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in parent:
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def as_uint64(hashes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Hashes as a uint64 array, reading signed values (SQLite's form) modulo 2**64."""
    if isinstance(hashes, np.ndarray) and hashes.dtype.kind in "iu" and hashes.itemsize == 8:
        return hashes.view(np.uint64) if hashes.dtype.kind == "i" else hashes
    return np.fromiter((int(x) & MASK64 for x in hashes), dtype=np.uint64, count=len(hashes))


# -- multi-index hashing ----------------------------------------------------------------------


def plan_chunks(n: int, max_distance: int) -> list[int]:
    """Chunk widths (bits, summing to 64) minimising the estimated search cost.

    With ``m`` chunks the per-chunk radius is ``r = k // m``. Each chunk costs one vectorised
    lookup per bit mask of weight <= r (``sum C(b, i)`` masks, each touching all n hashes), plus
    the candidates it yields (about ``n * n / 2**b`` per mask for random hashes).
    """
    best: tuple[float, list[int]] | None = None
    for m in range(2, max(max_distance + 1, 2) + 1):  # m = 1 would need 64-bit chunk keys
        widths = [64 // m + (1 if i < 64 % m else 0) for i in range(m)]
        r = max_distance // m
        cost = 0.0
        for b in widths:
            masks = sum(math.comb(b, i) for i in range(r + 1))
            cost += masks * (n + 2_000)  # per-mask numpy work plus fixed call overhead
            cost += 4.0 * masks * n * n / 2.0**b  # candidate pairs to expand and verify
        if best is None or cost < best[0]:
            best = (cost, widths)
    assert best is not None
    return best[1]


def _candidate_pairs(h: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j), without repeats, that share a chunk within radius k // m."""
    n = len(h)
    widths = plan_chunks(n, k)
    r = k // len(widths)
    keys: list[np.ndarray] = []
    shift = 0
    for b in widths:
        chunk = ((h >> np.uint64(shift)) & np.uint64((1 << b) - 1)).astype(np.int64)
        keys.extend(_chunk_candidates(chunk, b, r))
        shift += b
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    unique = np.unique(np.concatenate(keys))
    return unique // n, unique % n


def _chunk_candidates(chunk: np.ndarray, bits: int, radius: int) -> list[np.ndarray]:
    """Keys ``i * n + j`` (i < j) of hashes whose chunk values differ in <= radius bits."""
    n = len(chunk)
    order = np.argsort(chunk, kind="stable")
    sorted_vals = chunk[order]
    table = occupied = None
    if bits <= _TABLE_BITS:
        counts = np.bincount(chunk, minlength=1 << bits)
        table = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(counts, out=table[1:])
        # Most lookups miss; a byte-per-value map is small enough to stay in cache.
        occupied = counts > 0
    out = []
    query_ids = np.arange(n, dtype=np.int64)
    for mask in _masks(bits, radius):
        q = chunk ^ mask
        if table is not None:
            who = query_ids[occupied[q]]
            if len(who) == 0:
                continue
            q = q[who]
            lo, hi = table[q], table[q + 1]
        else:
            lo = np.searchsorted(sorted_vals, q, side="left")
            hi = np.searchsorted(sorted_vals, q, side="right")
            who = query_ids[hi > lo]
            lo, hi = lo[who], hi[who]
        if len(who) == 0:
            continue
        counts = hi - lo
        total = int(counts.sum())
        # Expand each query's run [lo, hi) in the sorted order into one row per candidate.
        offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        partner = order[np.arange(total, dtype=np.int64) + offsets]
        me = np.repeat(who, counts)
        keep = me < partner
        out.append(me[keep] * n + partner[keep])
    return out


def _masks(bits: int, radius: int) -> Iterable[int]:
    """Every ``bits``-bit value with at most ``radius`` bits set."""
    for weight in range(radius + 1):
        for positions in itertools.combinations(range(bits), weight):
            yield sum(1 << p for p in positions)
