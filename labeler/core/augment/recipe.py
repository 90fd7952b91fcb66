"""Recipes: an ordered list of steps (ops and OneOf/SomeOf groups) with recipe-wide settings,
stored as versioned JSON.

A recipe file looks like this (every key but ``schema_version`` and ``steps`` is optional)::

    {
      "schema_version": 1,
      "name": "detector-light",
      "seed": 0,
      "min_visibility": 0.3,
      "interpolation": "linear", "border": "constant", "fill": 0,
      "steps": [
        {"op": "horizontal_flip", "p": 0.5},
        {"op": "rotate", "p": 1.0, "params": {"angle": [-15, 15]}},
        {"one_of": [{"op": "gaussian_blur"}, {"op": "motion_blur"}], "p": 0.3},
        {"some_of": [{"op": "gamma"}, {"op": "clahe"}, {"op": "sharpen"}], "n": [1, 2]}
      ]
    }

Every problem is reported as one LabelerError line naming where it is, e.g.
``steps[1] (rotate): parameter 'angle' must be within [-360, 360], got [-400.0, 15.0]``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeler.core.augment.geometry import BORDERS, INTERPOLATIONS, WarpSettings
from labeler.core.augment.registry import Op, get_op
from labeler.core.errors import LabelerError
from labeler.core.files import atomic_writer

SCHEMA_VERSION = 1

# schema_version N -> N + 1, applied in turn to older files before they are read.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_RECIPE_KEYS = {
    "schema_version", "name", "description", "seed", "min_visibility",
    "interpolation", "border", "fill", "steps",
}  # fmt: skip


def _check_p(p: Any, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
        raise LabelerError(f"{where}: p must be a number in [0, 1], got {p!r}")
    return float(p)


@dataclass(frozen=True)
class OpStep:
    """Apply ``op`` with probability ``p``."""

    op: Op
    p: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.op, Op):
            raise LabelerError(f"a step needs an Op, got {type(self.op).__name__}")
        object.__setattr__(self, "p", _check_p(self.p, self.op.name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op.name,
            "version": self.op.version,
            "p": self.p,
            "params": self.op.to_dict(),
        }


@dataclass(frozen=True)
class OneOf:
    """With probability ``p``, pick one of ``steps`` uniformly; it then runs with its own p."""

    steps: tuple[Step, ...]
    p: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise LabelerError("one_of needs at least one step")
        object.__setattr__(self, "p", _check_p(self.p, "one_of"))

    def to_dict(self) -> dict[str, Any]:
        return {"one_of": [s.to_dict() for s in self.steps], "p": self.p}


@dataclass(frozen=True)
class SomeOf:
    """With probability ``p``, pick k distinct steps (k uniform in ``n``) and run them in recipe
    order, each with its own p."""

    steps: tuple[Step, ...]
    n: tuple[int, int] = (1, 1)
    p: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise LabelerError("some_of needs at least one step")
        n = self.n
        if (
            not isinstance(n, list | tuple)
            or len(n) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in n)
            or not 0 <= n[0] <= n[1] <= len(self.steps)
        ):
            raise LabelerError(
                f"some_of: n must be a pair [low, high] of integers within [0, {len(self.steps)}],"
                f" got {list(n) if isinstance(n, tuple) else n!r}"
            )
        object.__setattr__(self, "n", (int(n[0]), int(n[1])))
        object.__setattr__(self, "p", _check_p(self.p, "some_of"))

    def to_dict(self) -> dict[str, Any]:
        return {"some_of": [s.to_dict() for s in self.steps], "n": list(self.n), "p": self.p}


Step = OpStep | OneOf | SomeOf


@dataclass(frozen=True)
class Recipe:
    """An augmentation recipe: steps plus recipe-wide settings.

    ``seed`` is the default seed for exports and previews; ``min_visibility`` drops a box or
    polygon once less than that fraction of it is left in the image.
    """

    steps: tuple[Step, ...]
    name: str = ""
    description: str = ""
    seed: int = 0
    min_visibility: float = 0.3
    interpolation: str = "linear"
    border: str = "constant"
    fill: int = 0
    warp: WarpSettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        for i, s in enumerate(self.steps):
            if not isinstance(s, OpStep | OneOf | SomeOf):
                raise LabelerError(f"steps[{i}]: expected an op or a group, got {s!r}")
        if not isinstance(self.name, str) or not isinstance(self.description, str):
            raise LabelerError("recipe: name and description must be text")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise LabelerError(f"recipe: seed must be a non-negative integer, got {self.seed!r}")
        mv = self.min_visibility
        if isinstance(mv, bool) or not isinstance(mv, int | float) or not 0 <= mv <= 1:
            raise LabelerError(f"recipe: min_visibility must be a number in [0, 1], got {mv!r}")
        object.__setattr__(self, "min_visibility", float(mv))
        if self.interpolation not in INTERPOLATIONS:
            raise LabelerError(
                f"recipe: interpolation must be one of {list(INTERPOLATIONS)}, "
                f"got {self.interpolation!r}"
            )
        if self.border not in BORDERS:
            raise LabelerError(
                f"recipe: border must be one of {list(BORDERS)}, got {self.border!r}"
            )
        if (
            isinstance(self.fill, bool)
            or not isinstance(self.fill, int)
            or not 0 <= self.fill <= 255
        ):
            raise LabelerError(f"recipe: fill must be an integer in [0, 255], got {self.fill!r}")
        object.__setattr__(self, "warp", WarpSettings(self.interpolation, self.border, self.fill))

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready form: every setting and every op parameter spelled out."""
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "seed": self.seed,
            "min_visibility": self.min_visibility,
            "interpolation": self.interpolation,
            "border": self.border,
            "fill": self.fill,
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Validate and build a recipe from its JSON form, upgrading older schema versions.

        Raises LabelerError with a one-line message naming the bad step and parameter.
        """
        if not isinstance(data, Mapping):
            raise LabelerError(f"a recipe must be a JSON object, got {type(data).__name__}")
        data = _migrate(dict(data))
        unknown = sorted(set(data) - _RECIPE_KEYS)
        if unknown:
            raise LabelerError(
                f"recipe: unknown key {unknown[0]!r}; expected: {', '.join(sorted(_RECIPE_KEYS))}"
            )
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise LabelerError("recipe: 'steps' must be a list of steps")
        settings = {k: v for k, v in data.items() if k not in ("schema_version", "steps")}
        return cls(steps=_parse_steps(steps, "steps"), **settings)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        try:
            data = json.loads(text)
            return cls.from_dict(data)
        except json.JSONDecodeError as exc:
            raise LabelerError(f"recipe is not valid JSON: {exc}") from None
        except RecursionError:
            raise LabelerError("the recipe is nested too deeply") from None

    # -- inspection ---------------------------------------------------------------------------
    def ops(self) -> Iterator[Op]:
        """Every op in the recipe, groups flattened, in order."""
        yield from _iter_ops(self.steps)

    def max_output_pixels(self, pixels: int) -> int:
        """The most pixels an augmented copy of a ``pixels``-pixel image can have (an upper
        bound over every choice the recipe can make), for estimating an export's size."""
        return _max_pixels(self.steps, int(pixels))


