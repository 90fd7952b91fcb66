"""The project: one SQLite file holding images, classes and shapes.

One `Project` object is one connection, used by one thread (SQLite's own check enforces it);
a worker thread opens its own. Every public method that writes is one transaction, committed
before it returns, so a crash never loses an edit that was reported done. Methods nest through
`atomic()`, which turns inner transactions into savepoints.

>>> p = Project.create("/tmp/demo.labeler")            # doctest: +SKIP
>>> cat = p.add_class("cat")                            # doctest: +SKIP
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from labeler.core import held
from labeler.core.errors import LabelerError
from labeler.core.imagehash import to_signed, to_unsigned
from labeler.core.images import ImageInfo
from labeler.core.model import (
    PALETTE,
    SPLITS,
    ImageRecord,
    LabelClass,
    validate_class_name,
    validate_colour,
)
from labeler.core.shapes import Shape
from labeler.store.migrations import APPLICATION_ID, SCHEMA_VERSION, apply_migrations
from labeler.store.name_key import name_key

PROJECT_SUFFIX = ".labeler"
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

DEFAULT_SETTINGS: dict[str, str] = {"multi_label": "0"}


@dataclass(frozen=True, slots=True)
class ClassStats:
    id: int
    name: str
    images: int
    shapes: int
    per_split: dict[str, int]


MAX_IMAGE_REF = 4096
"""The longest image reference (id, path or name) looked up: Linux's PATH_MAX; a longer one
names no file, and SQLite refuses a LIKE pattern that long."""


def project_path(path: str | os.PathLike[str]) -> Path:
    """A project file's absolute path with its folder's real path (symbolic links and '..'
    followed as the system follows them), so image paths are stored and looked up relative
    to one spelling of the folder, whichever way the project was named (README, "Import").
    """
    p = Path(path).absolute()
    return Path(os.path.realpath(p.parent)) / p.name


class Project:
    """An open project file. Use `Project.create` or `Project.open`, then `close()`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self._depth = 0
        self._savepoints = 0
        self._thread = threading.get_ident()
        self._held = True
        held.hold(path)  # nothing in this process may open the file another way (ADR 0081)

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Project:
        """Make a new, empty project file; refuses to touch an existing file."""
        p = project_path(path)
        if p.suffix != PROJECT_SUFFIX:
            raise LabelerError(f"a project file must end in {PROJECT_SUFFIX}: {p.name}")
        if p.exists():
            raise LabelerError(f"{p} already exists; open it instead of creating it")
        if not p.parent.is_dir():
            raise LabelerError(f"folder {p.parent} does not exist")
        conn = _connect(p)
        try:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            apply_migrations(conn)
        except BaseException:
            conn.close()
            p.unlink(missing_ok=True)
            raise
        return cls(p, conn)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, upgrade: bool = True) -> Project:
        """Open an existing project, upgrading an older schema (after a verified backup).

        Identity (application id, schema version) is read through SQLite before anything is
        set, so a file we refuse (not ours, or from a newer Labeler) is left byte-identical.
        The file is never opened through a second descriptor: closing one would drop the
        POSIX locks SQLite holds for every connection of this process (ADR 0081).
        """
        p = project_path(path)
        if not p.is_file():
            raise LabelerError(f"no project at {p} (create one with 'labeler init')")
        conn = sqlite3.connect(p, isolation_level=None, timeout=10.0)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            try:
                try:
                    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                except sqlite3.OperationalError as e:
                    if "readonly" not in str(e) or os.access(p, os.W_OK):
                        raise
                    conn.close()
                    conn = _read_only(p)
                    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as e:
                if "not a database" in str(e):
                    raise LabelerError(
                        f"{p.name} is not a Labeler project (not an SQLite file)" + backup_hint(p)
                    ) from None
                raise
            if app_id != APPLICATION_ID:
                what = "an empty file" if p.stat().st_size == 0 else "an SQLite file"
                raise LabelerError(f"{p.name} is {what} but not a Labeler project")
            if version > SCHEMA_VERSION:
                raise LabelerError(
                    f"{p.name} was made by a newer Labeler (schema {version}; this version "
                    f"reads up to {SCHEMA_VERSION}): upgrade Labeler to open it"
                )
            if version < SCHEMA_VERSION:
                if not upgrade:
                    raise LabelerError(f"{p.name} has schema {version} and needs an upgrade")
                # Before anything changes the file, not even its journal mode.
                backup_before_upgrade(conn, p, version)
            _configure(conn)
            if version < SCHEMA_VERSION:
                apply_migrations(conn)
        except sqlite3.DatabaseError as e:
            conn.close()
            raise LabelerError(damaged_message(p, e)) from None
        except BaseException:
            conn.close()
            raise
        return cls(p, conn)

    def close(self) -> None:
        self.conn.close()
        if self._held:
            self._held = False
            held.release(self.path)

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def media_folder(self) -> Path:
        """Where `import --copy` puts files and later features put large artefacts."""
        return self.folder / f"{self.path.stem}_media"

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested calls become savepoints that roll back on their own."""
        if self._depth == 0:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if "readonly" in str(e):
                    raise LabelerError(
                        f"{self.path.name} is read-only: it can be read, not changed"
                    ) from None
                raise
            self._depth = 1
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0
            return
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    # -- settings -------------------------------------------------------------------------
    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else DEFAULT_SETTINGS.get(key)

    def set_setting(self, key: str, value: str) -> None:
        with self.atomic():
            self.conn.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def multi_label(self) -> bool:
        return self.setting("multi_label") == "1"

    # -- classes --------------------------------------------------------------------------
    def classes(self) -> list[LabelClass]:
        rows = self.conn.execute(
            "SELECT id, name, colour, shortcut, position FROM classes ORDER BY position, id"
        ).fetchall()
        return [LabelClass(*r) for r in rows]

    def class_by_name(self, name: str) -> LabelClass | None:
        row = self.conn.execute(
            "SELECT id, name, colour, shortcut, position FROM classes WHERE name = ?",
            (name.strip(),),
        ).fetchone()
        return LabelClass(*row) if row else None

    def class_by_id(self, class_id: int) -> LabelClass | None:
        row = self.conn.execute(
            "SELECT id, name, colour, shortcut, position FROM classes WHERE id = ?", (class_id,)
        ).fetchone()
        return LabelClass(*row) if row else None

    def require_class(self, name: str) -> LabelClass:
        c = self.class_by_name(name)
        if c is None:
            known = ", ".join(k.name for k in self.classes()) or "none yet"
            raise LabelerError(f"no class named {name!r} (classes: {known})")
        return c

    def add_class(
        self, name: str, colour: str | None = None, shortcut: str | None = None
    ) -> LabelClass:
        """Add a class; colours come from a palette and keys 1-9 go to the first nine."""
        name = validate_class_name(name)
        if self.class_by_name(name) is not None:
            raise LabelerError(f"class {name!r} already exists")
        with self.atomic():
            n = self.conn.execute("SELECT COUNT(*), COALESCE(MAX(position), -1) FROM classes")
            count, last = n.fetchone()
            colour = validate_colour(colour) if colour else PALETTE[count % len(PALETTE)]
            if shortcut is None:
                used = {c.shortcut for c in self.classes()}
                shortcut = next((k for k in "123456789" if k not in used), None)
            cur = self.conn.execute(
                "INSERT INTO classes(name, colour, shortcut, position) VALUES (?, ?, ?, ?)",
                (name, colour, shortcut, last + 1),
            )
        return self.class_by_id(cur.lastrowid)  # type: ignore[return-value]

    def rename_class(self, old: str, new: str) -> LabelClass:
        c = self.require_class(old)
        new = validate_class_name(new)
        other = self.class_by_name(new)
        if other is not None and other.id != c.id:
            raise LabelerError(f"class {new!r} already exists (use merge to combine classes)")
        with self.atomic():
            self.conn.execute("UPDATE classes SET name = ? WHERE id = ?", (new, c.id))
        return self.class_by_id(c.id)  # type: ignore[return-value]

    def update_class(
        self, class_id: int, *, colour: str | None = None, shortcut: str | None = ""
    ) -> LabelClass:
        """Change a class's colour and/or shortcut ("" leaves the shortcut as it is)."""
        with self.atomic():
            if colour is not None:
                self.conn.execute(
                    "UPDATE classes SET colour = ? WHERE id = ?",
                    (validate_colour(colour), class_id),
                )
            if shortcut != "":
                if shortcut is not None:
                    self.conn.execute(
                        "UPDATE classes SET shortcut = NULL WHERE shortcut = ? AND id != ?",
                        (shortcut, class_id),
                    )
                self.conn.execute(
                    "UPDATE classes SET shortcut = ? WHERE id = ?", (shortcut, class_id)
                )
        return self.class_by_id(class_id)  # type: ignore[return-value]

    def merge_classes(self, source: str, target: str) -> int:
        """Move every shape of `source` to `target` and remove `source`; returns shapes moved.

        An image tagged with both keeps one tag."""
        src, dst = self.require_class(source), self.require_class(target)
        if src.id == dst.id:
            raise LabelerError("cannot merge a class into itself")
        with self.atomic():
            self.conn.execute(
                "DELETE FROM shapes WHERE kind = 'tag' AND class_id = ? AND image_id IN "
                "(SELECT image_id FROM shapes WHERE kind = 'tag' AND class_id = ?)",
                (src.id, dst.id),
            )
            moved = self.conn.execute(
                f"UPDATE shapes SET class_id = ?, updated_at = {_NOW} WHERE class_id = ?",
                (dst.id, src.id),
            ).rowcount
            # Pre-label proposals follow their class (the delete below would cascade them).
            self.conn.execute(
                "UPDATE proposals SET class_id = ? WHERE class_id = ?", (dst.id, src.id)
            )
            self.conn.execute("DELETE FROM classes WHERE id = ?", (src.id,))
        return moved

    def class_usage(self, class_id: int) -> int:
        """How many shapes (tags included) use this class: what removing it would delete."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM shapes WHERE class_id = ?", (class_id,)
        ).fetchone()[0]

    def remove_class(self, name: str, *, force: bool = False) -> int:
        """Remove a class; refuses when shapes use it unless `force`. Returns shapes deleted."""
        c = self.require_class(name)
        used = self.class_usage(c.id)
        if used and not force:
            raise LabelerError(
                f"class {c.name!r} is used by {used} shape(s); pass --force to delete them too"
            )
        with self.atomic():
            self.conn.execute("DELETE FROM shapes WHERE class_id = ?", (c.id,))
            self.conn.execute("DELETE FROM classes WHERE id = ?", (c.id,))
        return used

    # -- images ---------------------------------------------------------------------------
    _IMAGE_COLS = (
        "id, path, sha256, phash, width, height, format, bytes, channels, provenance, "
        "provenance_info, status, split, source_group, added_at, updated_at"
    )

    def _image(self, row: tuple | None) -> ImageRecord | None:
        if row is None:
            return None
        values = list(row)
        if values[3] is not None:
            values[3] = to_unsigned(values[3])
        return ImageRecord(*values)

    def image(self, image_id: int) -> ImageRecord | None:
        row = self.conn.execute(
            f"SELECT {self._IMAGE_COLS} FROM images WHERE id = ?", (image_id,)
        ).fetchone()
        return self._image(row)

    def image_by_sha(self, sha256: str) -> ImageRecord | None:
        row = self.conn.execute(
            f"SELECT {self._IMAGE_COLS} FROM images WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return self._image(row)

    def image_by_stored_path(self, stored: str) -> ImageRecord | None:
        row = self.conn.execute(
            f"SELECT {self._IMAGE_COLS} FROM images WHERE path = ?", (stored,)
        ).fetchone()
        return self._image(row)

    def find_image(self, ref: str) -> ImageRecord:
        """An image by id (a number), by path (as given or relative to the project) or by
        unique file name."""
        if len(ref) > MAX_IMAGE_REF:
            raise LabelerError(
                f"an image name of {len(ref)} characters is too long (at most {MAX_IMAGE_REF});"
                " give its id or path"
            )
        # An id past SQLite's INTEGER range is no id in the project (not an OverflowError).
        if ref.isascii() and ref.isdigit() and int(ref) < 2**63:
            img = self.image(int(ref))
            if img is not None:
                return img
        img = self.image_by_stored_path(self.stored_path(ref))
        if img is None:
            rows = self.conn.execute(
                f"SELECT {self._IMAGE_COLS} FROM images WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                (ref, "%/" + ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")),
            ).fetchall()
            if len(rows) > 1:
                raise LabelerError(f"{ref!r} matches {len(rows)} images; give its id or full path")
            img = self._image(rows[0]) if rows else None
        if img is None:
            raise LabelerError(f"no image {ref!r} in the project")
        return img

    def image_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]

    def images(self, *, split: str | None = None) -> list[ImageRecord]:
        sql = f"SELECT {self._IMAGE_COLS} FROM images"
        args: tuple = ()
        if split is not None:
            sql += " WHERE split = ?"
            args = (split,)
        rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        return [self._image(r) for r in rows]  # type: ignore[misc]

    def stored_path(self, path: str | os.PathLike[str]) -> str:
        """How a file's path is stored: relative (POSIX) when below the project's folder."""
        p = Path(path)
        if not p.is_absolute():
            p = Path.cwd() / p
        p = Path(os.path.normpath(p))
        # The folder is real (`project_path`); the file may be named through a symbolic
        # link to a folder or with '..': its folder's real path is tried second, so a link
        # inside the project that leads out of it still stores the path through the link.
        for candidate in (p, Path(os.path.realpath(p.parent)) / p.name):
            try:
                return candidate.relative_to(self.folder).as_posix()
            except ValueError:
                continue
        return str(p)

    def resolve(self, image: ImageRecord | str) -> Path:
        """The absolute path of an image's file."""
        stored = image.path if isinstance(image, ImageRecord) else image
        if os.sep == "/":  # one Path, not two: an export resolves every image of the project
            return Path(stored if stored.startswith("/") else os.path.join(self.folder, stored))
        p = Path(stored)
        return p if p.is_absolute() else self.folder / p

    def add_image(
        self,
        path: str | os.PathLike[str],
        *,
        sha256: str,
        phash: int | None,
        width: int,
        height: int,
        format: str,
        bytes: int,
        channels: int = 3,
        provenance: str = "imported",
        provenance_info: str | None = None,
        source_group: str | None = None,
        split: str | None = None,
    ) -> int:
        if split is not None and split not in SPLITS:
            raise LabelerError(f"unknown split {split!r}; expected one of {SPLITS}")
        stored = self.stored_path(path)
        with self.atomic():
            cur = self.conn.execute(
                "INSERT INTO images(path, name_key, sha256, phash, width, height, format, bytes,"
                " channels, provenance, provenance_info, source_group, split)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stored,
                    name_key(stored),
                    sha256,
                    None if phash is None else to_signed(phash),
                    width,
                    height,
                    format,
                    bytes,
                    channels,
                    provenance,
                    provenance_info,
                    source_group,
                    split,
                ),
            )
        return cur.lastrowid  # type: ignore[return-value]

    def add_probed(self, path: str | os.PathLike[str], info: ImageInfo, **extra) -> int:
        """`add_image` with the facts `labeler.core.images.probe_file` found."""
        return self.add_image(
            path,
            sha256=info.sha256,
            phash=info.phash,
            width=info.width,
            height=info.height,
            format=info.format,
            bytes=info.bytes,
            channels=info.channels,
            **extra,
        )

    def relink_image(self, image_id: int, new_path: str | os.PathLike[str]) -> None:
        stored = self.stored_path(new_path)
        with self.atomic():
            self.conn.execute(
                f"UPDATE images SET path = ?, name_key = ?, updated_at = {_NOW} WHERE id = ?",
                (stored, name_key(stored), image_id),
            )

    def set_status(self, image_id: int, status: str) -> None:
        with self.atomic():
            self.conn.execute(
                f"UPDATE images SET status = ?, updated_at = {_NOW} WHERE id = ?",
                (status, image_id),
            )

    def set_splits(self, assignment: dict[int, str | None]) -> None:
        """Write many images' splits in one transaction."""
        for s in set(assignment.values()):
            if s is not None and s not in SPLITS:
                raise LabelerError(f"unknown split {s!r}; expected one of {SPLITS}")
        with self.atomic():
            self.conn.executemany(
                f"UPDATE images SET split = ?, updated_at = {_NOW} WHERE id = ?",
                [(s, i) for i, s in assignment.items()],
            )

    def remove_images(self, image_ids: Sequence[int]) -> None:
        """Forget images (their shapes go with them); the files on disk are not touched."""
        with self.atomic():
            self.conn.executemany("DELETE FROM images WHERE id = ?", [(i,) for i in image_ids])

    # -- shapes ---------------------------------------------------------------------------
    def shapes(self, image_id: int) -> list[Shape]:
        rows = self.conn.execute(
            "SELECT kind, class_id, geometry, id, group_id FROM shapes WHERE image_id = ?"
            " ORDER BY id",
            (image_id,),
        ).fetchall()
        return [Shape.from_row(*r) for r in rows]

    def all_shapes(self) -> dict[int, list[Shape]]:
        """Every shape, grouped by image id (one query; for exports and checks)."""
        out: dict[int, list[Shape]] = {}
        for image_id, kind, class_id, geometry, sid, group in self.conn.execute(
            "SELECT image_id, kind, class_id, geometry, id, group_id FROM shapes"
            " ORDER BY image_id, id"
        ):
            out.setdefault(image_id, []).append(
                Shape.from_row(kind, class_id, geometry, sid, group)
            )
        return out

    def new_group(self) -> int:
        """A group number no shape of this project has had: for the parts of a new
        multi-part instance (`Shape.group`). Numbers are never handed out twice, even
        after the shapes that had one were deleted (an undo may bring them back)."""
        with self.atomic():
            cur = self.conn.execute("INSERT INTO shape_groups DEFAULT VALUES")
            self.conn.execute("DELETE FROM shape_groups")  # AUTOINCREMENT remembers the number
        return cur.lastrowid  # type: ignore[return-value]

    def add_shape(self, image_id: int, shape: Shape) -> Shape:
        """Store a new shape; returns it with its id. A tag already present is returned as is."""
        if self.class_by_id(shape.class_id) is None:
            raise LabelerError(f"no class with id {shape.class_id}")
        if self.image(image_id) is None:
            raise LabelerError(f"no image with id {image_id}")
        with self.atomic():
            if shape.kind == "tag":
                row = self.conn.execute(
                    "SELECT id FROM shapes WHERE image_id = ? AND class_id = ? AND kind = 'tag'",
                    (image_id, shape.class_id),
                ).fetchone()
                if row:
                    return Shape.tag(shape.class_id, id=row[0])
            cur = self.conn.execute(
                "INSERT INTO shapes(image_id, class_id, kind, geometry, group_id)"
                " VALUES (?, ?, ?, ?, ?)",
                (image_id, shape.class_id, shape.kind, shape.geometry_json(), shape.group),
            )
            self._touch(image_id)
        return Shape(shape.kind, shape.class_id, shape.points, cur.lastrowid, shape.group)

    def restore_shape(self, image_id: int, shape: Shape) -> Shape:
        """Put back a deleted shape under its old id (undo of a delete)."""
        with self.atomic():
            self.conn.execute(
                "INSERT INTO shapes(id, image_id, class_id, kind, geometry, group_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    shape.id,
                    image_id,
                    shape.class_id,
                    shape.kind,
                    shape.geometry_json(),
                    shape.group,
                ),
            )
            self._touch(image_id)
        return shape

    def update_shape(self, shape: Shape) -> None:
        """Write a changed shape (class or geometry) under its id."""
        if shape.id is None:
            raise LabelerError("cannot update a shape that was never stored")
        with self.atomic():
            cur = self.conn.execute(
                "UPDATE shapes SET class_id = ?, kind = ?, geometry = ?, group_id = ?,"
                f" updated_at = {_NOW} WHERE id = ?",
                (shape.class_id, shape.kind, shape.geometry_json(), shape.group, shape.id),
            )
            if cur.rowcount == 0:
                raise LabelerError(f"shape {shape.id} no longer exists")

    def delete_shape(self, shape_id: int) -> None:
        with self.atomic():
            self.conn.execute("DELETE FROM shapes WHERE id = ?", (shape_id,))

    def set_tag(self, image_id: int, class_id: int) -> list[Shape]:
        """Tag an image with a class. In a single-label project the image's other tags are
        removed (and returned, so an undo can put them back)."""
        removed: list[Shape] = []
        with self.atomic():
            if not self.multi_label:
                rows = self.conn.execute(
                    "SELECT kind, class_id, geometry, id, group_id FROM shapes"
                    " WHERE image_id = ? AND kind = 'tag' AND class_id != ?",
                    (image_id, class_id),
                ).fetchall()
                removed = [Shape.from_row(*r) for r in rows]
                self.conn.executemany("DELETE FROM shapes WHERE id = ?", [(s.id,) for s in removed])
            self.add_shape(image_id, Shape.tag(class_id))
        return removed

    def remove_tag(self, image_id: int, class_id: int) -> None:
        with self.atomic():
            self.conn.execute(
                "DELETE FROM shapes WHERE image_id = ? AND class_id = ? AND kind = 'tag'",
                (image_id, class_id),
            )

    def _touch(self, image_id: int) -> None:
        self.conn.execute(f"UPDATE images SET updated_at = {_NOW} WHERE id = ?", (image_id,))

    # -- statistics -----------------------------------------------------------------------
    def stats(self) -> dict:
        """Counts per class and split, unlabeled images and the imbalance ratio.

        An image counts for a class when any of its shapes (tag, box or polygon) has it.
        ``shapes`` counts instances: the parts of a multi-part instance count once.
        The imbalance ratio is the largest class's image count over the smallest non-empty
        one's (None with fewer than one non-empty class).
        """
        total = self.image_count()
        per_split = dict(
            self.conn.execute(
                "SELECT COALESCE(split, 'unassigned'), COUNT(*) FROM images GROUP BY 1"
            ).fetchall()
        )
        unlabeled = self.conn.execute(
            "SELECT COUNT(*) FROM images i WHERE NOT EXISTS"
            " (SELECT 1 FROM shapes s WHERE s.image_id = i.id)"
        ).fetchone()[0]
        image_counts: dict[int, dict[str, int]] = {}
        for cid, split, n in self.conn.execute(
            "SELECT d.class_id, COALESCE(i.split, 'unassigned'), COUNT(*) FROM"
            " (SELECT DISTINCT image_id, class_id FROM shapes) d"
            " JOIN images i ON i.id = d.image_id GROUP BY 1, 2"
        ):
            image_counts.setdefault(cid, {})[split] = n
        # Instances, not rows: the parts of a multi-part instance count once (ADR 0095).
        # Rows per class from the class index, less each group's extra parts, read from
        # the partial index of grouped shapes only (fast when there are none).
        shape_counts = dict(
            self.conn.execute("SELECT class_id, COUNT(*) FROM shapes GROUP BY 1").fetchall()
        )
        for cid, extra in self.conn.execute(
            "SELECT class_id, SUM(n - 1) FROM (SELECT class_id, COUNT(*) AS n FROM shapes"
            " INDEXED BY shapes_group WHERE group_id IS NOT NULL"
            " GROUP BY image_id, group_id, class_id) GROUP BY 1"
        ):
            shape_counts[cid] -= extra
        classes = []
        for c in self.classes():
            splits = image_counts.get(c.id, {})
            classes.append(
                ClassStats(c.id, c.name, sum(splits.values()), shape_counts.get(c.id, 0), splits)
            )
        nonempty = [c.images for c in classes if c.images > 0]
        ratio = (max(nonempty) / min(nonempty)) if nonempty else None
        generated = self.conn.execute(
            "SELECT COUNT(*) FROM images WHERE provenance = 'generated'"
        ).fetchone()[0]
        return {
            "images": total,
            "unlabeled": unlabeled,
            "generated": generated,
            "splits": {k: per_split.get(k, 0) for k in (*SPLITS, "unassigned")},
            "classes": [
                {
                    "id": c.id,
                    "name": c.name,
                    "images": c.images,
                    "shapes": c.shapes,
                    "splits": {k: c.per_split.get(k, 0) for k in (*SPLITS, "unassigned")},
                }
                for c in classes
            ],
            "imbalance_ratio": round(ratio, 3) if ratio is not None else None,
        }


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves (see Project.atomic).
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    _configure(conn)
    return conn


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that only reads a project SQLite cannot open as usual: the file is
    read-only and its folder too, so the ``-shm`` file WAL mode reads through cannot be made
    (ADR 0099). Opened ``immutable``: SQLite then reads the file alone, which is the whole
    project only when no ``-wal`` file holds changes not yet written back (a project closed
    cleanly leaves none); with one, reading would miss them, so it is refused in one line."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise LabelerError(
            f"{path.name} is read-only and so is its folder, and its latest changes are still"
            f" in {wal.name}: SQLite cannot read them without writing beside the file; make"
            " the folder writable, or copy the project with its -wal file, to read it"
        )
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True, isolation_level=None
    )
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def backups_of(path: Path) -> list[Path]:
    """The pre-upgrade backups kept beside a project, newest first."""
    found = [b for b in path.parent.glob(f"{path.name}.schema*.bak") if b.is_file()]
    return sorted(found, key=lambda b: b.stat().st_mtime, reverse=True)


