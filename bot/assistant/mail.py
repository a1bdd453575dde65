"""E-mail through a transactional outbox: queued with the change it reports, delivered after commit.

With SMTP_HOST set, `deliver` sends over SMTP; without, the message stays in the outbox table.
"""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from bot.records.database import transaction
from bot.records.models import OutboxEmail
from bot.settings import Settings

logger = logging.getLogger(__name__)


def queue_email(session: Session, *, recipient: str, subject: str, body: str, now: datetime) -> OutboxEmail:
    email = OutboxEmail(recipient=recipient, subject=subject, body=body, created_at=now)
    session.add(email)
    session.flush()
    return email


def deliver(settings: Settings, *, outbox_email_id: int, now: datetime) -> bool:
    """Send one queued e-mail over SMTP and mark it sent; False when no SMTP is configured or sending failed."""
    if not settings.smtp_host:
        return False
    with transaction(settings.database_url) as session:
        email = session.get(OutboxEmail, outbox_email_id)
        if email is None or email.sent_at is not None:
            return False
        message = EmailMessage()
        message["From"] = settings.mail_from
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message.set_content(email.body)
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user and settings.smtp_password:
                    smtp.login(settings.smtp_user, settings.smtp_password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            logger.warning("E-mail %s stays in the outbox: SMTP delivery failed (%s)", outbox_email_id, error)
            return False
        email.sent_at = now
        return True
