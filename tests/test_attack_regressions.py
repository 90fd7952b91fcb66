"""What an outside attack on the CLI found (issue 12's follow-up), each now a test.

Every case runs the real `labeler` command in a subprocess, as the attacker did, and asserts
what a user sees: the exit code, exactly one line on stderr, no hang, bounded memory, the
project unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from testdata import CIFAR_MINI

LABELER = Path(sys.executable).parent / "labeler"


def cli(*argv, timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LABELER, *map(str, argv)], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def one_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0, out.stdout
    assert out.stderr.startswith("labeler: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "unexpected" not in out.stderr
    return out.stderr


def dump(path: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def proj(tmp_path) -> Path:
    """A project with a few real CIFAR images in two classes, no split yet."""
    src = tmp_path / "src"
    for cls in ("airplane", "ship"):
        (src / cls).mkdir(parents=True)
        for f in sorted((CIFAR_MINI / cls).iterdir())[:4]:
            shutil.copy(f, src / cls / f.name)
    path = tmp_path / "p.labeler"
    assert cli("init", path).returncode == 0
    assert cli("import", path, src, "--labels-from-folders").returncode == 0
    return path


def test_a_seed_the_project_cannot_store_is_refused_before_anything(proj, tmp_path):
    before = dump(proj)
    out = tmp_path / "out"
    for seed in ("9223372036854775808", "-5"):
        one_error(cli("export", proj, "--format", "imagefolder", "--out", out, "--seed", seed))
        one_error(cli("split", proj, "--seed", seed))
    assert not out.exists() and dump(proj) == before
    assert (
        cli("export", proj, "--format", "imagefolder", "--out", out, "--seed", "7").returncode == 0
    )


@pytest.mark.parametrize("kind", ["fifo", "endless", "deep", "binary"])
def test_recipe_add_refuses_what_is_no_recipe_without_hanging(proj, tmp_path, kind):
    f = tmp_path / "r.json"
    if kind == "fifo":
        os.mkfifo(f)
    elif kind == "endless":
        f = Path("/dev/zero")
    elif kind == "deep":
        f.write_text('{"version": 1, "ops": [' + '{"one_of": [' * 3000 + "]}" * 3000 + "]}")
    else:
        f = proj  # the project file itself: binary, not UTF-8
    before = dump(proj)
    one_error(cli("recipe", proj, "add", f, timeout=30))
    assert dump(proj) == before


def test_gan_commands_refuse_bad_numbers_in_one_line(proj):
    for argv in (
        ("gan", "train", proj, "--steps", "-5", "--device", "cpu"),
        ("gan", "evaluate", proj, "--epochs", "-1", "--device", "cpu"),
        ("gan", "suggest", proj, "--device", "cpu"),  # no generator yet
        ("gan", "suggest", proj),  # the CPU fallback is no Python warning on stderr
    ):
        err = one_error(cli(*argv))
        assert "UserWarning" not in err


def test_classes_commands_print_sentences_not_python_dicts(proj):
    for argv, said in (
        (("add", "zebra"), "added zebra"),
        (("rename", "zebra", "horse"), "renamed 'zebra' to 'horse'"),
        (("remove", "horse"), "removed 'horse'"),
    ):
        out = cli("classes", proj, *argv)
        assert out.returncode == 0 and out.stdout.splitlines()[0].startswith(said), out.stdout
        assert "{" not in out.stdout


def png_header_only(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


PEAK = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    out = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps([out.returncode, peak, out.stdout, out.stderr]))
    """
)


def test_a_tiny_png_claiming_a_huge_side_is_refused_at_its_header(proj, tmp_path):
    """68 bytes claiming 1 x 199,999,999 px: under the pixel limit, over what OpenCV decodes.
    It took 1.6 GB to read its header (Pillow loads a PNG whole to look for EXIF)."""
    folder = tmp_path / "tall"
    folder.mkdir()
    png_header_only(folder / "tall.png", 1, 199_999_999)
    # The project's peak is measured in a grandchild: a direct child of pytest starts from
    # pytest's own peak on Linux.
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(LABELER), "import", str(proj), str(folder), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    code, peak_kb, stdout, stderr = json.loads(out.stdout)
    assert code == 0, stderr
    assert peak_kb < 400 * 1024  # it was 1.6 GB
    assert "1,048,576 px" in json.loads(stdout)["skipped"][0]["reason"]


