"""Read-only, paged and filtered views of a project's images, for lists of any size.

A `ImageQuery` (filter + sort) turns into one SQL WHERE clause and one ORDER BY key; the list
in the window asks for its `count` once and for `page`s of rows as the user scrolls, so a
project of 100,000 images never materialises more than a few pages.

>>> q = ImageQuery(filter="unlabeled", sort="name")                 # doctest: +SKIP
>>> count(project, q), page(project, q, 0, 50)[0].path               # doctest: +SKIP
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from labeler.core.errors import LabelerError
from labeler.store.project import Project

SORTS: tuple[str, ...] = ("name", "added", "class", "uncertainty")
MAX_IDS = 10_000  # an `ids:` filter lists at most this many images (SQLite's variable limit)
"""name: the file name in natural order, then the folder, then the path (`images.name_key`,
ADR 0101); added: date added; class: the first class (by class order); uncertainty: the least
sure pending proposal first. class and uncertainty break ties by the natural name order;
added by the order of adding (ids)."""

_HAS_SHAPE = "EXISTS (SELECT 1 FROM shapes s WHERE s.image_id = i.id)"
_FIXED_FILTERS: dict[str, str] = {
    "all": "1",
    "unlabeled": f"NOT {_HAS_SHAPE}",
    "labeled": _HAS_SHAPE,
    "reviewed": "i.status = 'reviewed'",
    "not_reviewed": "i.status != 'reviewed'",
    "generated": "i.provenance = 'generated'",
    "split:unassigned": "i.split IS NULL",
}
_SORT_KEYS: dict[str, str] = {
    "name": "i.name_key",
    "added": "i.added_at",
    # Unlabeled images sort last: 1e9 is above any class position.
    "class": "COALESCE((SELECT MIN(c.position) FROM shapes s JOIN classes c"
    " ON c.id = s.class_id WHERE s.image_id = i.id), 1000000000)",
    # Pre-labels: the least sure pending proposal first, images without one after.
    "uncertainty": "COALESCE((SELECT -p.uncertainty FROM proposals p WHERE p.image_id = i.id"
    f" AND NOT {_HAS_SHAPE}), 1)",
}
# Ties (images without a proposal, without a class) in natural name order, not path order:
# blue2 before blue10. Not for "added": images added in the same millisecond keep the order
# they were added in (their ids), as a date-added sort promises.
_TIE_BREAK = "i.name_key"
_NO_TIE_BREAK = ("name", "added")


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """Which images, in which order. `filter` is one of the fixed names, `split:<name>`,
    `class:<id>` or `ids:<id>,<id>,...`; `sort` is one of `SORTS`."""

    filter: str = "all"
    sort: str = "name"

    def where(self) -> tuple[str, tuple]:
        if self.filter in _FIXED_FILTERS:
            return _FIXED_FILTERS[self.filter], ()
        kind, _, arg = self.filter.partition(":")
        if kind == "split" and arg:
            return "i.split = ?", (arg,)
        if kind == "ids":  # a list of images a check pointed at, e.g. "ids:4,8,15"
            ids = tuple(int(x) for x in arg.split(",") if x.strip().isdigit())[:MAX_IDS]
            return f"i.id IN ({','.join('?' * len(ids)) or 'NULL'})", ids
        if kind == "class" and arg.isdigit():
            return (
                "EXISTS (SELECT 1 FROM shapes s WHERE s.image_id = i.id AND s.class_id = ?)",
                (int(arg),),
            )
        raise LabelerError(f"unknown image filter {self.filter!r}")

    def key(self) -> str:
        """The ORDER BY expressions, comma-separated (row values compare them all)."""
        if self.sort not in _SORT_KEYS:
            raise LabelerError(f"unknown sort {self.sort!r}; expected one of {SORTS}")
        first = _SORT_KEYS[self.sort]
        return first if self.sort in _NO_TIE_BREAK else f"{first}, {_TIE_BREAK}"


@dataclass(frozen=True, slots=True)
class ImageRow:
    """What the image list shows for one image."""

    id: int
    path: str
    sha256: str
    width: int
    height: int
    status: str
    split: str | None
    provenance: str
    labelled: bool

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


_ROW_COLS = (
    f"i.id, i.path, i.sha256, i.width, i.height, i.status, i.split, i.provenance, {_HAS_SHAPE}"
)


def count(project: Project, query: ImageQuery) -> int:
    """How many images match the query's filter."""
    where, args = query.where()
    return project.conn.execute(f"SELECT COUNT(*) FROM images i WHERE {where}", args).fetchone()[0]


