"""Parsing what the customer types to identify themselves: customer number, postcode, birth date."""
from __future__ import annotations

from datetime import date

import pytest

from bot.assistant.verification import Secret, missing_secret, normalise_customer_number, parse_secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K123456", "K123456"),
        ("k123456", "K123456"),
        ("K 123 456", "K123456"),
        ("K 123456", "K123456"),
        ("K123 456", "K123456"),
        ("K-123456", "K123456"),
        ("k - 123 456", "K123456"),
        ("Meine Nummer ist K123456.", "K123456"),
        ("Kundennummer: K 123456", "K123456"),
        ("Kundennummer K-987654, PLZ 10115", "K987654"),
        ("(K000001)", "K000001"),
        ("K123456\n", "K123456"),
        # not a customer number
        ("K12345", None),
        ("123456", None),
        ("K1234567", None),  # must not be cut down to K123456
        ("K123 4567", None),
        ("K12 3456", None),
        ("K123-456", None),
        ("XK123456", None),
        ("K123456K", None),
        ("K", None),
        ("Kundennummer", None),
        ("Hallo", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_customer_number(text: str | None, expected: str | None) -> None:
    assert normalise_customer_number(text) == expected


def test_first_customer_number_wins() -> None:
    assert normalise_customer_number("K111111 oder K222222") == "K111111"


@pytest.mark.parametrize("text", ["K١٢٣٤٥٦", "K１２３４５６"])
def test_unicode_digits_are_not_passed_through(text: str) -> None:
    assert normalise_customer_number(text) in (None, "K123456")


@pytest.mark.parametrize(
    ("text", "postcode", "birth_date"),
    [
        ("10115", "10115", None),
        ("PLZ 80331", "80331", None),
        ("Postleitzahl: 01067", "01067", None),  # leading zero kept
        ("Meine PLZ ist 20095.", "20095", None),
        ("K123456 10115", "10115", None),
        ("12.04.1985", None, date(1985, 4, 12)),
        ("1.2.1980", None, date(1980, 2, 1)),
        ("01.02.1980", None, date(1980, 2, 1)),
        ("12. 04. 1985", None, date(1985, 4, 12)),
        ("geboren am 12.04.1985", None, date(1985, 4, 12)),
        ("1985-04-12", None, date(1985, 4, 12)),
        ("29.02.2000", None, date(2000, 2, 29)),
        ("31.12.1999", None, date(1999, 12, 31)),
        # a birth date wins over a postcode in the same message
        ("geboren am 12.04.1985, PLZ 10115", None, date(1985, 4, 12)),
        ("PLZ 10115, geboren 1985-04-12", None, date(1985, 4, 12)),
        # nothing usable
        ("31.02.1980", None, None),
        ("29.02.1900", None, None),
        ("01.13.1980", None, None),
        ("00.01.1980", None, None),
        ("1985-02-30", None, None),
        ("1985-13-01", None, None),
        ("12.04.85", None, None),
        ("1234", None, None),
        ("123456", None, None),  # six digits are no postcode, and no five of them either
        ("K1234567", None, None),
        ("Hallo", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_parse_secret(text: str | None, postcode: str | None, birth_date: date | None) -> None:
    secret = parse_secret(text)
    assert secret == Secret(postcode=postcode, birth_date=birth_date)
    assert secret.given is (postcode is not None or birth_date is not None)


def test_secret_given() -> None:
    assert not Secret().given
    assert Secret(postcode="10115").given
    assert Secret(birth_date=date(1985, 4, 12)).given


def test_unicode_digit_postcode_is_not_passed_through() -> None:
    assert parse_secret("１０１１５").postcode in (None, "10115")


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("meine PLZ weiß ich nicht", "postcode"),
        ("Postleitzahl habe ich gerade nicht", "postcode"),
        ("Die plz fällt mir nicht ein", "postcode"),
        ("mein Geburtsdatum weiß ich nicht", "birth_date"),
        ("Wann ich geboren bin, sage ich nicht", "birth_date"),
        ("weiß ich nicht", None),
        ("PLZ und Geburtsdatum weiß ich beide nicht", None),
        ("", None),
        ("Die Explzosion", None),  # 'plz' inside a word is not the postcode
    ],
)
def test_missing_secret_names_the_value_the_customer_does_not_know(text: str, missing: str | None) -> None:
    assert missing_secret(text) == missing

