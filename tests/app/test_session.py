"""The session behind the window, driven without Qt: what each key and gesture writes to the
project, where navigation goes under a filter, and undo/redo through the edits."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from labeler.app.session import EditHistory, Session, SessionView
from labeler.core.shapes import Shape
from labeler.store import queries
from labeler.store.edits import AddShapes, SetTag, UpdateShapes
from labeler.store.project import Project
from labeler.store.queries import ImageQuery

SIZES = [(400, 300), (200, 100), (400, 300), (400, 300), (400, 300)]


class Recorder(SessionView):
    """A view that writes down what the session told it."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def image_shown(self, image, row):
        self.events.append(("image", image.id, row))

    def shapes_changed(self, shapes):
        self.events.append(("shapes", len(shapes)))

    def edit_saved(self, edit):
        self.events.append(("saved", edit.text))

    def edit_failed(self, message):
        self.events.append(("failed", message))

    def message(self, text, timeout_ms):
        self.events.append(("message", text))

    def error(self, title, text):
        self.events.append(("error", title, text))

    def messages(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "message"]


def _make(path, sizes=SIZES) -> None:
    with Project.create(path) as p:
        for i, (w, h) in enumerate(sizes):
            p.add_image(
                p.folder / f"img{i:03d}.jpg",
                sha256=f"{i:064x}",
                phash=i,
                width=w,
                height=h,
                format="JPEG",
                bytes=10,
            )
        for name in ("cat", "dog", "bird"):
            p.add_class(name)


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "work.labeler"
    _make(path)
    return path


@pytest.fixture
def view():
    return Recorder()


@pytest.fixture
def session(path, view):
    s = Session(view=view)
    s.set_project(Project.open(path))
    s.go_to_row(0)
    yield s
    s.close()


def _ids(session) -> tuple[int, int, int]:
    return tuple(session.classes)  # type: ignore[return-value]


def _stored(path, image_id) -> list[tuple]:
    """What a second connection (a reopened file) sees: (id, kind, class, points)."""
    with Project.open(path) as p:
        return [(s.id, s.kind, s.class_id, s.points) for s in p.shapes(image_id)]


def _tags(path, image_id) -> list[int]:
    return sorted(cid for _i, kind, cid, _p in _stored(path, image_id) if kind == "tag")


def _held(session) -> list[tuple]:
    return [(s.id, s.kind, s.class_id, s.points) for s in session.shapes]


# -- the tag key ----------------------------------------------------------------------------
def test_single_label_key_sets_replaces_and_a_second_press_keeps_it(session, path, view):
    cat, dog, _ = _ids(session)
    img = session.current.id
    session.pick_class(cat)
    assert _tags(path, img) == [cat]
    session.pick_class(dog)  # single-label: the new tag replaces the old one
    assert _tags(path, img) == [dog]
    session.pick_class(dog)  # confirming the label keeps it, and is no undo step
    assert _tags(path, img) == [dog]
    assert view.messages()[-1] == "Already tagged dog"
    session.undo()
    assert _tags(path, img) == [cat]
    session.undo()
    assert _tags(path, img) == []
    for _ in range(2):
        session.redo()
    assert _tags(path, img) == [dog]
    assert _held(session) == _stored(path, img)


def test_multi_label_keys_add_tags_and_a_second_press_keeps_them(session, path, view):
    cat, _, bird = _ids(session)
    session.toggle_multi_label()
    assert session.project.multi_label
    assert view.messages()[-1] == "Multi-label: an image may carry several tags"
    img = session.current.id
    session.pick_class(cat)
    session.pick_class(bird)
    assert _tags(path, img) == sorted([cat, bird])
    session.pick_class(cat)
    assert _tags(path, img) == sorted([cat, bird])
    session.toggle_multi_label()
    assert view.messages()[-1] == "Single-label: a new tag replaces the image's tag"
    session.pick_class(cat)  # back to single-label, the key of one of two tags: that one stays
    assert _tags(path, img) == [cat]


def test_a_tag_is_removed_by_selecting_and_deleting_it(session, path):
    cat, *_ = _ids(session)
    img = session.current.id
    session.pick_class(cat)
    tag = session.shapes[0]
    session.selected = lambda: [tag]  # the window hands in the shape list's selection
    session.pick_class(cat)  # a key with a tag selected sets, as without
    session.delete_selection()
    assert _tags(path, img) == []
    session.undo()
    assert _tags(path, img) == [cat]


def test_the_key_asks_the_project_what_the_image_has(session, path):
    # Another process tagged the image: the key confirms that tag and writes nothing.
    cat, *_ = _ids(session)
    with Project.open(path) as other:
        other.set_tag(session.current.id, cat)
    session.pick_class(cat)
    assert _tags(path, session.current.id) == [cat]
    assert not session.history.can_undo()


