"""Hand-built Rasa events as the event brokers publish them (sender_id + Event.as_dict()), for analytics tests."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc).timestamp()


def user(sender: str, at: float, text: str, intent: str, *, channel: str = "socketio") -> dict[str, Any]:
    return {"sender_id": sender, "event": "user", "timestamp": T0 + at, "text": text, "input_channel": channel,
            "message_id": f"m{at}", "metadata": {},
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.93}, "entities": []}}


def slot(sender: str, at: float, name: str, value: Any) -> dict[str, Any]:
    return {"sender_id": sender, "event": "slot", "timestamp": T0 + at, "name": name, "value": value}


def action(sender: str, at: float, name: str) -> dict[str, Any]:
    return {"sender_id": sender, "event": "action", "timestamp": T0 + at, "name": name, "policy": "RulePolicy",
            "confidence": 1.0}


def bot(sender: str, at: float, text: str) -> dict[str, Any]:
    return {"sender_id": sender, "event": "bot", "timestamp": T0 + at, "text": text, "data": {}, "metadata": {}}


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=timezone.utc)
