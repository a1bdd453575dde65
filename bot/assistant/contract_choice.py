"""Which contract a request is about: asked when the customer has several, never guessed.

A contract counts as a choice when it is running and can still be changed or cancelled: status
`active` or `paused`. Contracts that are cancelled (even if not ended yet) or ended are no choice;
when a customer has no running contract at all, the requests fall back to the most recent contract
that is cancelled but not yet ended, so that "already cancelled" and its end date can be told.

The customer's answer is matched by `match_contract` (plain, typed, no Rasa): a contract number,
a plan name ("Mobil M"), a kind of contract ("den Handyvertrag", "Internet", "DSL"), the position in
the list shown ("den zweiten") or, for a cancellation, "alle"/"beide". Anything that fits none or
more than one contract is no answer: the question is asked again.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.assistant.replies import Button, Reply
from bot.records.models import ACTIVE, PAUSED, Contract
from bot.records.queries import current_contract

RUNNING_STATUSES = (ACTIVE, PAUSED)
# The value of the contract_number slot (and the button payload) that means "all running contracts".
# The buttons send the intent `identify` (the customer identifies the contract) with the entity
# contract_number, which fills the slot only while contract_choice_form asks for it.
ALL_CONTRACTS = "all"
# Requests that act on one contract, and those of them for which "all" is a possible answer.
CONTRACT_REQUESTS = ("cancellation", "cancel_now", "ask_contract", "ask_bill", "change_plan", "pause_contract")
CANCELLATION_REQUESTS = ("cancellation", "cancel_now")

# Words naming a kind of contract. A keyword in COMPOUND_KEYWORDS also counts inside a word
# ("Handyvertrag", "VDSL", "Heiminternet"); the others only at the start of a word ("SIM-Karte").
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "mobile": ("handy", "mobil", "mobilfunk", "smartphone", "sim", "lte", "5g", "telefonkarte"),
    "internet": ("internet", "dsl", "festnetz", "wlan", "router", "glasfaser", "breitband", "kabel"),
}
COMPOUND_KEYWORDS = ("handy", "mobilfunk", "internet", "dsl", "festnetz", "glasfaser")
ALL_WORDS = ("alle", "allen", "all", "beide", "beiden", "beides", "sämtliche")
NEGATIONS = ("nicht", "kein", "keine", "keinen", "außer", "ausser", "ohne")
ORDINALS = {"erste": 0, "ersten": 0, "erster": 0, "1": 0, "1.": 0,
            "zweite": 1, "zweiten": 1, "zweiter": 1, "2": 1, "2.": 1,
            "dritte": 2, "dritten": 2, "dritter": 2, "3": 2, "3.": 2,
            "letzte": -1, "letzten": -1, "letzter": -1}
_CONTRACT_NUMBER = re.compile(r"(?<![0-9a-z])v?\s*-?\s*([0-9]{8})(?![0-9])", re.IGNORECASE)
_TOKEN = re.compile(r"[0-9a-zäöüß]+\.?", re.IGNORECASE)


@dataclass(frozen=True)
class ContractOption:
    """One running contract as the customer sees it in the question."""

    contract_number: str
    plan_name: str
    category: str  # mobile | internet

    @property
    def label(self) -> str:
        return f"{self.plan_name} ({self.contract_number})"


@dataclass(frozen=True)
class ContractsInQuestion:
    """What a request acts on: the contracts' ids and numbers, or `ask` when the customer must choose.

    Neither ids nor `ask`: the customer has no contract the request could be about.
    """

    contract_ids: tuple[int, ...] = ()
    contract_numbers: tuple[str, ...] = ()
    ask: bool = False


def running_contracts(session: Session, *, customer_id: int) -> list[Contract]:
    """The customer's active and paused contracts, oldest first (the order of the question's buttons)."""
    return list(session.scalars(
        select(Contract)
        .where(Contract.customer_id == customer_id, Contract.status.in_(RUNNING_STATUSES))
        .order_by(Contract.start_date, Contract.id)
    ))


def contract_options(session: Session, *, customer_id: int) -> list[ContractOption]:
    return [ContractOption(c.contract_number, c.plan.name, c.plan.category)
            for c in running_contracts(session, customer_id=customer_id)]


def contract_by_number(session: Session, *, customer_id: int, contract_number: str) -> Contract | None:
    """The customer's contract with this number; None for someone else's or an unknown number."""
    return session.scalars(select(Contract).where(
        Contract.customer_id == customer_id, Contract.contract_number == contract_number)).first()


def contracts_in_question(session: Session, *, customer_id: int, request: str | None,
                          chosen: str | None) -> ContractsInQuestion:
    """The contract(s) this request is about, given what the customer chose (a number, "all" or nothing).

    A choice that does not belong to the customer counts as no choice. "All" counts only for a
    cancellation. Without a choice: the one running contract, or `ask` when there are several.
    """
    running = running_contracts(session, customer_id=customer_id)
    if chosen == ALL_CONTRACTS and request in CANCELLATION_REQUESTS and len(running) > 1:
        return ContractsInQuestion(tuple(c.id for c in running), tuple(c.contract_number for c in running))
    if chosen and chosen != ALL_CONTRACTS:
        contract = contract_by_number(session, customer_id=customer_id, contract_number=chosen)
        if contract is not None:
            return ContractsInQuestion((contract.id,), (contract.contract_number,))
    if len(running) > 1:
        return ContractsInQuestion(ask=True)
    contract = running[0] if running else current_contract(session, customer_id=customer_id)
    if contract is None:
        return ContractsInQuestion()
    return ContractsInQuestion((contract.id,), (contract.contract_number,))


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def _mentions(tokens: list[str], keyword: str) -> bool:
    return any(token.startswith(keyword) or (keyword in COMPOUND_KEYWORDS and keyword in token)
               for token in tokens)


def match_contract(text: str, options: Sequence[ContractOption], *, allow_all: bool) -> str | None:
    """The contract number the customer's answer names, ALL_CONTRACTS, or None when it names no single one.

    Tried in this order, the first that names anything decides: contract numbers, plan names, kinds
    of contract, the position in the list. A negation ("nicht den Handyvertrag"), an unknown contract
    number or more than one match gives None; so does "alle" unless `allow_all` (cancellations).
    """
    normalised = _normalise(text or "")
    if not normalised or not options:
        return None
    tokens = [t.rstrip(".") if t not in ORDINALS else t for t in _TOKEN.findall(normalised)]
    if any(t in NEGATIONS for t in tokens):
        return None
    wants_all = any(t in ALL_WORDS for t in tokens)

    by_number = {o.contract_number.upper(): o for o in options}
    mentioned_numbers = {f"V{digits}" for digits in _CONTRACT_NUMBER.findall(normalised)}
    matched: set[str]
    if mentioned_numbers:
        if not mentioned_numbers <= by_number.keys():
            return None  # a number that is not one of this customer's running contracts
        matched = mentioned_numbers
    else:
        matched = {o.contract_number.upper() for o in options
                   if re.search(rf"(?<!\w){re.escape(_normalise(o.plan_name))}(?!\w)", normalised)}
        if not matched:
            categories = {category for category, words in CATEGORY_KEYWORDS.items()
                          if any(_mentions(tokens, w) for w in words)}
            matched = {o.contract_number.upper() for o in options if o.category in categories}
        if not matched and not wants_all:
            positions = {ORDINALS[t] for t in tokens if t in ORDINALS}
            if len(positions) == 1:
                position = positions.pop()
                if -len(options) <= position < len(options):
                    matched = {options[position].contract_number.upper()}

    if wants_all:
        if not allow_all or len(options) < 2:
            return None
        return ALL_CONTRACTS if not matched or matched == set(by_number) else None
    if len(matched) != 1:
        return None
    return by_number[matched.pop()].contract_number


def _choice_button(option: ContractOption) -> Button:
    return Button(option.label, "/identify" + json.dumps({"contract_number": option.contract_number}))


CANCEL_ALL = Button("Alle kündigen", "/identify" + json.dumps({"contract_number": ALL_CONTRACTS}))


def which_contract_question(options: Sequence[ContractOption], *, request: str | None) -> Reply:
    """The question which contract is meant: one button per contract, and "Alle kündigen" for a cancellation."""
    cancelling = request in CANCELLATION_REQUESTS
    lead = ("Sie haben mehrere Verträge bei uns. Welchen Vertrag möchten Sie kündigen?" if cancelling
            else "Sie haben mehrere Verträge bei uns. Um welchen Vertrag geht es?")
    lines = [lead] + [f"- {o.plan_name}, Vertragsnummer {o.contract_number}" for o in options]
    buttons = [_choice_button(o) for o in options]
    if cancelling and len(options) > 1:
        lines.append("Sie können auch alle Verträge auf einmal kündigen.")
        buttons.append(CANCEL_ALL)
    return Reply("\n".join(lines), tuple(buttons))


NOT_UNDERSTOOD = Reply("Das konnte ich keinem Ihrer Verträge eindeutig zuordnen. Bitte wählen Sie einen Vertrag "
                       "aus oder nennen Sie die Vertragsnummer.")
