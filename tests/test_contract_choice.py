"""A customer with several contracts chooses which one a request is about; nothing acts on a guess.

The matching of the customer's answer is plain logic; the choice, the offer, the acceptance and the
cancellations run against real databases (SQLite and PostgreSQL), the actions as the action server calls them.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.contracts import AskContractNumber, ValidateContractChoiceForm
from actions.offers import ActionAcceptOffer, ActionDeclineOffer
from actions.requests import ActionServeRequest
from bot.assistant.cancellation import cancel_contracts
from bot.assistant.contract_choice import (
    ALL_CONTRACTS,
    ContractOption,
    contracts_in_question,
    match_contract,
    which_contract_question,
)
from bot.records.database import transaction
from bot.records.models import Cancellation, Contract, OfferDecision, OutboxEmail, Plan
from tests.factories import add_customer, tracker

DOMAIN: dict = {}
MOBILE = ContractOption("V40000001", "Mobil M", "mobile")
INTERNET = ContractOption("V40000002", "Internet 100", "internet")
BOTH = (MOBILE, INTERNET)


# --- matching the customer's answer ---------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("den Handyvertrag", "V40000001"),
    ("Handy", "V40000001"),
    ("Mobil", "V40000001"),
    ("den Mobilfunkvertrag bitte", "V40000001"),
    ("die SIM-Karte", "V40000001"),
    ("Internet", "V40000002"),
    ("den Internetvertrag", "V40000002"),
    ("DSL", "V40000002"),
    ("mein DSL-Anschluss", "V40000002"),
    ("Festnetz", "V40000002"),
    ("Mobil M", "V40000001"),
    ("internet 100", "V40000002"),
    ("V40000002", "V40000002"),
    ("v40000001", "V40000001"),
    ("Vertragsnummer V 40000002", "V40000002"),
    ("40000001", "V40000001"),
    ("den ersten", "V40000001"),
    ("den zweiten bitte", "V40000002"),
    ("den letzten", "V40000002"),
    ("den Internetvertrag kündigen", "V40000002"),
])
def test_an_answer_naming_one_contract_chooses_it(text: str, expected: str) -> None:
    assert match_contract(text, BOTH, allow_all=True) == expected
    assert match_contract(text, BOTH, allow_all=False) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "hallo", "weiß ich nicht", "den", "ja",
    "Handy und Internet",  # two contracts: which one?
    "nicht den Handyvertrag",  # a negation is no choice
    "alles außer Internet",
    "V99999999",  # not one of this customer's contracts
    "V40000001 oder V40000002",
    "den dritten",  # there is no third
    "den ersten oder zweiten",
    "/cancel_now",
])
def test_an_unclear_answer_chooses_nothing(text: str) -> None:
    assert match_contract(text, BOTH, allow_all=True) is None


@pytest.mark.parametrize("text", ["Alle kündigen", "beide", "alle beide", "all", "beide, Handy und Internet"])
def test_all_only_for_a_cancellation(text: str) -> None:
    assert match_contract(text, BOTH, allow_all=True) == ALL_CONTRACTS
    assert match_contract(text, BOTH, allow_all=False) is None


def test_same_kind_twice_needs_the_plan_or_the_number() -> None:
    second_mobile = ContractOption("V40000003", "Mobil S", "mobile")
    options = (MOBILE, second_mobile, INTERNET)
    assert match_contract("den Handyvertrag", options, allow_all=True) is None
    assert match_contract("Mobil S", options, allow_all=True) == "V40000003"
    assert match_contract("Mobil M", options, allow_all=True) == "V40000001"
    assert match_contract("V40000003", options, allow_all=True) == "V40000003"
    assert match_contract("Internet", options, allow_all=True) == "V40000002"


def test_no_options_choose_nothing() -> None:
    assert match_contract("den Handyvertrag", (), allow_all=True) is None
    assert match_contract("alle", (MOBILE,), allow_all=True) is None


def test_question_shows_plan_and_number_as_buttons_and_all_only_for_cancelling() -> None:
    question = which_contract_question(BOTH, request="cancel_now")
    assert "Mobil M" in question.text and "V40000001" in question.text and "V40000002" in question.text
    payloads = [b.payload for b in question.buttons]
    assert payloads == ['/identify{"contract_number": "V40000001"}',
                        '/identify{"contract_number": "V40000002"}',
                        '/identify{"contract_number": "all"}']
    assert [b.title for b in question.buttons] == ["Mobil M (V40000001)", "Internet 100 (V40000002)",
                                                   "Alle kündigen"]
    assert json.loads(payloads[0].removeprefix("/identify")) == {"contract_number": "V40000001"}
    for request in ("ask_bill", "ask_contract", "pause_contract", "change_plan"):
        assert "Alle kündigen" not in [b.title for b in which_contract_question(BOTH, request=request).buttons]


# --- which contracts a request is about (records) --------------------------------------------

@pytest.fixture
def records(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    return database_url


def _two_contract_customer(url: str, number: str = "K400001", *, second_status: str = "active") -> tuple[int, int, int]:
    """A customer with Mobil L (V...01, older) and Internet 100 (V...02); returns customer, mobile, internet ids."""
    with transaction(url) as session:
        customer = add_customer(session, number=number, plan_code="MOBIL_L", minimum_term_end=date(2024, 6, 1))
        plan = session.scalars(select(Plan).where(Plan.code == "DSL_100")).one()
        internet = Contract(contract_number=f"V{number[1:]}02", customer_id=customer.id, plan_id=plan.id,
                            monthly_price_cents=plan.monthly_price_cents, start_date=date(2024, 6, 1),
                            minimum_term_end=date(2024, 9, 1), notice_period_months=1, status=second_status,
                            discount_percent=0)
        session.add(internet)
        session.flush()
        return customer.id, customer.contracts[0].id, internet.id


def test_several_running_contracts_ask_and_one_does_not(records: str) -> None:
    customer_id, mobile_id, internet_id = _two_contract_customer(records)
    with transaction(records) as session:
        for request in ("cancellation", "cancel_now", "ask_contract", "ask_bill", "change_plan", "pause_contract"):
            assert contracts_in_question(session, customer_id=customer_id, request=request, chosen=None).ask
        chosen = contracts_in_question(session, customer_id=customer_id, request="cancel_now", chosen="V40000102")
        assert chosen.contract_ids == (internet_id,) and not chosen.ask
        every = contracts_in_question(session, customer_id=customer_id, request="cancel_now", chosen=ALL_CONTRACTS)
        assert every.contract_ids == (mobile_id, internet_id)
        # "all" is no answer to a billing question; someone else's contract number is no answer at all.
        assert contracts_in_question(session, customer_id=customer_id, request="ask_bill", chosen=ALL_CONTRACTS).ask
        other_id = add_customer(session, number="K400009", plan_code="MOBIL_S").id
        assert contracts_in_question(session, customer_id=customer_id, request="cancel_now",
                                     chosen="V40000901").ask
        single = contracts_in_question(session, customer_id=other_id, request="cancel_now", chosen=None)
        assert not single.ask and single.contract_numbers == ("V40000901",)


def test_a_cancelled_contract_is_no_choice(records: str) -> None:
    customer_id, mobile_id, _ = _two_contract_customer(records, second_status="cancelled")
    with transaction(records) as session:
        target = contracts_in_question(session, customer_id=customer_id, request="cancel_now", chosen=None)
        assert target.contract_ids == (mobile_id,) and not target.ask


# --- the actions -------------------------------------------------------------------------------

def _slots(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def _loop(events: list[dict]) -> str | None:
    return next((e.get("name") for e in events if e.get("event") == "active_loop"), None)


async def test_cancel_now_with_two_contracts_asks_and_cancels_nothing(records: str) -> None:
    """The issue's reproduction: "Jetzt kündigen", identified, two contracts → asked, not cancelled."""
    customer_id, _, _ = _two_contract_customer(records)
    slots = {"verified_customer": float(customer_id)}
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(intent="cancel_now", slots=slots), DOMAIN)
    assert _loop(events) == "contract_choice_form"
    assert _slots(events)["pending_request"] == "cancel_now"
    assert "gekündigt" not in _texts(dispatcher)
    with transaction(records) as session:
        assert session.scalars(select(Cancellation)).first() is None
        assert {c.status for c in session.scalars(select(Contract))} == {"active"}

    dispatcher = CollectingDispatcher()
    await AskContractNumber().run(dispatcher, tracker(slots={**slots, "pending_request": "cancel_now"}), DOMAIN)
    (question,) = dispatcher.messages
    assert "V40000101" in question["text"] and "V40000102" in question["text"]
    assert [b["title"] for b in question["buttons"]] == ["Mobil L (V40000101)", "Internet 100 (V40000102)",
                                                         "Alle kündigen"]


