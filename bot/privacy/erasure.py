"""Right to erasure (Art. 17 GDPR) for one customer: `python -m bot.cli erase-customer K123456`.

Removed: the customer's conversations in the tracker store and in the analytics pipeline's event table (found
through the records and by the customer's number, contract numbers, e-mail address, full name or verified id
in any event), the not-understood messages and dissatisfaction insights of those conversations, handoffs
(with callback phone) and agents' messages, verification attempts and locks, complaints, and of the messaging
channels (WhatsApp, Telegram) the messages sent in those conversations, the provider message ids seen and the
contact (phone number, chat id).

Anonymised, because the law requires the record itself to be kept (Art. 17(3)(b) GDPR): the customer row
(name, e-mail, postcode, birth date, customer number replaced), contract numbers, cancellations and
cancellation requests (the declaration and its confirmation are proof under § 312k BGB and commercial
letters under § 257 HGB), confirmation e-mails (proof of when the confirmation was sent), the conversation in
which the cancellation was declared (masked, so the button and times can still be shown in a dispute).
Kept as they are, without personal data: contracts, invoices (§ 147 AO, § 257 HGB), offer decisions,
analytics facts (the customer reference removed), ratings (the customer reference removed).
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from bot.privacy.event_tables import EventTable, StoredEvent
from bot.privacy.masking import mask_text, personal_values
from bot.records.database import transaction
from bot.records.models import (
    AgentMessage,
    Cancellation,
    CancellationRequest,
    ChannelContact,
    ChannelInboundMessage,
    ChannelOutboundMessage,
    Complaint,
    Contract,
    ConversationFact,
    ConversationInsight,
    Customer,
    FallbackMessage,
    HandoffRequest,
    OfferDecision,
    OutboxEmail,
    SatisfactionRating,
    VerificationAttempt,
    VerificationLock,
)

logger = logging.getLogger(__name__)


def _bulk(session: Session, statement: Executable) -> int:
    """Run a bulk DELETE or UPDATE; the rows it touched (loaded objects are not synchronised: none are)."""
    return session.execute(statement, execution_options={"synchronize_session": False}).rowcount

ERASED = "[gelöscht]"
ERASED_TEXT = "[entfernt: personenbezogene Angabe]"
ERASED_BIRTH_DATE = date(1900, 1, 1)
ERASED_POSTCODE = "00000"
NEVER = datetime(9999, 12, 31, tzinfo=timezone.utc)
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class UnknownCustomer(LookupError):
    """No customer has this customer number."""


@dataclass
class ErasureReport:
    customer_number: str
    conversations_deleted: list[str] = field(default_factory=list)
    conversations_anonymised: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    def text(self) -> str:
        lines = [f"Erased customer {self.customer_number}."]
        lines.append("Removed:")
        lines += [f"  {what}: {count}" for what, count in self.removed.items()]
        lines.append("Anonymised (personal fields replaced, row kept):")
        lines += [f"  {what}: {count}" for what, count in self.anonymised.items()]
        lines.append("Kept, and why:")
        lines += [f"  {what}: {why}" for what, why in self.kept]
        return "\n".join(lines)


def _base36(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
    return digits.rjust(width, "0")


def erased_customer_number(customer_id: int) -> str:
    """A placeholder customer number that no real one has (customer numbers are K + 6 digits)."""
    return "X" + _base36(customer_id, 6)


def erased_contract_number(contract_id: int) -> str:
    return "X" + _base36(contract_id, 8)


def _needles(values: Sequence[str]) -> list[re.Pattern[str]]:
    """Patterns that find the customer's identifying values as words in event JSON (decoded)."""
    return [re.compile(r"(?<![\w@.])" + r"\s+".join(re.escape(p) for p in v.split()) + r"(?![\w@])", re.IGNORECASE)
            for v in values]


