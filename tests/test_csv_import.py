"""Importing customers and contracts from a CRM export: all rows or none, every problem reported."""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.records.csv_import import REQUIRED_COLUMNS, CsvImportError, ImportReport, import_customers_csv
from bot.records.database import session_factory, transaction
from bot.records.models import CANCELLED, Contract, Customer
from bot.settings import PROJECT_ROOT

TODAY = date(2025, 3, 15)
EXAMPLE_FILE = PROJECT_ROOT / "data" / "demo" / "customers_example.csv"


def _row(**changes: str) -> dict[str, str]:
    row = dict(
        customer_number="K200001", first_name="Jürgen", last_name="Kowalski", email="juergen.kowalski@mail.example",
        postcode="04109", birth_date="1975-06-01", segment="standard", customer_since="2015-03-01",
        contract_number="V20000011", plan_code="MOBIL_M", monthly_price="19.99", contract_start="2024-01-01",
        minimum_term_end="2025-12-31", notice_period_months="1",
    )
    row.update(changes)
    return row


def _write(path: Path, rows: list[dict[str, str]], *, delimiter: str = ",", bom: bool = False,
           columns: tuple[str, ...] | list[str] = REQUIRED_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(columns)
        writer.writerows([row.get(column, "") for column in columns] for row in rows)
    return path


def _import(url: str, source: object) -> ImportReport:
    with transaction(url) as session:
        return import_customers_csv(session, source, today=TODAY)


def _errors(url: str, source: object) -> list[str]:
    with pytest.raises(CsvImportError) as caught:
        _import(url, source)
    return caught.value.errors


def _customer(url: str, number: str) -> Customer:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == number)).one()
        for contract in customer.contracts:  # load while the session is open
            assert contract.plan is not None
        return customer


def _counts(url: str) -> tuple[int, int]:
    with transaction(url) as session:
        return (session.scalar(select(func.count()).select_from(Customer)),
                session.scalar(select(func.count()).select_from(Contract)))


# --- files that import -----------------------------------------------------------------------


def test_the_example_file_imports_cleanly(database_url: str) -> None:
    report = _import(database_url, EXAMPLE_FILE)

    assert report == ImportReport(customers_created=4, customers_updated=0, contracts_created=5, contracts_updated=0)
    assert _counts(database_url) == (4, 5)
    sabine = _customer(database_url, "K200101")
    assert (sabine.first_name, sabine.last_name, sabine.postcode, sabine.birth_date, sabine.customer_since,
            sabine.segment, sabine.language) == ("Sabine", "Hoffmann", "04109", date(1971, 6, 23),
                                                 date(2016, 3, 1), "standard", "de")
    assert [(k.contract_number, k.plan.code, k.monthly_price_cents, k.start_date, k.minimum_term_end,
             k.notice_period_months, k.status) for k in sabine.contracts] == [
        ("V20010101", "MOBIL_M", 1999, date(2023, 9, 1), date(2025, 8, 31), 1, "active"),
        ("V20010102", "DSL_100", 3999, date(2024, 1, 15), date(2026, 1, 14), 1, "active"),
    ]
    giuseppe = _customer(database_url, "K200104")
    assert giuseppe.segment == "business" and giuseppe.contracts[0].notice_period_months == 3
    assert _customer(database_url, "K200102").last_name == "Öztürk"


def test_comma_file_with_iso_dates_and_decimal_points(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [
        _row(),
        _row(customer_number="K200002", email="e.roth@post.example", last_name="Roth", first_name="Eva",
             contract_number="V20000021", monthly_price="19,99 €", plan_code="mobil_s", segment="",
             notice_period_months=""),
        _row(customer_number="K200003", email="t.berg@web.example", last_name="Berg", contract_number="V20000031",
             monthly_price="45", plan_code="DSL_250", segment="Premium"),
    ])

    assert _import(database_url, path) == ImportReport(3, 0, 3, 0)
    jurgen, eva, berg = (_customer(database_url, n) for n in ("K200001", "K200002", "K200003"))
    assert jurgen.contracts[0].monthly_price_cents == 1999 and jurgen.birth_date == date(1975, 6, 1)
    assert jurgen.first_name == "Jürgen"
    assert (eva.segment, eva.contracts[0].plan.code, eva.contracts[0].monthly_price_cents,
            eva.contracts[0].notice_period_months) == ("standard", "MOBIL_S", 1999, 1)
    assert (berg.segment, berg.contracts[0].monthly_price_cents) == ("premium", 4500)


