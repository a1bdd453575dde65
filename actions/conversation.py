"""Start of a conversation, fallbacks, goodbye and rating (handing to a human: actions/handoff.py)."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    RecordsAction,
    in_records,
    now,
    offer_cancellation_if_in_doubt,
    send,
    verified_customer_id,
)
from bot.assistant.handoff import parse_rating, store_rating
from bot.assistant.mixed_messages import (
    NOT_UNDERSTOOD_MAYBE_CANCELLING,
    complaint_reply,
    might_be_cancellation,
    with_cancel_button,
)
from bot.assistant.replies import NO_THANKS, TALK_TO_HUMAN, Reply
from bot.settings import Settings, get_settings, public_web_url

OFFER_HUMAN_AFTER_MISUNDERSTANDING = Reply(
    "Ich habe Sie leider wieder nicht verstanden. Möchten Sie mit einer Mitarbeiterin oder einem Mitarbeiter "
    "sprechen?",
    (TALK_TO_HUMAN, NO_THANKS),
)


def privacy_link(settings: Settings) -> str:
    """PRIVACY_URL as an absolute address: a path is taken on the website (WEB_PUBLIC_URL)."""
    url = settings.privacy_url
    return public_web_url(settings) + url if url.startswith("/") else url


def welcome_text(settings: Settings) -> str:
    """The first message: the AI disclosure and the privacy notice (Art. 13 DSGVO), side by side."""
    return (f"Willkommen beim Kundenservice von {settings.company_name}. Ich bin ein automatischer Assistent, "
            "kein Mensch. Sie können jederzeit darum bitten, mit einer Mitarbeiterin oder einem Mitarbeiter zu "
            f"sprechen. Wie wir Ihre Angaben verarbeiten: [Datenschutzhinweise]({privacy_link(settings)})")


# Slots Rasa manages itself; never carried over by hand.
RASA_SLOTS = ("requested_slot", "session_started_metadata")


def carried_over_slots(tracker: Tracker) -> list[dict[str, Any]]:
    """The conversation's slots as they are, to set again in the new session."""
    return [SlotSet(name, value) for name, value in tracker.slots.items()
            if value is not None and name not in RASA_SLOTS]


class ActionSessionStart(Action):
    """Every conversation starts by saying that this is an automated assistant, and where the privacy notice is.

    A session that expires while an agent owns the conversation (the tracker is paused; sessions expire
    after `session_expiration_time` without a customer message, and slots are not carried over) goes on
    unchanged and silently: still paused, every slot kept (a verified customer stays verified).
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.is_paused():
            return [SessionStarted(), *carried_over_slots(tracker), ConversationPaused(),
                    ActionExecuted("action_listen")]
        dispatcher.utter_message(text=welcome_text(get_settings()))
        return [SessionStarted(), ActionExecuted("action_listen")]


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row were not understood."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        count += 1
    return count


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        # A message that might be a cancellation gets the cancel button rather than hiding it.
        maybe_cancelling = might_be_cancellation(tracker.latest_message)
        if consecutive_fallbacks(tracker) >= 2:
            reply = OFFER_HUMAN_AFTER_MISUNDERSTANDING
            send(dispatcher, with_cancel_button(reply) if maybe_cancelling else reply)
        elif maybe_cancelling:
            send(dispatcher, NOT_UNDERSTOOD_MAYBE_CANCELLING)
        else:
            dispatcher.utter_message(response="utter_default")
        return []


class ActionOutOfScope(Action):
    """What the assistant can help with; and the cancel button when the message might be a cancellation."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_out_of_scope")
        offer_cancellation_if_in_doubt(dispatcher, tracker.latest_message)
        return []


class ActionComplain(Action):
    """Empathy and a human for a complaint; the cancel button too when the message might be a cancellation."""

    def name(self) -> str:
        return "action_complain"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        send(dispatcher, complaint_reply(tracker.latest_message))
        return []


def rating_was_asked(tracker: Tracker) -> bool:
    """Whether the goodbye has asked for a rating earlier in this conversation."""
    return any(e.get("event") == "action" and e.get("name") == "action_goodbye" for e in tracker.events[:-1])


class ActionGoodbye(Action):
    """Ask for a rating once; after that, just say goodbye."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.get_slot("rating") is None and not rating_was_asked(tracker):
            dispatcher.utter_message(response="utter_ask_rating")
        else:
            dispatcher.utter_message(response="utter_goodbye")
        return []


def stated_rating(tracker: Tracker) -> int | None:
    """The 1–5 rating the latest message states (button or text), or None when it states no single one.

    Only the latest message counts: an earlier rating in the slot must not be stored again because a
    later message happened to be classified as a rating.
    """
    values = {parse_rating(e.get("value")) for e in tracker.latest_message.get("entities") or []
              if e.get("entity") == "rating"}
    return values.pop() if len(values) == 1 else None


class ActionStoreRating(RecordsAction):
    def name(self) -> str:
        return "action_store_rating"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        rating = stated_rating(tracker)
        if rating is None:
            # Nothing stored. Repeat the rating question if it is open, otherwise this was no rating at all.
            dispatcher.utter_message(response="utter_ask_rating" if rating_was_asked(tracker) else "utter_default")
            return [SlotSet("rating", None)]
        moment = now()
        await in_records(settings, lambda s: store_rating(
            s, conversation_id=tracker.sender_id, customer_id=verified_customer_id(tracker), rating=rating,
            now=moment))
        dispatcher.utter_message(text="Vielen Dank für Ihre Bewertung! Auf Wiedersehen.")
        return [SlotSet("rating", float(rating))]