def backup_hint(path: Path) -> str:
    found = backups_of(path)
    return f"; a backup is kept beside it: {found[0].name}" if found else ""


def damaged_message(path: Path, error: sqlite3.DatabaseError) -> str:
    """One line for a project SQLite cannot read: what it is, and where a copy is."""
    text = str(error)
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"{path.name} is damaged ({text}); nothing was changed" + (
            backup_hint(path) or "; no backup of it exists beside it"
        )
    return f"cannot open {path.name}: {text}"


def _table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in sorted(names)}


def _backup_matches(backup: Path, version: int, counts: dict[str, int]) -> str | None:
    """None when `backup` is a sound copy (integrity, application id, schema version and
    row counts of every table as in the project), else why it is not."""
    if not backup.is_file() or backup.stat().st_size == 0:
        return "empty"
    try:
        conn = sqlite3.connect(f"file:{quote(str(backup))}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return "fails the integrity check"
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                return "not a Labeler project"
            if conn.execute("PRAGMA user_version").fetchone()[0] != version:
                return "another schema version"
            if _table_counts(conn) != counts:
                return "other row counts"
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        return str(e)
    return None


def backup_before_upgrade(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Keep a verified copy of a project before upgrading its schema: nothing saved may be
    lost. The copy is written under a temporary name, checked (integrity, schema version,
    row counts) and only then renamed into place; an earlier copy that fails the same check
    (empty, cut short by a kill) is replaced. Raises `LabelerError` when no verified copy
    could be made: the upgrade must not go on without one."""
    target = path.with_name(f"{path.name}.schema{version}.bak")
    counts = _table_counts(conn)
    why = _backup_matches(target, version, counts) if target.exists() else "absent"
    if why is None:
        return target
    if why == "other row counts":
        # A sound copy of other content (an older state): keep it, write beside it. A broken
        # one (empty, cut short) is replaced.
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = path.with_name(f"{path.name}.schema{version}.{stamp}.bak")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        dest = sqlite3.connect(tmp)
        try:
            conn.backup(dest)
            # The copy is a plain rollback-journal file: one file, nothing beside it.
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()
        why = _backup_matches(tmp, version, counts)
        if why is not None:
            raise LabelerError(
                f"the backup of {path.name} before its upgrade could not be verified ({why});"
                " the project was not upgraded"
            )
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    except OSError as e:
        raise LabelerError(
            f"cannot write the backup {target.name} before upgrading {path.name}:"
            f" {e.strerror or e}; the project was not upgraded"
        ) from None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)
    return target


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
