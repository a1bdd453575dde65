"""Production analytics consumer: Rasa's RabbitMQ event broker (EVENT_BROKER_URL) into the facts.

Rasa's Pika broker publishes every event as persistent JSON to the fanout exchange `rasa-exchange`, bound
to the durable queue EVENT_BROKER_QUEUE. This consumer takes the messages from that queue and applies
each with bot.analytics.projection.apply_event in its own transaction; it acknowledges a message only
after that commit. A message whose commit failed (database down) is returned to the queue and tried again;
one delivered twice (a crash between commit and acknowledgement, a broker restart) is recognised by its
stable key and counts once. Broker outages are waited out with reconnection.
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

from bot.analytics.events import InvalidEvent
from bot.analytics.maintenance import run_maintenance_if_due
from bot.analytics.projection import apply_event
from bot.records.database import transaction
from bot.settings import Settings

logger = logging.getLogger(__name__)

RASA_EXCHANGE = "rasa-exchange"  # rasa.core.brokers.pika.RABBITMQ_EXCHANGE (Rasa 3.6)
PREFETCH = 100
RECONNECT_MAX_S = 30.0


def apply_message(database_url: str, body: bytes, *, now: datetime) -> bool:
    """Apply one message's event and commit; False for an event seen before. Raises InvalidEvent/ValueError
    for a message that is not a Rasa event, SQLAlchemyError when the database is unavailable."""
    event: Any = json.loads(body)
    if not isinstance(event, dict):
        raise InvalidEvent("message is not a JSON object")
    with transaction(database_url) as session:
        return apply_event(session, event, now=now)


async def _handle(message: AbstractIncomingMessage, settings: Settings, now: Callable[[], datetime]) -> None:
    try:
        await asyncio.to_thread(apply_message, settings.database_url, message.body, now=now())
    except (InvalidEvent, ValueError, UnicodeDecodeError) as error:
        logger.warning("Analytics: dropping a message that is not a Rasa event (%s)", error)
        await message.reject(requeue=False)
        return
    except SQLAlchemyError as error:
        logger.warning("Analytics: the database is unavailable (%s); the event goes back to the queue",
                       error.__class__.__name__)
        await message.nack(requeue=True)
        await asyncio.sleep(2.0)
        return
    await message.ack()  # only after the commit


async def consume(settings: Settings, stop: asyncio.Event, *,
                  clock: Callable[[], datetime] | None = None) -> None:
    """Consume until `stop` is set, reconnecting after broker outages."""
    if not settings.event_broker_url:
        raise ValueError("EVENT_BROKER_URL is not set: there is no RabbitMQ broker to read")
    now = clock or (lambda: datetime.now(timezone.utc))
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
        pause = 1.0
        try:
            async with connection:
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=PREFETCH)
                # Declared as Rasa declares them, so whichever starts first creates them and nothing is missed.
                exchange = await channel.declare_exchange(RASA_EXCHANGE, type=aio_pika.ExchangeType.FANOUT)
                queue = await channel.declare_queue(settings.event_broker_queue, durable=True)
                await queue.bind(exchange, "")
                logger.info("Analytics: consuming RabbitMQ queue %s", settings.event_broker_queue)
                async with queue.iterator() as messages:
                    while not stop.is_set():
                        try:
                            message = await asyncio.wait_for(messages.__anext__(), timeout=1.0)
                        except asyncio.TimeoutError:
                            if connection.is_closed:
                                raise ConnectionError("the connection to RabbitMQ was closed") from None
                            await asyncio.to_thread(_maintenance, settings, now())
                            continue
                        await _handle(message, settings, now)
                        await asyncio.to_thread(_maintenance, settings, now())
        except (OSError, aio_pika.exceptions.AMQPError, asyncio.CancelledError, StopAsyncIteration) as error:
            if stop.is_set():
                break
            logger.warning("Analytics: lost the connection to RabbitMQ (%s); reconnecting",
                           error.__class__.__name__)
            await _wait(stop, pause)


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
