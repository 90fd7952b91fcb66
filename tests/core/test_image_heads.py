"""The one-walk JPEG header reader of an export (`head_facts` on the bytes read to hash a
file) against the general readers `image_size` uses on import: for every header, mutated,
cut or carrying an EXIF orientation, both give the same orientation and size, or the same
one-line error. The export compares this size with the project's, so a difference would
pass a replaced image or refuse a good one."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labeler.core.errors import LabelerError
from labeler.core.files import read_written
from labeler.core.formats._io import HEAD_BYTES, head_facts, head_orientation, size_from_head
from labeler.core.images import SUPPORTED_EXTENSIONS, is_image_path, path_suffix
from labeler.store.project import Project

REPO = Path(__file__).resolve().parents[2]
PHOTO = (REPO / "resources" / "demo-photos" / "coffee.jpg").read_bytes()


def _exif(turn: int, pad: int) -> bytes:
    """An APP1 EXIF segment whose IFD holds the orientation ``turn``, ``pad`` bytes long
    beyond it (a large embedded preview). With the fillers, the frame header lies beyond
    the first `HEAD_BYTES`."""
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, turn, 0) + b"\x00" * 4 + b"\x00" * pad
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _general(path: Path, data: bytes) -> tuple[int, tuple[int, int]] | str:
    got = (data[:HEAD_BYTES], len(data) <= HEAD_BYTES)
    try:
        turn = head_orientation(path, got)
        return turn, size_from_head(path, got, orientation=turn)
    except LabelerError as e:
        return str(e)


def _fast(path: Path, data: bytes) -> tuple[int, tuple[int, int]] | str:
    try:
        return head_facts(path, (memoryview(data), True))
    except LabelerError as e:
        return str(e)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    turn=st.integers(0, 9),
    pad=st.sampled_from([0, 100, 60_000]),
    fillers=st.integers(0, 2),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=3),
    cut=st.one_of(st.none(), st.integers(0, 600)),
)
def test_the_export_reads_a_jpeg_header_as_import_does(turn, pad, fillers, flips, cut, tmp_path):
    filler = b"\xff\xe2" + struct.pack(">H", 60_002) + b"\x00" * 60_000  # an ICC profile
    head = (_exif(turn, pad) if turn else b"") + filler * fillers
    data = bytearray(PHOTO[:2] + head + PHOTO[2:])
    for at, value in flips:
        data[at] = value
    if cut is not None:
        del data[cut:]
    path = tmp_path / "x.jpg"
    path.write_bytes(bytes(data))
    assert _fast(path, bytes(data)) == _general(path, bytes(data))


def test_read_written_hashes_the_file_and_shows_its_first_bytes_once(tmp_path):
    """A file larger than the read buffer is hashed whole; ``look`` sees its first bytes,
    told they are not all of it; a small file's are."""
    big, small = tmp_path / "big.bin", tmp_path / "small.jpg"
    big.write_bytes(b"\x01" * (3 << 20) + b"end")
    small.write_bytes(PHOTO)
    seen: list[tuple[bytes, bool]] = []
    got = read_written(big, lambda first, whole: seen.append((bytes(first[:4]), whole)))
    assert got.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    assert seen == [(b"\x01" * 4, False)]
    got = read_written(small, lambda first, whole: head_facts(small, (first, whole)))
    assert got.sha256 == hashlib.sha256(PHOTO).hexdigest()
    assert got.seen == _general(small, PHOTO)
    with pytest.raises(OSError):
        read_written(tmp_path)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab./\\: \x00é", max_size=12))
def test_path_suffix_is_what_pathlib_says(path):
    """`path_suffix` skips making a Path for a plain last name; whatever the string, it
    must be Path's suffix (an image is found, or linked and checked, by it)."""
    assert path_suffix(path) == Path(path).suffix
    assert is_image_path(path) == (Path(path).suffix.lower() in SUPPORTED_EXTENSIONS)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab./\\é", max_size=12))
def test_a_project_resolves_a_stored_path_as_pathlib_joins_it(stored):
    folder = Path("/projects/p")
    want = Path(stored) if Path(stored).is_absolute() else folder / Path(stored)

    class Fake:
        pass

    fake = Fake()
    fake.folder = folder  # type: ignore[attr-defined]
    assert Project.resolve(fake, stored) == want  # type: ignore[arg-type]
