"""The image list's order: file names in natural order, then folders, whatever the stored
path looks like; and its navigation (rows, positions, next unlabeled) agrees with it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeler.app.image_list import ImageList, natural_key
from labeler.core.shapes import Shape
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


@given(st.lists(st.tuples(st.text("aB0-. "), st.integers(0, 10**30)), max_size=12))
def test_natural_key_orders_numbers_as_numbers(parts):
    names = [f"{prefix}{n}" for prefix, n in parts]
    ordered = sorted(names, key=lambda s: (natural_key(s), s))
    by_value = sorted(names, key=lambda s: (_natural_reference(s), s))
    assert ordered == by_value


def _natural_reference(s: str) -> list:
    """The textbook natural key: alternating text and integers."""
    import re

    return [int(p) if i % 2 else p for i, p in enumerate(re.split(r"([0-9]+)", s.casefold()))]
