"""Outputs never land on the project, its companions, its media folder or its images, and an
export cleans up after itself (issue 12, items 2, 3, 14 and "Also").

Every test drives the real command line (`labeler.cli.main`) as a user would and checks what a
user would notice: a non-zero exit with exactly one `labeler: error:` line, and the project and
its images byte-identical and still openable.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.cli import main
from labeler.store.project import Project


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def refused(capsys, *argv) -> str:
    """Run a command that must be refused; return its one error line."""
    code, _, err = run(capsys, *argv)
    lines = err.splitlines()
    assert code != 0, err
    assert len(lines) == 1 and lines[0].startswith("labeler: error: "), err
    return lines[0]


@pytest.fixture
def proj(tmp_path, capsys, cifar_subset) -> Path:
    """work/p.labeler with CIFAR images (outside its folder) labelled by folder."""
    work = tmp_path / "work"
    work.mkdir()
    path = work / "p.labeler"
    assert run(capsys, "init", path)[0] == 0
    assert run(capsys, "import", path, cifar_subset, "--labels-from-folders")[0] == 0
    return path


@pytest.fixture
def media_proj(proj, capsys, photos) -> Path:
    """`proj` plus the photos copied into its media folder (work/p_media) by `import --copy`."""
    assert run(capsys, "import", proj, photos, "--copy")[0] == 0
    assert (proj.parent / "p_media").is_dir()
    return proj


def image_paths(proj: Path) -> list[Path]:
    with Project.open(proj) as p:
        return [p.resolve(i) for i in p.images()]


def snapshot(proj: Path) -> dict[str, str]:
    """SHA-256 of the project file and of every image it references."""
    files = [proj, *image_paths(proj)]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def assert_intact(capsys, proj: Path, before: dict[str, str]) -> None:
    assert snapshot(proj) == before
    stats = run_json(capsys, "stats", proj)  # still opens, and still holds every image
    assert stats["images"] == len(before) - 1


# -- export targets -------------------------------------------------------------------------
def test_export_overwrite_into_the_project_folder_is_refused(capsys, proj):
    before = snapshot(proj)
    (proj.parent / "notes.txt").write_text("mine")
    line = refused(capsys, "export", proj, "--format", "coco", "--out", proj.parent, "--overwrite")
    assert "project file" in line and str(proj.parent) in line
    assert (proj.parent / "notes.txt").read_text() == "mine"
    assert_intact(capsys, proj, before)


def test_export_overwrite_into_a_folder_holding_the_project_deeper_is_refused(
    capsys, tmp_path, cifar_subset
):
    proj = tmp_path / "all" / "deep" / "er" / "p.labeler"
    proj.parent.mkdir(parents=True)
    assert run(capsys, "init", proj)[0] == 0
    assert run(capsys, "import", proj, cifar_subset, "--labels-from-folders")[0] == 0
    before = snapshot(proj)
    line = refused(
        capsys, "export", proj, "--format", "csv", "--out", tmp_path / "all", "--overwrite"
    )
    assert "project file" in line
    assert_intact(capsys, proj, before)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_into_a_symlink_of_the_project_folder_is_refused(capsys, proj, tmp_path):
    before = snapshot(proj)
    link = tmp_path / "alias"
    link.symlink_to(proj.parent, target_is_directory=True)
    refused(capsys, "export", proj, "--format", "csv", "--out", link, "--overwrite")
    refused(
        capsys, "export", proj, "--format", "csv", "--out", tmp_path / "x" / "..", "--overwrite"
    )
    assert_intact(capsys, proj, before)


@pytest.mark.parametrize("where", ["media", "inside-media"])
def test_export_into_the_media_folder_is_refused(capsys, media_proj, where):
    proj = media_proj
    before = snapshot(proj)
    media = proj.parent / "p_media"
    out = media if where == "media" else media / "exports" / "v1"
    line = refused(capsys, "export", proj, "--format", "coco", "--out", out, "--overwrite")
    assert "media folder" in line
    assert not (media / "exports").exists()
    assert_intact(capsys, proj, before)


def test_export_into_a_folder_holding_a_source_image_is_refused(capsys, proj, cifar_subset):
    before = snapshot(proj)
    line = refused(
        capsys, "export", proj, "--format", "yolo", "--out", cifar_subset / "cat", "--overwrite"
    )
    assert "an image of the project" in line
    assert_intact(capsys, proj, before)


def test_overwrite_refuses_a_folder_that_is_not_an_export_of_ours(capsys, proj, tmp_path):
    before = snapshot(proj)
    other = tmp_path / "thesis"
    (other / "chapters").mkdir(parents=True)
    (other / "chapters" / "one.tex").write_text("years of work")
    line = refused(capsys, "export", proj, "--format", "coco", "--out", other, "--overwrite")
    assert "not an export of ours" in line
    assert (other / "chapters" / "one.tex").read_text() == "years of work"
    # a forged or foreign manifest.json does not make it ours
    (other / "manifest.json").write_text(json.dumps({"version": {"tool": "someone-else"}}))
    refused(capsys, "export", proj, "--format", "coco", "--out", other, "--overwrite")
    assert (other / "chapters" / "one.tex").read_text() == "years of work"
    assert_intact(capsys, proj, before)


def test_overwrite_replaces_an_earlier_export_of_ours_but_not_files_added_to_it(
    capsys, proj, tmp_path
):
    out = tmp_path / "exports" / "v1"
    first = run_json(capsys, "export", proj, "--format", "yolo", "--out", out)
    assert first["verified"]
    (out / "train" / "labels.cache").parent.mkdir(parents=True, exist_ok=True)
    (out / "train" / "labels.cache").write_bytes(b"ultralytics cache")  # disposable
    again = run_json(capsys, "export", proj, "--format", "coco", "--out", out, "--overwrite")
    assert again["verified"] and again["format"] == "coco"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "coco" and manifest["tool"] == "labeler"
    assert not (out / "train" / "labels.cache").exists()
    # something a user put into the export is not ours to delete
    (out / "best.pt").write_bytes(b"weights")
    line = refused(capsys, "export", proj, "--format", "coco", "--out", out, "--overwrite")
    assert "best.pt" in line
    assert (out / "best.pt").read_bytes() == b"weights"


def test_an_export_made_before_the_tool_key_is_still_recognised(capsys, proj, tmp_path):
    out = tmp_path / "old"
    run_json(capsys, "export", proj, "--format", "csv", "--out", out)
    doc = json.loads((out / "manifest.json").read_text())
    del doc["tool"]  # what exports written before this change look like
    assert doc["version"]["tool"] == "labeler"
    (out / "manifest.json").write_text(json.dumps(doc))
    assert run_json(capsys, "export", proj, "--format", "csv", "--out", out, "--overwrite")[
        "verified"
    ]


# -- single-file outputs: health --html, recipe preview --out -----------------------------
def test_health_html_onto_the_project_file_is_refused(capsys, proj):
    before = snapshot(proj)
    line = refused(capsys, "health", proj, "--quick", "--html", proj)
    assert "project file" in line
    assert_intact(capsys, proj, before)


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal", ".schema3.bak"])
def test_health_html_onto_a_companion_name_is_refused(capsys, proj, suffix):
    before = snapshot(proj)
    companion = proj.with_name(proj.name + suffix)
    refused(capsys, "health", proj, "--quick", "--html", companion)
    assert not companion.exists()
    assert_intact(capsys, proj, before)


def test_health_html_onto_links_of_the_project_is_refused(capsys, proj, tmp_path):
    before = snapshot(proj)
    sym = tmp_path / "report.html"
    sym.symlink_to(proj)
    refused(capsys, "health", proj, "--quick", "--html", sym)
    hard = tmp_path / "hard.html"
    os.link(proj, hard)
    refused(capsys, "health", proj, "--quick", "--html", hard)
    assert_intact(capsys, proj, before)


def test_health_html_onto_an_image_or_a_hard_link_of_one_is_refused(capsys, media_proj, tmp_path):
    proj = media_proj
    before = snapshot(proj)
    image = next(p for p in image_paths(proj) if "cifar" in p.parts)  # outside the media
    line = refused(capsys, "health", proj, "--quick", "--html", image)
    assert "an image of the project" in line
    hard = tmp_path / "elsewhere.html"
    os.link(image, hard)
    line = refused(capsys, "health", proj, "--quick", "--html", hard)
    assert "an image of the project" in line
    media_report = proj.parent / "p_media" / "report.html"
    assert "media folder" in refused(capsys, "health", proj, "--quick", "--html", media_report)
    assert not media_report.exists()
    assert_intact(capsys, proj, before)


def test_health_html_elsewhere_is_written_atomically(capsys, proj, tmp_path):
    out = tmp_path / "reports" / "health.html"
    assert "folder" in refused(capsys, "health", proj, "--quick", "--html", out)
    assert not out.parent.exists()  # a typo in a folder name creates no folder
    out.parent.mkdir()
    assert run(capsys, "health", proj, "--quick", "--html", out)[0] == 0
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert [p.name for p in out.parent.iterdir()] == ["health.html"]  # no temporary left


RECIPE = {"schema_version": 1, "name": "light", "steps": [{"op": "horizontal_flip"}]}


@pytest.mark.parametrize("onto", ["image", "project", "image-symlink"])
def test_recipe_preview_onto_an_image_or_the_project_is_refused(capsys, proj, tmp_path, onto):
    recipe = tmp_path / "light.json"
    recipe.write_text(json.dumps(RECIPE))
    assert run(capsys, "recipe", proj, "add", recipe)[0] == 0
    before = snapshot(proj)
    image = next(p for p in image_paths(proj) if "cifar" in p.parts)  # outside the media
    if onto == "image":
        out = image
    elif onto == "project":
        out = proj.with_name("p.labeler.png")  # the project's name: reserved for companions
    else:
        out = tmp_path / "grid.png"
        out.symlink_to(image)
    line = refused(capsys, "recipe", proj, "preview", "light", "--image", image.name, "--out", out)
    assert ("an image of the project" if onto != "project" else "project file") in line
    assert_intact(capsys, proj, before)


# -- failures clean up, and say where ----------------------------------------------------
def test_leftovers_of_a_killed_export_are_removed_by_the_next_one(capsys, proj, tmp_path):
    parent = tmp_path / "exports"
    partial = parent / ".out.partial-x1y2"
    old = parent / ".out.old-z9"
    aug = parent / ".labeler-aug-k3"
    for d in (partial, old, aug):
        (d / "train").mkdir(parents=True)
        (d / "train" / "img.jpg").write_bytes(b"\xff" * 1000)
    other = parent / ".notes.partial-keep"  # another target's: not ours to judge
    other.mkdir()
    decoy = parent / ".out.partial-link"  # a symlink is never followed or removed
    decoy.symlink_to(proj.parent, target_is_directory=True)
    out = run_json(capsys, "export", proj, "--format", "csv", "--out", parent / "out")
    assert out["verified"]
    assert sorted(p.name for p in parent.iterdir()) == [
        ".notes.partial-keep",
        ".out.partial-link",
        "out",
    ]
    assert proj.is_file()


def test_a_running_exports_temporary_folder_is_left_alone(capsys, proj, tmp_path):
    fcntl = pytest.importorskip("fcntl")

    parent = tmp_path / "exports"
    busy = parent / ".out.partial-busy"
    busy.mkdir(parents=True)
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running export holds it
        assert run_json(capsys, "export", proj, "--format", "csv", "--out", parent / "out")[
            "verified"
        ]
        assert busy.is_dir()
    finally:
        os.close(fd)


def _break_one_image(proj: Path) -> None:
    """Replace a CIFAR image by one of another size: the export fails after it started."""
    image = next(p for p in image_paths(proj) if p.parent.name == "cat")
    cv2.imwrite(str(image), np.zeros((7, 9, 3), np.uint8))


def test_a_failed_export_removes_the_folders_it_created(capsys, proj, tmp_path):
    _break_one_image(proj)
    out = tmp_path / "new" / "deeper" / "out"
    line = refused(capsys, "export", proj, "--format", "coco", "--out", out)
    assert "on disk but" in line
    assert not (tmp_path / "new").exists()
    # a parent that existed before stays, with nothing of ours in it
    (tmp_path / "kept").mkdir()
    refused(capsys, "export", proj, "--format", "coco", "--out", tmp_path / "kept" / "a" / "b")
    assert list((tmp_path / "kept").iterdir()) == []


def test_a_full_disk_names_the_file_being_written_not_the_source(
    capsys, proj, tmp_path, monkeypatch
):
    sources = {str(p) for p in image_paths(proj)}

    def no_link(src, dst, *a, **k):
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), None, str(dst))

    def full(src, dst, *a, **k):  # what shutil.copyfile raises when sendfile hits ENOSPC
        raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(shutil, "copyfile", full)
    out = tmp_path / "exports" / "v1"
    line = refused(capsys, "export", proj, "--format", "imagefolder", "--out", out)
    assert "No space left on device" in line and str(out) in line
    assert not any(s in line for s in sources)
    assert ".partial-" not in line
    assert not (tmp_path / "exports").exists()


def test_an_export_larger_than_the_free_space_is_refused_first(capsys, proj, tmp_path, monkeypatch):
    import labeler.app.exports as dataset

    real = shutil.disk_usage

    def tiny(path):
        return real(path)._replace(free=10_000)

    monkeypatch.setattr(dataset.shutil, "disk_usage", tiny)
    before = snapshot(proj)
    out = tmp_path / "exports" / "v1"
    line = refused(capsys, "export", proj, "--format", "coco", "--out", out, "--strip-metadata")
    assert "free" in line and "needs about" in line
    assert not (tmp_path / "exports").exists()
    assert_intact(capsys, proj, before)


def test_a_full_disk_while_augmenting_names_the_copy_not_the_source(tmp_path, monkeypatch):
    from labeler.core.augment import AugmentJob, Recipe, batch, run_job

    src = tmp_path / "src.png"
    cv2.imwrite(str(src), np.full((8, 8, 3), 200, np.uint8))

    def full(path, image):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(batch, "write_image", full)
    job = AugmentJob(src, (), "key", 0, tmp_path / "out" / "src-aug0.png")
    r = run_job(job, Recipe.from_dict(RECIPE), 0)
    assert r.write_failed and not r.ok
    assert r.error == f"cannot write {job.output}: No space left on device"


def test_a_full_disk_while_augmenting_an_export_names_the_export(
    capsys, proj, tmp_path, monkeypatch
):
    import labeler.core.augment as augment

    recipe = tmp_path / "light.json"
    recipe.write_text(json.dumps(RECIPE))
    assert run(capsys, "recipe", proj, "add", recipe)[0] == 0

    def full(jobs, recipe, **kwargs):  # what run_job reports from a worker on a full disk
        for job in jobs:
            yield augment.AugmentResult(
                job,
                (),
                0,
                0,
                error=f"cannot write {job.output}: No space left on device",
                write_failed=True,
            )

    monkeypatch.setattr(augment, "augment_files", full)
    out = tmp_path / "exports" / "v1"
    line = refused(capsys, "export", proj, "--format", "coco", "--out", out, "--recipe", "light")
    assert f"cannot write {out}" in line and "No space left on device" in line
    assert "cifar" not in line
    assert not (tmp_path / "exports").exists()
