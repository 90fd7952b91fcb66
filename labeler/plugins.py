"""Plugins: where they come from, how they are loaded, and the API they register features with.

A plugin is a Python module or package with a function ``register(api)``. ``api`` (a
`PluginAPI`) adds augmentation ops, export formats, import formats, health checks, assists and
pre-labellers::

    from labeler.core.augment import Op, Range, register_op

    @register_op            # spawned augmentation workers import this module to find the op
    class Fog(Op):
        name = "fog"
        params = {"density": Range((0.2, 0.5), lo=0.0, hi=1.0)}
        ...

    def register(api):
        api.add_op(Fog)
        api.add_exporter(CreateMLExporter())
        api.add_importer(CreateMLImporter())
        api.add_health_check("example.tiny", check)

Plugins are found in exactly two places (docs/plugins.md, ADR 0060):

- the entry-point group ``labeler.plugins`` of installed distributions (``pip install``), the
  entry point naming the module (or its ``register`` function);
- the user plugin folder in the platform's config dir (`plugin_dir`): each ``NAME.py`` file or
  ``NAME/`` package there is a plugin called NAME.

Never from a project file, an export, or the current folder: opening a project someone sent
must not run their code. Entry points are read from ``sys.path`` with the current folder left
out, so a ``*.dist-info`` planted beside a project is ignored.

Loading is transactional per plugin: the registries are snapshotted before a plugin is
imported and restored if the import or ``register`` raises (a clashing name raises), so a broken
plugin is reported with its error and leaves nothing behind, and the others load as usual. The
features Labeler itself ships are registered by the core on import and claimed through the same
API by the built-in plugin ``labeler.builtin`` (ADR 0060), so ``labeler plugins list`` shows them.

The user's enable/disable choices live in ``plugins.json`` beside the plugin folder; a disabled
plugin is not imported at all. Changes apply the next time Labeler starts.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from labeler import __version__
from labeler.core.assists import ASSISTS, Assist
from labeler.core.augment import OPS, Op
from labeler.core.errors import LabelerError
from labeler.core.files import atomic_write_text
from labeler.core.formats import EXPORTERS, IMPORTERS
from labeler.core.health import HEALTH_CHECKS, HealthCheck
from labeler.core.prelabellers import PRELABELLERS, Prelabeller
from labeler.core.registry import Registry

ENTRY_POINT_GROUP = "labeler.plugins"
BUILTIN = "labeler.builtin"
SETTINGS_FILE = "plugins.json"
Source = Literal["built-in", "entry point", "folder"]
REGISTRIES: dict[str, Registry[Any]] = {
    "ops": OPS,
    "exporters": EXPORTERS,
    "importers": IMPORTERS,
    "health_checks": HEALTH_CHECKS,
    "assists": ASSISTS,
    "prelabellers": PRELABELLERS,
}
"""Every registry a plugin can add to, by the name `Additions` and ``plugins list`` use."""
KINDS = tuple(REGISTRIES)


# -- what the CLI and GUI show ------------------------------------------------------------------
@dataclass(frozen=True)
class Additions:
    """What a plugin added, by name, per registry."""

    ops: tuple[str, ...] = ()
    exporters: tuple[str, ...] = ()
    importers: tuple[str, ...] = ()
    health_checks: tuple[str, ...] = ()
    assists: tuple[str, ...] = ()
    prelabellers: tuple[str, ...] = ()

    def summary(self) -> str:
        """``"ops: fog; exporters: createml"``, or ``"nothing"``."""
        parts = [
            f"{kind.replace('_', ' ')}: {', '.join(names)}"
            for kind in KINDS
            if (names := getattr(self, kind))
        ]
        return "; ".join(parts) or "nothing"


@dataclass(frozen=True)
class PluginStatus:
    """One plugin as ``labeler plugins list`` and the Plugins page show it.

    ``enabled`` is the user's choice (``plugins.json``); ``loaded`` says whether its features
    are active in this session (False when disabled or broken); ``error`` is the one-line
    reason a plugin failed, else None. ``location`` is the entry point (``module:attr``) or
    the file or folder it was loaded from.
    """

    name: str
    version: str
    source: Source
    location: str
    adds: Additions = field(default_factory=Additions)
    enabled: bool = True
    loaded: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["adds"] = {k: list(v) for k, v in d["adds"].items()}
        return d


# -- the API a plugin sees ------------------------------------------------------------------------
class PluginAPI:
    """Handed to ``register(api)``; every call registers one feature under a new name.

    A name that is already taken raises (the plugin is then reported and rolled back); there is
    no way to replace a built-in format or op, so ``--format coco`` always means our COCO.
    The API closes when ``register`` returns: a plugin cannot add features later, outside the
    transaction that would undo them.
    """

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.labeler_version = __version__
        self._added: dict[str, list[str]] = {k: [] for k in KINDS}
        self._open = True

    def add_op(self, op: type[Op]) -> type[Op]:
        """An augmentation op class (see ``labeler.core.augment.Op``); returns it."""
        return self._add("ops", getattr(op, "name", ""), op)

    def add_exporter(self, exporter: Any) -> Any:
        """An ``Exporter`` (``name``, ``importer``, ``tolerance_px``, ``place``, ``write``)."""
        return self._add("exporters", getattr(exporter, "name", ""), exporter)

    def add_importer(self, importer: Any) -> Any:
        """An ``Importer`` (``name``, ``detect``, ``read``)."""
        return self._add("importers", getattr(importer, "name", ""), importer)

    def add_health_check(self, name: str, check: HealthCheck) -> HealthCheck:
        """A health check ``check(HealthData) -> list[Finding]``, run after the built-in ones."""
        return self._add("health_checks", name, check)

    def add_assist(self, assist: Assist) -> Assist:
        """A box-or-click-to-polygon assist (``labeler.core.assists.Assist``: ``name``,
        ``title``, ``needs``, ``__call__(image, request) -> polygon``). Model files come with
        the plugin's package or from the user, never from a download."""
        return self._add("assists", getattr(assist, "name", ""), assist)

    def add_prelabeller(self, prelabeller: Prelabeller) -> Prelabeller:
        """A pre-labeller (``labeler.core.prelabellers``: ``name``, ``title``,
        ``features(image)``, ``fit_predict(x, y, x_new, n_classes)``) for ``labeler prelabel
        --model NAME`` and the Pre-labels dock. Labeler measures it on held-out labelled
        images and offers its proposals only when it clears the bar its own models must."""
        return self._add("prelabellers", getattr(prelabeller, "name", ""), prelabeller)

    def _add(self, kind: str, name: str, obj: Any) -> Any:
        # The registry applies the kind's rule. The same object twice is fine: op modules also
        # register on import, and the built-in plugin claims what the core registered.
        self._check_open()
        REGISTRIES[kind].register(name, obj)
        self._added[kind].append(name)
        return obj

    def _check_open(self) -> None:
        if not self._open:
            raise LabelerError(f"plugin {self.plugin!r}: features can only be added in register()")

    def _close(self) -> None:
        self._open = False


