"""The op registry: every augmentation op is a small class registered by name.

An op declares its parameters as data (``Number``, ``Range``, ``Choice``, ``Flag``), so a
recipe file is validated against the declaration and a bad value is reported in one line that
names the op and the parameter. Random values are drawn in ``sample`` and applied by the
deterministic ``apply`` (pixel ops) or ``matrix`` (geometric ops), the split that lets the engine
plan a whole recipe first and fuse consecutive geometric ops into one warp.

Plugins add ops with the ``register_op`` decorator:

>>> @register_op
... class Invert(Op):
...     name = "invert_example"
...     def apply(self, image, drawn):
...         return 255 - image
>>> "invert_example" in registered_ops()
True
>>> unregister_op("invert_example")
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.registry import Registry, did_you_mean

Drawn = dict[str, Any]

MAX_OUTPUT_PIXELS = 64_000_000
"""The most pixels an op may make an augmented image (64 MP, e.g. 8000 x 8000), unless the
source image itself was larger (ops that keep the size are always allowed). One copy is then at
most 192 MB of 8-bit BGR in a worker, and every core runs a worker: the limit keeps an export on
a 16-core machine within a few GB. It is below the 200 MP decode limit
(``labeler.core.images.MAX_PIXELS``), so every image we write can be read back by our own import,
health check and export check. Training resolutions are far below it."""


# -- parameter declarations -------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One declared parameter of an op: its default and how to check a value."""

    default: Any
    help: str = ""

    def check(self, value: Any) -> Any:
        """Return the value in canonical form, or raise ValueError with a reason."""
        raise NotImplementedError

    def __post_init__(self) -> None:
        # A default that fails its own check is a programming error in the op, caught at import.
        self.check(self.default)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _bounds(lo: float | None, hi: float | None) -> str:
    return f"[{'-inf' if lo is None else lo:g}, {'inf' if hi is None else hi:g}]"


@dataclass(frozen=True)
class Number(Param):
    """A single number in [lo, hi]; ``integer`` demands a whole number."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False

    def check(self, value: Any) -> float | int:
        kind = "an integer" if self.integer else "a number"
        if not _is_number(value) or not math.isfinite(float(value)):
            raise ValueError(f"must be {kind}, got {value!r}")
        if self.integer and float(value) != int(value):
            raise ValueError(f"must be an integer, got {value!r}")
        v = int(value) if self.integer else float(value)
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise ValueError(f"must be within {_bounds(self.lo, self.hi)}, got {value!r}")
        return v


@dataclass(frozen=True)
class Range(Param):
    """A pair [low, high] with lo <= low <= high <= hi; values are drawn uniformly from it."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False

    def check(self, value: Any) -> tuple[Any, Any]:
        kind = "integers" if self.integer else "numbers"
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(_is_number(v) and math.isfinite(float(v)) for v in value)
        ):
            raise ValueError(f"must be a pair [low, high] of {kind}, got {value!r}")
        if self.integer and any(float(v) != int(v) for v in value):
            raise ValueError(f"must be a pair [low, high] of integers, got {list(value)!r}")
        conv = int if self.integer else float
        a, b = conv(value[0]), conv(value[1])
        if a > b:
            raise ValueError(f"low must not exceed high, got {[a, b]!r}")
        if (self.lo is not None and a < self.lo) or (self.hi is not None and b > self.hi):
            raise ValueError(f"must be within {_bounds(self.lo, self.hi)}, got {[a, b]!r}")
        return (a, b)


@dataclass(frozen=True)
class Choice(Param):
    """One of a fixed set of strings."""

    options: tuple[str, ...] = ()

    def check(self, value: Any) -> str:
        if value not in self.options:
            raise ValueError(f"must be one of {list(self.options)}, got {value!r}")
        return str(value)


@dataclass(frozen=True)
class Flag(Param):
    """true or false."""

    def check(self, value: Any) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"must be true or false, got {value!r}")
        return bool(value)


