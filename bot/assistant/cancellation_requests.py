"""Cancelling without verification (§ 312k BGB): name, customer number and the e-mail or postal address on file.

When the assistant cannot identify a customer (verification failed or is locked), the customer can
still declare the cancellation with what identifies them and the contract. It is recorded at once
as received, for an agent to check. The confirmation of receipt goes only to the e-mail address on
file, and only when number and e-mail address match a customer; the chat answer is the same either
way and shows nothing about the customer.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.mail import queue_email
from bot.assistant.replies import Reply
from bot.assistant.verification import normalise_customer_number
from bot.records.models import CancellationRequest, Customer
from bot.retention.declaration import parse_email
from bot.retention.formatting import berlin_time

NAME_MAX, EMAIL_MAX, ADDRESS_MAX = 200, 200, 300


def looks_like_email(text: str | None) -> str | None:
    """The e-mail address in the text (the whole answer, or one address within it), else None."""
    email = parse_email(text)
    return email if email is not None and len(email) <= EMAIL_MAX else None


_POSTCODE = re.compile(r"(?<![0-9])([0-9]{5})(?![0-9])")


def looks_like_postal_address(text: str | None) -> str | None:
    """A German postal address as free text (a street word and a 5-digit postcode), whitespace tidied."""
    address = " ".join((text or "").split())
    if not address or len(address) > ADDRESS_MAX or "@" in address or not _POSTCODE.search(address):
        return None
    if not re.search(r"[^\W\d_]{3,}", address):
        return None
    return address


def clean_contact(text: str | None) -> str | None:
    """The e-mail address in the answer, else a postal address; None when it is neither."""
    return looks_like_email(text) or looks_like_postal_address(text)


def clean_name(text: str | None) -> str | None:
    """The name as given, whitespace tidied; None when empty, too long or without any letter."""
    name = " ".join((text or "").split())
    if not name or len(name) > NAME_MAX or not re.search(r"[^\W\d_]", name):
        return None
    return name


def berlin_date_time(moment: datetime) -> tuple[str, str]:
    """('01.12.2026', '13:45') in Europe/Berlin, for a timezone-aware moment."""
    local = berlin_time(moment)
    return local.strftime("%d.%m.%Y"), local.strftime("%H:%M")


@dataclass(frozen=True)
class Receipt:
    reply: Reply
    reference: str
    outbox_email_id: int | None  # set when a confirmation of receipt was queued (deliver after commit)


def _reference() -> str:
    return f"KE-{secrets.token_hex(4).upper()}"


def _matches(customer: Customer | None, email: str | None, postal_address: str | None) -> bool:
    """Whether the e-mail address, or else the postcode of the postal address, is the one on file."""
    if customer is None:
        return False
    if email:
        return customer.email.strip().casefold() == email.strip().casefold()
    postcode = _POSTCODE.search(postal_address or "")
    return postcode is not None and postcode.group(1) == customer.postcode


def submit_cancellation_request(session: Session, *, customer_number: str, name: str, email: str | None,
                                conversation_id: str, now: datetime, company: str,
                                postal_address: str | None = None) -> Receipt:
    """Record the declaration as received; queue the confirmation of receipt to the e-mail address on file.

    The customer identifies with the e-mail address or, when they do not know it, the postal address on file.
    """
    if not email and not postal_address:
        raise ValueError("a cancellation request needs the e-mail address or the postal address")
    number = normalise_customer_number(customer_number) or customer_number.strip()[:40]
    customer = session.scalars(select(Customer).where(Customer.customer_number == number)).first()
    matched = customer if _matches(customer, email, postal_address) else None
    request = CancellationRequest(reference=_reference(), customer_number=number, name=name, email=email,
                                  postal_address=postal_address, customer_id=matched.id if matched else None,
                                  received_at=now, conversation_id=conversation_id, status="received")
    session.add(request)
    session.flush()
    day, time = berlin_date_time(now)
    outbox_email_id = None
    if matched is not None:
        mail = queue_email(
            session, recipient=matched.email,  # the address on file, never one typed in the chat
            subject=f"Eingangsbestätigung Ihrer Kündigung {request.reference}",
            body=(
                f"Guten Tag {matched.full_name},\n\n"
                f"am {day} um {time} Uhr (deutsche Zeit) ist im Chat von {company} Ihre Kündigung "
                f"eingegangen.\n\n"
                f"Inhalt Ihrer Erklärung: Kündigung Ihres Vertrags bzw. Ihrer Verträge\n"
                f"Name (wie angegeben): {name}\n"
                f"Kundennummer: {number}\n"
                + (f"Anschrift (wie angegeben): {postal_address}\n" if postal_address else "")
                + f"Eingegangen am: {day} um {time} Uhr\n"
                f"Referenznummer: {request.reference}\n\n"
                "Eine Mitarbeiterin oder ein Mitarbeiter prüft Ihre Kündigung. Danach erhalten Sie die "
                "Kündigungsbestätigung mit dem Datum, zu dem die Kündigung wirksam wird.\n\n"
                "Falls Sie diese Kündigung nicht selbst abgegeben haben, antworten Sie bitte auf diese E-Mail.\n\n"
                f"Ihr Kundenservice von {company}"
            ),
            now=now,
        )
        outbox_email_id = mail.id
    reply = Reply(
        f"Vielen Dank. Ihre Kündigung ist am {day} um {time} Uhr bei uns eingegangen. Ihre Referenznummer: "
        f"{request.reference}. Eine Mitarbeiterin oder ein Mitarbeiter prüft Ihre Angaben. Passen sie zu einem "
        "Kundenkonto, geht die Eingangsbestätigung an die dort hinterlegte E-Mail-Adresse, und nach der Prüfung "
        "erhalten Sie die Kündigungsbestätigung mit dem Datum, zu dem die Kündigung wirksam wird."
    )
    return Receipt(reply=reply, reference=request.reference, outbox_email_id=outbox_email_id)


def open_requests(session: Session) -> list[CancellationRequest]:
    """Cancellation requests still waiting for an agent, oldest first."""
    return list(session.scalars(select(CancellationRequest).where(CancellationRequest.status == "received")
                                .order_by(CancellationRequest.received_at)))

