"""Identifying a customer by customer number plus postcode or date of birth."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from bot.records.queries import verified_customer

MAX_ATTEMPTS = 3
_CUSTOMER_NUMBER = re.compile(r"\b[Kk]\s*-?\s*([0-9]{3})\s*([0-9]{3})\b")
_POSTCODE = re.compile(r"(?<![0-9])([0-9]{5})(?![0-9])")
_DATE = re.compile(r"(?<![0-9])([0-9]{1,2})\.\s*([0-9]{1,2})\.\s*([0-9]{4})(?![0-9])")
_ISO_DATE = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
_MENTIONS_POSTCODE = re.compile(r"\bplz\b|postleitzahl", re.IGNORECASE)
_MENTIONS_BIRTH_DATE = re.compile(r"geburt|\bgeb\.|\bgeboren", re.IGNORECASE)


@dataclass(frozen=True)
class Secret:
    """What the customer gave to prove who they are: a postcode or a birth date (or neither)."""

    postcode: str | None = None
    birth_date: date | None = None

    @property
    def given(self) -> bool:
        return self.postcode is not None or self.birth_date is not None


def normalise_customer_number(text: str | None) -> str | None:
    """'k 123 456', 'K-123456' -> 'K123456'; None when the text holds no customer number."""
    if not text:
        return None
    match = _CUSTOMER_NUMBER.search(text)
    return f"K{match.group(1)}{match.group(2)}" if match else None


def parse_secret(text: str | None) -> Secret:
    """A German birth date (TT.MM.JJJJ or JJJJ-MM-TT) or a 5-digit postcode found in the text."""
    if not text:
        return Secret()
    for pattern, order in ((_DATE, (3, 2, 1)), (_ISO_DATE, (1, 2, 3))):
        match = pattern.search(text)
        if match:
            year, month, day = (int(match.group(i)) for i in order)
            try:
                return Secret(birth_date=date(year, month, day))
            except ValueError:
                return Secret()
    match = _POSTCODE.search(text)
    return Secret(postcode=match.group(1)) if match else Secret()


def missing_secret(text: str | None) -> Literal["postcode", "birth_date"] | None:
    """Which of the two values a customer means with "weiß ich nicht" ("meine PLZ weiß ich nicht"), if they say."""
    postcode, birth_date = (bool(p.search(text or "")) for p in (_MENTIONS_POSTCODE, _MENTIONS_BIRTH_DATE))
    if postcode == birth_date:
        return None  # neither named, or both
    return "postcode" if postcode else "birth_date"


def verify(session: Session, *, customer_number: str, secret: Secret) -> int | None:
    """The customer's database id when number and secret belong together, else None."""
    customer = verified_customer(
        session, customer_number=customer_number, postcode=secret.postcode, birth_date=secret.birth_date
    )
    return customer.id if customer else None