def _event_mentions(stored: StoredEvent, needles: list[re.Pattern[str]], customer_id: int) -> bool:
    event = stored.event
    if event.get("event") == "slot" and event.get("name") == "verified_customer":
        try:
            if event.get("value") is not None and int(float(event["value"])) == customer_id:
                return True
        except (TypeError, ValueError):
            pass
    text = json.dumps(event, ensure_ascii=False)
    return any(needle.search(text) for needle in needles)


def _anonymise_value(value: Any, known: list[str], needles: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        masked = mask_text(value, known_values=known)
        return ERASED_TEXT if any(n.search(masked) for n in needles) else masked
    if isinstance(value, dict):
        return {key: _anonymise_value(item, known, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [_anonymise_value(item, known, needles) for item in value]
    return value


def _count(report: dict[str, int], what: str, number: int) -> None:
    if number:
        report[what] = report.get(what, 0) + number


@dataclass
class _Subject:
    """The customer to erase: their values and the conversations that are theirs."""

    customer_id: int
    number: str
    values: list[str]  # every personal value, for masking and for the final check
    identifying: list[str]  # the values that single them out (not a first name or postcode alone)
    conversations: set[str]
    evidence: set[str]  # conversations in which a cancellation was declared: masked, not deleted

    @property
    def needles(self) -> list[re.Pattern[str]]:
        return _needles(self.values)

    @property
    def identifying_needles(self) -> list[re.Pattern[str]]:
        return _needles(self.identifying)


def _find_subject(session: Session, number: str) -> _Subject:
    customer = session.scalars(select(Customer).where(Customer.customer_number == number)).one_or_none()
    if customer is None:
        raise UnknownCustomer(number)
    customer_id = customer.id
    phones = session.scalars(select(HandoffRequest.callback_phone).where(
        HandoffRequest.customer_id == customer_id, HandoffRequest.callback_phone.is_not(None)))
    extra = session.scalars(select(Cancellation.extra_recipient).where(
        Cancellation.customer_id == customer_id, Cancellation.extra_recipient.is_not(None)))
    values = sorted(set(personal_values(session, customer_id)) | set(phones) | set(extra))
    identifying = [v for v in values if not re.fullmatch(r"[^\W\d_]+(?:-[^\W\d_]+)?", v)
                   and not re.fullmatch(r"\d{5}", v) and not re.fullmatch(r"[\d./-]+", v)]
    requests = or_(CancellationRequest.customer_id == customer_id, CancellationRequest.customer_number == number)
    conversations: set[str] = set()
    for column, condition in (
        (OfferDecision.conversation_id, OfferDecision.customer_id == customer_id),
        (Cancellation.conversation_id, Cancellation.customer_id == customer_id),
        (HandoffRequest.conversation_id, HandoffRequest.customer_id == customer_id),
        (ConversationInsight.conversation_id, ConversationInsight.customer_id == customer_id),
        (SatisfactionRating.conversation_id, SatisfactionRating.customer_id == customer_id),
        (ConversationFact.conversation_id, ConversationFact.customer_id == customer_id),
        (CancellationRequest.conversation_id, requests),
        (Complaint.conversation_id, Complaint.customer_id == customer_id),
        (VerificationAttempt.conversation_id, VerificationAttempt.customer_number == number),
        (VerificationLock.conversation_id, VerificationLock.customer_number == number),
    ):
        conversations |= {c for c in session.scalars(select(column).where(condition)) if c}
    evidence = {c for c in session.scalars(select(Cancellation.conversation_id).where(
        Cancellation.customer_id == customer_id)) if c}
    evidence |= set(session.scalars(select(CancellationRequest.conversation_id).where(requests)))
    return _Subject(customer_id, number, values, identifying, conversations, evidence)


def _erase_events(subject: _Subject, *, event_store_urls: Sequence[str], broker_urls: Sequence[str],
                  report: ErasureReport) -> None:
    """Find the subject's further conversations in the event tables; delete them, or mask the evidence."""
    needles, identifying = subject.needles, subject.identifying_needles
    for url in [*event_store_urls, *broker_urls]:
        table = EventTable(url)
        try:
            subject.conversations |= table.conversations_matching(
                lambda stored: _event_mentions(stored, identifying, subject.customer_id))
        finally:
            table.dispose()
    masked = subject.conversations & subject.evidence
    deleted = subject.conversations - subject.evidence
    for url in event_store_urls:
        table = EventTable(url)
        try:
            _count(report.removed, "tracker store events", table.delete_conversations(deleted))
            _count(report.anonymised, "tracker store events (cancellation conversations)", table.rewrite_conversations(
                masked, lambda event: _anonymise_value(event, subject.values, needles)))
        finally:
            table.dispose()
    for url in broker_urls:  # the analytics pipeline's copy: its facts are projected already
        table = EventTable(url)
        try:
            _count(report.removed, "analytics event broker events", table.delete_conversations(subject.conversations))
        finally:
            table.dispose()
    report.conversations_deleted = sorted(deleted)
    report.conversations_anonymised = sorted(masked)


def _erase_records(session: Session, subject: _Subject, report: ErasureReport) -> None:
    customer_id, number, ids = subject.customer_id, subject.number, sorted(subject.conversations)
    handoffs = select(HandoffRequest.id).where(or_(HandoffRequest.customer_id == customer_id,
                                                   HandoffRequest.conversation_id.in_(ids)))
    removals = (
        ("messaging channel messages sent", delete(ChannelOutboundMessage).where(or_(
            ChannelOutboundMessage.conversation_id.in_(ids),
            ChannelOutboundMessage.agent_message_id.in_(select(AgentMessage.id).where(
                AgentMessage.handoff_id.in_(handoffs)))))),
        ("messaging channel message ids", delete(ChannelInboundMessage).where(
            ChannelInboundMessage.conversation_id.in_(ids))),
        ("messaging channel contacts (phone number, chat id)", delete(ChannelContact).where(
            ChannelContact.conversation_id.in_(ids))),
        ("agent messages", delete(AgentMessage).where(or_(AgentMessage.handoff_id.in_(handoffs),
                                                          AgentMessage.conversation_id.in_(ids)))),
        ("handoff requests (with callback phone)", delete(HandoffRequest).where(
            or_(HandoffRequest.customer_id == customer_id, HandoffRequest.conversation_id.in_(ids)))),
        ("not-understood messages (analytics)", delete(FallbackMessage).where(FallbackMessage.conversation_id.in_(ids))),
        ("dissatisfaction insights", delete(ConversationInsight).where(
            or_(ConversationInsight.customer_id == customer_id, ConversationInsight.conversation_id.in_(ids)))),
        ("verification attempts", delete(VerificationAttempt).where(
            or_(VerificationAttempt.customer_number == number, VerificationAttempt.conversation_id.in_(ids)))),
        ("verification locks", delete(VerificationLock).where(
            or_(VerificationLock.customer_number == number, VerificationLock.conversation_id.in_(ids)))),
        ("complaints", delete(Complaint).where(Complaint.customer_id == customer_id)),
    )
    for what, statement in removals:
        _count(report.removed, what, _bulk(session, statement))
    anonymisations = (
        ("analytics facts (customer reference removed)", update(ConversationFact).where(
            or_(ConversationFact.customer_id == customer_id, ConversationFact.conversation_id.in_(ids)))
         .values(customer_id=None, contract_id=None)),
        ("satisfaction ratings (customer reference removed)", update(SatisfactionRating).where(
            SatisfactionRating.customer_id == customer_id).values(customer_id=None)),
        ("cancellations (second e-mail address removed)", update(Cancellation).where(
            Cancellation.customer_id == customer_id, Cancellation.extra_recipient.is_not(None))
         .values(extra_recipient=None)),
        ("cancellation requests (name, number, address)", update(CancellationRequest).where(
            or_(CancellationRequest.customer_id == customer_id, CancellationRequest.customer_number == number))
         .values(name=ERASED, customer_number=ERASED, email=None, postal_address=None)),
    )
    for what, statement in anonymisations:
        _count(report.anonymised, what, _bulk(session, statement))
    _count(report.anonymised, "e-mails sent (recipient and personal data removed)", _erase_emails(session, subject))
    contracts = list(session.scalars(select(Contract).where(Contract.customer_id == customer_id)))
    for contract in contracts:
        contract.contract_number = erased_contract_number(contract.id)
    _count(report.anonymised, "contracts (contract number replaced)", len(contracts))
    customer = session.get(Customer, customer_id)
    customer.customer_number = erased_customer_number(customer_id)
    customer.first_name = customer.last_name = ERASED
    customer.email = f"geloescht-{customer_id}@invalid.example"
    customer.postcode = ERASED_POSTCODE
    customer.birth_date = ERASED_BIRTH_DATE
    _count(report.anonymised, "customer record (name, e-mail, postcode, birth date, customer number)", 1)
    cancellations = session.scalar(select(func.count()).select_from(Cancellation).where(
        Cancellation.customer_id == customer_id))
    report.kept = [
        (f"cancellations ({cancellations}) with dates, kind, reason and confirmation number",
         "proof of the cancellation and its confirmation (§ 312k BGB), a commercial letter kept for 6 years "
         "(§ 257 HGB); Art. 17(3)(b) GDPR"),
        ("the conversations in which a cancellation was declared, masked",
         "evidence for disputes about the cancellation button and confirmation (§ 312k BGB)"),
        (f"contracts ({len(contracts)}), invoices and offer decisions, without name or numbers",
         "accounting records, kept for up to 10 years (§ 147 AO, § 257 HGB)"),
        ("confirmation e-mails (subject, text and times, personal data masked)",
         "proof of when the confirmation was sent (§ 312k Abs. 4 BGB)"),
        ("analytics facts and ratings without a customer reference", "no longer personal data"),
    ]


def _erase_emails(session: Session, subject: _Subject) -> int:
    """Mask the e-mails to or about the subject; the number changed."""
    identifying, needles = subject.identifying_needles, subject.needles
    mentions = or_(*(column.contains(value) for value in subject.identifying
                     for column in (OutboxEmail.recipient, OutboxEmail.subject, OutboxEmail.body)))
    changed = 0
    for email in session.scalars(select(OutboxEmail).where(mentions)):
        if any(n.search(f"{email.recipient}\n{email.subject}\n{email.body}") for n in identifying):
            email.recipient = ERASED
            email.subject = _anonymise_value(email.subject, subject.values, needles)
            email.body = _anonymise_value(email.body, subject.values, needles)
            if email.sent_at is None:  # nowhere to deliver it any more: the delivery worker leaves it
                email.next_attempt_at = NEVER
                email.last_error = "not sent: the recipient's personal data was erased"
            changed += 1
    return changed


def erase_customer(customer_number: str, *, records_url: str, event_store_urls: Sequence[str],
                   broker_urls: Sequence[str] = ()) -> ErasureReport:
    """Erase one customer's personal data everywhere but where the law requires a record; what was done.

    Raises UnknownCustomer when no customer has the number. The event tables are changed first, then the
    records in one transaction: run it again after a failure and it finds the rest (by the customer id and
    the conversations in the records, which are changed last).
    """
    number = customer_number.strip().upper()
    report = ErasureReport(customer_number=number)
    with transaction(records_url) as session:
        subject = _find_subject(session, number)
    _erase_events(subject, event_store_urls=event_store_urls, broker_urls=broker_urls, report=report)
    with transaction(records_url) as session:
        _erase_records(session, subject, report)
    logger.info("Customer erased (id %s): %d conversations deleted, %d anonymised", subject.customer_id,
                len(report.conversations_deleted), len(report.conversations_anonymised))
    return report
