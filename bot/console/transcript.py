"""The conversation as Rasa stored it (tracker store table `events`), for the agent console.

Read straight from the tracker store's database (TRACKER_STORE_URL), so the console shows what is stored,
also while Rasa is down. Texts are returned as they were typed; the pages escape them.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

CUSTOMER, ASSISTANT, AGENT = "customer", "assistant", "agent"


@dataclass(frozen=True)
class TranscriptLine:
    """One message: who wrote it (customer, assistant or agent), the agent's first name, the text."""

    event_id: int
    author: str
    agent_name: str | None
    text: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.event_id, "author": self.author, "agent": self.agent_name, "text": self.text,
                "at": self.at.isoformat()}


@dataclass(frozen=True)
class MoodPoint:
    """The dissatisfaction score after a customer message."""

    at: datetime
    score: float


@dataclass(frozen=True)
class Conversation:
    lines: list[TranscriptLine]
    dissatisfaction: list[MoodPoint]
    last_event_id: int


def _message_text(data: dict[str, Any]) -> str:
    text_value = data.get("text")
    if text_value:
        return str(text_value)
    payload = data.get("data") or {}
    custom = payload.get("custom") if isinstance(payload, dict) else None
    if isinstance(custom, dict) and custom.get("text"):
        return str(custom["text"])
    if isinstance(payload, dict) and payload.get("buttons"):
        return " | ".join(str(button.get("title", "")) for button in payload["buttons"])
    return ""


def _agent(data: dict[str, Any]) -> str | None:
    """The agent's first name for a message an agent wrote (not for the notices about the handoff)."""
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and metadata.get("agent") and not metadata.get("handoff"):
        return str(metadata["agent"])
    return None


def _without_name(text_value: str, agent: str) -> str:
    """The agent's text without the "Anna: " the customer's widget shows in front of it."""
    prefix = f"{agent}: "
    return text_value[len(prefix):] if text_value.startswith(prefix) else text_value


def read_conversation(session: Session, *, conversation_id: str, after_event_id: int = 0) -> Conversation:
    """The messages (and dissatisfaction scores) of a conversation stored after `after_event_id`, oldest first.

    An empty conversation when the tracker store has no such table yet (no conversation happened).
    """
    try:
        rows = session.execute(text(
            "SELECT id, type_name, timestamp, data FROM events WHERE sender_id = :sender AND id > :after "
            "AND type_name IN ('user', 'bot', 'slot') ORDER BY id"),
            {"sender": conversation_id, "after": after_event_id}).all()
    except SQLAlchemyError as error:
        logger.warning("Transcript of a conversation not readable: %s", error.__class__.__name__)
        session.rollback()
        return Conversation([], [], after_event_id)
    lines: list[TranscriptLine] = []
    mood: list[MoodPoint] = []
    last = after_event_id
    for event_id, type_name, timestamp, raw in rows:
        last = max(last, event_id)
        data = json.loads(raw)
        at = datetime.fromtimestamp(float(timestamp or data.get("timestamp") or 0), tz=timezone.utc)
        if type_name == "slot":
            if data.get("name") == "dissatisfaction" and isinstance(data.get("value"), int | float):
                mood.append(MoodPoint(at, float(data["value"])))
            continue
        message = _message_text(data)
        if not message:
            continue
        if type_name == "user":
            lines.append(TranscriptLine(event_id, CUSTOMER, None, message, at))
        else:
            agent = _agent(data)
            if agent:
                lines.append(TranscriptLine(event_id, AGENT, agent, _without_name(message, agent), at))
            else:
                lines.append(TranscriptLine(event_id, ASSISTANT, None, message, at))
    return Conversation(lines, mood, last)
