"""Whole conversations over the REST channel against the running Rasa server and action server.

The servers start once per test module on free local ports, on a fresh SQLite database seeded
with the demo personas; the test then checks the rows the conversation left in the database.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest
import socketio
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.migrations import upgrade_to_head
from bot.records.models import (
    Cancellation,
    Contract,
    Customer,
    OfferDecision,
    OutboxEmail,
    RetentionOffer,
    SatisfactionRating,
)
from bot.retention.dates import effective_cancellation_date
from bot.retention.formatting import german_date
from tests.servers import RunningAssistant, running_assistant

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def assistant(assistant_with_api: RunningAssistant) -> RunningAssistant:
    """The servers of this module, with Rasa's HTTP API on (JWT) for the /model/parse checks."""
    return assistant_with_api


class Chat:
    """One customer's conversation over the REST channel."""

    def __init__(self, http: httpx.AsyncClient, assistant: RunningAssistant) -> None:
        self.http, self.assistant, self.sender = http, assistant, f"test-{uuid.uuid4().hex[:12]}"

    async def say(self, text: str) -> list[dict]:
        response = await self.http.post(self.assistant.rest_url, json={"sender": self.sender, "message": text})
        response.raise_for_status()
        return response.json()

    @staticmethod
    def text(messages: list[dict]) -> str:
        return "\n".join(m.get("text", "") for m in messages)

    @staticmethod
    def buttons(messages: list[dict]) -> list[str]:
        return [b["payload"] for m in messages for b in m.get("buttons", [])]


def _contract_of(url: str, customer_number: str) -> Contract:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == customer_number)).one()
        return session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()


async def test_declined_offer_cancels_and_records_everything(assistant: RunningAssistant,
                                                             client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    before = _contract_of(assistant.database_url, "K100001")
    expected_end = effective_cancellation_date(before, date.today())

    first = await chat.say("Guten Tag")
    assert "automatischer Assistent" in Chat.text(first)
    reason_question = await chat.say("Ich möchte meinen Vertrag kündigen")
    assert "/cancel_now" in Chat.buttons(reason_question), "the cancel-right-away button must come at once"
    ask_number = await chat.say("Ist mir einfach viel zu teuer geworden")
    assert "Kundennummer" in Chat.text(ask_number)
    assert "Schmidt" not in Chat.text(ask_number)
    await chat.say("K100001")
    offer = await chat.say("10115")
    assert "Mobil M" in Chat.text(offer), "a standard customer who finds it too expensive gets the smaller plan"
    assert {"/accept_offer", "/cancel_now"} <= set(Chat.buttons(offer))
    done = await chat.say("nein, einfach kündigen")
    text = Chat.text(done)
    assert "gekündigt" in text and german_date(expected_end) in text

    with transaction(assistant.database_url) as session:
        cancellation = session.scalars(select(Cancellation).where(
            Cancellation.conversation_id == chat.sender)).one()
        assert cancellation.reason == "price"
        assert cancellation.effective_date == expected_end
        assert cancellation.confirmation_number in text
        decision = session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == chat.sender)).one()
        assert decision.outcome == "declined"
        assert session.get(RetentionOffer, decision.offer_id).code == "DOWNGRADE"
        contract = session.get(Contract, cancellation.contract_id)
        assert contract.status == "cancelled" and contract.cancellation_effective_date == expected_end
        mail = session.scalars(select(OutboxEmail).where(
            OutboxEmail.subject.contains(cancellation.confirmation_number))).one()
        assert mail.recipient == "anna.schmidt@mail.example"
        assert german_date(expected_end) in mail.body


async def test_accepted_offer_keeps_the_customer(assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    await chat.say("Hallo")
    await chat.say("Ich will kündigen, bei der Konkurrenz zahle ich die Hälfte")
    await chat.say("K100002")
    offer = await chat.say("03.11.1972")
    assert "25 %" in Chat.text(offer), "a premium customer leaving for a competitor gets the 25 % price match"
    accepted = await chat.say("/accept_offer")
    assert "Ihr Vertrag läuft weiter" in Chat.text(accepted)

    with transaction(assistant.database_url) as session:
        decision = session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == chat.sender)).one()
        assert decision.outcome == "accepted" and decision.reason == "competitor"
        assert decision.cost_cents > 0
        contract = session.get(Contract, decision.contract_id)
        assert contract.status == "active" and contract.discount_percent == 25
        assert session.scalars(select(Cancellation).where(Cancellation.contract_id == contract.id)).first() is None


