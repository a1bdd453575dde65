"""Answers to contract, billing, plan, pause and problem questions, from the customer's records."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from bot.assistant.replies import NO_THANKS, TALK_TO_HUMAN, Reply
from bot.records.models import CANCELLED, ENDED, PAUSED, Complaint, Contract, Customer, Invoice
from bot.records.queries import active_plans, recent_invoices
from bot.retention.dates import add_months, effective_cancellation_date, next_monthly_date
from bot.retention.formatting import euro, german_date
from bot.retention.offers import PAUSE_COOLDOWN_MONTHS

MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
             "Oktober", "November", "Dezember")
INVOICE_STATUS_DE = {"paid": "bezahlt", "open": "offen", "overdue": "überfällig", "credit": "Gutschrift"}

NO_CONTRACT = Reply(
    "Zu Ihrer Kundennummer finde ich keinen laufenden Vertrag. Ein Mitarbeiter kann das für Sie prüfen.",
    (TALK_TO_HUMAN, NO_THANKS),
)


def current_monthly_price(contract: Contract, today: date) -> int:
    """What the customer pays per month today, after a running discount."""
    if contract.discount_percent and contract.discount_until and contract.discount_until > today:
        return contract.monthly_price_cents * (100 - contract.discount_percent) // 100
    return contract.monthly_price_cents


def _customer_contract(session: Session, customer_id: int, contract_id: int) -> Contract | None:
    """The contract the question is about, when it is the customer's (see bot/assistant/contract_choice.py)."""
    contract = session.get(Contract, contract_id)
    return contract if contract is not None and contract.customer_id == customer_id else None


def _months(n: int) -> str:
    return "1 Monat" if n == 1 else f"{n} Monate"


def contract_answer(session: Session, *, customer_id: int, contract_id: int, today: date) -> Reply:
    contract = _customer_contract(session, customer_id, contract_id)
    if contract is None:
        return NO_CONTRACT
    plan = contract.plan
    lines = [f"Ihr Vertrag {contract.contract_number}: Tarif {plan.name} ({plan.description})."]
    price = current_monthly_price(contract, today)
    if price != contract.monthly_price_cents:
        lines.append(
            f"Sie zahlen {euro(price)} im Monat ({contract.discount_percent} % Rabatt bis "
            f"{german_date(contract.discount_until)}, danach {euro(contract.monthly_price_cents)})."
        )
    else:
        lines.append(f"Sie zahlen {euro(price)} im Monat.")
    if contract.minimum_term_end > today:
        lines.append(f"Die Mindestlaufzeit läuft bis {german_date(contract.minimum_term_end)}.")
    else:
        lines.append(
            f"Die Mindestlaufzeit ist am {german_date(contract.minimum_term_end)} abgelaufen; "
            "der Vertrag ist jetzt monatlich kündbar."
        )
    lines.append(f"Kündigungsfrist: {_months(contract.notice_period_months)}.")
    if contract.status == CANCELLED:
        lines.append(f"Ihr Vertrag ist bereits gekündigt und endet am {german_date(contract.cancellation_effective_date)}.")
    else:
        if contract.status == PAUSED and contract.paused_until:
            lines.append(f"Der Vertrag ist bis {german_date(contract.paused_until)} pausiert.")
        lines.append(
            f"Bei einer Kündigung heute würde er am {german_date(effective_cancellation_date(contract, today))} enden."
        )
    return Reply(" ".join(lines))


def bill_answer(session: Session, *, customer_id: int, contract_id: int, today: date) -> Reply:
    contract = _customer_contract(session, customer_id, contract_id)
    if contract is None:
        return NO_CONTRACT
    invoices = recent_invoices(session, contract_id=contract.id)
    if not invoices:
        return Reply(
            f"Für Ihren Vertrag {contract.contract_number} liegt noch keine Rechnung vor. "
            f"Ihr monatlicher Betrag ist {euro(current_monthly_price(contract, today))}."
        )
    lines = ["Ihre letzten Rechnungen:"]
    for invoice in invoices:
        month = f"{MONTHS_DE[invoice.period_start.month - 1]} {invoice.period_start.year}"
        status = INVOICE_STATUS_DE.get(invoice.status, invoice.status)
        lines.append(f"- {month}: {euro(invoice.amount_cents)} ({status}, Rechnung {invoice.invoice_number})")
    lines.extend(debit_lines(contract, invoices, today))
    return Reply("\n".join(lines))