def test_a_corrupt_image_is_reported_once_without_library_noise(proj, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    good = sorted((CIFAR_MINI / "cat").iterdir())[0]
    (folder / "bad.png").write_bytes(good.read_bytes()[:-200])  # cut short: libpng complains
    out = cli("import", proj, folder)
    assert out.returncode == 0 and out.stderr == ""
    assert "corrupt or truncated" in out.stdout


def test_an_empty_source_is_not_the_current_folder(proj, tmp_path):
    (tmp_path / "stray.png").write_bytes(
        (CIFAR_MINI / "cat" / os.listdir(CIFAR_MINI / "cat")[0]).read_bytes()
    )
    before = dump(proj)
    one_error(cli("import", proj, "", cwd=tmp_path))
    assert dump(proj) == before


def test_what_we_write_can_be_shared_like_any_new_file(proj, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "v1"
        assert cli("export", proj, "--format", "imagefolder", "--out", out).returncode == 0
        assert cli("health", proj, "--quick", "--html", tmp_path / "h.html").returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "manifest.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "h.html").stat().st_mode) == 0o644


def test_nothing_here_was_hard_coded(proj):
    # The fixture is what the tests above assume: real images, two classes, no split.
    stats = json.loads(cli("stats", proj, "--json").stdout)
    assert stats["images"] == 8 and stats["splits"]["unassigned"] == 8
    assert hashlib.sha256(proj.read_bytes()).hexdigest()


def test_an_export_whose_record_fails_leaves_the_splits_as_they_were(proj, tmp_path, monkeypatch):
    import labeler.app.exports as exports
    from labeler.core.errors import LabelerError
    from labeler.store.project import Project

    def fails(*args, **kwargs):
        raise LabelerError("simulated: the version could not be recorded")

    monkeypatch.setattr(exports, "add_version", fails)
    before = dump(proj)
    with Project.open(proj) as p, pytest.raises(LabelerError, match="simulated"):
        exports.export_project(p, "imagefolder", tmp_path / "out")
    assert dump(proj) == before  # the splits it assigned went with the failed record


def test_links_to_the_project_in_an_imagefolder_are_reported_with_their_own_reason(proj, tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    real = sorted((CIFAR_MINI / "truck").iterdir())[0]
    shutil.copy(real, ds / "real.png")
    os.link(proj, ds / "hard.jpg")
    (ds / "sym.png").symlink_to(proj)
    out = cli("import", proj, ds, "--format", "imagefolder", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    reasons = dict((r["path"], r["reason"]) for r in report["not_imported"])
    assert set(reasons) == {"hard.jpg", "sym.png"}
    assert "no annotation file" not in " ".join(reasons.values())
    assert "1 image(s) outside any class folder" in " ".join(report["problems"])


def test_an_export_with_an_empty_split_says_so(proj, tmp_path):
    # Every image in train: val and test are empty, and the report must say it.
    assert cli("split", proj, "--ratios", "1", "0", "0").returncode == 0
    out = cli("export", proj, "--format", "yolo", "--out", tmp_path / "y", "--json")
    assert out.returncode == 0, out.stderr
    warnings = " ".join(json.loads(out.stdout)["warnings"])
    assert "the val split is empty" in warnings and "the test split is empty" in warnings
    assert "val:" in (tmp_path / "y" / "data.yaml").read_text()  # Ultralytics requires it


def test_quieting_a_decode_never_repoints_a_descriptor_it_did_not_open(tmp_path, monkeypatch):
    """CI: a window job decoded while pytest swapped ``sys.stderr`` between tests; the
    restore went to the capture file's old number, closed by then (EBADF in the next test)
    or, worse, reused by another file, which would then write to the terminal."""
    from labeler.core.images import quiet_native_stderr

    capture = open(tmp_path / "capture.txt", "w")  # noqa: SIM115 - closed mid-decode below
    monkeypatch.setattr(sys, "stderr", capture)
    number = capture.fileno()
    with quiet_native_stderr():
        capture.close()  # the runner closes its capture while a decode runs
        db = open(tmp_path / "project.labeler", "wb")  # noqa: SIM115
        if db.fileno() != number:  # and the number goes to another file
            os.dup2(db.fileno(), number)
    try:
        assert os.fstat(number).st_ino == os.stat(tmp_path / "project.labeler").st_ino
    finally:
        if db.fileno() != number:
            os.close(number)
        db.close()
    with quiet_native_stderr():  # a closed sys.stderr is no reason to fail a decode
        pass
