"""Small builders for records and trackers used by several tests."""
from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.records.models import Contract, Customer, Plan


def add_customer(session: Session, *, number: str, plan_code: str, segment: str = "standard",
                 customer_since: date = date(2020, 1, 1), start: date = date(2024, 1, 1),
                 minimum_term_end: date = date(2026, 1, 1), notice_months: int = 1,
                 postcode: str = "10115", birth_date: date = date(1985, 4, 12)) -> Customer:
    plan = session.scalars(select(Plan).where(Plan.code == plan_code)).one()
    customer = Customer(customer_number=number, first_name="Erika", last_name="Mustermann",
                        email=f"{number.lower()}@mail.example", postcode=postcode, birth_date=birth_date,
                        segment=segment, customer_since=customer_since, language="de")
    session.add(customer)
    session.flush()
    session.add(Contract(contract_number=f"V{number[1:]}01", customer_id=customer.id, plan_id=plan.id,
                         monthly_price_cents=plan.monthly_price_cents, start_date=start,
                         minimum_term_end=minimum_term_end, notice_period_months=notice_months, status="active",
                         discount_percent=0))
    session.flush()
    return customer


def tracker(*, slots: dict[str, Any] | None = None, intent: str | None = None, text: str = "",
            entities: list[dict] | None = None, latest_action: str = "action_listen",
            events: list[dict] | None = None, active_loop: str | None = None,
            sender: str = "conversation-1") -> Tracker:
    """A tracker as the action server receives it after the customer's latest message."""
    message = {"text": text, "intent": {"name": intent, "confidence": 1.0} if intent else {},
               "entities": entities or []}
    return Tracker(sender_id=sender, slots=slots or {}, latest_message=message,
                   events=events or [{"event": "user", "text": text, "parse_data": message}], paused=False,
                   followup_action=None, active_loop={"name": active_loop} if active_loop else {},
                   latest_action_name=latest_action)
