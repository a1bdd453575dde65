"""What every action shares: records access off the event loop, replies, and failure handling."""
from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.assistant.mixed_messages import IF_YOU_WANT_TO_CANCEL, cancel_button_in_doubt
from bot.assistant.replies import CANCEL_NOW, TALK_TO_HUMAN, Reply
from bot.records.database import RecordsUnavailable, transaction
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

RECORDS_UNAVAILABLE = Reply(
    "Ich kann gerade leider nicht auf Ihre Kundendaten zugreifen. Bitte versuchen Sie es in ein paar Minuten "
    "noch einmal, oder ich verbinde Sie mit einer Mitarbeiterin oder einem Mitarbeiter.",
    (TALK_TO_HUMAN,),
)
SOMETHING_WENT_WRONG = Reply(
    "Entschuldigung, bei mir ist gerade ein technischer Fehler aufgetreten. Ich verbinde Sie gern mit einer "
    "Mitarbeiterin oder einem Mitarbeiter.",
    (TALK_TO_HUMAN,),
)


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    dispatcher.utter_message(text=reply.text, buttons=[b.as_dict() for b in reply.buttons] or None)


def offer_cancellation_if_in_doubt(dispatcher: CollectingDispatcher, parse: dict[str, Any]) -> None:
    """When the message might be a cancellation (`bot.assistant.mixed_messages.cancel_button_in_doubt`), the
    reply shows the "Jetzt kündigen" button rather than hiding it: on the last text this action sent, or in a
    short message of its own."""
    if not cancel_button_in_doubt(parse):
        return
    cancel = CANCEL_NOW.as_dict()
    if any(cancel in (m.get("buttons") or []) for m in dispatcher.messages):
        return
    last = next((m for m in reversed(dispatcher.messages) if m.get("text")), None)
    if last is None:
        send(dispatcher, Reply(IF_YOU_WANT_TO_CANCEL, (CANCEL_NOW,)))
        return
    last["text"] = f"{last['text']} {IF_YOU_WANT_TO_CANCEL}"
    last["buttons"] = [cancel, *(last.get("buttons") or [])]


def now() -> datetime:
    """The current time, timezone-aware in UTC (the customer's calendar day: `bot.retention.formatting.berlin_date`)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


async def in_records(settings: Settings, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction on a worker thread, so a slow query never blocks other conversations."""

    def run() -> T:
        with transaction(settings.database_url) as session:
            return work(session)

    try:
        return await asyncio.to_thread(run)
    except SQLAlchemyError as error:
        logger.warning("Customer records unavailable: %s", error.__class__.__name__)
        raise RecordsUnavailable(str(error)) from error


def verified_customer_id(tracker: Tracker) -> int | None:
    value = tracker.get_slot("verified_customer")
    return int(value) if value is not None else None


class RecordsAction(Action, ABC):
    """An action that never raises into Rasa: record outages and bugs become a polite message."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return await self.act(dispatcher, tracker, domain, get_settings())
        except RecordsUnavailable:
            send(dispatcher, RECORDS_UNAVAILABLE)
        except Exception:
            logger.exception("Action %s failed", self.name())
            send(dispatcher, SOMETHING_WENT_WRONG)
        return []
