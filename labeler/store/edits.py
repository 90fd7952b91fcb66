"""User edits as undoable commands holding deltas (before/after shapes), not snapshots.

An edit knows the image it touches, how to apply itself to a `Project` and how to take itself
back. Each `do`/`undo` is one transaction, so a crash between two edits loses neither. Shapes
keep their ids across undo/redo (a deleted shape comes back under its id through
`Project.restore_shape`), so later edits that name those ids stay valid.

>>> edit = AddShapes(image_id, [Shape.box(cat, 10, 10, 50, 40)])   # doctest: +SKIP
>>> edit.do(project); edit.undo(project); edit.do(project)          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.store.project import Project


class Edit:
    """One user edit on one image. Subclasses implement `do` and `undo`."""

    image_id: int
    text: str = "edit"

    def do(self, project: Project) -> None:
        raise NotImplementedError

    def undo(self, project: Project) -> None:
        raise NotImplementedError

    def merge(self, other: Edit) -> bool:
        """Absorb `other` (the edit that came next) when both are one gesture; True if done."""
        return False


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

    def do(self, project: Project) -> None:
        with project.atomic():
            self._had_tag = any(
                s.kind == "tag" and s.class_id == self.class_id
                for s in project.shapes(self.image_id)
            )
            self._removed = project.set_tag(self.image_id, self.class_id)

    def undo(self, project: Project) -> None:
        with project.atomic():
            if not self._had_tag:
                project.remove_tag(self.image_id, self.class_id)
            for s in self._removed:
                project.restore_shape(self.image_id, s)


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
