"""The recipe editor's rules without Qt: new steps, their titles, free names, the spin boxes'
bounds, and a draft that validates like the CLI and saves under a name without overwriting."""

from __future__ import annotations

import pytest

from labeler.app.recipe_draft import (
    UNBOUNDED,
    RecipeDraft,
    default_step,
    empty_definition,
    spin_bounds,
    step_title,
    unique_name,
)
from labeler.core.augment import Number, Range, Recipe, registered_ops, step
from labeler.core.errors import LabelerError
from labeler.store import recipes as store


def test_a_new_step_holds_the_declared_defaults_in_json_form():
    rotate = default_step("rotate")
    assert rotate["op"] == "rotate" and rotate["p"] == 1.0
    assert rotate["version"] == registered_ops()["rotate"].version
    assert rotate["params"]["angle"] == [-15.0, 15.0]  # a tuple default becomes a JSON list
    assert Recipe.from_dict({"schema_version": 1, "name": "r", "steps": [rotate]}).steps


@pytest.mark.parametrize("name", sorted(registered_ops()))
def test_every_registered_op_makes_a_valid_default_step(name):
    Recipe.from_dict({"schema_version": 1, "name": "r", "steps": [default_step(name)]})


def test_step_titles():
    assert step_title({"op": "rotate", "p": 0.5}) == "rotate    p 0.5"
    assert step_title({"op": "jpeg"}) == "jpeg    p 1"
    assert step_title({"op": "jpeg", "p": "x"}) == "jpeg    p 'x'"
    group = {"one_of": [{"op": "gaussian_blur"}, {"one_of": []}], "p": 0.3}
    assert step_title(group) == "one of: gaussian_blur, group    p 0.3"
    some = {"some_of": [{"op": "a"}, {"op": "b"}], "n": [1, 2]}
    assert step_title(some) == "some of (n 1–2): a, b    p 1"


def test_unique_names():
    assert unique_name("light", []) == "light"
    assert unique_name("light", ["light", "light-2"]) == "light-3"


def test_spin_bounds_follow_the_declaration():
    whole = spin_bounds(Number(4, lo=0.5, hi=8.7, integer=True))
    assert (whole.lo, whole.hi, whole.integer) == (1, 8, True)
    assert whole.tip == "0.5 … 8.7"
    open_ended = spin_bounds(Number(0.0001, lo=0.0, help="how much"))
    assert (open_ended.lo, open_ended.hi) == (0.0, UNBOUNDED)
    assert open_ended.decimals == 4 and open_ended.tip == "how much"
    pair = spin_bounds(Range((-15.0, 15.0), lo=-180.0, hi=180.0))
    assert (pair.decimals, pair.step) == (2, 1.0)  # a fiftieth of 360, rounded down


def test_the_draft_keeps_what_the_editor_does_not_show():
    draft = RecipeDraft()
    loaded = {"schema_version": 1, "steps": [{"op": "jpeg"}], "extra": {"k": 1}, "fill": 7}
    draft.load("stored", loaded)
    assert draft.settings() == {
        "description": "",
        "min_visibility": 0.3,
        "interpolation": "linear",
        "border": "constant",
        "fill": 7,
    }
    steps = draft.steps()
    steps[0]["p"] = 0.1
    assert draft.steps() == [{"op": "jpeg"}]  # copies: editing does not touch what was loaded
    d = draft.definition("  light ", {**draft.settings(), "fill": 9}, steps)
    assert d["name"] == "light" and d["extra"] == {"k": 1} and d["fill"] == 9
    assert d["steps"] == [{"op": "jpeg", "p": 0.1}]
    draft.load(None, {"steps": "not a list"})
    assert draft.steps() == [] and draft.stored_name is None


def test_validation_is_the_clis_with_its_words():
    draft = RecipeDraft()
    bad = draft.definition("r", RecipeDraft().settings(), [default_step("rotate")])
    bad["steps"][0]["params"]["angle"] = [30.0, 15.0]
    assert draft.validate(bad) is None
    assert draft.error.startswith("steps[0] (rotate): parameter 'angle' low must not exceed high")
    unnamed = draft.definition(" ", draft.settings(), [])
    assert draft.validate(unnamed) is None and draft.error == "a recipe needs a name"
    good = draft.definition("r", draft.settings(), [default_step("jpeg")])
    assert draft.validate(good) is not None and draft.error == ""
    assert draft.recipe.name == "r"


def _draft(name: str, stored: str | None, *ops: str) -> RecipeDraft:
    draft = RecipeDraft()
    draft.load(stored, empty_definition())
    draft.validate(draft.definition(name, draft.settings(), [default_step(o) for o in ops]))
    draft.dirty = True
    return draft


def test_save_never_replaces_another_recipe_and_a_rename_moves_it(project):
    store.save_recipe(project, "a", Recipe((step("jpeg"),), name="a").to_dict())
    with pytest.raises(LabelerError, match="a recipe named 'a' already exists"):
        _draft("a", None, "rotate").save(project)
    assert Recipe.from_dict(store.get_recipe(project, "a").definition).steps[0].op.name == "jpeg"

    same = _draft("a", "a", "rotate")
    assert same.save(project) == "a" and not same.dirty and same.stored_name == "a"
    assert Recipe.from_dict(store.get_recipe(project, "a").definition).steps[0].op.name == (
        "rotate"
    )
    renamed = _draft("b", "a", "rotate")
    assert renamed.save(project) == "b" and renamed.stored_name == "b"
    assert [r.name for r in store.list_recipes(project)] == ["b"]

    store.save_recipe(project, "c", Recipe((), name="c").to_dict())
    with pytest.raises(LabelerError, match="already exists"):
        _draft("c", "b", "rotate").save(project)  # a rename onto another recipe
    assert [r.name for r in store.list_recipes(project)] == ["b", "c"]
    invalid = _draft(" ", None)
    with pytest.raises(LabelerError, match="a recipe needs a name"):
        invalid.save(project)
