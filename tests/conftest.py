"""Shared fixtures: the records database on SQLite and on the real PostgreSQL server.

Each backend is migrated once per test run; every test starts from empty tables with the
catalog seeded. PostgreSQL tests use their own database (TEST_PG_DATABASE, default
`retention_test`) created on the server at TEST_PG_ADMIN_URL, and are skipped with the reason
shown when that server cannot be reached.
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.records.catalog import ensure_catalog
from bot.records.database import make_engine, transaction
from bot.records.migrations import upgrade_to_head
from bot.records.models import Base
from tests.servers import RunningAssistant, running_assistant, seeded_records

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_DATABASE = os.environ.get("TEST_PG_DATABASE", "retention_test")


def _create_pg_database(name: str = PG_DATABASE) -> str:
    try:
        admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as error:  # any connection problem means: no PostgreSQL here
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error.__class__.__name__}: {error}")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("records") / "records.db"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _create_pg_database()
    upgrade_to_head(url)
    return url


def empty_tables(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    with transaction(url) as session:
        ensure_catalog(session)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty, migrated records database with the catalog, on each backend."""
    url = request.getfixturevalue(f"{request.param}_url" if request.param == "sqlite" else "postgres_url")
    empty_tables(url)
    yield url


@pytest.fixture
def stores(database_url: str, tmp_path: Path) -> tuple[str, str]:
    """The tracker store and the analytics event broker beside `database_url`: SQLite files, or (tracker store)
    the PostgreSQL test database, without a Rasa `events` table left by another test."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'conversations.db'}", f"sqlite:///{tmp_path / 'analytics_events.db'}"
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS events"))
    engine.dispose()
    return database_url, f"sqlite:///{tmp_path / 'analytics_events.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database migrated from nothing for this test alone, on each backend (the shared ones collect what
    other tests add beside the project's tables, e.g. Rasa's event table or SQLite's statistics)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = _create_pg_database(f"{PG_DATABASE}_fresh")
    upgrade_to_head(url)
    return url


@pytest.fixture
def sqlite_database_url(sqlite_url: str) -> str:
    """An empty SQLite records database, for tests where the backend does not matter."""
    empty_tables(sqlite_url)
    return sqlite_url


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    """The Rasa and action servers on free ports and a fresh seeded SQLite database, once per test module."""
    workdir = tmp_path_factory.mktemp("assistant")
    with running_assistant(seeded_records(workdir), workdir, web_app=False) as running:
        yield running


@pytest.fixture(scope="module")
def assistant_with_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    """As `assistant`, with Rasa's HTTP API switched on; every call needs `assistant_with_api.api_headers()`."""
    workdir = tmp_path_factory.mktemp("assistant-api")
    with running_assistant(seeded_records(workdir), workdir, web_app=False, rasa_api=True) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield http
