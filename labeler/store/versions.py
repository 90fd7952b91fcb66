"""Dataset versions as the project stores them: the record of one export, enough to say what
was exported and to export it again identically."""

from __future__ import annotations

import json
from dataclasses import dataclass

from labeler.store.project import Project


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    id: int
    created_at: str
    format: str
    out_dir: str
    seed: int
    recipe: str | None
    multiplier: int
    fingerprint: str
    manifest: dict


def add_version(
    project: Project,
    *,
    format: str,
    out_dir: str,
    seed: int,
    recipe: str | None,
    multiplier: int,
    fingerprint: str,
    manifest: dict,
) -> int:
    """Record an export as a dataset version; returns its id."""
    with project.atomic():
        cur = project.conn.execute(
            "INSERT INTO dataset_versions(format, out_dir, seed, recipe, multiplier, fingerprint,"
            " manifest) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (format, out_dir, seed, recipe, multiplier, fingerprint, json.dumps(manifest)),
        )
    return cur.lastrowid  # type: ignore[return-value]


def list_versions(project: Project) -> list[DatasetVersion]:
    rows = project.conn.execute(
        "SELECT id, created_at, format, out_dir, seed, recipe, multiplier, fingerprint, manifest"
        " FROM dataset_versions ORDER BY id"
    ).fetchall()
    return [DatasetVersion(*r[:8], json.loads(r[8])) for r in rows]
