"""While an agent owns a conversation (Rasa's tracker is paused), a customer cannot end the handoff by typing.

Rasa 3.6 predicts nothing for a paused conversation, except after the `/restart` intent
(`MessageProcessor._should_handle_message`), which restarts it: pause, verification and all. A client can
type any `/intent{...}` text, so here every such command in a paused conversation is kept as the text the
customer typed but given no intent (it acts as nothing and the assistant stays silent).

The one exception is cancelling (§ 312k BGB): `/cancel_contract` passes as it is (the silent dissatisfaction
update answers it with the cancel-now button, actions/dissatisfaction.py), and `/cancel_now`, the button
itself, ends the pause, so that the assistant takes the cancellation at once. The agent cannot stop it.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import ConversationResumed
from sanic import Blueprint

from bot.handoff.queue import release_for_cancellation
from bot.records.database import transaction
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# Commands that still act while an agent owns the conversation.
CANCEL_INTENTS = frozenset({"cancel_contract", "cancel_now"})
# The one that ends the pause: the customer pressed "Jetzt kündigen".
RESUMING_INTENTS = frozenset({"cancel_now"})
_COMMAND = re.compile(r"^/([^{\s@]*)")

MessageHandler = Callable[[UserMessage], Awaitable[Any]]


def command_intent(text: str | None) -> str | None:
    """The intent a `/intent{...}` message names, or None for ordinary text."""
    match = _COMMAND.match(text or "")
    return match.group(1) if match else None


def _release_handoff(conversation_id: str) -> None:
    """Close the agent's handoff in the records (bot.handoff.queue.release_for_cancellation); a records outage
    must not stand between the customer and the cancellation, so it is only logged."""
    try:
        with transaction(get_settings().database_url) as session:
            release_for_cancellation(session, conversation_id=conversation_id, now=datetime.now(timezone.utc))
    except Exception:
        logger.exception("Could not close the handoff of a conversation whose customer chose to cancel")


def neutralised(message: UserMessage) -> UserMessage:
    """The message as typed, parsed as no intent at all."""
    message.parse_data = {"text": message.text, "intent": {"name": None, "confidence": 0.0},
                          "entities": [], "intent_ranking": []}
    return message


async def guard_message(message: UserMessage, agent: Any) -> UserMessage:
    """The message as Rasa should handle it, given whether the conversation is paused (`agent`: Rasa's Agent)."""
    intent = command_intent(message.text)
    if intent is None:
        return message
    tracker = await agent.tracker_store.retrieve(message.sender_id)
    if tracker is None or not tracker.is_paused():
        return message
    if intent in RESUMING_INTENTS:
        async with agent.lock_store.lock(message.sender_id):
            tracker = await agent.tracker_store.retrieve(message.sender_id)
            if tracker is not None and tracker.is_paused():
                tracker.update(ConversationResumed())
                await agent.tracker_store.save(tracker)
        logger.info("A customer chose to cancel during a handoff: the assistant takes the cancellation")
        await asyncio.to_thread(_release_handoff, message.sender_id)
        return message
    if intent in CANCEL_INTENTS:
        return message
    logger.info("A command typed during a handoff was stored as text only")
    return neutralised(message)


class HandoffGuard:
    """Mixin for input channels: wrap `on_new_message` with `guard_message`, using the running Rasa agent."""

    _rasa_app: Any = None

    def guarded(self, blueprint_factory: Callable[[MessageHandler], Blueprint],
                on_new_message: MessageHandler) -> Blueprint:
        async def handle(message: UserMessage) -> Any:
            agent = getattr(getattr(self._rasa_app, "ctx", None), "agent", None)
            if agent is not None and agent.tracker_store is not None:
                message = await guard_message(message, agent)
            return await on_new_message(message)

        blueprint = blueprint_factory(handle)

        @blueprint.listener("before_server_start")
        async def remember_app(app: Any, _loop: Any) -> None:
            self._rasa_app = app

        return blueprint
