"""Every command of the window, declared once: id, title, default keys, menu, what it does
and when it is enabled. Menus, the cheat sheet (F1) and the shortcut settings dialog all read
this table; user key bindings live in QSettings under `shortcuts/<id>`.

Callbacks take the window's controller surface (`MainWindow`) and call one method each, so
the behaviour lives in testable methods and this file stays a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from labeler.gui.main_window import MainWindow


def app_settings() -> QSettings:
    """The user's settings (window layout, last project, key bindings): an INI file."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Labeler", "Labeler")


Run = Callable[["MainWindow"], Any]
When = Callable[["MainWindow"], bool]


def _has_project(w: MainWindow) -> bool:
    return w.project is not None


def _has_image(w: MainWindow) -> bool:
    return w.current is not None


def _has_selection(w: MainWindow) -> bool:
    return bool(w.canvas.selected_items())


@dataclass(frozen=True, slots=True)
class ActionSpec:
    id: str
    title: str
    keys: tuple[str, ...]
    menu: str
    run: Run
    enabled: When | None = None
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("new_project", "&New project…", ("Ctrl+N",), "File", lambda w: w.ask_new_project()),
    ActionSpec("open_project", "&Open project…", ("Ctrl+O",), "File", lambda w: w.ask_open_project()),
    ActionSpec("import_folder", "&Import folder…", ("Ctrl+I",), "File", lambda w: w.ask_import_folder(), _has_project),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "File", lambda w: w.close()),
    # Edit
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "Edit", lambda w: w.undo.undo(), lambda w: w.undo.can_undo()),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Edit", lambda w: w.undo.redo(), lambda w: w.undo.can_redo()),
    ActionSpec("copy", "&Copy shapes", ("Ctrl+C",), "Edit", lambda w: w.copy_shapes(), _has_image),
    ActionSpec("paste", "&Paste shapes", ("Ctrl+V",), "Edit", lambda w: w.paste_shapes(), lambda w: bool(w.clipboard) and _has_image(w)),
    ActionSpec("delete", "&Delete", ("Del", "Backspace"), "Edit", lambda w: w.delete_selection(), _has_selection),
    ActionSpec("select_all", "Select &all shapes", ("Ctrl+A",), "Edit", lambda w: w.select_all(), _has_image),
    ActionSpec("shortcuts", "&Keyboard shortcuts…", (), "Edit", lambda w: w.show_shortcut_settings()),
    # Annotate
    ActionSpec("tool_tag", "&Tag tool (keys 1–9 tag the image)", ("T",), "Annotate", lambda w: w.set_tool("tag"), _has_project),
    ActionSpec("tool_select", "&Select tool", ("V",), "Annotate", lambda w: w.set_tool("select"), _has_project),
    ActionSpec("tool_box", "&Box tool", ("B",), "Annotate", lambda w: w.set_tool("box"), _has_project),
    ActionSpec("tool_polygon", "&Polygon tool", ("P",), "Annotate", lambda w: w.set_tool("polygon"), _has_project),
    ActionSpec("review", "Mark image &reviewed", ("Space",), "Annotate", lambda w: w.toggle_reviewed(), _has_image),
    ActionSpec("multi_label", "&Multi-label tags", (), "Annotate", lambda w: w.toggle_multi_label(), _has_project, checkable=True),
    ActionSpec("add_class", "Add &class…", ("Ctrl+K",), "Annotate", lambda w: w.ask_add_class(), _has_project),
    # View
    ActionSpec("fit", "&Fit image", ("F",), "View", lambda w: w.canvas.fit()),
    ActionSpec("actual_size", "&Actual size (1:1)", ("Ctrl+0",), "View", lambda w: w.canvas.set_zoom(1.0)),
    ActionSpec("zoom_in", "Zoom &in", ("=",), "View", lambda w: w.canvas.zoom_by(1.25)),
    ActionSpec("zoom_out", "Zoom &out", ("-",), "View", lambda w: w.canvas.zoom_by(0.8)),
    # Go
    ActionSpec("next_image", "&Next image", ("D", "Right"), "Go", lambda w: w.step(1), _has_project),
    ActionSpec("prev_image", "&Previous image", ("A", "Left"), "Go", lambda w: w.step(-1), _has_project),
    ActionSpec("next_unlabeled", "Next &unlabeled", ("N",), "Go", lambda w: w.next_unlabeled(), _has_project),
    ActionSpec("go_to", "&Go to image…", ("Ctrl+G",), "Go", lambda w: w.ask_go_to(), _has_project),
    ActionSpec("first_image", "&First image", ("Home",), "Go", lambda w: w.go_to_row(0), _has_project),
    ActionSpec("last_image", "&Last image", ("End",), "Go", lambda w: w.go_to_row(w.model.rowCount() - 1) if w.model else None, _has_project),
    # Help
    ActionSpec("export", "&Split and export…", ("Ctrl+E",), "Data", lambda w: w.open_data_tool("export"), _has_project),
    ActionSpec("recipes", "Augmentation &recipes…", ("Ctrl+R",), "Data", lambda w: w.open_data_tool("recipes"), _has_project),
    ActionSpec("health", "Dataset &health…", ("Ctrl+H",), "Data", lambda w: w.open_data_tool("health"), _has_project),
    ActionSpec("gan", "&GAN suggestions…", ("Ctrl+Shift+G",), "Data", lambda w: w.open_data_tool("gan"), _has_project),
    ActionSpec("plugins", "&Plugins…", (), "Data", lambda w: w.open_data_tool("plugins")),

    ActionSpec("cheat_sheet", "&Cheat sheet", ("F1",), "Help", lambda w: w.show_cheat_sheet()),
    ActionSpec("about", "&About Labeler", (), "Help", lambda w: w.show_about()),
)  # fmt: skip

