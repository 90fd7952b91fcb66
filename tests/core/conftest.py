"""Fixtures for the core tests: a small labelled dataset of real and synthetic images."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.core.formats import ExportItem
from labeler.core.shapes import Shape

REPO = Path(__file__).resolve().parents[2]
CLASSES = [(10, "cat"), (20, "dog"), (30, "car")]
CAT, DOG, CAR = 10, 20, 30


def _synthetic(path: Path, w: int, h: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    buf.tofile(str(path))
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[list[ExportItem], list[tuple[int, str]]]:
    """Nine images over three splits: boxes, polygons, tags, a background image, a PNG,
    a sub-folder file name, a generated image and real photos."""
    src = tmp_path / "src"
    src.mkdir()
    chelsea = shutil.copy(REPO / "resources/demo-photos/chelsea.jpg", src / "chelsea.jpg")
    cifar_cat = shutil.copy(REPO / "resources/cifar10-lt-mini/cat/0001.jpg", src / "c1.jpg")
    cifar_dog = shutil.copy(REPO / "resources/cifar10-lt-mini/dog/0177.jpg", src / "d1.jpg")
    paths = {f"s{i}": _synthetic(src / f"s{i}.png", 64 + 8 * i, 48 + 4 * i, i) for i in range(5)}
    gen = _synthetic(src / "gen.png", 32, 32, 99)

    def item(i, path, name, w, h, split, shapes, generated=False):
        return ExportItem(
            image_id=i,
            source_path=Path(path),
            file_name=name,
            width=w,
            height=h,
            split=split,
            shapes=tuple(shapes),
            generated=generated,
            provenance={"kind": "generated" if generated else "imported"},
        )

    items = [
        item(
            1,
            chelsea,
            "chelsea.jpg",
            451,
            300,
            "train",
            [
                Shape.tag(CAT),
                Shape.box(CAT, 140.5, 20.25, 330, 290),
                Shape.polygon(CAT, [(150, 30), (320, 40), (300, 280), (160, 270)]),
            ],
        ),
        item(2, cifar_cat, "cifar/c1.jpg", 32, 32, "train", [Shape.tag(CAT)]),
        item(
            3,
            cifar_dog,
            "cifar/d1.jpg",
            32,
            32,
            "val",
            [Shape.tag(DOG), Shape.box(DOG, 2, 3, 30, 29)],
        ),
        item(
            4,
            paths["s0"],
            "s0.png",
            64,
            48,
            "train",
            [
                Shape.tag(CAR),
                Shape.box(CAR, 1, 2, 40, 30),
                Shape.box(DOG, 10.4, 11.6, 60.2, 47),
            ],
        ),
        item(5, paths["s1"], "s1.png", 72, 52, "train", []),  # background image
        item(
            6,
            paths["s2"],
            "s2.png",
            80,
            56,
            "val",
            [
                Shape.tag(DOG),
                Shape.polygon(DOG, [(5, 5), (70, 8), (60, 50), (8, 40), (3, 20)]),
            ],
        ),
        item(
            7,
            paths["s3"],
            "s3.png",
            88,
            60,
            "test",
            [
                Shape.tag(CAT),
                Shape.tag(DOG),
                Shape.box(CAT, 4, 4, 44, 44),
            ],
        ),
        item(
            8, paths["s4"], "s4.png", 96, 64, "test", [Shape.tag(CAR), Shape.box(CAR, 0, 0, 96, 64)]
        ),
        item(
            9,
            gen,
            "gen.png",
            32,
            32,
            "train",
            [Shape.tag(CAT), Shape.box(CAT, 4, 4, 28, 28)],
            generated=True,
        ),
    ]
    return items, list(CLASSES)
