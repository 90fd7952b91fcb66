"""Health checks on real photos with planted problems: each is found, a clean set has none."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from labeler.core.health import (
    HealthData,
    HealthImage,
    HealthOptions,
    duplicate_groups,
    polygon_self_intersects,
    run_health,
)
from labeler.core.health.html import render_html
from labeler.core.shapes import Shape

try:
    from labeler.core.imagehash import phash
except ImportError:  # the importer's module not there yet: the same DCT hash, locally

    def phash(image: np.ndarray) -> int:
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
        low = cv2.dct(small)[:8, :8].flatten()
        return int("".join("1" if b else "0" for b in low > np.median(low[1:])), 2)


REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo-photos"
CIFAR = REPO / "resources" / "cifar10-lt-mini"
CLASSES = {1: "airplane", 2: "frog", 3: "bird", 4: "object"}
PLANTED_CHECKS = [
    "duplicates.exact",
    "duplicates.near",
    "duplicates.leakage",
    "duplicates.label_conflict",
    "annotations.degenerate",
    "annotations.outside",
    "annotations.self_intersecting",
    "annotations.stacked",
    "files.missing",
    "files.moved",
    "files.unreadable",
]


@dataclass
class Project:
    """A dataset built from files in tmp_path: images, shapes, and named ids to assert on."""

    root: Path
    images: list[HealthImage] = field(default_factory=list)
    shapes: dict[int, list[Shape]] = field(default_factory=dict)
    named: dict[str, int] = field(default_factory=dict)

    def add(self, path: Path, split: str | None, shapes: list[Shape], name: str = "") -> int:
        data = path.read_bytes()
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        image_id = len(self.images) + 1
        self.images.append(
            HealthImage(
                id=image_id,
                path=str(path),
                sha256=hashlib.sha256(data).hexdigest(),
                phash=_signed(phash(img)) if img is not None else None,
                width=img.shape[1] if img is not None else None,
                height=img.shape[0] if img is not None else None,
                split=split,
                size_bytes=len(data),
            )
        )
        self.shapes[image_id] = shapes
        if name:
            self.named[name] = image_id
        return image_id

    def data(self) -> HealthData:
        return HealthData(self.images, self.shapes, CLASSES, search_roots=[self.root])

    def load(self, image_id: int) -> np.ndarray | None:
        return cv2.imread(self.images[image_id - 1].path, cv2.IMREAD_UNCHANGED)


def _signed(h: int) -> int:
    """As SQLite hands it back: the health check must read it modulo 2**64."""
    return h - (1 << 64) if h >= (1 << 63) else h


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def _reencode(src: Path, dst: Path, scale: float = 0.5, quality: int = 70) -> Path:
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
    dst.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(dst),
        cv2.resize(img, size, interpolation=cv2.INTER_AREA),
        [cv2.IMWRITE_JPEG_QUALITY, quality],
    )
    return dst


def _clean_project(root: Path) -> Project:
    """CIFAR tiles tagged by class (train/test), demo photos with tidy boxes and polygons."""
    p = Project(root)
    for class_id, name in ((1, "airplane"), (2, "frog"), (3, "bird")):
        for k, src in enumerate(sorted((CIFAR / name).glob("*.jpg"))[:16]):
            split = "test" if k % 4 == 3 else "train"
            p.add(_copy(src, root / "img" / name / src.name), split, [Shape.tag(class_id)])
    for k, name in enumerate(["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]):
        path = _copy(DEMO / name, root / "img" / "photos" / name)
        h, w = cv2.imread(str(path)).shape[:2]
        shapes = [
            Shape.box(4, w * 0.1, h * 0.1, w * 0.5, h * 0.6),
            Shape.polygon(4, [(w * 0.6, h * 0.2), (w * 0.9, h * 0.2), (w * 0.8, h * 0.7)]),
        ]
        p.add(path, "test" if k == 3 else "train", shapes, name=name.split(".")[0])
    return p


def _planted_project(root: Path) -> Project:
    p = _clean_project(root)
    airplane = sorted((root / "img" / "airplane").glob("*.jpg"))
    # An exact copy (same bytes, same split and label).
    p.add(_copy(airplane[0], root / "copies" / "exact.jpg"), "train", [Shape.tag(1)], "exact")
    # A near copy: half size, JPEG quality 70, same split.
    p.add(_reencode(DEMO / "chelsea.jpg", root / "copies" / "chelsea_small.jpg"), "train",
          [Shape.box(4, 10, 10, 100, 80)], "near")  # fmt: skip
    # The coffee photo (train) again in test: leakage.
    p.add(_reencode(DEMO / "coffee.jpg", root / "copies" / "coffee_test.jpg", 0.7, 80), "test",
          [Shape.box(4, 5, 5, 60, 60)], "leak")  # fmt: skip
    # A frog picture again (upscaled, re-encoded) labeled bird: label noise.
    frog = sorted((root / "img" / "frog").glob("*.jpg"))[1]
    p.add(_reencode(frog, root / "copies" / "frog_as_bird.jpg", 2.0, 90), "train",
          [Shape.tag(3)], "relabeled")  # fmt: skip
    astronaut = p.named["astronaut"]
    w, h = p.images[astronaut - 1].width, p.images[astronaut - 1].height
    p.shapes[astronaut] += [
        Shape.box(4, 30, 40, 30, 90, id=901),  # zero width: degenerate
        Shape.box(4, w - 50, h - 50, w + 80, h + 10, id=902),  # sticks out of the image
        Shape.polygon(4, [(100, 100), (200, 100), (100, 200), (200, 200)], id=903),  # bow tie
    ]
    p.shapes[astronaut].append(p.shapes[astronaut][0])  # the first box, stacked twice
    # A missing file, never seen again; and a moved one, found by SHA-256.
    gone = p.add(_copy(DEMO / "hubble_deep_field.jpg", root / "img" / "hubble.jpg"), "train",
                 [Shape.tag(4)], "missing")  # fmt: skip
    Path(p.images[gone - 1].path).unlink()
    moved = p.add(_copy(DEMO / "retina.jpg", root / "img" / "retina.jpg"), "train",
                  [Shape.tag(4)], "moved")  # fmt: skip
    new_path = root / "elsewhere" / "deeper" / "renamed.jpg"
    new_path.parent.mkdir(parents=True)
    Path(p.images[moved - 1].path).rename(new_path)
    p.named["moved_to"] = 0
    p.moved_to = str(new_path.resolve())  # type: ignore[attr-defined]
    # A file that exists but does not decode.
    bad = root / "img" / "truncated.jpg"
    bad.write_bytes((DEMO / "rocket.jpg").read_bytes()[:200])
    p.add(bad, "train", [Shape.tag(4)], "unreadable")
    return p


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    p = _planted_project(tmp_path_factory.mktemp("planted"))
    return p, run_health(p.data(), load_image=p.load)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory):
    p = _clean_project(tmp_path_factory.mktemp("clean"))
    return p, run_health(p.data(), load_image=p.load)


def test_every_planted_problem_is_found(planted) -> None:
    _, report = planted
    found = {f.check for f in report.findings}
    assert set(PLANTED_CHECKS) <= found, set(PLANTED_CHECKS) - found


def test_a_clean_set_reports_none_of_them(clean) -> None:
    _, report = clean
    found = {f.check for f in report.findings}
    assert not found & set(PLANTED_CHECKS), found & set(PLANTED_CHECKS)


def test_duplicates_name_the_right_images(planted) -> None:
    p, report = planted
    first_airplane = 1
    assert report.by_check("duplicates.exact").pairs == [(first_airplane, p.named["exact"], 0)]
    near = report.by_check("duplicates.near")
    assert [p.named["chelsea"], p.named["near"]] in near.details["groups"]
    assert near.action == "remove_duplicates"
    assert all(d <= 8 for _, _, d in near.pairs)
    leak = report.by_check("duplicates.leakage")
    assert {(a, b) for a, b, _ in leak.pairs} == {(p.named["coffee"], p.named["leak"])}
    assert leak.severity == "error" and leak.action == "resplit"
    conflict = report.by_check("duplicates.label_conflict")
    assert [(a, b) for a, b, _ in conflict.pairs] == [(18, p.named["relabeled"])]  # frog #2
    assert conflict.details["pairs"][0]["labels_a"] == ["frog"]
    assert conflict.details["pairs"][0]["labels_b"] == ["bird"]


def test_geometry_problems_point_at_the_shapes(planted) -> None:
    p, report = planted
    astronaut = p.named["astronaut"]
    for check, shape_id in [
        ("annotations.degenerate", 901),
        ("annotations.outside", 902),
        ("annotations.self_intersecting", 903),
    ]:
        f = report.by_check(check)
        assert f.image_ids == [astronaut]
        assert [r["shape_id"] for r in f.details["shapes"]] == [shape_id], check
        assert f.action == "open_images"
    assert report.by_check("annotations.outside").details["shapes"][0]["fully_outside"] is False
    stacked = report.by_check("annotations.stacked").details["shapes"]
    assert [(r["shape_index"], r["other_shape_index"]) for r in stacked] == [(0, 5)]


def test_missing_and_moved_files(planted) -> None:
    p, report = planted
    assert report.by_check("files.missing").image_ids == [p.named["missing"]]
    moved = report.by_check("files.moved")
    assert moved.action == "relink"
    assert moved.details["relink"] == [
        {
            "image_id": p.named["moved"],
            "old_path": p.images[p.named["moved"] - 1].path,
            "new_path": p.moved_to,
        }
    ]
    assert report.by_check("files.unreadable").image_ids == [p.named["unreadable"]]


def test_sizes_and_grey_are_reported(planted) -> None:
    _, report = planted
    sizes = report.stats["files"]
    assert sizes["common_sizes"]["32x32"] >= 48
    assert report.by_check("files.grey_mix") is None  # every planted image is colour
    assert report.stats["images"]["colour"] > 0


def test_balance_counts_classes_per_split(clean) -> None:
    _, report = clean
    b = report.stats["balance"]
    assert b["images_per_class"] == {"1": 16, "2": 16, "3": 16, "4": 4}
    assert b["images_per_class_per_split"]["test"]["1"] == 4
    assert b["imbalance_ratio"] == 4.0
    small = report.by_check("balance.small_classes")
    assert small.details["classes"] == [1, 2, 3, 4]  # all below 20 images
    assert small.action == "suggest_gan"


def test_balance_flags_unlabeled_generated_and_split_gaps() -> None:
    images = [
        HealthImage(1, "a", exists=True, split="train"),
        HealthImage(2, "b", exists=True, split="train"),
        HealthImage(3, "c", exists=True, split="test", generated=True),
        HealthImage(4, "d", exists=True, split=None),
    ]
    shapes = {1: [Shape.tag(1)], 2: [Shape.tag(2)], 3: [Shape.tag(1)]}
    report = run_health(HealthData(images, shapes, {1: "cat", 2: "dog", 3: "emu"}))
    assert report.by_check("balance.unlabeled").image_ids == [4]
    assert report.by_check("balance.generated_outside_train").image_ids == [3]
    assert report.by_check("balance.empty_classes").details["classes"] == [3]
    assert report.by_check("balance.missing_from_split").details["missing"] == {"test": [2]}
    assert report.by_check("balance.unassigned").image_ids == [4]


def test_suspicious_labels_are_ranked_first(tmp_path: Path) -> None:
    """Five airplanes labeled frog stand out against 120 airplanes and 16 frogs."""
    p = Project(tmp_path)
    airplanes = sorted((CIFAR / "airplane").glob("*.jpg"))
    flipped = {airplanes[k].name for k in (3, 17, 42, 77, 101)}
    for src in airplanes:
        p.add(src, "train", [Shape.tag(2 if src.name in flipped else 1)], name=src.name)
    for src in sorted((CIFAR / "frog").glob("*.jpg")):
        p.add(src, "train", [Shape.tag(2)])
    data = HealthData(p.images, p.shapes, CLASSES)
    report = run_health(data, load_image=p.load)
    finding = report.by_check("labels.suspicious")
    top = finding.image_ids[:8]
    assert len({p.named[n] for n in flipped} & set(top)) >= 3, finding.details["images"][:8]
    assert finding.details["images"][0]["given"] == "frog"
    assert finding.details["images"][0]["predicted"] == "airplane"
    assert run_health(data, load_image=p.load).by_check("labels.suspicious") == finding


def test_cancel_returns_a_partial_report() -> None:
    images = [HealthImage(i, f"{i}.jpg", exists=True) for i in range(1, 5)]
    calls: list[tuple[int, int]] = []
    report = run_health(HealthData(images), progress=lambda d, t: calls.append((d, t)),
                        should_stop=lambda: len(calls) >= 2)  # fmt: skip
    assert report.cancelled
    assert len(calls) == 2


def test_thresholds_are_options() -> None:
    images = [
        HealthImage(1, "a", exists=True, phash=0),
        HealthImage(2, "b", exists=True, phash=0b111),
    ]
    assert run_health(HealthData(images)).by_check("duplicates.near").pairs == [(1, 2, 3)]
    strict = run_health(HealthData(images), options=HealthOptions(near_duplicate_distance=2))
    assert strict.by_check("duplicates.near") is None
    assert duplicate_groups(images) == [[1, 2]]


def test_polygon_self_intersection() -> None:
    assert polygon_self_intersects([(0, 0), (4, 0), (0, 4), (4, 4)])
    assert not polygon_self_intersects([(0, 0), (4, 0), (4, 4), (0, 4)])
    assert not polygon_self_intersects([(0, 0), (4, 0), (2, 3)])
    assert polygon_self_intersects([(0, 0), (4, 0), (4, 4), (2, 0), (0, 4)])  # touches an edge


def test_stacked_shapes_among_many_boxes() -> None:
    """Past a dozen boxes the overlap test is vectorised; it must agree."""
    boxes = [Shape.box(1, 20 * k, 0, 20 * k + 15, 15) for k in range(14)]
    boxes.append(Shape.box(1, 40.2, 0, 55, 15))  # on top of box 2
    image = HealthImage(1, "a", exists=True, width=400, height=20)
    report = run_health(HealthData([image], {1: boxes}, {1: "a"}))
    rows = report.by_check("annotations.stacked").details["shapes"]
    assert [(r["shape_index"], r["other_shape_index"]) for r in rows] == [(2, 14)]


def test_the_planted_report_serialises(planted, tmp_path: Path) -> None:
    import json

    _, report = planted
    doc = json.loads(report.to_json())
    assert {f["check"] for f in doc["findings"]} >= set(PLANTED_CHECKS)
    page = render_html(report)
    (tmp_path / "health.html").write_text(page, encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "data:image/png" in page
