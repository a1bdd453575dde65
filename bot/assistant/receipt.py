"""The declaration as a file the customer can keep (§ 312k Abs. 3 BGB), behind a signed, expiring link.

The link names the confirmation number, an expiry time (Unix seconds) and an HMAC-SHA256 signature over
both, made with DOWNLOAD_LINK_SECRET. Whoever has the link can fetch that one confirmation until it
expires; nobody can make a link for another number without the secret.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.cancellation import confirmation_text
from bot.records.models import Cancellation

CONFIRMATION_NUMBER = re.compile(r"KB-[A-Z0-9]{8}")


@dataclass(frozen=True)
class DownloadLink:
    number: str
    expires: int
    token: str

    def path(self) -> str:
        return f"/kuendigung/{quote(self.number)}.txt?" + urlencode({"expires": self.expires, "token": self.token})


def _signature(secret: str, number: str, expires: int) -> str:
    message = f"kuendigung:{number}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_download(secret: str, number: str, *, now: datetime, valid_for: timedelta) -> DownloadLink:
    if not secret:
        raise ValueError("DOWNLOAD_LINK_SECRET is empty")
    expires = int((now + valid_for).timestamp())
    return DownloadLink(number, expires, _signature(secret, number, expires))


def link_is_valid(secret: str | None, number: str, expires: str | None, token: str | None, *,
                  now: datetime) -> bool:
    """Whether the link was made with `secret` for `number` and has not expired."""
    if not secret or not expires or not token or not expires.isdigit():
        return False
    if not hmac.compare_digest(_signature(secret, number, int(expires)), token):
        return False
    return int(expires) > now.timestamp()


def declaration_file(session: Session, *, number: str, company: str) -> str | None:
    """The confirmation of receipt for `number` as plain text, or None when there is no such cancellation."""
    if not CONFIRMATION_NUMBER.fullmatch(number):
        return None
    cancellation = session.scalars(select(Cancellation).where(Cancellation.confirmation_number == number)).first()
    if cancellation is None:
        return None
    # Contracts cancelled with the same declaration ("Alle kündigen") are listed together, as in the e-mail.
    declared_together = list(session.scalars(select(Cancellation).where(
        Cancellation.customer_id == cancellation.customer_id,
        Cancellation.conversation_id == cancellation.conversation_id,
        Cancellation.requested_at == cancellation.requested_at).order_by(Cancellation.id)))
    return (f"Kündigungsbestätigung {company}\n{'=' * 40}\n\n"
            + confirmation_text(company, declared_together or [cancellation])
            + "\nDiese Datei können Sie als Nachweis Ihrer Kündigungserklärung und ihres Eingangs speichern.\n")