def test_a_class_key_on_a_selection_changes_its_class_and_tags_nothing(session, path):
    cat, dog, _ = _ids(session)
    session.set_tool("select")
    session.draw(Shape.box(cat, 10, 10, 50, 50))
    session.draw(Shape.box(cat, 60, 60, 90, 90))
    first = session.shapes[0]
    session.selected = lambda: [first]
    session.pick_class(dog)
    assert session.current_class == dog
    assert [(k, c) for _i, k, c, _p in _stored(path, session.current.id)] == [
        ("box", dog),
        ("box", cat),
    ]
    session.undo()
    assert all(c == cat for _i, _k, c, _p in _stored(path, session.current.id))


def test_a_class_key_with_another_tool_only_picks_the_next_shapes_class(session, path, view):
    _, dog, _ = _ids(session)
    session.set_tool("box")
    session.pick_class(dog)
    assert session.current_class == dog and _stored(path, session.current.id) == []
    session.draw(Shape.box(session.current_class, 1, 1, 5, 5))
    assert _stored(path, session.current.id)[0][2] == dog
    session.pick_class(999)  # not a class: nothing happens
    assert session.current_class == dog


def test_an_unknown_tool_is_the_tag_tool(session):
    session.set_tool("lasso")
    assert session.tool == "tag"


# -- shapes ---------------------------------------------------------------------------------
def test_draw_move_delete_and_undo_keep_ids(session, path):
    cat, *_ = _ids(session)
    img = session.current.id
    session.draw(Shape.box(cat, 10, 10, 50, 40))
    session.draw(Shape.polygon(cat, [(1, 1), (9, 1), (5, 8)]))
    box, poly = session.shapes
    session.edit_shapes([box], [box.translated(5, 5)])
    assert _stored(path, img)[0][3] == ((15, 15), (55, 45))
    session.selected = lambda: list(session.shapes)
    session.delete_selection()
    assert _stored(path, img) == [] and session.shapes == []
    session.undo()
    assert [i for i, *_ in _stored(path, img)] == [box.id, poly.id]
    session.undo()
    session.undo()
    assert [s.kind for s in session.shapes] == ["box"]
    session.redo()
    session.redo()
    assert _held(session) == _stored(path, img)


def test_nudges_of_one_gesture_are_one_undo_step(session, path):
    cat, *_ = _ids(session)
    session.draw(Shape.box(cat, 10, 10, 50, 40))
    (box,) = session.shapes
    for _ in range(3):
        (now,) = session.shapes
        session.edit_shapes([now], [now.translated(1, 0)], "nudge")
    assert session.shapes[0].points == ((13, 10), (53, 40))
    session.undo()
    assert session.shapes[0].points == box.points
    session.undo()
    assert session.shapes == [] and not session.history.can_undo()


def test_after_an_edit_the_image_is_not_read_again(session, monkeypatch):
    cat, dog, _ = _ids(session)
    reads = []
    real = session.project.shapes
    monkeypatch.setattr(session.project, "shapes", lambda i: reads.append(i) or real(i))
    session.draw(Shape.box(cat, 10, 10, 50, 40))
    (box,) = session.shapes
    session.edit_shapes([box], [box.with_class(dog)])
    session.selected = lambda: list(session.shapes)
    session.delete_selection()
    session.undo()
    session.redo()
    assert reads == []


def test_review_toggles_and_follows_the_stored_row(session, path):
    img = session.current.id
    session.toggle_reviewed()
    assert session.current.status == "reviewed"
    session.toggle_reviewed()
    assert session.current.status == "new"
    session.undo()
    with Project.open(path) as p:
        assert p.image(img).status == "reviewed" == session.current.status


def test_copy_paste_onto_a_smaller_image_clamps_to_it(session, path, view):
    cat, dog, _ = _ids(session)
    session.pick_class(dog)  # a tag: never copied
    session.draw(Shape.box(cat, 150, 50, 300, 250))
    session.draw(Shape.box(cat, 10, 10, 20, 20))
    session.copy()  # nothing selected: every box and polygon
    assert view.messages()[-1] == "Copied 2 shape(s)"
    session.step(1)  # 200 x 100
    session.paste()
    stored = _stored(path, session.current.id)
    assert [p for _i, _k, _c, p in stored] == [((150, 50), (200, 100)), ((10, 10), (20, 20))]
    session.selected = lambda: session.shapes[1:]
    session.copy()
    assert len(session.clipboard) == 1 and session.clipboard[0].id is None


