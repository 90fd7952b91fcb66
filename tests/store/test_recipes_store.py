"""Recipes and dataset versions stored in the project."""

from __future__ import annotations

import pytest

from labeler.core.errors import LabelerError
from labeler.store.recipes import (
    get_recipe,
    list_recipes,
    remove_recipe,
    require_recipe,
    save_recipe,
)
from labeler.store.versions import add_version, list_versions


def test_recipes_round_trip_and_refuse_duplicates(project):
    definition = {"version": 1, "ops": [{"op": "hflip", "p": 0.5}]}
    save_recipe(project, "flips", definition)
    assert get_recipe(project, "FLIPS").definition == definition  # names are case-insensitive
    with pytest.raises(LabelerError, match="already exists"):
        save_recipe(project, "flips", definition)
    save_recipe(project, "flips", {"version": 1, "ops": []}, replace=True)
    assert require_recipe(project, "flips").definition["ops"] == []
    assert [r.name for r in list_recipes(project)] == ["flips"]
    remove_recipe(project, "flips")
    with pytest.raises(LabelerError, match="no recipe named 'flips'"):
        remove_recipe(project, "flips")


def test_versions_are_recorded_in_order(project):
    a = add_version(
        project, format="coco", out_dir="/x", seed=1, recipe=None, multiplier=0,
        fingerprint="abc", manifest={"images": 3},
    )  # fmt: skip
    b = add_version(
        project, format="yolo", out_dir="/y", seed=2, recipe="flips", multiplier=2,
        fingerprint="def", manifest={"images": 9},
    )  # fmt: skip
    versions = list_versions(project)
    assert [v.id for v in versions] == [a, b]
    assert versions[1].recipe == "flips" and versions[1].manifest == {"images": 9}