# -- where plugins come from ----------------------------------------------------------------------
def config_dir(platform: str | None = None) -> Path:
    """Labeler's per-user config folder: ``$XDG_CONFIG_HOME/labeler`` (Linux and others),
    ``%APPDATA%\\Labeler`` (Windows), ``~/Library/Application Support/Labeler`` (macOS)."""
    platform = platform or sys.platform
    home = Path(os.path.expanduser("~"))
    if platform.startswith("win"):
        appdata = os.environ.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming") / "Labeler"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Labeler"
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else home / ".config") / "labeler"


def plugin_dir(platform: str | None = None) -> Path:
    """The user plugin folder: ``config_dir() / "plugins"``."""
    return config_dir(platform) / "plugins"


@dataclass
class _Candidate:
    name: str
    version: str
    source: Source
    location: str
    load: Callable[[], object]
    modules: Callable[[str], bool]  # which sys.modules entries belong to the plugin


def _entry_point_candidates() -> list[_Candidate]:
    found: dict[str, _Candidate] = {}
    seen_dists: set[str] = set()
    for dist in md.distributions(path=_trusted_path()):
        dist_name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if dist_name in seen_dists:  # the first on sys.path wins, as the import system does
            continue
        seen_dists.add(dist_name)
        for ep in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            if ep.name in found:
                continue
            top = ep.value.split(":")[0].strip().split(".")[0]
            found[ep.name] = _Candidate(
                ep.name,
                dist.version or "",
                "entry point",
                ep.value,
                ep.load,
                lambda m, top=top: top != "labeler" and (m == top or m.startswith(top + ".")),
            )
    return [found[k] for k in sorted(found)]


