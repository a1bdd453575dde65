"""Console accounts (bot/handoff/users.py) on real SQLite and PostgreSQL: argon2 hashes, no default account,
logins that do not tell which part was wrong, and rate limits per user name and per client.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from bot.handoff.users import InvalidUser, LoginLimits, TooManyAttempts, authenticate, create_user
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.migrations import upgrade_to_head
from bot.records.models import LoginAttempt, StaffUser

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
PASSWORD = "korrekt Pferd Batterie"
LIMITS = LoginLimits(max_failures_per_user=5, max_failures_per_client=20, window=timedelta(minutes=15))


def _create(url: str, username: str = "anna", *, role: str = "agent", password: str = PASSWORD) -> int:
    with transaction(url) as session:
        return create_user(session, username=username, first_name="Anna", password=password, role=role, now=T0).id


def _login(url: str, username: str, password: str, *, client: str = "203.0.113.7",
           now: datetime = T0) -> StaffUser | None:
    with transaction(url) as session:
        return authenticate(session, username=username, password=password, client_key=client, now=now, limits=LIMITS)


def test_there_is_no_default_account(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade_to_head(url)
    with transaction(url) as session:
        seed_demo_customers(session, count=5, seed=1, today=date(2026, 12, 1))
    with transaction(url) as session:
        assert session.scalar(select(func.count()).select_from(StaffUser)) == 0
        for username, password in (("admin", "admin"), ("admin", "password"), ("agent", "agent")):
            assert authenticate(session, username=username, password=password, client_key="c", now=T0,
                                limits=LIMITS) is None


def test_passwords_are_stored_as_argon2_hashes(database_url: str) -> None:
    user_id = _create(database_url, "Anna.Schmidt", role="supervisor")
    with transaction(database_url) as session:
        user = session.get(StaffUser, user_id)
        assert (user.username, user.first_name, user.role, user.active) == ("anna.schmidt", "Anna", "supervisor", True)
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert PasswordHasher().verify(user.password_hash, PASSWORD)
    other = _create(database_url, "ben", password=PASSWORD)
    with transaction(database_url) as session:
        assert session.get(StaffUser, other).password_hash != user.password_hash, "salted"


@pytest.mark.parametrize(("fields", "message"), [
    ({"password": "elf Zeichen"}, "at least 12 characters"),
    ({"password": ""}, "at least 12 characters"),
    ({"password": "x" * 1025}, "at most 1024"),
    ({"role": "admin"}, "role must be one of agent, supervisor, marketer"),
    ({"username": "a"}, "user names are 3 to 80 characters"),
    ({"username": "anna schmidt"}, "user names are 3 to 80 characters"),
    ({"username": "<script>"}, "user names are 3 to 80 characters"),
    ({"first_name": "  "}, "a first name"),
])
def test_users_that_cannot_be_created_are_refused_with_the_reason(sqlite_database_url: str, fields: dict,
                                                                   message: str) -> None:
    values = {"username": "anna", "first_name": "Anna", "password": PASSWORD, "role": "agent"} | fields
    with transaction(sqlite_database_url) as session:
        with pytest.raises(InvalidUser, match=message):
            create_user(session, now=T0, **values)
        assert session.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_a_user_name_is_taken_whatever_its_case(database_url: str) -> None:
    _create(database_url, "anna")
    with transaction(database_url) as session:
        with pytest.raises(InvalidUser, match="'anna' is taken"):
            create_user(session, username=" ANNA ", first_name="Anna", password=PASSWORD, role="agent", now=T0)


def test_login_with_the_right_password_and_any_case_of_the_name(database_url: str) -> None:
    user_id = _create(database_url)
    assert _login(database_url, "Anna", PASSWORD).id == user_id
    with transaction(database_url) as session:
        attempt = session.scalars(select(LoginAttempt)).one()
        assert (attempt.username, attempt.client_key, attempt.succeeded, attempt.attempted_at) == (
            "anna", "203.0.113.7", True, T0)


def test_wrong_password_unknown_and_inactive_user_look_the_same(database_url: str) -> None:
    _create(database_url)
    _create(database_url, "olaf")
    with transaction(database_url) as session:
        session.scalars(select(StaffUser).where(StaffUser.username == "olaf")).one().active = False

    def timed(username: str, password: str) -> tuple[object, float]:
        began = time.process_time()  # CPU time of this process: robust against a busy machine
        result = _login(database_url, username, password)
        return result, time.process_time() - began

    outcomes = {case: [timed(*case) for _ in range(3)] for case in
                (("anna", "falsches Passwort"), ("niemand", "falsches Passwort"), ("olaf", PASSWORD))}
    assert all(result is None for runs in outcomes.values() for result, _ in runs)
    fastest = {case: min(seconds for _, seconds in runs) for case, runs in outcomes.items()}
    # All three do the same argon2 work: none is markedly cheaper (an unknown name is not a shortcut).
    assert min(fastest.values()) > 0.5 * max(fastest.values()), fastest
    with transaction(database_url) as session:
        failed = session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
        assert [(a.username, a.succeeded) for a in failed] == [
            ("anna", False)] * 3 + [("niemand", False)] * 3 + [("olaf", False)] * 3


def test_five_failures_lock_the_user_name_even_for_the_right_password(database_url: str) -> None:
    _create(database_url)
    for n in range(5):
        assert _login(database_url, "anna", f"falsch {n}", client=f"10.0.0.{n}", now=T0 + timedelta(minutes=n)) is None
    with pytest.raises(TooManyAttempts, match="Zu viele fehlgeschlagene Anmeldungen") as raised:
        _login(database_url, "anna", PASSWORD, client="10.0.0.99", now=T0 + timedelta(minutes=5))
    # The oldest failure (T0) leaves the 15-minute window at T0 + 15 min: 10 minutes from now.
    assert raised.value.retry_after_seconds == 600 and "in 10 Minuten" in str(raised.value)
    with transaction(database_url) as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 5, "a refused try is not counted"
    assert _login(database_url, "anna", PASSWORD, client="10.0.0.99", now=T0 + timedelta(minutes=15)) is not None


def test_unknown_user_names_are_locked_the_same_way(database_url: str) -> None:
    for n in range(5):
        _login(database_url, "niemand", "falsch", now=T0 + timedelta(seconds=n))
    with pytest.raises(TooManyAttempts):
        _login(database_url, "niemand", "falsch", client="198.51.100.1", now=T0 + timedelta(seconds=9))


def test_a_successful_login_starts_the_user_count_afresh(database_url: str) -> None:
    _create(database_url)
    for n in range(4):
        _login(database_url, "anna", "vertippt", now=T0 + timedelta(seconds=n))
    assert _login(database_url, "anna", PASSWORD, now=T0 + timedelta(seconds=10)) is not None
    for n in range(4):
        assert _login(database_url, "anna", "vertippt", now=T0 + timedelta(seconds=20 + n)) is None
    assert _login(database_url, "anna", PASSWORD, now=T0 + timedelta(seconds=30)) is not None


def test_one_client_trying_many_names_is_stopped_after_twenty_failures(database_url: str) -> None:
    _create(database_url)
    for n in range(20):
        _login(database_url, f"name{n}", "geraten", client="192.0.2.66", now=T0 + timedelta(seconds=n))
    with pytest.raises(TooManyAttempts):
        _login(database_url, "anna", PASSWORD, client="192.0.2.66", now=T0 + timedelta(seconds=30))
    # Another client (the real Anna) is not affected.
    assert _login(database_url, "anna", PASSWORD, client="192.0.2.1", now=T0 + timedelta(seconds=31)) is not None
    # A success of the attacker's own account does not reset the client's count.
    _create(database_url, "mallory")
    with pytest.raises(TooManyAttempts):
        _login(database_url, "mallory", PASSWORD, client="192.0.2.66", now=T0 + timedelta(seconds=40))
    assert _login(database_url, "anna", PASSWORD, client="192.0.2.66", now=T0 + timedelta(minutes=16)) is not None


def test_login_limits_come_from_the_settings() -> None:
    from bot.settings import Settings

    limits = LoginLimits.from_settings(Settings.from_env({"LOGIN_MAX_FAILURES_PER_USER": "3",
                                                         "LOGIN_WINDOW_MINUTES": "30"}))
    assert limits == LoginLimits(3, 20, timedelta(minutes=30))
    with pytest.raises(ValueError, match="LOGIN_MAX_FAILURES_PER_CLIENT must be at least 1"):
        Settings.from_env({"LOGIN_MAX_FAILURES_PER_CLIENT": "0"})
