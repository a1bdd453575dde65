"""Embedded analytics consumer: reads Rasa's SQL event broker table incrementally into the facts.

Without EVENT_BROKER_URL, Rasa's `SQLEventBroker` writes every conversation event, as JSON, to the table
`events` of a database of its own (ANALYTICS_EVENTS_URL, default sqlite:///var/analytics_events.db; not
the tracker store's database, whose table has the same name). This consumer reads the rows after its
offset (analytics_consumer_offsets, source "rasa_sql_broker"), applies them with
bot.analytics.projection.apply_event and stores the new offset in the same transaction as the facts: a
crash before the commit re-reads the rows, after it skips them; either way nothing is lost or doubled.
Rows already applied are then deleted from the broker's table, except the last one (SQLite reuses the
highest row id + 1 for the next row, so the highest must stay).
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.analytics.events import InvalidEvent
from bot.analytics.maintenance import run_maintenance_if_due
from bot.analytics.projection import apply_event
from bot.records.database import transaction
from bot.records.models import ConsumerOffset
from bot.settings import Settings

logger = logging.getLogger(__name__)

SOURCE = "rasa_sql_broker"
BATCH_SIZE = 500

_metadata = MetaData()
# The table as Rasa's SQLEventBroker defines it (rasa/core/brokers/sql.py, Rasa 3.6): created here too so that
# the consumer can start before Rasa; `create_all` on either side leaves an existing table alone.
broker_events = Table("events", _metadata,
                      Column("id", Integer, primary_key=True),
                      Column("sender_id", String(255)),
                      Column("data", Text))


def events_engine(url: str) -> Engine:
    """An engine on the broker's database; an SQLite file is switched to write-ahead logging, so that this
    reader never blocks Rasa's writes (the mode stays with the file)."""
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 5000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
    _metadata.create_all(engine)
    return engine


@dataclass(frozen=True)
class BatchResult:
    read: int
    applied: int  # events not seen before
    position: int


def consume_batch(engine: Engine, *, database_url: str, now: datetime, limit: int = BATCH_SIZE) -> BatchResult:
    """Apply the next rows after the stored offset; facts and offset are committed together."""
    with transaction(database_url) as session:
        offset = session.get(ConsumerOffset, SOURCE)
        if offset is None:
            offset = ConsumerOffset(source=SOURCE, position=0, updated_at=now)
            session.add(offset)
        with engine.connect() as connection:
            rows = connection.execute(select(broker_events.c.id, broker_events.c.data)
                                      .where(broker_events.c.id > offset.position)
                                      .order_by(broker_events.c.id).limit(limit)).all()
        applied = 0
        for row_id, data in rows:
            try:
                applied += apply_event(session, json.loads(data), now=now)
            except (InvalidEvent, ValueError, TypeError) as error:  # not a conversation event: skipped, logged
                logger.warning("Skipping broker row %s: %s", row_id, error)
        if rows:
            offset.position, offset.updated_at = rows[-1][0], now
        position = offset.position
    if rows:
        _forget_applied(engine, position)
    return BatchResult(read=len(rows), applied=applied, position=position)


def _forget_applied(engine: Engine, position: int) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(delete(broker_events).where(broker_events.c.id < position))
    except SQLAlchemyError as error:  # tried again after the next batch
        logger.info("Could not yet delete applied broker rows (%s)", error.__class__.__name__)


def run(settings: Settings, stop: threading.Event, *, clock: Callable[[], datetime] | None = None) -> None:
    """Read the SQL broker's table until `stop` is set; outages are logged and retried."""
    now = clock or (lambda: datetime.now(timezone.utc))
    if settings.analytics_events_url is None:
        raise ValueError("ANALYTICS_EVENTS_URL is off: there is no SQL event broker to read")
    engine: Engine | None = None
    logger.info("Analytics: reading Rasa's SQL event broker (%s) every %.1f s",
                settings.analytics_events_url.split("://", 1)[0], settings.analytics_poll_seconds)
    pause = settings.analytics_poll_seconds
    while not stop.is_set():
        try:
            if engine is None:
                engine = events_engine(settings.analytics_events_url)
            result = consume_batch(engine, database_url=settings.database_url, now=now())
            run_maintenance_if_due(settings, now=now())
            pause = 0.0 if result.read == BATCH_SIZE else settings.analytics_poll_seconds
        except SQLAlchemyError as error:
            logger.warning("Analytics: a database is unavailable (%s); trying again in a few seconds",
                           error.__class__.__name__)
            pause = min(30.0, max(2 * pause, 1.0))
        stop.wait(pause)
