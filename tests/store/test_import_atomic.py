"""An import either does its work or leaves the project as it was (DESIGN.md, "Files and
processes"): a class folder with a name that is not allowed is imported untagged and reported,
a missing source is refused before anything is written, and an import that fails after it
committed batches takes them back. A cancelled import keeps what it committed (documented)."""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from testdata import CIFAR_MINI

import labeler.app.annotations as dataset_module
import labeler.app.imports as importer
from labeler.app.imports import BATCH, import_folders
from labeler.cli import main
from labeler.store.project import Project

BAD_NAMES = {"ze\tbra": "cannot hold", "a\x7fb": "cannot hold", "x" * 101: "too long"}


def cifar(n: int, start: int = 0) -> list[Path]:
    """n distinct real CIFAR images (the 409 of the mini set, in a stable order)."""
    files = sorted(p for p in CIFAR_MINI.rglob("*.jpg"))
    assert start + n <= len(files)
    return files[start : start + n]


def fill(folder: Path, files: list[Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, folder / f"{f.parent.name}-{f.name}")
    return folder


def content(path: Path) -> dict[str, list[tuple]]:
    """Everything an import can change, row for row."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
            for t in ("images", "shapes", "classes")
        }
    finally:
        conn.close()


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def proj(tmp_path, capsys) -> Path:
    """A project that already holds 10 tagged images, one of whose files has since moved."""
    path = tmp_path / "p.labeler"
    assert cli(capsys, "init", path)[0] == 0
    fill(tmp_path / "before" / "old", cifar(10, start=399))
    assert cli(capsys, "import", path, tmp_path / "before", "--labels-from-folders")[0] == 0
    return path


def test_a_class_folder_with_a_forbidden_name_is_imported_untagged_and_reported(
    capsys, tmp_path, proj
):
    src = tmp_path / "src"
    fill(src / "good", cifar(300))  # more than one batch before the bad folders are reached
    for k, name in enumerate(BAD_NAMES):
        fill(src / name, cifar(5, start=300 + 5 * k))
    code, out, err = cli(capsys, "import", proj, src, "--labels-from-folders", "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["added"] == 315 and report["tags_added"] == 300
    assert report["classes_created"] == ["good"]
    assert report["untagged"] == 15
    folders = {Path(u["path"]).name: u for u in report["untagged_folders"]}
    assert set(folders) == set(BAD_NAMES)  # one entry per folder
    for name, why in BAD_NAMES.items():
        assert folders[name]["images"] == 5 and why in folders[name]["reason"]
    after = content(proj)
    assert len(after["images"]) == 10 + 315
    assert [c[1] for c in after["classes"]] == ["old", "good"]
    assert len(after["shapes"]) == 10 + 300  # the 15 are there, untagged


def test_the_text_report_names_each_untagged_folder(capsys, tmp_path, proj):
    src = tmp_path / "src"
    fill(src / "good", cifar(3))
    bad = src / "zebra\x7f"  # DEL: a control character no class name holds
    fill(bad, cifar(2, start=3))
    code, out, _ = cli(capsys, "import", proj, src, "--labels-from-folders")
    assert code == 0
    assert "2 image(s) imported untagged" in out
    assert f"untagged: {bad}: 2 image(s) imported without a tag: class name" in out


def test_a_missing_source_is_refused_before_anything_is_written(capsys, tmp_path, proj):
    src = fill(tmp_path / "src" / "good", cifar(300))
    before = content(proj)
    code, out, err = cli(capsys, "import", proj, src, tmp_path / "nope", "--labels-from-folders")
    assert code == 1 and out == ""
    assert err == f"labeler: error: no such file or folder: {tmp_path / 'nope'}\n"
    assert content(proj) == before


def test_an_import_that_fails_after_committing_takes_it_back(capsys, tmp_path, proj, monkeypatch):
    moved = next((tmp_path / "before" / "old").iterdir())
    src = tmp_path / "src"
    fill(src / "good", cifar(300))
    shutil.move(moved, src / "good" / "0-moved.jpg")  # known content, new place: a relink
    before = content(proj)
    real = importer.probe_many

    def crashes_late(paths, *args, **kwargs):  # a worker killed (OOM, decoder crash)
        for n, item in enumerate(real(paths, *args, **kwargs)):
            if n == BATCH + 20:
                raise BrokenProcessPool("a process in the process pool was terminated abruptly")
            yield item

    monkeypatch.setattr(importer, "probe_many", crashes_late)
    code, out, err = cli(capsys, "import", proj, src, "--labels-from-folders")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "terminated abruptly" in err
    assert content(proj) == before  # the relink too, and the class "good" is gone


def test_a_copy_that_fails_takes_back_the_files_and_the_rows(capsys, tmp_path, proj, monkeypatch):
    src = fill(tmp_path / "src" / "good", cifar(300))
    before = content(proj)
    media = Project.open(proj)
    folder = media.media_folder
    media.close()
    real_copy = shutil.copy2
    calls = []

    def disk_full_late(a, b, *args, **kwargs):
        calls.append(a)
        if len(calls) > BATCH + 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(a, b, *args, **kwargs)

    monkeypatch.setattr(importer.shutil, "copy2", disk_full_late)
    code, out, err = cli(capsys, "import", proj, src, "--copy")
    assert code == 1 and err.count("\n") == 1
    assert "No space left on device" in err and str(folder) in err  # the target is named
    assert content(proj) == before
    assert not (folder / "imported").exists()


def test_a_cancelled_import_keeps_what_it_committed(tmp_path):
    src = fill(tmp_path / "src" / "good", cifar(300))
    seen = []

    def progress(done, total):
        seen.append(done)

    with Project.create(tmp_path / "c.labeler") as p:
        report = import_folders(
            p, [src], progress=progress, should_stop=lambda: len(seen) > BATCH + 5
        )
        assert report.cancelled and report.added >= BATCH
        assert p.image_count() == report.added  # what the report says is what is there


def test_an_annotation_import_that_fails_midway_leaves_the_project_as_it_was(
    capsys, tmp_path, proj, monkeypatch
):
    ds = tmp_path / "ds"
    fill(ds / "good", cifar(60))
    fill(ds / "other", cifar(10, start=60))
    before = content(proj)
    real = dataset_module.probe_many

    def crashes(paths, *args, **kwargs):
        for n, item in enumerate(real(paths, *args, **kwargs)):
            if n == 50:
                raise BrokenProcessPool("a process in the process pool was terminated abruptly")
            yield item

    monkeypatch.setattr(dataset_module, "probe_many", crashes)
    code, out, err = cli(capsys, "import", proj, ds, "--format", "imagefolder")
    assert code == 1 and err.count("\n") == 1 and "terminated abruptly" in err
    assert content(proj) == before