async def test_the_chosen_contract_and_only_it_is_cancelled(records: str) -> None:
    customer_id, mobile_id, internet_id = _two_contract_customer(records)
    slots = {"verified_customer": float(customer_id), "pending_request": "cancel_now"}
    form = ValidateContractChoiceForm()
    dispatcher = CollectingDispatcher()
    assert await form.validate_contract_number("den Internetvertrag", dispatcher, tracker(slots=slots),
                                               DOMAIN) == {"contract_number": "V40000102"}
    dispatcher = CollectingDispatcher()
    await ActionServeRequest().run(dispatcher, tracker(
        intent="identify", latest_action="contract_choice_form",
        slots={**slots, "contract_number": "V40000102"}), DOMAIN)
    assert "V40000102" in _texts(dispatcher) and "ist gekündigt" in _texts(dispatcher)
    with transaction(records) as session:
        assert session.get(Contract, internet_id).status == "cancelled"
        assert session.get(Contract, mobile_id).status == "active"
        assert session.scalars(select(Cancellation)).one().contract_id == internet_id


async def test_an_unclear_answer_is_asked_again(records: str) -> None:
    customer_id, _, _ = _two_contract_customer(records)
    slots = {"verified_customer": float(customer_id), "pending_request": "ask_bill"}
    form = ValidateContractChoiceForm()
    for answer in ("beide", "Handy und Internet", "weiß nicht", "V40000901"):
        dispatcher = CollectingDispatcher()
        assert await form.validate_contract_number(answer, dispatcher, tracker(slots=slots), DOMAIN) == {
            "contract_number": None}
        assert "eindeutig" in _texts(dispatcher)


