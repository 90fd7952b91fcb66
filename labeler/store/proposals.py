"""Pre-label proposals: the project's own classifier's class for each unlabeled image.

A proposal lives in its own table (migration 5) and is never a label: statistics, splits and
exports read `shapes` only. Accepting a proposal writes an ordinary tag (and drops the
proposal); labelling the image any other way makes the proposal moot, so every reader here
skips images that already carry a shape.

>>> run = record_run(project, "features+logistic", 120, 0.81, 0.25, {})   # doctest: +SKIP
>>> write_proposals(project, run, [(7, 2, 0.93, 0.12)])                   # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labeler.store.edits import Edit, SetTag, ShapeChange
from labeler.store.project import Project


@dataclass(frozen=True, slots=True)
class PrelabelRun:
    """One training of the pre-labeller and what it measured on held-out labelled images."""

    id: int
    model: str
    labelled_images: int
    balanced_accuracy: float
    chance: float
    details: dict[str, Any]
    created_at: str


@dataclass(frozen=True, slots=True)
class Proposal:
    """The model's class for one unlabeled image, its probability and its uncertainty
    (1 - margin between the two most probable classes: higher means less sure)."""

    image_id: int
    class_id: int
    confidence: float
    uncertainty: float
    run_id: int


_UNLABELED = "NOT EXISTS (SELECT 1 FROM shapes s WHERE s.image_id = p.image_id)"


def record_run(
    project: Project,
    model: str,
    labelled_images: int,
    balanced_accuracy: float,
    chance: float,
    details: dict[str, Any],
) -> int:
    """Store a run (its measured accuracy) and return its id."""
    with project.atomic():
        cur = project.conn.execute(
            "INSERT INTO prelabel_runs(model, labelled_images, balanced_accuracy, chance, details)"
            " VALUES (?, ?, ?, ?, ?)",
            (model, labelled_images, balanced_accuracy, chance, json.dumps(details)),
        )
    return int(cur.lastrowid)


def latest_run(project: Project) -> PrelabelRun | None:
    row = project.conn.execute(
        "SELECT id, model, labelled_images, balanced_accuracy, chance, details, created_at"
        " FROM prelabel_runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return PrelabelRun(*row[:5], json.loads(row[5]), row[6])


def write_proposals(
    project: Project, run_id: int, rows: Iterable[tuple[int, int, float, float]]
) -> int:
    """Replace every proposal with ``(image_id, class_id, confidence, uncertainty)`` rows of
    run ``run_id``, in one transaction; returns how many were written (rows naming an image
    or class that no longer exists, or an image labelled meanwhile, are left out)."""
    # An image removed, labelled, or a class merged away while the model trained gets no
    # proposal: the count is what `--list` then shows.
    before = project.conn.total_changes
    with project.atomic():
        project.conn.execute("DELETE FROM proposals")
        deleted = project.conn.total_changes - before
        project.conn.executemany(
            "INSERT INTO proposals(image_id, run_id, class_id, confidence, uncertainty)"
            " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM images WHERE id = ?)"
            " AND EXISTS (SELECT 1 FROM classes WHERE id = ?)"
            " AND NOT EXISTS (SELECT 1 FROM shapes WHERE image_id = ?)",
            [(i, run_id, c, float(p), float(u), i, c, i) for i, c, p, u in rows],
        )
    return project.conn.total_changes - before - deleted


def clear_proposals(project: Project) -> int:
    """Remove every proposal; returns how many were pending (for images still unlabeled)."""
    if project.conn.execute("SELECT 1 FROM proposals LIMIT 1").fetchone() is None:
        return 0  # nothing to write (a read-only project stays untouched)
    with project.atomic():
        pending = project.conn.execute(
            f"SELECT COUNT(*) FROM proposals p WHERE {_UNLABELED}"
        ).fetchone()[0]
        project.conn.execute("DELETE FROM proposals")
    return int(pending)


def class_proposals(project: Project, class_id: int) -> int:
    """How many pending proposals name class ``class_id`` (what merging or removing it
    moves or takes with it)."""
    row = project.conn.execute(
        f"SELECT COUNT(*) FROM proposals p WHERE p.class_id = ? AND {_UNLABELED}", (class_id,)
    ).fetchone()
    return int(row[0])


def proposal(project: Project, image_id: int) -> Proposal | None:
    """The pending proposal for an image, or None (none made, or the image is labelled)."""
    row = project.conn.execute(
        "SELECT image_id, class_id, confidence, uncertainty, run_id FROM proposals p"
        f" WHERE p.image_id = ? AND {_UNLABELED}",
        (image_id,),
    ).fetchone()
    return Proposal(*row) if row else None


def pending_proposals(project: Project, *, by_uncertainty: bool = False) -> list[Proposal]:
    """Proposals for images that are still unlabeled; by image id, or least sure first."""
    order = "p.uncertainty DESC, p.image_id" if by_uncertainty else "p.image_id"
    rows = project.conn.execute(
        "SELECT image_id, class_id, confidence, uncertainty, run_id FROM proposals p"
        f" WHERE {_UNLABELED} ORDER BY {order}"
    ).fetchall()
    return [Proposal(*r) for r in rows]


def drop_proposals(project: Project, image_ids: Sequence[int]) -> None:
    with project.atomic():
        project.conn.executemany(
            "DELETE FROM proposals WHERE image_id = ?", [(i,) for i in image_ids]
        )


def _put_back(project: Project, p: Proposal) -> None:
    project.conn.execute(
        "INSERT OR REPLACE INTO proposals(image_id, run_id, class_id, confidence, uncertainty)"
        " VALUES (?, ?, ?, ?, ?)",
        (p.image_id, p.run_id, p.class_id, p.confidence, p.uncertainty),
    )


@dataclass
class AcceptProposal(Edit):
    """Accept a proposal: its class becomes the image's tag and the proposal is used up; undo
    takes the tag back and makes the proposal pending again. One edit, one transaction."""

    proposal: Proposal
    text: str = "accept proposal"
    _tag: SetTag = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.image_id = self.proposal.image_id
        self._tag = SetTag(self.proposal.image_id, self.proposal.class_id, text=self.text)

    @property
    def class_id(self) -> int:
        return self.proposal.class_id

    def do(self, project: Project) -> None:
        with project.atomic():
            self._tag.do(project)
            project.conn.execute(
                "DELETE FROM proposals WHERE image_id = ?", (self.proposal.image_id,)
            )

    def undo(self, project: Project) -> None:
        with project.atomic():
            self._tag.undo(project)
            if project.image(self.proposal.image_id) is not None:
                _put_back(project, self.proposal)

    def change(self, undone: bool = False) -> ShapeChange:
        return self._tag.change(undone)
