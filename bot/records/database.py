"""The one way to get a database engine and session."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import get_settings


class RecordsUnavailable(RuntimeError):
    """The customer records cannot be reached (database down or misconfigured)."""


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; SQLite gets foreign keys and a busy timeout."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, future=True, connect_args={"timeout": 15, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(
        database_url,
        future=True,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": 5} if database_url.startswith("postgresql") else {},
    )


@lru_cache(maxsize=8)
def _session_factory(database_url: str) -> sessionmaker:
    return sessionmaker(bind=make_engine(database_url), future=True, expire_on_commit=False)


def session_factory(database_url: str | None = None) -> sessionmaker:
    """The process-wide session factory for a database URL (created on first use)."""
    return _session_factory(database_url or get_settings().database_url)


@contextmanager
def transaction(database_url: str | None = None) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with session_factory(database_url).begin() as session:
        yield session
