"""CreateML JSON export and import, loaded from the user plugin folder, checked end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labeler.core.errors import LabelerError
from labeler.core.formats import EXPORTERS, IMPORTERS, ExportItem, export_dataset
from labeler.core.shapes import Shape

PHOTOS = Path(__file__).resolve().parents[3] / "resources" / "demo-photos"
CLASSES = [(1, "cat"), (2, "rocket"), (3, "cup")]


@pytest.fixture
def createml(load_from_folder):
    status = load_from_folder("createml", "labeler_createml")
    assert status.error is None and status.loaded
    return status


def _items() -> list[ExportItem]:
    return [
        ExportItem(
            1,
            PHOTOS / "chelsea.jpg",
            "cats/chelsea.jpg",
            451,
            300,
            "train",
            (Shape.box(1, 140.5, 20, 330.25, 290), Shape.tag(1)),
        ),
        ExportItem(
            2,
            PHOTOS / "rocket.jpg",
            "rocket.jpg",
            640,
            427,
            "train",
            # A polygon becomes its box; a box sticking out is clipped to the image.
            (
                Shape.polygon(2, [(300, 10), (340, 10), (330, 400)]),
                Shape.box(2, 600, 400, 700, 500),
            ),
        ),
        ExportItem(3, PHOTOS / "coffee.jpg", "coffee.jpg", 600, 400, "val", (Shape.tag(3),)),
        ExportItem(4, PHOTOS / "coins.png", "coins.png", 384, 303, "test", ()),
    ]


def test_the_plugin_adds_an_exporter_and_its_importer(createml):
    assert createml.adds.exporters == ("createml",) and createml.adds.importers == ("createml",)
    assert EXPORTERS["createml"].importer == "createml"


def test_export_writes_createml_json_per_split_and_passes_the_check(createml, tmp_path):
    out = tmp_path / "out"
    report = export_dataset("createml", _items(), CLASSES, out, manifest={"name": "v1"})
    assert report.verified and report.images == {"train": 2, "val": 1, "test": 1}
    assert report.files == [
        "test/annotations.json",
        "train/annotations.json",
        "val/annotations.json",
    ]
    train = json.loads((out / "train" / "annotations.json").read_text())
    assert train == [
        {
            "image": "cats/chelsea.jpg",
            "annotations": [
                {
                    "label": "cat",
                    "coordinates": {"x": 235.375, "y": 155, "width": 189.75, "height": 270},
                }
            ],
        },
        {
            "image": "rocket.jpg",
            "annotations": [
                {
                    "label": "rocket",
                    "coordinates": {"x": 320, "y": 205, "width": 40, "height": 390},
                },
                {
                    "label": "rocket",
                    "coordinates": {"x": 620, "y": 413.5, "width": 40, "height": 27},
                },
            ],
        },
    ]
    assert json.loads((out / "val" / "annotations.json").read_text()) == [
        {"image": "coffee.jpg", "annotations": []}
    ]
    assert (out / "train" / "cats" / "chelsea.jpg").is_file()
    # `--format auto` tries the built-in importers first, and COCO's detect takes any folder
    # of JSON files, so a CreateML export is imported with `--format createml`.
    assert IMPORTERS["createml"].detect(out) and not IMPORTERS["createml"].detect(tmp_path)


def test_the_export_is_reproducible_byte_for_byte(createml, tmp_path):
    export_dataset("createml", _items(), CLASSES, tmp_path / "a", manifest={})
    export_dataset("createml", _items()[::-1], CLASSES, tmp_path / "b", manifest={})
    for split in ("train", "val", "test"):
        rel = f"{split}/annotations.json"
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_the_importer_reads_records_and_reports_bad_entries(createml, tmp_path):
    root = tmp_path / "ds"
    (root / "train").mkdir(parents=True)
    (root / "train" / "a.jpg").write_bytes((PHOTOS / "chelsea.jpg").read_bytes())
    doc = [
        {
            "image": "a.jpg",
            "annotations": [
                {"label": "cat", "coordinates": {"x": 100, "y": 50, "width": 20, "height": 10}}
            ],
        },
        {"image": "../../etc/passwd", "annotations": []},
        {"image": "a.jpg", "annotations": [{"label": "cat", "coordinates": {"x": 1}}]},
        {"image": "missing.jpg", "annotations": []},
        "not an entry",
    ]
    (root / "train" / "annotations.json").write_text(json.dumps(doc))
    result = IMPORTERS["createml"].read(root)
    assert [r.path for r in result.records] == ["train/a.jpg"]
    rec = result.records[0]
    assert (rec.width, rec.height, rec.split) == (451, 300, "train")
    assert rec.shapes[0].points == ((90.0, 45.0), (110.0, 55.0))
    assert result.classes == ["cat"]
    assert result.problems == [
        "train/annotations.json: [1].image: '../../etc/passwd' points outside the dataset",
        "train/annotations.json: [2].annotations[0]: expected label and coordinates x, y,"
        " width, height",
        "train/annotations.json: [3].image: missing.jpg: file not found",
        "train/annotations.json: [4]: expected {'image': name, 'annotations': [...]}",
    ]


def test_a_malformed_file_is_one_problem_not_a_crash(createml, tmp_path):
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "annotations.json").write_text("{not json")
    result = IMPORTERS["createml"].read(tmp_path)
    assert result.records == [] and result.problems[0].startswith("val/annotations.json: cannot")


def test_a_project_exports_createml_through_the_store(createml, tmp_path):
    """What `labeler export --format createml` does once the CLI loads plugins."""
    from labeler.app.exports import export_project
    from labeler.app.imports import import_folders
    from labeler.store.project import Project

    with Project.create(tmp_path / "p.labeler") as p:
        import_folders(p, [PHOTOS])
        p.add_class("thing")
        outcome = export_project(p, "createml", tmp_path / "export")
        data = outcome.to_json()
    assert data["verified"] and data["format"] == "createml"
    files = sorted(
        f.relative_to(tmp_path / "export").as_posix()
        for f in (tmp_path / "export").rglob("annotations.json")
    )
    assert files and all(f.endswith("/annotations.json") for f in files)


def test_without_the_plugin_the_format_is_unknown(tmp_path):
    with pytest.raises(LabelerError, match="unknown export format 'createml'"):
        export_dataset("createml", _items(), CLASSES, tmp_path / "x", manifest={})
