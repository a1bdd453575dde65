"""What the analytics pipeline needs to know about one Rasa event (a dict as the event brokers publish it).

Rasa 3.6 events carry no id and its RabbitMQ messages no message_id, so a delivered event is recognised by
a stable key: the SHA-256 of its conversation, timestamp, type and content. The same event published
twice (a redelivery, a re-read after a crash) has the same key; two different events do not.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

RasaEvent = dict[str, Any]

# Fields that are not part of what happened (where it was published from).
_NOT_CONTENT = ("sender_id", "timestamp", "event")


class InvalidEvent(ValueError):
    """A message that is not a Rasa event of a conversation (no sender_id, event type or timestamp)."""


def conversation_id(event: RasaEvent) -> str:
    sender = event.get("sender_id")
    if not isinstance(sender, str) or not sender:
        raise InvalidEvent("event without sender_id")
    return sender


def event_type(event: RasaEvent) -> str:
    kind = event.get("event")
    if not isinstance(kind, str) or not kind:
        raise InvalidEvent("event without type")
    return kind


def event_time(event: RasaEvent) -> datetime:
    """The event's time (Rasa: seconds since the epoch, a float), timezone-aware UTC."""
    stamp = event.get("timestamp")
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
        raise InvalidEvent("event without timestamp")
    return datetime.fromtimestamp(stamp, tz=timezone.utc)


def event_key(event: RasaEvent) -> str:
    """The stable key of an event: SHA-256 over conversation, timestamp, type and content (hex, 64 chars)."""
    event_time(event)  # it must have one
    content = {name: value for name, value in event.items() if name not in _NOT_CONTENT}
    canonical = json.dumps([conversation_id(event), repr(float(event["timestamp"])), event_type(event), content],
                           sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def intent_name(event: RasaEvent) -> str | None:
    """The intent of a user message event (None for other events)."""
    if event.get("event") != "user":
        return None
    intent = (event.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) and name else None