# -- navigation and filters -----------------------------------------------------------------
def test_steps_stop_at_both_ends(session, view):
    session.step(-1)
    assert session.current_row == 0
    session.go_to_last()
    assert session.current_row == 4
    session.step(1)
    assert session.current_row == 4
    session.go_to_row(99)
    assert session.current_row == 4
    assert [e for e in view.events if e[0] == "image"][-1][2] == 4


def test_next_unlabeled_wraps_and_says_when_none_is_left(session, view):
    cat, *_ = _ids(session)
    session.pick_class(cat)
    session.go_to_row(2)
    session.pick_class(cat)
    session.next_unlabeled()
    assert session.current_row == 3
    session.go_to_row(4)
    session.pick_class(cat)
    session.next_unlabeled()
    assert session.current_row == 1  # wrapped
    session.pick_class(cat)
    session.next_unlabeled()
    assert session.current_row == 3
    session.pick_class(cat)
    session.next_unlabeled()
    assert view.messages()[-1] == "Every image in this list is labelled."


def test_go_to_text_takes_a_number_or_a_name(session, view):
    assert session.go_to_text("3") and session.current_row == 2
    assert session.go_to_text("img004") and session.current_row == 4
    assert not session.go_to_text("nope.png")
    assert view.messages()[-1] == "No image matching 'nope.png' in this list."


def test_filters_keep_the_current_image_when_they_can(session, path):
    cat, dog, _ = _ids(session)
    session.go_to_row(1)
    session.pick_class(cat)
    session.go_to_row(3)
    session.pick_class(dog)
    kept = session.current.id
    session.set_query(ImageQuery("labeled"))
    assert len(session.images) == 2 and session.current.id == kept and session.current_row == 1
    session.set_query(ImageQuery("unlabeled"))  # the current image is not in it: the first
    assert len(session.images) == 3 and session.current_row == 0
    session.set_query(ImageQuery(f"class:{dog}"))
    assert session.current.id == kept
    session.set_query(ImageQuery("all", "class"))
    assert [session.images.row(r).labelled for r in range(5)] == [True, True, False, False, False]
    session.set_query(ImageQuery("reviewed"))  # empty: nothing is shown, nothing to edit
    assert len(session.images) == 0 and session.current is None
    assert session.current_row is None and session.shapes == []
    session.pick_class(cat)
    session.set_query(ImageQuery("all"))  # the image comes back
    assert session.current.id == kept and _tags(path, kept) == [dog]


def test_an_image_the_filter_leaves_out_is_shown_without_a_row(session):
    session.set_query(ImageQuery("labeled"))
    outside = session.project.images()[2].id
    session.go_to_image(outside)
    assert session.current.id == outside and session.current_row is None


def test_undo_of_an_edit_on_another_image_goes_there(session, path, view):
    cat, dog, _ = _ids(session)
    first = session.current.id
    session.pick_class(cat)
    session.toggle_reviewed()
    session.step(1)
    second = session.current.id
    session.pick_class(dog)
    session.step(1)
    session.undo()
    assert session.current.id == second and _tags(path, second) == []
    session.undo()
    assert session.current.id == first and session.current_row == 0
    assert session.current.status == "new"  # the row is read after the edit, not before
    session.redo()
    session.redo()
    assert session.current.id == second and _tags(path, second) == [dog]
    assert ("image", second, 1) in view.events


# -- the history ----------------------------------------------------------------------------
def _lock(path):
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_write_that_fails_is_not_saved_and_not_in_the_history(session, path, view):
    cat, *_ = _ids(session)
    session.project.conn.execute("PRAGMA busy_timeout = 50")
    other = _lock(path)
    assert not session.apply(SetTag(session.current.id, cat))
    (failed,) = [e[1] for e in view.events if e[0] == "failed"]
    assert failed.startswith("Not saved: ") and "locked" in failed
    assert not session.history.can_undo()
    other.execute("ROLLBACK")
    other.close()
    session.pick_class(cat)
    assert _tags(path, session.current.id) == [cat] and session.history.can_undo()


def test_an_undo_that_cannot_write_leaves_the_history_in_place(session, path, view):
    cat, *_ = _ids(session)
    session.pick_class(cat)
    session.project.conn.execute("PRAGMA busy_timeout = 50")
    other = _lock(path)
    session.undo()
    assert any(e[0] == "failed" and e[1].startswith("Undo failed") for e in view.events)
    other.execute("ROLLBACK")
    other.close()
    assert session.history.can_undo() and _tags(path, session.current.id) == [cat]
    session.undo()
    assert _tags(path, session.current.id) == []