def test_semicolon_file_with_bom_and_german_formats(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [
        _row(monthly_price="24,99", birth_date="01.06.1975", customer_since="1.3.2015",
             contract_start="01.01.2024", minimum_term_end="31.12.2025"),
    ], delimiter=";", bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfcustomer_number;")

    assert _import(database_url, path) == ImportReport(1, 0, 1, 0)
    customer = _customer(database_url, "K200001")
    contract = customer.contracts[0]
    assert (customer.birth_date, customer.customer_since) == (date(1975, 6, 1), date(2015, 3, 1))
    assert (contract.monthly_price_cents, contract.start_date, contract.minimum_term_end) == (
        2499, date(2024, 1, 1), date(2025, 12, 31))


def test_columns_in_any_order_and_extra_columns(database_url: str, tmp_path: Path) -> None:
    columns = ["notes", *reversed(REQUIRED_COLUMNS)]
    path = _write(tmp_path / "crm.csv", [_row(notes="VIP")], columns=columns)

    assert _import(database_url, path) == ImportReport(1, 0, 1, 0)
    assert _customer(database_url, "K200001").email == "juergen.kowalski@mail.example"


def test_open_files_in_bytes_and_text(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [_row()], delimiter=";", bom=True)
    assert _import(database_url, io.BytesIO(path.read_bytes())) == ImportReport(1, 0, 1, 0)
    text = path.read_text(encoding="utf-8")  # keeps the BOM as a character
    assert text.startswith("\ufeff")
    assert _import(database_url, io.StringIO(text)) == ImportReport(0, 1, 0, 1)


def test_several_contracts_of_one_customer(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [
        _row(), _row(contract_number="V20000012", plan_code="DSL_100", monthly_price="39,99"),
    ])
    assert _import(database_url, path) == ImportReport(1, 0, 2, 0)
    customer = _customer(database_url, "K200001")
    assert [(k.contract_number, k.plan.code) for k in customer.contracts] == [
        ("V20000011", "MOBIL_M"), ("V20000012", "DSL_100")]


def test_existing_customers_and_contracts_are_updated(database_url: str, tmp_path: Path) -> None:
    _import(database_url, _write(tmp_path / "first.csv", [_row(), _row(customer_number="K200002",
                                                                         contract_number="V20000021")]))
    changed = _write(tmp_path / "second.csv", [
        _row(email="j.kowalski@web.example", postcode="04229", segment="premium", plan_code="MOBIL_L",
             monthly_price="27,99", minimum_term_end="2026-06-30", notice_period_months="3"),
        _row(contract_number="V20000012", plan_code="DSL_50", monthly_price="29,99",
             email="j.kowalski@web.example", postcode="04229", segment="premium"),
    ])

    assert _import(database_url, changed) == ImportReport(customers_created=0, customers_updated=1,
                                                          contracts_created=1, contracts_updated=1)
    assert _counts(database_url) == (2, 3)
    customer = _customer(database_url, "K200001")
    assert (customer.email, customer.postcode, customer.segment) == ("j.kowalski@web.example", "04229", "premium")
    assert [(k.contract_number, k.plan.code, k.monthly_price_cents, k.minimum_term_end, k.notice_period_months)
            for k in customer.contracts] == [
        ("V20000011", "MOBIL_L", 2799, date(2026, 6, 30), 3),
        ("V20000012", "DSL_50", 2999, date(2025, 12, 31), 1),
    ]
    assert _customer(database_url, "K200002").email == "juergen.kowalski@mail.example"


def test_an_update_keeps_a_cancelled_contract_cancelled(database_url: str, tmp_path: Path) -> None:
    _import(database_url, _write(tmp_path / "first.csv", [_row()]))
    with transaction(database_url) as session:
        contract = session.scalars(select(Contract)).one()
        contract.status = CANCELLED
        contract.cancellation_effective_date = date(2025, 12, 31)

    assert _import(database_url, _write(tmp_path / "again.csv", [_row(monthly_price="17,99")])).contracts_updated == 1
    contract = _customer(database_url, "K200001").contracts[0]
    assert (contract.status, contract.cancellation_effective_date, contract.monthly_price_cents) == (
        CANCELLED, date(2025, 12, 31), 1799)


# --- files that are refused ------------------------------------------------------------------


def test_broken_rows_are_all_reported_and_nothing_is_written(database_url: str, tmp_path: Path) -> None:
    _import(database_url, _write(tmp_path / "first.csv", [_row()]))
    before = _counts(database_url)
    path = _write(tmp_path / "broken.csv", [
        _row(email="new.address@mail.example"),  # line 2: fine, would update K200001
        _row(customer_number="K200002", contract_number="V20000021", postcode="1011"),  # line 3
        _row(customer_number="K200003", contract_number="V20000031", birth_date="2031-01-01"),  # line 4
        _row(customer_number="K200004", contract_number="V20000041"),  # line 5: fine, would create K200004
        _row(customer_number="K200005", contract_number="V20000051", plan_code="MOBIL_XXL",
             monthly_price="gratis"),  # line 6
    ])

    errors = _errors(database_url, path)

    assert errors == [
        "line 3, column postcode: '1011' is not a 5-digit postcode "
        "(a leading zero may have been lost; format the column as text)",
        "line 4, column birth_date: '2031-01-01' is not in the past",
        errors[2],
        "line 6, column monthly_price: 'gratis' is not a price in euros (e.g. 19,99 or 19.99)",
    ]
    assert errors[2].startswith("line 6, column plan_code: 'MOBIL_XXL' is not a plan in the catalog (known: DSL_100")
    assert _counts(database_url) == before
    assert _customer(database_url, "K200001").email == "juergen.kowalski@mail.example"
    with transaction(database_url) as session:
        assert session.scalars(select(Customer).where(Customer.customer_number == "K200004")).first() is None


def test_validation_comes_before_any_write(database_url: str, tmp_path: Path) -> None:
    """Even a caller that commits after the error finds nothing of the file in the records."""
    path = _write(tmp_path / "crm.csv", [_row(), _row(customer_number="K200002", contract_number="V20000021",
                                                      email="x@mail.example", plan_code="NOPE")])
    session = session_factory(database_url)()
    try:
        with pytest.raises(CsvImportError):
            import_customers_csv(session, path, today=TODAY)
        session.commit()
    finally:
        session.close()
    assert _counts(database_url) == (0, 0)


@pytest.mark.parametrize(("column", "value", "message"), [
    ("customer_number", "K12345", "'K12345' is not a customer number (K and 6 digits)"),
    ("customer_number", "", "is empty; this column is required"),
    ("first_name", "", "is empty; this column is required"),
    ("email", "juergen.mail.example", "'juergen.mail.example' is not an e-mail address"),
    ("postcode", "D-04109", "'D-04109' is not a 5-digit postcode"),
    ("birth_date", "31.02.1980", "'31.02.1980' is not a valid date (use YYYY-MM-DD or DD.MM.YYYY)"),
    ("birth_date", "2025-03-15", "'2025-03-15' is not in the past"),
    ("segment", "gold", "'gold' is not a segment (use standard, premium, business or leave it empty)"),
    ("customer_since", "2025-04-01", "'2025-04-01' lies in the future"),
    ("plan_code", "", "is empty; this column is required"),
    ("monthly_price", "0,00", "'0,00' must be more than 0"),
    ("monthly_price", "19,999", "'19,999' is not a price in euros (e.g. 19,99 or 19.99)"),
    ("contract_start", "2024/01/01", "'2024/01/01' is not a valid date (use YYYY-MM-DD or DD.MM.YYYY)"),
    ("minimum_term_end", "2023-12-31", "'2023-12-31' is before the contract start '2024-01-01'"),
    ("notice_period_months", "4", "'4' is not a notice period of 0 to 3 months"),
    ("notice_period_months", "-1", "'-1' is not a notice period of 0 to 3 months"),
])
def test_each_rule_names_line_and_column(database_url: str, tmp_path: Path, column: str, value: str,
                                         message: str) -> None:
    path = _write(tmp_path / "crm.csv", [_row(customer_number="K200009", contract_number="V20000091"),
                                         _row(**{column: value})])

    assert _errors(database_url, path) == [f"line 3, column {column}: {message}"]
    assert _counts(database_url) == (0, 0)


def test_zero_notice_and_a_term_ending_on_the_start_day_are_accepted(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [_row(notice_period_months="0", minimum_term_end="2024-01-01")])
    assert _import(database_url, path).contracts_created == 1


def test_conflicting_details_of_one_customer(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [
        _row(), _row(contract_number="V20000012", last_name="Kowalska", birth_date="02.06.1975"),
    ])
    assert _errors(database_url, path) == [
        "line 3, column last_name: 'Kowalska' differs from 'Kowalski' on line 2 for the same customer K200001; "
        "give the customer the same details on every line",
        "line 3, column birth_date: '1975-06-02' differs from '1975-06-01' on line 2 for the same customer K200001; "
        "give the customer the same details on every line",
    ]


def test_a_contract_listed_twice(database_url: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "crm.csv", [_row(), _row(customer_number="K200002", email="x@mail.example")])
    assert _errors(database_url, path) == [
        "line 3, column contract_number: V20000011 already appears on line 2; list each contract once"]


def test_a_contract_cannot_move_to_another_customer(database_url: str, tmp_path: Path) -> None:
    _import(database_url, _write(tmp_path / "first.csv", [_row()]))
    path = _write(tmp_path / "move.csv", [_row(customer_number="K200002", email="x@mail.example")])
    errors = _errors(database_url, path)
    assert errors == ["line 2, column contract_number: V20000011 belongs to customer K200001 in the records, not "
                      "K200002; a contract cannot move to another customer by import"]
    assert _counts(database_url) == (1, 1)


def test_an_unquoted_decimal_comma_in_a_comma_file(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(",".join(REQUIRED_COLUMNS) + "\n" + ",".join(_row(monthly_price="19,99").values()) + "\n",
                    encoding="utf-8")
    [error] = _errors(database_url, path)
    assert error.startswith("line 2: has 15 values but the header has 14 columns; a value containing the delimiter")


def test_many_errors_are_summarised(database_url: str, tmp_path: Path) -> None:
    rows = [_row(customer_number=f"K2000{n:02d}", contract_number=f"V200000{n:02d}", postcode="123")
            for n in range(25)]
    with pytest.raises(CsvImportError) as caught:
        _import(database_url, _write(tmp_path / "crm.csv", rows))

    error = caught.value
    assert isinstance(error, ValueError) and len(error.errors) == 25
    text = str(error)
    assert text.startswith("CSV import failed with 25 errors; nothing was imported.")
    assert "line 2, column postcode: '123' is not a 5-digit postcode" in text
    assert "line 21, column postcode" in text and "line 22, column postcode" not in text
    assert text.endswith("... and 5 more")


def test_a_missing_header_column(database_url: str, tmp_path: Path) -> None:
    columns = [c for c in REQUIRED_COLUMNS if c not in ("email", "plan_code")]
    errors = _errors(database_url, _write(tmp_path / "crm.csv", [_row()], columns=columns))
    assert len(errors) == 1
    assert errors[0].startswith("line 1: the header is missing the columns email, plan_code; the first line must "
                                "name the columns customer_number, first_name")


def test_a_file_without_header_line(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(";".join(_row().values()) + "\n", encoding="utf-8")
    [error] = _errors(database_url, path)
    assert re.match(r"line 1: the header is missing the columns customer_number, first_name, .*notice_period_months;",
                    error)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n  \n"])
def test_an_empty_file(database_url: str, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(content)
    [error] = _errors(database_url, path)
    assert error.startswith("the file is empty; it needs a header line naming the columns customer_number")


def test_a_header_without_rows(database_url: str, tmp_path: Path) -> None:
    assert _errors(database_url, _write(tmp_path / "crm.csv", [])) == [
        "the file has a header but no data rows; add one line per contract"]


def test_a_nonexistent_path(database_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "crm.csv"
    with pytest.raises(CsvImportError) as caught:
        _import(database_url, missing)
    assert caught.value.errors == [f"file not found: {missing}; check the path and try again"]
    assert str(missing) in str(caught.value)
    assert _errors(database_url, str(missing)) == caught.value.errors


def test_a_file_that_is_not_utf8(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes((",".join(REQUIRED_COLUMNS) + "\n" + ",".join(_row().values()) + "\n").encode("latin-1"))
    [error] = _errors(database_url, path)
    assert error.startswith("the file is not UTF-8") and "CSV UTF-8" in error
    assert _counts(database_url) == (0, 0)
