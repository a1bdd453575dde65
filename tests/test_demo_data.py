"""The demo-data generator: reproducible, plausible German customers plus the fixed personas."""
from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.records.catalog import PLANS
from bot.records.database import session_factory, transaction
from bot.records.demo_data import EMAIL_DOMAINS, NAME_ORIGINS, PERSONAS, email_safe, seed_demo_customers
from bot.records.models import CANCELLED, PAUSED, Cancellation, Complaint, Contract, Customer, Invoice
from bot.retention.dates import add_months
from bot.retention.formatting import BERLIN, berlin_date

TODAY = date(2025, 3, 15)
PERSONA_NUMBERS = {p.customer_number for p in PERSONAS}
PLAN_PRICES = {plan["code"]: plan["monthly_price_cents"] for plan in PLANS}
PLAN_CATEGORIES = {plan["code"]: plan["category"] for plan in PLANS}


def _snapshot(session: Session) -> dict[str, list[tuple]]:
    """Everything the generator wrote, by natural keys (database ids differ between runs)."""
    customers = [
        (c.customer_number, c.first_name, c.last_name, c.email, c.postcode, c.birth_date, c.segment, c.customer_since)
        for c in session.scalars(select(Customer))
    ]
    contracts = [
        (k.contract_number, k.customer.customer_number, k.plan.code, k.monthly_price_cents, k.start_date,
         k.minimum_term_end, k.notice_period_months, k.status, k.paused_until, k.last_pause_end,
         k.cancellation_effective_date)
        for k in session.scalars(select(Contract))
    ]
    numbers = {k.id: k.contract_number for k in session.scalars(select(Contract))}
    invoices = [
        (i.invoice_number, numbers[i.contract_id], i.period_start, i.amount_cents, i.due_date, i.status)
        for i in session.scalars(select(Invoice))
    ]
    complaints = [
        (c.customer.customer_number, c.created_at, c.category, c.description, c.resolved)
        for c in session.scalars(select(Complaint))
    ]
    return {name: sorted(rows) for name, rows in
            dict(customers=customers, contracts=contracts, invoices=invoices, complaints=complaints).items()}


def _seed_and_roll_back(url: str, *, seed: int, today: date = TODAY, count: int = 60) -> tuple[int, dict]:
    session = session_factory(url)()
    try:
        created = seed_demo_customers(session, count=count, seed=seed, today=today)
        return created, _snapshot(session)
    finally:
        session.rollback()
        session.close()


def _seed(url: str, *, count: int = 300, seed: int = 42, today: date = TODAY) -> int:
    with transaction(url) as session:
        return seed_demo_customers(session, count=count, seed=seed, today=today)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- reproducibility -------------------------------------------------------------------------


def test_same_seed_and_day_give_the_same_records(database_url: str) -> None:
    created, first = _seed_and_roll_back(database_url, seed=42)
    again, second = _seed_and_roll_back(database_url, seed=42)

    assert created == again == 60
    assert len(first["customers"]) == 60 and first["invoices"] and first["complaints"]
    assert first == second


def test_another_seed_gives_other_customers_but_the_same_personas(database_url: str) -> None:
    _, first = _seed_and_roll_back(database_url, seed=42)
    _, other = _seed_and_roll_back(database_url, seed=7)

    def personas_only(snapshot: dict) -> list:
        return [row for row in snapshot["customers"] if row[0] in PERSONA_NUMBERS]

    assert personas_only(first) == personas_only(other)
    generated = {row[0] for row in first["customers"]} - PERSONA_NUMBERS
    generated_other = {row[0] for row in other["customers"]} - PERSONA_NUMBERS
    assert len(generated & generated_other) < 5
    assert first["contracts"] != other["contracts"]


def test_another_day_moves_the_dates(database_url: str) -> None:
    _, march = _seed_and_roll_back(database_url, seed=42, today=TODAY)
    _, june = _seed_and_roll_back(database_url, seed=42, today=date(2025, 6, 15))

    anna_march = next(row for row in march["customers"] if row[0] == "K100001")
    anna_june = next(row for row in june["customers"] if row[0] == "K100001")
    assert anna_march[-1] == date(2022, 9, 15) and anna_june[-1] == date(2022, 12, 15)