async def test_failed_verification_reveals_nothing_and_offers_a_human(assistant: RunningAssistant,
                                                                     client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    await chat.say("Was steht auf meiner letzten Rechnung?")
    replies = []
    for secret in ("99999", "01.01.1950", "12345"):
        await chat.say("K100003")
        replies.append(Chat.text(await chat.say(secret)))
    assert all("Yilmaz" not in r and "Fatma" not in r and "€" not in r for r in replies)
    assert "Versuch 2 von 3" in replies[0] and "Versuch 3 von 3" in replies[1]
    assert "/request_human" in Chat.buttons(await chat.say("Was steht auf meiner Rechnung?"))
    handoff = await chat.say("/request_human")
    assert "Vorgang H-" in Chat.text(handoff)


async def test_hostile_and_odd_input_is_handled(assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    for text in ("<script>alert(1)</script>", "'; DROP TABLE customers; --", "😡😡😡", "x" * 10_000, " "):
        messages = await chat.say(text)
        assert all("<script>" not in m.get("text", "") for m in messages)
    with transaction(assistant.database_url) as session:
        assert session.scalars(select(Customer)).first() is not None
    assert "automatischer Assistent" in Chat.text(await chat.say("Bist du ein Bot?"))


async def test_not_knowing_the_postcode_keeps_verification_open(assistant: RunningAssistant,
                                                                  client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    await chat.say("Wie lange läuft mein Vertrag noch?")
    await chat.say("K100001")
    ask = Chat.text(await chat.say("meine PLZ weiß ich nicht"))
    assert "Geburtsdatum" in ask and "Postleitzahl" not in ask and "Schmidt" not in ask
    answer = Chat.text(await chat.say("12.04.1985"))
    assert "identifiziert" in answer and "V10000001" in answer, "the contract question is answered after all"


async def test_identifying_first_says_identified_once(assistant: RunningAssistant,
                                                       client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    await chat.say("Hallo")
    await chat.say("K100001")
    reply = Chat.text(await chat.say("10115"))
    assert reply.count("identifiziert") == 1, reply
    assert "Wie kann ich Ihnen helfen?" in reply


async def test_widget_metadata_reaches_rasa_over_socketio(assistant: RunningAssistant,
                                                          client: httpx.AsyncClient) -> None:
    """The demo page's widget sends `customData: {language: "de"}` with each message (see demo.html)."""
    session_id = f"test-{uuid.uuid4().hex[:12]}"
    answered = asyncio.Event()
    sio = socketio.AsyncClient()
    sio.on("bot_uttered", lambda data: answered.set())
    await sio.connect(assistant.rasa_url, socketio_path="/socket.io", transports=["polling"])
    try:
        await sio.emit("session_request", {"session_id": session_id})
        await sio.emit("user_uttered", {"message": "Hallo", "session_id": session_id,
                                        "customData": {"language": "de"}})
        await asyncio.wait_for(answered.wait(), timeout=30)
    finally:
        await sio.disconnect()
    # The first answer is sent while Rasa is still working on the turn; the tracker is stored after it.
    for _ in range(40):
        said = [e for e in assistant.stored_user_messages(session_id) if e.get("text") == "Hallo"]
        if said:
            break
        await asyncio.sleep(0.25)
    assert len(said) == 1
    assert said[0]["metadata"]["language"] == "de"


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
async def test_empty_message_is_parsed_as_not_understood(assistant: RunningAssistant, client: httpx.AsyncClient,
                                                         text: str) -> None:
    response = await client.post(f"{assistant.rasa_url}/model/parse", json={"text": text},
                                 headers=assistant.api_headers())
    assert response.status_code == 200, response.text
    assert response.json()["intent"]["name"] == "nlu_fallback"


async def test_every_odd_message_gets_a_polite_answer(assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    for text in ("", "   ", "x" * 10_000, "😡😡😡", "SELECT * FROM customers WHERE customer_number = 'K100001'"):
        chat = Chat(client, assistant)  # each in a fresh conversation: no earlier turn helps
        messages = await chat.say(text)
        answers = [m.get("text", "") for m in messages if "automatischer Assistent" not in m.get("text", "")]
        assert any(a.strip() for a in answers), f"only the welcome, no answer to {text[:30]!r}"
        assert not any("technische Störung" in a or "technischer Fehler" in a for a in answers), answers


async def test_code_after_the_rating_question_stores_no_rating(assistant: RunningAssistant,
                                                               client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    assert "/rate{\"rating\":5}" in Chat.buttons(await chat.say("Tschüss"))
    for text in ("<script>alert(1)</script>", "alert(1)"):
        await chat.say(text)
        with transaction(assistant.database_url) as session:
            assert session.scalars(select(SatisfactionRating).where(
                SatisfactionRating.conversation_id == chat.sender)).first() is None, text
    assert "Vielen Dank für Ihre Bewertung" in Chat.text(await chat.say("4 Sterne"))
    with transaction(assistant.database_url) as session:
        assert session.scalars(select(SatisfactionRating).where(
            SatisfactionRating.conversation_id == chat.sender)).one().rating == 4


async def test_customer_gets_a_polite_message_when_the_action_server_is_down(
        tmp_path: Path, client: httpx.AsyncClient) -> None:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    upgrade_to_head(url)
    with running_assistant(url, tmp_path, action_server=False, web_app=False) as no_actions:
        chat = Chat(client, no_actions)
        messages = await chat.say("Wann endet mein Vertrag?")
        greeting = await chat.say("Hallo")
    assert "technische Störung" in Chat.text(messages)
    assert "technische Störung" not in Chat.text(greeting), "an answer that needs no action is given as usual"
    assert "Guten Tag" in Chat.text(greeting)


def test_benchmark_command_holds_whole_conversations_and_writes_its_report(assistant: RunningAssistant,
                                                                           tmp_path: Path) -> None:
    from bot.benchmark import run_benchmark

    report = tmp_path / "benchmark.md"
    assert run_benchmark(url=assistant.rasa_url, users=[1, 3], conversations=3, rounds=1, services="embedded",
                         output=report) == 0
    rows = [line for line in report.read_text().splitlines() if line.startswith(("| assistant |", "| bare |"))]
    assert len(rows) == 4  # both bots at both loads
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3] == "21"  # 3 conversations of 7 messages
        assert cells[7] == "0", f"the benchmark saw errors: {row}"
        assert cells[4].endswith(" ms") and float(cells[4].split()[0]) > 0


def test_benchmark_says_how_to_start_the_assistant_when_nothing_listens(tmp_path: Path, capsys) -> None:
    from bot.benchmark import run_benchmark
    from tests.servers import free_port

    assert run_benchmark(url=f"http://127.0.0.1:{free_port()}", users=[1], conversations=1, rounds=1,
                         services="embedded", output=tmp_path / "b.md") == 2
    assert "scripts/run.sh" in capsys.readouterr().out
    assert not (tmp_path / "b.md").exists()
