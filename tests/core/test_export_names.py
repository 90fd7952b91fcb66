"""Export file names (issue 13): a project holding ``cat.jpg`` and ``cat.png``, or two
``img.jpg`` from different folders, exports in every format, under names that are unique,
safe, stable from one export to the next, and mapped back to the images in the manifest.
And the rule on what an export leaves out: no image is an error; most images, or every label,
left out is said loudly with counts, in every format; never a bare "checked"."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from labeler.app.exports import export_file_names, export_project
from labeler.app.imports import import_folders
from labeler.cli import main
from labeler.core.errors import LabelerError
from labeler.core.formats import EXPORTERS, get_importer
from labeler.core.formats.export import name_key
from labeler.core.shapes import Shape
from labeler.store.recipes import save_recipe
from labeler.store.versions import list_versions

# Names that clash in some export: case, extension, and the same name in two folders.
CLASHING = ["a/cat.jpg", "a/cat.png", "b/Cat.JPG", "b/img.jpg", "c/img.jpg", "c/dog.png"]


def _write(path: Path, seed: int, w: int = 40, h: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(path.suffix.lower(), pixels)
    assert ok
    buf.tofile(str(path))


@pytest.fixture
def clashing(project, tmp_path):
    """A project whose six images clash by name, each with a tag and a box."""
    src = tmp_path / "photos"
    for n, rel in enumerate(CLASHING):
        _write(src / rel, n)
    import_folders(project, [src])
    cat, dog = project.add_class("cat"), project.add_class("dog")
    for n, img in enumerate(project.images()):
        cls = cat if n % 2 else dog
        project.set_tag(img.id, cls.id)
        project.add_shape(img.id, Shape.box(cls.id, 2, 3, 20 + n, 15))
    return project


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_images_with_clashing_names_export_in_every_format(clashing, tmp_path, fmt):
    outcome = export_project(clashing, fmt, tmp_path / fmt, seed=1)
    assert outcome.report.verified
    assert sum(outcome.report.images.values()) == len(CLASHING) and outcome.not_exported == 0
    manifest = json.loads((tmp_path / fmt / "manifest.json").read_text())
    entries = manifest["images"]
    by_id = {i.id: i for i in clashing.images()}
    assert sorted(e["image_id"] for e in entries) == sorted(by_id)
    for e in entries:  # every export name leads back to its image
        assert e["project_path"] == by_id[e["image_id"]].path
        assert e["source_sha256"] == by_id[e["image_id"]].sha256
        assert (tmp_path / fmt / e["file"]).is_file()
    keys = [name_key(e["file_name"]) for e in entries]
    assert len(set(keys)) == len(keys)  # distinct even ignoring case and extension
    records = get_importer(EXPORTERS.get(fmt).importer).read(tmp_path / fmt).records
    assert len(records) == len(CLASHING)


def test_the_lowest_id_keeps_its_name_and_later_images_never_rename_earlier_ones(
    clashing, tmp_path
):
    first = export_file_names(clashing.images())
    ids = sorted(first)
    by_path = {i.path.split("photos/", 1)[-1]: i.id for i in clashing.images()}
    assert first[by_path["a/cat.jpg"]] == "cat.jpg"  # lowest id of the "cat" names
    assert first[by_path["a/cat.png"]] == f"cat-{by_path['a/cat.png']}.png"
    assert first[by_path["b/Cat.JPG"]] == f"Cat-{by_path['b/Cat.JPG']}.JPG"
    assert first[by_path["c/dog.png"]] == "dog.png"  # no clash, no suffix
    assert export_file_names(clashing.images()) == first  # stable
    more = tmp_path / "more"
    _write(more / "CAT.bmp", 77)
    _write(more / "img.png", 78)
    import_folders(clashing, [more])
    again = export_file_names(clashing.images())
    assert {i: again[i] for i in ids} == first  # the new images took new names
    assert len({name_key(n) for n in again.values()}) == len(again)


def test_a_derived_name_never_takes_a_real_one_and_odd_characters_are_made_safe():
    images = [
        SimpleNamespace(id=1, path="x/cat.png"),
        SimpleNamespace(id=2, path="y/cat.jpg"),  # would become cat-2.jpg...
        SimpleNamespace(id=3, path="z/CAT-2.png"),  # ...which this one already is
        SimpleNamespace(id=4, path="a:b*c?.png"),
        SimpleNamespace(id=5, path="new\nline.png"),
        SimpleNamespace(id=6, path='q"<>|\\.png'),
        SimpleNamespace(id=7, path="dots. . ."),
    ]
    names = export_file_names(images)
    assert names[1] == "cat.png" and names[3] == "CAT-2.png" and names[2] == "cat-2-2.jpg"
    assert names[4] == "a_b_c_.png" and names[5] == "new_line.png" and names[6] == "q_____.png"
    assert names[7] == "dots"
    assert len({name_key(n) for n in names.values()}) == len(names)


def test_augmented_copies_do_not_take_a_project_image_name(project, tmp_path):
    src = tmp_path / "photos"
    _write(src / "cat.jpg", 1)
    _write(src / "cat-aug0.jpg", 2)  # what the first copy of cat.jpg would be called
    import_folders(project, [src])
    cls = project.add_class("cat")
    for img in project.images():
        project.set_tag(img.id, cls.id)
    with project.atomic():
        project.conn.execute("UPDATE images SET split = 'train'")
    save_recipe(project, "flip", {"schema_version": 1, "steps": [{"op": "horizontal_flip"}]})
    outcome = export_project(project, "csv", tmp_path / "out", recipe="flip", multiplier=1)
    assert outcome.report.verified and outcome.augmented == 2
    files = [e["file_name"] for e in _manifest(tmp_path / "out")["images"]]
    assert len({name_key(f) for f in files}) == len(files) == 4
    assert "cat-aug0.jpg" in files and "cat-aug0-aug0.jpg" in files and "cat-aug0-2.jpg" in files


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_real_loaders_read_an_export_of_clashing_names(clashing, tmp_path):
    from pycocotools.coco import COCO
    from torchvision import datasets

    export_project(clashing, "coco", tmp_path / "coco", seed=2)
    total = 0
    for f in sorted((tmp_path / "coco" / "annotations").iterdir()):
        coco = COCO(str(f))
        total += len(coco.getImgIds())
        for img in coco.loadImgs(coco.getImgIds()):
            assert (tmp_path / "coco" / img["file_name"]).is_file() or any(
                (tmp_path / "coco" / "images").rglob(img["file_name"])
            )
    assert total == len(CLASHING)
    export_project(clashing, "imagefolder", tmp_path / "if", seed=2)
    seen = sum(
        len(datasets.ImageFolder(str(tmp_path / "if" / s)))
        for s in ("train", "val", "test")
        if (tmp_path / "if" / s).is_dir()
    )
    assert seen == len(CLASHING)


# -- what an export leaves out ------------------------------------------------------------
@pytest.fixture
def labelled(project, tmp_path):
    """Ten images: each format's rule is tried on a project whose labels are changed."""
    src = tmp_path / "ten"
    for n in range(10):
        _write(src / f"i{n}.png", 100 + n)
    import_folders(project, [src])
    project.add_class("cat")
    project.add_class("dog")
    return project


