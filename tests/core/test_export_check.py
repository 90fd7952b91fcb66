"""The check after export still checks (ADR 0096): a file of the export that is cut short,
changed (even at the same size with its modification time put back), removed or joined by a
file the export did not write, after it was written and before the export is renamed into
place, fails the export in every format, and nothing is left at the target.

The change is made from outside, as another process would make it: from the progress
callback, which runs once everything is written and before the check."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labeler.core.errors import LabelerError
from labeler.core.formats import EXPORTERS, export_dataset
from labeler.core.formats.base import Placed
from labeler.core.formats.export import LaidOut, _image_record_text, manifest_json
from labeler.core.formats.model import ExportItem
from labeler.core.images import is_image_path
from labeler.core.linking import WrittenImage

IMAGE = "chelsea.jpg"  # a real photo in the train split of the `dataset` fixture


def _cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _changed_same_size(path: Path) -> None:
    """Bytes in the middle flipped, size kept, modification time put back: a size or time
    check alone would not see it."""
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(b ^ 0x55 for b in data[mid : mid + 8])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size


def _removed(path: Path) -> None:
    path.unlink()


TAMPERS: dict[str, Callable[[Path], None]] = {
    "cut short": _cut_short,
    "changed at the same size": _changed_same_size,
    "removed": _removed,
}


def _staging(parent: Path) -> Path:
    (tmp,) = parent.glob(".out.partial-*")
    return tmp


def _annotation_file(root: Path) -> Path | None:
    """The largest file the format wrote beside the images and the manifest."""
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and p.name != "manifest.json" and not is_image_path(p)
    ]
    return max(files, key=lambda p: (p.stat().st_size, str(p)), default=None)


def _export_tampered(fmt: str, dataset, tmp_path: Path, tamper: Callable[[Path], None]) -> None:
    """Export with ``tamper(staging folder)`` run once everything is written, just before
    the check; asserts that the export fails its check and leaves nothing behind."""
    items, classes = dataset
    ran = []

    def progress(done: int, total: int) -> None:
        if done == total - 1 and not ran:  # written, manifest included; not yet checked
            ran.append(1)
            tamper(_staging(tmp_path))

    with pytest.raises(LabelerError, match="export check failed"):
        export_dataset(fmt, items, classes, tmp_path / "out", manifest={}, progress=progress)
    assert ran, "the progress callback never reached the check"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("how", sorted(TAMPERS))
@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_an_image_tampered_before_the_check_fails_it(fmt, how, dataset, tmp_path):
    def tamper(root: Path) -> None:
        (image,) = [p for p in root.rglob(IMAGE)]
        TAMPERS[how](image)

    _export_tampered(fmt, dataset, tmp_path, tamper)


@pytest.mark.parametrize("how", sorted(TAMPERS))
@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_an_annotation_file_tampered_before_the_check_fails_it(fmt, how, dataset, tmp_path):
    items, classes = dataset
    probe = export_dataset(fmt, items, classes, tmp_path / "probe", manifest={})
    if not probe.files:
        pytest.skip(f"{fmt} writes no annotation file")

    def tamper(root: Path) -> None:
        found = _annotation_file(root)
        assert found is not None
        TAMPERS[how](found)

    _export_tampered(fmt, dataset, tmp_path, tamper)


@pytest.mark.parametrize("how", sorted(TAMPERS))
def test_the_manifest_tampered_before_the_check_fails_it(how, dataset, tmp_path):
    _export_tampered("yolo", dataset, tmp_path, lambda root: TAMPERS[how](root / "manifest.json"))


@pytest.mark.parametrize("name", ["images/train/stray.jpg", "labels/train/stray.txt", "x.txt"])
def test_a_file_the_export_did_not_write_fails_the_check(name, dataset, tmp_path):
    def tamper(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((root / "data.yaml").read_bytes())

    _export_tampered("yolo", dataset, tmp_path, tamper)


def test_an_untouched_export_passes_and_says_verified(dataset, tmp_path):
    """The same path with a callback that changes nothing: the failures above come from
    the tampering, not from the callback."""
    items, classes = dataset
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == total - 1:
            assert _annotation_file(_staging(tmp_path)) is not None

    report = export_dataset(
        "yolo", items, classes, tmp_path / "out", manifest={}, progress=progress
    )
    assert report.verified and (tmp_path / "out" / "data.yaml").is_file()
    assert (seen[-2][0], seen[-1][0]) == (seen[-1][1] - 1, seen[-1][1])


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
def test_the_manifest_is_the_canonical_json_of_what_it_holds(fmt, dataset, tmp_path):
    """The manifest is laid out by hand for speed: it must be exactly what ``json.dumps``
    with sorted keys and an indent of 2 makes of its own content, odd values included."""
    items, classes = dataset
    odd = [
        {"kind": "imported"},
        {},
        {"kind": "generated", "seed": 7, "scores": {"fid": 1.5, "ok": True}, "tags": []},
        {"kind": 'quote " back\\slash \u00e9 \u2603 \x01', "none": None, "n": [1, [2, {}]]},
    ]
    items = [
        dataclasses.replace(it, provenance=odd[k % len(odd)], file_name=name)
        for k, (it, name) in enumerate(
            (it, it.file_name if k % 2 else f'\u00e9t\u00e9 "{k}" {it.file_name}')
            for k, it in enumerate(items)
        )
    ]
    export_dataset(fmt, items, classes, tmp_path / "out", manifest={"name": "v\u00e9", "x": 1.25})
    text = (tmp_path / "out" / "manifest.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert text == json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert [e["provenance"] for e in doc["images"]] and doc["annotation_files"]


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(st.dictionaries(st.text(max_size=6), _json_value, max_size=5), max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=4),
)
def test_records_laid_out_a_batch_at_a_time_are_what_json_dumps_writes(records, cuts):
    """The manifest's image records are laid out batch by batch while the images are hashed:
    joined, they must be exactly ``json.dumps`` of the whole list, however it was cut, with
    records of other keys in between (the encoded keys are reused from record to record)."""
    laid = LaidOut()
    bounds = sorted({0, len(records), *(min(c, len(records)) for c in cuts)})
    for a, b in zip(bounds, bounds[1:], strict=False):
        laid.add(records[a:b])
    doc = {"images": laid, "tool": "labeler", "annotation_files": records[::-1]}
    want = json.dumps(
        {"images": records, "tool": "labeler", "annotation_files": records[::-1]},
        sort_keys=True,
        indent=2,
        ensure_ascii=False,
    )
    assert manifest_json(doc) == want


_text = st.text(max_size=10)


def _image_record(p, w, project_paths):
    """The manifest's record of one image, as a dict: what `_image_record_text` writes."""
    return {
        "file": p.path,
        "file_name": p.item.file_name,
        "image_id": p.item.image_id,
        "project_path": project_paths.get(p.item.image_id),
        "split": p.item.split,
        "sha256": w.sha256,
        "source_sha256": p.item.sha256,
        "generated": p.item.generated,
        "provenance": dict(p.item.provenance),
    }