def debit_lines(contract: Contract, invoices: list[Invoice], today: date) -> list[str]:
    """When money was last taken, what is still owed, and when the next debit comes (never a past date).

    A debit is due on the invoice's due date: before today it is past, from today on it is coming.
    Without an unpaid invoice still to come, the next debit is the next due day of the monthly cycle
    after the latest invoice (the latest due day of month among the invoices, as a short month cuts
    the 31st down to the 30th or 28th), unless the contract has ended by then.
    """
    lines = []
    debited = [i for i in invoices if i.status == "paid" and i.due_date <= today]
    unpaid = [i for i in invoices if i.status in ("open", "overdue")]
    late = [i for i in unpaid if i.due_date < today]
    coming = sorted((i for i in unpaid if i.due_date >= today), key=lambda i: i.due_date)
    if debited:
        last = max(debited, key=lambda i: i.due_date)
        lines.append(f"Zuletzt abgebucht: {euro(last.amount_cents)} am {german_date(last.due_date)}.")
    if late:
        lines.append(f"Noch nicht bezahlt: {euro(sum(i.amount_cents for i in late))}, "
                     f"fällig seit {german_date(min(i.due_date for i in late))}.")
    if coming:
        lines.append(f"Die nächste Abbuchung ist am {german_date(coming[0].due_date)} "
                     f"({euro(coming[0].amount_cents)}).")
    elif contract.status != ENDED:
        # Not again on the day of the latest invoice's debit: the next cycle starts after it.
        not_before = max(today, max(i.due_date for i in invoices) + timedelta(days=1))
        if contract.status == PAUSED and contract.paused_until:
            not_before = max(not_before, contract.paused_until)
        next_due = next_monthly_date(max(i.due_date.day for i in invoices), not_before=not_before)
        ends = contract.cancellation_effective_date if contract.status == CANCELLED else None
        if ends is None or next_due <= ends:
            lines.append(f"Die nächste Abbuchung ist voraussichtlich am {german_date(next_due)}.")
    if not unpaid:
        lines.append("Alle Rechnungen sind bezahlt.")
    return lines


def plan_change_answer(session: Session, *, customer_id: int, contract_id: int, today: date) -> Reply:
    contract = _customer_contract(session, customer_id, contract_id)
    if contract is None:
        return NO_CONTRACT
    current = contract.plan
    options = [p for p in active_plans(session) if p.category == current.category and p.id != current.id]
    lines = [f"Sie haben derzeit {current.name} für {euro(current_monthly_price(contract, today))} im Monat."]
    if options:
        lines.append("Diese Tarife kann ich Ihnen anbieten:")
        lines.extend(f"- {p.name}: {p.description}, {euro(p.monthly_price_cents)} im Monat" for p in options)
    when_smaller = (
        "jederzeit zum nächsten Monat" if contract.minimum_term_end <= today
        else f"zum Ende der Mindestlaufzeit am {german_date(contract.minimum_term_end)}"
    )
    lines.append(f"In einen größeren Tarif wechseln Sie sofort, in einen kleineren {when_smaller}.")
    lines.append("Für den Wechsel verbinde ich Sie gern mit einem Mitarbeiter.")
    return Reply("\n".join(lines), (TALK_TO_HUMAN, NO_THANKS))


def pause_answer(session: Session, *, customer_id: int, contract_id: int, today: date) -> Reply:
    contract = _customer_contract(session, customer_id, contract_id)
    if contract is None:
        return NO_CONTRACT
    if contract.status == CANCELLED:
        return Reply(f"Ihr Vertrag ist bereits zum {german_date(contract.cancellation_effective_date)} gekündigt; "
                     "eine Pause ist daher nicht mehr möglich.")
    if contract.status == PAUSED and contract.paused_until and contract.paused_until > today:
        return Reply(f"Ihr Vertrag ist bereits bis {german_date(contract.paused_until)} pausiert.")
    if contract.last_pause_end and add_months(contract.last_pause_end, PAUSE_COOLDOWN_MONTHS) > today:
        next_pause = add_months(contract.last_pause_end, PAUSE_COOLDOWN_MONTHS)
        return Reply(f"Eine Pause ist einmal in 12 Monaten möglich. Ihre letzte Pause endete am "
                     f"{german_date(contract.last_pause_end)}; die nächste ist ab {german_date(next_pause)} möglich.")
    return Reply(
        "Sie können Ihren Vertrag einmal in 12 Monaten für bis zu 3 Monate kostenlos pausieren; "
        "die Mindestlaufzeit verschiebt sich dabei nicht. Ein Mitarbeiter richtet die Pause gern für Sie ein.",
        (TALK_TO_HUMAN, NO_THANKS),
    )


def report_problem(
    session: Session, *, customer: Customer, conversation_id: str, description: str, now: datetime
) -> Reply:
    """Record the fault report in the customer's history and tell them what happens next."""
    open_reports = [c for c in customer.complaints if c.category == "technical" and not c.resolved]
    complaint = Complaint(customer_id=customer.id, created_at=now, category="technical",
                          description=description[:2000], resolved=False, conversation_id=conversation_id)
    session.add(complaint)
    session.flush()
    text = f"Das tut mir leid. Ich habe Ihre Störung unter der Nummer S-{complaint.id} aufgenommen. "
    if open_reports:
        text += (f"Für Ihren Anschluss liegen bereits {len(open_reports) + 1} offene Meldungen vor; "
                 "ich markiere den Fall deshalb als dringend. ")
    text += "Unser Technik-Team prüft Ihre Leitung. Möchten Sie gleich mit einem Mitarbeiter sprechen?"
    return Reply(text, (TALK_TO_HUMAN, NO_THANKS))
