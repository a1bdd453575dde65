"""The cancellation: one fitting offer, and a clean, recorded cancellation when the customer declines.

Cancelling is never obstructed: it is one step from anywhere, the reason is optional, and at most one
offer is made per cancellation.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.mail import queue_email
from bot.assistant.replies import CANCEL_NOW, TALK_TO_HUMAN, Button, Reply
from bot.assistant.service_answers import NO_CONTRACT, current_monthly_price
from bot.records.models import CANCELLED, PAUSED, Cancellation, Contract, Customer, Invoice, OfferDecision, OutboxEmail
from bot.records.queries import active_plans, cancellation_for_contract, offer_catalog
from bot.retention.dates import add_months, months_between
from bot.retention.declaration import EXTRAORDINARY, CancellationDeclaration, effective_date
from bot.retention.formatting import berlin_date, euro, german_date, german_datetime
from bot.retention.offers import OfferChoice, choose_offer

ACCEPT_OFFER = Button("Angebot annehmen", "/accept_offer")
DECLINE_AND_CANCEL = Button("Nein, jetzt kündigen", "/cancel_now")
# Optional statements with the cancellation (§ 312k Abs. 2 Satz 3 BGB), next to the cancel button.
CANCEL_EXTRAORDINARY_MOVING = Button(
    "Außerordentlich kündigen: Umzug, Leistung am neuen Wohnort nicht verfügbar",
    '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"moving"}')
CANCEL_EXTRAORDINARY_FAULT = Button(
    "Außerordentlich kündigen: anhaltende Störung",
    '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"fault"}')
CANCELLATION_OPTIONS = Button("Anderes Kündigungsdatum oder andere E-Mail", "/state_cancellation_details")


@dataclass(frozen=True)
class Proposal:
    """An offer made to the customer: its catalog code and the message that explains it."""

    offer_code: str
    reply: Reply


@dataclass(frozen=True)
class CancellationDone:
    reply: Reply
    outbox_email_id: int | None
    extra_outbox_email_ids: tuple[int, ...] = ()
    confirmation_number: str | None = None


def _customer_and_contract(session: Session, customer_id: int, contract_id: int) -> tuple[Customer, Contract | None]:
    """The customer and the contract the request is about; None for a contract that is not theirs."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist; verify the customer again")
    contract = session.get(Contract, contract_id)
    return customer, contract if contract is not None and contract.customer_id == customer.id else None


def _already_cancelled_reply(session: Session, contract: Contract) -> Reply:
    existing = cancellation_for_contract(session, contract_id=contract.id)
    number = f" (Bestätigungsnummer {existing.confirmation_number})" if existing else ""
    return Reply(f"Ihr Vertrag {contract.contract_number} ist bereits gekündigt{number} und endet am "
                 f"{german_date(contract.cancellation_effective_date)}.")


def _offer_text(choice: OfferChoice, customer: Customer, contract: Contract, today: date) -> str:
    offer = choice.offer
    price = current_monthly_price(contract, today)
    if offer.kind in ("discount", "price_match"):
        new_price = contract.monthly_price_cents * (100 - offer.discount_percent) // 100
        lead = ("Wir möchten mit dem Angebot der Konkurrenz mithalten: " if offer.kind == "price_match"
                else "Weil Sie uns wichtig sind, kann ich Ihnen ein Angebot machen: ")
        return (f"{lead}{offer.discount_percent} % Rabatt für {offer.duration_months} Monate. Sie zahlen dann "
                f"{euro(new_price)} statt {euro(price)} im Monat; sonst bleibt alles, wie es ist.")
    if offer.kind == "downgrade" and choice.new_plan:
        plan = choice.new_plan
        return (f"Statt zu kündigen, können Sie in den Tarif {plan.name} ({plan.description}) wechseln und zahlen "
                f"{euro(plan.monthly_price_cents)} statt {euro(price)} im Monat.")
    if offer.kind == "upgrade" and choice.new_plan:
        plan = choice.new_plan
        return (f"Zum gleichen Preis von {euro(price)} im Monat können Sie in den größeren Tarif {plan.name} "
                f"({plan.description}) wechseln.")
    if offer.kind == "pause":
        return (f"Sie können Ihren Vertrag bis zu {offer.duration_months} Monate kostenlos pausieren; "
                f"danach läuft er wie gewohnt weiter.")
    if offer.kind == "goodwill_credit":
        return (f"Das tut uns leid. Als Entschuldigung schreiben wir Ihnen {euro(offer.credit_cents)} gut, und auf "
                "Wunsch kümmert sich ein Mitarbeiter persönlich um Ihr Anliegen.")
    if offer.kind == "loyalty_bonus":
        years = months_between(customer.customer_since, today) // 12
        return f"Als Dank für {years} Jahre Treue schreiben wir Ihnen {euro(offer.credit_cents)} gut."
    if offer.kind == "relocation":
        return ("Sie können Ihren Vertrag zur neuen Adresse mitnehmen, ohne neue Mindestlaufzeit und ohne "
                "Anschlussgebühr. Ist unser Angebot am neuen Wohnort nicht verfügbar, etwa im Ausland, können Sie "
                "mit einer Frist von einem Monat kündigen.")
    return offer.title


