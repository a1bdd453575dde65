"""Handing a conversation to a human, and the customer's satisfaction rating."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.dissatisfaction import VERY_DISSATISFIED_AT
from bot.assistant.replies import Reply
from bot.handoff.availability import ServiceHours, agents_online, configured_hours, is_open, next_opening
from bot.handoff.queue import active_handoff
from bot.handoff.wait_estimate import estimate_wait
from bot.records.models import Customer, HandoffRequest, SatisfactionRating
from bot.records.queries import current_contract
from bot.retention.formatting import berlin_date, berlin_time
from bot.retention.offers import is_high_value
from bot.settings import Settings, get_settings

QUEUED = "queued"  # someone is there: the customer waits in the chat
CLOSED = "closed"  # outside service hours
NO_AGENT_ONLINE = "no_agent_online"  # within service hours, but nobody has the console open


@dataclass(frozen=True)
class HandoffReply(Reply):
    """The reply to a handoff request, with what an action needs to offer the next steps.

    When `offers_callback`, the text has offered a callback or going on with the assistant; the action adds
    the buttons for them.
    """

    handoff_id: int = 0
    situation: str = QUEUED  # QUEUED | CLOSED | NO_AGENT_ONLINE
    position: int | None = None  # in the queue, 1 = next
    wait_minutes: int | None = None  # median recent wait; None = too little recent data to say
    opens_at: datetime | None = None  # next opening (Berlin time) when CLOSED

    @property
    def offers_callback(self) -> bool:
        return self.situation != QUEUED


def request_handoff(session: Session, *, conversation_id: str, customer_id: int | None, reason: str,
                    now: datetime, dissatisfaction: float | None = None, channel: str = "socketio",
                    hours: ServiceHours | None = None, settings: Settings | None = None) -> HandoffReply:
    """Open a handoff request (one per conversation while waiting or taken); high-value customers get priority.

    A very dissatisfied high-value customer is handled first ("urgent") and is told so. The reply says
    where the customer is in the queue and how long recent handoffs took to be taken, or at once that
    the service team is closed (SERVICE_HOURS) or nobody is online, with a callback or the assistant as
    the alternatives.
    """
    settings = settings or get_settings()
    hours = hours or configured_hours(settings)
    existing = active_handoff(session, conversation_id=conversation_id)
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
                                  priority=priority, status="open", created_at=now, dissatisfaction=dissatisfaction,
                                  channel=channel)
        session.add(existing)
        session.flush()
    case = f"Vorgang H-{existing.id}"
    urgent = " Ihr Anliegen wird bevorzugt bearbeitet." if existing.priority == "urgent" else ""
    alternatives = (" Sie können uns eine Telefonnummer und einen Zeitraum für einen Rückruf hinterlassen oder hier "
                    "mit mir weitermachen.")
    if existing.status == "taken":
        return HandoffReply(f"Eine Mitarbeiterin oder ein Mitarbeiter betreut dieses Gespräch bereits ({case}).",
                            handoff_id=existing.id, position=0)
    if not is_open(hours, now):
        opens_at = next_opening(hours, now)
        text = (f"Unser Service-Team ist gerade nicht im Dienst ({hours.describe()}); wieder erreichbar "
                f"{_when(opens_at, now)}. Ich habe Ihr Anliegen notiert ({case}).{urgent}{alternatives}")
        return HandoffReply(text, handoff_id=existing.id, situation=CLOSED, opens_at=opens_at)
    if agents_online(session, now=now, within_seconds=settings.handoff_presence_seconds) == 0:
        text = ("Gerade ist leider keine Mitarbeiterin und kein Mitarbeiter im Chat erreichbar. Ich habe Ihr Anliegen "
                f"notiert ({case}); sobald jemand frei ist, wird dieses Gespräch hier übernommen.{urgent}"
                f"{alternatives}")
        return HandoffReply(text, handoff_id=existing.id, situation=NO_AGENT_ONLINE)
    estimate = estimate_wait(session, handoff_id=existing.id, now=now, history_days=settings.handoff_wait_history_days)
    place = ("Sie sind als Nächstes an der Reihe." if estimate.position <= 1
             else f"Vor Ihnen warten noch {estimate.position - 1} Personen." if estimate.position > 2
             else "Vor Ihnen wartet noch eine Person.")
    if estimate.minutes is None:
        wait = "Wie lange es dauert, kann ich nicht verlässlich sagen: Mir fehlen dazu aktuelle Erfahrungswerte."
    else:
        unit = "Minute" if estimate.minutes == 1 else "Minuten"
        wait = (f"In den letzten {settings.handoff_wait_history_days} Tagen wurde die Hälfte der Anfragen innerhalb "
                f"von {estimate.minutes} {unit} übernommen.")
    text = (f"Ich verbinde Sie mit einer Mitarbeiterin oder einem Mitarbeiter ({case}). {place} {wait} Bitte lassen "
            f"Sie das Fenster geöffnet.{urgent}")
    return HandoffReply(text, handoff_id=existing.id, position=estimate.position, wait_minutes=estimate.minutes)


def _when(moment: datetime, now: datetime) -> str:
    """'heute ab 08:00 Uhr', 'morgen ab 08:00 Uhr', 'am Montag, 07.12., ab 08:00 Uhr' (Berlin time)."""
    days = (berlin_date(moment) - berlin_date(now)).days
    local = berlin_time(moment)
    if days == 0:
        return f"heute ab {local:%H:%M} Uhr"
    if days == 1:
        return f"morgen ab {local:%H:%M} Uhr"
    return f"am {WEEKDAY_NAMES[local.weekday()]}, {local:%d.%m.}, ab {local:%H:%M} Uhr"


WEEKDAY_NAMES = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


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


