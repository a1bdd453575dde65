"""What the Telegram channel keeps in the records database (blocking; the connector calls it in a thread).

- `first_time_seen`: an update id is processed once (channel_inbound_messages; a retry by Telegram, or the same
  update reaching a second Rasa server, inserts the same row and fails); `forget_update` lets Telegram's retry
  through when the first attempt could not be processed;
- the chat's contact row (channel_contacts) with the customer's last message time;
- `failed_messages`: what the customer did not get, for the agent console.
  These three call bot/channels/messaging_records.py (shared with WhatsApp) with Telegram's rules.
- `record_sent` / `record_failed`: every message sent (channel_outbound_messages, kind text|keyboard|photo);
  a keyboard's long payloads are stored with it (`callback_payloads` in the body) for `payload_for_key`.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels import messaging_records
from bot.channels.messaging_records import FailedMessage
from bot.records.database import transaction
from bot.records.models import ChannelOutboundMessage

__all__ = ["CHANNEL", "FailedMessage", "failed_messages", "first_time_seen", "forget_update", "payload_for_key",
           "record_failed", "record_sent"]

CHANNEL = "telegram"
# How many of a conversation's last keyboards a pressed key is looked up in.
KEYBOARDS_SEARCHED = 50
PAYLOADS_FIELD = "callback_payloads"


def first_time_seen(database_url: str, *, update_id: int, conversation_id: str, chat_id: int, now: datetime) -> bool:
    """Record the update (and, in the same transaction, the customer's contact); False when it was processed
    before."""
    def touch(session: Session) -> None:
        # The receive time is the server's clock; the recipient is the chat id (fixed per conversation).
        messaging_records.touch_contact(session, channel=CHANNEL, conversation_id=conversation_id,
                                        recipient=str(chat_id), at=now, only_forward=False)

    return messaging_records.claim_inbound(database_url, channel=CHANNEL, provider_message_id=str(update_id),
                                           conversation_id=conversation_id, now=now, also=touch)


def forget_update(database_url: str, *, update_id: int) -> None:
    """The update could not be processed: Telegram's retry of it is let through."""
    with transaction(database_url) as session:
        messaging_records.release_inbound(session, channel=CHANNEL, provider_message_id=str(update_id))


def record_sent(database_url: str, *, conversation_id: str, kind: str, body: dict[str, Any], message_id: Any,
                attempts: int, now: datetime, agent_message_id: int | None = None,
                callback_payloads: dict[str, str] | None = None) -> None:
    """A message Telegram accepted (its message_id); Telegram tells bots nothing about delivery beyond this."""
    _record(database_url, conversation_id=conversation_id, kind=kind, body=body, callback_payloads=callback_payloads,
            provider_message_id=None if message_id is None else str(message_id), status="sent", attempts=attempts,
            last_error=None, now=now, agent_message_id=agent_message_id)


def record_failed(database_url: str, *, conversation_id: str, kind: str, body: dict[str, Any], error: str,
                  attempts: int, now: datetime, agent_message_id: int | None = None) -> None:
    """A message that could not be sent after all attempts (visible to agents as failed)."""
    _record(database_url, conversation_id=conversation_id, kind=kind, body=body, callback_payloads=None,
            provider_message_id=None, status="failed", attempts=attempts, last_error=error[:300], now=now,
            agent_message_id=agent_message_id)


def _record(database_url: str, *, conversation_id: str, kind: str, body: dict[str, Any],
            callback_payloads: dict[str, str] | None, provider_message_id: str | None, status: str, attempts: int,
            last_error: str | None, now: datetime, agent_message_id: int | None) -> None:
    stored = dict(body)
    if callback_payloads:
        stored[PAYLOADS_FIELD] = callback_payloads
    with transaction(database_url) as session:
        session.add(ChannelOutboundMessage(
            channel=CHANNEL, conversation_id=conversation_id, provider_message_id=provider_message_id, kind=kind,
            body=json.dumps(stored, ensure_ascii=False), status=status, status_at=now, attempts=attempts,
            last_error=last_error, agent_message_id=agent_message_id, created_at=now))


def payload_for_key(database_url: str, *, conversation_id: str, key: str) -> str | None:
    """The payload a keyboard of this conversation sent as `key`, or None (unknown, or purged)."""
    with transaction(database_url) as session:
        bodies = session.scalars(
            select(ChannelOutboundMessage.body)
            .where(ChannelOutboundMessage.channel == CHANNEL, ChannelOutboundMessage.conversation_id == conversation_id,
                   ChannelOutboundMessage.kind == "keyboard")
            .order_by(ChannelOutboundMessage.id.desc()).limit(KEYBOARDS_SEARCHED)).all()
    for body in bodies:
        try:
            payloads = json.loads(body).get(PAYLOADS_FIELD) or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(payloads, dict) and isinstance(payloads.get(key), str):
            return payloads[key]
    return None


def failed_messages(session: Session, conversation_id: str) -> list[FailedMessage]:
    """The conversation's messages Telegram finally did not take (newest first, the last 20); an agent's message
    that a later try delivered does not count."""
    return messaging_records.failed_messages(session, conversation_id, channel=CHANNEL)
