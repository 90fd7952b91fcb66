"""The shared file helpers: one hash, one atomic write, one list of image suffixes."""

from __future__ import annotations

import errno
import hashlib
import os
import threading

import cv2
import numpy as np
import pytest

from labeler.core import files, held
from labeler.core.errors import LabelerError
from labeler.core.files import atomic_write_bytes, atomic_write_text, atomic_writer, sha256_file
from labeler.core.formats import get_importer
from labeler.core.images import SUPPORTED_EXTENSIONS, is_image_path, probe_file


def test_sha256_file_hashes_in_blocks_and_refuses_a_held_project_file(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # more than one block, not a whole number of them
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    link = tmp_path / "image.jpg"
    link.symlink_to(path)
    held.hold(path)
    try:
        with pytest.raises(held.HeldFile):
            sha256_file(link)
    finally:
        held.release(path)


def test_an_atomic_write_replaces_the_file_whole_and_syncs_it(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    target = tmp_path / "new" / "deeper" / "report.html"
    assert atomic_write_text(target, "<p>one</p>\n") == target.absolute()
    atomic_write_text(target, "<p>two</p>\r\n")
    assert target.read_bytes() == b"<p>two</p>\r\n", "line ends are written as given"
    assert len(synced) == 2
    assert os.listdir(target.parent) == ["report.html"], "no temporary file is left"


def test_a_failed_write_leaves_the_old_file_no_temp_file_and_no_new_folder(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write(b"half")
        raise RuntimeError("the writer failed midway")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["kept.txt"]

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(LabelerError, match=f"^cannot write {blocker / 'sub' / 'x.txt'}: "):
        atomic_write_bytes(blocker / "sub" / "x.txt", b"x")


def test_a_full_disk_is_one_line_and_the_folders_made_are_removed(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.tempfile, "mkstemp", full)
    target = tmp_path / "new" / "deeper" / "x.txt"
    with pytest.raises(LabelerError, match=f"^cannot write {target}: No space left on device$"):
        atomic_write_bytes(target, b"x")
    assert os.listdir(tmp_path) == [], "the folders this call made are removed again"


def test_writers_of_one_file_never_share_a_temporary_name(tmp_path, monkeypatch):
    """The old checkpoint writer used ``NAME.tmp``: two runs saving at once wrote one file."""
    target = tmp_path / "checkpoint.pt"
    names: list[str] = []
    both_open = threading.Barrier(2)

    def write(data: bytes) -> None:
        with atomic_writer(target) as f:
            names.append(f.name)
            both_open.wait(timeout=10)
            f.write(data)

    threads = [threading.Thread(target=write, args=(bytes([n]) * 1000,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 2
    assert target.read_bytes() in (b"\x01" * 1000, b"\x02" * 1000)
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_EXTENSIONS))
def test_every_image_suffix_we_look_for_is_one_we_can_import(suffix, tmp_path):
    """One list of suffixes for folder import, the dataset formats and the search for moved
    files: each names a format our probe accepts and OpenCV decodes."""
    image = np.zeros((12, 20, 3), np.uint8)
    image[:, :10] = (0, 128, 255)
    ok, buf = cv2.imencode(suffix, image)
    assert ok, suffix
    cls = tmp_path / "cat"
    cls.mkdir()
    path = cls / f"a{suffix.upper()}"
    path.write_bytes(buf.tobytes())
    assert is_image_path(path)
    info = probe_file(path)
    assert (info.width, info.height) == (20, 12)
    records = get_importer("imagefolder").read(tmp_path).records
    assert [r.path for r in records] == [f"cat/a{suffix.upper()}"]


def test_a_file_we_cannot_import_is_not_looked_for(tmp_path):
    ok, buf = cv2.imencode(".pgm", np.zeros((4, 4), np.uint8))
    assert ok
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "a.pgm").write_bytes(buf.tobytes())
    assert not is_image_path("a.pgm")
    assert get_importer("imagefolder").read(tmp_path).records == []
