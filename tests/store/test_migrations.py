"""Migration 6 (multi-part instances, ADR 0095) on a project really made with schema 5,
and the group numbers through the store's shape edits."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from testdata import TEST_DATA

from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape, instances
from labeler.store.edits import AddShapes, DeleteShapes
from labeler.store.migrations import SCHEMA_VERSION
from labeler.store.name_key import name_key
from labeler.store.project import Project
from labeler.store.queries import ImageQuery, ordered_ids


def test_project_made_with_schema_5_opens_upgraded_with_its_shapes_alone(tmp_path):
    path = tmp_path / "old.labeler"
    shutil.copy(TEST_DATA / "project_v5.labeler", path)
    with Project.open(path) as p:
        assert p.schema_version == SCHEMA_VERSION >= 6
        (img,) = p.images()
        shapes = p.shapes(img.id)
        assert [s.kind for s in shapes] == ["tag", "polygon", "polygon"]
        assert [s.group for s in shapes] == [None, None, None]  # each its own instance
        assert p.stats()["classes"][0]["shapes"] == 3
        # The upgraded project holds groups: the two polygons become one instance.
        g = p.new_group()
        for s in shapes[1:]:
            p.update_shape(s.in_group(g))
        assert [len(i) for i in instances(p.shapes(img.id))] == [1, 2]
        assert p.stats()["classes"][0]["shapes"] == 2
    backup = tmp_path / "old.labeler.schema5.bak"
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == 5
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM shapes WHERE group_id IS NOT NULL").fetchone() == (2,)
    with pytest.raises(sqlite3.IntegrityError):  # the schema refuses a group number of 0
        con.execute("UPDATE shapes SET group_id = 0 WHERE kind = 'polygon'")


def _image(p: Project) -> int:
    return p.add_image(
        p.folder / "a.jpg", sha256="0" * 64, phash=1, width=100, height=80, format="JPEG", bytes=9
    )


def test_group_numbers_are_never_handed_out_twice_and_undo_restores_the_parts(project):
    cat = project.add_class("cat").id
    image = _image(project)
    g = project.new_group()
    parts = [
        Shape.polygon(cat, [(0, 0), (10, 0), (0, 10)], group=g),
        Shape.box(cat, 20, 20, 30, 30, group=g),
    ]
    add = AddShapes(image, parts)
    add.do(project)
    stored = project.shapes(image)
    assert [s.group for s in stored] == [g, g]
    delete = DeleteShapes(image, stored)
    delete.do(project)
    assert project.new_group() > g  # the deleted group's number stays taken
    delete.undo(project)
    assert [len(i) for i in instances(project.shapes(image))] == [2]
    with pytest.raises(LabelerError, match="tag is never part of a group"):
        Shape("tag", cat, (), None, g)


def test_project_made_with_schema_6_opens_with_its_images_in_natural_name_order(tmp_path):
    path = tmp_path / "old.labeler"
    shutil.copy(TEST_DATA / "project_v6.labeler", path)
    with Project.open(path) as p:
        assert p.schema_version == SCHEMA_VERSION >= 7
        by_id = {i.id: i.path for i in p.images()}
        assert [by_id[i] for i in ordered_ids(p, ImageQuery())] == [
            "b/0182.jpg",
            "a/4870.jpg",
            "a/IMG1.jpg",  # img1 three times: the exact path decides
            "a/img01.jpg",
            "a/img1.jpg",
            "/elsewhere/img2.jpg",
            "b/img10.jpg",
            "big/n" + "9" * 40 + ".jpg",
            "big/n1" + "0" * 40 + ".jpg",
            "x2/same.jpg",
            "x10/same.jpg",
            "Ünïcode/éclair 3.png",
            "Ünïcode/Éclair 20.png",
        ]
        keys = p.conn.execute("SELECT path, name_key FROM images").fetchall()
        assert all(key == name_key(path) for path, key in keys)
        # The other filters and what the image had are as they were.
        assert len(ordered_ids(p, ImageQuery("labeled"))) == 1
        assert p.stats()["classes"][0]["images"] == 1
    backup = tmp_path / "old.labeler.schema6.bak"
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == 6
