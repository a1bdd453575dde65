"""Legal times (issue 7, finding 5): timezone-aware UTC in storage on both backends, Europe/Berlin when shown,
the customer's "today" is the Berlin date, and migration 0004 turns old naive rows into the right UTC time."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import StatementError

from actions.common import now
from bot.assistant.cancellation import cancel_contract
from bot.records.database import transaction
from bot.records.migrations import _config, upgrade_to_head
from bot.records.models import Cancellation, Complaint, OutboxEmail
from bot.records.types import NaiveDatetimeError
from bot.retention.formatting import berlin_date, german_datetime
from tests.conftest import PG_ADMIN_URL, PG_DATABASE
from tests.factories import add_customer

UTC = timezone.utc


def test_now_is_aware_utc() -> None:
    moment = now()
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def test_times_are_stored_and_read_back_aware_in_utc(database_url: str) -> None:
    summer = datetime(2026, 7, 1, 11, 45, 30, tzinfo=UTC)
    with transaction(database_url) as session:
        customer = add_customer(session, number="K400001", plan_code="MOBIL_M")
        # A time given in another zone is the same instant.
        berlin_noon = datetime(2026, 12, 1, 13, 45, tzinfo=timezone(timedelta(hours=1)))
        session.add(Complaint(customer_id=customer.id, created_at=berlin_noon, category="technical"))
        cancel_contract(session, customer_id=customer.id, contract_id=customer.contracts[0].id, reason=None, conversation_id="c1", declined_offer_code=None,
                        now=summer, company="Nordstern Telekom")
    with transaction(database_url) as session:
        complaint = session.scalars(select(Complaint)).one()
        assert complaint.created_at == datetime(2026, 12, 1, 12, 45, tzinfo=UTC)
        assert complaint.created_at.utcoffset() == timedelta(0)
        cancellation = session.scalars(select(Cancellation)).one()
        assert cancellation.requested_at == summer and cancellation.requested_at.tzinfo is not None
        assert session.scalars(select(OutboxEmail)).one().created_at == summer


def test_a_naive_time_is_refused_and_nothing_is_stored(database_url: str) -> None:
    with pytest.raises(StatementError) as raised:
        with transaction(database_url) as session:
            customer = add_customer(session, number="K400002", plan_code="MOBIL_M")
            session.add(Complaint(customer_id=customer.id, created_at=datetime(2026, 12, 1, 13, 45),
                                  category="technical"))
            session.flush()
    assert isinstance(raised.value.orig, NaiveDatetimeError)
    with transaction(database_url) as session:
        assert session.scalars(select(Complaint)).all() == []


@pytest.mark.parametrize(("utc", "shown"), [
    (datetime(2026, 12, 1, 12, 45, tzinfo=UTC), "01.12.2026 um 13:45 Uhr"),       # winter: CET, UTC+1
    (datetime(2026, 7, 1, 12, 45, tzinfo=UTC), "01.07.2026 um 14:45 Uhr"),        # summer: CEST, UTC+2
    (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "29.03.2026 um 01:59 Uhr"),        # last minute of winter time
    (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29.03.2026 um 03:00 Uhr"),         # clocks go forward
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25.10.2026 um 02:30 Uhr"),       # 02:30 CEST ...
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25.10.2026 um 02:30 Uhr"),       # ... and 02:30 CET again
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "01.01.2027 um 00:30 Uhr"),      # already next year in Berlin
])
def test_times_are_shown_in_berlin_time(utc: datetime, shown: str) -> None:
    assert german_datetime(utc) == shown


def test_a_naive_time_cannot_be_shown() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        german_datetime(datetime(2026, 12, 1, 13, 45))


def test_today_is_the_berlin_date_around_midnight(database_url: str) -> None:
    # 23:30 UTC on 31 Dec is 00:30 on 1 Jan in Berlin: the cancellation is received on 1 Jan, so with one
    # month's notice it ends on 1 Feb (on 31 Dec it would have ended on 31 Jan).
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert berlin_date(late) == date(2027, 1, 1)
    with transaction(database_url) as session:
        customer = add_customer(session, number="K400003", plan_code="MOBIL_M", minimum_term_end=date(2025, 1, 1))
        done = cancel_contract(session, customer_id=customer.id, contract_id=customer.contracts[0].id, reason=None, conversation_id="c2",
                               declined_offer_code=None, now=late, company="Nordstern Telekom")
        assert "01.01.2027 um 00:30 Uhr" in done.reply.text
    with transaction(database_url) as session:
        assert session.scalars(select(Cancellation)).one().effective_date == date(2027, 2, 1)


# --- migration 0004 of rows written before it --------------------------------------------------------------

def _fresh_postgres(name: str) -> str:
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as error:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {error}")
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0002(request: pytest.FixtureRequest, tmp_path) -> str:
    url = (f"sqlite:///{tmp_path / 'old.db'}" if request.param == "sqlite"
           else _fresh_postgres(f"{PG_DATABASE}_migration"))
    command.upgrade(_config(url), "0002")
    return url


def test_migration_reads_old_naive_times_as_berlin_time(database_at_0002: str) -> None:
    engine = create_engine(database_at_0002)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO customers (id, customer_number, first_name, last_name, email, postcode, birth_date, "
            "language, segment, customer_since) VALUES (1, 'K400009', 'Erika', 'Alt', 'alt@mail.example', "
            "'10115', '1980-01-01', 'de', 'standard', '2020-01-01')"))
        connection.execute(text(
            "INSERT INTO plans (id, code, name, category, tier, monthly_price_cents, description, active) "
            "VALUES (1, 'OLD', 'Alt', 'mobile', 1, 1000, '', true)"))
        connection.execute(text(
            "INSERT INTO contracts (id, contract_number, customer_id, plan_id, monthly_price_cents, start_date, "
            "minimum_term_end, notice_period_months, status, discount_percent) VALUES (1, 'V400009', 1, 1, 1000, "
            "'2024-01-01', '2026-01-01', 1, 'cancelled', 0)"))
        # Written by the old code with datetime.now(): Berlin wall time, once in winter and once in summer.
        connection.execute(text(
            "INSERT INTO cancellations (id, contract_id, customer_id, requested_at, effective_date, "
            "confirmation_number, channel) VALUES (1, 1, 1, '2026-01-15 13:45:00', '2026-02-15', 'KB-OLD00001', 'chat')"))
        connection.execute(text(
            "INSERT INTO outbox_emails (id, recipient, subject, body, created_at, sent_at) VALUES "
            "(1, 'alt@mail.example', 'Bestätigung', 'Text', '2026-07-15 13:45:00', NULL)"))
    engine.dispose()

    upgrade_to_head(database_at_0002)

    with transaction(database_at_0002) as session:
        cancellation = session.get(Cancellation, 1)
        assert cancellation.requested_at == datetime(2026, 1, 15, 12, 45, tzinfo=UTC)  # CET
        assert german_datetime(cancellation.requested_at) == "15.01.2026 um 13:45 Uhr"
        assert cancellation.kind == "ordinary" and cancellation.requested_date is None
        email = session.get(OutboxEmail, 1)
        assert email.created_at == datetime(2026, 7, 15, 11, 45, tzinfo=UTC)  # CEST
        assert email.sent_at is None
    if database_at_0002.startswith("postgresql"):
        engine = create_engine(database_at_0002)
        with engine.connect() as connection:
            kind = connection.execute(text(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'cancellations' "
                "AND column_name = 'requested_at'")).scalar_one()
        engine.dispose()
        assert kind == "timestamp with time zone"