def _label(project, how: str) -> None:
    """``how``: tags, boxes, mixed (tags on 6, boxes on 4), few-tags (tags on 3), none."""
    cat = project.classes()[0]
    for n, img in enumerate(project.images()):
        tag = how == "tags" or (how == "mixed" and n < 6) or (how == "few-tags" and n < 3)
        box = how == "boxes" or (how == "mixed" and n >= 6)
        if tag:
            project.set_tag(img.id, cat.id)
        if box:
            project.add_shape(img.id, Shape.box(cat.id, 1, 1, 20, 20))


@pytest.mark.parametrize("how", ["tags", "boxes", "mixed", "few-tags", "none"])
@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_every_format_says_what_it_leaves_out(labelled, tmp_path, fmt, how):
    """The rule on every registered format and every mix of labels: an export that would
    hold no image is refused with counts and writes nothing; otherwise every image or label
    it does not hold is in the report's warnings, and the 'checked' line says so."""
    _label(labelled, how)
    labels = sum(len(s) for s in labelled.all_shapes().values())
    out = tmp_path / "out"
    try:
        outcome = export_project(labelled, fmt, out, seed=3)
    except LabelerError as e:
        message = str(e)
        assert "\n" not in message and "would export none of the 10 image(s)" in message
        assert "nothing was written" in message and not out.exists()
        assert list_versions(labelled) == []
        return
    report = outcome.report
    exported = sum(report.images.values())
    written = sum(n for per in report.shapes.values() for k in per.values() for n in k.values())
    assert exported + outcome.not_exported == outcome.project_images == 10
    if outcome.not_exported:
        assert any(f"{outcome.not_exported} of 10 image(s)" in w for w in report.warnings)
    if outcome.not_exported > 5:
        assert any(w.startswith("MOST IMAGES ARE NOT EXPORTED") for w in report.warnings)
    if labels and not written:
        assert any(w.startswith("NO LABEL IS EXPORTED") for w in report.warnings)
    if not labels:
        assert any("has a label" in w for w in report.warnings)
    lost = outcome.not_exported or written < labels
    if lost:
        assert report.warnings, (fmt, how)


