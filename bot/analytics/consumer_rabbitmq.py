"""Production analytics consumer: Rasa's RabbitMQ event broker (EVENT_BROKER_URL) into the facts.

Rasa's Pika broker publishes every event as persistent JSON to the fanout exchange `rasa-exchange`, bound
to the durable queue EVENT_BROKER_QUEUE. This consumer takes the messages from that queue and applies
them with bot.analytics.projection.apply_event, those that arrived together (up to 100) in one transaction;
it acknowledges a message only after that commit. A message whose commit failed (database down) is returned to the queue and tried again;
one delivered twice (a crash between commit and acknowledgement, a broker restart) is recognised by its
stable key and counts once. When the database fails, the consumer closes its channel (RabbitMQ keeps every
unacknowledged message, in order) and tries again after a growing pause; broker outages are waited out
the same way.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.exc import SQLAlchemyError

from bot.analytics.events import InvalidEvent, event_key
from bot.analytics.maintenance import maintenance_due, run_maintenance_if_due
from bot.analytics.projection import apply_events
from bot.records.database import transaction
from bot.settings import Settings

logger = logging.getLogger(__name__)

RASA_EXCHANGE = "rasa-exchange"  # rasa.core.brokers.pika.RABBITMQ_EXCHANGE (Rasa 3.6)
PREFETCH = 200
BATCH_SIZE = 100  # messages that arrived together are applied in one transaction
RECONNECT_MAX_S = 30.0


def parse_message(body: bytes) -> dict[str, Any]:
    """The Rasa event in a message body; InvalidEvent/ValueError for anything else."""
    event: Any = json.loads(body)
    if not isinstance(event, dict):
        raise InvalidEvent("message is not a JSON object")
    return event


def commit_events(database_url: str, events: list[dict[str, Any]], *, now: datetime) -> int:
    """Apply events in one transaction and commit; returns how many were new. SQLAlchemyError when the database
    is unavailable (then nothing of them is committed)."""
    with transaction(database_url) as session:
        return apply_events(session, events, now=now)


class DatabaseUnavailable(Exception):
    """The records database did not take the events: stop consuming, so that the broker keeps the order."""


async def _handle(messages: list[AbstractIncomingMessage], settings: Settings, now: Callable[[], datetime]) -> None:
    """Apply the messages that arrived together in one transaction, then acknowledge them (only after the commit)."""
    events, valid = [], []
    for message in messages:
        try:
            event = parse_message(message.body)
            event_key(event)  # every field the key needs is there
        except (InvalidEvent, ValueError, UnicodeDecodeError) as error:
            logger.warning("Analytics: dropping a message that is not a Rasa event (%s)", error)
            await message.reject(requeue=False)
            continue
        events.append(event)
        valid.append(message)
    if not valid:
        return
    try:
        await asyncio.to_thread(commit_events, settings.database_url, events, now=now())
    except SQLAlchemyError as error:
        for message in valid:
            await message.nack(requeue=True)
        raise DatabaseUnavailable(error.__class__.__name__) from error
    # One acknowledgement for the whole batch: `multiple` covers every message of this channel up to the last
    # one, i.e. exactly this batch (the earlier ones are acknowledged or rejected already, the later ones wait
    # in `arrived`).
    await valid[-1].ack(multiple=True)


async def consume(settings: Settings, stop: asyncio.Event, *,
                  clock: Callable[[], datetime] | None = None) -> None:
    """Consume until `stop` is set, reconnecting after broker outages."""
    if not settings.event_broker_url:
        raise ValueError("EVENT_BROKER_URL is not set: there is no RabbitMQ broker to read")
    now = clock or (lambda: datetime.now(timezone.utc))
    pause = 1.0

    def working_again() -> None:
        nonlocal pause
        pause = 1.0

    while not stop.is_set():
        try:
            connection = await aio_pika.connect(settings.event_broker_url, timeout=10)
        except (OSError, aio_pika.exceptions.AMQPError, asyncio.TimeoutError) as error:
            logger.warning("Analytics: RabbitMQ unavailable (%s); trying again in %.0f s",
                           error.__class__.__name__, pause)
            await _wait(stop, pause)
            pause = min(RECONNECT_MAX_S, pause * 2)
            continue
        try:
            async with connection:
                await _consume_connection(connection, settings, stop, now, applied=working_again)
        except DatabaseUnavailable as error:
            # Closing the channel has returned every unacknowledged message to the queue, in order.
            logger.warning("Analytics: the database is unavailable (%s); the events stay in the queue, "
                           "trying again in %.0f s", error, pause)
            await _wait(stop, pause)
            pause = min(RECONNECT_MAX_S, pause * 2)
        except (OSError, aio_pika.exceptions.AMQPError, StopAsyncIteration) as error:
            if stop.is_set():
                break
            logger.warning("Analytics: lost the connection to RabbitMQ (%s); reconnecting in %.0f s",
                           error.__class__.__name__, pause)
            await _wait(stop, pause)
            pause = min(RECONNECT_MAX_S, pause * 2)


async def _consume_connection(connection: aio_pika.abc.AbstractConnection, settings: Settings,
                               stop: asyncio.Event, now: Callable[[], datetime], *,
                               applied: Callable[[], None]) -> None:
    """Apply the queue's messages one at a time until `stop` or until the connection is lost."""
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_: lost.set())
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=PREFETCH)
    # Declared as Rasa declares them, so whichever starts first creates them and nothing is missed.
    exchange = await channel.declare_exchange(RASA_EXCHANGE, type=aio_pika.ExchangeType.FANOUT)
    queue = await channel.declare_queue(settings.event_broker_queue, durable=True)
    await queue.bind(exchange, "")
    # aio-pika hands messages to a callback; they wait here and are applied in order, one at a time.
    arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    await queue.consume(arrived.put)
    logger.info("Analytics: consuming RabbitMQ queue %s", settings.event_broker_queue)
    while not stop.is_set():
        if lost.is_set():
            raise ConnectionError("the connection to RabbitMQ was closed")
        try:
            message = await asyncio.wait_for(arrived.get(), timeout=1.0)
        except asyncio.TimeoutError:
            await asyncio.to_thread(_maintenance, settings, now())
            continue
        batch = [message]
        while len(batch) < BATCH_SIZE and not arrived.empty():
            batch.append(arrived.get_nowait())
        await _handle(batch, settings, now)
        applied()
        if maintenance_due(now()):
            await asyncio.to_thread(_maintenance, settings, now())


def _maintenance(settings: Settings, moment: datetime) -> None:
    try:
        run_maintenance_if_due(settings, now=moment)
    except SQLAlchemyError as error:
        logger.warning("Analytics: maintenance skipped, database unavailable (%s)", error.__class__.__name__)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def run(settings: Settings) -> None:
    """Consume until SIGINT/SIGTERM."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await consume(settings, stop)

    asyncio.run(main())
