"""Masking: none of the demo customers' personal values survives mask_text on realistic chat lines."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.privacy.masking import (
    ADDRESS,
    BIRTH_DATE,
    CONTRACT_NUMBER,
    CUSTOMER_NUMBER,
    EMAIL,
    IBAN,
    NAME,
    PHONE,
    POSTCODE,
    mask_text,
    personal_values,
)
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import Contract, Customer

TODAY = date(2026, 12, 1)


def _chat_lines(customer: Customer, contract_numbers: list[str]) -> list[str]:
    """What customers type and what the assistant answers, with this customer's values in them."""
    born = customer.birth_date
    contract = contract_numbers[0]
    return [
        f"Hallo, ich heiße {customer.first_name} {customer.last_name} und möchte kündigen",
        f"Mein Name ist {customer.last_name}, {customer.first_name}",
        f"{customer.customer_number}",
        f"meine kundennummer ist {customer.customer_number.lower()} und plz {customer.postcode}",
        f"Kundennummer: {customer.customer_number[1:]}",
        f"{customer.customer_number} {born:%d.%m.%Y}",
        f"geboren am {born.day}.{born.month}.{born.year}",
        f"Geburtsdatum {born.isoformat()}",
        f"Ich bin am {born.day}. {('Januar', 'Februar', 'März', 'April', 'Mai', 'Juni', 'Juli', 'August', 'September', 'Oktober', 'November', 'Dezember')[born.month - 1]} {born.year} geboren",
        f"Bitte die Bestätigung an {customer.email} schicken",
        f"Vertrag {contract} bitte zum nächstmöglichen Termin kündigen",
        f"Es geht um die Vertragsnummer {contract[1:]}",
        f"Danke, {customer.first_name}! Ich habe Sie erkannt, {customer.first_name} {customer.last_name}.",
        f"Frau {customer.last_name} / Herr {customer.last_name} möchte zurückgerufen werden",
        "Rufen Sie mich an: 0171 2345678 oder +49 30 12345678",
        "Meine IBAN ist DE89 3704 0044 0532 0130 00",
        f"Ich ziehe um in die Goethestraße 17a, {customer.postcode} Musterstadt",
        f"{customer.first_name.upper()} {customer.last_name.upper()}",
    ]


def _leaks(masked: str, values: list[str]) -> list[str]:
    lowered = masked.lower()
    return [v for v in values if v.lower() in lowered]


def test_no_personal_value_of_any_demo_customer_survives_masking(sqlite_database_url: str) -> None:
    with transaction(sqlite_database_url) as session:
        seed_demo_customers(session, count=120, seed=7, today=TODAY)
    checked = 0
    with transaction(sqlite_database_url) as session:
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            values = personal_values(session, customer.id)
            contracts = list(session.scalars(select(Contract.contract_number)
                                             .where(Contract.customer_id == customer.id)))
            for line in _chat_lines(customer, contracts):
                masked = mask_text(line, known_values=values, today=TODAY)
                leaks = _leaks(masked, values + ["2345678", "12345678", "3704 0044", "Goethestraße 17"])
                assert leaks == [], f"{customer.customer_number}: {line!r} -> {masked!r}"
                checked += 1
    assert checked == 120 * 18


def test_patterns_are_masked_without_known_values() -> None:
    line = ("Ich bin Max Mustermann, K123456, Vertrag V12345678, max@web.example, Tel. 0151-23456789, "
            "IBAN DE02120300000000202051, Lindenallee 4, 80331 München, geb. 03.02.1961")
    masked = mask_text(line, today=TODAY)
    for label in (CUSTOMER_NUMBER, CONTRACT_NUMBER, EMAIL, PHONE, IBAN, ADDRESS, POSTCODE, BIRTH_DATE):
        assert label in masked, (label, masked)
    for value in ("K123456", "V12345678", "max@web.example", "23456789", "DE0212", "Lindenallee", "80331",
                  "03.02.1961"):
        assert value not in masked
    assert mask_text("Mein Name ist Max Mustermann.", today=TODAY) == f"Mein Name ist {NAME}."


@pytest.mark.parametrize(("text", "masked"), [
    ("0049 171 2345678", PHONE),
    ("+49 (0) 171-234 56 78", PHONE),
    ("Tel: 030/1234567", f"Tel: {PHONE}"),
    ("Bahnhofstr.5", ADDRESS),
    ("Berliner Straße 12, 10115 Berlin", f"{ADDRESS}, {POSTCODE} Berlin"),
    ("Mein Geburtstag ist der 3.2.61", f"Mein Geburtstag ist der {BIRTH_DATE}"),
    ("Kundennr. 123456, Vertragsnummer: 12345678", f"Kundennr. {CUSTOMER_NUMBER}, Vertragsnummer: {CONTRACT_NUMBER}"),
    ("Frau Yilmaz und Herr Kowalski", f"Frau {NAME} und Herr {NAME}"),
])
def test_formats(text: str, masked: str) -> None:
    assert mask_text(text, today=TODAY) == masked


@pytest.mark.parametrize("text", [
    "Ihr Vertrag endet am 31.03.2027. Ihre Bestätigungsnummer: KB-ABCD2345",
    "Ihre Kündigung ist am 01.12.2026 um 17:11 Uhr bei uns eingegangen.",
    "[Herunterladen](http://127.0.0.1:53803/kuendigung/KB-PNJM28FK.txt?expires=1798733511&token=ee6a89c16a2a45)",
    "Der Tarif kostet 29,99 € im Monat, Sie sparen 120,00 € im Jahr.",
    "Ich möchte kündigen, weil es zu teuer ist.",
    "[entfernt: Angabe zur Identifizierung]",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_text(text, today=TODAY) == text
