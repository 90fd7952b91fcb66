"""No process of ours imports code from the current folder, a dataset or an export (ADR 0080).

Python modules that write a marker file when imported are planted where a stranger's dataset
would put them; the real installed command then runs every entry point that starts worker
processes (a folder import of 48+ images, an annotation-format import, an export with a recipe
and a multiplier), from that folder. The marker must never appear and the command must succeed.
The window's jobs call the same functions in-process: they are checked as a library caller
whose ``sys.path`` starts with ``''`` (``python -c``, a notebook).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from testdata import CIFAR_MINI, REPO

PLANTS = (
    "multiprocessing/__init__.py",
    "concurrent/__init__.py",
    "labeler/__init__.py",
    "labeler/__main__.py",
    "cv2.py",
    "numpy/__init__.py",
    "PIL/__init__.py",
    "sitecustomize.py",
    "usercustomize.py",
)
# `python -m labeler` finds the `labeler` package itself on a sys.path that starts with the
# current folder, before any of our code runs: Python's rule, which no program can change
# (use the `labeler` command, or `python -P -m labeler`). Everything after that is ours.
NOT_FOR_MODULE = {"labeler/__init__.py", "labeler/__main__.py"}
LABELER = Path(sys.executable).parent / "labeler"
HOW = ["script", "module"]
RECIPE = {
    "schema_version": 1,
    "name": "light",
    "steps": [
        {"op": "horizontal_flip", "p": 0.5},
        {"op": "rotate", "params": {"angle": [-10, 10]}},
    ],
}


def plant(folder: Path, markers: Path, skip: set[str] = frozenset()) -> None:
    markers.mkdir(exist_ok=True)
    for rel in PLANTS:
        if rel in skip:
            continue
        f = folder / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(
            f"open({str(markers)!r} + '/' + {rel.replace('/', '.')!r} + '-'"
            " + str(__import__('os').getpid()), 'w').close()\n"
        )


def planted_ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


def dataset(root: Path, n: int = 60) -> Path:
    """n real CIFAR images (enough for the import's process pool), two class folders."""
    files = sorted((CIFAR_MINI / "airplane").iterdir())[: n // 2]
    files += sorted((CIFAR_MINI / "automobile").iterdir())[: n - n // 2]
    for f in files:
        (root / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, root / f.parent.name / f.name)
    return root


def labeler(how: str, *args: object, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [str(LABELER)] if how == "script" else [sys.executable, "-m", "labeler"]
    env = {**os.environ, "LABELER_PROGRESS": "0"}
    env.pop("PYTHONSAFEPATH", None)
    return subprocess.run(
        [*cmd, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def ok_json(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def skip_for(how: str) -> set[str]:
    return NOT_FOR_MODULE if how == "module" else set()


@pytest.mark.parametrize("how", HOW)
def test_import_runs_no_code_from_the_current_folder(tmp_path, how):
    here, markers = tmp_path / "here", tmp_path / "markers"
    plant(here, markers, skip_for(how))
    ds = dataset(tmp_path / "ds")
    ok_json(labeler(how, "init", tmp_path / "p.labeler", "--json", cwd=here))
    out = labeler(how, "import", tmp_path / "p.labeler", ds, "--labels-from-folders", "--json",
                  cwd=here)  # fmt: skip
    assert planted_ran(markers) == []
    assert ok_json(out)["added"] == 60


@pytest.mark.parametrize("how", HOW)
def test_importing_a_dataset_from_inside_it_runs_none_of_its_code(tmp_path, how):
    ds, markers = dataset(tmp_path / "ds"), tmp_path / "markers"
    plant(ds, markers, skip_for(how))
    plant(ds / "airplane", markers)  # a class folder is no place for code either
    out = labeler(how, "init", tmp_path / "p.labeler", cwd=ds)
    assert out.returncode == 0, out.stderr
    out = labeler(how, "import", tmp_path / "p.labeler", ".", "--labels-from-folders", "--json",
                  cwd=ds)  # fmt: skip
    assert planted_ran(markers) == []
    report = ok_json(out)
    assert report["added"] == 60 and sorted(report["classes_created"]) == ["airplane", "automobile"]


def test_annotation_format_import_runs_no_code_from_the_dataset(tmp_path):
    ds, markers = dataset(tmp_path / "ds"), tmp_path / "markers"
    plant(ds, markers)
    ok_json(labeler("script", "init", tmp_path / "p.labeler", "--json", cwd=ds))
    out = labeler("script", "import", tmp_path / "p.labeler", ".", "--format", "imagefolder",
                  "--json", cwd=ds)  # fmt: skip
    assert planted_ran(markers) == []
    assert ok_json(out)["images_added"] == 60


@pytest.mark.parametrize("how", HOW)
def test_export_with_a_recipe_runs_no_code_from_the_output_folder(tmp_path, how):
    project, markers = tmp_path / "p.labeler", tmp_path / "markers"
    ok_json(labeler("script", "init", project, "--json", cwd=tmp_path))
    ds = dataset(tmp_path / "ds", n=12)
    ok_json(labeler("script", "import", project, ds, "--labels-from-folders", "--json",
                    cwd=tmp_path))  # fmt: skip
    (tmp_path / "light.json").write_text(json.dumps(RECIPE))
    ok_json(labeler("script", "recipe", project, "add", tmp_path / "light.json", "--json",
                    cwd=tmp_path))  # fmt: skip
    work = tmp_path / "exports"  # the output folder's parent, and the current folder
    plant(work, markers, skip_for(how))
    out = labeler(how, "export", project, "--format", "imagefolder", "--out", "v1", "--recipe",
                  "light", "--multiplier", "2", "--json", cwd=work)  # fmt: skip
    assert planted_ran(markers) == []
    report = ok_json(out)
    assert report["augmented"] > 0 and report["verified"]
    assert (work / "v1" / "manifest.json").is_file()


def test_library_callers_pools_import_nothing_from_the_current_folder(
    tmp_path, monkeypatch, project
):
    """The window's jobs run import_folders and the exporter's augment_files in-process; a
    caller started with `python -c` (or a notebook) has '' first on sys.path."""
    from labeler.app.imports import import_folders
    from labeler.core.augment import AugmentJob, Recipe, augment_files

    ds, here, markers = dataset(tmp_path / "ds"), tmp_path / "here", tmp_path / "markers"
    plant(here, markers)  # this process imported all of them already: the test is the workers
    assert {"multiprocessing", "concurrent", "labeler", "cv2", "numpy", "PIL"} <= set(sys.modules)
    monkeypatch.chdir(here)
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    report = import_folders(project, [ds], labels_from_folders=True, workers=2)
    assert report.added == 60 and report.tags_added == 60
    files = sorted(ds.rglob("*.png")) + sorted(ds.rglob("*.jpg"))
    jobs = [AugmentJob(f, (), f.name, 0, tmp_path / "aug" / f"{f.stem}.jpg") for f in files[:8]]
    results = list(augment_files(jobs, Recipe.from_dict(RECIPE), workers=2))
    assert all(r.ok for r in results) and len(results) == 8
    assert planted_ran(markers) == []


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_worker_sys_path_is_the_installations_alone(tmp_path, monkeypatch, method):
    from labeler.core import procs

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setattr(sys, "path", ["", ".", "relative/dir", str(here), *sys.path])
    with ProcessPoolExecutor(1, mp_context=procs.context(method)) as pool:
        path = pool.submit(eval, "__import__('sys').path").result()
        safe = pool.submit(eval, "__import__('sys').flags.safe_path").result()
        cwd = pool.submit(os.getcwd).result()
    assert safe
    assert cwd == str(here)  # the workers still work where the caller works
    assert "" not in path and "." not in path and "relative/dir" not in path
    assert str(here) not in path and all(os.path.isabs(p) for p in path)


def test_trusted_sys_path_keeps_the_installation_when_it_is_the_current_folder(tmp_path):
    from labeler.core import procs

    entries = ["", ".", "src", str(tmp_path), procs.INSTALLATION, "/usr/lib/python3.11"]
    assert procs.trusted_sys_path(entries, cwd=str(tmp_path)) == entries[4:]
    kept = procs.trusted_sys_path(entries, cwd=procs.INSTALLATION)
    assert procs.INSTALLATION in kept and str(tmp_path) in kept and "" not in kept
    assert Path(procs.INSTALLATION) == REPO or (Path(procs.INSTALLATION) / "labeler").is_dir()


def test_fork_is_not_offered():
    from labeler.core import procs
    from labeler.core.errors import LabelerError

    with pytest.raises(LabelerError, match="not 'fork'"):
        procs.context("fork")


def test_every_process_pool_takes_its_context_from_procs():
    """A new pool or process elsewhere must go through labeler.core.procs (ADR 0080)."""
    offenders = []
    for f in sorted((REPO / "labeler").rglob("*.py")):
        if f.name == "procs.py":
            continue
        text = f.read_text(encoding="utf-8")
        for needle in ("get_context(", "subprocess", "Popen", "os.fork", "multiprocessing.Pool"):
            if needle in text:
                offenders.append(f"{f.relative_to(REPO)}: {needle}")
        if "ProcessPoolExecutor(" in text and "procs.context(" not in text:
            offenders.append(f"{f.relative_to(REPO)}: a ProcessPoolExecutor without procs.context")
    assert offenders == []
