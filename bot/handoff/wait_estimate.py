"""How long a waiting customer will probably wait, from what recent handoffs actually took.

The estimate is the median time from request to an agent taking over, over the handoffs taken in the
last `history_days`; with fewer than MIN_SAMPLES of them there is no estimate (None), and the customer
is told that honestly rather than a made-up figure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.handoff.queue import PRIORITIES, HandoffError
from bot.records.models import HandoffRequest

MIN_SAMPLES = 3
HISTORY_DAYS = 7


@dataclass(frozen=True)
class WaitEstimate:
    position: int  # 1 = next in line; 0 = no longer waiting (taken or closed)
    minutes: int | None  # None = too few recent handoffs to say


def recent_wait_minutes(session: Session, *, now: datetime, history_days: int = HISTORY_DAYS) -> int | None:
    """The median wait (whole minutes, at least 1) of the handoffs taken in the last `history_days`."""
    rows = session.execute(select(HandoffRequest.created_at, HandoffRequest.taken_at).where(
        HandoffRequest.taken_at.is_not(None), HandoffRequest.taken_at >= now - timedelta(days=history_days),
        HandoffRequest.taken_at <= now)).all()
    waits = [(taken - created).total_seconds() for created, taken in rows]
    if len(waits) < MIN_SAMPLES:
        return None
    return max(1, math.ceil(median(waits) / 60))


def queue_position(session: Session, handoff: HandoffRequest) -> int:
    """Where a waiting handoff is in the queue (1 = next); 0 when it is not waiting."""
    if handoff.status != "open":
        return 0
    rank = PRIORITIES.index(handoff.priority) if handoff.priority in PRIORITIES else len(PRIORITIES)
    earlier = or_(HandoffRequest.created_at < handoff.created_at,
                  and_(HandoffRequest.created_at == handoff.created_at, HandoffRequest.id < handoff.id))
    ahead = session.scalar(select(func.count()).select_from(HandoffRequest).where(
        HandoffRequest.status == "open", HandoffRequest.id != handoff.id,
        or_(HandoffRequest.priority.in_(PRIORITIES[:rank]), and_(HandoffRequest.priority == handoff.priority, earlier))))
    return (ahead or 0) + 1


def estimate_wait(session: Session, *, handoff_id: int, now: datetime,
                  history_days: int = HISTORY_DAYS) -> WaitEstimate:
    """The handoff's place in the queue and the recent median wait (None without enough recent data)."""
    handoff = session.get(HandoffRequest, handoff_id)
    if handoff is None:
        raise HandoffError(f"Vorgang H-{handoff_id} gibt es nicht.")
    return WaitEstimate(position=queue_position(session, handoff),
                        minutes=recent_wait_minutes(session, now=now, history_days=history_days))