# --- personas --------------------------------------------------------------------------------

EXPECTED_PERSONAS = {
    # number: (first, last, email, postcode, birth, segment, since, contract, plan, start, term end, notice)
    "K100001": ("Anna", "Schmidt", "anna.schmidt@mail.example", "10115", date(1985, 4, 12), "standard",
                date(2022, 9, 15), "V10000001", "MOBIL_L", date(2022, 9, 15), date(2024, 9, 15), 1),
    "K100002": ("Jonas", "Becker", "jonas.becker@mail.example", "80331", date(1972, 11, 3), "premium",
                date(2014, 5, 15), "V10000002", "DSL_250", date(2023, 8, 15), date(2025, 8, 15), 1),
    "K100003": ("Fatma", "Yilmaz", "fatma.yilmaz@mail.example", "50667", date(1990, 7, 28), "standard",
                date(2024, 5, 15), "V10000003", "DSL_100", date(2024, 5, 15), date(2026, 5, 15), 1),
    "K100004": ("Lukas", "Weber", "lukas.weber@mail.example", "20095", date(1968, 2, 29), "business",
                date(2020, 3, 15), "V10000004", "DSL_50", date(2024, 1, 15), date(2026, 1, 15), 3),
    "K100005": ("Marie", "Keller", "marie.keller@mail.example", "01067", date(2001, 9, 15), "standard",
                date(2024, 11, 15), "V10000005", "MOBIL_S", date(2024, 11, 15), date(2026, 11, 15), 1),
}


def test_personas_have_exactly_the_documented_values(database_url: str) -> None:
    _seed(database_url, seed=1234)
    with transaction(database_url) as session:
        for number, expected in EXPECTED_PERSONAS.items():
            customer = session.scalars(select(Customer).where(Customer.customer_number == number)).one()
            (first, last, email, postcode, birth, segment, since, contract_number, plan, start, term_end,
             notice) = expected
            assert (customer.first_name, customer.last_name, customer.email, customer.postcode,
                    customer.birth_date, customer.segment, customer.customer_since, customer.language) == (
                first, last, email, postcode, birth, segment, since, "de")
            assert len(customer.contracts) == 1
            contract = customer.contracts[0]
            assert (contract.contract_number, contract.plan.code, contract.monthly_price_cents, contract.start_date,
                    contract.minimum_term_end, contract.notice_period_months, contract.status) == (
                contract_number, plan, PLAN_PRICES[plan], start, term_end, notice, "active")
            assert contract.paused_until is None and contract.last_pause_end is None
            assert contract.cancellation_effective_date is None and contract.discount_percent == 0
            if number != "K100004":
                assert customer.complaints == []

    assert {p.customer_number: (p.name, p.postcode, p.birth_date) for p in PERSONAS} == {
        number: (f"{values[0]} {values[1]}", values[3], values[4])
        for number, values in {**EXPECTED_PERSONAS, **EXPECTED_TWO_CONTRACT_PERSONAS}.items()
    }


EXPECTED_TWO_CONTRACT_PERSONAS = {
    # number: (first, last, email, postcode, birth, segment, since, [(contract, plan, start, term end)])
    "K100006": ("Thomas", "Richter", "thomas.richter@mail.example", "04109", date(1979, 6, 21), "standard",
                date(2021, 11, 15), [("V10000006", "MOBIL_M", date(2021, 11, 15), date(2023, 11, 15)),
                                     ("V10000016", "DSL_100", date(2023, 7, 15), date(2025, 7, 15))]),
    "K100007": ("Elena", "Hoffmann", "elena.hoffmann@mail.example", "70173", date(1994, 1, 7), "premium",
                date(2021, 1, 15), [("V10000007", "MOBIL_L", date(2024, 1, 15), date(2026, 1, 15)),
                                    ("V10000017", "FIBER_1000", date(2024, 7, 15), date(2026, 7, 15))]),
}


