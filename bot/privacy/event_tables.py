"""Rasa's `events` tables, read and changed with plain SQL: the SQL tracker store's (TRACKER_STORE_URL: id,
sender_id, type_name, timestamp, intent_name, action_name, data) and the SQL event broker's (the analytics
pipeline's own database: id, sender_id, data). `data` is the event as JSON, as Rasa wrote it."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.records.database import make_engine

EVENTS_TABLE = "events"
_BATCH = 500


@dataclass(frozen=True)
class StoredEvent:
    row_id: int
    conversation_id: str
    event: dict[str, Any]


class EventTable:
    """The `events` table of one database; `exists` is False where Rasa has not created it yet."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        inspector = sa.inspect(self.engine)
        self.exists = inspector.has_table(EVENTS_TABLE)
        columns = {c["name"] for c in inspector.get_columns(EVENTS_TABLE)} if self.exists else set()
        self.has_timestamp = "timestamp" in columns
        self.table = sa.Table(EVENTS_TABLE, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                              sa.Column("sender_id", sa.String(255)), sa.Column("data", sa.Text),
                              *([sa.Column("timestamp", sa.Float)] if self.has_timestamp else []))

    def dispose(self) -> None:
        self.engine.dispose()

    def events(self, conversation_ids: set[str] | None = None) -> Iterator[StoredEvent]:
        """Every event (of the given conversations), in id order, read in batches."""
        if not self.exists:
            return
        last_id = 0
        while True:
            query = sa.select(self.table.c.id, self.table.c.sender_id, self.table.c.data).where(
                self.table.c.id > last_id).order_by(self.table.c.id).limit(_BATCH)
            if conversation_ids is not None:
                query = query.where(self.table.c.sender_id.in_(sorted(conversation_ids)))
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            if not rows:
                return
            for row_id, sender_id, data in rows:
                try:
                    event = json.loads(data or "{}")
                except ValueError:
                    event = {"text": data}
                yield StoredEvent(row_id, sender_id, event if isinstance(event, dict) else {"value": event})
            last_id = rows[-1][0]

    def conversations_matching(self, matches: Callable[[StoredEvent], bool]) -> set[str]:
        """The conversations with at least one event for which `matches` is true."""
        return {stored.conversation_id for stored in self.events() if matches(stored)}

    def last_activity(self) -> dict[str, float]:
        """Conversation id -> timestamp of its latest event."""
        if not self.exists:
            return {}
        if self.has_timestamp:
            query = sa.select(self.table.c.sender_id, sa.func.max(self.table.c.timestamp)).group_by(
                self.table.c.sender_id)
            with self.engine.connect() as connection:
                return {sender: float(latest or 0) for sender, latest in connection.execute(query)}
        latest: dict[str, float] = {}
        for stored in self.events():
            moment = float(stored.event.get("timestamp") or 0)
            latest[stored.conversation_id] = max(latest.get(stored.conversation_id, 0.0), moment)
        return latest

    def delete_conversations(self, conversation_ids: set[str]) -> int:
        """Delete every event of these conversations; the number of events deleted."""
        if not self.exists or not conversation_ids:
            return 0
        deleted = 0
        ids = sorted(conversation_ids)
        with self.engine.begin() as connection:
            for start in range(0, len(ids), _BATCH):
                chunk = ids[start:start + _BATCH]
                deleted += connection.execute(self.table.delete().where(self.table.c.sender_id.in_(chunk))).rowcount
        return deleted

    def rewrite_conversations(self, conversation_ids: set[str], change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
        """Replace each event of these conversations by `change(event)`; the number of events changed."""
        if not self.exists or not conversation_ids:
            return 0
        changed: list[tuple[int, str]] = []
        for stored in self.events(conversation_ids):
            new = change(stored.event)
            if new != stored.event:
                changed.append((stored.row_id, json.dumps(new)))
        with self.engine.begin() as connection:
            for row_id, data in changed:
                connection.execute(self.table.update().where(self.table.c.id == row_id).values(data=data))
        return len(changed)
