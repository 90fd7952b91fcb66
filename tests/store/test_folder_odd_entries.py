"""Folder imports over trees as they arrive from other people (issue 13): FIFOs, sockets,
dangling links, link loops, unreadable folders and files, names with newlines or bytes that
are not UTF-8. The invariant, over random trees: the import never hangs and never crashes;
it exits 0 with one JSON document; the project holds exactly the good images; every entry
named like an image that was not imported is listed (skipped or duplicate) with its reason,
or lies in a folder that is listed.

Permission errors must be real: root reads everything, so each import runs in a forked child
that has dropped to an unprivileged user (like `test_a_file_without_read_permission_is_reported`
in test_import.py); when the tests do not run as root, chmod bites as it is.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testdata import fork_cli_unprivileged

import labeler.app.annotations  # noqa: F401 - loaded before the child drops privileges
import labeler.app.imports
from labeler.app.imports import LINKED_FOLDER, NOT_UTF8, shown_path
from labeler.cli import main
from labeler.store.project import Project

HANG_S = 60  # an import of a few dozen tiny files that takes this long is hung
SUFFIXES = [".png", ".jpg", ".JPG", ".jpeg", ".bmp", ".tif", ".webp", ".PNG"]
FOLDER_NAMES = ["a", "B", "sub dir", "ünï", "nl\nf", "bad\udcfe", ".hid", "img.jpg"]
NAME_STYLES = ["", " space", "\nnl", "é", "\udcff", "\t"]
FILE_KINDS = [
    "good",  # a unique decodable image
    "good",
    "dupe",  # the same bytes as every other dupe: one is imported, the rest are duplicates
    "corrupt",
    "empty",
    "fifo",
    "socket",
    "dangling",
    "self_loop",  # x.jpg -> x.jpg
    "link_out_good",  # a link to a good image outside the source: followed, imported
    "locked",  # a good image without read permission
    "not_image",  # notes.txt: not named like an image, not looked at
]
FOLDER_KINDS = ["plain", "plain", "plain", "locked", "loop_link", "link_out"]


@dataclass(frozen=True)
class Entry:
    folder: tuple[int, ...]  # indexes into the folder list, root first
    kind: str
    style: int
    suffix: int


def _image_bytes(suffix: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(suffix.lower(), pixels)
    assert ok
    return buf.tobytes()


@dataclass
class Tree:
    src: Path
    good: dict[str, str]  # path -> sha256 of the images that must be imported
    dupes: list[str]  # paths of importable copies of the dupe image (one is imported)
    dupe_sha: str
    locked: list[Path]  # folders and files without permissions

    def seen_as_folder_link(self, path: str) -> bool:
        """A link the import can see is one to a folder: its target is not behind a locked
        folder (then the link cannot be resolved, and it is just a name, not an image's)."""
        if not (os.path.islink(path) and os.path.isdir(path)):
            return False
        hop = Path(path)
        for _ in range(40):  # each link's own target, as the kernel resolves them
            if any(p in hop.parents for p in self.locked):
                return False
            if not hop.is_symlink():
                return True
            hop = hop.parent / os.readlink(hop)
        return True


def _build(base: Path, folders: list[tuple[int, int, int]], entries: list[Entry]) -> Tree:
    """Make the tree under ``base/src`` (and ``base/outside`` for links out).

    ``folders[i] = (parent index or -1 for the root, name index, kind index)``."""
    src, outside = base / "src", base / "outside"
    src.mkdir()
    outside.mkdir()
    (outside / "sub").mkdir()
    (outside / "sub" / "far.png").write_bytes(_image_bytes(".png", 10_000))
    paths: list[Path] = []
    blocked: list[bool] = []  # not readable by the import: locked, a link, or a bad name
    locked: list[Path] = []
    for parent, name_i, kind_i in folders:
        if parent >= 0 and paths[parent].is_symlink():
            parent = -1  # not "inside" a link: the folder would be made where it points
        top = src if parent < 0 else paths[parent]
        name = f"{FOLDER_NAMES[name_i]}{len(paths)}"
        path = top / name
        kind = FOLDER_KINDS[kind_i]
        inherited = parent >= 0 and blocked[parent]
        if kind == "loop_link":
            path.symlink_to(src if len(paths) % 2 else top, target_is_directory=True)
        elif kind == "link_out":
            path.symlink_to(outside / "sub", target_is_directory=True)
        else:
            path.mkdir()
        if kind == "locked":
            locked.append(path)
        paths.append(path)
        blocked.append(inherited or kind != "plain" or "\udcfe" in name)
    good: dict[str, str] = {}
    dupes: list[str] = []
    dupe_bytes = _image_bytes(".png", 99_999)
    for n, e in enumerate(entries):
        folder = src
        usable = True
        for i in e.folder:  # the last of the drawn folders that exists and is no link
            if i < len(paths) and not os.path.islink(paths[i]):
                folder = paths[i]
                usable = not blocked[i]
        suffix = SUFFIXES[e.suffix]
        style = NAME_STYLES[e.style]
        name = f"f{n}{style}{'.txt' if e.kind == 'not_image' else suffix}"
        usable = usable and "\udcff" not in name
        path = folder / name
        if e.kind in ("good", "locked"):
            data = _image_bytes(suffix, n)
            path.write_bytes(data)
            if e.kind == "locked":
                locked.append(path)
            elif usable:
                good[str(path)] = hashlib.sha256(data).hexdigest()
        elif e.kind == "dupe":
            path.write_bytes(dupe_bytes)
            if usable:
                dupes.append(str(path))
        elif e.kind == "corrupt":
            path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
        elif e.kind == "empty":
            path.write_bytes(b"")
        elif e.kind == "fifo":
            os.mkfifo(path)
        elif e.kind == "socket":
            os.mknod(path, 0o644 | stat.S_IFSOCK)
        elif e.kind == "dangling":
            path.symlink_to(folder / f"nowhere{n}.png")
        elif e.kind == "self_loop":
            path.symlink_to(path)
        elif e.kind == "link_out_good":
            far = outside / f"far{n}{suffix}"
            data = _image_bytes(suffix, 50_000 + n)
            far.write_bytes(data)
            path.symlink_to(far)
            if usable:
                good[str(path)] = hashlib.sha256(data).hexdigest()
        elif e.kind == "not_image":
            path.write_text("not an image")
    for p in locked:
        os.chmod(p, 0)
    return Tree(src, good, dupes, hashlib.sha256(dupe_bytes).hexdigest(), locked)


def _run_unprivileged(base: Path, *argv: str) -> tuple[int, str, str]:
    """``labeler ARGV`` in a forked child without root's rights; (exit code, stdout, stderr).
    A child still running after `HANG_S` is killed and the test fails: an import must never
    hang (a FIFO opened for reading blocks until a writer comes)."""
    out_path, err_path = base / "out.txt", base / "err.txt"
    pid = fork_cli_unprivileged(argv, out_path, err_path)
    deadline = time.monotonic() + HANG_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"labeler {' '.join(argv)} hung for {HANG_S} s")
        time.sleep(0.02)
    return os.waitstatus_to_exitcode(status), out_path.read_text(), err_path.read_text()


