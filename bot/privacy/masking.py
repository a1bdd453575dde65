"""Personal data masked out of conversation text, for marketers' transcripts and exports.

`mask_text` replaces what identifies a person with a German label in brackets: the values known for the
customer (names, numbers, e-mail, postcode, birth date; see `personal_values`) and, whoever typed them,
anything shaped like a customer number (K + 6 digits), contract number (V + 8 digits), e-mail address,
IBAN, phone number, postcode, date of birth (a date at least MIN_BIRTH_AGE_YEARS ago) or street address.
Masking errs on the side of too much: a surname that is also a word ("Keller") is masked everywhere.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.records.models import CancellationRequest, Contract, Customer

NAME = "[Name]"
CUSTOMER_NUMBER = "[Kundennummer]"
CONTRACT_NUMBER = "[Vertragsnummer]"
EMAIL = "[E-Mail]"
PHONE = "[Telefon]"
IBAN = "[IBAN]"
POSTCODE = "[PLZ]"
BIRTH_DATE = "[Geburtsdatum]"
ADDRESS = "[Adresse]"

MIN_BIRTH_AGE_YEARS = 14  # a date at least this long ago is treated as a date of birth

_MONTHS = ("januar", "februar", "märz", "maerz", "april", "mai", "juni", "juli", "august", "september",
           "oktober", "november", "dezember", "jan", "feb", "mär", "mrz", "apr", "jun", "jul", "aug", "sep",
           "sept", "okt", "nov", "dez")
_MONTH_NUMBER = {name: number for number, names in enumerate(
    (("januar", "jan"), ("februar", "feb"), ("märz", "maerz", "mär", "mrz"), ("april", "apr"), ("mai",),
     ("juni", "jun"), ("juli", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("oktober", "okt"),
     ("november", "nov"), ("dezember", "dez")), start=1) for name in names}

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\s?[./-]\s?(\d{1,2})\s?[./-]\s?(\d{4}|\d{2})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_WORDED_DATE = re.compile(r"\b(\d{1,2})\.?\s*(" + "|".join(sorted(_MONTHS, key=len, reverse=True))
                          + r")\.?\s+(\d{4})\b", re.IGNORECASE)
_CUSTOMER_NUMBER = re.compile(r"\bK\s?-?\s?\d{6}\b|(?<=kundennummer)(\s*(?:ist|lautet)?:?\s*)\d{6}\b"
                              r"|(?<=kundennr\.)(\s*:?\s*)\d{6}\b", re.IGNORECASE)
_CONTRACT_NUMBER = re.compile(r"\bV\s?-?\s?\d{8}\b|(?<=vertragsnummer)(\s*(?:ist|lautet)?:?\s*)\d{8}\b",
                              re.IGNORECASE)
# +49 30 1234567, 0049-171-1234567, 030/1234567, (030) 123 45 67, 0171 1234567: seven to 15 digits.
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)\d{1,3}[\s/-]?(?:\(0\)\s?)?\d[\d\s/-]{5,16}\d(?!\w)"
                    r"|(?<![\w+])\(?0\d{2,5}\)?[\s/-]?\d[\d\s/-]{3,12}\d(?!\w)")
_STREET_WORD = (r"(?:[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|weg|platz|allee|gasse|ring|damm|ufer|chaussee"
                r"|pfad|steig|markt|graben|wall|stieg|kamp|hof|berg|feld)"
                r"|(?:Am|An der|An den|Auf der|Auf dem|Im|In der|Zum|Zur|Unter den)\s+[A-ZÄÖÜ][\wäöüß-]+"
                r"|(?:Straße|Strasse|Platz|Allee)\s+(?:der|des|am|an der)\s+[\wäöüß.-]+(?:\s+[\wäöüß.-]+)?"
                r"|[A-ZÄÖÜ][\wäöüß-]+\s+(?:Straße|Strasse|Weg|Platz|Allee|Gasse|Ring|Damm))")
_HOUSE_NUMBER = r"\d{1,4}\s?[a-zA-Z]?(?:\s?[-/]\s?\d{1,4}[a-zA-Z]?)?(?!\w)"
# "Goethestraße 17a", "Am Markt 5", "Straße des 17. Juni 135", "Berliner Straße 12", "Bahnhofstr.5".
_STREET = re.compile(r"(?<!\w)(?:" + _STREET_WORD + r"\s+|[A-ZÄÖÜ][\wäöüß-]*(?:str|Str)\.\s*)" + _HOUSE_NUMBER)
# Five digits standing alone; not a port ("127.0.0.1:53803") or part of a URL's query.
_POSTCODE = re.compile(r"(?<![\d.,/=?&])(?<!\d:)\b\d{5}\b(?![.,]\d)")
# "Ich heiße Max Mustermann", "Mein Name ist ...", "Name: ...", "Herr/Frau ...": the capitalised words after.
_NAME_CUE = re.compile(r"((?i:ich hei(?:ß|ss)e|mein name ist|mein name lautet|name\s*:|herrn?|frau|hier spricht"
                       r"|hier schreibt)\s+)((?:(?:von|van|de|di|da|zu)\s+)?[A-ZÄÖÜŁŚŻ][\wäöüßłńśżźąęó'-]+"
                       r"(?:\s+(?:(?:von|van|de|di|da|zu)\s+)?[A-ZÄÖÜŁŚŻ][\wäöüßłńśżźąęó'-]+){0,2})")
_NOT_NAMES = frozenset({"ich", "sie", "der", "die", "das", "kunde", "kundin", "und", "bitte", "danke"})


def _year(raw: str, today: date) -> int:
    year = int(raw)
    if len(raw) == 2:
        year += 2000 if year <= today.year % 100 else 1900
    return year


def _is_birth_date(day: int, month: int, year: int, today: date) -> bool:
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    return 1900 <= year <= today.year - MIN_BIRTH_AGE_YEARS


def _mask_dates(text: str, today: date) -> str:
    def numeric(match: re.Match[str]) -> str:
        day, month, year = int(match.group(1)), int(match.group(2)), _year(match.group(3), today)
        return BIRTH_DATE if _is_birth_date(day, month, year, today) else match.group(0)

    def iso(match: re.Match[str]) -> str:
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        return BIRTH_DATE if _is_birth_date(day, month, year, today) else match.group(0)

    def worded(match: re.Match[str]) -> str:
        day, month = int(match.group(1)), _MONTH_NUMBER[match.group(2).lower()]
        year = int(match.group(3))
        return BIRTH_DATE if _is_birth_date(day, month, year, today) else match.group(0)

    text = _ISO_DATE.sub(iso, text)
    text = _WORDED_DATE.sub(worded, text)
    return _NUMERIC_DATE.sub(numeric, text)


def _label_for(value: str) -> str:
    if "@" in value:
        return EMAIL
    if re.fullmatch(r"K?\d{6}", value, re.IGNORECASE):
        return CUSTOMER_NUMBER
    if re.fullmatch(r"V?\d{8}", value, re.IGNORECASE):
        return CONTRACT_NUMBER
    if re.fullmatch(r"\d{5}", value):
        return POSTCODE
    if re.search(r"\d", value):
        return BIRTH_DATE if re.fullmatch(r"[\d./ -]+", value) else ADDRESS
    return NAME


def _known_value_pattern(value: str) -> re.Pattern[str]:
    # Whitespace inside a value matches any run of whitespace; the value must stand alone as a word.
    parts = [re.escape(part) for part in value.split()]
    return re.compile(r"(?<![\w@.])" + r"\s+".join(parts) + r"(?![\w@])", re.IGNORECASE)


def _mask_known(text: str, known_values: Iterable[str]) -> str:
    values = sorted({v.strip() for v in known_values if v and len(v.strip()) >= 2}, key=len, reverse=True)
    for value in values:
        text = _known_value_pattern(value).sub(_label_for(value), text)
    return text


def _mask_name_cues(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        words = match.group(2).split()
        if words[0].lower() in _NOT_NAMES:
            return match.group(0)
        return match.group(1) + NAME

    return _NAME_CUE.sub(replace, text)


def _sub_keeping_prefix(pattern: re.Pattern[str], label: str) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return pattern.sub(lambda m: next((g for g in m.groups() if g is not None), "") + label, text)

    return apply


def mask_text(text: str, *, known_values: Iterable[str] = (), today: date | None = None) -> str:
    """The text with personal data replaced by labels such as "[Kundennummer]" or "[E-Mail]".

    known_values: values known to belong to the customer (from `personal_values`), masked wherever they
    stand as words, case-insensitively. Labels the assistant already wrote ("[entfernt: ...]") stay.
    """
    if not text:
        return text
    today = today or date.today()
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(lambda m: IBAN if sum(c.isdigit() for c in m.group(0)) >= 12 else m.group(0), text)
    text = _mask_dates(text, today)
    text = _mask_known(text, known_values)
    text = _sub_keeping_prefix(_CUSTOMER_NUMBER, CUSTOMER_NUMBER)(text)
    text = _sub_keeping_prefix(_CONTRACT_NUMBER, CONTRACT_NUMBER)(text)
    text = _STREET.sub(ADDRESS, text)
    text = _PHONE.sub(lambda m: PHONE if sum(c.isdigit() for c in m.group(0)) >= 7 else m.group(0), text)
    text = _POSTCODE.sub(POSTCODE, text)
    return _mask_name_cues(text)


def _spellings(word: str) -> set[str]:
    """A name as typed with umlauts, with ae/oe/ue/ss, or without accents."""
    transliterated = (word.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("Ä", "Ae")
                      .replace("Ö", "Oe").replace("Ü", "Ue").replace("ß", "ss"))
    stripped = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return {word, transliterated, stripped.replace("ß", "ss").replace("ł", "l").replace("Ł", "L")}


def date_spellings(day: date) -> list[str]:
    """A date as customers type it: 12.04.1985, 12.4.1985, 1985-04-12, 12/04/1985, 12.04.85."""
    return [f"{day:%d.%m.%Y}", f"{day.day}.{day.month}.{day.year}", day.isoformat(), f"{day:%d/%m/%Y}",
            f"{day:%d.%m.%y}"]


def customer_values(customer: Customer) -> list[str]:
    """The personal values of one customer row (names in every spelling, numbers, e-mail, postcode, birth date)."""
    values: set[str] = set()
    for name in (customer.first_name, customer.last_name, f"{customer.first_name} {customer.last_name}"):
        values |= _spellings(name)
    number = customer.customer_number
    values |= {number, number[1:], customer.email, customer.postcode}
    values |= set(date_spellings(customer.birth_date))
    return sorted(v for v in values if v)


def personal_values(session: Session, customer_id: int) -> list[str]:
    """The customer's name, numbers, e-mail, postcode, birth date and contract numbers, for mask_text and tests.

    Also what the customer typed into an unverified cancellation request that was matched to them (name,
    e-mail, postal address). Empty for an unknown customer.
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        return []
    values = set(customer_values(customer))
    for number in session.scalars(select(Contract.contract_number).where(Contract.customer_id == customer_id)):
        values |= {number, number[1:]}
    for request in session.scalars(select(CancellationRequest).where(CancellationRequest.customer_id == customer_id)):
        values |= {v for v in (request.name, request.email, request.postal_address, request.customer_number) if v}
    return sorted(values)
