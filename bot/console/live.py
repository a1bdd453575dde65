"""The console's live channel: server-sent events (GET /console/events).

Every second the channel reads what the agent's page shows and sends what changed:
- `queue`: {"waiting": [...], "mine": [...], "all": [...] (supervisors)}, entries as bot.console.labels.entry_json;
- `transcript` (with ?handoff=<id>&after=<event id>): {"lines": [...]} the messages stored since;
- `handoff`: {"status": ..., "agent_id": ...} when the viewed handoff changes hands.
The session is checked on every round: a logout, an expiry or a deactivated user ends the stream
(`event: logout`). While the stream is open the agent counts as online (presence, bot.handoff.availability)
and the session does not idle out (its maximum age, CONSOLE_SESSION_HOURS, still ends it).
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import labels
from bot.console.auth import AGENT_ROLES, access_rule, load_login, login_of, now
from bot.console.pages import SETTINGS_KEY
from bot.console.transcript import read_conversation
from bot.handoff import queue
from bot.records.database import transaction
from bot.records.models import HandoffRequest
from bot.retention.formatting import berlin_time

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
PRESENCE_EVERY = timedelta(seconds=30)


STREAMS_KEY = web.AppKey("console_streams", set)


async def end_streams(app: web.Application) -> None:
    """At shutdown: end the open live channels (browsers reconnect to the restarted app by themselves)."""
    for task in list(app[STREAMS_KEY]):
        task.cancel()


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@access_rule(roles=AGENT_ROLES, page=False)
async def events(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    login = login_of(request)
    handoff_id = int(request.query["handoff"]) if request.query.get("handoff", "").isdigit() else None
    after = int(request.query["after"]) if request.query.get("after", "").isdigit() else 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    task = asyncio.current_task()
    request.app[STREAMS_KEY].add(task)

    def snapshot(touch_presence: bool) -> dict[str, Any]:
        with transaction(settings.database_url) as session:
            moment = now()
            if touch_presence:
                _touch(session, login.user_id, moment)
            state: dict[str, Any] = {
                "waiting": [labels.entry_json(e) for e in queue.waiting_queue(session, now=moment)],
                "mine": [labels.entry_json(e) for e in queue.conversations_of(session, agent_id=login.user_id,
                                                                              now=moment)]}
            if login.role == "supervisor":
                state["all"] = [labels.entry_json(e) for e in queue.all_active(session, now=moment)]
            handoff = session.get(HandoffRequest, handoff_id) if handoff_id else None
            conversation_id = handoff.conversation_id if handoff else None
            handoff_state = {"status": handoff.status, "agent_id": handoff.assigned_agent_id} if handoff else None
        lines: list[dict[str, Any]] = []
        nonlocal after
        if conversation_id:
            with transaction(settings.tracker_store_url) as tracker_session:
                conversation = read_conversation(tracker_session, conversation_id=conversation_id, after_event_id=after)
            after = conversation.last_event_id
            lines = [{**line.as_json(), "time": f"{berlin_time(line.at):%H:%M}"} for line in conversation.lines]
        return {"queue": state, "handoff": handoff_state, "lines": lines}

    last_queue: Any = None
    last_handoff: Any = None
    last_presence = None
    last_sent = asyncio.get_running_loop().time()
    try:
        while True:
            moment = now()
            touch = last_presence is None or moment - last_presence >= PRESENCE_EVERY
            # An open console is activity: it keeps the session from idling out (the maximum age still holds).
            if await load_login(request, settings, touch=touch) is None:
                await response.write(_event("logout", {}))
                break
            state = await asyncio.to_thread(snapshot, touch)
            if touch:
                last_presence = moment
            chunks = []
            # Waiting times change every second; the queue is re-sent when its rows change, or every 15 s.
            queue_key = json.dumps({kind: [{k: v for k, v in entry.items() if k not in ("waiting", "waiting_seconds")}
                                           for entry in entries] for kind, entries in state["queue"].items()})
            loop_time = asyncio.get_running_loop().time()
            if queue_key != last_queue or loop_time - last_sent >= HEARTBEAT_SECONDS:
                chunks.append(_event("queue", state["queue"]))
                last_queue = queue_key
            if state["handoff"] is not None and state["handoff"] != last_handoff:
                if last_handoff is not None:
                    chunks.append(_event("handoff", state["handoff"]))
                last_handoff = state["handoff"]
            if state["lines"]:
                chunks.append(_event("transcript", {"lines": state["lines"]}))
            if chunks:
                await response.write(b"".join(chunks))
                last_sent = loop_time
            await asyncio.sleep(POLL_SECONDS)
    except ConnectionResetError:
        pass
    finally:
        request.app[STREAMS_KEY].discard(task)
    return response


def _touch(session: Session, user_id: int, moment: Any) -> None:
    from bot.handoff.availability import touch_presence

    touch_presence(session, user_id=user_id, now=moment)