def _trusted_path() -> list[str]:
    """``sys.path`` without the current folder (``""`` and ``.`` mean it, as does its path)."""
    cwd = os.path.normcase(os.path.abspath(os.getcwd()))
    return [
        p for p in sys.path if p not in ("", ".") and os.path.normcase(os.path.abspath(p)) != cwd
    ]


_FOLDER_PROBLEM: list[str] = []
"""Why the plugin folder could not be read at the last load (empty when it could)."""


def folder_problem() -> str | None:
    """A line for the user when the plugin folder exists but cannot be read: its plugins are
    not loaded and every command goes on with the built-in ones (and entry points)."""
    return _FOLDER_PROBLEM[0] if _FOLDER_PROBLEM else None


def _folder_candidates(folder: Path) -> list[_Candidate]:
    _FOLDER_PROBLEM.clear()
    try:
        return _list_folder(folder)
    except OSError as e:  # unreadable: the built-ins must still work
        why = e.strerror or str(e)
        _FOLDER_PROBLEM.append(
            f"plugin folder {folder} cannot be read ({why}); its plugins are not loaded"
        )
        return []


def _list_folder(folder: Path) -> list[_Candidate]:
    if not folder.is_dir():
        return []
    out = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix == ".py":
            name = entry.stem
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            name = entry.name
        else:
            continue
        out.append(
            _Candidate(
                name,
                "",
                "folder",
                str(entry),
                lambda name=name: _import_from_folder(folder, name),
                lambda m, name=name: m == name or m.startswith(name + "."),
            )
        )
    return out


def _import_from_folder(folder: Path, name: str) -> ModuleType:
    """Import ``name`` from the plugin folder under its own name, the folder on sys.path, so
    spawned augmentation workers (which get our sys.path) can import its op modules too."""
    if not name.isidentifier():
        raise LabelerError(f"{name!r} is not a valid Python module name")
    where = os.path.abspath(folder)
    if where not in sys.path:
        sys.path.append(where)  # last, so a plugin can never shadow an installed module
        _ADDED_PATHS.append(where)
    importlib.invalidate_caches()
    module = importlib.import_module(name)
    file = os.path.abspath(getattr(module, "__file__", None) or "")
    if not file.startswith(where + os.sep):
        raise LabelerError(
            f"the name {name!r} is taken by {file or 'a built-in module'}; rename the plugin"
        )
    return module


# -- settings --------------------------------------------------------------------------------------
def settings_path() -> Path:
    """``plugins.json`` in the config dir: ``{"disabled": ["name", ...]}``."""
    return config_dir() / SETTINGS_FILE


def disabled_plugins() -> set[str]:
    """Names the user disabled; an unreadable settings file counts as none disabled."""
    try:
        doc = json.loads(settings_path().read_text(encoding="utf-8"))
        return {str(n) for n in doc.get("disabled", [])}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def set_plugin_enabled(name: str, enabled: bool) -> None:
    """Persist the user's choice; it applies the next time plugins are loaded (next start).

    >>> set_plugin_enabled("fog", False)        # doctest: +SKIP
    """
    global _STATUSES
    if name == BUILTIN:
        raise LabelerError("the built-in features cannot be disabled")
    disabled = disabled_plugins()
    disabled = disabled - {name} if enabled else disabled | {name}
    atomic_write_text(settings_path(), json.dumps({"disabled": sorted(disabled)}, indent=2) + "\n")
    with _LOCK:
        if _STATUSES is not None:
            _STATUSES = [_with(s, enabled=enabled) if s.name == name else s for s in _STATUSES]


