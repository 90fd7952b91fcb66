"""The recipe editor without Qt: the recipe being edited as its JSON form, its validation,
the rules for saving it under a name, and what the editor needs to build its widgets.

The editor (`labeler.gui.recipe_editor`) shows a `RecipeDraft` and hands every change back as
a definition; `RecipeDraft.validate` rebuilds it with `Recipe.from_dict`, the one validation
the CLI also uses, so the editor can never save what ``labeler recipe add`` would refuse.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labeler.core.augment import SCHEMA_VERSION, Number, Range, Recipe, registered_ops
from labeler.core.errors import LabelerError
from labeler.store import recipes as store
from labeler.store.project import Project

UNBOUNDED = 1_000_000
"""A spin box's bound where the parameter declares none."""
SETTINGS_DEFAULTS: dict[str, Any] = {
    "description": "",
    "min_visibility": 0.3,
    "interpolation": "linear",
    "border": "constant",
    "fill": 0,
}
"""The recipe-wide settings the editor shows, with the values a definition without them gets."""


def empty_definition() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "steps": []}


def default_step(op_name: str) -> dict[str, Any]:
    """A new step for `op_name` with its declared defaults, as the JSON form holds it."""
    cls = registered_ops()[op_name]
    params = {k: list(s.default) if isinstance(s.default, tuple) else s.default
              for k, s in cls.params.items()}  # fmt: skip
    return {"op": op_name, "version": cls.version, "p": 1.0, "params": params}


def step_title(step: dict[str, Any]) -> str:
    """The step as one list row: `rotate  p 0.5` or `one of: blur, noise  p 0.3`."""
    p = step.get("p", 1.0)
    ptext = f"p {p:g}" if isinstance(p, int | float) else f"p {p!r}"
    if "op" in step:
        return f"{step['op']}    {ptext}"
    kind = "one_of" if "one_of" in step else "some_of"
    members = ", ".join(_member_name(s) for s in step.get(kind, []))
    n = f" (n {step['n'][0]}–{step['n'][1]})" if kind == "some_of" and "n" in step else ""
    return f"{kind.replace('_', ' ')}{n}: {members}    {ptext}"


def _member_name(step: Any) -> str:
    if isinstance(step, dict) and "op" in step:
        return str(step["op"])
    return "group"


def unique_name(base: str, taken: Iterable[str]) -> str:
    """`base`, or `base-2`, `base-3`… : the first name not in `taken`."""
    names = set(taken)
    if base not in names:
        return base
    k = 2
    while f"{base}-{k}" in names:
        k += 1
    return f"{base}-{k}"


@dataclass(frozen=True)
class SpinBounds:
    """How a spin box shows a Number or Range parameter: its declared bounds (a large number
    where it declares none), enough decimals for the bounds and the default, a step of about
    a fiftieth of the range, and a tooltip."""

    lo: float
    hi: float
    integer: bool
    decimals: int
    step: float
    tip: str


def spin_bounds(spec: Number | Range) -> SpinBounds:
    lo = -UNBOUNDED if spec.lo is None else spec.lo
    hi = UNBOUNDED if spec.hi is None else spec.hi
    tip = spec.help or f"{lo:g} … {hi:g}"
    if spec.integer:
        return SpinBounds(math.ceil(lo), math.floor(hi), True, 0, 1.0, tip)
    return SpinBounds(lo, hi, False, _decimals(spec), _step_size(float(lo), float(hi)), tip)


def _decimals(spec: Number | Range) -> int:
    """Enough decimals to show the bounds and the default (0.0001 needs four)."""
    values = [spec.lo, spec.hi]
    values += list(spec.default) if isinstance(spec.default, tuple | list) else [spec.default]
    finest = min((abs(v) for v in values if v not in (None, 0)), default=1.0)
    return max(2, min(4, 1 - math.floor(math.log10(finest)))) if finest < 1 else 2


def _step_size(lo: float, hi: float) -> float:
    span = hi - lo
    return 10 ** math.floor(math.log10(span / 50)) if span > 0 else 1.0


@dataclass
class RecipeDraft:
    """The recipe the editor shows: the definition it was loaded from (keys the editor does
    not show survive a save), its name in the project (None until saved), whether it changed,
    and the `Recipe` it makes (None, with the reason in `error`, while it is invalid)."""

    base: dict[str, Any] = field(default_factory=empty_definition)
    stored_name: str | None = None
    dirty: bool = False
    recipe: Recipe | None = None
    error: str = ""

    def load(self, stored_name: str | None, definition: dict[str, Any]) -> None:
        self.base = copy.deepcopy(dict(definition))
        self.stored_name = stored_name
        self.dirty = False

    def settings(self) -> dict[str, Any]:
        """The recipe-wide settings as loaded, for the editor's controls."""
        return {k: self.base.get(k, v) for k, v in SETTINGS_DEFAULTS.items()}

    def steps(self) -> list[dict[str, Any]]:
        """Copies of the loaded steps (none when the definition's steps are not a list)."""
        steps = self.base.get("steps", [])
        return [copy.deepcopy(s) for s in steps] if isinstance(steps, list) else []

    def definition(
        self, name: str, settings: dict[str, Any], steps: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The recipe as shown, in its JSON form (may be invalid): the loaded definition with
        the editor's name, settings and steps."""
        d = copy.deepcopy(self.base)
        d.setdefault("schema_version", SCHEMA_VERSION)
        d["name"] = name.strip()
        d.update({k: settings[k] for k in SETTINGS_DEFAULTS})
        d["steps"] = copy.deepcopy(steps)
        return d

    def validate(self, definition: dict[str, Any]) -> Recipe | None:
        """Rebuild the recipe; on failure `recipe` is None and `error` the one-line reason."""
        try:
            recipe = Recipe.from_dict(definition)
            if not recipe.name:
                raise LabelerError("a recipe needs a name")
        except LabelerError as e:
            self.recipe, self.error = None, str(e)
        else:
            self.recipe, self.error = recipe, ""
        return self.recipe

    def save(self, project: Project) -> str:
        """Write the valid recipe under its name, in one transaction. A new or renamed recipe
        never replaces another of that name (LabelerError); a renamed one leaves its old name.
        Returns the name."""
        if self.recipe is None:
            raise LabelerError(self.error or "the recipe is not valid")
        name = self.recipe.name
        renamed = self.stored_name is not None and self.stored_name != name
        if (renamed or self.stored_name is None) and store.get_recipe(project, name):
            raise LabelerError(f"a recipe named {name!r} already exists; pick another name")
        with project.atomic():
            store.save_recipe(project, name, self.recipe.to_dict(), replace=True)
            if renamed:
                store.remove_recipe(project, self.stored_name)  # type: ignore[arg-type]
        self.stored_name = name
        self.dirty = False
        return name