def _choice_for(session: Session, customer: Customer, contract: Contract, reason: str | None,
                today: date) -> OfferChoice | None:
    return choose_offer(reason=reason, customer=customer, contract=contract,
                        catalog=offer_catalog(session), plans=active_plans(session), today=today)


def propose_offer(session: Session, *, customer_id: int, contract_id: int, reason: str | None,
                  today: date) -> Proposal | None:
    """The one offer for cancelling this contract, or None when nothing fits (then cancel at once)."""
    customer, contract = _customer_and_contract(session, customer_id, contract_id)
    if contract is None or contract.status == CANCELLED:
        return None
    choice = _choice_for(session, customer, contract, reason, today)
    if choice is None:
        return None
    buttons = [ACCEPT_OFFER, DECLINE_AND_CANCEL]
    if choice.offer.kind == "goodwill_credit":
        buttons.append(TALK_TO_HUMAN)
    buttons += [CANCEL_EXTRAORDINARY_MOVING, CANCEL_EXTRAORDINARY_FAULT, CANCELLATION_OPTIONS]
    text = _offer_text(choice, customer, contract, today) + " Möchten Sie das Angebot annehmen oder jetzt kündigen?"
    return Proposal(choice.offer.code, Reply(text, tuple(buttons)))


def _apply(session: Session, choice: OfferChoice, contract: Contract, today: date) -> str:
    """Change the contract as the accepted offer says; returns the confirmation sentence."""
    offer = choice.offer
    if offer.kind in ("discount", "price_match"):
        contract.discount_percent = offer.discount_percent
        contract.discount_until = add_months(today, offer.duration_months)
        return (f"Ab sofort zahlen Sie {euro(current_monthly_price(contract, today))} im Monat, "
                f"bis {german_date(contract.discount_until)}.")
    if offer.kind in ("downgrade", "upgrade") and choice.new_plan:
        contract.plan_id = choice.new_plan.id
        contract.plan = choice.new_plan
        if offer.kind == "downgrade":
            contract.monthly_price_cents = choice.new_plan.monthly_price_cents
        return (f"Ihr neuer Tarif ist {choice.new_plan.name} für "
                f"{euro(contract.monthly_price_cents)} im Monat, gültig ab sofort.")
    if offer.kind == "pause":
        contract.status = PAUSED
        contract.paused_until = add_months(today, offer.duration_months)
        contract.last_pause_end = contract.paused_until
        return f"Ihr Vertrag ruht bis {german_date(contract.paused_until)}; bis dahin zahlen Sie nichts."
    if offer.kind in ("goodwill_credit", "loyalty_bonus"):
        session.add(Invoice(invoice_number=f"G{secrets.randbelow(10**9):09d}", contract_id=contract.id,
                            period_start=today, amount_cents=-offer.credit_cents, due_date=today, status="credit"))
        return f"Die Gutschrift über {euro(offer.credit_cents)} erscheint auf Ihrer nächsten Rechnung."
    return "Wir melden uns zur Umzugsplanung per E-Mail bei Ihnen."


