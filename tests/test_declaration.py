"""§ 312k Abs. 2 Satz 3 BGB: reading what the customer declares, and when each kind of cancellation takes effect."""
from __future__ import annotations

from datetime import date

import pytest

from bot.records.models import Contract
from bot.retention.declaration import (
    EXTRAORDINARY,
    FAULT,
    MOVING,
    ORDINARY,
    CancellationDeclaration,
    InvalidDeclaration,
    effective_date,
    parse_declaration,
    parse_email,
    parse_extraordinary,
    parse_requested_date,
)

TODAY = date(2026, 12, 1)


def _contract(*, minimum_term_end: date = date(2025, 1, 1), notice: int = 1) -> Contract:
    return Contract(contract_number="V1", minimum_term_end=minimum_term_end, notice_period_months=notice,
                    status="active", start_date=date(2023, 1, 1))


@pytest.mark.parametrize(("text", "expected"), [
    ("zum 30.06.", date(2027, 6, 30)),          # already past this year: next year
    ("zum 31.12.", date(2026, 12, 31)),
    ("bitte zum 31.08.2027", date(2027, 8, 31)),
    ("zum 30.6.27", date(2027, 6, 30)),
    ("zum 1. Juli bitte", date(2027, 7, 1)),
    ("erst zum 31. Dezember 2027", date(2027, 12, 31)),
    ("Kündigung zum 01.12.", TODAY),
    ("zum 31.02.", None),                        # no such day
    ("geboren am 12.04.1985", None),             # the past is no requested date
    ("Ich möchte kündigen", None),
    ("", None),
])
def test_requested_date(text: str, expected: date | None) -> None:
    assert parse_requested_date(text, today=TODAY) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("bitte auch an Anna.Schmidt@Beispiel.de", "anna.schmidt@beispiel.de"),
    ("Kopie an t.becker+vertrag@firma.example, danke", "t.becker+vertrag@firma.example"),
    ("meine Adresse ist kaputt@", None),
    ("zum 30.06.", None),
])
def test_email(text: str, expected: str | None) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("außerordentlich, ich ziehe ins Ausland", (True, MOVING)),
    ("ausserordentliche Kündigung wegen Umzug", (True, MOVING)),
    ("Sonderkündigungsrecht, am neuen Wohnort gibt es kein Netz von Ihnen", (True, MOVING)),
    ("fristlos, die Störung wurde nie behoben", (True, FAULT)),
    ("außerordentlich kündigen", (True, None)),
    ("ordentlich zum 31.05.", (False, None)),
    ("ich ziehe um", (False, None)),             # moving alone is a reason, not an extraordinary declaration
])
def test_extraordinary(text: str, expected: tuple[bool, str | None]) -> None:
    assert parse_extraordinary(text) == expected


def test_free_text_adds_to_what_was_declared_before() -> None:
    first = parse_declaration("außerordentlich, ich ziehe ins Ausland", today=TODAY)
    assert first == CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=MOVING)
    second = parse_declaration("zum 31.03.2027 und bitte auch an x@y.de", today=TODAY, current=first)
    assert second == CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=MOVING,
                                             requested_date=date(2027, 3, 31), extra_recipient="x@y.de")
    assert parse_declaration("doch lieber ordentlich", today=TODAY, current=second).kind == ORDINARY
    assert parse_declaration("Hallo", today=TODAY, current=second) == second


@pytest.mark.parametrize("kwargs", [
    {"kind": "sofort"},
    {"kind": ORDINARY, "extraordinary_reason": MOVING},
    {"kind": EXTRAORDINARY, "extraordinary_reason": "keine Lust"},
    {"extra_recipient": "nicht-eine-adresse"},
])
def test_invalid_declarations_are_refused(kwargs: dict) -> None:
    with pytest.raises(InvalidDeclaration):
        CancellationDeclaration(**kwargs)


def test_ordinary_takes_the_earliest_date_or_a_later_one_asked_for() -> None:
    contract = _contract()  # minimum term over: one month's notice
    assert effective_date(CancellationDeclaration(), contract, TODAY).effective == date(2027, 1, 1)
    later = effective_date(CancellationDeclaration(requested_date=date(2027, 6, 30)), contract, TODAY)
    assert (later.effective, later.requested_too_early) == (date(2027, 6, 30), False)
    early = effective_date(CancellationDeclaration(requested_date=date(2026, 12, 15)), contract, TODAY)
    assert (early.effective, early.earliest, early.requested_too_early) == (date(2027, 1, 1), date(2027, 1, 1), True)


def test_extraordinary_dates_within_the_minimum_term() -> None:
    contract = _contract(minimum_term_end=date(2028, 3, 31), notice=3)
    ordinary = effective_date(CancellationDeclaration(), contract, TODAY).effective
    assert ordinary == date(2028, 3, 31)
    # § 60 Abs. 2 TKG: one month's notice from receipt.
    moving = CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=MOVING)
    assert effective_date(moving, contract, TODAY).effective == date(2027, 1, 1)
    # § 314 BGB: without notice, or at a later date the customer names.
    fault = CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=FAULT)
    assert effective_date(fault, contract, TODAY).effective == TODAY
    fault_later = CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=FAULT,
                                          requested_date=date(2027, 2, 28))
    assert effective_date(fault_later, contract, TODAY).effective == date(2027, 2, 28)
    # Without a reason the good cause is unknown: the ordinary date applies.
    no_reason = CancellationDeclaration(kind=EXTRAORDINARY)
    assert effective_date(no_reason, contract, TODAY).effective == ordinary


def test_extraordinary_never_ends_later_than_ordinary() -> None:
    contract = _contract(notice=0)  # no notice period: ordinarily ends at once
    moving = CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=MOVING)
    assert effective_date(moving, contract, TODAY).effective == TODAY