@settings(max_examples=500, deadline=None)
@given(
    path=_text,
    file_name=st.text(alphabet='ab é"☃', min_size=1, max_size=8).map(lambda n: n.strip() + "x.jpg"),
    image_id=st.integers(0, 2**62),
    generated=st.booleans(),
    project_path=st.one_of(st.none(), _text),
    provenance=st.dictionaries(st.text(max_size=5), _json_value, max_size=4),
    sha=st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64)),
    split=st.sampled_from(["train", "val", "test"]),
)
def test_an_image_record_is_laid_out_as_its_dict_would_be(
    path, file_name, image_id, generated, project_path, provenance, sha, split
):
    """The manifest's image records are written straight to text, not through a dict: the
    text must be exactly the dict's."""
    split = "train" if generated else split  # generated images go to train only
    item = ExportItem(
        image_id=image_id,
        source_path=Path("/x.jpg"),
        file_name=file_name,
        width=4,
        height=3,
        split=split,
        sha256=sha,
        generated=generated,
        provenance=provenance,
    )
    placed = Placed(item, path, ())
    written = WrittenImage("linked", "f" * 64, (1, 2, 3, 4, 5), (4, 3))
    paths = {} if project_path is None else {image_id: project_path}
    laid = LaidOut()
    laid.add([_image_record(placed, written, paths)])
    assert _image_record_text(placed, written, paths) == laid.parts[0]
