"""The actions against real databases (SQLite and PostgreSQL), called as the action server calls them."""
from __future__ import annotations

import socket
from datetime import date

import pytest
from aiosmtpd.controller import Controller
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.conversation import ActionStoreRating
from actions.forms import AskVerificationSecret, ValidateCancellationForm, ValidateVerificationForm
from actions.handoff import ActionRequestHuman
from actions.offers import ActionAcceptOffer, ActionDeclineOffer
from actions.requests import ActionServeRequest
from bot.records.database import transaction
from bot.records.models import Cancellation, Contract, HandoffRequest, OfferDecision, OutboxEmail, SatisfactionRating
from tests.factories import add_customer, tracker

DOMAIN: dict = {}


@pytest.fixture
def records(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    return database_url


def _customer(url: str, **kwargs) -> int:
    with transaction(url) as session:
        return add_customer(session, **kwargs).id


def _events(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


async def test_contract_question_is_answered_from_the_records(records: str) -> None:
    customer_id = _customer(records, number="K300001", plan_code="DSL_100", minimum_term_end=date(2030, 5, 31))
    dispatcher = CollectingDispatcher()
    await ActionServeRequest().run(dispatcher, tracker(intent="ask_contract",
                                                       slots={"verified_customer": float(customer_id)}), DOMAIN)
    text = _texts(dispatcher)
    assert "Internet 100" in text and "39,99 €" in text and "31.05.2030" in text


async def test_unverified_request_opens_the_verification_form_and_shows_nothing(records: str) -> None:
    _customer(records, number="K300002", plan_code="DSL_100")
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(intent="ask_bill"), DOMAIN)
    assert {"event": "active_loop", "name": "verification_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events]
    assert dispatcher.messages == []
    assert _events(events)["pending_request"] == "ask_bill"


async def test_verification_succeeds_with_postcode_or_birth_date(records: str) -> None:
    customer_id = _customer(records, number="K300003", plan_code="MOBIL_M", postcode="80331",
                            birth_date=date(1972, 11, 3))
    form = ValidateVerificationForm()
    for secret in ("80331", "03.11.1972"):
        dispatcher = CollectingDispatcher()
        result = await form.validate_verification_secret(
            secret, dispatcher, tracker(slots={"customer_id": "K300003", "verification_failures": 0}), DOMAIN)
        assert result["verified_customer"] == float(customer_id)
        assert result["verification_secret"] == "verified", "the secret itself must not stay in the conversation"


async def test_failed_verification_does_not_say_which_value_was_wrong(records: str) -> None:
    _customer(records, number="K300004", plan_code="MOBIL_M", postcode="80331")
    form = ValidateVerificationForm()
    wrong_number, wrong_postcode = CollectingDispatcher(), CollectingDispatcher()
    first = await form.validate_verification_secret(
        "80331", wrong_number, tracker(slots={"customer_id": "K999999", "verification_failures": 0}), DOMAIN)
    second = await form.validate_verification_secret(
        "11111", wrong_postcode, tracker(slots={"customer_id": "K300004", "verification_failures": 1}), DOMAIN)
    assert first["customer_id"] is None and first["verification_failures"] == 1
    assert second["verification_failures"] == 2
    assert _texts(wrong_number).replace("2 von 3", "") == _texts(wrong_postcode).replace("3 von 3", "")
    third = await form.validate_verification_secret(
        "22222", CollectingDispatcher(), tracker(slots={"customer_id": "K300004", "verification_failures": 2}),
        DOMAIN)
    assert third["verification_failures"] == 3
    assert await form.required_slots(["customer_id", "verification_secret"], CollectingDispatcher(),
                                     tracker(slots={"verification_failures": 3}), DOMAIN) == []


@pytest.mark.parametrize(
    ("text", "asked_for"),
    [
        ("meine PLZ weiß ich nicht", "Geburtsdatum"),
        ("Postleitzahl habe ich gerade nicht", "Geburtsdatum"),
        ("mein Geburtsdatum weiß ich nicht", "Postleitzahl"),
    ],
)
async def test_not_knowing_one_value_asks_for_the_other_without_using_an_attempt(
        records: str, text: str, asked_for: str) -> None:
    _customer(records, number="K300009", plan_code="MOBIL_M", postcode="80331")
    said = tracker(intent="dont_know", text=text, slots={"customer_id": "K300009", "verification_failures": 1})
    validation, question = CollectingDispatcher(), CollectingDispatcher()
    result = await ValidateVerificationForm().validate_verification_secret(text, validation, said, DOMAIN)
    assert result == {"verification_secret": None}, "the form stays open, the number is kept, no attempt is used up"
    assert validation.messages == []
    await AskVerificationSecret().run(question, said, DOMAIN)  # the form asks again: one question only
    reply = _texts(question)
    assert asked_for in reply and "passen leider nicht" not in reply
    other = "Postleitzahl" if asked_for == "Geburtsdatum" else "Geburtsdatum"
    assert other not in reply
    assert len(question.messages) == 1


async def test_the_secret_question_is_the_usual_one_otherwise() -> None:
    dispatcher = CollectingDispatcher()
    await AskVerificationSecret().run(dispatcher, tracker(intent="identify", text="K300009"), DOMAIN)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_ask_verification_secret"]


async def test_not_knowing_the_customer_number_says_where_to_find_it(records: str) -> None:
    dispatcher = CollectingDispatcher()
    result = await ValidateVerificationForm().validate_customer_id(
        "Kundennummer weiß ich nicht", dispatcher, tracker(intent="dont_know", text="Kundennummer weiß ich nicht"),
        DOMAIN)
    assert result == {"customer_id": None}
    assert "Rechnung" in _texts(dispatcher)
    assert any(b["payload"] == "/request_human" for m in dispatcher.messages for b in m.get("buttons") or [])


async def test_identifying_without_a_request_says_identified_once(records: str) -> None:
    customer_id = _customer(records, number="K300010", plan_code="MOBIL_M", postcode="80331")
    form_dispatcher, serve_dispatcher = CollectingDispatcher(), CollectingDispatcher()
    slots = await ValidateVerificationForm().validate_verification_secret(
        "80331", form_dispatcher, tracker(intent="identify", text="80331",
                                          slots={"customer_id": "K300010", "verification_failures": 0}), DOMAIN)
    await ActionServeRequest().run(serve_dispatcher, tracker(
        intent="identify", text="80331", latest_action="verification_form",
        slots={**slots, "pending_request": "identify"}), DOMAIN)
    said = _texts(form_dispatcher) + "\n" + _texts(serve_dispatcher)
    assert said.count("identifiziert") == 1, said
    assert "Wie kann ich Ihnen helfen?" in _texts(serve_dispatcher)
    again = CollectingDispatcher()
    await ActionServeRequest().run(again, tracker(intent="identify", text="K300010",
                                                  slots={"verified_customer": float(customer_id)}), DOMAIN)
    assert "bereits identifiziert" in _texts(again)


def test_free_text_reason_maps_to_a_canonical_reason() -> None:
    form = ValidateCancellationForm()
    assert form.validate_cancellation_reason("ich ziehe nach Spanien", CollectingDispatcher(), tracker(),
                                             DOMAIN) == {"cancellation_reason": "moving"}
    assert form.validate_cancellation_reason("möchte ich nicht sagen", CollectingDispatcher(), tracker(),
                                             DOMAIN) == {"cancellation_reason": "other"}


async def test_offer_then_decline_cancels_once_with_correct_rows(records: str) -> None:
    customer_id = _customer(records, number="K300005", plan_code="MOBIL_L", minimum_term_end=date(2024, 6, 1))
    slots = {"verified_customer": float(customer_id), "cancellation_reason": "price"}
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(intent="cancel_contract", slots=slots), DOMAIN)
    made = _events(events)
    assert made["offer_pending"] is True and made["offer_code"] == "DOWNGRADE"
    assert "Mobil M" in _texts(dispatcher)

    dispatcher = CollectingDispatcher()
    await ActionDeclineOffer().run(dispatcher, tracker(intent="deny", slots={**slots, **made}), DOMAIN)
    assert "ist gekündigt" in _texts(dispatcher)
    with transaction(records) as session:
        cancellation = session.scalars(select(Cancellation)).one()
        assert cancellation.reason == "price" and cancellation.confirmation_number in _texts(dispatcher)
        assert session.scalars(select(OfferDecision)).one().outcome == "declined"
        assert session.scalars(select(OutboxEmail)).one().sent_at is None  # no SMTP configured: kept in outbox
        assert session.get(Contract, cancellation.contract_id).status == "cancelled"

    # Asking again never cancels twice.
    dispatcher = CollectingDispatcher()
    await ActionServeRequest().run(dispatcher, tracker(intent="cancel_now", slots=slots), DOMAIN)
    assert "bereits gekündigt" in _texts(dispatcher)
    with transaction(records) as session:
        assert len(session.scalars(select(Cancellation)).all()) == 1


async def test_accepting_the_offer_applies_it(records: str) -> None:
    customer_id = _customer(records, number="K300006", plan_code="DSL_250", segment="premium",
                            minimum_term_end=date(2030, 1, 31))
    slots = {"verified_customer": float(customer_id), "cancellation_reason": "price",
             "offer_code": "DISCOUNT_20", "offer_pending": True}
    dispatcher = CollectingDispatcher()
    await ActionAcceptOffer().run(dispatcher, tracker(intent="accept_offer", slots=slots), DOMAIN)
    assert "39,99 €" in _texts(dispatcher)  # 49,99 € less 20 %
    with transaction(records) as session:
        contract = session.scalars(select(Contract)).one()
        assert contract.discount_percent == 20 and contract.status == "active"
        decision = session.scalars(select(OfferDecision)).one()
        assert decision.outcome == "accepted" and decision.cost_cents == 4999 * 20 * 12 // 100


async def test_confirmation_email_is_delivered_over_smtp(records: str, monkeypatch: pytest.MonkeyPatch) -> None:
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append(envelope)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        customer_id = _customer(records, number="K300007", plan_code="MOBIL_S")
        dispatcher = CollectingDispatcher()
        await ActionServeRequest().run(dispatcher, tracker(
            intent="cancel_now", slots={"verified_customer": float(customer_id)}), DOMAIN)
    finally:
        controller.stop()
    assert len(received) == 1
    body = received[0].content.decode("utf-8", "replace")
    assert received[0].rcpt_tos == ["k300007@mail.example"]
    with transaction(records) as session:
        cancellation = session.scalars(select(Cancellation)).one()
        assert session.scalars(select(OutboxEmail)).one().sent_at is not None
    assert cancellation.confirmation_number in body


async def test_handoff_and_rating_are_stored(records: str) -> None:
    customer_id = _customer(records, number="K300008", plan_code="MOBIL_XL", segment="business")
    dispatcher = CollectingDispatcher()
    await ActionRequestHuman().run(dispatcher, tracker(intent="request_human",
                                                       slots={"verified_customer": float(customer_id)}), DOMAIN)
    await ActionRequestHuman().run(CollectingDispatcher(), tracker(intent="request_human"), DOMAIN)
    assert "Vorgang H-" in _texts(dispatcher)
    await ActionStoreRating().run(CollectingDispatcher(), tracker(
        intent="rate", text='/rate{"rating":4}', entities=[{"entity": "rating", "value": 4}],
        slots={"rating": 4.0}), DOMAIN)
    with transaction(records) as session:
        handoff = session.scalars(select(HandoffRequest)).one()  # one per conversation
        assert handoff.priority == "high" and handoff.customer_id == customer_id
        assert session.scalars(select(SatisfactionRating)).one().rating == 4


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("<script>alert(1)</script>", []),  # classified as a rating, but no rating in it
        ("Ich habe 2 Verträge", []),
        ("eine 7", ["7"]),
        ("4,5", [4.5]),
        ("abc", ["abc"]),
        ("4 oder 5", ["4", "5"]),
    ],
)
async def test_no_rating_is_stored_without_one_valid_rating_in_the_latest_message(
        records: str, text: str, values: list) -> None:
    asked = {"event": "action", "name": "action_goodbye"}
    dispatcher = CollectingDispatcher()
    events = await ActionStoreRating().run(dispatcher, tracker(
        intent="rate", text=text, entities=[{"entity": "rating", "value": v} for v in values],
        slots={"rating": 5.0},  # an earlier rating must not be stored again for this message
        events=[asked, {"event": "user", "text": text}]), DOMAIN)
    with transaction(records) as session:
        assert session.scalars(select(SatisfactionRating)).first() is None
    assert [m.get("response") for m in dispatcher.messages] == ["utter_ask_rating"]
    assert _events(events)["rating"] is None


async def test_a_rating_without_the_rating_question_is_not_understood(records: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionStoreRating().run(dispatcher, tracker(intent="rate", text="Ich habe 3 Fragen"), DOMAIN)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_default"]


async def test_a_rating_typed_as_text_is_stored(records: str) -> None:
    await ActionStoreRating().run(CollectingDispatcher(), tracker(
        intent="rate", text="gut, 4 von 5", entities=[{"entity": "rating", "value": "4"}]), DOMAIN)
    with transaction(records) as session:
        assert session.scalars(select(SatisfactionRating)).one().rating == 4


async def test_unreachable_database_gives_a_polite_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{dead_port}/nothing")
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(intent="ask_contract",
                                                                slots={"verified_customer": 1.0}), DOMAIN)
    assert events == []
    assert "nicht auf Ihre Kundendaten zugreifen" in _texts(dispatcher)
    assert any(b["payload"] == "/request_human" for m in dispatcher.messages for b in m.get("buttons") or [])
