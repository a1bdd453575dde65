"""A conversation's events reach the event broker in the order its turns ran, also across several Rasa servers.

Rasa's RabbitMQ broker publishes in background tasks: server A stores turn 1, hands its events to a task and
releases the conversation's lock; server B takes the lock, runs turn 2 and may publish its events before A's
task has. The analytics consumer then sees turn 2 before turn 1 (measured: the intents of a conversation in
the wrong order in conversation_facts). The project's tracker store therefore waits, after storing the turn and
before the turn ends and the lock is released, until its events are published (`wait_until_published`).
At 200 conversations on two cores Rasa's publisher often needs longer than PUBLISH_WAIT_S (docs/scaleout.md).

A broker may offer `async def wait_published()` (all that was handed to it is confirmed by the broker); for
Rasa's PikaEventBroker its pending publishing tasks are awaited (aio-pika publishes with publisher confirms).
The wait is bounded (PUBLISH_WAIT_S), and skipped while the broker reports that it is not connected (its
`is_ready()`): during a RabbitMQ outage conversations go on at full speed, the batching broker keeps their
events in order in its buffer, and only the order across servers is not guaranteed until it is back.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

# Long enough for a server busy with hundreds of turns (scale-benchmark: with 2 s, a killed server had stored 49
# turns whose events were still waiting to be published); a turn is delayed at most this long when RabbitMQ is down.
PUBLISH_WAIT_S = 10.0


async def wait_until_published(broker: Any, *, timeout_s: float = PUBLISH_WAIT_S) -> bool:
    """Whether everything handed to `broker` so far is published (False: still pending after `timeout_s`, or
    the broker is not connected, in which case nothing is waited for)."""
    is_ready = getattr(broker, "is_ready", None)
    if callable(is_ready) and not is_ready():
        return False
    wait = getattr(broker, "wait_published", None)
    if callable(wait):
        try:
            await asyncio.wait_for(wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            logger.warning("Events not confirmed by the event broker within %.1f s", timeout_s)
            return False
    pending = [task for task in getattr(broker, "_background_tasks", ()) if not task.done()]
    if not pending:
        return True
    _, still = await asyncio.wait(pending, timeout=timeout_s)
    if still:
        logger.warning("%d events not published within %.1f s", len(still), timeout_s)
    return not still
