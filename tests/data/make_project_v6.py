"""How tests/data/project_v6.labeler was made (schema 6, before the natural name key).

Kept for the record: the committed file is the fixture, so migration 7 (images.name_key) is
tested against a project that really was made with schema 6. The paths are inserted in an
order that is neither their path order nor their natural order, and hold the cases the key
must get right: numbers of different lengths, leading zeros, names that differ only in case,
a name and folder outside ASCII, an absolute path, a digit run longer than any integer type.

    .venv/bin/python tests/data/make_project_v6.py tests/data/project_v6.labeler
"""

import sqlite3
import sys

from labeler.store.migrations import APPLICATION_ID, apply_migrations

PATHS = [
    "b/img10.jpg",
    "/elsewhere/img2.jpg",
    "b/0182.jpg",
    "a/4870.jpg",
    "x10/same.jpg",
    "x2/same.jpg",
    "a/img1.jpg",
    "a/IMG1.jpg",
    "a/img01.jpg",
    "Ünïcode/éclair 3.png",
    "Ünïcode/Éclair 20.png",
    "big/n" + "9" * 40 + ".jpg",
    "big/n" + "1" + "0" * 40 + ".jpg",
]

conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
apply_migrations(conn, upto=6)
conn.execute(
    "INSERT INTO classes(name, colour, shortcut, position) VALUES ('cat', '#e6194b', '1', 0)"
)
for i, path in enumerate(PATHS):
    conn.execute(
        "INSERT INTO images(path, sha256, phash, width, height, format, bytes)"
        " VALUES (?, ?, ?, 64, 48, 'JPEG', 100)",
        (path, f"{i + 1:064x}", i),
    )
conn.execute("INSERT INTO shapes(image_id, class_id, kind) VALUES (3, 1, 'tag')")
conn.close()
