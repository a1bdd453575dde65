"""Limits on verification attempts across conversations and channels, kept in the database.

A conversation's own attempt counter lives in a slot, so a new conversation would start it afresh.
These limits do not: every check of a customer number plus postcode or birth date is recorded in
`verification_attempts`, and

- after `max_failures` failed attempts for one customer number within `window` (counted since the
  last successful verification or the end of the last lock, whichever is later), verification of
  that number through the assistant is locked for `lock_for`;
- after `client_max_failures` failed attempts from one client (the peer address the channel reports,
  else the conversation) within `client_window`, across all numbers, that client is locked for
  `client_lock_for` (against trying many numbers; a success does not reset this count).

Locks are rows in `verification_locks`, for agents to see (and release). A number that no customer
has is counted and locked exactly like an existing one, so the answers never reveal whether it exists.
While a lock holds, nothing is checked: even the right postcode or birth date does not verify.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.assistant.verification import Secret, verify
from bot.records.models import VerificationAttempt, VerificationLock
from bot.settings import Settings

VERIFIED, FAILED, REFUSED = "verified", "failed", "refused"
CLIENT_KEY_MAX = 200


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    window: timedelta = timedelta(hours=24)
    lock_for: timedelta = timedelta(hours=24)
    client_max_failures: int = 10
    client_window: timedelta = timedelta(hours=1)
    client_lock_for: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_failures=settings.verification_max_failures,
            window=timedelta(hours=settings.verification_window_hours),
            lock_for=timedelta(hours=settings.verification_lock_hours),
            client_max_failures=settings.verification_client_max_failures,
            client_window=timedelta(minutes=settings.verification_client_window_minutes),
            client_lock_for=timedelta(minutes=settings.verification_client_lock_minutes),
        )


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: verified (with the customer's id), failed, or locked.

    `locked` is true when the attempt was refused because of a lock, or when this failure locked.
    """

    result: Literal["verified", "failed", "locked"]
    customer_id: int | None = None

    @property
    def locked(self) -> bool:
        return self.result == "locked"


def client_key(client_address: object, conversation_id: str) -> str:
    """Who is trying: the peer address the channel put in the message metadata, else the conversation."""
    if isinstance(client_address, str) and client_address.strip():
        return f"address:{client_address.strip()}"[:CLIENT_KEY_MAX]
    return f"conversation:{conversation_id}"[:CLIENT_KEY_MAX]


def active_lock(session: Session, *, customer_number: str | None, client: str, now: datetime) -> VerificationLock | None:
    """The lock that holds now for this customer number or this client, if any."""
    subject = VerificationLock.client_key == client
    if customer_number is not None:
        subject = or_(subject, VerificationLock.customer_number == customer_number)
    return session.scalars(
        select(VerificationLock)
        .where(subject, VerificationLock.locked_until > now, VerificationLock.released_at.is_(None))
        .order_by(VerificationLock.locked_until.desc())
    ).first()


def _counting_from(session: Session, customer_number: str, now: datetime, window: timedelta) -> datetime:
    """Failures of a number count from the latest of: window start, last success, end of the last lock."""
    start = now - window
    last_success = session.scalar(select(func.max(VerificationAttempt.attempted_at)).where(
        VerificationAttempt.customer_number == customer_number, VerificationAttempt.outcome == VERIFIED))
    ended_locks = session.scalars(select(VerificationLock).where(
        VerificationLock.customer_number == customer_number,
        or_(VerificationLock.locked_until <= now, VerificationLock.released_at.is_not(None)))).all()
    lock_ends = [min(lock.locked_until, lock.released_at or lock.locked_until) for lock in ended_locks]
    return max([start, *(t for t in (last_success, *lock_ends) if t is not None)])


def _failures(session: Session, *, since: datetime, customer_number: str | None = None,
              client: str | None = None) -> int:
    query = select(func.count(VerificationAttempt.id)).where(
        VerificationAttempt.outcome == FAILED, VerificationAttempt.attempted_at > since)
    if customer_number is not None:
        query = query.where(VerificationAttempt.customer_number == customer_number)
    if client is not None:
        query = query.where(VerificationAttempt.client_key == client)
    return int(session.scalar(query) or 0)


def _lock(session: Session, *, customer_number: str | None, client: str | None, failures: int,
          conversation_id: str, now: datetime, lock_for: timedelta) -> VerificationLock:
    lock = VerificationLock(customer_number=customer_number, client_key=client, locked_at=now,
                            locked_until=now + lock_for, failures=failures, conversation_id=conversation_id)
    session.add(lock)
    session.flush()
    return lock


def checked_verification(session: Session, *, customer_number: str, secret: Secret, client: str,
                         conversation_id: str, now: datetime, limits: Limits) -> Outcome:
    """Check number and secret unless a lock holds; record the attempt and lock when a limit is reached."""

    def record(outcome: str) -> None:
        session.add(VerificationAttempt(customer_number=customer_number, client_key=client, outcome=outcome,
                                        attempted_at=now, conversation_id=conversation_id))
        session.flush()

    if active_lock(session, customer_number=customer_number, client=client, now=now) is not None:
        record(REFUSED)
        return Outcome("locked")
    # The same query runs whether or not a customer has this number.
    customer_id = verify(session, customer_number=customer_number, secret=secret)
    if customer_id is not None:
        record(VERIFIED)
        return Outcome("verified", customer_id)
    record(FAILED)
    locked = False
    number_failures = _failures(session, customer_number=customer_number,
                                since=_counting_from(session, customer_number, now, limits.window))
    if number_failures >= limits.max_failures:
        _lock(session, customer_number=customer_number, client=None, failures=number_failures,
              conversation_id=conversation_id, now=now, lock_for=limits.lock_for)
        locked = True
    client_failures = _failures(session, client=client, since=now - limits.client_window)
    if client_failures >= limits.client_max_failures:
        _lock(session, customer_number=None, client=client, failures=client_failures,
              conversation_id=conversation_id, now=now, lock_for=limits.client_lock_for)
        locked = True
    return Outcome("locked") if locked else Outcome("failed")


def release_lock(session: Session, *, lock_id: int, released_by: str, now: datetime) -> VerificationLock:
    """An agent ends a lock early (e.g. after identifying the customer on the phone)."""
    lock = session.get(VerificationLock, lock_id)
    if lock is None:
        raise LookupError(f"no verification lock with id {lock_id}")
    if lock.released_at is None:
        lock.released_at, lock.released_by = now, released_by
        session.flush()
    return lock
