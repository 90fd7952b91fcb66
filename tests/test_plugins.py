"""Plugins: discovery (user folder, entry points), the status list, broken plugins of every
kind reported and rolled back while the others work, enable/disable persisted, and no code
ever loaded from a project's folder."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from labeler import plugins
from labeler.core.augment import OPS, make_op, registered_ops
from labeler.core.errors import LabelerError
from labeler.core.formats import EXPORTERS, IMPORTERS
from labeler.core.health import HEALTH_CHECKS, HealthData, HealthImage, run_health

GOOD = """
import numpy as np
from labeler.core.augment import Op, Range, register_op
from labeler.core.health import Finding

__version__ = "2.1"

@register_op
class Darken(Op):
    name = "test_darken"
    params = {"amount": Range((10, 20), lo=0, hi=255, integer=True)}

    def sample(self, rng, width, height):
        return {"amount": self.integer(rng, "amount")}

    def apply(self, image, drawn):
        return np.clip(image.astype(int) - drawn["amount"], 0, 255).astype(np.uint8)

def too_few(data):
    if len(data.images) >= 3:
        return []
    return [Finding("test.too_few", "info", "Few images", "Under 3 images.", "Import more.")]

def register(api):
    api.add_op(Darken)
    api.add_health_check("test.too_few", too_few)
"""


def write_plugin(folder: Path, name: str, body: str, package: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name / "__init__.py" if package else folder / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def fake_distribution(site: Path, dist: str, version: str, eps: dict[str, str]) -> None:
    """A minimal installed distribution: METADATA and entry_points.txt in a .dist-info."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = [f"{k} = {v}" for k, v in eps.items()]
    (info / "entry_points.txt").write_text("[labeler.plugins]\n" + "\n".join(lines) + "\n")


def registries() -> dict[str, dict]:
    return {
        "ops": OPS.snapshot(),
        "exporters": EXPORTERS.snapshot(),
        "importers": IMPORTERS.snapshot(),
        "checks": HEALTH_CHECKS.snapshot(),
    }


@pytest.fixture(autouse=True)
def _fresh_plugins():
    plugins.unload_plugins()
    before = registries()
    yield
    plugins.unload_plugins()
    assert registries() == before, "a test left a plugin's features registered"


@pytest.fixture
def user_dir() -> Path:
    return plugins.plugin_dir()


def by_name(statuses) -> dict[str, plugins.PluginStatus]:
    return {s.name: s for s in statuses}


# -- where plugins come from -----------------------------------------------------------------
def test_every_test_has_its_own_home_and_config(tmp_path_factory):
    """The root conftest.py isolates HOME for the suite and the plugins' tests alike: no test
    loads the user's plugins or changes their plugins.json."""
    base = tmp_path_factory.getbasetemp()
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "APPDATA"):
        assert Path(os.environ[var]).is_relative_to(base), var
    for platform in ("linux", "win32", "darwin"):
        assert plugins.plugin_dir(platform).is_relative_to(base), platform


