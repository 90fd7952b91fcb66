"""Splits: stratified, leakage-safe, stable, generated images in train, seeded."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from labeler.core.errors import LabelerError
from labeler.core.splits import SplitItem, plan_split


def _multiclass(n: int = 600, seed: int = 1) -> list[SplitItem]:
    """An imbalanced multi-label set: class 0 common, class 4 rare, some images with two."""
    rng = random.Random(seed)
    weights = [50, 25, 12, 8, 5]
    items = []
    for i in range(n):
        classes = Counter(rng.choices(range(5), weights)[:1])
        if rng.random() < 0.3:
            classes[rng.randrange(5)] += rng.randint(1, 3)
        items.append(SplitItem(i, classes))
    return items


def test_stratification_keeps_every_class_near_the_ratios():
    plan = plan_split(_multiclass(), seed=0)
    assert plan.max_deviation < 0.02, plan.to_json()["deviation"]
    assert plan.image_counts == pytest.approx({"train": 480, "val": 60, "test": 60}, abs=12)


def test_groups_never_straddle_splits():
    items = [SplitItem(i, Counter({i % 3: 1}), group=f"g{i // 4}") for i in range(200)]
    plan = plan_split(items, seed=5)
    by_group: dict[str, set[str]] = {}
    for it in items:
        by_group.setdefault(it.group, set()).add(plan.assignments[it.image_id])
    assert all(len(splits) == 1 for splits in by_group.values())
    assert len({s for splits in by_group.values() for s in splits}) == 3


def test_existing_splits_are_kept_and_new_members_join_their_group():
    first = plan_split(
        [SplitItem(i, Counter({i % 2: 1}), group=f"g{i}") for i in range(50)], seed=2
    )
    old = [
        SplitItem(i, Counter({i % 2: 1}), group=f"g{i}", current_split=first.assignments[i])
        for i in range(50)
    ]
    val_member = next(i for i in range(50) if first.assignments[i] == "val")
    new = [SplitItem(100 + i, Counter({i % 2: 1})) for i in range(30)]
    new.append(SplitItem(200, Counter({0: 1}), group=f"g{val_member}"))  # a near-duplicate
    plan = plan_split(old + new, seed=9)
    assert all(plan.assignments[i] == first.assignments[i] for i in range(50))
    assert plan.assignments[200] == "val"
    assert plan.moved == () and set(plan.new) == {it.image_id for it in new}
    assert {plan.assignments[i] for i in range(100, 130)} >= {"train", "val"}


def test_reshuffle_reassigns_everything():
    items = [SplitItem(i, Counter({0: 1}), current_split="test") for i in range(40)]
    assert set(plan_split(items).assignments.values()) == {"test"}
    plan = plan_split(items, reshuffle=True)
    assert Counter(plan.assignments.values())["train"] == 32
    assert len(plan.moved) == 32 + 4


def test_conflicting_group_moves_to_the_majority_split():
    items = [
        SplitItem(1, Counter({0: 1}), group="g", current_split="val"),
        SplitItem(2, Counter({0: 1}), group="g", current_split="val"),
        SplitItem(3, Counter({0: 1}), group="g", current_split="test"),
        SplitItem(4, Counter({0: 1}), group="h", current_split="train"),
        SplitItem(5, Counter({0: 1}), group="h", current_split="val"),
    ]
    plan = plan_split(items)
    assert [plan.assignments[i] for i in (1, 2, 3)] == ["val"] * 3
    assert [plan.assignments[i] for i in (4, 5)] == ["train"] * 2  # a tie goes to train
    assert plan.moved == (3, 5)


def test_generated_images_only_go_to_train():
    items = [SplitItem(i, Counter({i % 2: 1})) for i in range(20)]
    items += [SplitItem(100 + i, Counter({1: 1}), generated=True) for i in range(30)]
    items.append(SplitItem(200, Counter({1: 1}), generated=True, current_split="val"))
    items.append(SplitItem(201, Counter({1: 1}), generated=True, group="g"))
    items.append(SplitItem(202, Counter({1: 1}), group="g", current_split="test"))
    plan = plan_split(items, ratios=(0.5, 0.25, 0.25), seed=3)
    assert all(plan.assignments[100 + i] == "train" for i in range(30))
    assert plan.assignments[200] == "train" and 200 in plan.moved
    assert plan.assignments[201] == "train" and plan.assignments[202] == "test"
    assert plan.generated_counts == {1: 32}
    # generated images do not distort the stratification of the real ones
    assert plan.max_deviation < 0.15


def test_same_seed_same_plan_other_seed_other_plan():
    items = _multiclass(200)
    a = plan_split(items, seed=11)
    b = plan_split(list(reversed(items)), seed=11)
    c = plan_split(items, seed=12)
    assert a.assignments == b.assignments
    assert a.to_json() == b.to_json()
    assert a.assignments != c.assignments


def test_zero_ratio_split_gets_nothing_and_json_report():
    items = _multiclass(100)
    plan = plan_split(items, ratios=(0.7, 0.3, 0.0))
    assert plan.image_counts["test"] == 0
    doc = plan.to_json()
    assert doc["ratios"] == {"train": 0.7, "val": 0.3, "test": 0.0}
    assert set(doc["class_counts"]) == {"train", "val", "test"}
    assert doc["new"] == 100 and doc["moved"] == 0
    assert doc["max_deviation"] == max(doc["deviation"].values())


@pytest.mark.parametrize(
    "ratios,message",
    [
        ((0.8, 0.2), "expected 3 ratios"),
        ((0.8, 0.3, 0.1), "add up to 1"),
        ((1.2, -0.1, -0.1), "non-negative"),
        ((0, 0.5, 0.5), "train ratio"),
    ],
)
def test_bad_ratios_are_refused(ratios, message):
    with pytest.raises(LabelerError, match=message):
        plan_split([SplitItem(1)], ratios=ratios)


def test_bad_items_are_refused():
    with pytest.raises(LabelerError, match="unknown split 'holdout'"):
        SplitItem(1, current_split="holdout")
    with pytest.raises(LabelerError, match="listed twice"):
        plan_split([SplitItem(1), SplitItem(1)])
