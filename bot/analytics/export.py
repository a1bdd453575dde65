"""CSV export of the conversation facts for the dashboard's filters (period, channel, chart segment).

The facts hold no message text (only codes, counts and times), so what identifies a person is the customer
reference: for marketers (`masked`) the export names no customer; supervisors also get the customer number.
Every text cell that a spreadsheet would read as a formula (starting with = + - @, tab or carriage return)
is prefixed with an apostrophe (OWASP "CSV injection"). Semicolon-separated with a BOM, as German spreadsheet programs expect.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analytics.dashboard_saves import save_status_case, with_contract
from bot.analytics.drilldown import Selection, conversation_condition
from bot.analytics.period import Period
from bot.analytics.sql import iso_utc_text
from bot.records.models import ConversationFact, Customer
from bot.records.types import UtcDateTime

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("conversation_id", "channel", "started_at", "ended_at", "segment", "messages", "intents",
           "dissatisfaction_peak", "cancellation_intent", "reason", "offer_code", "offer_kind", "offer_value_cents",
           "offer_cost_cents", "outcome", "save_status", "cancelled_at", "handoff_wait_seconds",
           "handoff_handling_seconds", "fallbacks", "rating")
BATCH = 2000


def neutralised(value: Any) -> Any:
    """A cell as written: text starting like a formula gets a leading apostrophe; times in ISO format."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_AS_IS = frozenset({int, float, type(None)})


def _neutralised_row(values: Iterable[Any]) -> list[Any]:
    """`neutralised` of every cell, with the common cells (numbers, empty, text) decided inline: the export of a
    month is some 170,000 cells, and a function call per cell was half its time."""
    return [value if (kind := value.__class__) in _AS_IS
            else ("'" + value if value.startswith(FORMULA_STARTS) else value) if kind is str
            else neutralised(value) for value in values]


def fact_rows(session: Session, period: Period, selection: Selection, *, today: date, hold_days: int,
              masked: bool) -> Iterator[list[Any]]:
    """The selected facts as CSV rows (header first), oldest first, read in batches."""
    fact = ConversationFact
    as_text = session.get_bind().dialect.name == "sqlite"  # times formatted by SQLite (bot/analytics/sql.py)
    columns = [iso_utc_text(column).label(name) if as_text and isinstance(column.type, UtcDateTime) else column
               for name in COLUMNS if name != "save_status" for column in (getattr(fact, name),)]
    columns.insert(COLUMNS.index("save_status"), save_status_case(today=today, hold_days=hold_days))
    statement = with_contract(select(*columns, Customer.customer_number).select_from(fact)) \
        .outerjoin(Customer, Customer.id == fact.customer_id) \
        .where(conversation_condition(period, selection)).order_by(fact.started_at, fact.id) \
        .execution_options(yield_per=BATCH)
    yield list(COLUMNS) if masked else [*COLUMNS, "customer_number"]
    # Core rows (the ORM's row processing adds nothing to plain columns).
    for row in session.connection().execute(statement):
        yield _neutralised_row(row if not masked else row[:-1])


def to_csv(rows: Iterable[list[Any]]) -> str:
    """The rows as CSV text (semicolons, BOM, CRLF)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()
