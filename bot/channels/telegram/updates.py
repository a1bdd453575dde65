"""A Telegram update (the webhook's JSON body) -> what the customer did (plain logic).

Only private text messages and inline-button presses (callback queries) reach the assistant; everything else
(edits, photos, stickers, channel posts, ...) is recognised so that the connector can answer or ignore it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["text", "button", "unsupported", "ignored"]

# The command Telegram sends when a customer opens the bot ("Start"); the assistant greets.
START_COMMAND = "/start"
GREETING = "/greet"


class InvalidUpdate(ValueError):
    """A body that is not a Telegram update (no update_id, or not a JSON object)."""


@dataclass(frozen=True)
class CustomerAction:
    """One update: `text` is what the assistant should read (the typed text, or the button's callback_data)."""

    update_id: int
    kind: Kind
    chat_id: int | None = None
    text: str | None = None
    callback_query_id: str | None = None


def _chat_id(message: Any) -> int | None:
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return chat_id if isinstance(chat_id, int) and not isinstance(chat_id, bool) else None


def parse_update(body: Any) -> CustomerAction:
    """What an update means for the assistant; InvalidUpdate when `body` is not an update at all."""
    if not isinstance(body, dict):
        raise InvalidUpdate("the body is not a JSON object")
    update_id = body.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise InvalidUpdate("the update has no update_id")

    query = body.get("callback_query")
    if isinstance(query, dict):
        sender = query.get("from") if isinstance(query.get("from"), dict) else {}
        chat_id = _chat_id(query.get("message"))
        if chat_id is None and isinstance(sender.get("id"), int):
            chat_id = sender["id"]  # a private chat's id is the user's id
        data = query.get("data")
        query_id = str(query.get("id") or "") or None
        if chat_id is None or not isinstance(data, str) or not data:
            return CustomerAction(update_id, "ignored", chat_id, None, query_id)
        return CustomerAction(update_id, "button", chat_id, data, query_id)

    message = body.get("message")
    if isinstance(message, dict):
        chat_id = _chat_id(message)
        if chat_id is None or (isinstance(message.get("from"), dict) and message["from"].get("is_bot")):
            return CustomerAction(update_id, "ignored", chat_id)
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            return CustomerAction(update_id, "unsupported", chat_id)
        if text.strip().split("@", 1)[0].split(" ", 1)[0] == START_COMMAND:
            text = GREETING
        return CustomerAction(update_id, "text", chat_id, text)

    return CustomerAction(update_id, "ignored")
