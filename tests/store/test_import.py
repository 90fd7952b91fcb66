"""Importing folders: real photos, every kind of bad file, idempotence, labels, EXIF."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from testdata import CIFAR_MINI, DEMO_PHOTOS

from labeler.app.imports import _probe, import_folders
from labeler.core.imagehash import hamming
from labeler.core.images import MAX_PIXELS, load_image


def _reasons(report) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in report.skipped}


def _huge_png(path: Path, width: int, height: int) -> None:
    """A valid PNG header claiming width x height pixels, a few KB on disk (a 'bomb')."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = zlib.compress(row * 64, 9)  # only the first rows: the header is what matters
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_import_real_photos_stores_facts(project, photos):
    report = import_folders(project, [photos])
    assert report.added == 8 and not report.skipped
    imgs = {Path(i.path).name: i for i in project.images()}
    astro = imgs["astronaut.jpg"]
    assert (astro.width, astro.height, astro.format) == (512, 512, "JPEG")
    assert astro.bytes == (DEMO_PHOTOS / "astronaut.jpg").stat().st_size
    assert len(astro.sha256) == 64 and astro.phash is not None
    assert imgs["coins.png"].format == "PNG" and imgs["coins.png"].channels == 1
    assert astro.path == "photos/astronaut.jpg"  # below the project: stored relative


def test_every_bad_file_is_skipped_with_its_reason_and_the_rest_imported(project, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(DEMO_PHOTOS / "chelsea.jpg", src / "good.jpg")
    (src / "empty.jpg").write_bytes(b"")
    data = (DEMO_PHOTOS / "astronaut.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (src / "notes.png").write_text("this is not an image")
    (src / "broken.jpg").symlink_to(src / "nowhere.jpg")
    _huge_png(src / "bomb.png", 20_000, 20_000)
    (src / "readme.txt").write_text("ignored: not an image extension")
    report = import_folders(project, [src])
    reasons = _reasons(report)
    assert report.added == 1
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert reasons["truncated.jpg"] == "corrupt or truncated image data"
    assert reasons["notes.png"].startswith("not an image")
    assert reasons["broken.jpg"] == "broken symlink"
    assert "too many pixels" in reasons["bomb.png"] and f"{MAX_PIXELS:,}" in reasons["bomb.png"]
    assert "readme.txt" not in reasons


def test_a_file_without_read_permission_is_reported(tmp_path):
    # Root reads everything, so when we are root the probe runs in a forked child that has
    # dropped to an unprivileged user (modules are already loaded; nothing else is needed).
    folder = Path(tempfile.mkdtemp(prefix="labeler-perm-"))
    try:
        os.chmod(folder, 0o755)
        f = folder / "locked.jpg"
        shutil.copy(DEMO_PHOTOS / "chelsea.jpg", f)
        os.chmod(f, 0o000)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                os.write(write_end, _probe(str(f)).encode())
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(pid, 0)
        with os.fdopen(read_end) as r:
            assert r.read() == "permission denied"
    finally:
        shutil.rmtree(folder)


def test_reimport_adds_nothing_and_duplicates_are_reported(project, photos, tmp_path):
    first = import_folders(project, [photos])
    again = import_folders(project, [photos])
    assert (again.added, again.already_present) == (0, first.added)
    copy_dir = tmp_path / "copies"
    copy_dir.mkdir()
    shutil.copy(photos / "coffee.jpg", copy_dir / "same-coffee.jpg")
    dup = import_folders(project, [copy_dir])
    assert dup.added == 0
    assert [Path(d.path).name for d in dup.duplicates] == ["same-coffee.jpg"]
    assert project.image_count() == 8


def test_a_moved_file_is_found_again_by_its_content(project, photos, tmp_path):
    import_folders(project, [photos])
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(photos / "rocket.jpg", moved / "rocket-renamed.jpg")
    report = import_folders(project, [moved])
    assert (report.added, report.relinked) == (0, 1)
    assert project.image_count() == 8
    assert project.find_image("rocket-renamed.jpg").path == "moved/rocket-renamed.jpg"


def test_labels_from_folders_make_classes_and_tags(project, cifar_subset):
    report = import_folders(project, [cifar_subset], labels_from_folders=True)
    assert report.added == 12 and report.tags_added == 12
    assert sorted(report.classes_created) == ["airplane", "cat", "truck"]
    stats = {c["name"]: c["images"] for c in project.stats()["classes"]}
    assert stats == {"airplane": 5, "cat": 4, "truck": 3}
    assert project.stats()["unlabeled"] == 0
    groups = {i.source_group for i in project.images()}
    assert groups == {"cifar/airplane", "cifar/cat", "cifar/truck"}


def test_exif_orientation_is_applied_to_size_and_pixels(project, tmp_path):
    src = tmp_path / "exif"
    src.mkdir()
    img = Image.open(DEMO_PHOTOS / "chelsea.jpg")  # 451 wide, 300 high
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    (src / "rotated.jpg").write_bytes(buf.getvalue())
    import_folders(project, [src])
    (rec,) = project.images()
    assert (rec.width, rec.height) == (300, 451)
    pixels = load_image(src / "rotated.jpg")
    assert pixels.shape[:2] == (451, 300)
    upright = np.rot90(cv2.imread(str(DEMO_PHOTOS / "chelsea.jpg")), k=-1)
    assert np.abs(pixels.astype(int) - upright.astype(int)).mean() < 6


def test_copy_puts_files_beside_the_project_and_reruns_add_nothing(project, cifar_subset):
    report = import_folders(project, [cifar_subset], copy=True)
    assert report.added == 12
    for rec in project.images():
        assert rec.path.startswith("test_media/imported/cifar/")
        assert project.resolve(rec).is_file()
    again = import_folders(project, [cifar_subset], copy=True)
    assert (again.added, again.already_present, again.duplicates) == (0, 12, [])


def test_many_files_go_through_the_process_pool_in_order(project):
    report = import_folders(project, [CIFAR_MINI], labels_from_folders=True, workers=2)
    assert report.added == 409 and not report.skipped
    stats = {c["name"]: c["images"] for c in project.stats()["classes"]}
    assert stats["airplane"] == 120 and stats["truck"] == 6


def test_progress_is_reported_and_cancel_keeps_what_was_committed(project):
    calls = []
    stop_after = 100

    report = import_folders(
        project,
        [CIFAR_MINI],
        workers=2,
        progress=lambda d, t: calls.append((d, t)),
        should_stop=lambda: bool(calls) and calls[-1][0] >= stop_after,
    )
    assert report.cancelled
    assert calls[0] == (0, 409) and calls[-1][1] == 409
    kept = project.image_count()
    assert stop_after <= kept < 409
    rest = import_folders(project, [CIFAR_MINI])
    assert rest.added == 409 - kept and project.image_count() == 409


def test_resized_and_reencoded_copy_has_a_near_hash(project, tmp_path):
    src = tmp_path / "near"
    src.mkdir()
    original = cv2.imread(str(DEMO_PHOTOS / "astronaut.jpg"))
    cv2.imwrite(str(src / "a.jpg"), original)
    cv2.imwrite(
        str(src / "b.jpg"), cv2.resize(original, (300, 300)), [cv2.IMWRITE_JPEG_QUALITY, 60]
    )
    shutil.copy(DEMO_PHOTOS / "coffee.jpg", src / "c.jpg")
    import_folders(project, [src])
    h = {Path(i.path).name: i.phash for i in project.images()}
    assert hamming(h["a.jpg"], h["b.jpg"]) <= 6
    assert hamming(h["a.jpg"], h["c.jpg"]) > 16
