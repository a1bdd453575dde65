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


def test_classifier_row_from_sentence_features_is_the_row_rasa_builds() -> None:
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from scipy.sparse import coo_matrix

    rng = np.random.default_rng(3)

    def sparse(rows: int, columns: int) -> coo_matrix:
        return coo_matrix((rng.random((rows, columns)) > 0.7) * rng.integers(1, 4, (rows, columns)))

    def message(with_dense: bool) -> Message:
        m = Message(data={TEXT: "ich kündige"})
        for origin, width in (("regex", 3), ("words", 7), ("chars", 11)):
            m.add_features(Features(sparse(2, width), FEATURE_TYPE_SEQUENCE, TEXT, origin))
            m.add_features(Features(sparse(1, width), FEATURE_TYPE_SENTENCE, TEXT, origin))
        if with_dense:
            m.add_features(Features(rng.random((1, 4)), FEATURE_TYPE_SENTENCE, TEXT, "dense"))
        return m

    messages = [message(False), message(False), message(True)]
    rasa_server.install()
    classifier = LogisticRegressionClassifier.__new__(LogisticRegressionClassifier)
    fast = classifier._create_X(messages[:2]).toarray()
    original = LogisticRegressionClassifier._create_X.__wrapped_original__  # type: ignore[attr-defined]
    assert np.array_equal(fast, original(classifier, messages[:2]).toarray())
    assert np.array_equal(classifier._create_X(messages[2:]).toarray(), original(classifier, messages[2:]).toarray())
    assert classifier._create_X([Message(data={TEXT: ""})]).shape == (1, 0)


def test_event_classes_are_found_by_type_name_as_before() -> None:
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    rasa_server.install()
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


async def test_conversations_in_sqlite_keep_their_connection_open(tmp_path) -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.conversation_store import RedactingSQLTrackerStore

    rasa_server.install()
    store = RedactingSQLTrackerStore(Domain.empty(), dialect="sqlite", host=f"sqlite:///{tmp_path / 'c.db'}")
    for number in range(3):
        tracker = DialogueStateTracker.from_events(f"customer-{number}", [UserUttered("Hallo")])
        await store.save(tracker)
        assert [e.text for e in (await store.retrieve(f"customer-{number}")).events
                if isinstance(e, UserUttered)] == ["Hallo"]
    # One connection, opened once and reused: no new connection (and no write-ahead-log checkpoint on
    # closing it) for every read and write.
    assert store.engine.pool.checkedin() == 1 and store.engine.pool.checkedout() == 0


async def test_custom_action_calls_reuse_one_connection_with_rasas_headers() -> None:
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    peers: list[tuple] = []
    seen_headers: list[str | None] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        seen_headers.append(request.headers.get("Authorization"))
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        rasa_server.install()
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer s3cret"})
        for _ in range(3):
            assert await endpoint.request(json={"next_action": "action_x"}, method="post") == {"events": [],
                                                                                                "responses": []}
        assert len(peers) == 3 and len(set(peers)) == 1  # one kept-alive connection, not one per call
        assert seen_headers == ["Bearer s3cret"] * 3
    finally:
        await runner.cleanup()
