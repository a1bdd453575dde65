"""The billing answer: past debits are reported as past, the next debit is never in the past."""
from __future__ import annotations

import re
from datetime import date

import pytest

from bot.assistant.service_answers import bill_answer, debit_lines
from bot.records.database import transaction
from bot.records.models import ACTIVE, CANCELLED, PAUSED, Contract, Invoice
from bot.retention.dates import add_months
from tests.factories import add_customer


def contract(*, status: str = ACTIVE, paused_until: date | None = None,
             cancellation_effective_date: date | None = None) -> Contract:
    return Contract(id=1, contract_number="V30000101", customer_id=1, plan_id=1, monthly_price_cents=2999,
                    start_date=date(2024, 1, 1), minimum_term_end=date(2026, 1, 1), notice_period_months=1,
                    status=status, paused_until=paused_until, discount_percent=0,
                    cancellation_effective_date=cancellation_effective_date)


def invoice(due: date, status: str, amount_cents: int = 2999) -> Invoice:
    return Invoice(invoice_number=f"R{due:%Y%m%d}", contract_id=1, period_start=due.replace(day=1),
                   amount_cents=amount_cents, due_date=due, status=status)


def monthly(first_due: date, statuses: list[str]) -> list[Invoice]:
    return [invoice(add_months(first_due, n), status) for n, status in enumerate(statuses)]


def _dates_after(label: str, text: str) -> list[date]:
    found = re.findall(label + r"[^.\n]*?(\d{2})\.(\d{2})\.(\d{4})", text)
    return [date(int(y), int(m), int(d)) for d, m, y in found]


def test_an_open_invoice_due_in_the_past_is_not_the_next_debit() -> None:
    # Invoices of Sep/Oct/Nov due on the 15th; today is 20 Nov: the November debit is five days late.
    text = "\n".join(debit_lines(contract(), monthly(date(2026, 9, 15), ["paid", "paid", "open"]),
                                 date(2026, 11, 20)))
    assert _dates_after("Zuletzt abgebucht", text) == [date(2026, 10, 15)]
    assert _dates_after("fällig seit", text) == [date(2026, 11, 15)]
    assert _dates_after("nächste Abbuchung", text) == [date(2026, 12, 15)]


def test_an_open_invoice_due_later_is_the_next_debit() -> None:
    text = "\n".join(debit_lines(contract(), monthly(date(2026, 9, 15), ["paid", "paid", "open"]),
                                 date(2026, 11, 3)))
    assert _dates_after("nächste Abbuchung", text) == [date(2026, 11, 15)]
    assert "29,99 €" in text and "fällig seit" not in text


@pytest.mark.parametrize(
    ("first_due", "today", "last", "next_due"),
    [
        # due on the 31st: February and April cut it short, March and May have it again
        (date(2025, 12, 31), date(2026, 3, 1), date(2026, 2, 28), date(2026, 3, 31)),
        (date(2026, 1, 31), date(2026, 4, 15), date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 2, 28), date(2026, 5, 1), date(2026, 4, 30), date(2026, 5, 31)),  # day 31 from March's
        (date(2026, 10, 31), date(2027, 1, 1), date(2026, 12, 31), date(2027, 1, 31)),  # year end
        (date(2027, 12, 29), date(2028, 2, 28), date(2028, 1, 29), date(2028, 2, 29)),  # leap year
        (date(2026, 9, 30), date(2026, 11, 30), date(2026, 11, 30), date(2026, 12, 30)),  # debited today
    ],
)
def test_all_paid_the_next_debit_follows_the_monthly_cycle_across_month_ends(
        first_due: date, today: date, last: date, next_due: date) -> None:
    invoices = [i for i in monthly(first_due, ["paid"] * 3) if i.due_date <= today]
    if first_due == date(2026, 2, 28):  # Feb and Apr clamped, but March shows the real due day
        invoices = [invoice(date(2026, 2, 28), "paid"), invoice(date(2026, 3, 31), "paid"),
                    invoice(date(2026, 4, 30), "paid")]
    text = "\n".join(debit_lines(contract(), invoices, today))
    assert _dates_after("Zuletzt abgebucht", text) == [last]
    assert _dates_after("nächste Abbuchung", text) == [next_due]
    assert "Alle Rechnungen sind bezahlt." in text


def test_no_next_debit_after_a_cancelled_contract_ends() -> None:
    invoices = monthly(date(2026, 9, 15), ["paid", "paid", "paid"])
    ending = debit_lines(contract(status=CANCELLED, cancellation_effective_date=date(2026, 11, 30)), invoices,
                         date(2026, 11, 20))
    assert not any("nächste Abbuchung" in line for line in ending)
    running = debit_lines(contract(status=CANCELLED, cancellation_effective_date=date(2027, 1, 31)), invoices,
                          date(2026, 11, 20))
    assert _dates_after("nächste Abbuchung", "\n".join(running)) == [date(2026, 12, 15)]


def test_a_paused_contract_is_next_debited_after_the_pause() -> None:
    lines = debit_lines(contract(status=PAUSED, paused_until=date(2027, 2, 1)),
                        monthly(date(2026, 9, 15), ["paid", "paid"]), date(2026, 11, 20))
    assert _dates_after("nächste Abbuchung", "\n".join(lines)) == [date(2027, 2, 15)]


def test_bill_answer_from_the_records(sqlite_database_url: str) -> None:
    today = date(2026, 11, 20)
    with transaction(sqlite_database_url) as session:
        customer = add_customer(session, number="K300011", plan_code="MOBIL_M")
        (record,) = customer.contracts
        for item in monthly(date(2026, 9, 15), ["paid", "overdue", "open"]):
            item.contract_id = record.id
            session.add(item)
        session.flush()
        text = bill_answer(session, customer_id=customer.id, contract_id=record.id, today=today).text
    assert "nächste Abbuchung ist voraussichtlich am 15.12.2026" in text
    assert "fällig seit 15.10.2026" in text and "Zuletzt abgebucht: 29,99 € am 15.09.2026" in text
    assert all(d >= today for d in _dates_after("nächste Abbuchung", text))
