"""WhatsApp's customer-service window: a business may send free-form messages only within 24 hours of the
customer's last message; after that only an approved message template (re-engagement)."""
from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


def is_open(last_customer_message_at: datetime | None, now: datetime) -> bool:
    """Whether a free-form message may be sent now (never, if the customer never wrote)."""
    return last_customer_message_at is not None and now - last_customer_message_at < WINDOW


def closes_at(last_customer_message_at: datetime) -> datetime:
    return last_customer_message_at + WINDOW
