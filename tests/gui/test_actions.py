"""The action table's intents run on a bare session, with no window: what a key does is the
session's, and whether it is enabled is read from the session."""

from __future__ import annotations

import pytest

from labeler.app.session import Session
from labeler.gui.actions import ACTIONS, BY_ID, ActionSpec
from labeler.store.project import Project

INTENTS = [spec for spec in ACTIONS if spec.run is not None]


def test_every_action_is_either_an_intent_or_a_view_command():
    assert INTENTS and len(INTENTS) < len(ACTIONS)
    with pytest.raises(ValueError):
        ActionSpec("x", "X", (), "Edit")
    with pytest.raises(ValueError):
        ActionSpec("x", "X", (), "Edit", run=lambda s: None, show=lambda v: None)


@pytest.mark.parametrize("spec", INTENTS, ids=lambda s: s.id)
def test_intents_on_a_session_without_a_project_do_nothing(spec):
    session = Session()
    if spec.enabled is not None:
        assert spec.enabled(session) is False
    spec.run(session)
    assert session.project is None and session.current is None


def test_keys_drive_the_session(project_path):
    session = Session()
    session.set_project(Project.open(project_path))
    session.go_to_row(0)
    first = session.current.id
    for action in ("tool_tag", "review", "next_image", "undo"):
        assert BY_ID[action].enabled is None or BY_ID[action].enabled(session)
        BY_ID[action].run(session)
    assert session.current.id == first and session.current.status == "new"
    assert BY_ID["redo"].enabled(session)
    assert not BY_ID["multi_label"].checked(session)
    BY_ID["multi_label"].run(session)
    assert BY_ID["multi_label"].checked(session)
    BY_ID["last_image"].run(session)
    assert session.current_row == 4
    assert not BY_ID["delete"].enabled(session) and not BY_ID["paste"].enabled(session)
    session.close()
