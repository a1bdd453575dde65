"""Rasa's conversation store without the customers' verification secrets and callback phone numbers.

Conversations are kept (SQLite by default, PostgreSQL in production; see bot.rasa_endpoints) so that
agents and marketers can read them later. What a customer types to prove who they are (postcode or
date of birth) is needed for one moment only: the verification form checks it in the turn it is
typed, then the slot says "verified". This store writes that answer, and the raw slot value, to the
database and to the event broker redacted, so the secret never reaches the conversation log.

The same holds for the phone number a customer leaves for a callback (actions/handoff.py): the callback
form asks for it last, so it is checked and stored with the handoff request in the turn it is typed, and
the conversation log keeps neither the typed number nor the slot's value.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.scaling.ordering import wait_until_published

VERIFICATION_FORM = "verification_form"
SECRET_SLOT = "verification_secret"
KEPT_SECRET_VALUES = (None, "verified")
REDACTED = "[entfernt: Angabe zur Identifizierung]"
CALLBACK_FORM = "callback_form"
PHONE_SLOT = "callback_phone"
REDACTED_PHONE = "[entfernt: Telefonnummer für den Rückruf]"
# Postcodes and dates typed while identifying, e.g. together with the customer number.
_SECRET_LIKE = re.compile(r"\b\d{5}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")


def _with_text(event: UserUttered, text: str, *, keep_entities: bool) -> Event:
    """A copy with `text`; entities go too, or, when kept, those whose value looks like a secret."""
    data = event.as_dict()
    data["text"] = text
    if isinstance(data.get("parse_data"), dict):
        entities = [e for e in data["parse_data"].get("entities") or []
                    if keep_entities and not _SECRET_LIKE.search(str(e.get("value", "")))]
        data["parse_data"] = {**data["parse_data"], "text": text, "entities": entities}
    return Event.from_parameters(data)


def redact_verification_answers(events: Sequence[Event]) -> list[Event]:
    """The events with every verification answer (and postcode or date typed while identifying) redacted.

    A user message is an answer when the verification form was active and had asked for the secret;
    other messages during the form keep their words but lose anything that looks like a postcode or a
    date. Raw values of the secret slot become None (the form always replaces them in the same turn).
    """
    redacted: list[Event] = []
    active_loop: str | None = None
    requested_slot: Any = None
    for event in events:
        if isinstance(event, ActiveLoop):
            active_loop = event.name
        elif isinstance(event, SlotSet) and event.key == "requested_slot":
            requested_slot = event.value
        if (isinstance(event, UserUttered) and active_loop == CALLBACK_FORM and requested_slot == PHONE_SLOT
                and event.text):
            event = _with_text(event, REDACTED_PHONE, keep_entities=False)
        elif isinstance(event, SlotSet) and event.key == PHONE_SLOT and event.value is not None:
            event = SlotSet(PHONE_SLOT, None, timestamp=event.timestamp, metadata=event.metadata)
        elif isinstance(event, UserUttered) and active_loop == VERIFICATION_FORM and event.text:
            if requested_slot == SECRET_SLOT:
                event = _with_text(event, REDACTED, keep_entities=False)
            elif _SECRET_LIKE.search(event.text):
                event = _with_text(event, _SECRET_LIKE.sub("[entfernt]", event.text), keep_entities=True)
        elif isinstance(event, SlotSet) and event.key == SECRET_SLOT and event.value not in KEPT_SECRET_VALUES:
            event = SlotSet(SECRET_SLOT, None, timestamp=event.timestamp, metadata=event.metadata)
        redacted.append(event)
    return redacted


class RedactingSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, writing and publishing conversations with verification secrets redacted.

    An SQLite file keeps its connections open (a pool) instead of SQLAlchemy 1.4's default for files, a
    new connection for every read and write: closing the last connection to a write-ahead-logged file
    checkpoints and deletes the log, which cost about a third of a turn's time (measured with cProfile,
    docs/benchmark.md). PostgreSQL already has Rasa's pool.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            import sqlalchemy as sa
            from sqlalchemy.orm import sessionmaker
            from sqlalchemy.pool import QueuePool

            url = self.engine.url
            self.engine.dispose()
            # Rasa uses the store from its event loop's thread; a connection may still be handed to another
            # thread by the pool, which SQLite allows with check_same_thread off (never used by two at once).
            self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=5, max_overflow=10,
                                           connect_args={"check_same_thread": False})
            self.sessionmaker = sessionmaker(bind=self.engine)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        return iter(redact_verification_answers(list(tracker.events))[stored:])

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        if self.event_broker is None:
            return
        # The events not stored yet are the new ones: counted, as `_additional_events` does when it writes
        # them, instead of loading and replaying the whole stored conversation (Rasa's way) on every save.
        with self.session_scope() as session:
            offset = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
        new_events = redact_verification_answers(list(tracker.events))[offset:]
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        # Published before the turn releases the conversation's lock: with several Rasa servers the broker then
        # gets a conversation's events in the order its turns ran (bot/scaling/ordering.py). Waited for after
        # the events are stored, so that a turn cancelled while waiting (Rasa's REST channel still answers it)
        # is in the tracker store all the same.
        if self.event_broker is not None:
            await wait_until_published(self.event_broker)
