"""How tests/data/project_v5.labeler was made (schema 5, before multi-part instances).

Kept for the record: the committed file is the fixture, so migration 6 (shapes.group_id)
is tested against a project that really was made with schema 5.
"""

import sqlite3
import sys

from labeler.store.migrations import APPLICATION_ID, apply_migrations

conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
apply_migrations(conn, upto=5)
conn.execute(
    "INSERT INTO classes(name, colour, shortcut, position) VALUES ('cat', '#e6194b', '1', 0)"
)
conn.execute(
    "INSERT INTO images(path, sha256, phash, width, height, format, bytes, split)"
    " VALUES ('photos/chelsea.jpg', 'b' || hex(zeroblob(31)), 7, 451, 300, 'JPEG', 38702, 'train')"
)
conn.execute("INSERT INTO shapes(image_id, class_id, kind) VALUES (1, 1, 'tag')")
conn.execute(
    "INSERT INTO shapes(image_id, class_id, kind, geometry)"
    " VALUES (1, 1, 'polygon', '[[10,20],[110,20],[60,90]]')"
)
conn.execute(
    "INSERT INTO shapes(image_id, class_id, kind, geometry)"
    " VALUES (1, 1, 'polygon', '[[200,20],[300,20],[250,90]]')"
)
conn.close()
