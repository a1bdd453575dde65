"""German labels for what the console shows (reason codes, priorities, channels) and queue entries as JSON."""
from __future__ import annotations

from typing import Any

REASONS = {
    "customer_request": "Kundenwunsch",
    "verification_locked": "Identifizierung gesperrt",
    "misunderstood": "Zweimal nicht verstanden",
    "dissatisfied": "Sehr unzufrieden",
    "price": "Kündigung: Preis",
    "service": "Kündigung: Service",
    "technical": "Kündigung: Technik",
    "competitor": "Kündigung: Wechsel zu Mitbewerber",
    "moving": "Kündigung: Umzug",
    "no_need": "Kündigung: kein Bedarf",
    "other": "Sonstiges",
}
PRIORITIES = {"urgent": "dringend", "high": "hoch", "normal": "normal"}
CHANNELS = {"socketio": "Web-Chat", "rest": "REST", "whatsapp": "WhatsApp", "telegram": "Telegram"}
STATUSES = {"open": "wartet", "taken": "in Bearbeitung", "closed": "abgeschlossen"}
RESOLUTIONS = {
    "solved": "Gelöst",
    "offer_accepted": "Angebot angenommen",
    "cancellation_processed": "Kündigung bearbeitet",
    "callback_arranged": "Rückruf vereinbart",
    "other": "Sonstiges",
}
SEGMENTS = {"standard": "Standard", "premium": "Premium", "business": "Business"}
COMPLAINT_CATEGORIES = {"technical": "Störung", "billing": "Rechnung", "service": "Service", "price": "Preis"}


def reason_label(code: str) -> str:
    return REASONS.get(code, code)


def waiting_label(seconds: int) -> str:
    minutes, secs = divmod(max(seconds, 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes}:{secs:02d} min"


def entry_json(entry: Any) -> dict[str, Any]:
    """A bot.handoff.queue.QueueEntry as the live queue sends it to the browser (the page escapes it)."""
    return {
        "handoff_id": entry.handoff_id,
        "channel": CHANNELS.get(entry.channel, entry.channel),
        "reason": reason_label(entry.reason),
        "priority": entry.priority,
        "priority_label": PRIORITIES.get(entry.priority, entry.priority),
        "waiting_seconds": entry.waiting_seconds,
        "waiting": waiting_label(entry.waiting_seconds),
        "customer_name": entry.customer_name,
        "segment": SEGMENTS.get(entry.segment, entry.segment) if entry.segment else None,
        "dissatisfaction": None if entry.dissatisfaction is None else round(entry.dissatisfaction, 2),
        "status": entry.status,
        "status_label": STATUSES.get(entry.status, entry.status),
        "agent_id": entry.agent_id,
        "agent_first_name": entry.agent_first_name,
    }
