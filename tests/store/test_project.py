"""The project file: schema, migrations, transactions, classes, shapes and statistics."""

from __future__ import annotations

import shutil
import sqlite3
import threading

import pytest
import sqlite_utils
from testdata import TEST_DATA

from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.store.migrations import SCHEMA_VERSION
from labeler.store.project import Project


def _add_image(p: Project, name: str = "a.jpg", sha: str = "0" * 64, **kw) -> int:
    args = dict(sha256=sha, phash=1, width=100, height=80, format="JPEG", bytes=10) | kw
    return p.add_image(p.folder / name, **args)


def test_new_project_is_wal_with_foreign_keys_and_current_schema(project):
    assert project.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert project.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert project.schema_version == SCHEMA_VERSION
    tables = set(sqlite_utils.Database(project.conn).table_names())
    assert {"images", "classes", "shapes", "settings"} <= tables


def test_create_refuses_existing_file_and_wrong_suffix(tmp_path, project):
    with pytest.raises(LabelerError, match="already exists"):
        Project.create(project.path)
    with pytest.raises(LabelerError, match="must end in .labeler"):
        Project.create(tmp_path / "x.db")


def test_project_made_with_schema_1_opens_upgraded_with_its_data(tmp_path):
    path = tmp_path / "old.labeler"
    shutil.copy(TEST_DATA / "project_v1.labeler", path)
    with Project.open(path) as p:
        assert p.schema_version == SCHEMA_VERSION
        assert [c.name for c in p.classes()] == ["cat", "dog"]
        (img,) = p.images()
        assert (img.path, img.width, img.height, img.source_group) == (
            "photos/chelsea.jpg",
            451,
            300,
            None,
        )
        assert img.phash == (-123456789) & (2**64 - 1)
        shapes = p.shapes(img.id)
        assert [s.kind for s in shapes] == ["tag", "box"]
        assert shapes[1].points == ((10, 20), (110, 220))
        assert not p.multi_label  # the new settings table answers with defaults
        p.set_setting("multi_label", "1")
        assert p.multi_label
    backup = tmp_path / "old.labeler.schema1.bak"
    assert backup.exists()
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == 1


def test_project_from_newer_version_is_refused_and_left_unchanged(tmp_path, project):
    project.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    project.close()
    before = project.path.read_bytes()
    with pytest.raises(LabelerError, match="newer Labeler"):
        Project.open(project.path)
    assert project.path.read_bytes() == before


def test_other_files_are_refused_with_a_clear_message(tmp_path):
    text = tmp_path / "notes.labeler"
    text.write_text("hello")
    with pytest.raises(LabelerError, match="not an SQLite file"):
        Project.open(text)
    other = tmp_path / "other.labeler"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    with pytest.raises(LabelerError, match="not a Labeler project"):
        Project.open(other)
    with pytest.raises(LabelerError, match="no project at"):
        Project.open(tmp_path / "missing.labeler")


def test_atomic_rolls_back_everything_and_savepoints_roll_back_alone(project):
    with pytest.raises(RuntimeError), project.atomic():
        project.add_class("cat")
        raise RuntimeError("boom")
    assert project.classes() == []
    with project.atomic():
        project.add_class("dog")
        with pytest.raises(LabelerError), project.atomic():
            project.add_class("bird")
            project.add_class("dog")  # duplicate: this savepoint rolls back
    assert [c.name for c in project.classes()] == ["dog"]


def test_reader_sees_only_committed_state_while_a_write_is_open(project):
    project.add_class("cat")
    reader = Project.open(project.path)
    try:
        with project.atomic():
            project.add_class("dog")
            # WAL: the reader is not blocked and does not see the uncommitted class.
            assert [c.name for c in reader.classes()] == ["cat"]
        assert [c.name for c in reader.classes()] == ["cat", "dog"]
    finally:
        reader.close()


def test_a_connection_belongs_to_one_thread(project):
    errors = []

    def use():
        try:
            project.classes()
        except sqlite3.ProgrammingError as e:
            errors.append(e)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors and "thread" in str(errors[0])


def test_every_edit_is_committed_at_once(project):
    cat = project.add_class("cat")
    image = _add_image(project)
    project.add_shape(image, Shape.box(cat.id, 1, 2, 30, 40))
    # A second connection (another process, in effect) sees it without any save.
    other = sqlite3.connect(project.path)
    assert other.execute("SELECT kind, geometry FROM shapes").fetchall() == [
        ("box", "[[1,2],[30,40]]")
    ]


