"""Every command of the window, declared once: id, title, default keys, menu, what it does
and when it is enabled. Menus, the cheat sheet (F1) and the shortcut settings dialog all read
this table; user key bindings live in QSettings under `shortcuts/<id>`.

An intent (`run`) takes the Qt-free `Session` (undo, paste, review, next image, tools...), so
what a key does is testable without Qt; `enabled` and `checked` read the session too. What
only opens a dialog or moves the view (`show`) takes the window's `Views`, declared here, so
this module never imports the window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMainWindow

from labeler.app.session import Session
from labeler.gui.prelabel_panel import accept_current

if TYPE_CHECKING:
    from labeler.gui.assist_tools import AssistTools
    from labeler.gui.canvas import Canvas


def app_settings() -> QSettings:
    """The user's settings (window layout, last project, key bindings): an INI file."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Labeler", "Labeler")


class Views(Protocol):
    """What the table's `show` commands call: dialogs and the canvas's view."""

    canvas: Canvas
    assists: AssistTools

    def ask_new_project(self) -> None: ...
    def ask_open_project(self) -> None: ...
    def ask_import_folder(self) -> None: ...
    def ask_add_class(self) -> None: ...
    def ask_go_to(self) -> None: ...
    def close(self) -> bool: ...
    def delete_selection(self) -> None: ...
    def select_all(self) -> None: ...
    def open_data_tool(self, name: str) -> Any: ...
    def open_prelabels(self) -> None: ...
    def show_shortcut_settings(self) -> None: ...
    def show_cheat_sheet(self) -> None: ...
    def show_about(self) -> None: ...


Run = Callable[[Session], Any]
Show = Callable[[Views], Any]
When = Callable[[Session], bool]


def _has_project(s: Session) -> bool:
    return s.project is not None


def _has_image(s: Session) -> bool:
    return s.current is not None


def _has_selection(s: Session) -> bool:
    return bool(s.selected())


