"""Conversation ids of the messaging channels, namespaced by channel.

A WhatsApp customer's conversation is "whatsapp:<wa_id>", a Telegram chat's "telegram:<chat id>", so two channels
never share a conversation by accident. The website channels (REST, socket.io) let the client choose its sender
id; one that starts with a messaging channel's prefix is refused there (`is_reserved`), so nobody can write
into, or read, a WhatsApp or Telegram customer's conversation through the website.

Plain logic: no Rasa, no web.
"""
from __future__ import annotations

MESSAGING_CHANNELS = ("whatsapp", "telegram")
SEPARATOR = ":"


class SenderIdError(ValueError):
    """A conversation id that does not belong to the channel asked about."""


def conversation_id(channel: str, provider_id: str | int) -> str:
    """The conversation id of the customer `provider_id` (WhatsApp wa_id, Telegram chat id) on `channel`."""
    if channel not in MESSAGING_CHANNELS:
        raise SenderIdError(f"unknown messaging channel {channel!r}; known: {', '.join(MESSAGING_CHANNELS)}")
    raw = str(provider_id).strip()
    if not raw:
        raise SenderIdError(f"empty {channel} sender id")
    return f"{channel}{SEPARATOR}{raw}"


def provider_id(channel: str, conversation: str) -> str:
    """The provider's address inside a conversation id of `channel` (inverse of `conversation_id`)."""
    prefix = f"{channel}{SEPARATOR}"
    if not conversation.startswith(prefix) or len(conversation) == len(prefix):
        raise SenderIdError(f"{conversation!r} is not a {channel} conversation")
    return conversation[len(prefix):]


def channel_of(conversation: str) -> str | None:
    """The messaging channel a conversation id belongs to, or None for a website conversation."""
    for channel in MESSAGING_CHANNELS:
        if conversation.startswith(f"{channel}{SEPARATOR}"):
            return channel
    return None


def is_reserved(sender_id: str | None) -> bool:
    """Whether a website client's sender id would name a messaging channel's conversation (case-insensitive)."""
    return sender_id is not None and channel_of(sender_id.strip().lower()) is not None
