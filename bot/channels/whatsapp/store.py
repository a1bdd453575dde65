"""The WhatsApp channel's rows (migration 0010): provider message ids seen once, the customer's contact and
24-hour window, and every outgoing message with its delivery status. What all messaging channels share (claiming
an id, the contact, the failed list) is in bot/channels/messaging_records.py; this module adds WhatsApp's rules.
Sessions come from `bot.records.database.transaction`; each function here works inside the caller's session."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.channels import messaging_records
from bot.channels.messaging_records import FailedMessage
from bot.channels.whatsapp import statuses, window
from bot.records.models import AgentMessage, ChannelContact, ChannelOutboundMessage

__all__ = ["CHANNEL", "ConsoleNotes", "FailedMessage", "apply_status", "claim_inbound", "console_notes",
           "console_view", "last_customer_message_at", "mark_failed", "mark_sent", "record_outbound",
           "release_inbound", "touch_contact"]

CHANNEL = "whatsapp"


def claim_inbound(database_url: str, *, message_id: str, conversation_id: str, now: datetime) -> bool:
    """True for the first time a message id is seen (on any server); False for a provider's retry."""
    return messaging_records.claim_inbound(database_url, channel=CHANNEL, provider_message_id=message_id,
                                           conversation_id=conversation_id, now=now)


def release_inbound(session: Session, *, message_id: str) -> None:
    """Forget a message id whose processing failed, so that Meta's retry of it is processed."""
    messaging_records.release_inbound(session, channel=CHANNEL, provider_message_id=message_id)


def touch_contact(session: Session, *, conversation_id: str, recipient: str, at: datetime) -> None:
    """The customer wrote at `at`: the 24-hour window runs from their latest message (an older timestamp, e.g.
    of a retry, never moves it back; the recipient follows the latest message)."""
    messaging_records.touch_contact(session, channel=CHANNEL, conversation_id=conversation_id, recipient=recipient,
                                    at=at, only_forward=True)


def last_customer_message_at(session: Session, conversation_id: str) -> datetime | None:
    contact = session.get(ChannelContact, conversation_id)
    return contact.last_customer_message_at if contact is not None else None


def record_outbound(session: Session, *, conversation_id: str, kind: str, body: str, now: datetime,
                    agent_message_id: int | None = None) -> int:
    if agent_message_id is not None and session.get(AgentMessage, agent_message_id) is None:
        agent_message_id = None  # not one of the console's messages: nothing to link
    row = ChannelOutboundMessage(channel=CHANNEL, conversation_id=conversation_id, kind=kind, body=body,
                                 status="queued", attempts=0, agent_message_id=agent_message_id, created_at=now)
    session.add(row)
    session.flush()
    return row.id


def mark_sent(session: Session, row_id: int, *, provider_message_id: str, attempts: int, now: datetime) -> None:
    """Meta accepted the message (its own "sent" callback follows and changes nothing)."""
    row = session.get(ChannelOutboundMessage, row_id)
    row.provider_message_id = provider_message_id
    row.attempts = attempts
    row.status = statuses.next_status(row.status, "sent")
    row.status_at = now
    row.last_error = None


def mark_failed(session: Session, row_id: int, *, error: str, attempts: int, now: datetime) -> None:
    row = session.get(ChannelOutboundMessage, row_id)
    row.attempts = attempts
    row.status = statuses.FINAL
    row.status_at = now
    row.last_error = error[:300]
    _show_agent_failure(session, row.agent_message_id, error)


def _show_agent_failure(session: Session, agent_message_id: int | None, error: str) -> None:
    if agent_message_id is not None:
        session.execute(update(AgentMessage).where(AgentMessage.id == agent_message_id)
                        .values(last_error=f"WhatsApp: {error}"[:300]).execution_options(synchronize_session=False))


def apply_status(session: Session, *, provider_message_id: str, status: str, at: datetime,
                 error: str | None = None) -> bool:
    """A status callback: the message's status moves forward only (failed is final). False when the message
    is unknown here (sent by another system on the same number)."""
    row = session.scalars(select(ChannelOutboundMessage).where(
        ChannelOutboundMessage.channel == CHANNEL,
        ChannelOutboundMessage.provider_message_id == provider_message_id)).first()
    if row is None:
        return False
    moved = statuses.next_status(row.status, status)
    if moved != row.status:
        row.status = moved
        row.status_at = at
        if moved == statuses.FINAL:
            row.last_error = (error or "failed")[:300]
            _show_agent_failure(session, row.agent_message_id, row.last_error)
        elif moved in ("delivered", "read") and row.agent_message_id is not None:
            session.execute(update(AgentMessage).where(AgentMessage.id == row.agent_message_id,
                                                       AgentMessage.delivered_at.is_(None))
                            .values(delivered_at=at).execution_options(synchronize_session=False))
    return True


@dataclass(frozen=True)
class ConsoleNotes:
    """What the console shows about a WhatsApp conversation: whether free-form replies are possible and which
    messages finally failed."""

    window_open: bool
    window_closes_at: datetime | None
    failed: list[FailedMessage]


def console_notes(session: Session, conversation_id: str, now: datetime) -> ConsoleNotes | None:
    """None for a conversation that is not a WhatsApp one."""
    contact = session.get(ChannelContact, conversation_id)
    if contact is None or contact.channel != CHANNEL:
        return None
    last = contact.last_customer_message_at
    return ConsoleNotes(window_open=window.is_open(last, now), window_closes_at=window.closes_at(last) if last else None,
                        failed=messaging_records.failed_messages(session, conversation_id, channel=CHANNEL))


def console_view(session: Session, conversation_id: str, now: datetime) -> dict[str, object] | None:
    """The console's WhatsApp window line for a conversation (None for other channels): the 24-hour window in
    German. The messages that finally failed are shown by the box of all messaging channels
    (`messaging_records.console_failed`)."""
    from bot.retention.formatting import berlin_time

    notes = console_notes(session, conversation_id, now)
    if notes is None:
        return None
    if notes.window_open and notes.window_closes_at is not None:
        window_text = (f"offen bis {berlin_time(notes.window_closes_at):%d.%m. %H:%M} Uhr: Antworten gehen "
                       "direkt an den Kunden")
    else:
        window_text = ("geschlossen (der Kunde hat seit über 24 Stunden nicht geschrieben): Antworten gehen als "
                       "freigegebene WhatsApp-Vorlage hinaus")
    return {"window_open": notes.window_open, "window": window_text}