def _max_pixels(steps: Sequence[Step], px: int) -> int:
    for s in steps:
        if isinstance(s, OpStep):
            out = s.op.output_pixels(px)
            px = out if s.p >= 1 else max(px, out)
        elif isinstance(s, OneOf):
            best = max(_max_pixels((c,), px) for c in s.steps)
            px = best if s.p >= 1 else max(px, best)
        else:  # SomeOf: any subset may run, in recipe order
            for c in s.steps:
                px = max(px, _max_pixels((c,), px))
    return px


def _iter_ops(steps: Sequence[Step]) -> Iterator[Op]:
    for s in steps:
        if isinstance(s, OpStep):
            yield s.op
        else:
            yield from _iter_ops(s.steps)


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise LabelerError(
            f"not a Labeler recipe: 'schema_version' must be a positive integer, got {version!r}"
        )
    if version > SCHEMA_VERSION:
        raise LabelerError(
            f"recipe schema version {version} is newer than this Labeler reads "
            f"({SCHEMA_VERSION}); upgrade Labeler"
        )
    while version < SCHEMA_VERSION:
        data = _MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data


def _parse_steps(items: Any, where: str) -> tuple[Step, ...]:
    if not isinstance(items, list):
        raise LabelerError(f"{where}: must be a list of steps")
    return tuple(_parse_step(item, f"{where}[{i}]") for i, item in enumerate(items))


