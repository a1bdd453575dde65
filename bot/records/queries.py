"""Data access as plain functions: a missing row returns None, the caller decides what that means."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.records.models import (
    ACTIVE,
    CANCELLED,
    PAUSED,
    Cancellation,
    Contract,
    Customer,
    Invoice,
    Plan,
    RetentionOffer,
)


def customer_by_number(session: Session, *, customer_number: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.customer_number == customer_number)).first()


def verified_customer(
    session: Session, *, customer_number: str, postcode: str | None, birth_date: date | None
) -> Customer | None:
    """The customer when the number and the postcode or the birth date belong together, else None."""
    customer = customer_by_number(session, customer_number=customer_number)
    if customer is None:
        return None
    if postcode is not None and customer.postcode == postcode:
        return customer
    if birth_date is not None and customer.birth_date == birth_date:
        return customer
    return None


def current_contract(session: Session, *, customer_id: int) -> Contract | None:
    """The customer's most recent contract that is still running (active, paused, or cancelled but not ended)."""
    return session.scalars(
        select(Contract)
        .where(Contract.customer_id == customer_id, Contract.status.in_((ACTIVE, PAUSED, CANCELLED)))
        .order_by(Contract.status == CANCELLED, Contract.start_date.desc(), Contract.id.desc())
    ).first()


def recent_invoices(session: Session, *, contract_id: int, limit: int = 3) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice).where(Invoice.contract_id == contract_id).order_by(Invoice.period_start.desc()).limit(limit)
        )
    )


def active_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).where(Plan.active.is_(True)).order_by(Plan.category, Plan.tier)))


def offer_catalog(session: Session) -> list[RetentionOffer]:
    return list(session.scalars(select(RetentionOffer).where(RetentionOffer.active.is_(True))))


def offer_by_code(session: Session, *, code: str) -> RetentionOffer | None:
    return session.scalars(select(RetentionOffer).where(RetentionOffer.code == code)).first()


def cancellation_for_contract(session: Session, *, contract_id: int) -> Cancellation | None:
    return session.scalars(select(Cancellation).where(Cancellation.contract_id == contract_id)).first()