def test_two_personas_have_a_mobile_and_an_internet_contract(database_url: str) -> None:
    _seed(database_url, seed=1234)
    with transaction(database_url) as session:
        for number, expected in EXPECTED_TWO_CONTRACT_PERSONAS.items():
            customer = session.scalars(select(Customer).where(Customer.customer_number == number)).one()
            first, last, email, postcode, birth, segment, since, contracts = expected
            assert (customer.first_name, customer.last_name, customer.email, customer.postcode,
                    customer.birth_date, customer.segment, customer.customer_since) == (
                first, last, email, postcode, birth, segment, since)
            assert sorted((c.contract_number, c.plan.code, c.start_date, c.minimum_term_end)
                          for c in customer.contracts) == contracts
            assert {(c.status, c.monthly_price_cents == PLAN_PRICES[c.plan.code], c.notice_period_months)
                    for c in customer.contracts} == {("active", True, 1)}
            assert {c.plan.category for c in customer.contracts} == {"mobile", "internet"}
            assert all(session.scalars(select(Invoice).where(Invoice.contract_id == c.id)).all()
                       for c in customer.contracts)


def test_persona_terms_follow_add_months_at_the_end_of_a_month(database_url: str) -> None:
    """On 31 August 2024 Anna became a customer on 28 Feb 2022, so her term ended 28 Feb 2024 (not the 29th)."""
    _seed(database_url, count=0, today=date(2024, 8, 31))
    with transaction(database_url) as session:
        anna = session.scalars(select(Customer).where(Customer.customer_number == "K100001")).one()
        assert anna.customer_since == date(2022, 2, 28)
        assert anna.contracts[0].minimum_term_end == date(2024, 2, 28)
        jonas = session.scalars(select(Customer).where(Customer.customer_number == "K100002")).one()
        assert jonas.contracts[0].start_date == date(2023, 1, 31)
        assert jonas.contracts[0].minimum_term_end == date(2025, 1, 31)


def test_lukas_weber_has_two_recent_unresolved_technical_complaints(database_url: str) -> None:
    _seed(database_url)
    with transaction(database_url) as session:
        lukas = session.scalars(select(Customer).where(Customer.customer_number == "K100004")).one()
        complaints = lukas.complaints
        assert [c.description for c in complaints] == [
            "Internet fällt abends regelmäßig aus", "Router verliert ständig die Verbindung"]
        for complaint in complaints:
            assert complaint.category == "technical" and complaint.resolved is False
            assert datetime.combine(add_months(TODAY, -2), time(), tzinfo=BERLIN) <= complaint.created_at
            assert complaint.created_at < datetime.combine(TODAY, time(), tzinfo=BERLIN)


def test_personas_have_the_last_three_invoices(database_url: str) -> None:
    _seed(database_url, seed=99)
    with transaction(database_url) as session:
        contract = session.scalars(select(Contract).where(Contract.contract_number == "V10000001")).one()
        invoices = session.scalars(
            select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.period_start)).all()
        assert [(i.period_start, i.due_date, i.amount_cents, i.status) for i in invoices] == [
            (date(2025, 1, 1), date(2025, 1, 15), 2999, "paid"),
            (date(2025, 2, 1), date(2025, 2, 15), 2999, "paid"),
            (date(2025, 3, 1), date(2025, 3, 15), 2999, "open"),
        ]


# --- plausibility ----------------------------------------------------------------------------


def test_customers_are_plausible(database_url: str) -> None:
    assert _seed(database_url) == 300
    with transaction(database_url) as session:
        customers = [c for c in session.scalars(select(Customer)) if c.customer_number not in PERSONA_NUMBERS]
        total = len(customers)
        assert total == 300 - len(PERSONAS)

        numbers = [c.customer_number for c in customers]
        assert len(set(numbers)) == total
        assert all(re.fullmatch(r"K\d{6}", n) for n in numbers)
        assert not [n for n in numbers if 100001 <= int(n[1:]) <= 100099]

        segments = Counter(c.segment for c in customers)
        assert set(segments) == {"standard", "premium", "business"}
        assert 0.70 <= segments["standard"] / total <= 0.88
        assert 0.09 <= segments["premium"] / total <= 0.22
        assert 0.02 <= segments["business"] / total <= 0.10

        assert all(re.fullmatch(r"\d{5}", c.postcode) and not c.postcode.startswith("00") for c in customers)
        zones = Counter(c.postcode[0] for c in customers)
        assert set(zones) == set("0123456789") and max(zones.values()) <= 0.2 * total

        for c in customers:
            assert 1940 <= c.birth_date.year <= 2006
            assert date(2008, 1, 1) <= c.customer_since <= TODAY
            assert add_months(c.birth_date, 18 * 12) <= c.customer_since, c.customer_number

        emails = [c.email for c in customers]
        assert len(set(emails)) == total
        for c in customers:
            local, _, domain = c.email.partition("@")
            assert c.email.isascii() and domain in EMAIL_DOMAINS and domain.endswith(".example")
            assert email_safe(c.last_name) in local, c.email