def page(project: Project, query: ImageQuery, offset: int, limit: int) -> list[ImageRow]:
    """Rows `offset` .. `offset + limit - 1` of the query, in its order."""
    where, args = query.where()
    rows = project.conn.execute(
        f"SELECT {_ROW_COLS} FROM images i WHERE {where}"
        f" ORDER BY {query.key()}, i.id LIMIT ? OFFSET ?",
        (*args, limit, offset),
    ).fetchall()
    return [_row(r) for r in rows]


def ordered_ids(project: Project, query: ImageQuery) -> array[int]:
    """The ids of every image the query's filter lets through, in its order (8 bytes an
    image): one query, read through the sort's index where it has one."""
    where, args = query.where()
    return array(
        "q",
        (
            r[0]
            for r in project.conn.execute(
                f"SELECT i.id FROM images i WHERE {where} ORDER BY {query.key()}, i.id", args
            )
        ),
    )


def rows(project: Project, image_ids: list[int]) -> list[ImageRow]:
    """The rows of these images in the order given; an id no longer in the project is left
    out."""
    found: dict[int, ImageRow] = {}
    for start in range(0, len(image_ids), 500):
        chunk = image_ids[start : start + 500]
        for r in project.conn.execute(
            f"SELECT {_ROW_COLS} FROM images i WHERE i.id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            found[r[0]] = _row(r)
    return [found[i] for i in image_ids if i in found]


def unlabeled_ids(project: Project, query: ImageQuery) -> set[int]:
    """The ids of the images the filter lets through that have no shape."""
    where, args = query.where()
    return {
        r[0]
        for r in project.conn.execute(
            f"SELECT i.id FROM images i WHERE {where} AND NOT {_HAS_SHAPE}", args
        )
    }


def row_of(project: Project, image_id: int) -> ImageRow | None:
    r = project.conn.execute(
        f"SELECT {_ROW_COLS} FROM images i WHERE i.id = ?", (image_id,)
    ).fetchone()
    return _row(r) if r else None


def position_of(project: Project, query: ImageQuery, image_id: int) -> int | None:
    """The row number of an image in the query's order, or None when the filter excludes it."""
    where, args = query.where()
    key = query.key()
    found = project.conn.execute(
        f"SELECT {key} FROM images i WHERE i.id = ? AND {where}", (image_id, *args)
    ).fetchone()
    if found is None:
        return None
    marks = ", ".join("?" * (len(found) + 1))
    return project.conn.execute(
        f"SELECT COUNT(*) FROM images i WHERE {where} AND ({key}, i.id) < ({marks})",
        (*args, *found, image_id),
    ).fetchone()[0]


def next_unlabeled(project: Project, query: ImageQuery, after_image_id: int | None) -> int | None:
    """The id of the first unlabeled image after `after_image_id` in the query's order,
    wrapping around to the start; None when every matching image is labelled."""
    where, args = query.where()
    key = query.key()
    base = f"SELECT i.id FROM images i WHERE {where} AND NOT {_HAS_SHAPE}"
    if after_image_id is not None:
        cur = project.conn.execute(
            f"SELECT {key} FROM images i WHERE i.id = ?", (after_image_id,)
        ).fetchone()
        if cur is not None:
            marks = ", ".join("?" * (len(cur) + 1))
            r = project.conn.execute(
                f"{base} AND ({key}, i.id) > ({marks}) ORDER BY {key}, i.id LIMIT 1",
                (*args, *cur, after_image_id),
            ).fetchone()
            if r:
                return r[0]
    r = project.conn.execute(f"{base} ORDER BY {key}, i.id LIMIT 1", args).fetchone()
    return r[0] if r and r[0] != after_image_id else None


def find_by_name(project: Project, query: ImageQuery, text: str) -> int | None:
    """The first image (in the query's order) whose path ends with, or else contains, `text`."""
    where, args = query.where()
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    for pattern in (f"%/{esc}", esc, f"%{esc}%"):
        r = project.conn.execute(
            f"SELECT i.id FROM images i WHERE {where} AND i.path LIKE ? ESCAPE '\\'"
            f" ORDER BY {query.key()}, i.id LIMIT 1",
            (*args, pattern),
        ).fetchone()
        if r:
            return r[0]
    return None


def _row(r: tuple) -> ImageRow:
    return ImageRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]))