def test_imagefolder_of_a_project_without_classes_on_images_is_refused(labelled, capsys, tmp_path):
    out = tmp_path / "if"
    code = main(["export", str(labelled.path), "--format", "imagefolder", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 1 and err.count("\n") == 1
    assert "imagefolder would export none of the 10 image(s)" in err
    assert "has no image-level class: 10" in err and not out.exists()


def test_the_checked_line_is_never_bare_when_something_is_left_out(labelled, capsys, tmp_path):
    _label(labelled, "few-tags")
    args = ["export", str(labelled.path), "--format", "imagefolder", "--out"]
    assert main([*args, str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("not exported: ") for line in out) == 7
    loud = "warning: MOST IMAGES ARE NOT EXPORTED: 7 of 10 image(s) are not in this imagefolder"
    assert any(line.startswith(loud) for line in out)
    assert out[-1].startswith("checked: re-read the export and found what was written; 7 of 10")
    assert out[-1].endswith("1 warning(s) above")
    data = json.loads(_run_json(capsys, [*args, str(tmp_path / "b")]))
    assert data["not_exported"] == 7 and data["project_images"] == 10
    coco = ["export", str(labelled.path), "--format", "coco", "--out", str(tmp_path / "c")]
    assert main(coco) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("warning: NO LABEL IS EXPORTED: coco holds none") for line in out)
    assert out[-1].endswith("warning(s) above")


def _run_json(capsys, argv: list[str]) -> str:
    assert main([*argv, "--json"]) == 0
    return capsys.readouterr().out


def test_imagefolder_makes_class_folders_safe_and_reading_back_restores_the_names(
    project, tmp_path
):
    """A class is a label, not a file name (tv/monitor is one in labelme's own examples): the
    folder gets a safe name, the export still passes its check, torchvision's ImageFolder
    reads it, and importing the export gives the real names back."""
    from torchvision.datasets import ImageFolder

    from labeler.app.annotations import import_annotations
    from labeler.store.project import Project

    for k in range(4):
        _write(tmp_path / "src" / f"im{k}.png", k)
    import_folders(project, [tmp_path / "src"])
    tv, odd = project.add_class("tv/monitor"), project.add_class('say "hi"?')
    for k, image in enumerate(project.images()):
        project.add_shape(image.id, Shape.tag((tv if k % 2 else odd).id))
    out = export_project(project, "imagefolder", tmp_path / "v1")
    assert out.report.verified
    folders = {
        p.name for split in (tmp_path / "v1").iterdir() if split.is_dir() for p in split.iterdir()
    }
    assert folders <= {"tv_monitor", "say _hi__"} and "tv_monitor" in folders
    loaded = ImageFolder(str(tmp_path / "v1" / "train"))
    assert loaded.classes and set(loaded.classes) <= {"say _hi__", "tv_monitor"}
    with Project.create(tmp_path / "back.labeler") as back:
        import_annotations(back, tmp_path / "v1", "imagefolder")
        assert {c.name for c in back.classes()} == {"tv/monitor", 'say "hi"?'}


def test_two_classes_sharing_one_safe_folder_name_are_refused_in_one_line(
    project, tmp_path, capsys
):
    _write(tmp_path / "src" / "a.png", 1)
    import_folders(project, [tmp_path / "src"])
    project.add_class("tv/monitor")
    project.add_class("tv_monitor")
    project.add_shape(project.images()[0].id, Shape.tag(project.class_by_name("tv_monitor").id))
    code = main(
        ["export", str(project.path), "--format", "imagefolder", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "would share the folder 'tv_monitor'" in err
    assert not (tmp_path / "o").exists()