def test_names_are_varied_and_include_families_of_several_origins(database_url: str) -> None:
    _seed(database_url)
    with transaction(database_url) as session:
        customers = [c for c in session.scalars(select(Customer)) if c.customer_number not in PERSONA_NUMBERS]
    origin_of = {form: key for key, origin in NAME_ORIGINS.items() for name in origin.last for form in name.split("/")}
    origins = Counter(origin_of[c.last_name] for c in customers)
    assert 0.60 <= origins["german"] / len(customers) <= 0.90
    assert all(origins[key] >= 3 for key in ("turkish", "polish", "italian", "russian")), origins
    assert len({c.last_name for c in customers}) >= 100
    assert len({c.first_name for c in customers}) >= 100
    assert email_safe("Müller") == "mueller" and email_safe("Wiśniewska") == "wisniewska"
    assert email_safe("De Luca") == "deluca" and email_safe("Yıldız") == "yildiz"


def test_contracts_are_plausible(database_url: str) -> None:
    _seed(database_url)
    with transaction(database_url) as session:
        customers = [c for c in session.scalars(select(Customer)) if c.customer_number not in PERSONA_NUMBERS]
        contracts = [k for c in customers for k in c.contracts]
        cancellations = {x.contract_id: x for x in session.scalars(select(Cancellation))}

        per_customer = Counter(len(c.contracts) for c in customers)
        assert set(per_customer) == {1, 2}
        assert 0.08 <= per_customer[2] / len(customers) <= 0.25
        for c in customers:
            if len(c.contracts) == 2:
                assert {PLAN_CATEGORIES[k.plan.code] for k in c.contracts} == {"mobile", "internet"}

        assert len({k.contract_number for k in contracts}) == len(contracts)
        assert all(re.fullmatch(r"V\d{8}", k.contract_number) for k in contracts)
        assert all(k.plan.code in PLAN_PRICES for k in contracts)
        assert all(0 < k.monthly_price_cents <= PLAN_PRICES[k.plan.code] for k in contracts)
        at_plan_price = sum(k.monthly_price_cents == PLAN_PRICES[k.plan.code] for k in contracts)
        assert 0.7 * len(contracts) <= at_plan_price < len(contracts)
        for k in contracts:
            if k.monthly_price_cents < PLAN_PRICES[k.plan.code]:
                assert k.start_date < add_months(TODAY, -36)

        renewed = monthly = 0
        for k in contracts:
            assert k.customer.customer_since <= k.start_date <= TODAY
            assert k.minimum_term_end > k.start_date
            first_term_end = add_months(k.start_date, 24)
            if first_term_end > TODAY or k.minimum_term_end == first_term_end:
                assert k.minimum_term_end == first_term_end
                monthly += first_term_end <= TODAY
            else:
                assert TODAY < k.minimum_term_end <= add_months(TODAY, 12), k.contract_number
                renewed += 1
        assert renewed >= 20 and monthly >= 20

        notices = Counter(k.notice_period_months for k in contracts)
        assert set(notices) == {1, 3} and notices[3] < 0.15 * len(contracts)

        statuses = Counter(k.status for k in contracts)
        assert set(statuses) == {"active", "cancelled", "paused"}
        assert statuses["active"] >= 0.8 * len(contracts)
        for k in contracts:
            if k.status == CANCELLED:
                assert TODAY < k.cancellation_effective_date and k.minimum_term_end <= k.cancellation_effective_date
                assert cancellations[k.id].effective_date == k.cancellation_effective_date
                assert k.paused_until is None
            elif k.status == PAUSED:
                assert TODAY < k.paused_until <= add_months(TODAY, 3)
                assert k.last_pause_end == k.paused_until and k.cancellation_effective_date is None
            else:
                assert k.paused_until is None and k.cancellation_effective_date is None and k.id not in cancellations


