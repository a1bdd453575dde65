"""Customers with two contracts, over the REST channel against the running Rasa and action servers.

Whatever they ask about one contract, they are asked which one (buttons with plan and contract
number, or free text), and exactly that contract is offered, changed or cancelled.
"""
from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.models import Cancellation, Contract, Customer, OfferDecision, OutboxEmail, Plan
from tests.factories import add_customer
from tests.servers import RunningAssistant
from tests.test_e2e_conversation import Chat

pytestmark = pytest.mark.e2e


def _contracts(url: str, customer_number: str) -> dict[str, Contract]:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == customer_number)).one()
        contracts = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).all()
        for contract in contracts:
            _ = contract.plan.code  # loaded while the session is open
        return {c.contract_number: c for c in contracts}


def _add_two_contract_customer(url: str, number: str, postcode: str) -> None:
    """A standard customer with Mobil L (V<number>01) and Internet 100 (V<number>02)."""
    with transaction(url) as session:
        customer = add_customer(session, number=number, plan_code="MOBIL_L", postcode=postcode,
                                minimum_term_end=date(2024, 6, 1))
        plan = session.scalars(select(Plan).where(Plan.code == "DSL_100")).one()
        session.add(Contract(contract_number=f"V{number[1:]}02", customer_id=customer.id, plan_id=plan.id,
                             monthly_price_cents=plan.monthly_price_cents, start_date=date(2024, 6, 1),
                             minimum_term_end=date(2024, 9, 1), notice_period_months=1, status="active",
                             discount_percent=0))


async def test_cancel_now_with_two_contracts_asks_which_and_cancels_only_that_one(
        assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    """The issue's reproduction: K100006 (Mobil M and Internet 100) says "Jetzt kündigen" and identifies."""
    chat = Chat(client, assistant)
    reason_question = await chat.say("Ich möchte kündigen")
    assert "/cancel_now" in Chat.buttons(reason_question)
    await chat.say("/cancel_now")
    await chat.say("K100006")
    question = await chat.say("04109")
    text = Chat.text(question)
    assert "V10000006" in text and "V10000016" in text, "both contracts must be shown"
    assert "gekündigt" not in text, "nothing may be cancelled before the customer chose"
    assert set(Chat.buttons(question)) >= {'/identify{"contract_number": "V10000006"}',
                                           '/identify{"contract_number": "V10000016"}',
                                           '/identify{"contract_number": "all"}'}
    with transaction(assistant.database_url) as session:
        assert session.scalars(select(Cancellation).where(Cancellation.conversation_id == chat.sender)).first() \
            is None

    done = await chat.say('/identify{"contract_number": "V10000006"}')
    assert "V10000006" in Chat.text(done) and "ist gekündigt" in Chat.text(done)
    contracts = _contracts(assistant.database_url, "K100006")
    assert contracts["V10000006"].status == "cancelled"
    assert contracts["V10000016"].status == "active"
    with transaction(assistant.database_url) as session:
        (cancellation,) = session.scalars(select(Cancellation).where(
            Cancellation.conversation_id == chat.sender)).all()
        assert cancellation.contract_id == contracts["V10000006"].id


async def test_offer_for_the_contract_named_in_free_text_is_accepted_for_that_contract(
        assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    """K100007 (premium, Mobil L and Glasfaser 1000) finds it too expensive and means the fibre line."""
    chat = Chat(client, assistant)
    await chat.say("Ich will kündigen, das ist mir zu teuer")
    await chat.say("K100007")
    question = await chat.say("07.01.1994")
    assert "V10000007" in Chat.text(question) and "V10000017" in Chat.text(question)
    offer = await chat.say("den Internetvertrag")
    assert "20 %" in Chat.text(offer) and "55,99 €" in Chat.text(offer), "20 % off Glasfaser 1000 (69,99 €)"
    accepted = await chat.say("/accept_offer")
    assert "Ihr Vertrag läuft weiter" in Chat.text(accepted)

    contracts = _contracts(assistant.database_url, "K100007")
    assert contracts["V10000017"].discount_percent == 20 and contracts["V10000017"].status == "active"
    mobile = contracts["V10000007"]
    assert (mobile.discount_percent, mobile.status, mobile.plan.code) == (0, "active", "MOBIL_L")
    with transaction(assistant.database_url) as session:
        decision = session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == chat.sender)).one()
        assert decision.outcome == "accepted" and decision.contract_id == contracts["V10000017"].id