@dataclass(frozen=True, slots=True)
class ActionSpec:
    id: str
    title: str
    keys: tuple[str, ...]
    menu: str
    run: Run | None = None  # an intent on the session
    show: Show | None = None  # or a dialog or view command on the window
    enabled: When | None = None
    checked: When | None = None  # a checkable action's state
    repeat: bool = True  # False: a held key triggers it once, not at the key-repeat rate

    def __post_init__(self) -> None:
        if (self.run is None) == (self.show is None):
            raise ValueError(f"action {self.id!r} needs exactly one of run and show")


ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec("new_project", "&New project…", ("Ctrl+N",), "File", show=lambda v: v.ask_new_project()),
    ActionSpec("open_project", "&Open project…", ("Ctrl+O",), "File", show=lambda v: v.ask_open_project()),
    ActionSpec("import_folder", "&Import folder…", ("Ctrl+I",), "File", show=lambda v: v.ask_import_folder(), enabled=_has_project),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "File", show=lambda v: v.close()),
    # Edit
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "Edit", lambda s: s.undo(), enabled=lambda s: s.history.can_undo()),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Edit", lambda s: s.redo(), enabled=lambda s: s.history.can_redo()),
    ActionSpec("copy", "&Copy shapes", ("Ctrl+C",), "Edit", lambda s: s.copy(), enabled=_has_image),
    ActionSpec("paste", "&Paste shapes", ("Ctrl+V",), "Edit", lambda s: s.paste(), enabled=lambda s: bool(s.clipboard) and _has_image(s)),
    ActionSpec("delete", "&Delete", ("Del", "Backspace"), "Edit", show=lambda v: v.delete_selection(), enabled=_has_selection),
    ActionSpec("select_all", "Select &all shapes", ("Ctrl+A",), "Edit", show=lambda v: v.select_all(), enabled=_has_image),
    ActionSpec("shortcuts", "&Keyboard shortcuts…", (), "Edit", show=lambda v: v.show_shortcut_settings()),
    # Annotate
    ActionSpec("tool_tag", "&Tag tool (keys 1–9 tag the image)", ("T",), "Annotate", lambda s: s.set_tool("tag"), enabled=_has_project),
    ActionSpec("tool_select", "&Select tool", ("V",), "Annotate", lambda s: s.set_tool("select"), enabled=_has_project),
    ActionSpec("tool_box", "&Box tool", ("B",), "Annotate", lambda s: s.set_tool("box"), enabled=_has_project),
    ActionSpec("tool_polygon", "&Polygon tool", ("P",), "Annotate", lambda s: s.set_tool("polygon"), enabled=_has_project),
    # Not Space: Space pans while held, and a held key must not flip the mark back and forth.
    ActionSpec("review", "Mark image &reviewed (again: back to new)", ("R",), "Annotate", lambda s: s.toggle_reviewed(), enabled=_has_image, repeat=False),
    ActionSpec("multi_label", "&Multi-label tags", (), "Annotate", lambda s: s.toggle_multi_label(), enabled=_has_project, checked=lambda s: s.project is not None and s.project.multi_label, repeat=False),
    ActionSpec("assist_grabcut", "Box → polygon (&GrabCut; converts the selected box)", ("G",), "Annotate", show=lambda v: v.assists.box_to_polygon(), enabled=_has_image),
    ActionSpec("assist_wand", "Magic &wand", ("W",), "Annotate", show=lambda v: v.assists.set_mode("wand"), enabled=_has_image),
    ActionSpec("snap_edges", "Snap polygon to &edges (on/off)", ("E",), "Annotate", show=lambda v: v.assists.toggle_snapping(), repeat=False),
    ActionSpec("accept_proposal", "Accept the pre-label &proposal", ("Y",), "Annotate", accept_current, enabled=_has_image, repeat=False),
    ActionSpec("add_class", "Add &class…", ("Ctrl+K",), "Annotate", show=lambda v: v.ask_add_class(), enabled=_has_project),
    # View
    ActionSpec("fit", "&Fit image", ("F",), "View", show=lambda v: v.canvas.fit()),
    ActionSpec("actual_size", "&Actual size (1:1)", ("Ctrl+0",), "View", show=lambda v: v.canvas.set_zoom(1.0)),
    ActionSpec("zoom_in", "Zoom &in", ("=",), "View", show=lambda v: v.canvas.zoom_by(1.25)),
    ActionSpec("zoom_out", "Zoom &out", ("-",), "View", show=lambda v: v.canvas.zoom_by(0.8)),
    ActionSpec("lock_zoom", "&Lock zoom (next images keep it)", ("L",), "View", lambda s: s.toggle_zoom_lock(), checked=lambda s: s.zoom_locked, repeat=False),
    # Go
    ActionSpec("next_image", "&Next image", ("D", "Right"), "Go", lambda s: s.step(1), enabled=_has_project),
    ActionSpec("prev_image", "&Previous image", ("A", "Left"), "Go", lambda s: s.step(-1), enabled=_has_project),
    ActionSpec("next_unlabeled", "Next &unlabeled", ("N",), "Go", lambda s: s.next_unlabeled(), enabled=_has_project),
    ActionSpec("go_to", "&Go to image…", ("Ctrl+G",), "Go", show=lambda v: v.ask_go_to(), enabled=_has_project),
    ActionSpec("first_image", "&First image", ("Home",), "Go", lambda s: s.go_to_row(0), enabled=_has_project),
    ActionSpec("last_image", "&Last image", ("End",), "Go", lambda s: s.go_to_last(), enabled=_has_project),
    # Data
    ActionSpec("export", "&Split and export…", ("Ctrl+E",), "Data", show=lambda v: v.open_data_tool("export"), enabled=_has_project),
    ActionSpec("recipes", "Augmentation &recipes…", ("Ctrl+R",), "Data", show=lambda v: v.open_data_tool("recipes"), enabled=_has_project),
    ActionSpec("health", "Dataset &health…", ("Ctrl+H",), "Data", show=lambda v: v.open_data_tool("health"), enabled=_has_project),
    ActionSpec("gan", "&GAN suggestions…", ("Ctrl+Shift+G",), "Data", show=lambda v: v.open_data_tool("gan"), enabled=_has_project),
    ActionSpec("prelabel", "Pre-&labels (the project's own model)…", (), "Data", show=lambda v: v.open_prelabels(), enabled=_has_project),
    ActionSpec("plugins", "&Plugins…", (), "Data", show=lambda v: v.open_data_tool("plugins")),
    # Help
    ActionSpec("cheat_sheet", "&Cheat sheet", ("F1",), "Help", show=lambda v: v.show_cheat_sheet()),
    ActionSpec("about", "&About Labeler", (), "Help", show=lambda v: v.show_about()),
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