# -- loading ---------------------------------------------------------------------------------------
_LOCK = threading.RLock()
_STATUSES: list[PluginStatus] | None = None
_LOADED_MODULES: dict[str, list[str]] = {}
_ADDED_PATHS: list[str] = []


def load_plugins(*, reload: bool = False) -> list[PluginStatus]:
    """Load every enabled plugin once and say how each went; later calls return the same list.

    The built-in plugin comes first, then entry points, then the user folder, each by name.
    ``reload=True`` unloads the plugins first (tests; after the user changed the folder).
    Never raises for a plugin's fault: a plugin that fails is in the list with ``error`` set.

    >>> [(s.name, s.source) for s in load_plugins()][:1]
    [('labeler.builtin', 'built-in')]
    """
    global _STATUSES
    with _LOCK:
        if reload:
            unload_plugins()
        if _STATUSES is not None:
            return list(_STATUSES)
        disabled = disabled_plugins()
        statuses = [_load(_builtin_candidate())]
        names = {BUILTIN}
        for cand in _entry_point_candidates() + _folder_candidates(plugin_dir()):
            if cand.name in names:
                statuses.append(
                    _status(cand, loaded=False, error=f"another plugin is named {cand.name!r}")
                )
                continue
            names.add(cand.name)
            if cand.name in disabled:
                statuses.append(_status(cand, enabled=False, loaded=False))
            else:
                statuses.append(_load(cand))
        _STATUSES = statuses
        return list(statuses)


def unload_plugins() -> None:
    """Remove what every plugin (not the built-in one) registered and forget them."""
    global _STATUSES
    with _LOCK:
        for s in _STATUSES or []:
            if s.loaded and s.source != "built-in":
                _unregister(s.adds)
        for modules in _LOADED_MODULES.values():
            _forget(modules)
        _LOADED_MODULES.clear()
        for where in _ADDED_PATHS:
            if where in sys.path:
                sys.path.remove(where)
        _ADDED_PATHS.clear()
        _STATUSES = None


def _load(cand: _Candidate) -> PluginStatus:
    before = _snapshot()
    known = set(sys.modules)
    api = PluginAPI(cand.name)
    stage = "import"
    try:
        obj = cand.load()
        register = _register_function(obj)
        stage = "register()"
        register(api)
    except (Exception, SystemExit) as exc:  # a plugin's fault, whatever it is, stays its own
        _restore(before)
        _forget(_new_modules(cand, known))  # so a fixed plugin is imported afresh next time
        return _status(cand, loaded=False, error=f"{stage} failed: {_reason(exc)}")
    finally:
        api._close()
    _LOADED_MODULES[cand.name] = _new_modules(cand, known)
    version = cand.version or str(getattr(obj, "__version__", "") or "")
    return _with(_status(cand, loaded=True), version=version, adds=_added(before, api))


def _new_modules(cand: _Candidate, known: set[str]) -> list[str]:
    """The plugin's own modules imported by this load (never one that was there before)."""
    return [m for m in list(sys.modules) if m not in known and cand.modules(m)]


def _forget(modules: Sequence[str]) -> None:
    for m in modules:
        sys.modules.pop(m, None)


def _register_function(obj: object) -> Callable[[PluginAPI], object]:
    register = getattr(obj, "register", None) if isinstance(obj, ModuleType) else obj
    if not callable(register):
        raise LabelerError("the plugin has no register(api) function")
    return register


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1]}" if text else type(exc).__name__


def _status(cand: _Candidate, **kw: Any) -> PluginStatus:
    return PluginStatus(cand.name, cand.version, cand.source, cand.location, **kw)


def _with(status: PluginStatus, **changes: Any) -> PluginStatus:
    return PluginStatus(**{**status.__dict__, **changes})