@pytest.fixture(scope="module", autouse=True)
def _modules_loaded():
    """Run one import of every kind of entry as we are, first: the modules an import loads
    lazily are then loaded before a child drops to a user who cannot read the interpreter's
    own library (it may live under /root). Codecs load lazily too."""
    for codec in ("unicode_escape", "raw_unicode_escape", "utf-8-sig", "utf-16", "utf-32"):
        codecs.lookup(codec)
    base = _fresh_base()
    try:
        files = [Entry((), k, 0, n % len(SUFFIXES)) for n, k in enumerate(FILE_KINDS)]
        tree = _build(base, [(-1, 0, k) for k in range(len(FOLDER_KINDS))], files)
        project = base / "p.labeler"
        Project.create(project).close()
        assert main(["import", str(project), str(tree.src), "--json"]) == 0
    finally:
        _unlock_and_remove(base)


def _fresh_base() -> Path:
    # Under /tmp, not pytest's tmp_path: the unprivileged child must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="labeler-odd-"))
    os.chmod(base, 0o777)
    return base


def _unlock_and_remove(base: Path) -> None:
    for folder, dirs, files in os.walk(base):
        for name in dirs + files:
            p = os.path.join(folder, name)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
    shutil.rmtree(base)


def _listed(path: str, listed: set[str]) -> bool:
    """The entry, or a folder it lies in, is listed in the report."""
    p = Path(path)
    return any(shown_path(q) in listed for q in [p, *p.parents])