MENUS: tuple[str, ...] = ("File", "Edit", "Annotate", "View", "Go", "Data", "Help")
BY_ID: dict[str, ActionSpec] = {a.id: a for a in ACTIONS}


def stored_keys(action_id: str) -> tuple[str, ...]:
    """The keys bound to an action: the user's binding if any, else the default."""
    value = app_settings().value(f"shortcuts/{action_id}")
    if value is None:
        return BY_ID[action_id].keys
    return tuple(k for k in str(value).split("|") if k)


def store_keys(action_id: str, keys: tuple[str, ...]) -> None:
    s = app_settings()
    if keys == BY_ID[action_id].keys:
        s.remove(f"shortcuts/{action_id}")
    else:
        s.setValue(f"shortcuts/{action_id}", "|".join(keys))
    s.sync()


def conflicts(bindings: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Keys bound to more than one action: {key: [action ids]}."""
    seen: dict[str, list[str]] = {}
    for aid, keys in bindings.items():
        for k in keys:
            norm = QKeySequence(k).toString()
            seen.setdefault(norm, []).append(aid)
    return {k: ids for k, ids in seen.items() if len(ids) > 1}


class ActionRegistry:
    """The QActions built from `ACTIONS` for one window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.actions: dict[str, QAction] = {}
        for spec in ACTIONS:
            act = QAction(spec.title, window)
            act.setCheckable(spec.checkable)
            act.triggered.connect(lambda _checked=False, s=spec: self._run(s))
            self.actions[spec.id] = act
        self.apply_shortcuts()

    def _run(self, spec: ActionSpec) -> None:
        if spec.enabled is None or spec.enabled(self.window):
            spec.run(self.window)
            self.update_enabled()

    def __getitem__(self, action_id: str) -> QAction:
        return self.actions[action_id]

    def apply_shortcuts(self) -> None:
        for aid, act in self.actions.items():
            act.setShortcuts([QKeySequence(k) for k in stored_keys(aid)])

    def keys(self, action_id: str) -> tuple[str, ...]:
        return tuple(k.toString() for k in self.actions[action_id].shortcuts())

    def update_enabled(self) -> None:
        for spec in ACTIONS:
            if spec.enabled is not None:
                self.actions[spec.id].setEnabled(bool(spec.enabled(self.window)))

    def build_menus(self) -> None:
        bar = self.window.menuBar()
        menus = {name: bar.addMenu(f"&{name}") for name in MENUS}
        for spec in ACTIONS:
            menus[spec.menu].addAction(self.actions[spec.id])
        # Window-level too, so shortcuts work while a dock has the focus.
        self.window.addActions(list(self.actions.values()))
