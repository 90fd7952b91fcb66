"""Recipes: the JSON schema, its validation messages, golden files, groups and plugins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labeler.core.augment import (
    SCHEMA_VERSION,
    OneOf,
    Op,
    Range,
    Recipe,
    SomeOf,
    augment_copy,
    load_recipe,
    plan,
    register_op,
    registered_ops,
    rng_for,
    save_recipe,
    step,
    unregister_op,
)
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape

RECIPES = Path(__file__).resolve().parents[1] / "data" / "recipes"
GOLDEN = sorted(p for p in RECIPES.glob("v*.json") if not p.name.endswith(".draws.json"))


def _doc(*steps: dict, **settings: object) -> dict:
    return {"schema_version": 1, "steps": list(steps), **settings}


BAD = [
    (_doc({"op": "rotat"}), "steps[0]: unknown op 'rotat' (did you mean 'rotate'?)"),
    (
        _doc({"op": "rotate", "params": {"angel": [0, 1]}}),
        "steps[0] (rotate): unknown parameter 'angel'",
    ),
    (
        _doc({"op": "flip"}, {"op": "rotate", "params": {"angle": [-400, 15]}}),
        "steps[0]: unknown op 'flip'",
    ),
    (
        _doc({"op": "rotate", "params": {"angle": [-400, 15]}}),
        "steps[0] (rotate): parameter 'angle' must be within [-360, 360], got [-400.0, 15.0]",
    ),
    (
        _doc({"op": "rotate", "params": {"angle": "15"}}),
        "steps[0] (rotate): parameter 'angle' must be a pair [low, high] of numbers, got '15'",
    ),
    (
        _doc({"op": "rotate", "params": {"angle": [20, 10]}}),
        "steps[0] (rotate): parameter 'angle' low must not exceed high",
    ),
    (
        _doc({"op": "jpeg", "params": {"quality": [50.5, 90]}}),
        "steps[0] (jpeg): parameter 'quality' must be a pair [low, high] of integers",
    ),
    (
        _doc({"op": "crop", "params": {"width": True}}),
        "steps[0] (crop): parameter 'width' must be an integer, got True",
    ),
    (
        _doc({"op": "crop", "params": {"position": "middle"}}),
        "steps[0] (crop): parameter 'position' must be one of ['center', 'random'], got 'middle'",
    ),
    (_doc({"op": "rotate", "p": 1.5}), "steps[0] (rotate): p must be a number in [0, 1], got 1.5"),
    (_doc({"op": "rotate", "p": -0.1}), "steps[0] (rotate): p must be a number in [0, 1]"),
    (_doc({"op": "rotate", "p": "0.5"}), "steps[0] (rotate): p must be a number in [0, 1]"),
    (
        _doc({"one_of": [{"op": "gamma", "params": {"gamma": [0, 1]}}]}),
        "steps[0].one_of[0] (gamma): parameter 'gamma' must be within [0.01, 10]",
    ),
    (
        _doc({"some_of": [{"op": "gamma"}], "n": [1, 3]}),
        "steps[0]: some_of: n must be a pair [low, high] of integers within [0, 1]",
    ),
    (_doc({"one_of": []}), "steps[0]: one_of needs at least one step"),
    (_doc({"op": "rotate", "one_of": []}), "steps[0]: a step needs exactly one of"),
    (_doc({"op": "rotate", "prob": 0.5}), "steps[0] (rotate): unknown key 'prob'"),
    (_doc({"op": "rotate", "version": 9}), "steps[0] (rotate): op version 9 is newer"),
    (_doc(min_visibility=2), "recipe: min_visibility must be a number in [0, 1], got 2"),
    (_doc(interpolation="lanczos"), "recipe: interpolation must be one of"),
    (_doc(colour="red"), "recipe: unknown key 'colour'"),
    ({"steps": []}, "not a Labeler recipe: 'schema_version' must be a positive integer"),
    ({"schema_version": SCHEMA_VERSION + 1, "steps": []}, "is newer than this Labeler reads"),
    ([], "a recipe must be a JSON object"),
]


@pytest.mark.parametrize(("data", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_bad_recipes_give_one_clear_line(data: object, message: str) -> None:
    with pytest.raises(LabelerError) as info:
        Recipe.from_dict(data)  # type: ignore[arg-type]
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_bad_recipe_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LabelerError, match=r"^broken.json: recipe is not valid JSON"):
        load_recipe(path)
    with pytest.raises(LabelerError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.json")


def test_golden_files_exist_and_cover_every_builtin_op() -> None:
    assert {p.name for p in GOLDEN} >= {"v1_minimal.json", "v1_detector.json", "v1_all_ops.json"}
    every = load_recipe(RECIPES / "v1_all_ops.json")
    builtin = {n for n, cls in registered_ops().items() if cls.__module__.startswith("labeler.")}
    assert {op.name for op in every.ops()} == builtin


@pytest.mark.parametrize("path", GOLDEN, ids=[p.name for p in GOLDEN])
def test_golden_recipe_files_keep_loading(path: Path, tmp_path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.to_dict()["schema_version"] == SCHEMA_VERSION
    # The canonical form is a fixed point: saving and loading again changes nothing.
    save_recipe(recipe, tmp_path / "again.json")
    again = load_recipe(tmp_path / "again.json")
    assert again == recipe and again.to_dict() == recipe.to_dict()
    img = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    out, _ = augment_copy(img, [Shape.box(0, 5, 5, 30, 30)], recipe, image_key="g", copy_index=0)
    assert out.dtype == np.uint8


def test_golden_draws_do_not_change() -> None:
    """Re-exporting an old version with a newer Labeler must draw the same values."""
    frozen = json.loads((RECIPES / "v1_detector.draws.json").read_text(encoding="utf-8"))
    recipe = load_recipe(RECIPES / "v1_detector.json")
    w, h = frozen["image_size"]
    for copy, expected in enumerate(frozen["copies"]):
        planned = plan(recipe, rng_for(frozen["seed"], frozen["image_key"], copy), w, h)
        got = json.loads(json.dumps([[p.op.name, p.drawn] for p in planned], default=list))
        assert [name for name, _ in got] == [name for name, _ in expected]
        for (_, a), (_, b) in zip(got, expected, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                assert np.allclose(np.asarray(a[key], float), np.asarray(b[key], float), rtol=1e-12)


def test_minimal_file_gets_defaults_spelled_out() -> None:
    d = load_recipe(RECIPES / "v1_minimal.json").to_dict()
    assert d["min_visibility"] == 0.3 and d["border"] == "constant"
    assert d["steps"][1] == {
        "op": "rotate",
        "version": 1,
        "p": 1.0,
        "params": {"angle": [-15.0, 15.0]},
    }


def test_one_of_picks_exactly_one_and_some_of_respects_n() -> None:
    one = Recipe(steps=(OneOf((step("gamma"), step("sharpen"), step("clahe"))),))
    some = Recipe(steps=(SomeOf((step("gamma"), step("sharpen"), step("clahe")), n=(2, 3)),))
    seen = set()
    for copy in range(30):
        picked = [p.op.name for p in plan(one, rng_for(0, "", copy), 10, 10)]
        assert len(picked) == 1
        seen.add(picked[0])
        names = [p.op.name for p in plan(some, rng_for(0, "", copy), 10, 10)]
        assert 2 <= len(names) <= 3 and names == sorted(
            names, key=["gamma", "sharpen", "clahe"].index
        )
    assert seen == {"gamma", "sharpen", "clahe"}


def test_probability_is_respected() -> None:
    recipe = Recipe(steps=(step("horizontal_flip", p=0.3),))
    hits = sum(bool(plan(recipe, rng_for(0, "", c), 10, 10)) for c in range(400))
    assert 80 < hits < 160


def test_a_plugin_op_registers_serialises_and_runs() -> None:
    @register_op
    class Posterize(Op):
        name = "test_posterize"
        params = {"bits": Range((2, 4), lo=1, hi=8, integer=True)}

        def sample(self, rng: np.random.Generator, width: int, height: int) -> dict:
            return {"bits": self.integer(rng, "bits")}

        def apply(self, image: np.ndarray, drawn: dict) -> np.ndarray:
            return image & np.uint8((0xFF << (8 - drawn["bits"])) & 0xFF)

    try:
        with pytest.raises(
            LabelerError, match="an op named 'test_posterize' is already registered"
        ):
            register_op(type("Other", (Op,), {"name": "test_posterize"}))
        recipe = Recipe.from_dict(_doc({"op": "test_posterize", "params": {"bits": [3, 3]}}))
        img = np.full((4, 4), 0xFF, np.uint8)
        out, _ = augment_copy(img, [], recipe, image_key="", copy_index=0)
        assert (out == 0b11100000).all()
        assert Recipe.from_json(recipe.to_json()) == recipe
    finally:
        unregister_op("test_posterize")
    with pytest.raises(LabelerError, match="unknown op 'test_posterize'"):
        Recipe.from_dict(_doc({"op": "test_posterize"}))


def test_recipes_are_values() -> None:
    a = Recipe(steps=(step("rotate", angle=(-5, 5)),), name="a")
    b = Recipe.from_dict(a.to_dict())
    assert a == b and hash(a.steps[0].op) == hash(b.steps[0].op)
    assert a != Recipe(steps=(step("rotate", angle=(-5, 6)),), name="a")
