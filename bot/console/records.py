"""What an agent sees of a verified customer, as plain values for the conversation view.

Read-only: the console changes records only through the assistant's own functions (bot/console/actions.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.service_answers import current_monthly_price
from bot.records.models import (
    Complaint,
    Contract,
    ConversationInsight,
    Customer,
    OfferDecision,
    VerificationLock,
)
from bot.records.queries import cancellation_for_contract, recent_invoices
from bot.retention.formatting import euro, german_date, german_datetime
from bot.retention.offers import tenure_months

STATUS_NAMES = {"active": "aktiv", "paused": "pausiert", "cancelled": "gekündigt", "ended": "beendet"}


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    period: str
    amount: str
    status: str


@dataclass(frozen=True)
class ContractLine:
    contract_id: int
    number: str
    plan: str
    price: str
    status: str
    start: str
    minimum_term_end: str
    cancellation: str | None
    invoices: list[InvoiceLine]


@dataclass(frozen=True)
class HistoryLine:
    when: str
    text: str


@dataclass(frozen=True)
class CustomerRecords:
    customer_id: int
    name: str
    customer_number: str
    segment: str
    email: str
    tenure_months: int
    contracts: list[ContractLine]
    offers: list[HistoryLine]
    complaints: list[HistoryLine]
    open_faults: list[HistoryLine]
    locks: list[HistoryLine]


@dataclass(frozen=True)
class Insight:
    dissatisfaction: float
    peak: float
    reasons: list[str]


def customer_records(session: Session, *, customer_id: int, today: date, now: datetime) -> CustomerRecords | None:
    """Contracts (plan, price, status, invoices), earlier offers, complaints, open faults, verification locks."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    contracts = []
    for contract in session.scalars(select(Contract).where(Contract.customer_id == customer_id)
                                    .order_by(Contract.start_date.desc())):
        cancellation = cancellation_for_contract(session, contract_id=contract.id)
        contracts.append(ContractLine(
            contract_id=contract.id, number=contract.contract_number, plan=contract.plan.name,
            price=euro(current_monthly_price(contract, today)) + (
                f" ({contract.discount_percent} % Rabatt bis {german_date(contract.discount_until)})"
                if contract.discount_percent and contract.discount_until and contract.discount_until > today else ""),
            status=STATUS_NAMES.get(contract.status, contract.status), start=german_date(contract.start_date),
            minimum_term_end=german_date(contract.minimum_term_end),
            cancellation=(f"{cancellation.confirmation_number}, wirksam zum {german_date(cancellation.effective_date)}"
                          if cancellation else None),
            invoices=[InvoiceLine(invoice.invoice_number, german_date(invoice.period_start), euro(invoice.amount_cents),
                                  invoice.status) for invoice in recent_invoices(session, contract_id=contract.id)]))
    offers = [HistoryLine(german_datetime(decision.decided_at),
                          f"{decision.offer.title}: {'angenommen' if decision.outcome == 'accepted' else 'abgelehnt'}")
              for decision in session.scalars(select(OfferDecision).where(OfferDecision.customer_id == customer_id)
                                              .order_by(OfferDecision.decided_at.desc()))]
    complaints = list(session.scalars(select(Complaint).where(Complaint.customer_id == customer_id)
                                      .order_by(Complaint.created_at.desc())))
    locks = session.scalars(select(VerificationLock).where(
        VerificationLock.customer_number == customer.customer_number, VerificationLock.released_at.is_(None),
        VerificationLock.locked_until > now).order_by(VerificationLock.locked_at.desc()))
    return CustomerRecords(
        customer_id=customer.id, name=customer.full_name, customer_number=customer.customer_number,
        segment=customer.segment, email=customer.email, tenure_months=tenure_months(customer, today),
        contracts=contracts, offers=offers,
        complaints=[HistoryLine(german_datetime(c.created_at), f"{c.category}: {c.description}"
                                + (" (erledigt)" if c.resolved else "")) for c in complaints],
        open_faults=[HistoryLine(german_datetime(c.created_at), c.description) for c in complaints
                     if c.category == "technical" and not c.resolved],
        locks=[HistoryLine(german_datetime(lock.locked_at),
                           f"gesperrt bis {german_datetime(lock.locked_until)} nach {lock.failures} Fehlversuchen")
               for lock in locks])


def conversation_insight(session: Session, *, conversation_id: str) -> Insight | None:
    """The reasons the assistant detected and its dissatisfaction score (latest and peak)."""
    row = session.scalars(select(ConversationInsight).where(
        ConversationInsight.conversation_id == conversation_id)).first()
    if row is None:
        return None
    return Insight(row.dissatisfaction, row.peak_dissatisfaction,
                   [reason for reason in row.reasons.split(",") if reason])
