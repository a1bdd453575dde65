"""Handing agent messages to Rasa: at once when the agent sends one, and again in the background while Rasa
was not reachable, so that a message stored during a Rasa outage reaches the customer once Rasa is back.

Messages are stored first (bot.handoff.messages); `send_pending` hands a handoff's unsent messages to Rasa in
order and marks each sent. One lock per handoff keeps the reply handler and the background retry from sending
the same message twice (the web app is one process). The retry runs every `RETRY_SECONDS` while the web app
runs, and at its start, so a message stored before a restart of the web app is not forgotten either.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.models import AgentMessage, HandoffRequest, StaffUser
from bot.settings import Settings

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
LOCKS_KEY = web.AppKey("console_delivery_locks", defaultdict)
RETRY_TASK_KEY = web.AppKey("console_delivery_retry", asyncio.Task)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _unsent(database_url: str, handoff_id: int | None) -> list[tuple[int, int, str, str, str, str]]:
    """(handoff id, message id, conversation id, channel, text, first name) of messages not yet in Rasa."""
    query = (select(AgentMessage, HandoffRequest.channel, StaffUser.first_name)
             .join(HandoffRequest, HandoffRequest.id == AgentMessage.handoff_id)
             .join(StaffUser, StaffUser.id == AgentMessage.agent_id)
             .where(AgentMessage.sent_at.is_(None))
             .order_by(AgentMessage.id))
    if handoff_id is not None:
        query = query.where(AgentMessage.handoff_id == handoff_id)
    with transaction(database_url) as session:
        return [(message.handoff_id, message.id, message.conversation_id, channel, message.text, first_name)
                for message, channel, first_name in session.execute(query)]


def _mark(database_url: str, message_id: int, problem: str | None) -> None:
    from bot.handoff.messages import mark_failed, mark_sent

    with transaction(database_url) as session:
        if problem is None:
            mark_sent(session, message_id, _now())
        else:
            mark_failed(session, message_id, problem)


async def send_pending(app: web.Application, settings: Settings, rasa: Any, *,
                       handoff_id: int | None = None) -> str | None:
    """Hand the unsent messages (of one handoff, or all) to Rasa, oldest first; None when all went out, else
    what went wrong (the messages that did not go out stay unsent, for the next try)."""
    pending = await asyncio.to_thread(_unsent, settings.database_url, handoff_id)
    by_handoff: dict[int, list[tuple[int, int, str, str, str, str]]] = defaultdict(list)
    for row in pending:
        by_handoff[row[0]].append(row)
    problem: str | None = None
    for handoff, rows in by_handoff.items():
        async with app[LOCKS_KEY][handoff]:
            # Another sender may have sent some while this one waited for the lock.
            still_unsent = {row[1] for row in await asyncio.to_thread(_unsent, settings.database_url, handoff)}
            for _handoff, message_id, conversation_id, channel, text, first_name in rows:
                if message_id not in still_unsent:
                    continue
                try:
                    await rasa.get().send_agent_message(conversation_id, channel=channel, text=text,
                                                        agent_first_name=first_name, message_id=message_id)
                except Exception as error:  # any failure: the message stays unsent and is tried again
                    problem = f"{error.__class__.__name__}"
                    logger.warning("Agent message %s not handed to Rasa yet: %s", message_id, problem)
                    await asyncio.to_thread(_mark, settings.database_url, message_id, problem)
                    break  # keep the order: later messages of this handoff wait for this one
                await asyncio.to_thread(_mark, settings.database_url, message_id, None)
    return problem


async def _retry_loop(app: web.Application, settings: Settings, rasa: Any) -> None:
    while True:
        try:
            await send_pending(app, settings, rasa)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be briefly unavailable: try again next round
            logger.exception("Retrying agent messages failed")
        await asyncio.sleep(RETRY_SECONDS)


def install_retry(app: web.Application, settings: Settings, rasa: Any) -> None:
    """Keep retrying unsent agent messages while `app` runs."""
    app[LOCKS_KEY] = defaultdict(asyncio.Lock)

    async def start(app: web.Application) -> None:
        app[RETRY_TASK_KEY] = asyncio.create_task(_retry_loop(app, settings, rasa))

    async def stop(app: web.Application) -> None:
        task = app.get(RETRY_TASK_KEY)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
