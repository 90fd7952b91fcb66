"""Build the one-folder bundle: ``make bundle`` (or ``python packaging/build.py``).

Steps, each printed with its time:
1. ``build/bundle-venv``: a clean virtual environment with the pinned runtime set
   (``constraints.txt``), PyInstaller, pycocotools (the smoke test's COCO loader, never bundled)
   and the first-party plugins (installed, so their entry points travel as metadata). It is
   reused while the pins and the requirement list are unchanged. A clean
   venv matters: a stray system Qt or a second Qt binding (PyQt5, opencv-python's own Qt)
   would be collected into the bundle and break it.
2. PyInstaller with ``packaging/labeler.spec`` into ``dist/labeler/``.
3. ``dist/labeler-<version>-<platform>.tar.gz``: the installer artefact.

The same script and spec build on Linux, Windows and macOS (see docs/packaging.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "build" / "bundle-venv"
DIST = REPO / "dist"
WORK = REPO / "build" / "pyinstaller"
PLUGINS = sorted(p for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file())
BUILD_ONLY = ["pyinstaller>=6.10", "pycocotools"]


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def runtime_requirements() -> list[str]:
    """The app's own dependencies, read from pyproject.toml (pinned by constraints.txt)."""
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    return list(doc["project"]["dependencies"])


def _stamp() -> str:
    """What the venv was made from: rebuilt when the pins or the requirement list change."""
    h = hashlib.sha256((REPO / "constraints.txt").read_bytes())
    h.update(json.dumps([runtime_requirements(), BUILD_ONLY]).encode())
    return h.hexdigest()


def run(cmd: list[str | Path], **kw) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def make_venv() -> None:
    stamp = VENV / ".bundle-stamp"
    if stamp.is_file() and stamp.read_text() == _stamp():
        print(f"reusing {VENV}")
    else:
        shutil.rmtree(VENV, ignore_errors=True)
        run([sys.executable, "-m", "venv", VENV])
        pip = [venv_python(), "-m", "pip", "install", "--disable-pip-version-check"]
        run([*pip, "-q", "--upgrade", "pip"])
        run([*pip, "-c", REPO / "constraints.txt", *runtime_requirements(), *BUILD_ONLY])
        stamp.write_text(_stamp())
    # The plugins are small; reinstall them every time so the bundle has the current code.
    if PLUGINS:
        run(
            [venv_python(), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            + ["--no-deps", "--no-build-isolation", "--force-reinstall", *PLUGINS]
        )
    _refuse_second_qt()


def _refuse_second_qt() -> None:
    """Fail early if the venv holds a Qt other than PySide6 (PyInstaller would bundle both)."""
    out = subprocess.run(
        [venv_python(), "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    names = {p["name"].lower() for p in json.loads(out)}
    bad = names & {"pyqt5", "pyqt6", "pyside2", "pyside6-addons", "opencv-python"}
    if bad:
        raise SystemExit(f"build venv holds {sorted(bad)}; it must have PySide6-Essentials only")


def build_bundle() -> Path:
    shutil.rmtree(DIST / "labeler", ignore_errors=True)
    run(
        [venv_python(), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level=WARN"]
        + ["--distpath", DIST, "--workpath", WORK, REPO / "packaging" / "labeler.spec"],
        cwd=REPO,
    )
    return DIST / "labeler"


def version() -> str:
    ns: dict[str, str] = {}
    exec((REPO / "labeler" / "__init__.py").read_text(), ns)
    return ns["__version__"]


def make_archive(bundle: Path) -> Path:
    plat = f"{sys.platform}-{platform.machine().lower()}"
    out = DIST / f"labeler-{version()}-{plat}.tar.gz"
    out.unlink(missing_ok=True)
    pigz = shutil.which("pigz")
    if pigz and os.name != "nt":  # same gzip format, all cores
        run(["tar", "-C", DIST, "-I", f"{pigz} -6", "-cf", out, bundle.name])
    else:
        with tarfile.open(out, "w:gz", compresslevel=6) as tar:
            tar.add(bundle, arcname=bundle.name)
    return out


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv-only", action="store_true", help="only create build/bundle-venv")
    ap.add_argument("--no-archive", action="store_true", help="skip the .tar.gz")
    args = ap.parse_args()
    times: dict[str, float] = {}
    t = time.monotonic()
    make_venv()
    times["venv_s"] = time.monotonic() - t
    if args.venv_only:
        return 0
    t = time.monotonic()
    bundle = build_bundle()
    times["pyinstaller_s"] = time.monotonic() - t
    figures: dict[str, object] = {"bundle": str(bundle), "bundle_bytes": du(bundle)}
    if not args.no_archive:
        t = time.monotonic()
        archive = make_archive(bundle)
        times["archive_s"] = time.monotonic() - t
        figures.update(archive=str(archive), archive_bytes=archive.stat().st_size)
    figures.update({k: round(v, 1) for k, v in times.items()})
    (DIST / "bundle-figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