def _parse_step(item: Any, where: str) -> Step:
    if not isinstance(item, Mapping):
        raise LabelerError(f"{where}: a step must be a JSON object, got {item!r}")
    kinds = [k for k in ("op", "one_of", "some_of") if k in item]
    if len(kinds) != 1:
        raise LabelerError(f"{where}: a step needs exactly one of 'op', 'one_of', 'some_of'")
    kind = kinds[0]
    allowed = {"op": {"op", "p", "params", "version"}, "one_of": {"one_of", "p"}}.get(
        kind, {"some_of", "n", "p"}
    )
    label = f"{where} ({item['op']})" if kind == "op" and isinstance(item["op"], str) else where
    extra = sorted(set(item) - allowed)
    if extra:
        raise LabelerError(
            f"{label}: unknown key {extra[0]!r}; expected: {', '.join(sorted(allowed))}"
        )
    p = _check_p(item.get("p", 1.0), label)
    if kind in ("one_of", "some_of"):
        steps = _parse_steps(item[kind], f"{where}.{kind}")
        if not steps:
            raise LabelerError(f"{where}: {kind} needs at least one step")
        if kind == "one_of":
            return OneOf(steps, p=p)
        try:
            return SomeOf(steps, n=item.get("n", (1, 1)), p=p)
        except LabelerError as exc:
            raise LabelerError(f"{where}: {exc}") from None
    return OpStep(_parse_op(item, label, where), p=p)


def _parse_op(item: Mapping[str, Any], label: str, where: str) -> Op:
    name = item["op"]
    if not isinstance(name, str):
        raise LabelerError(f"{where}: 'op' must be an op name, got {name!r}")
    cls = get_op(name, where=where)
    params = item.get("params", {})
    if not isinstance(params, Mapping):
        raise LabelerError(f"{label}: 'params' must be a JSON object, got {params!r}")
    version = item.get("version", cls.version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise LabelerError(f"{label}: 'version' must be a positive integer, got {version!r}")
    if version > cls.version:
        raise LabelerError(
            f"{label}: op version {version} is newer than this Labeler's ({cls.version}); "
            "upgrade Labeler or the plugin that provides it"
        )
    params = dict(params)
    if version < cls.version:
        try:
            params = cls.upgrade(params, version)
        except ValueError as exc:
            raise LabelerError(f"{label}: {exc}") from None
    return cls(params, where=label)


# -- convenience -------------------------------------------------------------------------------
def step(op: str, p: float = 1.0, **params: Any) -> OpStep:
    """Build one validated step in code: ``step("rotate", p=0.5, angle=(-15, 15))``."""
    cls = get_op(op)
    return OpStep(cls(params, where=op), p=p)


MAX_RECIPE_BYTES = 1 << 20
"""A recipe file is a few KB of JSON; anything over 1 MiB is not one."""


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read and validate a recipe file; a problem is one LabelerError line naming the file."""
    path = Path(path)
    try:
        # Non-blocking, so a FIFO cannot hang us; a regular file of bounded size only.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise LabelerError(f"cannot read recipe {path}: not a regular file")
            if st.st_size > MAX_RECIPE_BYTES:
                raise LabelerError(
                    f"cannot read recipe {path}: {st.st_size} bytes is more than a recipe"
                    f" needs (at most {MAX_RECIPE_BYTES})"
                )
            data = f.read(MAX_RECIPE_BYTES + 1)
    except OSError as exc:
        raise LabelerError(f"cannot read recipe {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelerError(f"{path.name}: not a recipe (not UTF-8 JSON text)") from None
    try:
        return Recipe.from_json(text)
    except LabelerError as exc:
        raise LabelerError(f"{path.name}: {exc}") from None


def save_recipe(recipe: Recipe, path: str | os.PathLike[str]) -> None:
    """Write the canonical JSON atomically (temporary file, then replace); an OSError (no
    such folder, no permission) propagates as the OS gave it and leaves no file behind."""
    with atomic_writer(path) as f:
        f.write(recipe.to_json().encode("utf-8"))
