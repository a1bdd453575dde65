"""Validation of the verification form and of the optional cancellation reason."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import RECORDS_UNAVAILABLE, in_records, now, send
from actions.declaration import declaration_events
from actions.verification_lock import client_of, lock_holds, locked_out
from bot.assistant.replies import TALK_TO_HUMAN, Reply
from bot.assistant.verification import (
    MAX_ATTEMPTS,
    missing_secret,
    normalise_customer_number,
    parse_secret,
)
from bot.assistant.verification_limits import Limits, checked_verification
from bot.nlp.reasons import detect_reason
from bot.records.database import RecordsUnavailable
from bot.retention.offers import REASONS
from bot.settings import get_settings

NO_CUSTOMER_NUMBER = Reply(
    "Ihre Kundennummer finden Sie oben auf jeder Rechnung und in Ihrer Auftragsbestätigung. Sie beginnt mit K "
    "und hat sechs Ziffern. Wenn Sie sie gerade nicht zur Hand haben, hilft Ihnen eine Mitarbeiterin oder ein "
    "Mitarbeiter weiter.",
    (TALK_TO_HUMAN,),
)
# The customer does not know one of the two values: ask for the other one (no attempt is used up).
ASK_FOR_THE_OTHER_SECRET = {
    "postcode": Reply("Kein Problem. Dann nennen Sie mir bitte Ihr Geburtsdatum im Format TT.MM.JJJJ."),
    "birth_date": Reply("Kein Problem. Dann nennen Sie mir bitte Ihre fünfstellige Postleitzahl."),
    None: Reply(
        "Eines von beiden genügt: Ihre fünfstellige Postleitzahl oder Ihr Geburtsdatum im Format TT.MM.JJJJ. "
        "Wenn Sie beides gerade nicht zur Hand haben, hilft Ihnen eine Mitarbeiterin oder ein Mitarbeiter weiter.",
        (TALK_TO_HUMAN,),
    ),
}


def _says_dont_know(tracker: Tracker) -> bool:
    return (tracker.latest_message.get("intent") or {}).get("name") == "dont_know"


class ValidateVerificationForm(FormValidationAction):
    """Customer number plus postcode or birth date; the answer never says which of them was wrong."""

    def name(self) -> str:
        return "validate_verification_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        if ((tracker.get_slot("verification_failures") or 0) >= MAX_ATTEMPTS or tracker.get_slot("verification_locked")
                or tracker.get_slot("verified_customer")):
            return []  # locked out, or already known: nothing to ask
        return domain_slots

    async def validate_customer_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: dict[str, Any]) -> dict[str, Any]:
        number = normalise_customer_number(str(value) if value is not None else None)
        if number is None and _says_dont_know(tracker):
            send(dispatcher, NO_CUSTOMER_NUMBER)
            return {"customer_id": None}
        if number is None:
            dispatcher.utter_message(text="Das sieht nicht wie eine Kundennummer aus. Sie beginnt mit K und hat "
                                          "sechs Ziffern, zum Beispiel K123456. Sie finden sie auf jeder Rechnung.")
            return {"customer_id": None}
        try:
            if await lock_holds(tracker, number):
                return locked_out()  # nothing is asked or checked while a lock holds
        except RecordsUnavailable:
            send(dispatcher, RECORDS_UNAVAILABLE)
            return {"customer_id": None}
        return {"customer_id": number}

    async def validate_verification_secret(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                           domain: dict[str, Any]) -> dict[str, Any]:
        secret = parse_secret(str(value) if value is not None else None)
        if not secret.given and _says_dont_know(tracker):
            return {"verification_secret": None}  # action_ask_verification_secret asks for the other value
        if not secret.given:
            dispatcher.utter_message(text="Bitte nennen Sie Ihre fünfstellige Postleitzahl oder Ihr Geburtsdatum "
                                          "im Format TT.MM.JJJJ.")
            return {"verification_secret": None}
        number = normalise_customer_number(tracker.get_slot("customer_id"))
        if number is None:
            return {"verification_secret": None}  # the form asks for the customer number first
        settings = get_settings()
        moment = now()
        try:
            outcome = await in_records(settings, lambda s: checked_verification(
                s, customer_number=number, secret=secret, client=client_of(tracker),
                conversation_id=tracker.sender_id, now=moment, limits=Limits.from_settings(settings)))
        except RecordsUnavailable:
            send(dispatcher, RECORDS_UNAVAILABLE)
            return {"verification_secret": None}
        if outcome.locked:
            return locked_out()  # action_serve_request says so and offers a human (and cancelling)
        customer_id = outcome.customer_id
        if customer_id is not None:
            dispatcher.utter_message(text="Vielen Dank, Sie sind identifiziert.")
            # The secret itself is not kept in the conversation.
            return {"verification_secret": "verified", "verified_customer": float(customer_id),
                    "verification_failures": 0.0}
        failures = int(tracker.get_slot("verification_failures") or 0) + 1
        if failures >= MAX_ATTEMPTS:
            return {"customer_id": None, "verification_secret": None, "verification_failures": float(failures)}
        dispatcher.utter_message(
            text=f"Diese Angaben passen leider nicht zusammen. Bitte prüfen Sie Ihre Kundennummer und Ihre "
                 f"Postleitzahl bzw. Ihr Geburtsdatum und versuchen Sie es noch einmal "
                 f"(Versuch {failures + 1} von {MAX_ATTEMPTS}).")
        return {"customer_id": None, "verification_secret": None, "verification_failures": float(failures)}


class AskVerificationSecret(Action):
    """The form's question for the postcode or birth date; after "meine PLZ weiß ich nicht", only the other one."""

    def name(self) -> str:
        return "action_ask_verification_secret"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _says_dont_know(tracker):
            send(dispatcher, ASK_FOR_THE_OTHER_SECRET[missing_secret(tracker.latest_message.get("text"))])
        else:
            dispatcher.utter_message(response="utter_ask_verification_secret")
        return []


class ValidateCancellationForm(FormValidationAction):
    """The reason is optional and free: whatever the customer says maps to one of the canonical reasons."""

    def name(self) -> str:
        return "validate_cancellation_form"

    def validate_cancellation_reason(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: dict[str, Any]) -> dict[str, Any]:
        if value in REASONS:
            return {"cancellation_reason": value}
        # Typed text may also state how to cancel ("zum 30.06.", "außerordentlich", "auch an x@y.de").
        stated = {event["name"]: event["value"] for event in declaration_events(tracker, str(value or ""))}
        return {"cancellation_reason": detect_reason(str(value or "")) or "other", **stated}