def _check_import(base: Path, tree: Tree) -> dict:
    project = base / "proj" / "p.labeler"
    project.parent.mkdir()
    os.chmod(project.parent, 0o777)
    Project.create(project).close()
    os.chmod(project, 0o666)
    code, out, err = _run_unprivileged(base, "import", str(project), str(tree.src), "--json")
    assert "unexpected" not in err, err
    assert code == 0, err  # nothing in these trees is an error of the whole import
    report = json.loads(out)
    with Project.open(project) as p:
        held = {str(p.resolve(i)): i.sha256 for i in p.images()}
    want = dict(tree.good)
    if tree.dupes:
        imported_dupes = [d for d in tree.dupes if d in held]
        assert len(imported_dupes) == 1, (tree.dupes, held)
        want[imported_dupes[0]] = tree.dupe_sha
    assert held == want  # exactly the good images, each once
    listed = {s["path"] for s in report["skipped"] + report["duplicates"]}
    assert all(s["reason"].strip() for s in report["skipped"] + report["duplicates"])
    for folder, dirs, files in os.walk(tree.src, onerror=lambda e: None):
        for name in files + dirs:
            path = os.path.join(folder, name)
            if name in dirs and not tree.seen_as_folder_link(path):
                continue  # a folder we walk into, or a link the import cannot resolve
            if path not in held and (name in dirs or labeler.app.imports.is_image_path(name)):
                assert _listed(path, listed), (path, report)
    return report


entries = st.lists(
    st.builds(
        Entry,
        folder=st.lists(st.integers(0, 7), max_size=3).map(tuple),
        kind=st.sampled_from(FILE_KINDS),
        style=st.integers(0, len(NAME_STYLES) - 1),
        suffix=st.integers(0, len(SUFFIXES) - 1),
    ),
    min_size=1,
    max_size=24,  # in-process probing (< 48 files): the unprivileged child starts no pool
)


@st.composite
def folder_lists(draw) -> list[tuple[int, int, int]]:
    folders: list[tuple[int, int, int]] = []
    for i in range(draw(st.integers(0, 8))):
        parent = draw(st.integers(-1, i - 1))
        folders.append(
            (
                parent,
                draw(st.integers(0, len(FOLDER_NAMES) - 1)),
                draw(st.integers(0, len(FOLDER_KINDS) - 1)),
            )
        )
    return folders


