"""The outbox of agent messages: stored first, then appended to Rasa's tracker, then delivered to the widget.

A message is stored before anything else happens, so a restart loses none; `undelivered` lists what a
customer has not seen yet, to be delivered again when they reconnect.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.handoff.queue import HandoffError, NotYourConversation
from bot.records.models import AgentMessage, HandoffRequest

MAX_MESSAGE_LENGTH = 2000
MAX_ERROR_LENGTH = 300


def record_agent_message(session: Session, *, handoff_id: int, agent_id: int, text: str,
                         now: datetime) -> AgentMessage:
    """Store a message of the agent who owns the handoff (NotYourConversation otherwise)."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise HandoffError("Die Nachricht ist leer.")
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        raise HandoffError(f"Die Nachricht ist zu lang ({len(cleaned)} Zeichen); bitte teilen Sie sie auf "
                           f"(höchstens {MAX_MESSAGE_LENGTH} Zeichen).")
    handoff = session.get(HandoffRequest, handoff_id)
    if handoff is None:
        raise HandoffError(f"Vorgang H-{handoff_id} gibt es nicht.")
    if handoff.status != "taken" or handoff.assigned_agent_id != agent_id:
        raise NotYourConversation(f"Sie betreuen Vorgang H-{handoff_id} nicht (mehr); die Nachricht wurde nicht "
                                  "gesendet.")
    message = AgentMessage(handoff_id=handoff_id, conversation_id=handoff.conversation_id, agent_id=agent_id,
                           text=cleaned, created_at=now)
    session.add(message)
    session.flush()
    return message


def _set(session: Session, message_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    session.execute(update(AgentMessage).where(AgentMessage.id == message_id).values(**values)
                    .execution_options(synchronize_session="fetch"))


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    """The message is in the conversation's tracker (appended as a bot utterance marked with the agent)."""
    _set(session, message_id, sent_at=now, last_error=None)


def mark_delivered(session: Session, message_id: int, now: datetime) -> None:
    """The message was emitted to a connected widget of the customer."""
    _set(session, message_id, delivered_at=now)


def mark_failed(session: Session, message_id: int, error: str) -> None:
    """Why sending or delivering failed (no personal data: a class name and a short reason)."""
    _set(session, message_id, last_error=error[:MAX_ERROR_LENGTH])


def undelivered(session: Session, *, conversation_id: str) -> list[AgentMessage]:
    """The conversation's agent messages the customer's widget has not received, oldest first."""
    return list(session.scalars(select(AgentMessage).where(
        AgentMessage.conversation_id == conversation_id, AgentMessage.delivered_at.is_(None))
        .order_by(AgentMessage.created_at, AgentMessage.id)))
