"""User edits as undoable commands holding deltas (before/after shapes), not snapshots.

An edit knows the image it touches, how to apply itself to a `Project` and how to take itself
back. Each `do`/`undo` is one transaction, so a crash between two edits loses neither. Shapes
keep their ids across undo/redo (a deleted shape comes back under its id through
`Project.restore_shape`), so later edits that name those ids stay valid. Once done or undone,
an edit says what it changed (`change`), so a view follows it without reading the image again.

>>> edit = AddShapes(image_id, [Shape.box(cat, 10, 10, 50, 40)])   # doctest: +SKIP
>>> edit.do(project); edit.undo(project); edit.do(project)          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.store.project import Project


@dataclass(frozen=True, slots=True)
class ShapeChange:
    """What a done (or undone) edit changed on its image: the ids it removed and the shapes it
    wrote (new, restored or changed, each with its id).

    >>> ShapeChange(removed=(2,), written=(Shape.tag(1, id=5),)).apply(shapes)  # doctest: +SKIP
    """

    removed: tuple[int, ...] = ()
    written: tuple[Shape, ...] = ()

    def apply(self, shapes: Sequence[Shape]) -> list[Shape]:
        """The image's shapes after the edit, from its shapes before, in the store's order."""
        gone = set(self.removed) | {s.id for s in self.written}
        kept = [s for s in shapes if s.id not in gone]
        return sorted([*kept, *self.written], key=lambda s: s.id or 0)


class Edit:
    """One user edit on one image. Subclasses implement `do`, `undo` and `change`."""

    image_id: int
    text: str = "edit"

    def do(self, project: Project) -> None:
        raise NotImplementedError

    def undo(self, project: Project) -> None:
        raise NotImplementedError

    def change(self, undone: bool = False) -> ShapeChange:
        """What the last `do` (or, with `undone`, the last `undo`) changed on the image."""
        return ShapeChange()

    def merge(self, other: Edit) -> bool:
        """Absorb `other` (the edit that came next) when both are one gesture; True if done."""
        return False


def _ids(shapes: Sequence[Shape]) -> tuple[int, ...]:
    return tuple(s.id for s in shapes if s.id is not None)


@dataclass
class AddShapes(Edit):
    """Draw or paste shapes. After the first `do` the shapes carry their new ids."""

    image_id: int
    shapes: list[Shape]
    text: str = "add shape"

    def do(self, project: Project) -> None:
        with project.atomic():
            self.shapes = [
                project.add_shape(self.image_id, s)
                if s.id is None
                else project.restore_shape(self.image_id, s)
                for s in self.shapes
            ]

    def undo(self, project: Project) -> None:
        with project.atomic():
            for s in self.shapes:
                project.delete_shape(s.id)  # type: ignore[arg-type]

    def change(self, undone: bool = False) -> ShapeChange:
        if undone:
            return ShapeChange(removed=_ids(self.shapes))
        return ShapeChange(written=tuple(self.shapes))


@dataclass
class DeleteShapes(Edit):
    image_id: int
    shapes: list[Shape]
    text: str = "delete shape"

    def __post_init__(self) -> None:
        if any(s.id is None for s in self.shapes):
            raise LabelerError("only stored shapes can be deleted")

    def do(self, project: Project) -> None:
        with project.atomic():
            for s in self.shapes:
                project.delete_shape(s.id)  # type: ignore[arg-type]

    def undo(self, project: Project) -> None:
        with project.atomic():
            for s in self.shapes:
                project.restore_shape(self.image_id, s)

    def change(self, undone: bool = False) -> ShapeChange:
        if undone:
            return ShapeChange(written=tuple(self.shapes))
        return ShapeChange(removed=_ids(self.shapes))


@dataclass
class UpdateShapes(Edit):
    """Move, resize, vertex edits and class changes: the same ids, before and after.

    `gesture` names a repeatable gesture (keyboard nudges): consecutive edits with the same
    gesture on the same shapes merge into one undo step."""

    image_id: int
    before: list[Shape]
    after: list[Shape]
    text: str = "edit shape"
    gesture: str | None = None

    def __post_init__(self) -> None:
        if [s.id for s in self.before] != [s.id for s in self.after]:
            raise LabelerError("an update must name the same shapes before and after")

    def do(self, project: Project) -> None:
        self._write(project, self.after)

    def undo(self, project: Project) -> None:
        self._write(project, self.before)

    def change(self, undone: bool = False) -> ShapeChange:
        return ShapeChange(written=tuple(self.before if undone else self.after))

    @staticmethod
    def _write(project: Project, shapes: Sequence[Shape]) -> None:
        with project.atomic():
            for s in shapes:
                project.update_shape(s)

    def merge(self, other: Edit) -> bool:
        if (
            isinstance(other, UpdateShapes)
            and self.gesture is not None
            and other.gesture == self.gesture
            and other.image_id == self.image_id
            and [s.id for s in other.before] == [s.id for s in self.after]
        ):
            self.after = other.after
            return True
        return False


@dataclass
class SetTag(Edit):
    """Tag an image with a class. In a single-label project the image's other tags go, and
    come back on undo."""

    image_id: int
    class_id: int
    text: str = "tag image"
    _had_tag: bool = field(default=False, repr=False)
    _removed: list[Shape] = field(default_factory=list, repr=False)
    _tag: Shape | None = field(default=None, repr=False)

    def do(self, project: Project) -> None:
        with project.atomic():
            self._had_tag = any(
                s.kind == "tag" and s.class_id == self.class_id
                for s in project.shapes(self.image_id)
            )
            self._removed = project.set_tag(self.image_id, self.class_id)
            # Adding a tag that is there returns it as stored: its id, for `change`.
            self._tag = project.add_shape(self.image_id, Shape.tag(self.class_id))

    def undo(self, project: Project) -> None:
        with project.atomic():
            if not self._had_tag:
                project.remove_tag(self.image_id, self.class_id)
            for s in self._removed:
                project.restore_shape(self.image_id, s)

    def change(self, undone: bool = False) -> ShapeChange:
        tag = () if self._tag is None else (self._tag,)
        if undone:
            return ShapeChange(
                removed=() if self._had_tag else _ids(tag), written=tuple(self._removed)
            )
        return ShapeChange(removed=_ids(self._removed), written=tag)


@dataclass
class RemoveTag(Edit):
    image_id: int
    class_id: int
    text: str = "remove tag"
    _removed: Shape | None = field(default=None, repr=False)

    def do(self, project: Project) -> None:
        with project.atomic():
            self._removed = next(
                (
                    s
                    for s in project.shapes(self.image_id)
                    if s.kind == "tag" and s.class_id == self.class_id
                ),
                None,
            )
            project.remove_tag(self.image_id, self.class_id)

    def undo(self, project: Project) -> None:
        if self._removed is not None:
            project.restore_shape(self.image_id, self._removed)

    def change(self, undone: bool = False) -> ShapeChange:
        gone = () if self._removed is None else (self._removed,)
        return ShapeChange(written=gone) if undone else ShapeChange(removed=_ids(gone))


@dataclass
class SetStatus(Edit):
    """Mark an image reviewed (or back to new)."""

    image_id: int
    before: str
    after: str
    text: str = "review status"

    def do(self, project: Project) -> None:
        project.set_status(self.image_id, self.after)

    def undo(self, project: Project) -> None:
        project.set_status(self.image_id, self.before)
