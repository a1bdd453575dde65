"""What the customer declares with a cancellation (§ 312k Abs. 2 Satz 3 BGB), and when it takes effect.

All of it is optional; without any statement a cancellation is ordinary, takes effect at the earliest
possible date, and the confirmation goes to the e-mail address on file.

- kind: `ordinary`, or `extraordinary` with a reason:
  - `moving`: the customer moves to where the service is not offered (§ 60 Abs. 2 TKG): one month's
    notice from receipt, whatever the minimum term; a later date (e.g. the moving day) may be chosen.
  - `fault`: a persistent fault that was reported and not cleared (§ 314 BGB, termination for good
    cause without notice): effective on the day of receipt, or a later date the customer names.
  - no reason given: the good cause is unknown, so the contract ends at the ordinary date unless an agent
    confirms the cause (the declaration is kept as extraordinary and the confirmation says so).
  An extraordinary cancellation never ends later than the ordinary one would.
- requested date: the day the cancellation should take effect. Later than the earliest possible date:
  taken as asked. Earlier: the earliest possible date applies, and the confirmation explains it.
- extra recipient: a second e-mail address for the confirmation; honoured only for a verified customer,
  and the address on file always gets the confirmation too.

Free text like "zum 30.06.", "außerordentlich, ich ziehe ins Ausland" or "bitte auch an x@y.de" is read
by `parse_declaration`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from bot.records.models import Contract
from bot.retention.dates import add_months, effective_cancellation_date

ORDINARY = "ordinary"
EXTRAORDINARY = "extraordinary"
KINDS = (ORDINARY, EXTRAORDINARY)
MOVING = "moving"
FAULT = "fault"
EXTRAORDINARY_REASONS = (MOVING, FAULT)

# How the reasons are named to the customer.
EXTRAORDINARY_REASON_TEXT = {
    MOVING: "wegen Umzugs an einen Ort, an dem die Leistung nicht angeboten wird (§ 60 Abs. 2 TKG)",
    FAULT: "wegen einer anhaltenden Störung, die nicht behoben wurde (§ 314 BGB)",
    None: "ohne Angabe eines Grundes",
}


class InvalidDeclaration(ValueError):
    """A declaration that cannot be recorded as given."""


@dataclass(frozen=True)
class CancellationDeclaration:
    kind: str = ORDINARY
    extraordinary_reason: str | None = None
    requested_date: date | None = None
    extra_recipient: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidDeclaration(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.extraordinary_reason is not None and self.extraordinary_reason not in EXTRAORDINARY_REASONS:
            raise InvalidDeclaration(
                f"extraordinary_reason must be one of {EXTRAORDINARY_REASONS}, got {self.extraordinary_reason!r}")
        if self.kind == ORDINARY and self.extraordinary_reason is not None:
            raise InvalidDeclaration("an ordinary cancellation has no extraordinary reason")
        if self.extra_recipient is not None and parse_email(self.extra_recipient) != self.extra_recipient:
            raise InvalidDeclaration(f"not an e-mail address: {self.extra_recipient!r}")

    @property
    def is_default(self) -> bool:
        return self == CancellationDeclaration()

    def kind_text(self) -> str:
        if self.kind == ORDINARY:
            return "ordentliche Kündigung"
        return f"außerordentliche Kündigung {EXTRAORDINARY_REASON_TEXT[self.extraordinary_reason]}"


@dataclass(frozen=True)
class EffectiveDate:
    """When the declared cancellation takes effect, and why it may differ from the requested date."""

    effective: date
    earliest: date
    requested_too_early: bool


def earliest_date(declaration: CancellationDeclaration, contract: Contract, today: date) -> date:
    """The earliest day the declared cancellation can end the contract (see the module's rules)."""
    ordinary = effective_cancellation_date(contract, today)
    if declaration.kind == ORDINARY or declaration.extraordinary_reason is None:
        return ordinary
    if declaration.extraordinary_reason == MOVING:
        return min(ordinary, add_months(today, 1))
    return today  # FAULT: without notice


def effective_date(declaration: CancellationDeclaration, contract: Contract, today: date) -> EffectiveDate:
    earliest = earliest_date(declaration, contract, today)
    requested = declaration.requested_date
    if requested is None or requested == earliest:
        return EffectiveDate(earliest, earliest, False)
    if requested < earliest:
        return EffectiveDate(earliest, earliest, True)
    return EffectiveDate(requested, earliest, False)


# --- reading what the customer typed ------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})"
                    r"(?![\w-])")
