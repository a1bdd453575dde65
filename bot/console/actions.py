"""What an agent can do for the customer from the console, through the assistant's own functions.

The same rules hold as in the chat: one offer per cancellation (the offer bot.assistant.cancellation would
make, and none when an offer was already accepted or declined for that contract in this conversation), a
cancellation with the same effective date, confirmation number and e-mail (cancel_contract), a fault report
as the assistant records it (report_problem). Only the agent who owns the conversation can act, and only for
a verified customer (the handoff's customer).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.cancellation import accept_offer, cancel_contract, propose_offer
from bot.assistant.service_answers import report_problem
from bot.handoff.queue import HandoffError, NotYourConversation
from bot.records.models import Complaint, Contract, Customer, HandoffRequest, OfferDecision
from bot.retention.formatting import berlin_date

COMPLAINT_CATEGORIES = ("technical", "billing", "service", "price")
MAX_DESCRIPTION = 2000


class ActionRefused(HandoffError):
    """The action is not possible; the message says why."""


@dataclass(frozen=True)
class Done:
    """What was done, as the customer is told it (sent to the customer as the agent's message)."""

    customer_text: str


def _owned(session: Session, handoff_id: int, agent_id: int) -> HandoffRequest:
    handoff = session.get(HandoffRequest, handoff_id)
    if handoff is None or handoff.status != "taken" or handoff.assigned_agent_id != agent_id:
        raise NotYourConversation("Sie bearbeiten dieses Gespräch nicht (mehr). Übernehmen Sie es zuerst.")
    if handoff.customer_id is None:
        raise ActionRefused("Der Kunde ist nicht identifiziert: Aktionen am Vertrag sind erst nach der "
                            "Identifizierung im Chat möglich.")
    return handoff


def _contract(session: Session, handoff: HandoffRequest, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None or contract.customer_id != handoff.customer_id:
        raise ActionRefused("Dieser Vertrag gehört nicht zu diesem Kunden.")
    return contract


def _offer_already_made(session: Session, handoff: HandoffRequest, contract: Contract) -> bool:
    return session.scalars(select(OfferDecision.id).where(
        OfferDecision.conversation_id == handoff.conversation_id,
        OfferDecision.contract_id == contract.id)).first() is not None


def offer_for(session: Session, *, handoff_id: int, agent_id: int, contract_id: int, reason: str | None,
              now: datetime) -> tuple[str, str] | None:
    """The one offer the assistant would make for cancelling this contract: (code, text for the customer);
    None when nothing fits or an offer was already made for it in this conversation."""
    handoff = _owned(session, handoff_id, agent_id)
    contract = _contract(session, handoff, contract_id)
    if _offer_already_made(session, handoff, contract):
        return None
    proposal = propose_offer(session, customer_id=handoff.customer_id, contract_id=contract.id,
                             reason=reason or _cancellation_reason(handoff), today=berlin_date(now))
    return None if proposal is None else (proposal.offer_code, proposal.reply.text)


def _cancellation_reason(handoff: HandoffRequest) -> str | None:
    return handoff.reason if handoff.reason in ("price", "service", "technical", "competitor", "moving",
                                                "no_need", "other") else None


def apply_offer(session: Session, *, handoff_id: int, agent_id: int, contract_id: int, offer_code: str,
                reason: str | None, now: datetime) -> Done:
    """Apply the offer the customer accepted (at most one per cancellation, as in the chat)."""
    handoff = _owned(session, handoff_id, agent_id)
    contract = _contract(session, handoff, contract_id)
    if _offer_already_made(session, handoff, contract):
        raise ActionRefused("Für diesen Vertrag wurde in diesem Gespräch schon ein Angebot gemacht; "
                            "ein zweites ist nicht möglich.")
    reply = accept_offer(session, customer_id=handoff.customer_id, contract_id=contract.id, offer_code=offer_code,
                         reason=reason or _cancellation_reason(handoff), conversation_id=handoff.conversation_id,
                         now=now)
    if not _offer_already_made(session, handoff, contract):
        raise ActionRefused(reply.text)
    return Done(reply.text)


def process_cancellation(session: Session, *, handoff_id: int, agent_id: int, contract_id: int,
                         reason: str | None, now: datetime, company: str) -> Done:
    """Cancel the contract as the assistant does (earliest date, confirmation number, confirmation e-mail)."""
    handoff = _owned(session, handoff_id, agent_id)
    contract = _contract(session, handoff, contract_id)
    done = cancel_contract(session, customer_id=handoff.customer_id, contract_id=contract.id,
                           reason=reason or _cancellation_reason(handoff), conversation_id=handoff.conversation_id,
                           declined_offer_code=None, now=now, company=company, identity_verified=True)
    return Done(done.reply.text)


def note_complaint(session: Session, *, handoff_id: int, agent_id: int, category: str, description: str,
                   now: datetime) -> Done:
    """Record a complaint in the customer's history; a fault (technical) exactly as the assistant records it."""
    handoff = _owned(session, handoff_id, agent_id)
    description = description.strip()[:MAX_DESCRIPTION]
    if category not in COMPLAINT_CATEGORIES:
        raise ActionRefused("Bitte wählen Sie eine Art der Beschwerde.")
    if not description:
        raise ActionRefused("Bitte beschreiben Sie die Beschwerde kurz.")
    customer = session.get(Customer, handoff.customer_id)
    if category == "technical":
        reply = report_problem(session, customer=customer, conversation_id=handoff.conversation_id,
                               description=description, now=now)
        return Done(reply.text.split(" Möchten Sie gleich")[0])
    complaint = Complaint(customer_id=customer.id, created_at=now, category=category, description=description,
                          resolved=False, conversation_id=handoff.conversation_id)
    session.add(complaint)
    session.flush()
    return Done(f"Ich habe Ihre Beschwerde unter der Nummer B-{complaint.id} aufgenommen.")