def accept_offer(session: Session, *, customer_id: int, contract_id: int, offer_code: str, reason: str | None,
                 conversation_id: str, now: datetime) -> Reply:
    """Apply the offer that was made for this contract, record the decision and confirm."""
    today = berlin_date(now)
    customer, contract = _customer_and_contract(session, customer_id, contract_id)
    if contract is None:
        return NO_CONTRACT
    choice = _choice_for(session, customer, contract, reason, today)
    if choice is None or choice.offer.code != offer_code:
        return Reply("Dieses Angebot ist leider nicht mehr verfügbar. Sie können Ihren Vertrag aber weiterhin "
                     "jederzeit kündigen.", (CANCEL_NOW, TALK_TO_HUMAN))
    confirmation = _apply(session, choice, contract, today)
    session.add(OfferDecision(conversation_id=conversation_id, customer_id=customer.id, contract_id=contract.id,
                              offer_id=choice.offer.id, reason=reason, outcome="accepted",
                              cost_cents=choice.cost_cents, decided_at=now))
    session.flush()
    return Reply(f"Sehr gern, ich habe das Angebot „{choice.offer.title}“ für Sie eingerichtet. {confirmation} "
                 "Ihr Vertrag läuft weiter. Kann ich sonst noch etwas für Sie tun?")


def _confirmation_number() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "KB-" + "".join(secrets.choice(alphabet) for _ in range(8))


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def declaration_lines(cancellation: Cancellation) -> list[str]:
    """The content of one declaration and its receipt, as plain-text lines (§ 312k Abs. 4 BGB)."""
    contract = cancellation.contract
    kind = CancellationDeclaration(kind=cancellation.kind,
                                   extraordinary_reason=cancellation.extraordinary_reason).kind_text()
    requested = (f"zum {german_date(cancellation.requested_date)}" if cancellation.requested_date
                 else "zum frühestmöglichen Termin")
    lines = [
        f"Vertrag: {contract.contract_number} ({contract.plan.name})",
        f"Art der Kündigung: {kind[:1].upper()}{kind[1:]}",
        f"Gewünschter Termin: {requested}",
        f"Eingang der Kündigung: {german_datetime(cancellation.requested_at)}",
        f"Der Vertrag endet am: {german_date(cancellation.effective_date)}",
        f"Bestätigungsnummer: {cancellation.confirmation_number}",
    ]
    if cancellation.requested_date and cancellation.requested_date < cancellation.effective_date:
        lines.append(f"Hinweis: Ein Ende zum {german_date(cancellation.requested_date)} ist wegen der "
                     f"Mindestlaufzeit bzw. Kündigungsfrist nicht möglich; frühestmöglich endet der Vertrag am "
                     f"{german_date(cancellation.effective_date)}.")
    if cancellation.kind == EXTRAORDINARY and cancellation.extraordinary_reason is None:
        lines.append("Hinweis: Ohne Angabe eines wichtigen Grundes endet der Vertrag zum ordentlichen Termin; "
                     "nennen Sie uns den Grund, prüfen wir eine frühere Beendigung.")
    elif cancellation.kind == EXTRAORDINARY:
        lines.append("Hilfsweise gilt Ihre Kündigung als ordentliche Kündigung zum nächstmöglichen Termin.")
    return lines


def confirmation_text(company: str, cancellations: Sequence[Cancellation]) -> str:
    """The confirmation of receipt in text form (e-mail and download) for one or more cancellation rows
    of the same customer: the content of each declaration, the date and time of receipt, and the end date."""
    customer = cancellations[0].customer
    blocks = ["\n".join(declaration_lines(c)) for c in cancellations]
    extra = sorted({c.extra_recipient for c in cancellations if c.extra_recipient})
    copies = (f"Eine Kopie dieser Bestätigung geht auf Ihren Wunsch auch an {', '.join(extra)}.\n\n"
              if extra else "")
    return (
        f"Guten Tag {customer.first_name} {customer.last_name},\n\n"
        f"hiermit bestätigen wir den Eingang Ihrer Kündigung am {german_datetime(cancellations[0].requested_at)} "
        f"(deutsche Zeit).\n\n"
        + "\n\n".join(blocks) + "\n"
        f"Kundennummer: {customer.customer_number}\n\n"
        + copies
        + f"Mit freundlichen Grüßen\nIhr Kundenservice von {company}\n"
    )


