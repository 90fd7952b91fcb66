"""The project file survives what users and other processes do to it (issue 12).

Real processes on one project: a holder that opens a second connection, a CLI beside it, a
SIGKILL; two writers at once; a backup cut short; files we must refuse without touching them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from testdata import TEST_DATA

from labeler.cli import main
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.store.migrations import APPLICATION_ID, SCHEMA_VERSION
from labeler.store.project import Project, backup_before_upgrade

LABELER = Path(sys.executable).parent / "labeler"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def make_project(path: Path, images: int = 3) -> None:
    with Project.create(path) as p:
        c = p.add_class("cat")
        for i in range(images):
            image = p.add_image(
                path.parent / f"img{i}.png", sha256=f"{i:064x}", phash=i, width=10,
                height=10, format="PNG", bytes=1,
            )  # fmt: skip
            p.add_shape(image, Shape.tag(c.id))


# -- 1. no second descriptor: the window's pattern, the CLI beside it, SIGKILL ---------------
HOLDER = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    from labeler.core.shapes import Shape
    from labeler.store.project import Project

    path, labeler, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    p = Project.open(path)                       # the window's connection, held throughout
    cls = p.classes()[0].id
    image = p.images()[0].id
    for n in range(6):
        # What the window's background jobs did after every edit: open the project again.
        with Project.open(path) as job:
            job.stats()
        if mode == "cli":
            # A terminal beside the window: the last user out checkpoints and deletes the WAL.
            subprocess.run([labeler, "stats", path], check=True, capture_output=True)
        p.add_shape(image, Shape.box(cls, n, n, n + 5, n + 5))
        print(f"committed {n}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("mode", ["cli", "alone"])
def test_edits_survive_a_second_open_a_cli_beside_and_a_sigkill(tmp_path, mode):
    path = tmp_path / "p.labeler"
    make_project(path, images=1)
    out = subprocess.run(
        [sys.executable, "-c", HOLDER, str(path), str(LABELER), mode],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert out.stdout.count("committed") == 6
    code = subprocess.run([LABELER, "stats", path], capture_output=True, text=True)
    assert code.returncode == 0, code.stderr
    with Project.open(path) as p:
        boxes = [s for s in p.shapes(p.images()[0].id) if s.kind == "box"]
        assert sorted(s.points[0][0] for s in boxes) == [0, 1, 2, 3, 4, 5]
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


WRITER = textwrap.dedent(
    """
    import sys
    from labeler.core.shapes import Shape
    from labeler.store.project import Project

    path, tag, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with Project.open(path) as p:
        cls = p.classes()[0].id
        images = [i.id for i in p.images()]
        for n in range(count):
            with Project.open(path) as other:   # a job's own connection, opened and closed
                other.image_count()
            s = p.add_shape(images[n % len(images)], Shape.box(cls, tag, n, tag + 1, n + 1))
            print(f"committed {s.id}", flush=True)
    """
)


def test_two_writers_and_a_reader_lose_nothing_when_both_are_killed(tmp_path):
    """Two windows on one project, a terminal running `labeler stats` beside them, then a
    power cut (SIGKILL to both writers): every edit either reported is on disk."""
    path = tmp_path / "p.labeler"
    make_project(path, images=4)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(tag), "100000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for tag in (100, 200)
    ]
    reported: list[list[int]] = [[], []]

    def collect(k: int) -> None:
        for line in writers[k].stdout:
            reported[k].append(int(line.split()[1]))

    threads = [threading.Thread(target=collect, args=(k,), daemon=True) for k in (0, 1)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while min(len(r) for r in reported) < 40 and time.monotonic() < deadline:
        subprocess.run([LABELER, "stats", path], capture_output=True, check=True)
    for w in writers:
        w.send_signal(signal.SIGKILL)
    for w in writers:
        w.wait(30)
    for t in threads:
        t.join(30)
    assert min(len(r) for r in reported) >= 40, [w.stderr.read() for w in writers]
    with Project.open(path) as p:
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in p.conn.execute("SELECT id FROM shapes WHERE kind = 'box'")}
    assert set(reported[0]) <= stored
    assert set(reported[1]) <= stored


# -- 4. the backup before an upgrade is verified before the upgrade goes on ------------------
def old_project(tmp_path: Path) -> Path:
    path = tmp_path / "old.labeler"
    path.write_bytes((TEST_DATA / "project_v1.labeler").read_bytes())
    return path


def table_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


@pytest.mark.parametrize("leftover", ["empty", "truncated"])
def test_a_broken_earlier_backup_is_replaced_by_a_verified_one(tmp_path, leftover):
    path = old_project(tmp_path)
    before = table_counts(path)
    backup = tmp_path / "old.labeler.schema1.bak"
    good = tmp_path / "good.bak"
    conn = sqlite3.connect(path)
    dest = sqlite3.connect(good)
    conn.backup(dest)
    dest.close()
    conn.close()
    backup.write_bytes(b"" if leftover == "empty" else good.read_bytes()[:1500])
    with Project.open(path) as p:
        assert p.schema_version == SCHEMA_VERSION
    assert table_counts(backup) == before and before["images"] > 0
    conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_no_upgrade_without_a_verified_backup(tmp_path, monkeypatch):
    path = old_project(tmp_path)
    before = digest(path)
    import labeler.store.project as project_module

    monkeypatch.setattr(project_module, "_backup_matches", lambda *a: "fails the check")
    with pytest.raises(LabelerError, match="could not be verified.*not upgraded"):
        Project.open(path)
    assert digest(path) == before
    assert not (tmp_path / "old.labeler.schema1.bak").exists()
    assert [n for n in siblings(path) if "partial" in n] == []


OPENER = "import sys\nfrom labeler.store.project import Project\nProject.open(sys.argv[1])\n"


def test_a_backup_killed_at_any_moment_never_passes_for_a_good_one(tmp_path):
    """Kill the opening process at growing delays: whatever is at the backup's name is a
    complete, verified copy, and the next open ends upgraded with such a copy."""
    src = old_project(tmp_path)
    want = table_counts(src)
    for k, delay in enumerate([0.05, 0.15, 0.3, 0.45, 0.6, 0.9]):
        folder = tmp_path / f"try{k}"
        folder.mkdir()
        path = folder / "old.labeler"
        path.write_bytes(src.read_bytes())
        child = subprocess.Popen([sys.executable, "-c", OPENER, str(path)])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        backup = folder / "old.labeler.schema1.bak"
        if backup.exists():
            assert table_counts(backup) == want
        with Project.open(path) as p:
            assert p.schema_version == SCHEMA_VERSION
            assert p.image_count() == want["images"]
        assert table_counts(backup) == want


def test_a_sound_backup_of_other_content_is_kept_and_a_new_one_written_beside(tmp_path):
    path = old_project(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM shapes")
    conn.commit()
    older = tmp_path / "old.labeler.schema1.bak"
    dest = sqlite3.connect(older)
    conn.backup(dest)
    dest.close()
    conn.close()
    kept = digest(older)
    path.write_bytes((TEST_DATA / "project_v1.labeler").read_bytes())
    conn = sqlite3.connect(path)
    made = backup_before_upgrade(conn, path, 1)
    conn.close()
    assert digest(older) == kept and made != older and made.name.endswith(".bak")
    assert table_counts(made) == table_counts(path)


# -- 5. a refused file stays byte-identical ------------------------------------------------
def rollback_db(path: Path, app_id: int, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("other-sqlite", "not a Labeler project"),
        ("newer-rollback", "newer Labeler"),
        ("text", "not an SQLite file"),
        ("empty", "empty file but not a Labeler project"),
    ],
)
def test_refused_files_are_left_byte_identical(tmp_path, capsys, kind, message):
    path = tmp_path / "x.labeler"
    if kind == "other-sqlite":
        rollback_db(path, 0, 3)
    elif kind == "newer-rollback":
        rollback_db(path, APPLICATION_ID, SCHEMA_VERSION + 5)
    elif kind == "text":
        path.write_text("this is not a database\n" * 50)
    else:
        path.write_bytes(b"")
    before, names = digest(path), siblings(path)
    assert main(["stats", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    with pytest.raises(LabelerError, match=message):
        Project.open(path)
    assert digest(path) == before and siblings(path) == names


# -- 14. a damaged project: what it is and where the copy is, in one line --------------------
def test_a_damaged_project_says_so_and_points_at_the_backup(tmp_path, capsys):
    path = old_project(tmp_path)
    Project.open(path).close()  # upgraded: a backup is kept beside it
    conn = sqlite3.connect(path)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'images'").fetchone()
    conn.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * size : (root - 1) * size + 64] = b"\x00" * 64  # wreck its b-tree page
    path.write_bytes(bytes(data))
    before = digest(path)
    code = main(["stats", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "unexpected" not in err
    assert "damaged" in err and "old.labeler.schema1.bak" in err
    assert digest(path) == before


def test_usage_errors_are_one_line(capsys):
    for argv in (["stats"], ["export", "p.labeler"], ["bogus"], ["split", "p", "--ratios", "x"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("labeler: error: "), err


# -- 1b. an "image" that links to the project is refused, never opened --------------------
LINKER = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys
    from labeler.core.shapes import Shape
    from labeler.app.imports import import_folders
    from labeler.store.project import Project

    path, labeler, folder = sys.argv[1], sys.argv[2], sys.argv[3]
    p = Project.open(path)
    report = import_folders(p, [folder])           # in this process: fewer than 48 files
    print(json.dumps([s.reason for s in report.skipped]), flush=True)
    cls = p.classes()[0].id
    image = p.images()[0].id
    subprocess.run([labeler, "stats", path], check=True, capture_output=True)
    for n in range(6):
        p.add_shape(image, Shape.box(cls, n, n, n + 5, n + 5))
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_an_image_linking_to_the_open_project_is_refused_and_costs_no_edit(tmp_path, photos):
    path = tmp_path / "p.labeler"
    make_project(path, images=1)
    (photos / "evil.png").symlink_to(path)
    os.link(path, photos / "evil-hard.jpg")
    (photos / "evil-wal.png").symlink_to(tmp_path / "p.labeler-wal")
    out = subprocess.run(
        [sys.executable, "-c", LINKER, str(path), str(LABELER), str(photos)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == -signal.SIGKILL, out.stderr
    reasons, committed = out.stdout.splitlines()
    assert json.loads(reasons).count("a Labeler project file in use, not an image") == 3
    with Project.open(path) as p:
        boxes = [s for s in p.shapes(p.images()[0].id) if s.kind == "box"]
        assert len(boxes) == 6
