"""Which agent messages reached the customer's widget, for the socket.io channel.

An agent message is appended to the tracker and emitted to the customer's socket.io room; a customer
whose widget is not connected at that moment (a reload, a lost connection) gets it when the widget asks
for its session again. Rows are `agent_messages` (migration 0006): `delivered_at` is set once emitted to
a connected widget.

The same two queries are planned in `bot.handoff.messages` (`undelivered`, `mark_delivered`); until that
module exists the channel keeps its own, as small as can be.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.records.models import AgentMessage, StaffUser


@dataclass(frozen=True)
class MissedMessage:
    message_id: int
    agent_first_name: str
    text: str


def missed_messages(session: Session, *, conversation_id: str) -> list[MissedMessage]:
    """Agent messages of the conversation appended to the tracker but not yet emitted to a widget, oldest first."""
    rows = session.execute(
        select(AgentMessage.id, StaffUser.first_name, AgentMessage.text)
        .join(StaffUser, StaffUser.id == AgentMessage.agent_id)
        .where(AgentMessage.conversation_id == conversation_id, AgentMessage.sent_at.is_not(None),
               AgentMessage.delivered_at.is_(None))
        .order_by(AgentMessage.created_at, AgentMessage.id)).all()
    return [MissedMessage(message_id=row[0], agent_first_name=row[1], text=row[2]) for row in rows]


def mark_delivered(session: Session, *, message_id: int, now: datetime | None = None) -> None:
    session.execute(update(AgentMessage).where(AgentMessage.id == message_id, AgentMessage.delivered_at.is_(None))
                    .values(delivered_at=now or datetime.now(timezone.utc)))
