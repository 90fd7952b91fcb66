"""Plugins as a user meets them on the command line: installed by copying a package into the
plugin folder, listed, and used by recipes and exports in a fresh process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from testdata import DEMO_PHOTOS, REPO

LABELER = [sys.executable, "-m", "labeler"]


def run(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([*LABELER, *map(str, args)], capture_output=True, text=True, env=env)


def test_folder_plugins_are_listed_and_used_by_export(tmp_path):
    env = dict(os.environ)
    plugin_dir = Path(env["XDG_CONFIG_HOME"]) / "labeler" / "plugins"
    for package in ("fog/labeler_fog", "createml/labeler_createml"):
        shutil.copytree(REPO / "plugins" / package, plugin_dir / Path(package).name)
    (plugin_dir / "broken.py").write_text("raise RuntimeError('I am broken')\n")

    listing = json.loads(run("plugins", "list", "--json", env=env).stdout)
    by_name = {p["name"]: p for p in listing["plugins"]}
    assert by_name["labeler_fog"]["loaded"] and "fog" in json.dumps(by_name["labeler_fog"])
    assert by_name["labeler_createml"]["loaded"]
    assert not by_name["broken"]["loaded"] and "I am broken" in by_name["broken"]["error"]

    proj = tmp_path / "p.labeler"
    assert run("init", proj, env=env).returncode == 0
    assert run("import", proj, DEMO_PHOTOS, env=env).returncode == 0
    assert run("classes", proj, "add", "photo", env=env).returncode == 0
    for name in ("coffee.jpg", "rocket.jpg", "astronaut.jpg"):
        assert run("label", proj, name, "photo", env=env).returncode == 0
    recipe = tmp_path / "foggy.json"
    recipe.write_text(json.dumps({"schema_version": 1, "steps": [{"op": "fog"}]}))
    added = run("recipe", proj, "add", recipe, env=env)
    assert added.returncode == 0, added.stderr
    out = run(
        "export", proj, "--format", "createml", "--out", tmp_path / "cm",
        "--recipe", "foggy", "--multiplier", "1", "--json", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["verified"] and 2 * report["augmented"] == report["images"]["train"]


def test_a_createml_export_is_recognised_by_auto_import(tmp_path):
    env = dict(os.environ)
    plugin_dir = Path(env["XDG_CONFIG_HOME"]) / "labeler" / "plugins"
    shutil.copytree(REPO / "plugins/createml/labeler_createml", plugin_dir / "labeler_createml")
    proj = tmp_path / "p.labeler"
    run("init", proj, env=env)
    run("import", proj, DEMO_PHOTOS, env=env)
    run("classes", proj, "add", "photo", env=env)
    run("label", proj, "coffee.jpg", "photo", env=env)
    assert (
        run("export", proj, "--format", "createml", "--out", tmp_path / "cm", env=env).returncode
        == 0
    )
    fresh = tmp_path / "fresh.labeler"
    run("init", fresh, env=env)
    out = run("import", fresh, tmp_path / "cm", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["format"] == "createml"
