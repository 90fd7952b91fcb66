"""`Registry`: the one kind of registry behind every extensible thing (ADR 0090).

Ops, export formats, import formats and health checks are each a `Registry`: a name -> object
table in registration order that the core fills on import and plugins extend with the same
call. A registry is read like a read-only dict (``name in r``, ``r[name]``, ``sorted(r)``,
``r.items()``), changed only through `register` and `unregister`, and snapshotted and restored
whole, which is how the plugin loader makes one plugin's registrations a transaction.

>>> colours = Registry("colour", check=lambda name, value: None)
>>> colours.register("red", (0, 0, 255))
(0, 0, 255)
>>> colours.get("rde")
Traceback (most recent call last):
...
labeler.core.errors.LabelerError: unknown colour 'rde' (did you mean 'red'?); known colours: red
>>> before = colours.snapshot()
>>> _ = colours.register("green", (0, 255, 0))
>>> colours.restore(before)
>>> list(colours)
['red']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

from labeler.core.errors import LabelerError

T = TypeVar("T")


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """``" (did you mean 'rotate'?)"`` for the closest known name, or ``""`` when none is close.

    >>> did_you_mean("rotat", ["rotate", "resize"])
    " (did you mean 'rotate'?)"
    """
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry(Generic[T]):
    """Objects of one kind by name, in registration order.

    ``what`` names the kind in messages ("op", "exporter"); ``called`` is what users call a
    name of it when they type one (``--format``: "export format"), ``what`` when not given.
    ``check(name, obj)`` runs before every registration and raises when ``obj`` cannot be
    registered under ``name`` (wrong type, bad name); it is the kind's own rule, so a
    plugin's object and a built-in one are held to the same one.
    """

    def __init__(
        self,
        what: str,
        *,
        called: str | None = None,
        check: Callable[[str, T], None] | None = None,
    ) -> None:
        self.what = what
        self.called = called or what
        self._check = check
        self._items: dict[str, T] = {}

    # -- changing it ------------------------------------------------------------------------
    def register(self, name: str, obj: T, *, replace: bool = False) -> T:
        """Add ``obj`` under ``name`` and return it. A name that is taken by another object
        raises a `LabelerError` unless ``replace``; the same object again is a no-op (a module
        that registers on import may be imported by a plugin and by a worker)."""
        if self._check is not None:
            self._check(name, obj)
        taken = self._items.get(name)
        if taken is not None and taken is not obj and not replace:
            article = "an" if self.what[:1] in "aeiou" else "a"
            raise LabelerError(f"{article} {self.what} named {name!r} is already registered")
        self._items[name] = obj
        return obj

    def unregister(self, name: str) -> None:
        """Remove ``name`` (plugin unloading, tests); an unknown name is ignored."""
        self._items.pop(name, None)

    def snapshot(self) -> dict[str, T]:
        """A copy of the table, for `restore`."""
        return dict(self._items)

    def restore(self, snapshot: Mapping[str, T]) -> None:
        """Make the table exactly ``snapshot`` again (same objects, same order)."""
        self._items.clear()
        self._items.update(snapshot)

    # -- reading it -------------------------------------------------------------------------
    def get(self, name: str, *, where: str = "") -> T:
        """The object registered under ``name``, or a `LabelerError` that suggests a close
        name and lists the known ones; ``where`` (a recipe step, a file) starts the message."""
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable name read from JSON
            prefix = f"{where}: " if where else ""
            raise LabelerError(
                f"{prefix}unknown {self.called} {name!r}{did_you_mean(name, self._items)}"
                f"; known {self.called}s: {', '.join(sorted(self._items)) or 'none'}"
            ) from None

    __getitem__ = get

    def view(self) -> Mapping[str, T]:
        """A live read-only mapping of the table (``.get(name)`` returns None when absent)."""
        return MappingProxyType(self._items)

    def keys(self) -> list[str]:
        return list(self._items)

    def values(self) -> list[T]:
        return list(self._items.values())

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._items
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._items)})"
