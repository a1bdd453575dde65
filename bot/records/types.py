"""Column types shared by the tables.

`UtcDateTime`: a point in time for legal records. Only timezone-aware datetimes are accepted (a naive
one is a bug: whose local time?); they are stored in UTC (PostgreSQL `timestamptz`; SQLite keeps the
UTC wall time, having no zone type) and always come back timezone-aware in UTC. Show them in
Europe/Berlin with `bot.retention.formatting`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone was about to be stored."""


class UtcDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                f"store timezone-aware times only (e.g. datetime.now(timezone.utc)), got {value!r}")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
