"""Generators and their suggestions as the project stores them, and the review decisions.

An accepted suggestion becomes an image with provenance "generated" (generator, checkpoint
hash, seed and scores in its provenance record), tagged with its class, in the train split
only. A rejected one stays recorded so later rounds never offer it again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from labeler.core.errors import LabelerError
from labeler.store.project import Project

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


@dataclass(frozen=True, slots=True)
class Generator:
    id: int
    run_dir: str
    checkpoint: str
    sha256: str
    step: int
    resolution: int
    class_ids: list[int]
    created_at: str


@dataclass(frozen=True, slots=True)
class StoredSuggestion:
    id: int
    generator_id: int
    round: int
    class_id: int
    seed: int
    status: str
    scores: dict[str, Any]
    nn_image_id: int | None
    path: str
    image_id: int | None


def add_generator(
    project: Project,
    *,
    run_dir: str,
    checkpoint: str,
    sha256: str,
    step: int,
    resolution: int,
    class_ids: Sequence[int],
) -> int:
    with project.atomic():
        record_checkpoint(project, checkpoint, sha256)
        cur = project.conn.execute(
            "INSERT INTO generators(run_dir, checkpoint, sha256, step, resolution, class_ids)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                project.stored_path(run_dir),
                project.stored_path(checkpoint),
                sha256,
                step,
                resolution,
                json.dumps(list(class_ids)),
            ),
        )
    return cur.lastrowid  # type: ignore[return-value]


def latest_generator(project: Project) -> Generator | None:
    row = project.conn.execute(
        "SELECT id, run_dir, checkpoint, sha256, step, resolution, class_ids, created_at"
        " FROM generators ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    values = list(row)
    values[1] = str(project.resolve(values[1]))
    values[2] = str(project.resolve(values[2]))
    values[6] = json.loads(values[6])
    return Generator(*values)


def _checkpoint_key(project: Project, checkpoint: str | Path) -> str:
    return f"checkpoint_sha256:{project.stored_path(checkpoint)}"


def record_checkpoint(project: Project, checkpoint: str | Path, sha256: str) -> None:
    """Remember the SHA-256 of a checkpoint we wrote (snapshots too), so a file changed on
    disk afterwards is never resumed or sampled from as if it were ours."""
    project.set_setting(_checkpoint_key(project, checkpoint), sha256)


def recorded_checkpoint(project: Project, checkpoint: str | Path) -> str | None:
    """The SHA-256 this project recorded for a checkpoint file, or None."""
    value = project.setting(_checkpoint_key(project, checkpoint))
    if value is not None:
        return value
    row = project.conn.execute(
        "SELECT sha256 FROM generators WHERE checkpoint = ? ORDER BY id DESC LIMIT 1",
        (project.stored_path(checkpoint),),
    ).fetchone()
    return row[0] if row else None


def suggestion_rounds(project: Project, generator_id: int) -> int:
    """How many suggestion rounds this generator has had (the next round's seed)."""
    row = project.conn.execute(
        "SELECT COALESCE(MAX(round) + 1, 0) FROM suggestions WHERE generator_id = ?",
        (generator_id,),
    ).fetchone()
    return row[0]


def pending_counts(project: Project) -> dict[int, int]:
    return dict(
        project.conn.execute(
            "SELECT class_id, COUNT(*) FROM suggestions WHERE status = 'pending' GROUP BY 1"
        ).fetchall()
    )


def add_suggestions(
    project: Project,
    generator_id: int,
    round_: int,
    rows: Sequence[dict[str, Any]],
    folder: Path,
) -> list[int]:
    """Write each suggestion's pixels (`rgb`, uint8 HxWx3) as a PNG and store it pending.
    Seeds already seen for the class (accepted or rejected) are skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    with project.atomic():
        for r in rows:
            seen = project.conn.execute(
                "SELECT 1 FROM suggestions WHERE generator_id = ? AND class_id = ? AND seed = ?",
                (generator_id, r["class_id"], r["seed"]),
            ).fetchone()
            if seen:
                continue
            path = folder / f"g{generator_id}-c{r['class_id']}-s{r['seed']}.png"
            if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(r["rgb"]), cv2.COLOR_RGB2BGR)):
                raise LabelerError(f"cannot write {path}")
            cur = project.conn.execute(
                "INSERT INTO suggestions(generator_id, round, class_id, seed, scores, nn_image_id,"
                " path) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    generator_id,
                    round_,
                    r["class_id"],
                    r["seed"],
                    json.dumps(r["scores"], default=float),
                    r.get("nn_image_id"),
                    project.stored_path(path),
                ),
            )
            ids.append(cur.lastrowid)
    return ids


def list_suggestions(
    project: Project, *, status: str | None = None, class_id: int | None = None
) -> list[StoredSuggestion]:
    sql = (
        "SELECT id, generator_id, round, class_id, seed, status, scores, nn_image_id, path,"
        " image_id FROM suggestions WHERE 1"
    )
    args: list[Any] = []
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    if class_id is not None:
        sql += " AND class_id = ?"
        args.append(class_id)
    out = []
    for row in project.conn.execute(sql + " ORDER BY class_id, id", args):
        values = list(row)
        values[6] = json.loads(values[6])
        out.append(StoredSuggestion(*values))
    return out


def require_pending(project: Project, ids: Sequence[int]) -> list[StoredSuggestion]:
    by_id = {s.id: s for s in list_suggestions(project)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise LabelerError(f"no suggestion {missing[0]}")
    decided = [i for i in ids if by_id[i].status != "pending"]
    if decided:
        raise LabelerError(f"suggestion {decided[0]} was already {by_id[decided[0]].status}")
    return [by_id[i] for i in ids]


def reject_suggestions(project: Project, ids: Sequence[int]) -> None:
    require_pending(project, ids)
    with project.atomic():
        project.conn.executemany(
            f"UPDATE suggestions SET status = 'rejected', decided_at = {_NOW} WHERE id = ?",
            [(i,) for i in ids],
        )
