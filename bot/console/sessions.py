"""Server-side login sessions of the agent console (plain functions over `console_sessions`).

The browser keeps a random token (32 bytes) in an HttpOnly, SameSite=Strict cookie; the table keeps its
SHA-256 only. Each session has its own CSRF token (bot/console/csrf.py). A session is valid while it has
not been ended (logout), was used within the idle timeout, is younger than the maximum lifetime, and its
user is still active.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.records.models import ConsoleSession, StaffUser


@dataclass(frozen=True)
class Lifetime:
    """How long a console session lasts: idle timeout and maximum age."""

    idle: timedelta
    maximum: timedelta


@dataclass(frozen=True)
class Login:
    """The user behind a valid session, as the pages need them (plain values, no ORM row)."""

    session_id: int
    user_id: int
    username: str
    first_name: str
    role: str
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, *, user_id: int, now: datetime, lifetime: Lifetime | None = None) -> str:
    """A new session for the user; returns the token for the cookie (never stored as such).

    With `lifetime`, sessions that can no longer be valid (older than its maximum) are deleted on the way.
    """
    if lifetime is not None:
        session.execute(delete(ConsoleSession).where(ConsoleSession.created_at < now - lifetime.maximum))
    token = secrets.token_urlsafe(32)
    session.add(ConsoleSession(token_hash=_digest(token), user_id=user_id, csrf_token=secrets.token_urlsafe(32),
                               created_at=now, last_seen_at=now))
    session.flush()
    return token


def valid_login(session: Session, *, token: str | None, lifetime: Lifetime, now: datetime,
                touch: bool = True) -> Login | None:
    """The login for a cookie token, or None when there is none, it ended or expired, or the user is inactive.

    With `touch`, the idle timeout starts again (every request of the console does this).
    """
    if not token or len(token) > 200:
        return None
    row = session.scalars(select(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))).first()
    if row is None or row.ended_at is not None:
        return None
    if now - row.last_seen_at > lifetime.idle or now - row.created_at > lifetime.maximum:
        row.ended_at = now
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    if touch:
        row.last_seen_at = now
    return Login(session_id=row.id, user_id=user.id, username=user.username, first_name=user.first_name,
                 role=user.role, csrf_token=row.csrf_token)


def end_session(session: Session, *, token: str | None, now: datetime) -> None:
    """Log out: the session's token is no longer accepted."""
    if token:
        session.execute(update(ConsoleSession).where(ConsoleSession.token_hash == _digest(token),
                                                     ConsoleSession.ended_at.is_(None)).values(ended_at=now))
