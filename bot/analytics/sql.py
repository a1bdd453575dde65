"""SQL expressions the dashboard's aggregates need that SQLite and PostgreSQL spell differently."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class utc_day(FunctionElement):  # noqa: N801 - a SQL function
    """The UTC day of a timestamp column ('YYYY-MM-DD' text on SQLite, a date on PostgreSQL: compare str())."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC wall time as ISO text (bot/records/types.py): the day is its first ten characters.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    # A date (cheaper than to_char); str() of it is the same 'YYYY-MM-DD'.
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


class epoch_seconds(FunctionElement):  # noqa: N801 - a SQL function
    """Seconds since 1970-01-01 UTC of a timestamp column."""

    type = Float()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


class whole(FunctionElement):  # noqa: N801 - a SQL function
    """A non-negative number rounded down to an integer."""

    type = Integer()
    inherit_cache = True


@compiles(whole, "sqlite")
def _whole_sqlite(element: whole, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@compiles(whole, "postgresql")
def _whole_postgresql(element: whole, compiler: Any, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS INTEGER)"


class iso_utc_text(FunctionElement):  # noqa: N801 - a SQL function
    """SQLite only: a UtcDateTime column as the text `datetime.isoformat()` gives for its value (UTC, '+00:00',
    no fraction when it is zero), formatted by SQLite from the stored 'YYYY-MM-DD HH:MM:SS.ffffff' text, which
    saves the CSV export a datetime parse and format per cell."""

    type = String()
    inherit_cache = True


@compiles(iso_utc_text, "sqlite")
def _iso_utc_text_sqlite(element: iso_utc_text, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (f"(CASE WHEN substr({column}, 20) IN ('', '.000000') THEN substr({column}, 1, 10) || 'T' || "
            f"substr({column}, 12, 8) || '+00:00' ELSE substr({column}, 1, 10) || 'T' || substr({column}, 12) || "
            f"'+00:00' END)")


class unindexed(FunctionElement):  # noqa: N801 - a SQL function
    """A column whose condition (or grouping) SQLite must not serve from an index (`+column`), so that it picks the
    index meant for the query (bot/analytics/charts.py: breakdown, top_fallbacks); the column itself elsewhere."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(unindexed)
def _unindexed_default(element: unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"
