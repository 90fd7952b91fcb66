"""Every peer sample survives a round trip through our exports, by the real command line.

Each sample in ``tests/data/peers/`` is imported into a new project, exported to its own
format where Labeler writes it (COCO to COCO, YOLO and darknet to YOLO; CVAT and labelme
have no exporter), to COCO and to our CSV, and the export is imported into a second project. The two
projects must hold the same images (by content) with the same instances: same class,
same parts, every coordinate within 1 px; a multi-part instance comes back as one.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from labeler.cli import main

PEERS = Path(__file__).resolve().parents[1] / "data" / "peers"
SAMPLES = sorted(p.name for p in PEERS.iterdir() if p.is_dir() and not p.name.startswith("_"))
# The format each sample is imported as; its own export format where Labeler has one.
OWN = {"coco": "coco", "yolo": "yolo", "darknet": "yolo", "cvat": None, "labelme": None}
# Samples with multi-part instances: how many instances their parts make.
INSTANCES = {"labelme2coco": 5, "labelme-groups": 4, "cvat-groups": 3}


def _run(capsys, *argv: str | Path) -> dict:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err, (argv, err)
    return json.loads(out) if "--json" in argv else {}


def _import(capsys, proj: Path, ds: Path) -> dict:
    _run(capsys, "init", proj)
    return _run(capsys, "import", proj, ds, "--json")


Ring = tuple[tuple[float, float], ...]


def _instances(proj: Path) -> dict[str, list[tuple[str, list[tuple[str, Ring]]]]]:
    """Image sha256 -> its instances of boxes and polygons: (class, [(kind, ring), ...]),
    parts and instances sorted so that two projects compare by content."""
    con = sqlite3.connect(f"file:{proj}?mode=ro", uri=True)
    try:
        out: dict[str, dict[tuple, list]] = {
            sha: {} for (sha,) in con.execute("SELECT sha256 FROM images")
        }
        for sha, name, kind, geometry, sid, group in con.execute(
            "SELECT i.sha256, c.name, s.kind, s.geometry, s.id, s.group_id FROM shapes s"
            " JOIN images i ON i.id = s.image_id JOIN classes c ON c.id = s.class_id"
            " WHERE s.kind != 'tag' ORDER BY s.id"
        ):
            pts = tuple((float(x), float(y)) for x, y in json.loads(geometry))
            if kind == "box":  # as its corners, so that a box written as a polygon compares
                (x1, y1), (x2, y2) = pts
                pts = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
            key = (name, group) if group is not None else (name, -sid)
            out[sha].setdefault(key, []).append((kind, pts))
    finally:
        con.close()
    return {
        sha: sorted(
            ((k[0], sorted(parts, key=lambda p: p[1])) for k, parts in inst.items()), key=_order
        )
        for sha, inst in out.items()
    }


def _order(instance: tuple[str, list[tuple[str, Ring]]]) -> tuple:
    name, parts = instance
    return (name, len(parts), [[(round(x), round(y)) for x, y in ring] for _, ring in parts])


def _same(a: Ring, b: Ring) -> bool:
    return len(a) == len(b) and all(
        abs(x1 - x2) <= 1 and abs(y1 - y2) <= 1 for (x1, y1), (x2, y2) in zip(a, b, strict=True)
    )


def _assert_same(before: dict, after: dict, fmt: str) -> None:
    assert set(after) == set(before), f"{fmt}: images differ"
    for sha, want in before.items():
        got = list(after[sha])
        assert len(got) == len(want), (fmt, sha[:8], want, got)  # instances, not parts
        for name, parts in want:
            match = next(
                (
                    g
                    for g in got
                    if g[0] == name
                    and len(g[1]) == len(parts)
                    and all(_same(p[1], q[1]) for p, q in zip(parts, g[1], strict=True))
                ),
                None,
            )
            assert match is not None, (fmt, sha[:8], name, parts, got)
            got.remove(match)
            kinds = [k for k, _ in parts]
            back = [k for k, _ in match[1]]
            # YOLO in segment mode writes a box as its 4-corner polygon; COCO keeps boxes,
            # except a box that is one part of a multi-part instance.
            assert back == kinds or (
                (fmt == "yolo" or len(parts) > 1) and set(back) == {"polygon"}
            ), (fmt, name, kinds, back)


@pytest.mark.parametrize("sample", SAMPLES)
def test_peer_sample_round_trips_through_our_exports(capsys, tmp_path, sample):
    ds = tmp_path / sample
    shutil.copytree(PEERS / sample, ds)
    first = tmp_path / "first.labeler"
    report = _import(capsys, first, ds)
    before = _instances(first)
    assert before and any(before.values()), "the sample holds no box or polygon"
    if sample in INSTANCES:
        assert sum(len(i) for i in before.values()) == INSTANCES[sample]
    own = OWN[report["format"]]
    # CSV, our own table, holds everything: it checks the group column too.
    formats = ["coco", "csv"] + ([own] if own not in (None, "coco") else [])
    for fmt in formats:
        out = tmp_path / f"export-{fmt}"
        exported = _run(capsys, "export", first, "--format", fmt, "--out", out, "--json")
        assert exported["verified"]
        again = tmp_path / f"again-{fmt}.labeler"
        back = _import(capsys, again, out)
        assert back["format"] == fmt and back["not_imported"] == []
        _assert_same(before, _instances(again), fmt)


def test_labelme2coco_instances_stay_instances_in_stats_and_in_our_coco(capsys, tmp_path):
    """Issue 14 item 4: labelme2coco's annotations with several polygons were imported as
    one instance per polygon (12 came back as 16); 5 annotations of 9 polygons here."""
    proj = tmp_path / "p.labeler"
    report = _import(capsys, proj, PEERS / "labelme2coco")
    assert report["shapes_added"] == 9
    stats = _run(capsys, "stats", proj, "--json")
    per_class = {c["name"]: c["shapes"] for c in stats["classes"]}
    assert per_class == {"_background_": 0, "cat": 2, "dog": 2, "person": 1}
    out = tmp_path / "coco"
    _run(capsys, "export", proj, "--format", "coco", "--out", out, "--json")
    anns = [
        a
        for f in sorted((out / "annotations").glob("*.json"))
        for a in json.loads(f.read_text())["annotations"]
    ]
    assert len(anns) == 5
    assert sorted(len(a["segmentation"]) for a in anns) == [1, 1, 2, 2, 3]
    three = next(a for a in anns if len(a["segmentation"]) == 3)
    assert three["bbox"] == [2, 2, 46, 8] and three["area"] == 96  # union; 3 x 32
    again = tmp_path / "again.labeler"
    _import(capsys, again, out)
    assert Counter(len(p) for i in _instances(again).values() for _, p in i) == {
        1: 2,
        2: 2,
        3: 1,
    }