def test_edit_history_merges_gestures_and_drops_the_redo_branch(project):
    img = project.add_image(
        project.folder / "a.jpg",
        sha256="a" * 64,
        phash=1,
        width=100,
        height=80,
        format="JPEG",
        bytes=10,
    )
    cat = project.add_class("cat").id
    done: list[tuple[str, bool]] = []
    h = EditHistory(lambda: project, lambda e, u: done.append((e.text, u)), done.append)
    add = AddShapes(img, [Shape.box(cat, 0, 0, 10, 10)])
    assert h.push(add)
    (box,) = add.shapes
    a, b = box.translated(1, 0), box.translated(2, 0)
    h.push(UpdateShapes(img, [box], [a], gesture="nudge"))
    h.push(UpdateShapes(img, [a], [b], gesture="nudge"))
    h.undo()
    assert project.shapes(img)[0].points == box.points
    h.undo()
    assert project.shapes(img) == [] and not h.can_undo() and h.can_redo()
    h.redo()
    h.push(AddShapes(img, [Shape.box(cat, 5, 5, 9, 9)], text="second"))
    assert not h.can_redo()
    assert done[-1] == ("second", False) and ("add shape", True) in done


# -- classes --------------------------------------------------------------------------------
def test_class_changes_are_written_and_a_removal_clears_the_history(session, path):
    cat, dog, bird = _ids(session)
    session.pick_class(cat)
    assert session.add_class("fish").name == "fish"
    assert session.rename_class(cat, "kitten").name == "kitten"
    assert session.update_class(dog, shortcut="9").shortcut == "9"
    assert session.classes[cat].name == "kitten" and len(session.classes) == 4
    assert session.class_usage(cat) == 1
    assert session.history.can_undo()
    assert session.merge_class(cat, bird) == 1
    assert not session.history.can_undo()
    assert _tags(path, session.current.id) == [bird]
    assert [s.class_id for s in session.shapes] == [bird]
    assert session.delete_class(bird) == 1
    assert session.shapes == [] and bird not in session.classes


# -- any sequence of intents ----------------------------------------------------------------
class SessionMachine(RuleBasedStateMachine):
    """Random keys, gestures, undos and steps: the shapes the session holds (followed through
    each edit's change, never re-read) are always the ones the project holds."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        _make(self.dir / "m.labeler")
        self.session = Session()
        self.session.set_project(Project.open(self.dir / "m.labeler"))
        self.session.go_to_row(0)
        self.picked: list[int] = []
        self.session.selected = lambda: [s for s in self.session.shapes if s.id in self.picked]

    def teardown(self) -> None:
        self.session.close()
        shutil.rmtree(self.dir)

    def _boxes(self) -> list[Shape]:
        return [s for s in self.session.shapes if s.kind != "tag"]

    @rule(k=st.integers(0, 2), tool=st.sampled_from(["tag", "select", "box"]))
    def class_key(self, k, tool):
        self.session.set_tool(tool)
        self.session.pick_class(list(self.session.classes)[k])

    @rule(x=st.integers(0, 150), y=st.integers(0, 80), w=st.integers(1, 60))
    def draw(self, x, y, w):
        self.session.draw(Shape.box(list(self.session.classes)[0], x, y, x + w, y + w))

    @rule(data=st.data(), dx=st.integers(-5, 5), nudge=st.booleans())
    def move(self, data, dx, nudge):
        boxes = self._boxes()
        if boxes:
            s = data.draw(st.sampled_from(boxes))
            self.session.edit_shapes([s], [s.translated(dx, 1)], "nudge" if nudge else "")

    @rule(data=st.data())
    def select_some(self, data):
        ids = [s.id for s in self._boxes()]
        self.picked = data.draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []

    @rule()
    def delete(self):
        self.session.delete_selection()

    @rule()
    def copy_paste(self):
        self.session.copy()
        self.session.paste()

    @rule(delta=st.sampled_from([-1, 1]))
    def step(self, delta):
        self.session.step(delta)

    @rule()
    def review(self):
        self.session.toggle_reviewed()

    @rule()
    def multi_label(self):
        self.session.toggle_multi_label()

    @rule(n=st.integers(1, 3))
    def undo(self, n):
        for _ in range(n):
            self.session.undo()

    @rule()
    def redo(self):
        self.session.redo()

    @invariant()
    def shapes_are_the_projects(self):
        s = self.session
        stored = s.project.shapes(s.current.id)
        assert _held(s) == [(x.id, x.kind, x.class_id, x.points) for x in stored]
        assert s.current == queries.row_of(s.project, s.current.id)


SessionMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
test_any_sequence_of_intents = SessionMachine.TestCase
