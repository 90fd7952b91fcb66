"""How tests/data/project_v1.labeler was made (schema 1, before settings and groups existed).

Kept for the record: the committed file is the fixture, so later changes to the migrations
are tested against a project that really was made with the first schema.
"""

import sqlite3
import sys

from labeler.store.migrations import APPLICATION_ID, apply_migrations

conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
apply_migrations(conn, upto=1)
conn.execute(
    "INSERT INTO classes(name, colour, shortcut, position) VALUES ('cat', '#e6194b', '1', 0)"
)
conn.execute(
    "INSERT INTO classes(name, colour, shortcut, position) VALUES ('dog', '#3cb44b', '2', 1)"
)
conn.execute(
    "INSERT INTO images(path, sha256, phash, width, height, format, bytes)"
    " VALUES ('photos/chelsea.jpg', 'a' || hex(zeroblob(31)), -123456789, 451, 300, 'JPEG', 38702)"
)
conn.execute("INSERT INTO shapes(image_id, class_id, kind) VALUES (1, 1, 'tag')")
conn.execute(
    "INSERT INTO shapes(image_id, class_id, kind, geometry) VALUES (1, 2, 'box', '[[10,20],[110,220]]')"
)
conn.close()