def test_classes_get_colours_and_shortcuts_and_are_validated(project):
    names = [f"c{i}" for i in range(10)]
    added = [project.add_class(n) for n in names]
    assert [c.shortcut for c in added] == list("123456789") + [None]
    assert len({c.colour for c in added}) == 10
    with pytest.raises(LabelerError, match="already exists"):
        project.add_class("C1")  # names are case-insensitive
    for bad in ("", " ", "a\nb", "x" * 101, "\ud800"):
        with pytest.raises(LabelerError):
            project.add_class(bad)
    # a label, not a file name (ADR 0024): other tools' names are kept as they are
    assert project.add_class("tv/monitor").name == "tv/monitor"
    updated = project.update_class(added[9].id, colour="#ABCDEF", shortcut="1")
    assert (updated.colour, updated.shortcut) == ("#abcdef", "1")
    assert project.class_by_id(added[0].id).shortcut is None  # a key belongs to one class


def test_single_label_tag_replaces_multi_label_adds(project):
    cat, dog = project.add_class("cat"), project.add_class("dog")
    img = _add_image(project)
    project.set_tag(img, cat.id)
    removed = project.set_tag(img, dog.id)
    assert [s.class_id for s in removed] == [cat.id]
    assert [s.class_id for s in project.shapes(img)] == [dog.id]
    project.set_setting("multi_label", "1")
    project.set_tag(img, cat.id)
    project.set_tag(img, cat.id)  # tagging twice keeps one tag
    assert sorted(s.class_id for s in project.shapes(img)) == sorted([cat.id, dog.id])


def test_merge_moves_shapes_and_keeps_one_tag(project):
    cat, kitty = project.add_class("cat"), project.add_class("kitty")
    project.set_setting("multi_label", "1")
    a, b = _add_image(project, "a.jpg", "a" * 64), _add_image(project, "b.jpg", "b" * 64)
    project.set_tag(a, cat.id)
    project.set_tag(a, kitty.id)
    project.add_shape(b, Shape.box(kitty.id, 0, 0, 5, 5))
    moved = project.merge_classes("kitty", "cat")
    assert moved == 1
    assert [c.name for c in project.classes()] == ["cat"]
    assert [(s.kind, s.class_id) for s in project.shapes(a)] == [("tag", cat.id)]
    assert [(s.kind, s.class_id) for s in project.shapes(b)] == [("box", cat.id)]


def test_remove_class_with_shapes_needs_force(project):
    cat = project.add_class("cat")
    img = _add_image(project)
    project.set_tag(img, cat.id)
    with pytest.raises(LabelerError, match="used by 1 shape"):
        project.remove_class("cat")
    assert project.shapes(img)
    assert project.remove_class("cat", force=True) == 1
    assert project.shapes(img) == []


def test_deleting_an_image_deletes_its_shapes(project):
    cat = project.add_class("cat")
    img = _add_image(project)
    project.add_shape(img, Shape.polygon(cat.id, [(0, 0), (10, 0), (5, 8)]))
    project.remove_images([img])
    assert project.conn.execute("SELECT COUNT(*) FROM shapes").fetchone()[0] == 0


def test_stats_counts_per_class_and_split_and_imbalance(project):
    a, b = project.add_class("a"), project.add_class("b")
    project.add_class("empty")
    ids = [_add_image(project, f"{i}.jpg", f"{i:064x}") for i in range(7)]
    for i in ids[:4]:
        project.set_tag(i, a.id)
    project.add_shape(ids[4], Shape.box(b.id, 0, 0, 4, 4))
    project.add_shape(ids[4], Shape.box(b.id, 5, 5, 9, 9))
    project.set_splits({ids[0]: "train", ids[1]: "train", ids[2]: "val", ids[4]: "test"})
    s = project.stats()
    assert s["images"] == 7 and s["unlabeled"] == 2
    by_name = {c["name"]: c for c in s["classes"]}
    assert by_name["a"]["images"] == 4 and by_name["a"]["splits"]["train"] == 2
    assert by_name["b"] == by_name["b"] | {"images": 1, "shapes": 2}
    assert by_name["empty"]["images"] == 0
    assert s["imbalance_ratio"] == 4.0  # the empty class does not make it infinite
    assert s["splits"] == {"train": 2, "val": 1, "test": 1, "unassigned": 3}


def test_find_image_by_id_path_or_unique_name(project):
    i = _add_image(project, "sub/a.jpg", "1" * 64)
    _add_image(project, "other/b.jpg", "2" * 64)
    assert project.find_image(str(i)).id == i
    assert project.find_image(str(project.folder / "sub/a.jpg")).id == i
    assert project.find_image("a.jpg").id == i
    with pytest.raises(LabelerError, match="no image"):
        project.find_image("zzz.jpg")