_MONTHS = {
    "januar": 1, "jan": 1, "jänner": 1, "februar": 2, "feb": 2, "märz": 3, "maerz": 3, "mär": 3, "april": 4,
    "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11, "dezember": 12, "dez": 12,
}
_NUMERIC_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.(?:\s?(\d{4}|\d{2}))?(?![\d])")
_NAMED_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.?\s+(" + "|".join(sorted(_MONTHS, key=len, reverse=True))
                         + r")\.?(?:\s+(\d{4}))?(?![\w])", re.IGNORECASE)
_EXTRAORDINARY = re.compile(r"au(?:ß|ss)erordentlich|fristlos|sonderk(?:ü|ue)ndigung|sonderk(?:ü|ue)ndigungsrecht",
                            re.IGNORECASE)
_ORDINARY = re.compile(r"\b(?:ordentlich|fristgerecht|regul(?:ä|ae)r)", re.IGNORECASE)
_MOVING = re.compile(r"umzug|umziehe|ziehe\b.*\b(?:um|weg|aus|nach|ins)\b|ziehen\b.*\b(?:um|weg|nach|ins)\b|"
                     r"ausland|auswander|neue[nm]? wohn|wohnort|§\s*60", re.IGNORECASE)
_FAULT = re.compile(r"st(?:ö|oe)rung|ausf(?:a|ä)ll|kein(?:en)? (?:netz|empfang|internet)|funktioniert nicht|"
                    r"geht nicht|nicht behoben|defekt|§\s*314", re.IGNORECASE)


def parse_email(text: str | None) -> str | None:
    """The first e-mail address in `text`, lower-cased, or None."""
    match = _EMAIL.search(text or "")
    return match.group(1).lower() if match else None


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_requested_date(text: str | None, *, today: date) -> date | None:
    """The date the customer names ("zum 30.06.", "30.6.2027", "zum 1. Juli"), or None.

    Without a year, the next such day from today on is meant. Dates in the past are no request for
    the future (e.g. a birth date) and give None.
    """
    text = text or ""
    candidates: list[tuple[int, int, str | None]] = []
    for match in _NUMERIC_DATE.finditer(text):
        candidates.append((int(match.group(1)), int(match.group(2)), match.group(3)))
    for match in _NAMED_DATE.finditer(text):
        candidates.append((int(match.group(1)), _MONTHS[match.group(2).lower()], match.group(3)))
    for day, month, year_text in candidates:
        if year_text is None:
            found = _valid_date(today.year, month, day)
            if found is not None and found < today:
                found = _valid_date(today.year + 1, month, day)
        else:
            year = int(year_text)
            found = _valid_date(year + 2000 if year < 100 else year, month, day)
        if found is not None and found >= today:
            return found
    return None


def parse_extraordinary(text: str | None) -> tuple[bool, str | None]:
    """Whether `text` declares an extraordinary cancellation, and its reason (moving, fault, or None)."""
    text = text or ""
    if not _EXTRAORDINARY.search(text):
        return False, None
    if _MOVING.search(text):
        return True, MOVING
    if _FAULT.search(text):
        return True, FAULT
    return True, None


def parse_declaration(text: str | None, *, today: date,
                      current: CancellationDeclaration | None = None) -> CancellationDeclaration:
    """`current` updated by whatever `text` states; what it does not mention stays as it was."""
    declaration = current or CancellationDeclaration()
    extraordinary, reason = parse_extraordinary(text)
    if extraordinary:
        declaration = replace(declaration, kind=EXTRAORDINARY,
                              extraordinary_reason=reason or declaration.extraordinary_reason)
    elif _ORDINARY.search(text or ""):
        declaration = replace(declaration, kind=ORDINARY, extraordinary_reason=None)
    requested = parse_requested_date(text, today=today)
    if requested is not None:
        declaration = replace(declaration, requested_date=requested)
    email = parse_email(text)
    if email is not None:
        declaration = replace(declaration, extra_recipient=email)
    return declaration


def states_something(text: str | None, *, today: date) -> bool:
    """Whether `text` states any part of a declaration."""
    return parse_declaration(text, today=today) != CancellationDeclaration() or bool(_ORDINARY.search(text or ""))
