"""The image list's order: file names in natural order, then folders, whatever the stored
path looks like; and its navigation (rows, positions, next unlabeled) agrees with it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeler.app.image_list import ImageList
from labeler.core.shapes import Shape
from labeler.store.name_key import name_key
from labeler.store.queries import ImageQuery

PATHS = [
    "b/img10.jpg",
    "/elsewhere/img2.jpg",  # imported from outside the project: an absolute path
    "b/0182.jpg",
    "a/4870.jpg",
    "x10/same.jpg",
    "x2/same.jpg",
    "a/IMG1.jpg",
]
EXPECTED = [
    "b/0182.jpg",
    "a/4870.jpg",
    "a/IMG1.jpg",
    "/elsewhere/img2.jpg",
    "b/img10.jpg",
    "x2/same.jpg",
    "x10/same.jpg",
]


@pytest.fixture
def images(project):
    for i, path in enumerate(PATHS):
        project.add_image(
            path if path.startswith("/") else project.folder / path,
            sha256=f"{i:064x}",
            phash=i,
            width=10,
            height=10,
            format="JPEG",
            bytes=1,
        )
    return project


def _paths(lst: ImageList) -> list[str]:
    return [lst.row(r).path for r in range(len(lst))]


def test_name_order_is_natural_by_file_name_then_folder(images):
    lst = ImageList(images)
    assert _paths(lst) == EXPECTED
    for row, path in enumerate(EXPECTED):
        image = next(i for i in images.images() if i.path == path)
        assert lst.position_of(image.id) == row


def test_other_sorts_and_filters_keep_their_sql_order(images):
    lst = ImageList(images, ImageQuery("all", "added"))
    assert _paths(lst) == PATHS
    cat = images.add_class("cat")
    tagged = [i.id for i in images.images() if i.path in ("b/img10.jpg", "a/IMG1.jpg")]
    for image_id in tagged:
        images.add_shape(image_id, Shape.tag(cat.id))
    lst.set_query(ImageQuery(f"class:{cat.id}"))
    assert _paths(lst) == ["a/IMG1.jpg", "b/img10.jpg"]
    assert lst.position_of(images.images()[1].id) is None


def test_next_unlabeled_follows_the_lists_order_and_wraps(images):
    cat = images.add_class("cat")
    lst = ImageList(images)
    ids = [lst.row(r).id for r in range(len(lst))]
    for r in (1, 2, 4, 5, 6):
        images.add_shape(ids[r], Shape.tag(cat.id))
    assert lst.next_unlabeled(ids[0]) == ids[3]
    assert lst.next_unlabeled(ids[3]) == ids[0]  # wrapped
    assert lst.next_unlabeled(None) == ids[0]
    images.add_shape(ids[0], Shape.tag(cat.id))
    assert lst.next_unlabeled(ids[3]) is None  # the only one left is this one


def test_an_image_removed_behind_the_list_leaves_a_hole_not_a_shift(images):
    lst = ImageList(images)
    gone = lst.row(1).id
    images.conn.execute("DELETE FROM images WHERE id = ?", (gone,))
    lst._pages.clear()  # as if that page had never been read
    assert lst.row(1) is None and lst.row(2).path == EXPECTED[2]


def test_relinked_and_reimported_images_keep_their_place_by_name(images):
    lst = ImageList(images)
    moved = next(i for i in images.images() if i.path == "b/img10.jpg")
    images.relink_image(moved.id, "/mnt/new place/img3.jpg")  # now file name img3
    lst.reload()
    assert _paths(lst) == [
        "b/0182.jpg",
        "a/4870.jpg",
        "a/IMG1.jpg",
        "/elsewhere/img2.jpg",
        "/mnt/new place/img3.jpg",
        "x2/same.jpg",
        "x10/same.jpg",
    ]
    assert lst.position_of(moved.id) == 4


def test_a_write_that_leaves_the_name_key_behind_is_refused(images):
    """Whoever writes an image's path (another module, a script) must set its key: else the
    image would sit out of order in silence."""
    import sqlite3

    image = images.images()[0]
    with pytest.raises(sqlite3.IntegrityError, match="name_key does not match"):
        images.conn.execute("UPDATE images SET path = 'z/img0.jpg' WHERE id = ?", (image.id,))
    with pytest.raises(sqlite3.IntegrityError, match="name_key does not match"):
        images.conn.execute(
            "UPDATE images SET path = 'z/img0.jpg', name_key = ? WHERE id = ?",
            (name_key("z/img9.jpg"), image.id),
        )
    with pytest.raises(sqlite3.IntegrityError, match="name_key does not match"):
        images.conn.execute(
            "INSERT INTO images(path, sha256, width, height, format, bytes)"
            " VALUES ('q.jpg', 'f', 1, 1, 'JPEG', 1)"
        )
    assert _paths(ImageList(images)) == EXPECTED


def test_the_name_order_comes_from_the_index_not_a_sort(images):
    plan = " ".join(
        r[-1]
        for r in images.conn.execute(
            "EXPLAIN QUERY PLAN SELECT i.id FROM images i WHERE 1 ORDER BY i.name_key, i.id"
        )
    )
    assert "images_name_key" in plan and "TEMP B-TREE" not in plan


# Names as a user's folders hold them: digits (long runs, leading zeros), case, accents,
# letters that case-fold to two, punctuation, control characters below and around the marks.
_CHARS = st.sampled_from("aAbB0123456789-._ /\x00\x01\x02\x03\x04~éÉßẞΣσς日本İı\U0001f600")
_PATHS = st.lists(st.text(_CHARS, max_size=14), max_size=14)


@given(_PATHS)
def test_name_key_orders_as_the_reference_natural_sort(paths):
    assert sorted(paths, key=name_key) == sorted(paths, key=_reference_order)
    for a, b in zip(paths, paths[1:], strict=False):
        assert (name_key(a) == name_key(b)) == (a == b)  # a total order on paths


@given(_PATHS)
def test_sqlite_byte_order_of_the_key_is_pythons_order(paths):
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (k TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", [(name_key(p),) for p in paths])
    got = [r[0] for r in con.execute("SELECT k FROM t ORDER BY k")]
    assert got == sorted(name_key(p) for p in paths)


def test_name_key_on_huge_numbers_and_ties():
    ordered = [
        "img",  # a name that ends first
        "IMG1.jpg",  # equal names by number and case: the exact path decides
        "img01.jpg",
        "img1.jpg",
        "img1a.jpg",
        "img2.jpg",
        "img" + "9" * 999 + ".jpg",
        "img1" + "0" * 999 + ".jpg",  # 1000 digits: past any fixed-width length field
        "img1" + "0" * 4000 + ".jpg",  # (Python's int() stops at 4300 digits)
        "img.jpg",  # a number before any character, as in the reference
        "imga.jpg",
    ]
    assert sorted(reversed(ordered), key=name_key) == ordered
    assert sorted(ordered, key=name_key) == sorted(ordered, key=_reference_order)


def _reference_order(path: str) -> tuple:
    """The list's order as the textbook says it: the file name's natural key (alternating
    text and integers, case folded), then the folder's, then the exact path."""
    folder, _, name = path.rpartition("/")
    return (_natural_reference(name), _natural_reference(folder), path)


def _natural_reference(s: str) -> list:
    """The textbook natural key: alternating text and integers."""
    import re

    return [int(p) if i % 2 else p for i, p in enumerate(re.split(r"([0-9]+)", s.casefold()))]
