"""The GAN benchmark as the GPU session will run it: a subprocess on a machine without PySide6
or sqlite-utils, at its --quick size, writing the documented summary and grids to --out."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "gan" / "bench_gan.py"
ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10-lt.tar.gz"
# Importing either of these fails in the child, as on the bare GPU machine.
BARE = (
    "import runpy, sys; sys.modules.update(dict.fromkeys(['PySide6', 'sqlite_utils']));"
    " sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


KEYS = (
    "rows", "verdict", "throughput", "time_to_usable_s", "accepted", "accepted_per_class",
    "wall_s", "budget_s", "plan",
)  # fmt: skip
ROWS = ("real", "real_balanced", "real_logit_adjusted", "real_drw", "real_plus_generated")
OUTCOMES = ("better", "no measurable difference", "worse")


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", BARE, str(BENCH), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


MINI = ROOT / "resources" / "cifar10-lt-mini"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The shared CIFAR-10-LT archive where a checkout has it; else (a clean clone, CI) one
    in its layout made from the repo's own long-tailed slice (409 images): each image five
    times in train, so that --quick's 4% keeps about as many per class as it does of the
    full set, and once in test."""
    if ARCHIVE.is_file():
        return ARCHIVE
    made = tmp_path_factory.mktemp("archive") / "cifar10-lt.tar.gz"
    with tarfile.open(made, "w:gz") as tar:
        for folder in sorted(p for p in MINI.iterdir() if p.is_dir()):
            for image in sorted(folder.iterdir()):
                for k in range(5):
                    name = f"cifar10-lt/train/{folder.name}/{k}-{image.name}"
                    tar.add(image, arcname=name)
                tar.add(image, arcname=f"cifar10-lt/test/{folder.name}/{image.name}")
    return made


def test_quick_run_writes_the_summary_and_grids_without_qt(archive, tmp_path):
    out = tmp_path / "out"
    # One thread: on a busy shared CPU, two threads of tiny convolutions run ten times slower.
    r = _run("--quick", "--threads", "1", "--archive", str(archive), "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(r.stdout) == summary
    for key in KEYS:
        assert summary[key] is not None, key
    rows = summary["rows"]
    assert set(rows) == set(ROWS)
    for row in rows.values():
        for metric in ("accuracy", "macro_f1", "thin_recall", "thin_f1"):
            assert set(row[metric]) == {"mean", "spread"} and 0 <= row[metric]["mean"] <= 1
    assert summary["verdict"]["outcome"] in OUTCOMES and summary["verdict"]["text"]
    assert not summary["stopped"] and summary["options"]["seeds"] == 3
    tp = summary["throughput"]
    assert tp["chosen_batch"] == 16 and tp["largest_batch"] == 32
    assert tp["ratio"] == pytest.approx(
        tp["chosen_images_per_s"] / tp["largest_images_per_s"], abs=1e-2
    )
    assert summary["accepted"] == sum(summary["accepted_per_class"]) > 0
    assert summary["plan"]["trainings"] == 15 and summary["plan"]["clf_steps"] > 0
    assert summary["gan"]["steps"] == 24 and summary["consistency_curve"]
    assert summary["wall_s"] > 0 and summary["budget_s"] == 180
    # The accepted suggestions, one 16-tile row per class that has any, and the generator grid.
    with Image.open(out / "samples.png") as grid:
        filled = sum(1 for n in summary["accepted_per_class"] if n)
        assert grid.size == (16 * 33 + 1, filled * 33 + 1)
    with Image.open(out / "generator.png") as grid:
        assert grid.width > 32
    assert (out / "gan-stats.jsonl").read_text().strip()
    # Progress on stderr says how much of the budget is left.
    assert "s left] plan:" in r.stderr and "s left] suggest:" in r.stderr


def test_a_missing_archive_is_one_line(tmp_path):
    r = _run("--quick", "--archive", str(tmp_path / "nope.tar.gz"), timeout=120)
    assert r.returncode == 2 and "no archive at" in r.stderr and "Traceback" not in r.stderr


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_gan", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("target", "tail_only", "fill"),
    [
        ("median", False, {3: 3, 4: 4}),  # median 5: the two classes below it
        ("max", False, {1: 40, 2: 45, 3: 48, 4: 49}),
        ("max", True, {3: 48, 4: 49}),  # the thinner half only (2 of 5 classes), still to the max
        ("median", True, {3: 3, 4: 4}),
    ],
)
def test_suggestion_targets_and_tail_only(target, tail_only, fill):
    import argparse

    import numpy as np

    bench = _bench_module()
    counts = np.array([50, 10, 5, 2, 1])
    a = argparse.Namespace(target=target, tail_only=tail_only)
    measured, deficits, goal = bench._fill_counts(a, counts)
    assert deficits == fill and goal == {"median": 5, "max": 50}[target]
    from labeler.ml.suggest import deficits as suggest_deficits

    # What suggest is handed gives exactly these deficits (heads count as already full).
    assert suggest_deficits(measured, goal) == fill