async def test_offer_acceptance_and_decline_act_on_the_chosen_contract(records: str) -> None:
    customer_id, mobile_id, internet_id = _two_contract_customer(records)
    slots = {"verified_customer": float(customer_id), "cancellation_reason": "price",
             "pending_request": "cancellation", "contract_number": "V40000102"}
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="identify", latest_action="contract_choice_form", slots=slots), DOMAIN)
    made = _slots(events)
    assert made["offer_code"] == "DOWNGRADE" and made["contract_number"] == "V40000102"
    assert "Internet 50" in _texts(dispatcher), "the offer is for the internet contract (Internet 100 → 50)"

    dispatcher = CollectingDispatcher()
    await ActionAcceptOffer().run(dispatcher, tracker(intent="accept_offer", slots={**slots, **made}), DOMAIN)
    assert "Internet 50" in _texts(dispatcher)
    with transaction(records) as session:
        assert session.get(Contract, internet_id).plan.code == "DSL_50"
        mobile = session.get(Contract, mobile_id)
        assert mobile.plan.code == "MOBIL_L" and mobile.status == "active"
        assert session.scalars(select(OfferDecision)).one().contract_id == internet_id

    # Declining an offer for the mobile contract cancels the mobile contract only.
    slots = {**slots, "contract_number": "V40000101"}
    dispatcher = CollectingDispatcher()
    made = _slots(await ActionServeRequest().run(dispatcher, tracker(
        intent="identify", latest_action="contract_choice_form", slots=slots), DOMAIN))
    assert "Mobil M" in _texts(dispatcher)
    dispatcher = CollectingDispatcher()
    await ActionDeclineOffer().run(dispatcher, tracker(intent="deny", slots={**slots, **made}), DOMAIN)
    assert "V40000101" in _texts(dispatcher) and "ist gekündigt" in _texts(dispatcher)
    with transaction(records) as session:
        assert session.get(Contract, mobile_id).status == "cancelled"
        assert session.get(Contract, internet_id).status == "active"
        assert session.scalars(select(Cancellation)).one().contract_id == mobile_id


