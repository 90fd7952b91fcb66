"""Numbered forward migrations of the project schema.

`PRAGMA user_version` holds the number of migrations applied. A migration is appended, never
edited once released: a project made by any older version must upgrade through the same steps
(tests open a committed project file made with schema 1).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from labeler.store.name_key import name_key

APPLICATION_ID = 0x4C41424C  # "LABL": tells our project files from other SQLite files


def _run(conn: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it commits the pending transaction first, so a failing migration
    # would leave a half-upgraded file.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m0001_initial(conn: sqlite3.Connection) -> None:
    _run(
        conn,
        """
        CREATE TABLE classes (
            id        INTEGER PRIMARY KEY,
            name      TEXT NOT NULL UNIQUE COLLATE NOCASE,
            colour    TEXT NOT NULL,
            shortcut  TEXT,
            position  INTEGER NOT NULL
        );
        CREATE TABLE images (
            id          INTEGER PRIMARY KEY,
            path        TEXT NOT NULL,
            sha256      TEXT NOT NULL UNIQUE,
            phash       INTEGER,
            width       INTEGER NOT NULL,
            height      INTEGER NOT NULL,
            format      TEXT NOT NULL,
            bytes       INTEGER NOT NULL,
            channels    INTEGER NOT NULL DEFAULT 3,
            provenance  TEXT NOT NULL DEFAULT 'imported'
                        CHECK (provenance IN ('imported', 'generated')),
            provenance_info TEXT,
            status      TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'reviewed')),
            split       TEXT CHECK (split IN ('train', 'val', 'test')),
            added_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE INDEX images_path ON images(path);
        CREATE INDEX images_split ON images(split);
        CREATE TABLE shapes (
            id          INTEGER PRIMARY KEY,
            image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            class_id    INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
            kind        TEXT NOT NULL CHECK (kind IN ('tag', 'box', 'polygon')),
            geometry    TEXT NOT NULL DEFAULT '[]',
            created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE INDEX shapes_image ON shapes(image_id);
        CREATE INDEX shapes_class ON shapes(class_id, image_id);
        -- An image carries a class as a tag at most once.
        CREATE UNIQUE INDEX shapes_one_tag ON shapes(image_id, class_id) WHERE kind = 'tag';
        """,
    )


def _m0002_settings_and_groups(conn: sqlite3.Connection) -> None:
    # Project settings (single- or multi-label, ...) and the folder an image came from,
    # which leakage-safe splits use as a user group.
    _run(
        conn,
        """
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        ALTER TABLE images ADD COLUMN source_group TEXT;
        CREATE INDEX images_source_group ON images(source_group);
        CREATE INDEX images_phash ON images(phash);
        """,
    )


def _m0003_recipes_and_versions(conn: sqlite3.Connection) -> None:
    # Augmentation recipes by name, and every export as a reproducible dataset version.
    _run(
        conn,
        """
        CREATE TABLE recipes (
            name        TEXT PRIMARY KEY COLLATE NOCASE,
            definition  TEXT NOT NULL,
            created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE dataset_versions (
            id          INTEGER PRIMARY KEY,
            created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            format      TEXT NOT NULL,
            out_dir     TEXT NOT NULL,
            seed        INTEGER NOT NULL,
            recipe      TEXT,
            multiplier  INTEGER NOT NULL DEFAULT 0,
            fingerprint TEXT NOT NULL,
            manifest    TEXT NOT NULL
        )
        """,
    )


def _m0004_generators_and_suggestions(conn: sqlite3.Connection) -> None:
    # GAN generators (checkpoints in the media folder) and the samples they suggested,
    # pending until a person accepts or rejects them.
    _run(
        conn,
        """
        CREATE TABLE generators (
            id          INTEGER PRIMARY KEY,
            run_dir     TEXT NOT NULL,
            checkpoint  TEXT NOT NULL,
            sha256      TEXT NOT NULL,
            step        INTEGER NOT NULL,
            resolution  INTEGER NOT NULL,
            class_ids   TEXT NOT NULL,
            created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE suggestions (
            id           INTEGER PRIMARY KEY,
            generator_id INTEGER NOT NULL REFERENCES generators(id) ON DELETE CASCADE,
            round        INTEGER NOT NULL,
            class_id     INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
            seed         INTEGER NOT NULL,
            status       TEXT NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'accepted', 'rejected')),
            scores       TEXT NOT NULL,
            nn_image_id  INTEGER REFERENCES images(id) ON DELETE SET NULL,
            path         TEXT NOT NULL,
            image_id     INTEGER REFERENCES images(id) ON DELETE SET NULL,
            created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            decided_at   TEXT
        );
        CREATE INDEX suggestions_status ON suggestions(status, class_id);
        CREATE UNIQUE INDEX suggestions_seed ON suggestions(generator_id, class_id, seed)
        """,
    )


def _m0005_prelabel_proposals(conn: sqlite3.Connection) -> None:
    # Pre-labels (issue 18): each run of the project's own classifier with its measured
    # held-out accuracy, and one proposal per unlabeled image. A proposal is never a label:
    # stats, splits and exports read `shapes` only; accepting one writes a tag.
    _run(
        conn,
        """
        CREATE TABLE prelabel_runs (
            id                 INTEGER PRIMARY KEY,
            model              TEXT NOT NULL,
            labelled_images    INTEGER NOT NULL,
            balanced_accuracy  REAL NOT NULL,
            chance             REAL NOT NULL,
            details            TEXT NOT NULL DEFAULT '{}',
            created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE proposals (
            image_id     INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            run_id       INTEGER NOT NULL REFERENCES prelabel_runs(id) ON DELETE CASCADE,
            class_id     INTEGER NOT NULL REFERENCES classes(id) ON DELETE CASCADE,
            confidence   REAL NOT NULL,
            uncertainty  REAL NOT NULL
        );
        CREATE INDEX proposals_uncertainty ON proposals(uncertainty DESC)
        """,
    )


def _m0006_instance_groups(conn: sqlite3.Connection) -> None:
    # The parts of one object instance (a COCO annotation with several polygons, labelme's
    # group_id): boxes and polygons of one class on one image sharing a group number are
    # one instance; NULL is a shape alone (ADR 0095). Numbers come from an AUTOINCREMENT
    # counter that never hands one out twice, so an undone delete cannot join a newer
    # instance.
    _run(
        conn,
        """
        ALTER TABLE shapes ADD COLUMN group_id INTEGER CHECK (group_id IS NULL OR group_id > 0);
        CREATE INDEX shapes_group ON shapes(image_id, group_id) WHERE group_id IS NOT NULL;
        CREATE TABLE shape_groups (id INTEGER PRIMARY KEY AUTOINCREMENT)
        """,
    )


def _m0007_name_key(conn: sqlite3.Connection) -> None:
    # The image list's natural "Name" order as an indexed column (ADR 0101), so the list
    # reads its order from SQL instead of sorting every name in Python. Triggers refuse a
    # write that adds an image or changes its path without setting its key, whoever writes:
    # a forgotten key would put the image out of order in silence.
    conn.execute("ALTER TABLE images ADD COLUMN name_key TEXT")
    conn.executemany(
        "UPDATE images SET name_key = ? WHERE id = ?",
        [
            (name_key(path), image_id)
            for image_id, path in conn.execute("SELECT id, path FROM images")
        ],
    )
    conn.execute("CREATE INDEX images_name_key ON images(name_key)")
    # The key ends with its path after a \x01: a key made for another path is refused too.
    wrong = (
        "WHEN NEW.name_key IS NULL"
        " OR substr(NEW.name_key, -length(NEW.path) - 1) IS NOT char(1) || NEW.path"
        " BEGIN SELECT RAISE(ABORT, 'images.name_key does not match images.path"
        " (set it with labeler.store.name_key)'); END"
    )
    conn.execute(f"CREATE TRIGGER images_name_key_insert BEFORE INSERT ON images {wrong}")
    conn.execute(
        f"CREATE TRIGGER images_name_key_update BEFORE UPDATE OF path, name_key ON images {wrong}"
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m0001_initial,
    _m0002_settings_and_groups,
    _m0003_recipes_and_versions,
    _m0004_generators_and_suggestions,
    _m0005_prelabel_proposals,
    _m0006_instance_groups,
    _m0007_name_key,
]
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(conn: sqlite3.Connection, upto: int = SCHEMA_VERSION) -> list[int]:
    """Apply the pending migrations (each in its own transaction); return their numbers.

    Plain SQL only: sqlite-utils' write helpers wrap themselves in ``with conn:``, which
    would commit the migration's transaction half way (docs/adr/0002).
    """
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    ran = []
    for number in range(current + 1, upto + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
                conn.execute("ROLLBACK")  # another process applied it while we waited
                continue
            MIGRATIONS[number - 1](conn)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        ran.append(number)
    return ran
