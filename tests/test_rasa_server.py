"""bot.rasa_server: the cached action-result validator must judge every response exactly like Rasa's own check."""
from __future__ import annotations

from typing import Any

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_server

RESPONSES: list[tuple[str, dict[str, Any]]] = [
    ("empty", {"events": [], "responses": []}),
    ("slot and text", {"events": [{"event": "slot", "name": "offer_pending", "value": True}],
                       "responses": [{"text": "Hallo", "buttons": [{"title": "Ja", "payload": "/affirm"}]}]}),
    ("active loop", {"events": [{"event": "active_loop", "name": "verification_form"}], "responses": []}),
    ("events not a list", {"events": "slot", "responses": []}),
    ("unknown event", {"events": [{"event": "no_such_event"}], "responses": []}),
    ("slot without name", {"events": [{"event": "slot", "value": 1}], "responses": []}),
    ("responses not objects", {"events": [], "responses": ["Hallo"]}),
]


def rasa_verdict(result: dict[str, Any]) -> bool:
    try:
        validate(result, RemoteAction.action_response_format_spec())
        return True
    except ValidationError:
        return False


@pytest.fixture(scope="module")
def action() -> RemoteAction:
    rasa_server.install()
    return RemoteAction("action_serve_request", EndpointConfig("http://127.0.0.1:1/webhook"))


@pytest.mark.parametrize("result", [r for _, r in RESPONSES], ids=[name for name, _ in RESPONSES])
def test_cached_validator_agrees_with_rasa(action: RemoteAction, result: dict[str, Any]) -> None:
    expected = rasa_verdict(result)
    if expected:
        assert action._validate_action_result(result) is True
    else:
        with pytest.raises(ValidationError, match="Failed to validate Action server response"):
            action._validate_action_result(result)


def test_invalid_responses_exist_in_the_table() -> None:
    """The table above must exercise both verdicts, or the agreement test proves nothing."""
    verdicts = {rasa_verdict(result) for _, result in RESPONSES}
    assert verdicts == {True, False}


def test_install_is_idempotent(action: RemoteAction) -> None:
    patched = RemoteAction._validate_action_result
    rasa_server.install()
    assert RemoteAction._validate_action_result is patched


async def test_rasa_sqlite_tracker_store_runs_with_a_write_ahead_log(tmp_path) -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import text

    rasa_server.install()
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "conversations.db"))
    tracker = DialogueStateTracker.from_events("customer-1", [UserUttered("Hallo")])
    await store.save(tracker)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    assert [e.text for e in (await store.retrieve("customer-1")).events if isinstance(e, UserUttered)] == ["Hallo"]
