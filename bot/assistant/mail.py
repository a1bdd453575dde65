"""E-mail through a transactional outbox: queued with the change it reports, delivered after commit.

With SMTP_HOST set, `deliver` sends over SMTP; without, the message stays in the outbox table.
A delivery that fails (SMTP server down, refused, timed out) is not lost: the e-mail stays queued
with the error and the time of its next try, which backs off exponentially (OUTBOX_RETRY_BASE_SECONDS
doubling up to OUTBOX_RETRY_MAX_SECONDS). The running service retries it (`bot.outbox_worker`), and
`python -m bot.cli outbox` shows what is waiting. § 312k BGB wants the confirmation "without delay".

Each try first claims the e-mail in its own short transaction (attempts + 1, next try pushed past a
lease), so the action server and the worker never send the same e-mail at the same time, and no
database transaction stays open while the SMTP server is slow.
"""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.records.database import transaction
from bot.records.models import OutboxEmail
from bot.settings import Settings

logger = logging.getLogger(__name__)

# How long one claimed try may take before another process may try the same e-mail again.
CLAIM_LEASE = timedelta(minutes=2)
SMTP_TIMEOUT_S = 10


def queue_email(session: Session, *, recipient: str, subject: str, body: str, now: datetime) -> OutboxEmail:
    email = OutboxEmail(recipient=recipient, subject=subject, body=body, created_at=now, attempts=0)
    session.add(email)
    session.flush()
    return email


def retry_delay(attempts: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """The wait after the `attempts`-th failed try: base, 2 × base, 4 × base, … at most max."""
    if attempts < 1:
        return timedelta(0)
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** min(attempts - 1, 30)))


@dataclass(frozen=True)
class _Claimed:
    recipient: str
    subject: str
    body: str
    attempts: int


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now)


def _claim(session: Session, outbox_email_id: int, *, now: datetime, force: bool) -> _Claimed | None:
    condition = [OutboxEmail.id == outbox_email_id, OutboxEmail.sent_at.is_(None)]
    if not force:
        condition.append(_due(now))
    result = session.execute(
        update(OutboxEmail).where(*condition)
        .values(attempts=OutboxEmail.attempts + 1, next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    email = session.get(OutboxEmail, outbox_email_id, populate_existing=True)
    return _Claimed(email.recipient, email.subject, email.body, email.attempts)


def _send(settings: Settings, claimed: _Claimed) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = claimed.recipient
    message["Subject"] = claimed.subject
    message.set_content(claimed.body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


def deliver(settings: Settings, *, outbox_email_id: int, now: datetime, force: bool = False) -> bool:
    """Try to send one queued e-mail now; True when it was sent by this call.

    False when no SMTP server is configured, when it was sent already, when its next try is not due
    yet (unless `force`) or another process is trying it, and when sending failed: then the error and
    the time of the next try are stored.
    """
    if not settings.smtp_host:
        return False
    with transaction(settings.database_url) as session:
        claimed = _claim(session, outbox_email_id, now=now, force=force)
    if claimed is None:
        return False
    try:
        _send(settings, claimed)
    except (OSError, smtplib.SMTPException) as error:
        delay = retry_delay(claimed.attempts, base_seconds=settings.outbox_retry_base_seconds,
                            max_seconds=settings.outbox_retry_max_seconds)
        with transaction(settings.database_url) as session:
            session.execute(update(OutboxEmail).where(OutboxEmail.id == outbox_email_id).values(
                last_error=f"{error.__class__.__name__}: {error}"[:300], next_attempt_at=now + delay)
                .execution_options(synchronize_session=False))
        logger.warning("E-mail %s stays in the outbox: SMTP delivery failed (try %d, next in %s): %s",
                       outbox_email_id, claimed.attempts, delay, error)
        return False
    with transaction(settings.database_url) as session:
        session.execute(update(OutboxEmail).where(OutboxEmail.id == outbox_email_id).values(
            sent_at=now, next_attempt_at=None, last_error=None).execution_options(synchronize_session=False))
    if claimed.attempts > 1:
        logger.info("E-mail %s delivered on try %d", outbox_email_id, claimed.attempts)
    return True


@dataclass(frozen=True)
class DeliveryRound:
    sent: int
    failed: int


def deliver_waiting(settings: Settings, *, now: datetime, force: bool = False, limit: int = 100) -> DeliveryRound:
    """Try every unsent e-mail whose next try is due (with `force`: every unsent one), oldest first."""
    if not settings.smtp_host:
        return DeliveryRound(0, 0)
    with transaction(settings.database_url) as session:
        query = select(OutboxEmail.id).where(OutboxEmail.sent_at.is_(None))
        if not force:
            query = query.where(_due(now))
        ids = list(session.scalars(query.order_by(OutboxEmail.id).limit(limit)))
    sent = sum(deliver(settings, outbox_email_id=i, now=now, force=force) for i in ids)
    return DeliveryRound(sent=sent, failed=len(ids) - sent)


def waiting_emails(session: Session) -> list[OutboxEmail]:
    """Every e-mail not delivered yet, oldest first."""
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.sent_at.is_(None)).order_by(OutboxEmail.id)))
