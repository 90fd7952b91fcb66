"""Splits: leakage-safe, stratified train/val/test assignment of a project's images.

The pure planning lives in `labeler.core.splits` and `labeler.core.neardup`; this use case
reads the project, hands plain values to them and writes the plan back in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from labeler.core.neardup import DEFAULT_MAX_DISTANCE, clusters_from_pairs, near_duplicate_pairs
from labeler.core.splits import SplitItem, SplitPlan, plan_split
from labeler.store.project import Project

DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def leakage_groups(
    project: Project, *, by_folder: bool = False, max_distance: int = DEFAULT_MAX_DISTANCE
) -> dict[int, str]:
    """Group key per real image that must share a split with others: near-duplicates
    (pHash distance <= max_distance) and, with `by_folder`, images from one source folder."""
    real = [i for i in project.images() if i.provenance != "generated"]
    hashed = [i for i in real if i.phash is not None]
    pairs: list[tuple[int, int]] = [
        (a, b)
        for a, b, _ in near_duplicate_pairs(
            [i.phash for i in hashed], [i.id for i in hashed], max_distance
        ).pairs
    ]
    if by_folder:
        first_in_folder: dict[str, int] = {}
        for i in real:
            if i.source_group is not None:
                head = first_in_folder.setdefault(i.source_group, i.id)
                if head != i.id:
                    pairs.append((head, i.id))
    groups: dict[int, str] = {}
    for members in clusters_from_pairs(pairs):
        key = f"g{min(members)}"
        for m in members:
            groups[m] = key
    return groups


def split_project(
    project: Project,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    seed: int = 0,
    *,
    reshuffle: bool = False,
    group_by_folder: bool = False,
    write: bool = True,
) -> SplitPlan:
    """Assign train/val/test to images that have none (all of them with `reshuffle`),
    stratified by class, keeping near-duplicates (and optionally folders) together.
    With `write=False` the plan is only computed."""
    groups = leakage_groups(project, by_folder=group_by_folder)
    shapes = project.all_shapes()
    items = [
        SplitItem(
            image_id=i.id,
            class_ids=Counter(s.class_id for s in shapes.get(i.id, ())),
            group=groups.get(i.id),
            generated=i.provenance == "generated",
            current_split=i.split,
        )
        for i in project.images()
    ]
    plan = plan_split(items, ratios, seed, reshuffle)
    if write:
        write_plan(project, plan)
    return plan


def write_plan(project: Project, plan: SplitPlan) -> None:
    current = {i.id: i.split for i in project.images()}
    project.set_splits({i: s for i, s in plan.assignments.items() if s != current.get(i)})


def split_json(project: Project, plan: SplitPlan) -> dict[str, Any]:
    """`plan.to_json()` with class names instead of ids, for people and scripts alike."""
    names = {c.id: c.name for c in project.classes()}
    data = plan.to_json()

    def by_name(d: dict[str, Any]) -> dict[str, Any]:
        return {names.get(int(k), k): v for k, v in d.items()}

    data["class_counts"] = {s: by_name(c) for s, c in data["class_counts"].items()}
    data["generated_counts"] = by_name(data["generated_counts"])
    data["deviation"] = by_name(data["deviation"])
    return data
