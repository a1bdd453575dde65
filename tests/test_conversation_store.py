"""Conversations are stored without what customers typed to prove who they are."""
from __future__ import annotations

import json
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.conversation_store import REDACTED, RedactingSQLTrackerStore, redact_verification_answers


def user(text: str, intent: str = "identify") -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9},
                       parse_data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []})


def verification(*answers: UserUttered) -> list:
    """A conversation that asks for the customer number, then for the secret, answered by `answers`."""
    number, secret = answers
    return [
        user("Wie hoch ist meine Rechnung?", "ask_bill"),
        ActionExecuted("action_serve_request"),
        ActiveLoop("verification_form"),
        SlotSet("requested_slot", "customer_id"),
        ActionExecuted("action_listen"),
        number,
        SlotSet("customer_id", "K100001"),
        SlotSet("requested_slot", "verification_secret"),
        ActionExecuted("action_listen"),
        secret,
        SlotSet("verification_secret", "10115"),
        SlotSet("verification_secret", "verified"),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        ActionExecuted("action_listen"),
        user("Und wann endet mein Vertrag, 10115 ist übrigens meine PLZ?", "ask_contract"),
    ]


def texts(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, UserUttered)]


def test_the_answer_to_the_secret_question_and_its_raw_slot_value_are_redacted() -> None:
    events = redact_verification_answers(verification(user("K100001"), user("10115")))
    assert texts(events) == ["Wie hoch ist meine Rechnung?", "K100001", REDACTED,
                             "Und wann endet mein Vertrag, 10115 ist übrigens meine PLZ?"]
    secret_values = [e.value for e in events if isinstance(e, SlotSet) and e.key == "verification_secret"]
    assert secret_values == [None, "verified"]
    redacted = next(e for e in events if isinstance(e, UserUttered) and e.text == REDACTED)
    assert redacted.parse_data["text"] == REDACTED
    assert redacted.intent_name == "identify", "the intent stays, so the conversation's history still reads"


def test_a_postcode_or_birth_date_typed_with_the_customer_number_is_masked() -> None:
    number = user("K100001, geboren 12.04.1985 in 10115")
    number.parse_data["entities"] = [{"entity": "customer_id", "value": "K100001", "start": 0, "end": 7},
                                     {"entity": "rating", "value": "10115", "start": 30, "end": 35}]
    secret = user("10115")
    secret.parse_data["entities"] = [{"entity": "rating", "value": "10115", "start": 0, "end": 5}]
    events = redact_verification_answers(verification(number, secret))
    assert texts(events)[1] == "K100001, geboren [entfernt] in [entfernt]"
    users = [e for e in events if isinstance(e, UserUttered)]
    assert [e["value"] for e in users[1].parse_data["entities"]] == ["K100001"]
    assert users[2].parse_data["entities"] == []


def test_conversations_without_verification_stay_as_they_were() -> None:
    events = [user("Hallo", "greet"), ActionExecuted("utter_greet"), user("Meine PLZ ist 10115", "identify")]
    assert redact_verification_answers(events) == events


async def test_the_store_writes_the_conversation_without_the_secret(tmp_path: Path) -> None:
    database = tmp_path / "conversations.db"
    store = RedactingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(database))
    tracker = DialogueStateTracker.from_events("customer-1", verification(user("K100001"), user("10115"))[:12])
    await store.save(tracker)
    for event in verification(user("K100001"), user("10115"))[12:]:
        tracker.update(event)
    await store.save(tracker)

    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        rows = [json.loads(r[0]) for r in connection.execute(text("SELECT data FROM events ORDER BY id"))]
    engine.dispose()
    assert [r["text"] for r in rows if r["event"] == "user"] == [
        "Wie hoch ist meine Rechnung?", "K100001", REDACTED,
        "Und wann endet mein Vertrag, 10115 ist übrigens meine PLZ?"]
    assert [r["value"] for r in rows if r["event"] == "slot" and r["name"] == "verification_secret"] == [
        None, "verified"]
    stored = await store.retrieve("customer-1")
    assert texts(list(stored.events))[2] == REDACTED
    assert len(stored.events) == len(tracker.events), "every event is stored once"
