"""Health checks on a real project with planted problems, through the store and the CLI."""

from __future__ import annotations

import json
import shutil

import cv2
from testdata import DEMO_PHOTOS

from labeler.app.health import project_health
from labeler.app.imports import import_folders
from labeler.cli import main
from labeler.core.shapes import Shape


def _checks(report) -> set[str]:
    return {f.check for f in report.findings}


def test_planted_problems_are_found_and_a_clean_project_has_none(project, tmp_path):
    src = tmp_path / "data"
    shutil.copytree(DEMO_PHOTOS, src)
    import_folders(project, [src])
    cat = project.add_class("thing")
    for img in project.images():
        project.set_tag(img.id, cat.id)
    clean = project_health(project, decode_images=False)
    planted = {
        "duplicates.near", "duplicates.leakage", "annotations.degenerate",
        "files.missing", "files.moved",
    }  # fmt: skip
    assert not (_checks(clean) & planted)

    # A near-copy (resized, re-encoded) in another split, a degenerate box, a missing file and
    # a file moved to a sibling folder.
    near = tmp_path / "near"
    near.mkdir()
    img = cv2.imread(str(src / "astronaut.jpg"))
    cv2.imwrite(str(near / "astro-small.jpg"), cv2.resize(img, (300, 300)))
    import_folders(project, [near])
    a, b = project.find_image("astronaut.jpg"), project.find_image("astro-small.jpg")
    project.set_tag(b.id, cat.id)
    project.set_splits({a.id: "train", b.id: "test"})
    coffee = project.find_image("coffee.jpg")
    project.add_shape(coffee.id, Shape.box(cat.id, 10, 10, 10, 50))
    (src / "rocket.jpg").unlink()
    (tmp_path / "elsewhere").mkdir()
    shutil.move(src / "chelsea.jpg", tmp_path / "elsewhere" / "chelsea.jpg")

    report = project_health(project, decode_images=True)
    assert planted <= _checks(report)
    leak = report.by_check("duplicates.leakage")
    assert {leak.pairs[0][0], leak.pairs[0][1]} == {a.id, b.id}
    assert coffee.id in report.by_check("annotations.degenerate").image_ids
    assert project.find_image("rocket.jpg").id in report.by_check("files.missing").image_ids
    (relink,) = report.by_check("files.moved").details["relink"]
    assert relink["new_path"] == str(tmp_path / "elsewhere" / "chelsea.jpg")


def test_health_cli_json_and_self_contained_html(project, photos, tmp_path, capsys):
    import_folders(project, [photos])
    project.close()
    html = tmp_path / "report" / "health.html"
    html.parent.mkdir()  # a report goes into a folder that exists
    assert main(["health", str(project.path), "--json", "--html", str(html)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "labeler.health/1"
    assert any(f["check"] == "balance.unlabeled" for f in data["findings"])
    text = html.read_text()
    assert "<svg" in text and "http://" not in text and "https://" not in text