def confirmation_reply_text(cancellation: Cancellation, *, recipients: Sequence[str]) -> str:
    """The confirmation shown in the chat right after the cancellation."""
    contract = cancellation.contract
    kind = CancellationDeclaration(kind=cancellation.kind,
                                   extraordinary_reason=cancellation.extraordinary_reason).kind_text()
    text = (f"Ihr Vertrag {contract.contract_number} ({contract.plan.name}) ist gekündigt. Er endet am "
            f"{german_date(cancellation.effective_date)}. Ihre Kündigung ist am "
            f"{german_datetime(cancellation.requested_at)} bei uns eingegangen: {kind}"
            + (f", gewünscht zum {german_date(cancellation.requested_date)}" if cancellation.requested_date else "")
            + f". Ihre Bestätigungsnummer: {cancellation.confirmation_number}. ")
    if cancellation.requested_date and cancellation.requested_date < cancellation.effective_date:
        text += (f"Ein Ende zum {german_date(cancellation.requested_date)} ist wegen der Mindestlaufzeit bzw. "
                 f"Kündigungsfrist nicht möglich; der {german_date(cancellation.effective_date)} ist der "
                 "frühestmögliche Termin. ")
    if cancellation.kind == EXTRAORDINARY and cancellation.extraordinary_reason is None:
        text += "Ohne Angabe eines wichtigen Grundes endet der Vertrag zum ordentlichen Termin. "
    text += f"Die Bestätigung in Textform senden wir an {' und an '.join(recipients)}. "
    return text + "Kann ich sonst noch etwas für Sie tun?"


def cancel_contract(session: Session, *, customer_id: int, contract_id: int, reason: str | None,
                    conversation_id: str, declined_offer_code: str | None, now: datetime, company: str,
                    channel: str = "chat", declaration: CancellationDeclaration | None = None,
                    identity_verified: bool = False, queue_confirmation: bool = True) -> CancellationDone:
    """Cancel this contract of the customer, record it, queue the confirmation e-mail, and confirm.

    A declined offer is recorded as such. `declaration` is what the customer stated (default: ordinary, at
    the earliest date); its extra recipient gets a copy only when `identity_verified`, and the address on
    file always gets the confirmation. The caller commits before the e-mails are delivered.
    `queue_confirmation=False` leaves the e-mails to the caller (`cancel_contracts` sends one for all).
    """
    declaration = declaration or CancellationDeclaration()
    today = berlin_date(now)
    customer, contract = _customer_and_contract(session, customer_id, contract_id)
    if contract is None:
        return CancellationDone(NO_CONTRACT, None)
    if contract.status == CANCELLED:
        return CancellationDone(_already_cancelled_reply(session, contract), None)
    if declined_offer_code:
        choice = _choice_for(session, customer, contract, reason, today)
        if choice is not None and choice.offer.code == declined_offer_code:
            session.add(OfferDecision(conversation_id=conversation_id, customer_id=customer.id,
                                      contract_id=contract.id, offer_id=choice.offer.id, reason=reason,
                                      outcome="declined", cost_cents=0, decided_at=now))
    effective = effective_date(declaration, contract, today).effective
    extra_recipient = declaration.extra_recipient if identity_verified else None
    if extra_recipient == customer.email.lower():
        extra_recipient = None
    cancellation = Cancellation(contract_id=contract.id, customer_id=customer.id, conversation_id=conversation_id,
                                requested_at=now, effective_date=effective, reason=reason,
                                confirmation_number=_confirmation_number(), channel=channel,
                                kind=declaration.kind, extraordinary_reason=declaration.extraordinary_reason,
                                requested_date=declaration.requested_date, extra_recipient=extra_recipient)
    cancellation.contract = contract
    cancellation.customer = customer
    session.add(cancellation)
    contract.status = CANCELLED
    contract.cancellation_effective_date = effective
    if not queue_confirmation:
        session.flush()
        return CancellationDone(Reply(confirmation_reply_text(cancellation, recipients=[])), None, (),
                                cancellation.confirmation_number)
    subject = f"Bestätigung Ihrer Kündigung {cancellation.confirmation_number}"
    body = confirmation_text(company, [cancellation])
    email, extra_ids, recipients = _queue_confirmations(session, customer, extra_recipient, subject, body, now)
    reply = Reply(confirmation_reply_text(cancellation, recipients=recipients))
    return CancellationDone(reply, email.id, extra_ids, cancellation.confirmation_number)


