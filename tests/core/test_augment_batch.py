"""Batch application over processes, file reading/writing, the preview grid, and layering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.core.augment import (
    AugmentJob,
    Recipe,
    augment_copy,
    augment_files,
    preview_grid,
    read_image,
    step,
)
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape

RECIPE = Recipe(
    steps=(
        step("horizontal_flip", p=0.5),
        step("rotate", angle=(-20, 20)),
        step("random_resized_crop", width=48, height=40, scale=(0.5, 1.0)),
        step("color_jitter"),
        step("gaussian_noise", p=0.5),
    ),
    seed=11,
)
SHAPES = (
    Shape.tag(3),
    Shape.box(1, 10, 10, 40, 36),
    Shape.polygon(2, [(30, 5), (60, 20), (35, 40)]),
)


def _write_sources(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (3, 3), 0)
        path = folder / f"src{i}.png"
        cv2.imwrite(str(path), img)
        paths.append(path)
    return paths


def _jobs(tmp_path: Path, n_images: int = 3, copies: int = 2) -> list[AugmentJob]:
    sources = _write_sources(tmp_path, n_images)
    return [
        AugmentJob(src, SHAPES, f"sha-{src.stem}", c, tmp_path / "out" / f"{src.stem}_{c}.png")
        for src in sources
        for c in range(copies)
    ]


def test_batch_over_processes_equals_in_process_augmentation(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    calls: list[tuple[int, int]] = []
    results = list(
        augment_files(jobs, RECIPE, workers=2, progress=lambda d, t: calls.append((d, t)))
    )
    assert [r.job for r in results] == jobs  # job order, whatever finished first
    assert calls == [(i, len(jobs)) for i in range(1, len(jobs) + 1)]
    for r in results:
        assert r.ok, r.error
        image = cv2.imread(str(r.job.source))
        expected, shapes = augment_copy(
            image, SHAPES, RECIPE, image_key=r.job.image_key, copy_index=r.job.copy_index
        )
        written = cv2.imread(str(r.job.output))  # PNG: lossless, so pixel-exact
        assert np.array_equal(written, expected)
        assert list(r.shapes) == shapes and (r.width, r.height) == (48, 40)


def test_serial_mode_and_reexport_give_identical_files(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path, 2, 2)
    first = list(augment_files(jobs, RECIPE, workers=0))
    data = [j.output.read_bytes() for j in jobs]
    second = list(augment_files(jobs, RECIPE, workers=0))
    assert [j.output.read_bytes() for j in jobs] == data
    assert [r.shapes for r in first] == [r.shapes for r in second]


def test_should_stop_ends_the_batch_early(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path, 3, 2)
    done: list[int] = []
    results = list(
        augment_files(
            jobs,
            RECIPE,
            workers=0,
            progress=lambda d, t: done.append(d),
            should_stop=lambda: len(done) >= 2,
        )
    )
    assert len(results) == 2
    assert not jobs[2].output.exists()


def test_unreadable_source_is_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"not an image")
    good = _jobs(tmp_path, 1, 1)[0]
    jobs = [AugmentJob(bad, (), "k", 0, tmp_path / "o.jpg"), good]
    results = list(augment_files(jobs, RECIPE, workers=0))
    assert not results[0].ok and "corrupt.jpg" in results[0].error
    assert "\n" not in results[0].error
    assert results[1].ok and good.output.exists()


def test_job_validation() -> None:
    with pytest.raises(LabelerError, match="use one of .jpg, .jpeg, .png"):
        AugmentJob(Path("a.png"), (), "k", 0, Path("b.gif"))
    with pytest.raises(LabelerError, match="copy index must be >= 0"):
        AugmentJob(Path("a.png"), (), "k", -1, Path("b.png"))


def test_read_image_applies_exif_orientation_and_keeps_grey(tmp_path: Path) -> None:
    from PIL import Image

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise on display
    Image.fromarray(pixels).save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    assert read_image(tmp_path / "o.jpg").shape == (40, 20, 3)
    cv2.imwrite(str(tmp_path / "g.png"), np.zeros((5, 7), np.uint8))
    assert read_image(tmp_path / "g.png").shape == (5, 7)


def test_preview_grid_shows_the_exported_copies() -> None:
    img = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    grid = preview_grid(
        img, SHAPES, RECIPE, n=5, image_key="sha", cell=64, class_colours={1: (0, 0, 255)}
    )
    assert grid.dtype == np.uint8 and grid.ndim == 3
    assert grid.shape == (2 * 64 + 3 * 4, 3 * 64 + 4 * 4, 3)  # 5 cells: 3 columns, 2 rows
    again = preview_grid(
        img, SHAPES, RECIPE, n=5, image_key="sha", cell=64, class_colours={1: (0, 0, 255)}
    )
    assert np.array_equal(grid, again)
    assert not np.array_equal(
        grid, preview_grid(img, SHAPES, RECIPE, n=5, seed=99, image_key="sha", cell=64)
    )
    grey = preview_grid(img[:, :, 0], SHAPES, RECIPE, n=1, cell=32)
    assert grey.shape == (40, 40, 3)
    with pytest.raises(LabelerError, match="n must be"):
        preview_grid(img, SHAPES, RECIPE, n=0)


def test_augment_core_imports_no_qt_torch_or_albumentations() -> None:
    code = (
        "import sys, labeler.core.augment; "
        "bad = [m for m in ('torch', 'PySide6', 'albumentations') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or done.stdout
