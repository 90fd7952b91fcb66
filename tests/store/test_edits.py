"""Undoable edits: each do/undo/redo leaves the project exactly as before or after."""

from __future__ import annotations

import pytest

from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.store.edits import AddShapes, DeleteShapes, RemoveTag, SetStatus, SetTag, UpdateShapes


@pytest.fixture
def setup(project):
    img = project.add_image(
        project.folder / "a.jpg",
        sha256="a" * 64,
        phash=1,
        width=100,
        height=80,
        format="JPEG",
        bytes=10,
    )
    cat, dog = project.add_class("cat"), project.add_class("dog")
    return project, img, cat.id, dog.id


def _state(p, img):
    return sorted((s.id, s.kind, s.class_id, s.points) for s in p.shapes(img))


def test_add_undo_redo_keeps_the_id(setup):
    p, img, cat, _ = setup
    e = AddShapes(img, [Shape.box(cat, 1, 2, 30, 40)])
    e.do(p)
    sid = e.shapes[0].id
    assert _state(p, img) == [(sid, "box", cat, ((1, 2), (30, 40)))]
    e.undo(p)
    assert _state(p, img) == []
    e.do(p)
    assert [s.id for s in p.shapes(img)] == [sid]


def test_delete_undo_puts_shapes_back_under_their_ids(setup):
    p, img, cat, dog = setup
    a = p.add_shape(img, Shape.box(cat, 0, 0, 10, 10))
    b = p.add_shape(img, Shape.polygon(dog, [(1, 1), (9, 1), (5, 8)]))
    before = _state(p, img)
    e = DeleteShapes(img, [a, b])
    e.do(p)
    assert _state(p, img) == []
    e.undo(p)
    assert _state(p, img) == before


def test_update_moves_and_changes_class_both_ways(setup):
    p, img, cat, dog = setup
    a = p.add_shape(img, Shape.box(cat, 0, 0, 10, 10))
    moved = a.translated(5, 5).with_class(dog)
    e = UpdateShapes(img, [a], [moved])
    e.do(p)
    assert _state(p, img) == [(a.id, "box", dog, ((5, 5), (15, 15)))]
    e.undo(p)
    assert _state(p, img) == [(a.id, "box", cat, ((0, 0), (10, 10)))]


def test_update_must_name_the_same_shapes():
    with pytest.raises(LabelerError):
        UpdateShapes(1, [Shape.box(1, 0, 0, 1, 1, id=1)], [Shape.box(1, 0, 0, 1, 1, id=2)])


def test_nudges_merge_into_one_step_but_drags_do_not(setup):
    p, img, cat, _ = setup
    a = p.add_shape(img, Shape.box(cat, 0, 0, 10, 10))
    b = a.translated(1, 0)
    c = b.translated(1, 0)
    first = UpdateShapes(img, [a], [b], gesture="nudge")
    assert first.merge(UpdateShapes(img, [b], [c], gesture="nudge"))
    assert first.after == [c]
    assert not UpdateShapes(img, [a], [b]).merge(UpdateShapes(img, [b], [c]))


def test_single_label_tag_replaces_and_undo_restores(setup):
    p, img, cat, dog = setup
    old = p.add_shape(img, Shape.tag(cat))
    e = SetTag(img, dog)
    e.do(p)
    assert [(s.kind, s.class_id) for s in p.shapes(img)] == [("tag", dog)]
    e.undo(p)
    assert _state(p, img) == [(old.id, "tag", cat, ())]


def test_tag_already_present_is_not_removed_by_undo(setup):
    p, img, cat, _ = setup
    p.add_shape(img, Shape.tag(cat))
    e = SetTag(img, cat)
    e.do(p)
    e.undo(p)
    assert [(s.kind, s.class_id) for s in p.shapes(img)] == [("tag", cat)]


def test_multi_label_tags_accumulate_and_remove_tag_undoes(setup):
    p, img, cat, dog = setup
    p.set_setting("multi_label", "1")
    SetTag(img, cat).do(p)
    SetTag(img, dog).do(p)
    assert {s.class_id for s in p.shapes(img)} == {cat, dog}
    r = RemoveTag(img, cat)
    r.do(p)
    assert {s.class_id for s in p.shapes(img)} == {dog}
    r.undo(p)
    assert {s.class_id for s in p.shapes(img)} == {cat, dog}