def _queue_confirmations(session: Session, customer: Customer, extra_recipient: str | None, subject: str,
                         body: str, now: datetime) -> tuple[OutboxEmail, tuple[int, ...], list[str]]:
    """The confirmation to the address on file, and a copy to the verified customer's extra address."""
    email = queue_email(session, recipient=customer.email, subject=subject, body=body, now=now)
    extra_ids: tuple[int, ...] = ()
    recipients = [_mask_email(customer.email)]
    if extra_recipient:
        extra_ids = (queue_email(session, recipient=extra_recipient, subject=subject, body=body, now=now).id,)
        recipients.append(extra_recipient)
    session.flush()
    return email, extra_ids, recipients


def cancel_contracts(session: Session, *, customer_id: int, contract_ids: Sequence[int], reason: str | None,
                     conversation_id: str, now: datetime, company: str, channel: str = "chat",
                     declaration: CancellationDeclaration | None = None,
                     identity_verified: bool = False) -> CancellationDone:
    """Cancel each of these contracts ("Alle kündigen"), with one confirmation in the chat and one e-mail for all.

    Each contract gets its own cancellation record and confirmation number, as if cancelled alone, with the
    same declaration. A contract that is already cancelled is named as such. The caller commits before the
    e-mails are delivered.
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist; verify the customer again")
    cancelled: list[Cancellation] = []
    other_lines: list[str] = []
    for contract_id in contract_ids:
        contract = session.get(Contract, contract_id)
        already = contract is None or contract.customer_id != customer.id or contract.status == CANCELLED
        done = cancel_contract(session, customer_id=customer_id, contract_id=contract_id, reason=reason,
                               conversation_id=conversation_id, declined_offer_code=None, now=now,
                               company=company, channel=channel, declaration=declaration,
                               identity_verified=identity_verified, queue_confirmation=False)
        if already:
            other_lines.append(done.reply.text)
            continue
        cancelled.append(session.scalars(select(Cancellation).where(
            Cancellation.confirmation_number == done.confirmation_number)).one())
    if not cancelled:
        return CancellationDone(Reply(" ".join(other_lines)) if other_lines else NO_CONTRACT, None)
    subject = "Bestätigung Ihrer Kündigung " + ", ".join(c.confirmation_number for c in cancelled)
    email, extra_ids, recipients = _queue_confirmations(
        session, customer, cancelled[0].extra_recipient, subject, confirmation_text(company, cancelled), now)
    lines = [f"Ihre Verträge sind gekündigt. Ihre Kündigung ist am {german_datetime(now)} bei uns eingegangen:"]
    lines.extend(f"- {c.contract.contract_number} ({c.contract.plan.name}): endet am "
                 f"{german_date(c.effective_date)}, Bestätigungsnummer {c.confirmation_number}" for c in cancelled)
    lines.extend(other_lines)
    lines.append(f"Die Bestätigung in Textform senden wir an {' und an '.join(recipients)}. "
                 "Kann ich sonst noch etwas für Sie tun?")
    # The first number stands for the whole declaration (its download lists every contract, see receipt.py).
    return CancellationDone(Reply("\n".join(lines)), email.id, extra_ids, cancelled[0].confirmation_number)
