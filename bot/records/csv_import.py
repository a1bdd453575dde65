"""Import customers and contracts from a CRM export (CSV), all or nothing.

Every row is validated before anything is written; any error raises `CsvImportError` listing all
problems by line and column, so the operator can fix the file in one go. One row is one contract;
rows that share a customer number describe the same customer.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.records.models import ACTIVE, Contract, Customer, Plan
from bot.records.rows import CustomerRow

logger = logging.getLogger(__name__)

CUSTOMER_COLUMNS = tuple(f.name for f in fields(CustomerRow))  # customer_number, first_name, ..., customer_since
CONTRACT_COLUMNS = (
    "contract_number", "plan_code", "monthly_price", "contract_start", "minimum_term_end", "notice_period_months",
)
REQUIRED_COLUMNS = CUSTOMER_COLUMNS + CONTRACT_COLUMNS
SEGMENTS = ("standard", "premium", "business")
DEFAULT_SEGMENT = "standard"
DEFAULT_NOTICE_MONTHS = 1
MAX_NOTICE_MONTHS = 3
MAX_ERRORS_SHOWN = 20

PathOrFile = str | os.PathLike | IO[str] | IO[bytes]

_CUSTOMER_NUMBER = re.compile(r"K\d{6}", re.ASCII)
_CONTRACT_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{0,11}", re.ASCII)
_EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
_POSTCODE = re.compile(r"\d{5}", re.ASCII)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", re.ASCII)
_PRICE = re.compile(r"\d+(?:[.,]\d{1,2})?", re.ASCII)
_BATCH = 500


class CsvImportError(ValueError):
    """The CSV file cannot be imported; `.errors` lists every problem found, nothing was written."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(self._describe())

    def _describe(self) -> str:
        count = len(self.errors)
        lines = [f"CSV import failed with {count} error{'s' if count != 1 else ''}; nothing was imported. "
                 "Fix the file and import it again."]
        lines.extend(f"  {error}" for error in self.errors[:MAX_ERRORS_SHOWN])
        if count > MAX_ERRORS_SHOWN:
            lines.append(f"  ... and {count - MAX_ERRORS_SHOWN} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportReport:
    """What an import did; `updated` counts existing records that the file overwrote."""

    customers_created: int = 0
    customers_updated: int = 0
    contracts_created: int = 0
    contracts_updated: int = 0


@dataclass(frozen=True)
class _ContractRow:
    contract_number: str
    plan_code: str
    monthly_price_cents: int
    start_date: date
    minimum_term_end: date
    notice_period_months: int

    def columns(self, plan: Plan) -> dict[str, object]:
        """The `Contract` column values to write; the contract number identifies the record."""
        return {"plan": plan, "monthly_price_cents": self.monthly_price_cents, "start_date": self.start_date,
                "minimum_term_end": self.minimum_term_end, "notice_period_months": self.notice_period_months}


@dataclass(frozen=True)
class _Row:
    line: int
    customer: CustomerRow
    contract: _ContractRow


class _LineErrors:
    """Collects the errors of one line, each naming the line and the column."""

    def __init__(self, line: int, sink: list[str]) -> None:
        self.line = line
        self.sink = sink
        self.count = 0

    def add(self, column: str, message: str) -> None:
        self.sink.append(f"line {self.line}, column {column}: {message}")
        self.count += 1


# --- reading the file ------------------------------------------------------------------------


def _read_text(path_or_file: PathOrFile) -> str:
    if isinstance(path_or_file, str | os.PathLike):
        path = Path(path_or_file)
        if not path.exists():
            raise CsvImportError([f"file not found: {path}; check the path and try again"])
        if path.is_dir():
            raise CsvImportError([f"{path} is a folder, not a CSV file; give the path of the CSV file"])
        try:
            raw: str | bytes = path.read_bytes()
        except OSError as error:
            raise CsvImportError([f"cannot read {path}: {error.strerror}; check the file's permissions"]) from None
    else:
        raw = path_or_file.read()
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise CsvImportError([
                f"the file is not UTF-8 (byte {error.start + 1}); save it as 'CSV UTF-8' and import it again"
            ]) from None
    return raw.removeprefix("\ufeff")


def _delimiter(header_line: str) -> str:
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _records(text: str) -> tuple[dict[str, int], int, list[tuple[int, list[str]]]]:
    """The header's column positions, its width, and the data rows with their line numbers (header: line 1)."""
    if not text.strip():
        raise CsvImportError([
            "the file is empty; it needs a header line naming the columns " + ", ".join(REQUIRED_COLUMNS)
        ])
    first_line = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    try:
        for values in reader:
            if not any(value.strip() for value in values):
                continue
            if header is None:
                header, header_line = [value.strip().lower() for value in values], reader.line_num
                continue
            rows.append((reader.line_num, values))
    except csv.Error as error:
        raise CsvImportError([f"line {reader.line_num}: the file is not valid CSV ({error}); "
                              "export it again from the CRM"]) from None
    assert header is not None  # the text is not blank, so there is a first row
    return _header_positions(header, header_line), len(header), rows


def _header_positions(header: list[str], line: int) -> dict[str, int]:
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    errors = []
    if missing:
        errors.append(
            f"line {line}: the header is missing the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; the first line must name the columns {', '.join(REQUIRED_COLUMNS)}"
        )
    if duplicates:
        errors.append(f"line {line}: the header names {', '.join(duplicates)} more than once; keep one of each")
    if errors:
        raise CsvImportError(errors)
    return {name: header.index(name) for name in REQUIRED_COLUMNS}


# --- parsing values --------------------------------------------------------------------------


def parse_date(text: str) -> date | None:
    """'2024-03-31' or '31.03.2024' as a date; None when it is neither or not a real day."""
    text = text.strip()
    iso, german = _ISO_DATE.fullmatch(text), _GERMAN_DATE.fullmatch(text)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if german:
            return date(int(german.group(3)), int(german.group(2)), int(german.group(1)))
    except ValueError:
        return None
    return None


def parse_price_cents(text: str) -> int | None:
    """'19,99', '19.99', '19,99 €' or '19' as cents; None when it is not an amount."""
    compact = re.sub(r"\s", "", text).replace("€", "").removesuffix("EUR")
    if not _PRICE.fullmatch(compact):
        return None
    try:
        return int(Decimal(compact.replace(",", ".")) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _date(errors: _LineErrors, column: str, text: str) -> date | None:
    if not text:
        errors.add(column, "is empty; give a date as YYYY-MM-DD or DD.MM.YYYY")
        return None
    day = parse_date(text)
    if day is None:
        errors.add(column, f"'{text}' is not a valid date (use YYYY-MM-DD or DD.MM.YYYY)")
    return day


def _required(errors: _LineErrors, column: str, text: str, max_length: int) -> str | None:
    if not text:
        errors.add(column, "is empty; this column is required")
        return None
    if len(text) > max_length:
        errors.add(column, f"is {len(text)} characters long; at most {max_length} fit")
        return None
    return text


def _customer(errors: _LineErrors, value: dict[str, str], today: date) -> CustomerRow | None:
    number = value["customer_number"].upper()
    if not number:
        errors.add("customer_number", "is empty; this column is required")
    elif not _CUSTOMER_NUMBER.fullmatch(number):
        errors.add("customer_number", f"'{value['customer_number']}' is not a customer number (K and 6 digits)")
    first_name = _required(errors, "first_name", value["first_name"], 80)
    last_name = _required(errors, "last_name", value["last_name"], 80)
    email = _required(errors, "email", value["email"], 200)
    if email and not _EMAIL.fullmatch(email):
        errors.add("email", f"'{email}' is not an e-mail address")
    postcode = value["postcode"]
    if not postcode:
        errors.add("postcode", "is empty; this column is required")
    elif not _POSTCODE.fullmatch(postcode):
        hint = " (a leading zero may have been lost; format the column as text)" if re.fullmatch(r"\d{4}", postcode, re.ASCII) else ""
        errors.add("postcode", f"'{postcode}' is not a 5-digit postcode{hint}")
    birth_date = _date(errors, "birth_date", value["birth_date"])
    if birth_date is not None and birth_date >= today:
        errors.add("birth_date", f"'{value['birth_date']}' is not in the past")
    elif birth_date is not None and birth_date.year < 1900:
        errors.add("birth_date", f"'{value['birth_date']}' is not a plausible birth date")
    segment = value["segment"].lower() or DEFAULT_SEGMENT
    if segment not in SEGMENTS:
        errors.add("segment", f"'{value['segment']}' is not a segment (use {', '.join(SEGMENTS)} or leave it empty)")
    customer_since = _date(errors, "customer_since", value["customer_since"])
    if customer_since is not None and customer_since > today:
        errors.add("customer_since", f"'{value['customer_since']}' lies in the future")
    if errors.count:
        return None
    assert first_name and last_name and email and birth_date and customer_since
    return CustomerRow(number, first_name, last_name, email, postcode, birth_date, segment, customer_since)


def _contract(errors: _LineErrors, value: dict[str, str], plan_codes: set[str]) -> _ContractRow | None:
    before = errors.count
    number = value["contract_number"].upper()
    if not number:
        errors.add("contract_number", "is empty; this column is required")
    elif not _CONTRACT_NUMBER.fullmatch(number):
        errors.add("contract_number",
                   f"'{value['contract_number']}' is not a contract number (up to 12 letters and digits)")
    plan_code = value["plan_code"].upper()
    if not plan_code:
        errors.add("plan_code", "is empty; this column is required")
    elif plan_code not in plan_codes:
        known = ", ".join(sorted(plan_codes)) or "none; the plans table is empty, set up the catalog first"
        errors.add("plan_code", f"'{value['plan_code']}' is not a plan in the catalog (known: {known})")
    price = None
    if not value["monthly_price"]:
        errors.add("monthly_price", "is empty; give the monthly price in euros, e.g. 19,99")
    else:
        price = parse_price_cents(value["monthly_price"])
        if price is None:
            errors.add("monthly_price", f"'{value['monthly_price']}' is not a price in euros (e.g. 19,99 or 19.99)")
        elif price <= 0:
            errors.add("monthly_price", f"'{value['monthly_price']}' must be more than 0")
    start = _date(errors, "contract_start", value["contract_start"])
    term_end = _date(errors, "minimum_term_end", value["minimum_term_end"])
    if start is not None and term_end is not None and term_end < start:
        errors.add("minimum_term_end",
                   f"'{value['minimum_term_end']}' is before the contract start '{value['contract_start']}'")
    notice_text = value["notice_period_months"]
    notice = DEFAULT_NOTICE_MONTHS if not notice_text else int(notice_text) if notice_text.isascii() and notice_text.isdigit() else None
    if notice is None or not 0 <= notice <= MAX_NOTICE_MONTHS:
        errors.add("notice_period_months", f"'{notice_text}' is not a notice period of 0 to {MAX_NOTICE_MONTHS} months")
    if errors.count > before:
        return None
    assert price is not None and start is not None and term_end is not None and notice is not None
    return _ContractRow(number, plan_code, price, start, term_end, notice)


def _parse_rows(records: list[tuple[int, list[str]]], positions: dict[str, int], width: int, plan_codes: set[str],
                today: date, errors: list[str]) -> list[_Row]:
    rows = []
    for line, values in records:
        line_errors = _LineErrors(line, errors)
        if len(values) != width:
            hint = ("a value containing the delimiter (e.g. a price like 19,99 in a comma-separated file) must be "
                    "in double quotes") if len(values) > width else "every line needs one value per column"
            errors.append(f"line {line}: has {len(values)} values but the header has {width} columns; {hint}")
            continue
        value = {name: values[index].strip() for name, index in positions.items()}
        customer = _customer(line_errors, value, today)
        contract = _contract(line_errors, value, plan_codes)
        if customer is not None and contract is not None:
            rows.append(_Row(line, customer, contract))
    return rows


# --- checks across rows and against the records ---------------------------------------------


def _check_consistency(rows: list[_Row], errors: list[str]) -> None:
    """The same customer has the same details on every line; every contract appears once."""
    first_customer: dict[str, _Row] = {}
    first_contract: dict[str, int] = {}
    for row in rows:
        seen = first_customer.setdefault(row.customer.customer_number, row)
        if seen is not row:
            for column in CUSTOMER_COLUMNS[1:]:
                here, there = getattr(row.customer, column), getattr(seen.customer, column)
                if (here.lower() if column == "email" else here) != (there.lower() if column == "email" else there):
                    errors.append(
                        f"line {row.line}, column {column}: '{here}' differs from '{there}' on line {seen.line} "
                        f"for the same customer {row.customer.customer_number}; give the customer the same details "
                        "on every line"
                    )
        number = row.contract.contract_number
        if number in first_contract:
            errors.append(f"line {row.line}, column contract_number: {number} already appears on line "
                          f"{first_contract[number]}; list each contract once")
        else:
            first_contract[number] = row.line


def _line_number(error: str) -> int:
    match = re.match(r"line (\d+)", error)
    return int(match.group(1)) if match else 0


def _batched(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start:start + _BATCH]


def _existing_customers(session: Session, numbers: Sequence[str]) -> dict[str, Customer]:
    found: dict[str, Customer] = {}
    for batch in _batched(numbers):
        found.update((c.customer_number, c) for c in session.scalars(
            select(Customer).where(Customer.customer_number.in_(batch))))
    return found


def _existing_contracts(session: Session, numbers: Sequence[str]) -> dict[str, Contract]:
    found: dict[str, Contract] = {}
    for batch in _batched(numbers):
        found.update((c.contract_number, c) for c in session.scalars(
            select(Contract).where(Contract.contract_number.in_(batch))))
    return found


def _check_owners(rows: list[_Row], contracts: dict[str, Contract], errors: list[str]) -> None:
    """A contract in the records stays with its customer."""
    for row in rows:
        existing = contracts.get(row.contract.contract_number)
        if existing is not None and existing.customer.customer_number != row.customer.customer_number:
            errors.append(
                f"line {row.line}, column contract_number: {row.contract.contract_number} belongs to customer "
                f"{existing.customer.customer_number} in the records, not {row.customer.customer_number}; "
                "a contract cannot move to another customer by import"
            )


# --- writing ---------------------------------------------------------------------------------


def _assign(record: Customer | Contract, values: Mapping[str, object]) -> None:
    """Overwrite the record's columns named in `values`."""
    for column, value in values.items():
        setattr(record, column, value)


def _write(session: Session, rows: list[_Row], customers: dict[str, Customer],
           contracts: dict[str, Contract]) -> ImportReport:
    plans = {plan.code: plan for plan in session.scalars(select(Plan))}
    counts = dict(customers_created=0, customers_updated=0, contracts_created=0, contracts_updated=0)
    done: set[str] = set()
    for row in rows:
        number = row.customer.customer_number
        customer = customers.get(number)
        if number not in done:
            done.add(number)
            if customer is None:
                customer = Customer(customer_number=number, language="de")
                session.add(customer)
                customers[number] = customer
                counts["customers_created"] += 1
            else:
                counts["customers_updated"] += 1
            _assign(customer, row.customer.columns())
        contract = contracts.get(row.contract.contract_number)
        if contract is None:
            # New contracts start active; existing ones keep their status (a cancellation stays in force).
            contract = Contract(contract_number=row.contract.contract_number, customer=customer, status=ACTIVE,
                                discount_percent=0)
            session.add(contract)
            counts["contracts_created"] += 1
        else:
            counts["contracts_updated"] += 1
        _assign(contract, row.contract.columns(plans[row.contract.plan_code]))
    session.flush()
    return ImportReport(**counts)


def import_customers_csv(session: Session, path_or_file: PathOrFile, *, today: date | None = None) -> ImportReport:
    """Create or update the customers and contracts of a CRM export; all rows or none.

    Raises CsvImportError listing every problem (by line and column) before anything is written.
    Run it inside `transaction(url)` so that the import is committed as a whole.
    """
    today = today or date.today()
    positions, width, records = _records(_read_text(path_or_file))
    if not records:
        raise CsvImportError(["the file has a header but no data rows; add one line per contract"])
    errors: list[str] = []
    plan_codes = set(session.scalars(select(Plan.code)))
    rows = _parse_rows(records, positions, width, plan_codes, today, errors)
    _check_consistency(rows, errors)
    customers = _existing_customers(session, sorted({row.customer.customer_number for row in rows}))
    contracts = _existing_contracts(session, sorted({row.contract.contract_number for row in rows}))
    _check_owners(rows, contracts, errors)
    if errors:
        logger.warning("CSV import rejected: %d errors in %d data rows", len(errors), len(records))
        raise CsvImportError(sorted(errors, key=_line_number))
    report = _write(session, rows, customers, contracts)
    logger.info("CSV import: %d customers created, %d updated; %d contracts created, %d updated",
                report.customers_created, report.customers_updated, report.contracts_created,
                report.contracts_updated)
    return report