async def test_declined_offer_cancels_the_chosen_contract_only(assistant: RunningAssistant,
                                                                client: httpx.AsyncClient) -> None:
    _add_two_contract_customer(assistant.database_url, "K100091", "10117")
    chat = Chat(client, assistant)
    await chat.say("Ich möchte meinen Vertrag kündigen")
    await chat.say("zu teuer")
    await chat.say("K100091")
    await chat.say("10117")
    unclear = await chat.say("Handy und Internet")
    assert "eindeutig" in Chat.text(unclear) and "V10009102" in Chat.text(unclear), "asked again, with buttons"
    offer = await chat.say("Internet")
    assert "Internet 50" in Chat.text(offer), "the smaller plan of the internet contract is offered"
    done = await chat.say("nein, einfach kündigen")
    assert "V10009102" in Chat.text(done) and "ist gekündigt" in Chat.text(done)

    contracts = _contracts(assistant.database_url, "K100091")
    assert contracts["V10009102"].status == "cancelled"
    assert contracts["V10009101"].status == "active" and contracts["V10009101"].plan.code == "MOBIL_L"
    with transaction(assistant.database_url) as session:
        decision = session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == chat.sender)).one()
        assert decision.outcome == "declined" and decision.contract_id == contracts["V10009102"].id


async def test_cancel_all_cancels_both_with_one_email(assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    _add_two_contract_customer(assistant.database_url, "K100092", "10119")
    chat = Chat(client, assistant)
    await chat.say("Ich möchte kündigen")
    await chat.say("Jetzt kündigen")
    await chat.say("K100092")
    question = await chat.say("10119")
    assert '/identify{"contract_number": "all"}' in Chat.buttons(question)
    done = await chat.say('/identify{"contract_number": "all"}')
    text = Chat.text(done)
    assert "V10009201" in text and "V10009202" in text

    contracts = _contracts(assistant.database_url, "K100092")
    assert {c.status for c in contracts.values()} == {"cancelled"}
    with transaction(assistant.database_url) as session:
        cancellations = session.scalars(select(Cancellation).where(
            Cancellation.conversation_id == chat.sender)).all()
        assert len(cancellations) == 2 and all(c.confirmation_number in text for c in cancellations)
        (mail,) = session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == "k100092@mail.example")).all()
        assert "V10009201" in mail.body and "V10009202" in mail.body


async def test_billing_question_asks_which_contract_and_answers_for_it(assistant: RunningAssistant,
                                                                      client: httpx.AsyncClient) -> None:
    _add_two_contract_customer(assistant.database_url, "K100093", "10178")
    chat = Chat(client, assistant)
    await chat.say("Wann endet mein Vertrag?")
    await chat.say("K100093")
    question = await chat.say("10178")
    assert "V10009301" in Chat.text(question) and "Alle kündigen" not in str(question)
    answer = await chat.say("den zweiten")
    assert "V10009302" in Chat.text(answer) and "Internet 100" in Chat.text(answer)
    assert "Mobil L" not in Chat.text(answer)


async def test_one_contract_customer_is_not_asked(assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    await chat.say("Ich möchte kündigen")
    await chat.say("/cancel_now")
    await chat.say("K100005")
    done = await chat.say("01067")
    assert "V10000005" in Chat.text(done) and "ist gekündigt" in Chat.text(done)
