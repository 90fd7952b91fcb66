"""The search for moved files stays in the project's folders and within its limits (issue 12)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from labeler.cli import main
from labeler.core.health import files as health_files
from labeler.store.project import Project


def add(p: Project, path: Path | str, n: int) -> int:
    return p.add_image(
        path, sha256=f"{n:064x}", phash=n, width=32, height=32, format="PNG", bytes=100 + n
    )


def health(capsys, path: Path) -> dict:
    assert main(["health", str(path), "--quick", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def missing(report: dict) -> dict:
    return next(f for f in report["findings"] if f["check"] == "files.missing")


def test_an_absolute_path_near_the_root_does_not_walk_the_disk(tmp_path, capsys, monkeypatch):
    walked: list[str] = []
    real_walk = os.walk

    def spy(top, *a, **k):
        walked.append(str(top))
        return real_walk(top, *a, **k)

    monkeypatch.setattr(health_files.os, "walk", spy)
    path = tmp_path / "p.labeler"
    with Project.create(path) as p:
        add(p, "/labeler-gone-folder/a.png", 1)  # its folder and the one above are top level
        add(p, "/b.png", 2)
    found = missing(health(capsys, path))
    assert found["details"]["searched"] == [str(tmp_path)]
    assert walked == [str(tmp_path)]
    assert sorted(found["image_ids"]) == [1, 2]


def test_the_home_folder_itself_is_never_a_search_root(tmp_path):
    roots, refused = health_files.search_roots(tmp_path, [Path.home() / "b.png"])
    assert Path.home() in refused and Path.home() not in roots


def test_a_search_cut_short_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(health_files.SEARCH_LIMITS, "folders", 5)
    path = tmp_path / "p.labeler"
    for k in range(30):
        (tmp_path / "noise" / f"d{k:02d}").mkdir(parents=True)
    with Project.create(path) as p:
        add(p, tmp_path / "gone" / "a.png", 1)
    found = missing(health(capsys, path))
    assert found["details"]["search_cut_short"] == "5 folders listed"
    assert "stopped early: 5 folders listed" in found["message"]


def test_a_file_moved_to_a_sibling_folder_is_still_found(tmp_path, capsys, photos):
    path = tmp_path / "p.labeler"
    dataset = tmp_path / "data"
    (dataset / "a").mkdir(parents=True)
    first = sorted(photos.iterdir())[0]
    shutil.copy(first, dataset / "a" / first.name)
    assert main(["init", str(path)]) == 0
    assert main(["import", str(path), str(dataset)]) == 0
    (dataset / "b").mkdir()
    os.replace(dataset / "a" / first.name, dataset / "b" / first.name)
    capsys.readouterr()
    report = health(capsys, path)
    moved = next(f for f in report["findings"] if f["check"] == "files.moved")
    assert moved["details"]["relink"][0]["new_path"] == str(dataset / "b" / first.name)


@pytest.mark.parametrize("depth", [3, 9])
def test_depth_is_bounded(tmp_path, depth):
    deep = tmp_path.joinpath(*[f"l{k}" for k in range(depth)])
    deep.mkdir(parents=True)
    (deep / "x.png").write_bytes(b"not really")
    log = health_files.SearchLog()
    files = health_files._image_files([tmp_path], health_files.SEARCH_LIMITS, 1e18, log)
    assert (deep / "x.png" in files) == (depth <= health_files.SEARCH_LIMITS["depth"])