REPEAT_GAP_MS = 30
"""A press of a key less than this after its own release is the key's auto-repeat, not a new
press. X repeats a held key as release/press pairs sent together (Qt marks them as a repeat
only when both carry the same time, which Xvfb and xdotool do not promise); a person's
fastest double tap leaves 50 ms or more between lifting the key and pressing it again."""

_TRIGGER_MS = 100  # an action runs within the press that triggers it, long before this


class HeldKeys(QObject):
    """Tells a key's own press from the presses its auto-repeat makes, however the platform
    reports them: Qt's auto-repeat flag, or a release and a press of the same key close
    together (`REPEAT_GAP_MS`). Watches every key event of the application; the verdict on
    the latest press is `repeating()`, read by an action that must act once per press.

    Times are the events' own (ms) where the platform gives them, else this clock's."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.clock: Callable[[], float] = lambda: time.monotonic() * 1000
        self._released: dict[int, float] = {}  # key -> when it was last released
        self._press: tuple[float, bool] | None = None  # (clock when seen, whether a repeat)
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            assert isinstance(event, QKeyEvent)
            now = self.clock()
            at = float(event.timestamp()) or now
            key = event.key()
            if kind == QEvent.Type.KeyRelease:
                self._released[key] = at
            else:
                # The same press is seen more than once (its shortcut override, then the key
                # press, each handed up to the parents); the verdict is the same each time.
                last = self._released.get(key)
                repeat = event.isAutoRepeat() or (
                    last is not None and 0 <= at - last < REPEAT_GAP_MS
                )
                self._press = (now, repeat)
        return False

    def repeating(self) -> bool:
        """Whether the key press being handled now is an auto-repeat (False when no key press
        is being handled: a menu click)."""
        if self._press is None:
            return False
        seen, repeat = self._press
        return repeat and self.clock() - seen < _TRIGGER_MS


class ActionRegistry:
    """The QActions built from `ACTIONS` for one window and its session."""

    def __init__(self, window: QMainWindow, session: Session) -> None:
        self.window = window
        self.session = session
        self.held = HeldKeys(window)
        self.actions: dict[str, QAction] = {}
        for spec in ACTIONS:
            act = QAction(spec.title, window)
            act.setCheckable(spec.checked is not None)
            act.setAutoRepeat(spec.repeat)
            act.triggered.connect(lambda _checked=False, s=spec: self._run(s))
            self.actions[spec.id] = act
        self.apply_shortcuts()

    def _run(self, spec: ActionSpec) -> None:
        if not spec.repeat and self.held.repeating():
            # A held key acts once, however its repeats are reported; a checkable action
            # has flipped its own tick already: set it back from the session.
            self.update_enabled()
            return
        if spec.enabled is None or spec.enabled(self.session):
            if spec.run is not None:
                spec.run(self.session)
            elif spec.show is not None:
                spec.show(self.window)  # type: ignore[arg-type]  # the window is the Views
        self.update_enabled()

    def __getitem__(self, action_id: str) -> QAction:
        return self.actions[action_id]

    def apply_shortcuts(self) -> None:
        for aid, act in self.actions.items():
            act.setShortcuts([QKeySequence(k) for k in stored_keys(aid)])

    def keys(self, action_id: str) -> tuple[str, ...]:
        return tuple(k.toString() for k in self.actions[action_id].shortcuts())

    def update_enabled(self) -> None:
        """Enable and check every action as the session now stands."""
        for spec in ACTIONS:
            act = self.actions[spec.id]
            if spec.enabled is not None:
                act.setEnabled(bool(spec.enabled(self.session)))
            if spec.checked is not None:
                act.setChecked(bool(spec.checked(self.session)))

    def build_menus(self) -> None:
        bar = self.window.menuBar()
        menus = {name: bar.addMenu(f"&{name}") for name in MENUS}
        for spec in ACTIONS:
            menus[spec.menu].addAction(self.actions[spec.id])
        # Window-level too, so shortcuts work while a dock has the focus.
        self.window.addActions(list(self.actions.values()))
