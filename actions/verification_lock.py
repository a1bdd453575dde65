"""When the assistant cannot identify a customer: the lock across conversations, and cancelling anyway.

The counting and locking are in bot/assistant/verification_limits.py, the cancellation without
verification in bot/assistant/cancellation_requests.py; these actions only connect them to the chat.
"""
from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.common import RecordsAction, in_records, now, send
from bot.assistant.cancellation_requests import (
    clean_contact,
    clean_name,
    looks_like_email,
    submit_cancellation_request,
)
from bot.assistant.mail import deliver
from bot.assistant.replies import NO_THANKS, TALK_TO_HUMAN, Button, Reply
from bot.assistant.verification import MAX_ATTEMPTS, normalise_customer_number
from bot.assistant.verification_limits import active_lock, client_key
from bot.settings import Settings, get_settings

# Pressed after the offer, "cancel now" opens the unverified_cancellation_form (see action_serve_request).
CANCEL_WITHOUT_VERIFICATION = Button("Kündigung ohne Identifizierung absenden", "/cancel_now")
CANCELLING = ("cancellation", "cancel_now")
REQUEST_SLOTS = ("cancellation_request_name", "cancellation_request_number", "cancellation_request_contact")

NOT_VERIFIED = Reply(
    "Ich konnte Sie leider nicht identifizieren. Aus Sicherheitsgründen versuche ich es in diesem Gespräch nicht "
    "noch einmal. Eine Mitarbeiterin oder ein Mitarbeiter hilft Ihnen gern weiter.",
    (TALK_TO_HUMAN, NO_THANKS),
)
# Said alike for a number lock and a client lock, and for numbers that exist and that do not.
LOCKED = Reply(
    "Ich kann Sie hier im Chat leider nicht identifizieren: Nach mehreren erfolglosen Versuchen ist die "
    "Identifizierung aus Sicherheitsgründen vorübergehend gesperrt. Eine Mitarbeiterin oder ein Mitarbeiter hilft "
    "Ihnen gern weiter.",
    (TALK_TO_HUMAN, NO_THANKS),
)
CANCEL_ANYWAY = (
    " Kündigen können Sie trotzdem jederzeit: Senden Sie Ihre Kündigung mit Ihrem Namen, Ihrer Kundennummer und "
    "der E-Mail-Adresse oder Anschrift ab, die bei uns hinterlegt ist. Den Eingang bestätigen wir an die bei uns "
    "hinterlegte E-Mail-Adresse."
)


def not_verified_reply(*, locked: bool, cancelling: bool) -> Reply:
    """Why the assistant stops identifying, with a human; for a cancellation, the way to cancel anyway."""
    reply = LOCKED if locked else NOT_VERIFIED
    if not cancelling:
        return reply
    return Reply(reply.text + CANCEL_ANYWAY, (CANCEL_WITHOUT_VERIFICATION, TALK_TO_HUMAN))


def when_not_verified(tracker: Tracker, request: str | None) -> tuple[Reply | None, list[dict[str, Any]]]:
    """No more identification in this conversation: what to say, and the events.

    A customer who wants to cancel is offered to submit the cancellation without verification (and a
    human); once offered, cancelling opens the form that takes name, number and e-mail or postal address.
    """
    cancelling = request in CANCELLING
    if cancelling and tracker.get_slot("unverified_cancellation_offered"):
        return None, [SlotSet("pending_request", None), ActiveLoop("unverified_cancellation_form")]
    locked = bool(tracker.get_slot("verification_locked"))
    events: list[dict[str, Any]] = [SlotSet("pending_request", None)]
    if cancelling:
        events.append(SlotSet("unverified_cancellation_offered", True))
    return not_verified_reply(locked=locked, cancelling=cancelling), events


def client_of(tracker: Tracker) -> str:
    """The client key: the peer address a channel put into the message metadata, else the conversation."""
    metadata = tracker.latest_message.get("metadata") or {}
    address = metadata.get("client_address") if isinstance(metadata, dict) else None
    return client_key(address, tracker.sender_id)


async def lock_holds(tracker: Tracker, customer_number: str | None) -> bool:
    """Whether verification is locked now for this number or for this conversation's client."""
    moment = now()
    client = client_of(tracker)
    return await in_records(get_settings(), lambda s: active_lock(
        s, customer_number=customer_number, client=client, now=moment) is not None)


def locked_out() -> dict[str, Any]:
    """Slots that end the verification form as locked (action_serve_request then says so)."""
    return {"customer_id": None, "verification_secret": None, "verification_failures": float(MAX_ATTEMPTS),
            "verification_locked": True}


class ValidateUnverifiedCancellationForm(FormValidationAction):
    """Name, customer number and e-mail or postal address for a cancellation without verification; each checked."""

    def name(self) -> str:
        return "validate_unverified_cancellation_form"

    def validate_cancellation_request_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                           domain: dict[str, Any]) -> dict[str, Any]:
        name = clean_name(str(value) if value is not None else None)
        if name is None:
            dispatcher.utter_message(text="Bitte nennen Sie mir Ihren Vor- und Nachnamen.")
        return {"cancellation_request_name": name}

    def validate_cancellation_request_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                             domain: dict[str, Any]) -> dict[str, Any]:
        number = normalise_customer_number(str(value) if value is not None else None)
        if number is None:
            dispatcher.utter_message(text="Das sieht nicht wie eine Kundennummer aus. Sie beginnt mit K und hat "
                                          "sechs Ziffern, zum Beispiel K123456. Sie finden sie auf jeder Rechnung.")
        return {"cancellation_request_number": number}

    def validate_cancellation_request_contact(self, value: Any, dispatcher: CollectingDispatcher,
                                              tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        contact = clean_contact(str(value) if value is not None else None)
        if contact is None:
            dispatcher.utter_message(text="Das sieht weder wie eine E-Mail-Adresse (zum Beispiel name@beispiel.de) "
                                          "noch wie eine Anschrift mit Postleitzahl aus. Bitte nennen Sie die "
                                          "E-Mail-Adresse oder die Anschrift, die bei uns hinterlegt ist.")
        return {"cancellation_request_contact": contact}


class ActionSubmitCancellationRequest(RecordsAction):
    """Record the cancellation as received, confirm receipt in the chat; the e-mail goes to the address on file."""

    def name(self) -> str:
        return "action_submit_cancellation_request"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        name, number, contact = (tracker.get_slot(slot) for slot in REQUEST_SLOTS)
        cleared = [SlotSet(slot, None) for slot in REQUEST_SLOTS]
        if not (name and number and contact):  # the form was left before it was complete
            dispatcher.utter_message(response="utter_anything_else")
            return cleared
        email = looks_like_email(contact)
        postal_address = None if email else contact
        moment = now()
        receipt = await in_records(settings, lambda s: submit_cancellation_request(
            s, customer_number=number, name=name, email=email, postal_address=postal_address,
            conversation_id=tracker.sender_id, now=moment, company=settings.company_name))
        # Recorded and committed; only now does the confirmation of receipt go out.
        if receipt.outbox_email_id is not None:
            await asyncio.to_thread(deliver, settings, outbox_email_id=receipt.outbox_email_id,
                                    now=moment)
        send(dispatcher, receipt.reply)
        return cleared + [SlotSet("pending_request", None), SlotSet("unverified_cancellation_offered", False)]

