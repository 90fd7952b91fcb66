"""Run the built bundle as a user would, offline: ``make bundle-test`` after ``make bundle``.

Steps (each prints PASS, SKIP with the reason, or FAIL):
1. ``labeler --version``;
2. the GUI starts offscreen and quits cleanly (``LABELER_QUIT_AFTER_MS``);
3. a CLI pipeline on the bundled demo photos: init, import, classes, label, split, export COCO,
   and the export loads in pycocotools (run from the build venv, never from the bundle);
4. the first-party plugins are found inside the bundle (``labeler plugins list --json``) and
   a CreateML export passes its check, once the CLI has those commands;
5. a GAN step on the CPU at the tiny size (torch really loads from the bundle), when
   ``labeler gan`` exists;
6. GUI cold start (launch to window shown and quit) from the bundle beside
   ``python -m labeler gui`` from ``.venv``, measured in this same run.

No network: on Linux the whole test re-runs itself under ``unshare -rn`` (a network namespace
with no interfaces but loopback down), and proves it by failing to connect; elsewhere it sets
an unreachable proxy and says that only a weaker guard ran. Figures go to
``dist/smoke-figures.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / "dist" / "labeler"
EXE = BUNDLE / ("labeler.exe" if os.name == "nt" else "labeler")
BUILD_PY = (
    REPO / "build" / "bundle-venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
)
DEV_PY = REPO / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
NS_FLAG = "LABELER_SMOKE_NETNS"
GUI_RUNS = 3

results: list[tuple[str, str, str]] = []
figures: dict[str, object] = {}


def step(name: str, status: str, detail: str = "") -> None:
    results.append((name, status, detail))
    print(f"[{status}] {name}" + (f": {detail}" if detail else ""), flush=True)


def run(args: list[str | Path], env: dict[str, str], timeout: float = 600, **kw):
    return subprocess.run(
        [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout, **kw
    )


def user_env(home: Path) -> dict[str, str]:
    """A user's environment: an empty HOME and config dir, offscreen Qt, no Python paths."""
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "APPDATA": str(home / "AppData"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "QT_QPA_PLATFORM": "offscreen",
        "LABELER_PROGRESS": "0",
        "LANG": "C.UTF-8",
    }
    if os.name == "nt":
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
    if os.environ.get(NS_FLAG) == "proxy":
        env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    return env


# -- isolation -------------------------------------------------------------------------------
def enter_network_namespace() -> None:
    """Re-run this script in a namespace without network (Linux, unprivileged)."""
    if os.environ.get(NS_FLAG):
        return
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        env = {**os.environ, NS_FLAG: "unshare"}
        os.execve(unshare, [unshare, "-rn", sys.executable, *sys.argv], env)
    os.environ[NS_FLAG] = "proxy"


def prove_offline() -> None:
    mode = os.environ.get(NS_FLAG)
    try:
        socket.create_connection(("1.1.1.1", 443), timeout=2).close()
        reached = True
    except OSError:
        reached = False
    figures["network_guard"] = mode
    if mode == "unshare" and not reached:
        step("offline", "PASS", "unshare -rn: no network interface; a test connection failed")
    elif mode == "unshare":
        step("offline", "FAIL", "inside unshare -rn a connection still succeeded")
    else:
        step("offline", "PASS" if not reached else "SKIP", "unshare unavailable: proxy env only")


# -- steps -------------------------------------------------------------------------------------
def check_version(env: dict[str, str]) -> None:
    from_init: dict[str, str] = {}
    exec((REPO / "labeler" / "__init__.py").read_text(), from_init)
    r = run([EXE, "--version"], env, timeout=120)
    want = f"labeler {from_init['__version__']}"
    ok = r.returncode == 0 and r.stdout.strip() == want
    step("--version", "PASS" if ok else "FAIL", r.stdout.strip() or r.stderr.strip()[-300:])


def gui_start(cmd: list[str | Path], env: dict[str, str]) -> tuple[float, int, str]:
    env = {**env, "LABELER_QUIT_AFTER_MS": "0"}
    t = time.perf_counter()
    r = run(cmd, env, timeout=120)
    return time.perf_counter() - t, r.returncode, r.stderr


def check_gui(env: dict[str, str]) -> None:
    seconds, rc, err = gui_start([EXE, "gui"], env)
    figures["gui_first_start_s"] = round(seconds, 2)
    ok = rc == 0
    step("gui starts offscreen and quits", "PASS" if ok else "FAIL", f"{seconds:.2f} s, rc {rc}")
    if not ok:
        print(err[-2000:])


def cli(env: dict[str, str], *args: str | Path, timeout: float = 600) -> dict | None:
    r = run([EXE, *args], env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"labeler {' '.join(map(str, args))}: rc {r.returncode}: {r.stderr}")
    return json.loads(r.stdout) if "--json" in args else None


def check_pipeline(env: dict[str, str], work: Path) -> None:
    photos = BUNDLE / "resources" / "demo-photos"
    licences = BUNDLE / "resources" / "LICENCES.md"
    if not (photos.is_dir() and licences.is_file()):
        step("demo photos bundled", "FAIL", f"missing {photos} or {licences}")
        return
    step("demo photos bundled", "PASS", f"{len(list(photos.iterdir()))} files with LICENCES.md")
    project = work / "demo.labeler"
    try:
        t = time.perf_counter()
        cli(env, "init", project)
        imported = cli(env, "import", project, photos, "--json")
        cli(env, "classes", project, "add", "photo", "science")
        for k, image in enumerate(sorted(photos.iterdir())):
            cli(env, "label", project, image.name, "science" if k % 2 else "photo")
        cli(env, "split", project, "--seed", "1", "--json")
        out = work / "coco"
        report = cli(env, "export", project, "--format", "coco", "--out", out, "--json")
        figures["pipeline_s"] = round(time.perf_counter() - t, 1)
    except RuntimeError as e:
        step("cli pipeline", "FAIL", str(e)[-1500:])
        return
    ok = report["verified"] and imported["added"] == len(list(photos.iterdir()))
    step("cli pipeline init/import/label/split/export coco", "PASS" if ok else "FAIL")
    check_with_pycocotools(out)


