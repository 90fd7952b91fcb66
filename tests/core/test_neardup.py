"""Near-duplicate search: exact against brute force, and far fewer comparisons than all pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.core.neardup import (
    as_uint64,
    clusters,
    clusters_from_pairs,
    near_duplicate_pairs,
)


def _brute_force(hashes: list[int], ids: list[int], k: int) -> list[tuple[int, int, int]]:
    out = []
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            d = ((hashes[i] ^ hashes[j]) & ((1 << 64) - 1)).bit_count()
            if d <= k:
                a, b = sorted((ids[i], ids[j]))
                out.append((a, b, d))
    return sorted(out)


def _planted(rng: np.random.Generator, n: int, k: int) -> list[int]:
    """Random hashes where a third are copies of another hash with 0..k+2 bits flipped."""
    hashes = [int(x) for x in rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)]
    for i in range(n // 3):
        src = hashes[int(rng.integers(0, n))]
        flips = rng.choice(64, size=int(rng.integers(0, k + 3)), replace=False)
        hashes[i] = src ^ sum(1 << int(f) for f in flips)
    return hashes


@pytest.mark.parametrize("k", [0, 1, 3, 8, 12])
def test_equals_brute_force_on_seeded_random_data(k: int) -> None:
    rng = np.random.default_rng(k)
    hashes = _planted(rng, 400, k)
    ids = [int(x) for x in rng.permutation(10_000)[:400]]
    result = near_duplicate_pairs(hashes, ids, k)
    assert result.pairs == _brute_force(hashes, ids, k)
    assert result.pairs  # the planted families are found, not just an empty match


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), min_size=0, max_size=40),
    st.integers(min_value=0, max_value=64),
)
def test_equals_brute_force_for_any_hashes_and_threshold(hashes: list[int], k: int) -> None:
    ids = list(range(len(hashes)))
    assert near_duplicate_pairs(hashes, ids, k).pairs == _brute_force(hashes, ids, k)


def test_signed_sqlite_hashes_read_as_unsigned() -> None:
    unsigned = (1 << 64) - 3
    assert near_duplicate_pairs([unsigned - (1 << 64), unsigned], [1, 2], 0).pairs == [(1, 2, 0)]
    assert as_uint64(np.array([-1], dtype=np.int64))[0] == np.uint64((1 << 64) - 1)


def test_comparisons_are_a_tiny_fraction_of_all_pairs() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    hashes = _planted(rng, n, 8)
    result = near_duplicate_pairs(hashes, list(range(n)), 8)
    all_pairs = n * (n - 1) // 2
    assert result.comparisons < all_pairs / 100
    assert len(result.pairs) >= n // 3 * 0.5


def test_clusters_join_chains_and_drop_singletons() -> None:
    assert clusters([0, 0b11, 0b1111, (1 << 50) - 1], [10, 11, 12, 13], max_distance=2) == [
        [10, 11, 12]
    ]
    assert clusters_from_pairs([(5, 2, 0), (9, 8), (2, 7)]) == [[2, 5, 7], [8, 9]]
    assert clusters([], []) == []


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        near_duplicate_pairs([1, 2], [3, 3])
    with pytest.raises(ValueError, match="ids"):
        near_duplicate_pairs([1, 2], [3])
    with pytest.raises(ValueError, match="max_distance"):
        near_duplicate_pairs([1, 2], [3, 4], max_distance=65)