def test_invoices_and_complaints_are_plausible(database_url: str) -> None:
    _seed(database_url)
    this_month = TODAY.replace(day=1)
    last_three = [add_months(this_month, -2), add_months(this_month, -1), this_month]
    with transaction(database_url) as session:
        invoices = session.scalars(select(Invoice)).all()
        assert len({i.invoice_number for i in invoices}) == len(invoices)
        assert all(re.fullmatch(r"R\d+", i.invoice_number) and len(i.invoice_number) <= 16 for i in invoices)
        by_contract: dict[int, list[Invoice]] = {}
        for invoice in invoices:
            by_contract.setdefault(invoice.contract_id, []).append(invoice)

        for k in session.scalars(select(Contract)):
            own = sorted(by_contract.get(k.id, []), key=lambda i: i.period_start)
            assert all(i.due_date == i.period_start + timedelta(days=14) for i in own)
            assert all(i.amount_cents == k.monthly_price_cents for i in own)
            if k.status == PAUSED:
                assert all(i.period_start in last_three for i in own)
                continue
            assert [i.period_start for i in own] == [m for m in last_three if m >= k.start_date.replace(day=1)]
            assert own[-1].status == "open"
            assert {i.status for i in own[:-1]} <= {"paid", "overdue"}
        statuses = Counter(i.status for i in invoices)
        assert 0 < statuses["overdue"] < 0.1 * len(invoices)

        customers = [c for c in session.scalars(select(Customer)) if c.customer_number not in PERSONA_NUMBERS]
        with_complaints = [c for c in customers if c.complaints]
        assert 0.2 <= len(with_complaints) / len(customers) <= 0.4
        assert {len(c.complaints) for c in with_complaints} <= {1, 2, 3, 4}
        complaints = [x for c in with_complaints for x in c.complaints]
        assert {x.category for x in complaints} == {"technical", "billing", "service", "price"}
        earliest = datetime.combine(add_months(TODAY, -18), time(), tzinfo=BERLIN)
        for x in complaints:
            assert earliest <= x.created_at < datetime.combine(TODAY, time(), tzinfo=BERLIN)
            assert berlin_date(x.created_at) >= x.customer.customer_since
            assert x.description.strip()
        resolved = Counter(x.resolved for x in complaints)
        assert resolved[True] > 0 and resolved[False] > 0


# --- idempotence and arguments ---------------------------------------------------------------


def test_a_second_call_creates_nothing(database_url: str) -> None:
    assert _seed(database_url, count=40) == 40
    with transaction(database_url) as session:
        before = [_count(session, model) for model in (Customer, Contract, Invoice, Complaint)]
    assert _seed(database_url, count=40) == 0
    assert _seed(database_url, count=40, seed=7) == 0
    with transaction(database_url) as session:
        assert [_count(session, model) for model in (Customer, Contract, Invoice, Complaint)] == before


def test_existing_customers_prevent_seeding(database_url: str) -> None:
    with transaction(database_url) as session:
        session.add(Customer(customer_number="K654321", first_name="Eva", last_name="Roth", email="eva@mail.example",
                             postcode="12345", birth_date=date(1980, 1, 1), customer_since=date(2020, 1, 1)))
    assert _seed(database_url) == 0
    with transaction(database_url) as session:
        assert _count(session, Customer) == 1 and _count(session, Contract) == 0


@pytest.mark.parametrize("count", [0, 3, 5])
def test_the_personas_are_created_even_for_a_small_count(database_url: str, count: int) -> None:
    assert _seed(database_url, count=count) == len(PERSONAS)
    with transaction(database_url) as session:
        assert set(session.scalars(select(Customer.customer_number))) == PERSONA_NUMBERS


def test_a_negative_count_is_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="count must be 0 or more"):
        _seed(database_url, count=-1)
    with transaction(database_url) as session:
        assert _count(session, Customer) == 0
