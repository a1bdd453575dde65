"""What the records say about a customer's mood, and the per-conversation dissatisfaction record."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.assistant.dissatisfaction import History
from bot.records.models import Complaint, ConversationInsight, Customer
from bot.records.queries import current_contract
from bot.retention.formatting import BERLIN
from bot.retention.offers import is_high_value

RECENT_COMPLAINT_DAYS = 90


@dataclass(frozen=True)
class CustomerMood:
    """Loaded once at verification and kept in the conversation (slot `customer_history`)."""

    history: History
    high_value: bool

    def as_slot(self) -> dict[str, Any]:
        return {"recent_complaints": self.history.recent_complaints, "open_faults": self.history.open_faults,
                "high_value": self.high_value}

    @classmethod
    def from_slot(cls, value: Any) -> CustomerMood | None:
        if not isinstance(value, dict):
            return None
        return cls(History(recent_complaints=int(value.get("recent_complaints") or 0),
                           open_faults=int(value.get("open_faults") or 0)),
                   high_value=bool(value.get("high_value")))


def customer_mood(session: Session, *, customer_id: int, today: date) -> CustomerMood | None:
    """Open faults (unresolved technical reports), other complaints of the last 90 days, and the value group."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    since = datetime.combine(today - timedelta(days=RECENT_COMPLAINT_DAYS), time.min, tzinfo=BERLIN)
    complaints = session.scalars(select(Complaint).where(Complaint.customer_id == customer_id)).all()
    open_faults = sum(1 for c in complaints if c.category == "technical" and not c.resolved)
    recent = sum(1 for c in complaints
                 if c.created_at >= since and not (c.category == "technical" and not c.resolved))
    contract = current_contract(session, customer_id=customer_id)
    high_value = contract is not None and is_high_value(customer, contract, today)
    return CustomerMood(History(recent_complaints=recent, open_faults=open_faults), high_value)


def record_insight(session: Session, *, conversation_id: str, customer_id: int | None, score: float, peak: float,
                   reasons: Sequence[str], acknowledged: bool, now: datetime) -> None:
    """Insert or update the conversation's row in one statement."""
    values = {"conversation_id": conversation_id, "customer_id": customer_id, "dissatisfaction": score,
              "peak_dissatisfaction": peak, "reasons": ",".join(reasons)[:200], "acknowledged": acknowledged,
              "updated_at": now}
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = insert(ConversationInsight).values(**values)
    changes = {key: statement.excluded[key] for key in values if key != "conversation_id"}
    # What was once known stays: the customer id, the peak and the acknowledgement (a new session
    # of the same conversation starts its score from zero).
    if customer_id is None:
        changes["customer_id"] = ConversationInsight.customer_id
    greatest = func.greatest if dialect == "postgresql" else func.max  # SQLite's max() of two values
    changes["peak_dissatisfaction"] = greatest(ConversationInsight.peak_dissatisfaction,
                                               statement.excluded.peak_dissatisfaction)
    changes["acknowledged"] = or_(ConversationInsight.acknowledged, statement.excluded.acknowledged)
    session.execute(statement.on_conflict_do_update(index_elements=["conversation_id"], set_=changes))
