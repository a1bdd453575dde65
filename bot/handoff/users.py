"""Console accounts: creating them, and logging in with argon2 passwords and rate limits.

There is no default account (`python -m bot.cli create-user` creates them). A wrong password and an
unknown or inactive user name look the same from outside: both return None after the same argon2 work,
and both count as a failed attempt for that user name. After too many failures for a user name or from
one client within the window, `authenticate` raises TooManyAttempts without checking the password.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.records.models import LoginAttempt, StaffUser
from bot.settings import Settings, get_settings

ROLES = ("agent", "supervisor", "marketer")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
_HASHER = PasswordHasher()


class InvalidUser(ValueError):
    """A user that cannot be created as given; the message says why."""


class TooManyAttempts(Exception):
    """Too many failed logins; try again after `retry_after_seconds`."""

    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, math.ceil(retry_after_seconds / 60))
        wait = "einer Minute" if minutes == 1 else f"{minutes} Minuten"
        super().__init__(f"Zu viele fehlgeschlagene Anmeldungen. Bitte versuchen Sie es in {wait} erneut.")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class LoginLimits:
    max_failures_per_user: int = 5
    max_failures_per_client: int = 20
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        return cls(settings.login_max_failures_per_user, settings.login_max_failures_per_client,
                   timedelta(minutes=settings.login_window_minutes))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so that both cases cost the same time."""
    return _HASHER.hash("not a password of anyone: equal work for unknown names")


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def create_user(session: Session, *, username: str, first_name: str, password: str, role: str,
                now: datetime) -> StaffUser:
    """A new active console user; InvalidUser for a taken or malformed name, a short password or unknown role."""
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise InvalidUser("user names are 3 to 80 characters: letters a-z, digits, '.', '_' and '-', "
                          f"starting with a letter or digit; got {username!r}")
    shown_name = (first_name or "").strip()
    if not shown_name or len(shown_name) > 80:
        raise InvalidUser("a first name (1 to 80 characters) is needed: customers see it with the agent's messages")
    if role not in ROLES:
        raise InvalidUser(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidUser(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidUser(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if session.scalars(select(StaffUser.id).where(StaffUser.username == name)).first() is not None:
        raise InvalidUser(f"the user name {name!r} is taken")
    user = StaffUser(username=name, first_name=shown_name, password_hash=hash_password(password), role=role,
                     active=True, created_at=now)
    session.add(user)
    session.flush()
    return user


def _failures(session: Session, *condition, since: datetime) -> list[datetime]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(LoginAttempt.attempted_at).where(
        *condition, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)
        .order_by(LoginAttempt.attempted_at)))


def _check_limits(session: Session, *, username: str, client_key: str, now: datetime, limits: LoginLimits) -> None:
    since = now - limits.window
    last_success = session.scalar(select(func.max(LoginAttempt.attempted_at)).where(
        LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)))
    # A successful login starts the count for that user name afresh, not for the client.
    user_since = max(since, last_success) if last_success is not None and last_success > since else since
    for failures, limit in ((_failures(session, LoginAttempt.username == username, since=user_since),
                             limits.max_failures_per_user),
                            (_failures(session, LoginAttempt.client_key == client_key, since=since),
                             limits.max_failures_per_client)):
        if len(failures) >= limit:
            oldest_counted = failures[len(failures) - limit]
            raise TooManyAttempts(max(1, math.ceil((oldest_counted + limits.window - now).total_seconds())))


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, *, username: str, password: str, client_key: str, now: datetime,
                 limits: LoginLimits | None = None) -> StaffUser | None:
    """The active user with this name and password, else None (the reason is not told); every attempt is recorded.

    Raises TooManyAttempts when the user name or the client has had too many failures in the window.
    """
    limits = limits or LoginLimits.from_settings(get_settings())
    name = normalise_username(username)[:80]
    client = (client_key or "unknown")[:200]
    _check_limits(session, username=name, client_key=client, now=now, limits=limits)
    user = session.scalars(select(StaffUser).where(StaffUser.username == name)).first()
    if user is None or not user.active:
        _password_matches(_dummy_hash(), password or "")
        matched = False
    else:
        matched = _password_matches(user.password_hash, password or "")
    session.add(LoginAttempt(username=name, client_key=client, succeeded=matched, attempted_at=now))
    if not matched:
        session.flush()
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    return user
