"""Handing a conversation to a human, and the customer's satisfaction rating."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.dissatisfaction import VERY_DISSATISFIED_AT
from bot.assistant.replies import Reply
from bot.records.models import Customer, HandoffRequest, SatisfactionRating
from bot.records.queries import current_contract
from bot.retention.formatting import berlin_date
from bot.retention.offers import is_high_value


def request_handoff(session: Session, *, conversation_id: str, customer_id: int | None, reason: str,
                    now: datetime, dissatisfaction: float | None = None) -> Reply:
    """Open a handoff request (one per conversation while open); high-value customers get priority.

    A very dissatisfied high-value customer is handled first ("urgent") and is told so.
    """
    existing = session.scalars(select(HandoffRequest).where(
        HandoffRequest.conversation_id == conversation_id, HandoffRequest.status == "open")).first()
    if existing is None:
        priority = "normal"
        if customer_id is not None:
            customer = session.get(Customer, customer_id)
            contract = current_contract(session, customer_id=customer_id)
            if customer and contract and is_high_value(customer, contract, berlin_date(now)):
                priority = "high"
                if dissatisfaction is not None and dissatisfaction >= VERY_DISSATISFIED_AT:
                    priority = "urgent"
        existing = HandoffRequest(conversation_id=conversation_id, customer_id=customer_id, reason=reason,
                                  priority=priority, status="open", created_at=now, dissatisfaction=dissatisfaction)
        session.add(existing)
        session.flush()
    text = (
        f"Ich habe Ihr Anliegen an unser Service-Team übergeben (Vorgang H-{existing.id}). Eine Mitarbeiterin oder "
        "ein Mitarbeiter übernimmt dieses Gespräch hier im Chat, während unserer Servicezeiten (Mo–Sa 8–20 Uhr) "
        "in der Regel innerhalb weniger Minuten. Bitte lassen Sie das Fenster geöffnet."
    )
    if existing.priority == "urgent":
        text += " Ihr Anliegen wird bevorzugt bearbeitet."
    return Reply(text)


class InvalidRating(ValueError):
    """A rating outside 1–5."""


def parse_rating(value: object) -> int | None:
    """A whole number from 1 to 5 (as the button sends it, 4 or 4.0 or "4"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[1-5](?:\.0)?\s*", value, flags=re.ASCII):
        number = float(value)
    else:
        return None
    return int(number) if number.is_integer() and 1 <= number <= 5 else None


def store_rating(session: Session, *, conversation_id: str, customer_id: int | None, rating: int,
                 now: datetime) -> SatisfactionRating:
    """Store the conversation's 1–5 rating; a second rating replaces the first."""
    if not 1 <= rating <= 5:
        raise InvalidRating(f"rating must be between 1 and 5, got {rating}")
    existing = session.scalars(
        select(SatisfactionRating).where(SatisfactionRating.conversation_id == conversation_id)).first()
    if existing is None:
        existing = SatisfactionRating(conversation_id=conversation_id, customer_id=customer_id, rating=rating,
                                      created_at=now)
        session.add(existing)
    else:
        existing.rating, existing.created_at = rating, now
    session.flush()
    return existing


