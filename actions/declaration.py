"""What the customer states with the cancellation (§ 312k Abs. 2 Satz 3 BGB), kept in slots until it is sent.

Everything here is optional and never holds up the cancellation: the buttons next to "Jetzt kündigen"
(extraordinary, with its reason) set the slots through entities; free text ("zum 30.06.", "außerordentlich,
ich ziehe ins Ausland", "bitte auch an x@y.de") is read by `bot.retention.declaration.parse_declaration`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import now, send
from bot.assistant.cancellation import (
    CANCEL_EXTRAORDINARY_FAULT,
    CANCEL_EXTRAORDINARY_MOVING,
    DECLINE_AND_CANCEL,
)
from bot.assistant.receipt import sign_download
from bot.assistant.replies import CANCEL_NOW, Reply
from bot.retention.declaration import (
    EXTRAORDINARY,
    EXTRAORDINARY_REASONS,
    KINDS,
    ORDINARY,
    CancellationDeclaration,
    parse_declaration,
    parse_email,
)
from bot.retention.formatting import berlin_date, german_date
from bot.settings import Settings, public_web_url

KIND_SLOT = "cancellation_kind"
REASON_SLOT = "extraordinary_reason"
DATE_SLOT = "requested_end_date"  # ISO date
EMAIL_SLOT = "confirmation_email"
SLOTS = (KIND_SLOT, REASON_SLOT, DATE_SLOT, EMAIL_SLOT)


def declaration_from_slots(tracker: Tracker, *, today: date) -> CancellationDeclaration:
    """The declaration the slots hold; anything malformed is left out (the default applies)."""
    kind = tracker.get_slot(KIND_SLOT)
    reason = tracker.get_slot(REASON_SLOT)
    kind = kind if kind in KINDS else (EXTRAORDINARY if reason in EXTRAORDINARY_REASONS else ORDINARY)
    reason = reason if kind == EXTRAORDINARY and reason in EXTRAORDINARY_REASONS else None
    try:
        requested = date.fromisoformat(str(tracker.get_slot(DATE_SLOT) or ""))
    except ValueError:
        requested = None
    if requested is not None and requested < today:
        requested = None
    email = parse_email(tracker.get_slot(EMAIL_SLOT))
    return CancellationDeclaration(kind=kind, extraordinary_reason=reason, requested_date=requested,
                                   extra_recipient=email)


def _slot_values(declaration: CancellationDeclaration) -> dict[str, Any]:
    return {KIND_SLOT: declaration.kind, REASON_SLOT: declaration.extraordinary_reason,
            DATE_SLOT: declaration.requested_date.isoformat() if declaration.requested_date else None,
            EMAIL_SLOT: declaration.extra_recipient}


def declaration_events(tracker: Tracker, text: str | None) -> list[dict[str, Any]]:
    """SlotSet events for what `text` states beyond what the slots already hold (empty: nothing new)."""
    today = berlin_date(now())
    current = declaration_from_slots(tracker, today=today)
    updated = parse_declaration(text, today=today, current=current)
    if updated == current:
        return []
    old, new = _slot_values(current), _slot_values(updated)
    return [SlotSet(name, value) for name, value in new.items() if old[name] != value]


def clear_declaration(tracker: Tracker) -> list[dict[str, Any]]:
    """Forget the declaration once it is sent (only the slots that hold something)."""
    return [SlotSet(name, None) for name in SLOTS if tracker.get_slot(name) is not None]


def tracker_with(tracker: Tracker, events: list[dict[str, Any]]) -> Tracker:
    """A copy of `tracker` with the slots of `events` applied."""
    copy = tracker.copy()
    for event in events:
        if event.get("event") == "slot":
            copy.slots[event["name"]] = event["value"]
    return copy


def describe(declaration: CancellationDeclaration, *, verified: bool) -> str:
    """What is noted, in a sentence."""
    parts = [declaration.kind_text()]
    parts.append(f"zum {german_date(declaration.requested_date)}" if declaration.requested_date
                 else "zum frühestmöglichen Termin")
    text = "Notiert: " + ", ".join(parts) + "."
    if declaration.extra_recipient:
        text += (f" Die Bestätigung geht zusätzlich an {declaration.extra_recipient}"
                 + ("" if verified else ", sobald Sie identifiziert sind")
                 + "; die bei uns hinterlegte Adresse erhält sie immer.")
    return text


DETAILS_HELP = (
    "Schreiben Sie mir einfach, was gelten soll, zum Beispiel „zum 30.06.2027“, „außerordentlich, ich ziehe ins "
    "Ausland“ oder „Bestätigung bitte auch an name@example.de“. Alles ist freiwillig."
)


class ActionNoteCancellationDetails(Action):
    """Keep what the customer states about the cancellation, say what is noted, and keep the cancel button."""

    def name(self) -> str:
        return "action_note_cancellation_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        events = declaration_events(tracker, tracker.latest_message.get("text"))
        for entity in tracker.latest_message.get("entities") or []:
            if entity.get("entity") in (KIND_SLOT, REASON_SLOT):
                events.append(SlotSet(entity["entity"], entity.get("value")))
        in_form = (tracker.active_loop or {}).get("name") == "cancellation_form"
        # In the reason question the form asks again with all its buttons; elsewhere the cancel buttons come here.
        buttons = () if in_form else (DECLINE_AND_CANCEL if tracker.get_slot("offer_pending") else CANCEL_NOW,
                                      CANCEL_EXTRAORDINARY_MOVING, CANCEL_EXTRAORDINARY_FAULT)
        if not events and not any(tracker.get_slot(name) for name in SLOTS):
            send(dispatcher, Reply(DETAILS_HELP, buttons))
            return []
        declaration = declaration_from_slots(tracker_with(tracker, events), today=berlin_date(now()))
        verified = tracker.get_slot("verified_customer") is not None
        send(dispatcher, Reply(describe(declaration, verified=verified) + " Sie können jetzt kündigen.", buttons))
        return events


def send_download_link(dispatcher: CollectingDispatcher, settings: Settings, number: str, moment: datetime) -> None:
    """The link to save the declaration as a file (§ 312k Abs. 3 BGB); none without DOWNLOAD_LINK_SECRET."""
    if not settings.download_link_secret:
        return
    link = sign_download(settings.download_link_secret, number, now=moment,
                         valid_for=timedelta(days=settings.download_link_days))
    url = public_web_url(settings) + link.path()
    dispatcher.utter_message(
        text=f"Ihre Kündigungserklärung mit Datum und Uhrzeit des Eingangs können Sie hier als Datei speichern: "
             f"[Kündigungsbestätigung herunterladen (Textdatei)]({url})")