# -- ops ----------------------------------------------------------------------------------------
class Op:
    """Base class of every op; a subclass sets ``name`` and ``params`` and overrides either
    ``apply`` (pixel op) or ``matrix`` (geometric op, ``geometric = True``).

    An instance holds validated parameter values in ``values`` and is immutable in spirit:
    the engine never changes it, so one recipe can be shared by threads and processes.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    geometric: ClassVar[bool] = False
    params: ClassVar[Mapping[str, Param]] = MappingProxyType({})

    def __init__(self, values: Mapping[str, Any] | None = None, *, where: str = "") -> None:
        where = where or self.name
        given = dict(values or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise LabelerError(
                f"{where}: unknown parameter {unknown[0]!r}{did_you_mean(unknown[0], self.params)}"
                f"; expected: {known}"
            )
        checked: dict[str, Any] = {}
        for key, spec in self.params.items():
            try:
                checked[key] = spec.check(given.get(key, spec.default))
            except ValueError as exc:
                raise LabelerError(f"{where}: parameter {key!r} {exc}") from None
        self.values: Mapping[str, Any] = MappingProxyType(checked)
        try:
            self.check()
        except ValueError as exc:
            raise LabelerError(f"{where}: {exc}") from None

    # -- hooks for subclasses --------------------------------------------------------------
    def check(self) -> None:
        """Cross-parameter checks; raise ValueError with a reason naming the parameter."""

    def sample(self, rng: np.random.Generator, width: int, height: int) -> Drawn:
        """Draw this op's random values for an image of the given size."""
        return {}

    def apply(self, image: np.ndarray, drawn: Drawn) -> np.ndarray:
        """Pixel ops: return a new image (never modify ``image`` in place)."""
        raise NotImplementedError(f"{self.name} is geometric; the engine uses matrix()")

    def matrix(self, drawn: Drawn, width: int, height: int) -> tuple[np.ndarray, int, int]:
        """Geometric ops: a 3x3 matrix mapping input to output pixel coordinates (pixel
        corners at integers, so the full image is [0, width] x [0, height]) and the output size.
        """
        raise NotImplementedError(f"{self.name} is a pixel op; the engine uses apply()")

    def output_pixels(self, pixels: int) -> int:
        """The most pixels this op can output for an input of ``pixels`` pixels: the input's
        for ops that keep the size (the default); a fixed-size op returns its own. Used to
        estimate an export's size before it starts; the engine checks the real size anyway."""
        return pixels

    @classmethod
    def upgrade(cls, values: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Turn parameters saved by an older version of this op into current ones."""
        raise ValueError(f"cannot read version {from_version} (this Labeler has {cls.version})")

    # -- helpers -----------------------------------------------------------------------------
    def uniform(self, rng: np.random.Generator, key: str) -> float:
        lo, hi = self.values[key]
        return float(rng.uniform(lo, hi)) if hi > lo else float(lo)

    def integer(self, rng: np.random.Generator, key: str) -> int:
        lo, hi = self.values[key]
        return int(rng.integers(lo, hi + 1))

    def to_dict(self) -> dict[str, Any]:
        """All parameters, defaults included, so a saved recipe keeps its meaning even when a
        later Labeler changes a default."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.values.items()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Op)
            and other.name == self.name
            and dict(other.values) == dict(self.values)
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.values.items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"


def _check_op(name: str, cls: type[Op]) -> None:
    """The rule for an op: a subclass of `Op` whose snake_case ``name`` it is registered
    under; its parameter declarations are frozen here, so no one changes them later."""
    if not (isinstance(cls, type) and issubclass(cls, Op)):
        raise TypeError("register_op expects a subclass of labeler.core.augment.Op")
    if not cls.name or not cls.name.replace("_", "").isalnum() or cls.name != cls.name.lower():
        raise ValueError(f"op name {cls.name!r} must be non-empty snake_case")
    if name != cls.name:
        raise ValueError(f"op {cls.name!r} must be registered under its own name, not {name!r}")
    if not isinstance(cls.params, MappingProxyType):
        cls.params = MappingProxyType(dict(cls.params))


OPS: Registry[type[Op]] = Registry("op", check=_check_op)
"""Every augmentation op by name: the built-in ones register on import, plugins' likewise."""


def register_op(cls: type[Op]) -> type[Op]:
    """Class decorator adding an op to `OPS`; the name must be new and snake_case."""
    return OPS.register(getattr(cls, "name", ""), cls)


def unregister_op(name: str) -> None:
    """Remove an op (for plugin unloading and tests)."""
    OPS.unregister(name)


def registered_ops() -> Mapping[str, type[Op]]:
    """The registered ops by name (a live read-only view)."""
    return OPS.view()


def get_op(name: str, *, where: str = "") -> type[Op]:
    """The op class registered under ``name``, or a LabelerError suggesting a close name."""
    return OPS.get(name, where=where)


def make_op(name: str, values: Mapping[str, Any] | None = None, *, where: str = "") -> Op:
    """Build a validated op instance: ``make_op("rotate", {"angle": [-15, 15]})``."""
    return get_op(name, where=where)(values, where=where or name)