def test_config_dir_follows_each_platform(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert plugins.plugin_dir("linux") == tmp_path / "xdg" / "labeler" / "plugins"
    assert plugins.plugin_dir("win32") == tmp_path / "roaming" / "Labeler" / "plugins"
    assert plugins.plugin_dir("darwin") == (
        tmp_path / "home" / "Library" / "Application Support" / "Labeler" / "plugins"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert plugins.config_dir("linux") == tmp_path / "home" / ".config" / "labeler"
    assert plugins.settings_path() == plugins.config_dir() / "plugins.json"


def test_the_built_in_features_are_listed_through_the_same_api():
    (builtin,) = [s for s in plugins.load_plugins() if s.source == "built-in"]
    assert builtin.name == "labeler.builtin" and builtin.loaded and builtin.error is None
    assert {"rotate", "horizontal_flip", "gaussian_blur"} <= set(builtin.adds.ops)
    assert {"coco", "yolo", "voc", "csv", "imagefolder"} <= set(builtin.adds.exporters)
    assert {"coco", "cvat", "labelme"} <= set(builtin.adds.importers)
    assert set(builtin.adds.ops) == {
        n for n, c in registered_ops().items() if c.__module__.startswith("labeler.core.")
    }
    assert builtin.adds.health_checks == (
        "missing",
        "balance",
        "duplicates",
        "files",
        "annotations",
        "classifier",
    ), "Labeler's own health checks are registered like a plugin's, in the order they run"
    with pytest.raises(LabelerError, match="cannot be disabled"):
        plugins.set_plugin_enabled("labeler.builtin", False)


def test_a_plugin_in_the_user_folder_is_loaded_and_its_features_work(user_dir):
    write_plugin(user_dir, "darken", GOOD)
    write_plugin(user_dir, "pkgplugin", "def register(api):\n    pass\n", package=True)
    write_plugin(user_dir, "_private", "raise RuntimeError('never imported')")
    (user_dir / "notes.txt").write_text("not a plugin")
    statuses = plugins.load_plugins()
    assert [s.name for s in statuses] == ["labeler.builtin", "darken", "pkgplugin"]
    darken = by_name(statuses)["darken"]
    assert (darken.source, darken.version, darken.loaded, darken.error) == (
        "folder",
        "2.1",
        True,
        None,
    )
    assert darken.location == str(user_dir / "darken.py")
    assert darken.adds == plugins.Additions(ops=("test_darken",), health_checks=("test.too_few",))
    assert darken.adds.summary() == "ops: test_darken; health checks: test.too_few"
    assert by_name(statuses)["pkgplugin"].adds.summary() == "nothing"

    import numpy as np

    op = make_op("test_darken", {"amount": [5, 5]})
    assert op.apply(np.full((2, 2), 9, np.uint8), {"amount": 5}).tolist() == [[4, 4], [4, 4]]
    report = run_health(HealthData([HealthImage(1, "a.jpg", exists=False)]))
    assert report.by_check("test.too_few") is not None
    assert plugins.load_plugins() == statuses, "a second call changes nothing"


def test_loading_is_idempotent_and_imports_each_plugin_once(user_dir, tmp_path):
    counter = tmp_path / "imports.txt"
    write_plugin(
        user_dir,
        "counted",
        f"open({str(counter)!r}, 'a').write('x')\ndef register(api):\n    pass\n",
    )
    first = plugins.load_plugins()
    assert plugins.load_plugins() == first
    assert counter.read_text() == "x"
    plugins.load_plugins(reload=True)
    assert counter.read_text() == "xx"


def test_an_entry_point_of_an_installed_distribution_is_loaded(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_plugin(site, "ep_plugin", GOOD.replace('__version__ = "2.1"', ""))
    fake_distribution(site, "labeler-darken", "3.0.1", {"darken": "ep_plugin:register"})
    monkeypatch.syspath_prepend(str(site))
    darken = by_name(plugins.load_plugins())["darken"]
    assert (darken.source, darken.version, darken.location) == (
        "entry point",
        "3.0.1",
        "ep_plugin:register",
    )
    assert darken.loaded and darken.adds.ops == ("test_darken",)
    plugins.unload_plugins()
    assert "test_darken" not in registered_ops() and "ep_plugin" not in sys.modules


def test_an_entry_point_naming_a_module_uses_its_register(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_plugin(site, "ep_mod", GOOD)
    fake_distribution(site, "labeler-mod", "1.0", {"mod": "ep_mod"})
    monkeypatch.syspath_prepend(str(site))
    assert by_name(plugins.load_plugins())["mod"].adds.ops == ("test_darken",)


# -- broken plugins ----------------------------------------------------------------------------
BROKEN = {
    "raises_on_import": ("import nonexistent_module_xyz\n", "import failed: ModuleNotFoundError"),
    "syntax_error": ("def register(api)\n", "import failed: SyntaxError"),
    "exits": ("import sys\nsys.exit(3)\n", "import failed: SystemExit: 3"),
    "no_register": ("X = 1\n", "import failed: LabelerError: the plugin has no register(api)"),
    "clashing_op": (
        """
        from labeler.core.augment import Op
        class Rotate(Op):
            name = "rotate"
        def register(api):
            api.add_op(Rotate)
        """,
        "register() failed: LabelerError: an op named 'rotate' is already registered",
    ),
    "clashing_format": (
        """
        from labeler.core.formats import EXPORTERS
        def register(api):
            api.add_exporter(type(EXPORTERS["csv"])())
        """,
        "register() failed: LabelerError: an exporter named 'csv' is already registered",
    ),
    "clashing_on_import": (
        """
        from labeler.core.augment import Op, register_op
        @register_op
        class Flip(Op):
            name = "horizontal_flip"
        def register(api):
            pass
        """,
        "import failed: LabelerError: an op named 'horizontal_flip' is already registered",
    ),
    "raises_when_called": (
        """
        def register(api):
            raise RuntimeError("boom")
        """,
        "register() failed: RuntimeError: boom",
    ),
}


def test_broken_plugins_are_reported_and_the_others_work(user_dir):
    for name, (body, _) in BROKEN.items():
        write_plugin(user_dir, name, body)
    write_plugin(user_dir, "zz_good", GOOD)
    statuses = by_name(plugins.load_plugins())
    for name, (_, error) in BROKEN.items():
        s = statuses[name]
        assert not s.loaded and s.enabled and s.adds == plugins.Additions(), name
        assert s.error is not None and s.error.startswith(error), (name, s.error)
        assert name not in sys.modules
    assert statuses["zz_good"].loaded and statuses["zz_good"].error is None
    assert make_op("test_darken") is not None
    assert registered_ops()["rotate"].__module__ == "labeler.core.augment.geometry"
    assert type(EXPORTERS["csv"]).__module__ == "labeler.core.formats.csvfmt"


def test_a_plugin_failing_midway_leaves_nothing_registered(user_dir):
    before = registries()
    write_plugin(
        user_dir,
        "halfway",
        """
        from labeler.core.augment import Op, register_op
        from labeler.core.formats import EXPORTERS, IMPORTERS

        class Half(Op):
            name = "test_half"

        class Exp:
            name = "test-half"
            importer = "csv"
            tolerance_px = 0.0
            def place(self, items, names): return []
            def write(self, placed, classes, root, final_dir): return []

        def register(api):
            api.add_op(Half)
            api.add_exporter(Exp())
            api.add_health_check("test.half", lambda data: [])
            IMPORTERS.register("test-sneaky", IMPORTERS["csv"])   # behind the API's back
            api.add_importer(IMPORTERS["coco"].__class__())   # clashes: 'coco' is taken
        """,
    )
    s = by_name(plugins.load_plugins())["halfway"]
    assert s.error.startswith("register() failed: LabelerError: an importer named 'coco'")
    assert registries() == before


def test_the_api_closes_when_register_returns(user_dir):
    write_plugin(
        user_dir,
        "late",
        """
        from labeler.core.augment import Op
        KEPT = []
        class Late(Op):
            name = "test_late"
        def register(api):
            KEPT.append(api)
        """,
    )
    assert by_name(plugins.load_plugins())["late"].loaded
    api = sys.modules["late"].KEPT[0]
    with pytest.raises(LabelerError, match="only be added in register"):
        api.add_op(sys.modules["late"].Late)
    assert "test_late" not in registered_ops()


def test_a_failing_health_check_is_a_finding_not_a_crash(user_dir):
    write_plugin(
        user_dir,
        "badcheck",
        """
        def explode(data):
            raise ZeroDivisionError("division by zero")
        def wrong(data):
            return "not findings"
        def register(api):
            api.add_health_check("test.explode", explode)
            api.add_health_check("test.wrong", wrong)
        """,
    )
    write_plugin(user_dir, "good", GOOD)
    plugins.load_plugins()
    report = run_health(HealthData([HealthImage(1, "a.jpg", exists=False)]))
    failed = [f for f in report.findings if f.check == "plugins.check_failed"]
    assert [f.details["check"] for f in failed] == ["test.explode", "test.wrong"]
    assert failed[0].details["error"] == "ZeroDivisionError: division by zero"
    assert "TypeError: returned str" in failed[1].message
    assert report.by_check("files.missing") is not None, "the built-in checks still ran"
    assert report.by_check("test.too_few") is not None, "the other plugin's check still ran"
    assert json.loads(report.to_json())["findings"]


def test_two_plugins_with_one_name_load_once(user_dir, tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_plugin(site, "ep_dup", "def register(api):\n    pass\n")
    fake_distribution(site, "labeler-dup", "1.0", {"dup": "ep_dup"})
    monkeypatch.syspath_prepend(str(site))
    write_plugin(user_dir, "dup", "def register(api):\n    pass\n")
    dups = [s for s in plugins.load_plugins() if s.name == "dup"]
    assert [(s.source, s.loaded, s.error) for s in dups] == [
        ("entry point", True, None),
        ("folder", False, "another plugin is named 'dup'"),
    ]


def test_a_folder_plugin_cannot_shadow_an_installed_module(user_dir):
    write_plugin(user_dir, "json", "def register(api):\n    raise RuntimeError('mine')\n")
    s = by_name(plugins.load_plugins())["json"]
    assert not s.loaded and "the name 'json' is taken by" in s.error
    assert "dumps" in dir(sys.modules["json"]), "the real json module is untouched"


# -- enable / disable ---------------------------------------------------------------------------
def test_disable_and_enable_are_persisted_and_apply_on_the_next_load(user_dir):
    write_plugin(user_dir, "darken", GOOD)
    assert by_name(plugins.load_plugins())["darken"].loaded
    plugins.set_plugin_enabled("darken", False)
    assert json.loads(plugins.settings_path().read_text()) == {"disabled": ["darken"]}
    now = by_name(plugins.load_plugins())["darken"]
    assert not now.enabled and now.loaded, "the change applies at the next start"

    s = by_name(plugins.load_plugins(reload=True))["darken"]
    assert (s.enabled, s.loaded, s.error) == (False, False, None)
    assert "test_darken" not in registered_ops() and "darken" not in sys.modules

    plugins.set_plugin_enabled("darken", True)
    assert json.loads(plugins.settings_path().read_text()) == {"disabled": []}
    s = by_name(plugins.load_plugins(reload=True))["darken"]
    assert s.enabled and s.loaded and "test_darken" in registered_ops()


def test_a_corrupt_settings_file_disables_nothing(user_dir):
    write_plugin(user_dir, "darken", GOOD)
    plugins.settings_path().write_text("{not json")
    assert by_name(plugins.load_plugins())["darken"].loaded
    plugins.set_plugin_enabled("darken", False)  # and it is rewritten whole
    assert plugins.disabled_plugins() == {"darken"}


# -- no code from a project ---------------------------------------------------------------------
def test_nothing_is_loaded_from_a_project_folder(tmp_path, monkeypatch, user_dir):
    """A project folder someone sent may hold .py files, packages and a planted .dist-info
    with a labeler.plugins entry point; with that folder as the current folder (as when
    `python -m labeler` runs there) none of it is imported."""
    from labeler.store.project import Project

    shared = tmp_path / "shared-project"
    marker = tmp_path / "ran.txt"
    evil = f"open({str(marker)!r}, 'w').write('ran')\ndef register(api):\n    pass\n"
    write_plugin(shared, "evil", evil)
    write_plugin(shared / "plugins", "evil2", evil)
    write_plugin(shared, "evil3", evil, package=True)
    fake_distribution(shared, "labeler-evil", "6.6.6", {"evil": "evil:register"})
    with Project.create(shared / "data.labeler"):
        pass
    (shared / "export").mkdir()
    write_plugin(shared / "export", "evil4", evil)

    monkeypatch.chdir(shared)
    monkeypatch.syspath_prepend("")
    with Project.open(shared / "data.labeler"):
        statuses = plugins.load_plugins()
    assert [s.name for s in statuses] == ["labeler.builtin"]
    assert not marker.exists()
    assert plugins.plugin_dir() == user_dir and not user_dir.is_relative_to(shared)


# -- `labeler plugins list` --------------------------------------------------------------------
def test_plugins_list_prints_a_table_and_json(user_dir, capsys):
    write_plugin(user_dir, "darken", GOOD)
    write_plugin(user_dir, "broken", "raise RuntimeError('bad plugin')\n")
    assert plugins.plugins_list_command(json_output=False) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "SOURCE", "STATE", "ADDS"]
    assert any(line.startswith("labeler.builtin") and "ops" in line for line in lines)
    assert any(line.split()[:4] == ["broken", "-", "folder", "failed"] for line in lines)
    assert "error: broken: import failed: RuntimeError: bad plugin" in out
    assert f"plugin folder: {user_dir}" in out

    assert plugins.plugins_list_command(json_output=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "labeler.plugins/1" and doc["plugin_dir"] == str(user_dir)
    entry = {p["name"]: p for p in doc["plugins"]}["darken"]
    assert entry == {
        "name": "darken",
        "version": "2.1",
        "source": "folder",
        "location": str(user_dir / "darken.py"),
        "adds": {
            "ops": ["test_darken"],
            "exporters": [],
            "importers": [],
            "health_checks": ["test.too_few"],
            "assists": [],
            "prelabellers": [],
        },
        "enabled": True,
        "loaded": True,
        "error": None,
    }


def test_core_never_imports_the_plugin_loader():
    """The core is the bottom layer: the built-in plugin reads its registries, not the
    other way round (ADR 0060)."""
    core = Path(plugins.__file__).parent / "core"
    offenders = [
        str(f) for f in core.rglob("*.py") if "labeler.plugins" in f.read_text(encoding="utf-8")
    ]
    assert offenders == []