# A snapshot of every registry before a plugin loads makes its registration one transaction,
# whether it used the API or registered straight into core.
def _snapshot() -> dict[str, dict[str, object]]:
    return {kind: registry.snapshot() for kind, registry in REGISTRIES.items()}


def _restore(snap: dict[str, dict[str, object]]) -> None:
    for kind, registry in REGISTRIES.items():
        registry.restore(snap[kind])


def _added(before: dict[str, dict[str, object]], api: PluginAPI) -> Additions:
    after = _snapshot()
    names = {}
    for kind in KINDS:
        new = [n for n, v in after[kind].items() if before[kind].get(n) is not v]
        names[kind] = tuple(dict.fromkeys(api._added[kind] + sorted(new)))
    return Additions(**names)


def _unregister(adds: Additions) -> None:
    for kind, registry in REGISTRIES.items():
        for name in getattr(adds, kind):
            registry.unregister(name)


# -- the built-in plugin ----------------------------------------------------------------------------
def _builtin_candidate() -> _Candidate:
    return _Candidate(
        BUILTIN, __version__, "built-in", "labeler.core", lambda: register_builtin, lambda m: False
    )


def register_builtin(api: PluginAPI) -> None:
    """Claim what the core registered on import (ops, formats, health checks, assists) through the
    plugin API.

    The core cannot import this module (it is the bottom layer), so its features register
    themselves when ``labeler.core.augment``, ``labeler.core.formats`` and
    ``labeler.core.health`` are imported; this lists them under ``labeler.builtin`` with the
    same calls a plugin makes (ADR 0060).
    """
    for _name, cls in sorted(OPS.items()):
        if _is_core(cls):
            api.add_op(cls)
    for _name, exporter in sorted(EXPORTERS.items()):
        if _is_core(type(exporter)):
            api.add_exporter(exporter)
    for _name, importer in sorted(IMPORTERS.items()):
        if _is_core(type(importer)):
            api.add_importer(importer)
    for name, check in HEALTH_CHECKS.items():
        if _is_core(check):
            api.add_health_check(name, check)
    for _name, assist in ASSISTS.items():
        if _is_core(type(assist)):
            api.add_assist(assist)


def _is_core(obj: object) -> bool:
    return str(getattr(obj, "__module__", "")).startswith("labeler.core.")


# -- `labeler plugins list` ---------------------------------------------------------------------
def plugins_list_command(json_output: bool) -> int:
    """Print every plugin, as a table or (``json_output``) one JSON document; returns 0.

    JSON: ``{"schema": "labeler.plugins/1", "plugin_dir", "settings", "plugins": [{name,
    version, source, location, adds: {ops, exporters, importers, health_checks, assists},
    enabled, loaded, error}]}``.
    """
    statuses = load_plugins()
    if json_output:
        doc = {
            "schema": "labeler.plugins/1",
            "plugin_dir": str(plugin_dir()),
            "settings": str(settings_path()),
            "plugins": [s.to_dict() for s in statuses],
            "plugin_dir_error": folder_problem(),
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    for line in _table(statuses):
        print(line)
    print(f"\nplugin folder: {plugin_dir()}")
    if folder_problem():
        print(f"warning: {folder_problem()}")
    return 0


def _table(statuses: Sequence[PluginStatus]) -> Iterator[str]:
    rows = [("NAME", "VERSION", "SOURCE", "STATE", "ADDS")]
    for s in statuses:
        state = "failed" if s.error else "loaded" if s.loaded else "disabled"
        adds = s.adds.summary() if s.source != "built-in" else _count(s.adds)
        rows.append((s.name, s.version or "-", s.source, state, adds))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        yield "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
    for s in statuses:
        if s.error:
            yield f"error: {s.name}: {s.error}"


def _count(adds: Additions) -> str:
    return ", ".join(
        f"{len(getattr(adds, k))} {k.replace('_', ' ')}" for k in KINDS if getattr(adds, k)
    )
