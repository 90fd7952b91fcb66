"""The PyInstaller spec, checked without PyInstaller or a build (ADR 0061): CI runs this; the
real build and its smoke test are `make bundle && make bundle-test` (docs/packaging.md)."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
SPEC = PACKAGING / "labeler.spec"


@pytest.fixture
def opts(monkeypatch):
    monkeypatch.syspath_prepend(str(PACKAGING))
    sys.modules.pop("bundle_options", None)
    import bundle_options

    return bundle_options


class _Recorder:
    """Stands in for PyInstaller's build classes and keeps what the spec passed."""

    calls: dict[str, tuple] = {}

    def __init__(self, *args, **kwargs) -> None:
        _Recorder.calls[type(self).__name__] = (args, kwargs)


class Analysis(_Recorder):
    # A sample of what PyInstaller collects, to see the spec's filter at work.
    binaries = [
        ("PySide6/Qt/lib/libQt6Core.so.6", "/x", "BINARY"),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x", "BINARY"),
        ("torch/lib/libtorch_cuda.so", "/x", "BINARY"),
        ("torch/lib/libfoo_static.a", "/x", "BINARY"),
        ("nvidia/cu13/lib/libcublas.so.13", "/x", "BINARY"),
    ]
    datas = [
        ("PySide6/Qt/translations/qtbase_de.qm", "/x", "DATA"),
        ("torch/include/ATen/ATen.h", "/x", "DATA"),
        ("nvidia/cudnn/include/cudnn.h", "/x", "DATA"),
        ("numpy/_core/tests/data/x.csv", "/x", "DATA"),
        ("cv2/config.py", "/x", "DATA"),
        ("labeler_fog-1.0.0.dist-info/entry_points.txt", "/x", "DATA"),
    ]
    scripts = [("labeler_main", "/x", "PYSOURCE")]
    pure = [
        ("numpy.tests.test_ctypeslib", "/x", "PYMODULE"),
        ("torch.testing", "/x", "PYMODULE"),
        ("labeler.plugins", "/x", "PYMODULE"),
    ]


class PYZ(_Recorder):
    pass


class EXE(_Recorder):
    pass


class COLLECT(_Recorder):
    pass


@pytest.fixture
def spec(tmp_path, monkeypatch, opts):
    """Run labeler.spec as PyInstaller would, with the build steps recorded, not run."""
    metadata: list[str] = []
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_dynamic_libs = lambda pkg, search_patterns: (
        [(f"/site/{pkg}/_C_stable.so", pkg)] if "*.so" in search_patterns else []
    )
    hooks.copy_metadata = lambda dist: (
        metadata.append(dist) or [(f"/site/{dist}.dist-info", f"{dist}.dist-info")]
    )
    for name in ("PyInstaller", "PyInstaller.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.hooks", hooks)
    _Recorder.calls = {}
    analysis = type("Analysis", (Analysis,), {})
    namespace = {
        "SPECPATH": str(PACKAGING),
        "DISTPATH": str(tmp_path / "dist"),
        "Analysis": analysis,
        "PYZ": PYZ,
        "EXE": EXE,
        "COLLECT": COLLECT,
        "__file__": str(SPEC),
    }
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    return namespace, metadata, tmp_path / "dist" / "labeler"


def test_the_spec_builds_one_folder_from_the_entry_script(spec, opts):
    kwargs = _Recorder.calls["Analysis"][1]
    script = Path(kwargs["scripts"][0])
    assert script == REPO / opts.ENTRY and script.is_file()
    assert "multiprocessing.freeze_support()" in script.read_text()
    assert kwargs["pathex"] == [str(REPO)]
    assert _Recorder.calls["EXE"][1]["exclude_binaries"] is True, "one folder, not one file"
    assert _Recorder.calls["COLLECT"][1]["name"] == "labeler"


def test_the_first_party_plugins_and_their_entry_points_are_bundled(spec, opts):
    _, metadata, _ = spec
    kwargs = _Recorder.calls["Analysis"][1]
    assert sorted(metadata) == ["labeler-createml", "labeler-fog"]
    assert {"labeler_fog", "labeler_createml"} <= set(kwargs["hiddenimports"])
    assert ("/site/labeler-fog.dist-info", "labeler-fog.dist-info") in kwargs["datas"]
    for dist, packages in opts.first_party_plugins():
        for pkg in packages:
            assert (
                REPO / "plugins" / dist.removeprefix("labeler-") / pkg / "__init__.py"
            ).is_file()


def test_torchvision_ops_library_is_collected(spec):
    kwargs = _Recorder.calls["Analysis"][1]
    assert ("/site/torchvision/_C_stable.so", "torchvision") in kwargs["binaries"]


def test_every_labeler_module_is_a_hidden_import(opts):
    hidden = set(opts.hidden_imports())
    assert {"labeler", "labeler.cli", "labeler.plugins", "labeler.gui.app", "labeler.ml.train"} <= (
        hidden
    )
    assert all(not m.endswith("__init__") for m in hidden)


def test_demo_photos_and_licences_go_beside_the_executable(spec):
    _, _, out = spec
    assert (out / "resources" / "LICENCES.md").is_file()
    assert sorted(p.name for p in (out / "resources" / "demo-photos").iterdir()) == sorted(
        p.name for p in (REPO / "resources" / "demo-photos").iterdir()
    )


def test_unused_files_are_left_out_and_needed_ones_kept(spec):
    ns, _, _ = spec
    a = ns["a"]
    assert [b[0] for b in a.binaries] == [
        "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "torch/lib/libtorch_cuda.so",
        "nvidia/cu13/lib/libcublas.so.13",
    ]
    assert [d[0] for d in a.datas] == [
        "cv2/config.py",
        "labeler_fog-1.0.0.dist-info/entry_points.txt",
    ]
    assert [m[0] for m in a.pure] == ["torch.testing", "labeler.plugins"]


def test_excluded_modules_are_never_imported_by_labeler_or_the_plugins(opts):
    """The bundle leaves out Qt modules other than QtCore/QtGui/QtWidgets, other bindings,
    triton and test tools; an import of one of them would work in the venv and fail only
    in the bundle, so it fails here first."""
    excluded = set(opts.EXCLUDES)
    shipped = [
        p
        for p in (REPO / "plugins").rglob("*.py")
        if "tests" not in p.parts and p.name != "conftest.py"
    ]
    files = sorted((REPO / "labeler").rglob("*.py")) + sorted(shipped)
    bad = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for n in names:
                if any(n == e or n.startswith(e + ".") for e in excluded):
                    bad.append(f"{f.relative_to(REPO)}: {n}")
    assert not bad, "imports of modules the bundle leaves out:\n" + "\n".join(bad)
    assert set(opts.QT_USED) == {"PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets"}


def test_make_has_the_bundle_targets():
    text = (REPO / "Makefile").read_text()
    assert "\nbundle:\n\t$(PYTHON) packaging/build.py" in text
    assert "\nbundle-test:\n\t$(PYTHON) packaging/smoke_test.py" in text


def test_the_build_and_smoke_scripts_compile():
    for name in ("build.py", "smoke_test.py", "bundle_options.py", "labeler_main.py"):
        compile((PACKAGING / name).read_text(), name, "exec")
