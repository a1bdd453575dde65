"""Handing a conversation to a human: the request, and a callback when nobody can take the chat now.

The queue, the service hours and the callback rules are in bot/handoff/ and bot/assistant/handoff.py;
these actions connect them to the chat. While an agent owns the conversation Rasa predicts nothing
(bot/handoff/rasa_api.py), so none of these runs then.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.common import RecordsAction, in_records, now, send, verified_customer_id
from bot.assistant.handoff import request_handoff
from bot.assistant.replies import Button, Reply
from bot.handoff.callback import InvalidCallback, normalise_phone, parse_window, store_callback
from bot.handoff.queue import active_handoff
from bot.settings import Settings

# A request for a human that asks for a call (data/rules/handoff.yml). Buttons an action sends are not
# interpolated by Rasa, so unlike in domain.yml the braces are single.
ARRANGE_CALLBACK = Button("Rückruf vereinbaren", '/request_human{"handoff_option":"callback"}')
CONTINUE_WITH_ASSISTANT = Button("Weiter mit dem Assistenten", "/deny")
CALLBACK_SLOTS = ("callback_phone", "callback_window")


def handoff_reason(tracker: Tracker) -> str:
    if tracker.get_slot("verification_locked") and verified_customer_id(tracker) is None:
        return "verification_locked"  # agents see the lock in verification_locks
    return tracker.get_slot("cancellation_reason") or "customer_request"


async def open_handoff(tracker: Tracker, settings: Settings) -> Any:
    """Open (or find) the conversation's handoff request; the reply for the customer (a HandoffReply)."""
    customer_id = verified_customer_id(tracker)
    moment = now()
    peak = tracker.get_slot("dissatisfaction_peak")
    channel = tracker.get_latest_input_channel() or "socketio"
    return await in_records(settings, lambda s: request_handoff(
        s, conversation_id=tracker.sender_id, customer_id=customer_id, reason=handoff_reason(tracker),
        now=moment, dissatisfaction=float(peak) if peak is not None else None, channel=channel))


class ActionRequestHuman(RecordsAction):
    """Queue the customer for an agent; outside service hours or with nobody online, offer a callback."""

    def name(self) -> str:
        return "action_request_human"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        reply = await open_handoff(tracker, settings)
        if reply.offers_callback:
            reply = Reply(reply.text, (*reply.buttons, ARRANGE_CALLBACK, CONTINUE_WITH_ASSISTANT))
        send(dispatcher, reply)
        return []


class ValidateCallbackForm(FormValidationAction):
    """A German phone number and a time window in the service hours; what is wrong is said, and asked again."""

    def name(self) -> str:
        return "validate_callback_form"

    def validate_callback_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"callback_phone": normalise_phone(str(value or ""))}
        except InvalidCallback as error:
            dispatcher.utter_message(text=str(error))
            return {"callback_phone": None}

    def validate_callback_window(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"callback_window": parse_window(str(value or ""), now())}
        except InvalidCallback as error:
            dispatcher.utter_message(text=str(error))
            return {"callback_window": None}


class ActionSubmitCallback(RecordsAction):
    """Store the callback with the conversation's handoff (opened now if there is none), then forget the number."""

    def name(self) -> str:
        return "action_submit_callback"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        phone, window = tracker.get_slot("callback_phone"), tracker.get_slot("callback_window")
        forget = [SlotSet(name, None) for name in CALLBACK_SLOTS]
        if not phone or not window:
            dispatcher.utter_message(response="utter_anything_else")
            return forget
        handoff = await in_records(settings, lambda s: active_handoff(s, conversation_id=tracker.sender_id))
        handoff_id = handoff.id if handoff is not None else (await open_handoff(tracker, settings)).handoff_id
        await in_records(settings, lambda s: store_callback(s, handoff_id=handoff_id, phone=phone, window=window))
        send(dispatcher, Reply(
            f"Vielen Dank. Wir rufen Sie {window} unter der angegebenen Nummer zurück (Vorgang H-{handoff_id}). "
            "Ihre Telefonnummer verwenden wir nur für diesen Rückruf. Kann ich bis dahin noch etwas für Sie tun?"))
        return forget