def check_with_pycocotools(out: Path) -> None:
    code = (
        "import sys, json\n"
        "from pycocotools.coco import COCO\n"
        "n = {}\n"
        "for f in sys.argv[1:]:\n"
        "    c = COCO(f)\n"
        "    n[f.rsplit('/', 1)[-1]] = [len(c.getImgIds()), len(c.getCatIds())]\n"
        "print(json.dumps(n))\n"
    )
    files = sorted((out / "annotations").glob("instances_*.json"))
    r = subprocess.run(
        [str(BUILD_PY), "-c", code, *map(str, files)], capture_output=True, text=True
    )
    if r.returncode != 0 or not files:
        step("export loads in pycocotools", "FAIL", (r.stderr or "no annotation files")[-800:])
        return
    counts = json.loads(r.stdout.strip().splitlines()[-1])
    step("export loads in pycocotools", "PASS", json.dumps(counts))


def check_plugins(env: dict[str, str], work: Path) -> None:
    r = run([EXE, "plugins", "list", "--json"], env, timeout=120)
    if r.returncode != 0:
        step("plugins inside the bundle", "SKIP", "`labeler plugins list` is not wired yet")
        return
    listed = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    want = {"fog": "ops", "createml": "exporters"}
    missing = [n for n in want if not (listed.get(n) or {}).get("loaded")]
    step(
        "plugins inside the bundle",
        "FAIL" if missing else "PASS",
        f"not loaded: {missing}" if missing else "fog and createml loaded from entry points",
    )
    project = work / "demo.labeler"
    r = run([EXE, "export", project, "--format", "createml", "--out", work / "cml"], env)
    status = "PASS" if r.returncode == 0 else "FAIL"
    step("createml export from the bundle", status, (r.stdout + r.stderr).strip()[-300:])


def check_gan(env: dict[str, str], work: Path) -> None:
    if run([EXE, "gan", "--help"], env, timeout=120).returncode != 0:
        step("gan step on cpu", "SKIP", "`labeler gan` is not wired yet")
        return
    project = work / "gan.labeler"
    cifar = BUNDLE / "resources" / "cifar10-lt-mini"
    try:
        cli(env, "init", project)
        cli(env, "import", project, cifar, "--labels-from-folders")
        cli(env, "split", project)
        t = time.perf_counter()
        data = cli(
            env,
            "gan",
            "train",
            project,
            "--steps",
            "2",
            "--resolution",
            "32",
            "--device",
            "cpu",
            "--width",
            "tiny",
            "--batch-size",
            "8",
            "--json",
        )
        figures["gan_2_steps_s"] = round(time.perf_counter() - t, 1)
    except RuntimeError as e:
        step("gan step on cpu", "FAIL", str(e)[-1500:])
        return
    step("gan step on cpu (torch loads from the bundle)", "PASS", f"step {data.get('step')}")


def measure_cold_start(env: dict[str, str], work: Path) -> None:
    """Bundle vs venv, alternated, in one run, opening the demo project (8 photos); the first
    run of each is the coldest."""
    project = work / "demo.labeler"
    runs: dict[str, list[float]] = {"bundle": [], "venv": []}
    cmds = {"bundle": [EXE, "gui", project], "venv": [DEV_PY, "-m", "labeler", "gui", project]}
    if not DEV_PY.is_file():
        del cmds["venv"], runs["venv"]
    venv_env = {**env, "PYTHONPATH": str(REPO)}
    for _ in range(GUI_RUNS):
        for kind, cmd in cmds.items():
            seconds, rc, _ = gui_start(cmd, venv_env if kind == "venv" else env)
            if rc == 0:
                runs[kind].append(seconds)
    for kind, times in runs.items():
        if times:
            figures[f"gui_start_{kind}_s"] = {
                "first": round(times[0], 2),
                "median": round(statistics.median(times), 2),
                "runs": len(times),
            }
    text = ", ".join(f"{k} {v}" for k, v in figures.items() if k.startswith("gui_start_"))
    step("gui cold start (launch to window shown and quit)", "PASS", text)


def main() -> int:
    if not EXE.is_file():
        print(f"no bundle at {EXE}; run `make bundle` first", file=sys.stderr)
        return 2
    enter_network_namespace()
    prove_offline()
    with tempfile.TemporaryDirectory(prefix="labeler-smoke-") as tmp:
        work = Path(tmp)
        env = user_env(work / "home")
        check_version(env)
        check_gui(env)
        check_pipeline(env, work)
        check_plugins(env, work)
        check_gan(env, work)
        measure_cold_start(env, work)
    (REPO / "dist" / "smoke-figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    failed = [name for name, status, _ in results if status == "FAIL"]
    skipped = [name for name, status, _ in results if status == "SKIP"]
    print(
        f"\n{len(results) - len(failed) - len(skipped)} passed, {len(skipped)} skipped, "
        f"{len(failed)} failed; figures in dist/smoke-figures.json"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
