"""What the actions and the channels do while an agent owns a conversation, without servers.

The same behaviour over real HTTP against the real Rasa and action servers: tests/test_handoff_conversation.py.
"""
from __future__ import annotations

from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, ConversationPaused, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionSessionStart
from actions.dissatisfaction import ActionUpdateDissatisfaction
from bot.channels.handoff_guard import command_intent, guard_message
from bot.conversation_store import redact_verification_answers
from bot.handoff.rasa_api import agent_message_text, assistant_back_text

DOMAIN: dict = {}


def _tracker(intent: str, text: str, slots: dict[str, Any] | None = None, *, paused: bool = False) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [],
               "sentiment": {"label": "negative", "score": 0.99}}
    return Tracker(sender_id="c1", slots=slots or {}, latest_message=message,
                   events=[{"event": "user", "text": text, "parse_data": message}], paused=paused,
                   followup_action=None, active_loop={}, latest_action_name="action_listen")


async def test_the_dissatisfaction_update_is_silent_while_an_agent_owns_the_conversation() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionUpdateDissatisfaction().run(
        dispatcher, _tracker("complain", "Ihr seid eine Frechheit, unfähig!!!", {"dissatisfaction": 0.9}, paused=True),
        DOMAIN)
    assert events == [] and dispatcher.messages == []


@pytest.mark.parametrize("intent", ["cancel_contract", "cancel_now"])
async def test_a_wish_to_cancel_while_an_agent_owns_the_conversation_gets_the_cancel_now_button(intent: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionUpdateDissatisfaction().run(dispatcher, _tracker(intent, "ich will kündigen", paused=True), DOMAIN)
    assert [b["payload"] for m in dispatcher.messages for b in m["buttons"]] == ["/cancel_now"]


async def test_a_session_expiring_during_a_handoff_stays_paused_silent_and_keeps_the_slots() -> None:
    dispatcher = CollectingDispatcher()
    tracker = _tracker("greet", "Hallo", {"verified_customer": 7.0, "customer_id": "K100001", "requested_slot": "x",
                                          "dissatisfaction": None}, paused=True)
    events = await ActionSessionStart().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "pause", "action"]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == {"verified_customer": 7.0,
                                                                              "customer_id": "K100001"}


async def test_a_new_session_without_a_handoff_starts_with_the_welcome() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, _tracker("greet", "Hallo", {"verified_customer": 7.0}), DOMAIN)
    assert "automatischer Assistent" in dispatcher.messages[0]["text"]
    assert [e["event"] for e in events] == ["session_started", "action"]


@pytest.mark.parametrize(("text", "intent"), [
    ("/restart", "restart"), ('/cancel_now{"cancellation_kind":"extraordinary"}', "cancel_now"),
    ("/session_start", "session_start"), ("Hallo /restart", None), ("", None), ("ich will kündigen", None)])
def test_command_intent(text: str, intent: str | None) -> None:
    assert command_intent(text) == intent


class _Agent:
    def __init__(self) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.lock_store = InMemoryLockStore()


async def _agent_with(sender: str, *, pause: bool) -> _Agent:
    agent = _Agent()
    tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen"), UserUttered("Hallo")])
    if pause:
        tracker.update(ConversationPaused())
    await agent.tracker_store.save(tracker)
    return agent


@pytest.mark.parametrize("text", ["/restart", "/request_human", '/greet{"x": 1}', "/session_start"])
async def test_commands_typed_during_a_handoff_are_kept_as_text_without_an_intent(text: str) -> None:
    agent = await _agent_with("c1", pause=True)
    message = await guard_message(UserMessage(text, sender_id="c1"), agent)
    assert message.text == text
    assert message.parse_data["intent"] == {"name": None, "confidence": 0.0}


async def test_commands_act_as_usual_outside_a_handoff() -> None:
    agent = await _agent_with("c1", pause=False)
    assert (await guard_message(UserMessage("/restart", sender_id="c1"), agent)).parse_data is None


async def test_cancel_now_during_a_handoff_ends_the_pause_and_a_wish_to_cancel_passes() -> None:
    agent = await _agent_with("c1", pause=True)
    message = await guard_message(UserMessage('/cancel_contract{"cancellation_reason":"price"}', sender_id="c1"),
                                  agent)
    assert message.parse_data is None and (await agent.tracker_store.retrieve("c1")).is_paused()
    message = await guard_message(UserMessage("/cancel_now", sender_id="c1"), agent)
    assert message.parse_data is None and not (await agent.tracker_store.retrieve("c1")).is_paused()


def test_texts_for_the_customer() -> None:
    assert agent_message_text("Anna", "Guten Tag") == "Anna: Guten Tag"
    assert "nicht noch einmal" in assistant_back_text(verified=True)
    assert "identifiziert" not in assistant_back_text(verified=False)


def test_the_callback_phone_number_never_reaches_the_conversation_log() -> None:
    events = [ActiveLoop("callback_form"), SlotSet("requested_slot", "callback_window"),
              UserUttered("morgen 10-12 Uhr"), SlotSet("callback_window", "Mi, 02.12.2026, 10:00–12:00 Uhr"),
              SlotSet("requested_slot", "callback_phone"), UserUttered("0171 9876 5432"),
              SlotSet("callback_phone", "0171 9876 5432"), SlotSet("callback_phone", "+4917198765432"),
              SlotSet("requested_slot", None), ActiveLoop(None), SlotSet("callback_phone", None),
              UserUttered("Danke, 0171 war richtig")]
    stored = redact_verification_answers(events)
    assert [e.text for e in stored if isinstance(e, UserUttered)] == [
        "morgen 10-12 Uhr", "[entfernt: Telefonnummer für den Rückruf]", "Danke, 0171 war richtig"]
    assert [e.value for e in stored if isinstance(e, SlotSet) and e.key == "callback_phone"] == [None, None, None]
    assert stored[3].value == "Mi, 02.12.2026, 10:00–12:00 Uhr"