async def test_service_answers_are_about_the_chosen_contract(records: str) -> None:
    customer_id, _, _ = _two_contract_customer(records)
    slots = {"verified_customer": float(customer_id)}
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(intent="ask_contract", slots=slots), DOMAIN)
    assert _loop(events) == "contract_choice_form" and dispatcher.messages == []
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="identify", latest_action="contract_choice_form",
        slots={**slots, "pending_request": "ask_contract", "contract_number": "V40000102"}), DOMAIN)
    assert "Internet 100" in _texts(dispatcher) and "Mobil L" not in _texts(dispatcher)
    assert _slots(events)["contract_number"] is None  # the choice ends with the request


async def test_one_contract_is_never_asked_about(records: str) -> None:
    with transaction(records) as session:
        customer_id = add_customer(session, number="K400002", plan_code="MOBIL_M").id
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="cancel_now", slots={"verified_customer": float(customer_id)}), DOMAIN)
    assert _loop(events) is None and "ist gekündigt" in _texts(dispatcher)


async def test_cancel_all_cancels_each_with_one_confirmation(records: str) -> None:
    customer_id, mobile_id, internet_id = _two_contract_customer(records)
    dispatcher = CollectingDispatcher()
    await ActionServeRequest().run(dispatcher, tracker(
        intent="identify", latest_action="contract_choice_form",
        slots={"verified_customer": float(customer_id), "pending_request": "cancel_now",
               "contract_number": ALL_CONTRACTS}), DOMAIN)
    text = _texts(dispatcher)
    confirmations = [m for m in dispatcher.messages if "Ihre Verträge sind gekündigt" in (m.get("text") or "")]
    assert len(confirmations) == 1 and "V40000101" in text and "V40000102" in text
    with transaction(records) as session:
        cancellations = session.scalars(select(Cancellation)).all()
        assert {c.contract_id for c in cancellations} == {mobile_id, internet_id}
        assert all(c.confirmation_number in text for c in cancellations)
        assert {c.status for c in session.scalars(select(Contract))} == {"cancelled"}
        (mail,) = session.scalars(select(OutboxEmail)).all()
        assert mail.recipient == "k400001@mail.example"
        assert "V40000101" in mail.body and "V40000102" in mail.body
        assert all(c.confirmation_number in mail.body and c.confirmation_number in mail.subject
                   for c in cancellations)


def test_cancel_all_names_a_contract_that_was_cancelled_meanwhile(records: str) -> None:
    customer_id, mobile_id, internet_id = _two_contract_customer(records)
    moment = datetime(2026, 11, 20, 10, 30, tzinfo=timezone.utc)
    with transaction(records) as session:
        first = cancel_contracts(session, customer_id=customer_id, contract_ids=(mobile_id,), reason=None,
                                 conversation_id="c-1", now=moment, company="Nordstern")
        assert "V40000101" in first.reply.text
        again = cancel_contracts(session, customer_id=customer_id, contract_ids=(mobile_id, internet_id),
                                 reason=None, conversation_id="c-2", now=moment, company="Nordstern")
        assert "bereits gekündigt" in again.reply.text and "V40000102" in again.reply.text
        assert len(session.scalars(select(Cancellation)).all()) == 2
        assert len(session.scalars(select(OutboxEmail)).all()) == 2