@settings(
    max_examples=int(os.environ.get("LABELER_ODD_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(folders=folder_lists(), files=entries)
def test_a_folder_import_of_any_odd_tree_holds_the_good_images_and_lists_the_rest(folders, files):
    base = _fresh_base()
    try:
        tree = _build(base, folders, files)
        _check_import(base, tree)
    finally:
        _unlock_and_remove(base)


def test_each_odd_entry_is_listed_with_its_own_reason():
    """The cases above once each, with the reason a user reads."""
    base = _fresh_base()
    try:
        folders = [(-1, 0, 3), (-1, 1, 4), (-1, 2, 5), (-1, 5, 0), (-1, 0, 0)]
        kinds = ["good", "corrupt", "empty", "fifo", "socket", "dangling", "self_loop",
                 "link_out_good", "locked", "not_image"]  # fmt: skip
        files = [Entry((4,), k, 0, 0) for k in kinds]
        files += [Entry((4,), "good", 2, 1), Entry((4,), "good", 4, 0), Entry((3,), "good", 0, 0)]
        tree = _build(base, folders, files)
        report = _check_import(base, tree)
        reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
        assert reasons["a0"].startswith("cannot read folder")  # locked folder
        assert reasons["B1"] == LINKED_FOLDER and reasons["sub dir2"] == LINKED_FOLDER
        assert reasons["bad\\xfe3"] == NOT_UTF8  # once, for the folder and all it holds
        assert reasons["f1.png"]  # corrupt: what the decoder says
        assert reasons["f2.png"] == "empty file (0 bytes)"
        assert reasons["f3.png"] == reasons["f4.png"] == "not a regular file"
        assert reasons["f5.png"] == "broken symlink"
        assert "symbolic links" in reasons["f6.png"]  # a loop of links: ELOOP
        assert reasons["f8.png"] == "permission denied"
        assert reasons["f11\\xff.png"] == NOT_UTF8
        assert "f9.txt" not in reasons
        assert len(tree.good) == 3  # f0, the link out (f7), and "f10\nnl.jpg"
    finally:
        _unlock_and_remove(base)


def test_the_text_report_gives_one_line_per_listed_entry(capsys, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "new\nline.png").write_bytes(_image_bytes(".png", 1))
    os.mkfifo(src / "pipe\nname.png")
    (src / os.fsdecode(b"bad\xff.png")).write_bytes(b"")
    (src / "loop").symlink_to(src, target_is_directory=True)
    project = tmp_path / "p.labeler"
    Project.create(project).close()
    assert main(["import", str(project), str(src)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("format: folder of images (")  # what auto chose, and why
    out = out[1:]
    assert out[0].startswith("added 1 image(s)") and "3 skipped" in out[0]
    skipped = [line for line in out if line.startswith("skipped: ")]
    assert len(skipped) == 3 and len(out) == 4
    assert any("pipe\\nname.png: not a regular file" in line for line in skipped)
    assert any("bad\\xff.png: the name is not valid UTF-8" in line for line in skipped)


def test_many_odd_entries_through_the_process_pool(tmp_path):
    """Above 48 files the probe runs in worker processes: the same answers there."""
    from labeler.app.imports import import_folders

    src = tmp_path / "src"
    src.mkdir()
    for n in range(60):
        (src / f"g{n}.png").write_bytes(_image_bytes(".png", n))
    for n in range(5):
        os.mkfifo(src / f"fifo{n}.jpg")
        os.mknod(src / f"sock{n}.png", 0o644 | stat.S_IFSOCK)
        (src / f"dangling{n}.png").symlink_to(src / "nowhere.png")
    (src / "loop").symlink_to(src, target_is_directory=True)
    with Project.create(tmp_path / "p.labeler") as p:
        started = time.monotonic()
        report = import_folders(p, [src])
        assert time.monotonic() - started < HANG_S
        assert report.added == 60 and len(p.images()) == 60
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert len(reasons) == 16 and reasons["loop"] == LINKED_FOLDER
    assert all(reasons[f"fifo{n}.jpg"] == "not a regular file" for n in range(5))
    assert all(reasons[f"sock{n}.png"] == "not a regular file" for n in range(5))


def test_labels_from_folders_counts_the_images_outside_any_class_folder(tmp_path):
    from labeler.app.imports import NOT_IN_A_CLASS_FOLDER, import_folders

    src = tmp_path / "src"
    (src / "cat").mkdir(parents=True)
    for n in range(3):
        (src / "cat" / f"c{n}.png").write_bytes(_image_bytes(".png", n))
    for n in range(2):
        (src / f"loose{n}.png").write_bytes(_image_bytes(".png", 10 + n))
    with Project.create(tmp_path / "p.labeler") as p:
        report = import_folders(p, [src], labels_from_folders=True)
        assert report.added == 5 and report.tags_added == 3 and report.untagged == 2
        (folder,) = report.untagged_folders
        assert folder.path == str(src) and folder.images == 2
        assert folder.reason == NOT_IN_A_CLASS_FOLDER
        untagged = [i for i in p.images() if not p.shapes(i.id)]
        assert sorted(Path(i.path).name for i in untagged) == ["loose0.png", "loose1.png"]
