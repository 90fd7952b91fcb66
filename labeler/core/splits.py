"""Train/val/test splits: seeded, stratified by class, leakage-safe and stable.

The caller (the store) resolves everything project-specific first and passes plain
``SplitItem`` values: the class ids on each image, a group key that already merges
near-duplicate groups and user groups, whether the image is generated, and its current
split. ``plan_split`` returns a ``SplitPlan``; the store writes ``plan.assignments``.

Rules, in priority order:

1. Generated images only ever go to train. They are taken out of any group first: the
   caller must never put a generated image in the same group as real ones (a GAN sample
   is not a near-duplicate of a real photo by construction), and if it does anyway the
   generated image still goes to train while the group's real members are placed as usual.
2. A group never straddles splits. When the members that already have a split disagree
   (for example, a user group made after an earlier split), the whole group moves to the
   split holding most of its members (ties: train, then val, then test) and the moved
   images are listed in ``plan.moved``. Leakage safety wins over stability.
3. Stability: a group with any member already in a split keeps that split; only groups
   with no assigned member are placed, unless ``reshuffle=True``.
4. New groups are placed by iterative stratification (Sechidis, Tsoumakas and Vlahavas,
   2011) with groups as the units: the rarest class is distributed first, each unit goes
   to the split that most lacks that class, ties broken by the split that most lacks
   images, then by a draw from ``random.Random(seed)``.

>>> plan = plan_split([SplitItem(1, Counter({0: 1}))], seed=3)
>>> plan.assignments[1]
'train'
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labeler.core.errors import LabelerError

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class SplitItem:
    """One image as the splitter sees it.

    ``class_ids`` counts every tag, box and polygon on the image by class id.
    ``group`` is None for an image in no group; images sharing a key land in one split.
    ``current_split`` is the split the image has now, or None for a new image.
    """

    image_id: int
    class_ids: Counter[int] = field(default_factory=Counter)
    group: str | None = None
    generated: bool = False
    current_split: str | None = None

    def __post_init__(self) -> None:
        if self.current_split is not None and self.current_split not in SPLITS:
            raise LabelerError(
                f"image {self.image_id} has unknown split {self.current_split!r}; "
                f"expected one of {', '.join(SPLITS)}"
            )
        if not isinstance(self.class_ids, Counter):
            object.__setattr__(self, "class_ids", Counter(self.class_ids))


@dataclass(frozen=True)
class SplitPlan:
    """The outcome of ``plan_split``.

    ``assignments`` maps every image id to its split. ``new`` lists images that had no
    split, ``moved`` images whose split changed (group repair, generated images, reshuffle).
    ``class_counts[split][class_id]`` counts shapes of real images; ``generated_counts``
    counts shapes on generated images (all in train). ``deviation[class_id]`` is the largest
    difference, over the splits, between the share of that class a split got and the ratio
    asked for it.
    """

    assignments: dict[int, str]
    new: tuple[int, ...]
    moved: tuple[int, ...]
    ratios: tuple[float, float, float]
    seed: int
    image_counts: dict[str, int]
    class_counts: dict[str, dict[int, int]]
    generated_counts: dict[int, int]
    deviation: dict[int, float]

    @property
    def max_deviation(self) -> float:
        return max(self.deviation.values(), default=0.0)

    def to_json(self) -> dict[str, Any]:
        """The plan as one JSON-ready dict, for ``labeler split --json``."""
        return {
            "seed": self.seed,
            "ratios": dict(zip(SPLITS, self.ratios, strict=True)),
            "images": self.image_counts,
            "new": len(self.new),
            "moved": len(self.moved),
            "class_counts": {
                s: {str(c): n for c, n in sorted(counts.items())}
                for s, counts in self.class_counts.items()
            },
            "generated_counts": {str(c): n for c, n in sorted(self.generated_counts.items())},
            "deviation": {str(c): round(d, 6) for c, d in sorted(self.deviation.items())},
            "max_deviation": round(self.max_deviation, 6),
        }


@dataclass
class _Unit:
    """A group of real images that must share a split."""

    key: str
    image_ids: list[int]
    classes: Counter[int]
    split: str | None = None


def plan_split(
    items: Sequence[SplitItem],
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    reshuffle: bool = False,
) -> SplitPlan:
    """Assign every image a split; see the module docstring for the rules.

    >>> items = [SplitItem(i, Counter({i % 2: 1})) for i in range(10)]
    >>> sorted(plan_split(items, seed=1).image_counts.items())
    [('test', 1), ('train', 8), ('val', 1)]
    """
    r = _check_ratios(ratios)
    _check_unique(items)
    rng = random.Random(seed)
    real = [it for it in items if not it.generated]
    units = _make_units(real, reshuffle)
    current = {it.image_id: it.current_split for it in items}
    _stratify([u for u in units if u.split is None], units, r, rng)

    assignments: dict[int, str] = {}
    for unit in units:
        for image_id in unit.image_ids:
            assignments[image_id] = unit.split  # type: ignore[assignment]
    for it in items:
        if it.generated:
            assignments[it.image_id] = "train"
    new = tuple(sorted(i for i, s in current.items() if s is None))
    moved = {i for i, s in current.items() if s is not None and assignments[i] != s}
    return _report(items, assignments, new, tuple(sorted(moved)), r, seed)


def _check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3:
        raise LabelerError(f"expected 3 ratios (train val test), got {len(ratios)}")
    vals = tuple(float(x) for x in ratios)
    if any(not math.isfinite(x) or x < 0 for x in vals):
        raise LabelerError(f"ratios must be non-negative numbers, got {list(ratios)}")
    if abs(sum(vals) - 1.0) > 1e-6:
        raise LabelerError(f"ratios must add up to 1, got {sum(vals):g}")
    if vals[0] == 0:
        raise LabelerError("the train ratio must be above 0")
    return vals  # type: ignore[return-value]


def _check_unique(items: Sequence[SplitItem]) -> None:
    seen: set[int] = set()
    for it in items:
        if it.image_id in seen:
            raise LabelerError(f"image {it.image_id} is listed twice")
        seen.add(it.image_id)


def _make_units(real: Sequence[SplitItem], reshuffle: bool) -> list[_Unit]:
    """Merge images into units by group key and settle the split of already-placed units."""
    by_key: dict[str, list[SplitItem]] = {}
    for it in real:
        key = f"g:{it.group}" if it.group is not None else f"i:{it.image_id}"
        by_key.setdefault(key, []).append(it)
    units = []
    for key in sorted(by_key):
        members = by_key[key]
        classes: Counter[int] = Counter()
        for m in members:
            classes.update(m.class_ids)
        split = None if reshuffle else _majority_split(members)
        units.append(_Unit(key, sorted(m.image_id for m in members), classes, split))
    return units


def _majority_split(members: Sequence[SplitItem]) -> str | None:
    votes = Counter(m.current_split for m in members if m.current_split is not None)
    if not votes:
        return None
    # Ties go to the earlier split in SPLITS: leakage into train is the least harmful.
    return max(SPLITS, key=lambda s: (votes[s], -SPLITS.index(s)))


def _stratify(
    todo: list[_Unit], all_units: list[_Unit], r: tuple[float, ...], rng: random.Random
) -> None:
    """Iterative stratification with groups as units; fills ``unit.split`` in place."""
    total_images = sum(len(u.image_ids) for u in all_units)
    total_class: Counter[int] = Counter()
    for u in all_units:
        total_class.update(u.classes)
    eligible = [s for s, ratio in zip(SPLITS, r, strict=True) if ratio > 0]
    want_images = {s: r[SPLITS.index(s)] * total_images for s in eligible}
    want_class = {s: {c: r[SPLITS.index(s)] * n for c, n in total_class.items()} for s in eligible}
    for u in all_units:
        if u.split is not None and u.split in eligible:
            _take(u, u.split, want_images, want_class)

    # Seeded shuffle, then large units first: they are the hardest to place.
    rng.shuffle(todo)
    todo.sort(key=lambda u: -len(u.image_ids))
    remaining = list(todo)
    while remaining:
        left: Counter[int] = Counter()
        for u in remaining:
            left.update(u.classes)
        if left:
            rarest = min(left, key=lambda c: (left[c], c))
            batch = [u for u in remaining if u.classes[rarest] > 0]
        else:
            rarest, batch = None, list(remaining)
        for u in batch:
            split = _best_split(rarest, eligible, want_images, want_class, rng)
            u.split = split
            _take(u, split, want_images, want_class)
        placed = {id(u) for u in batch}
        remaining = [u for u in remaining if id(u) not in placed]


def _best_split(
    cls: int | None,
    eligible: list[str],
    want_images: dict[str, float],
    want_class: dict[str, dict[int, float]],
    rng: random.Random,
) -> str:
    draws = {s: rng.random() for s in eligible}

    def need(s: str) -> tuple[float, float, float]:
        c = want_class[s].get(cls, 0.0) if cls is not None else 0.0
        return (round(c, 9), round(want_images[s], 9), draws[s])

    return max(eligible, key=need)


def _take(
    u: _Unit, split: str, want_images: dict[str, float], want_class: dict[str, dict[int, float]]
) -> None:
    want_images[split] -= len(u.image_ids)
    for c, n in u.classes.items():
        want_class[split][c] = want_class[split].get(c, 0.0) - n


def _report(
    items: Sequence[SplitItem],
    assignments: Mapping[int, str],
    new: tuple[int, ...],
    moved: tuple[int, ...],
    r: tuple[float, float, float],
    seed: int,
) -> SplitPlan:
    image_counts = {s: 0 for s in SPLITS}
    class_counts: dict[str, dict[int, int]] = {s: {} for s in SPLITS}
    generated: Counter[int] = Counter()
    for it in items:
        split = assignments[it.image_id]
        image_counts[split] += 1
        if it.generated:
            generated.update(it.class_ids)
            continue
        for c, n in it.class_ids.items():
            class_counts[split][c] = class_counts[split].get(c, 0) + n
    deviation: dict[int, float] = {}
    classes = {c for counts in class_counts.values() for c in counts}
    for c in classes:
        total = sum(class_counts[s].get(c, 0) for s in SPLITS)
        deviation[c] = max(
            abs(class_counts[s].get(c, 0) / total - ratio)
            for s, ratio in zip(SPLITS, r, strict=True)
        )
    return SplitPlan(
        assignments=dict(sorted(assignments.items())),
        new=new,
        moved=moved,
        ratios=r,
        seed=seed,
        image_counts=image_counts,
        class_counts={s: dict(sorted(c.items())) for s, c in class_counts.items()},
        generated_counts=dict(sorted(generated.items())),
        deviation=dict(sorted(deviation.items())),
    )