def test_status_round_trip(setup):
    p, img, _, _ = setup
    e = SetStatus(img, "new", "reviewed")
    e.do(p)
    assert p.image(img).status == "reviewed"
    e.undo(p)
    assert p.image(img).status == "new"


def test_a_failed_edit_changes_nothing(setup):
    p, img, cat, _ = setup
    a = p.add_shape(img, Shape.box(cat, 0, 0, 10, 10))
    ghost = Shape.box(cat, 0, 0, 5, 5, id=9999)
    e = UpdateShapes(img, [a, ghost], [a.translated(3, 3), ghost])
    with pytest.raises(LabelerError):
        e.do(p)
    assert _state(p, img) == [(a.id, "box", cat, ((0, 0), (10, 10)))]


def _edits(img, cat, dog, a, b, tag):
    """One of each edit, on an image holding box `a`, polygon `b` and a `cat` tag."""
    return {
        "add": AddShapes(img, [Shape.box(dog, 1, 1, 4, 4), Shape.tag(dog)]),
        "delete": DeleteShapes(img, [a, tag]),
        "update": UpdateShapes(img, [a, b], [a.translated(2, 2), b.with_class(dog)]),
        "set tag": SetTag(img, dog),  # single-label: the cat tag goes
        "same tag": SetTag(img, cat),
        "remove tag": RemoveTag(img, cat),
        "remove absent tag": RemoveTag(img, dog),
        "status": SetStatus(img, "new", "reviewed"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "add",
        "delete",
        "update",
        "set tag",
        "same tag",
        "remove tag",
        "remove absent tag",
        "status",
    ],
)
def test_an_edits_change_turns_the_shapes_before_into_the_shapes_after(setup, name):
    p, img, cat, dog = setup
    a = p.add_shape(img, Shape.box(cat, 0, 0, 10, 10))
    b = p.add_shape(img, Shape.polygon(cat, [(1, 1), (9, 1), (5, 8)]))
    tag = p.add_shape(img, Shape.tag(cat))
    e = _edits(img, cat, dog, a, b, tag)[name]
    held = p.shapes(img)
    for undone in (False, True, False):
        if undone:
            e.undo(p)
        else:
            e.do(p)
        held = e.change(undone).apply(held)
        assert [(s.id, s) for s in held] == [(s.id, s) for s in p.shapes(img)]


def test_queries_page_filter_sort_and_position(setup):
    from labeler.store import queries
    from labeler.store.queries import ImageQuery

    p, img, cat, dog = setup
    ids = [img] + [
        p.add_image(
            p.folder / f"{n}.jpg",
            sha256=n * 64,
            phash=1,
            width=10,
            height=10,
            format="JPEG",
            bytes=1,
        )
        for n in "bcd"
    ]
    p.add_shape(ids[2], Shape.tag(dog))
    p.set_status(ids[3], "reviewed")
    q = ImageQuery("all", "name")
    assert queries.count(p, q) == 4
    assert [r.name for r in queries.page(p, q, 1, 2)] == ["b.jpg", "c.jpg"]
    assert queries.position_of(p, q, ids[3]) == 3
    assert queries.count(p, ImageQuery("unlabeled")) == 3
    assert [r.id for r in queries.page(p, ImageQuery(f"class:{dog}"), 0, 10)] == [ids[2]]
    assert [r.id for r in queries.page(p, ImageQuery("reviewed"), 0, 10)] == [ids[3]]
    assert queries.page(p, ImageQuery("all", "class"), 0, 1)[0].id == ids[2]
    assert queries.next_unlabeled(p, q, ids[1]) == ids[3]
    assert queries.next_unlabeled(p, q, ids[3]) == ids[0]
    assert queries.find_by_name(p, q, "c.jpg") == ids[2]
    assert queries.position_of(p, ImageQuery("reviewed"), ids[0]) is None
    with pytest.raises(LabelerError):
        ImageQuery("nonsense").where()
