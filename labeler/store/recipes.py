"""Recipes as the project stores them.

A recipe is stored as its JSON definition under a name; the augmentation engine
(`labeler.core.augment`) validates it before it gets here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from labeler.core.errors import LabelerError
from labeler.store.project import Project


@dataclass(frozen=True, slots=True)
class StoredRecipe:
    name: str
    definition: dict
    created_at: str
    updated_at: str


def save_recipe(project: Project, name: str, definition: dict, *, replace: bool = False) -> None:
    """Store a (validated) recipe definition under `name`."""
    name = name.strip()
    if not name:
        raise LabelerError("a recipe needs a name")
    exists = get_recipe(project, name) is not None
    if exists and not replace:
        raise LabelerError(f"recipe {name!r} already exists (remove it first, or replace it)")
    text = json.dumps(definition, sort_keys=True)
    with project.atomic():
        project.conn.execute(
            "INSERT INTO recipes(name, definition) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
            " SET definition = excluded.definition,"
            " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (name, text),
        )


def get_recipe(project: Project, name: str) -> StoredRecipe | None:
    row = project.conn.execute(
        "SELECT name, definition, created_at, updated_at FROM recipes WHERE name = ?",
        (name.strip(),),
    ).fetchone()
    if row is None:
        return None
    return StoredRecipe(row[0], json.loads(row[1]), row[2], row[3])


def require_recipe(project: Project, name: str) -> StoredRecipe:
    r = get_recipe(project, name)
    if r is None:
        known = ", ".join(x.name for x in list_recipes(project)) or "none yet"
        raise LabelerError(f"no recipe named {name!r} (recipes: {known})")
    return r


def list_recipes(project: Project) -> list[StoredRecipe]:
    rows = project.conn.execute(
        "SELECT name, definition, created_at, updated_at FROM recipes ORDER BY name"
    ).fetchall()
    return [StoredRecipe(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]


def remove_recipe(project: Project, name: str) -> None:
    require_recipe(project, name)
    with project.atomic():
        project.conn.execute("DELETE FROM recipes WHERE name = ?", (name.strip(),))
