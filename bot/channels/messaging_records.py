"""What every messaging channel (WhatsApp, Telegram) keeps in the shared tables of migration 0010, once for all
channels; `channel` is the name in bot/channels/sender_ids.py ("whatsapp" | "telegram").

- `claim_inbound` / `release_inbound`: a provider's message (or update) id is processed once
  (channel_inbound_messages: INSERT first, IntegrityError = seen before, by this or another Rasa server);
  releasing it when processing failed lets the provider's retry through;
- `touch_contact`: the customer's contact row (channel_contacts) with the time of their last message;
- `failed_messages` / `console_failed`: the messages a channel finally did not deliver, for the agent console.

Each channel's own rows (outgoing bodies, statuses, keyboards) stay in its package (whatsapp/store.py,
telegram/records.py). Sessions come from `bot.records.database.transaction`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.sender_ids import channel_of
from bot.records.database import transaction
from bot.records.models import AgentMessage, ChannelContact, ChannelInboundMessage, ChannelOutboundMessage

# The console's name for each channel ("Nicht zugestellt (WhatsApp)").
CHANNEL_LABELS = {"whatsapp": "WhatsApp", "telegram": "Telegram"}
# The console's German name for the kinds of outgoing messages of all channels.
KIND_LABELS = {"text": "Text", "buttons": "Auswahl", "list": "Auswahlliste", "template": "Vorlage",
               "keyboard": "Auswahl", "photo": "Bild"}
FAILED = "failed"


# The console lists at most this many failed messages per conversation, newest first.
FAILED_LISTED = 20


def claim_inbound(database_url: str, *, channel: str, provider_message_id: str, conversation_id: str,
                  now: datetime, also: Callable[[Session], None] | None = None) -> bool:
    """True the first time `provider_message_id` is seen on `channel` (on any server); False for a retry.
    `also` runs in the same transaction after the claim (e.g. `touch_contact`), so both happen or neither."""
    try:
        with transaction(database_url) as session:
            session.add(ChannelInboundMessage(channel=channel, provider_message_id=provider_message_id,
                                              conversation_id=conversation_id, received_at=now))
            session.flush()
            if also is not None:
                also(session)
    except IntegrityError:
        return False
    return True


def release_inbound(session: Session, *, channel: str, provider_message_id: str) -> None:
    """Forget a claimed id whose processing failed, so that the provider's retry of it is processed."""
    session.execute(delete(ChannelInboundMessage).where(
        ChannelInboundMessage.channel == channel, ChannelInboundMessage.provider_message_id == provider_message_id))


def touch_contact(session: Session, *, channel: str, conversation_id: str, recipient: str, at: datetime,
                  only_forward: bool) -> None:
    """The customer wrote at `at`: create their contact row or update its last message time (and the recipient
    with it). With `only_forward` an older time never replaces a newer one (WhatsApp: message timestamps come
    from Meta and retries arrive out of order; the 24-hour window runs from the latest). Without it the time is
    simply set (Telegram: `at` is the server's receive time; the recipient is the chat id, fixed per
    conversation)."""
    contact = session.get(ChannelContact, conversation_id)
    if contact is None:
        session.add(ChannelContact(conversation_id=conversation_id, channel=channel, recipient=recipient,
                                   last_customer_message_at=at))
        session.flush()
    elif not only_forward or contact.last_customer_message_at is None or at > contact.last_customer_message_at:
        contact.last_customer_message_at = at
        contact.recipient = recipient


@dataclass(frozen=True)
class FailedMessage:
    """A message the channel finally did not deliver: when it was written, its kind, the provider's reason."""

    created_at: datetime
    kind: str
    error: str


def failed_messages(session: Session, conversation_id: str, *, channel: str) -> list[FailedMessage]:
    """The conversation's messages on `channel` whose final status is failed, newest first (at most
    FAILED_LISTED). An agent's message that a later try delivered (its agent_messages.delivered_at is set)
    does not count: the customer got it (the same rule for all channels)."""
    query = (select(ChannelOutboundMessage)
             .outerjoin(AgentMessage, AgentMessage.id == ChannelOutboundMessage.agent_message_id)
             .where(ChannelOutboundMessage.channel == channel,
                    ChannelOutboundMessage.conversation_id == conversation_id,
                    ChannelOutboundMessage.status == FAILED,
                    or_(ChannelOutboundMessage.agent_message_id.is_(None), AgentMessage.delivered_at.is_(None)))
             .order_by(ChannelOutboundMessage.id.desc()).limit(FAILED_LISTED))
    return [FailedMessage(row.created_at, row.kind, row.last_error or "") for row in session.scalars(query)]


def console_failed(session: Session, conversation_id: str) -> dict[str, object] | None:
    """The console's "Nicht zugestellt (<channel>)" box for a messaging conversation (None for a website one):
    the channel's id and name and one line per failed message (Berlin time, kind in German, the provider's
    reason; the template escapes it)."""
    from bot.retention.formatting import berlin_time

    channel = channel_of(conversation_id)
    if channel is None:
        return None
    failed = failed_messages(session, conversation_id, channel=channel)
    return {"channel": channel, "label": CHANNEL_LABELS.get(channel, channel),
            "failed": [{"time": f"{berlin_time(f.created_at):%d.%m. %H:%M}", "kind": KIND_LABELS.get(f.kind, f.kind),
                        "error": f.error} for f in failed]}
