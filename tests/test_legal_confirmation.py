"""§ 312k BGB (issue 7, finding 6): what the confirmation says, who gets it, the download of the declaration over
real HTTP, and the privacy notice in the first message."""
from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from aiohttp import web
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.conversation import ActionSessionStart
from actions.requests import ActionServeRequest
from bot.assistant.cancellation import cancel_contract
from bot.assistant.receipt import sign_download
from bot.records.database import transaction
from bot.records.models import Cancellation, OutboxEmail
from bot.retention.declaration import EXTRAORDINARY, FAULT, MOVING, CancellationDeclaration
from bot.settings import Settings
from bot.web.app import create_app
from tests.factories import add_customer, tracker

RECEIVED = datetime(2026, 12, 1, 12, 45, 10, tzinfo=timezone.utc)  # 13:45 in Berlin
SECRET = "test-download-secret-" + "x" * 20


def _cancel(url: str, number: str, *, declaration: CancellationDeclaration | None = None, verified: bool = True,
            minimum_term_end: date = date(2025, 1, 1)) -> str:
    with transaction(url) as session:
        customer = add_customer(session, number=number, plan_code="MOBIL_M", minimum_term_end=minimum_term_end)
        done = cancel_contract(session, customer_id=customer.id, contract_id=customer.contracts[0].id, reason=None, conversation_id=f"conv-{number}",
                               declined_offer_code=None, now=RECEIVED, company="Nordstern Telekom",
                               declaration=declaration, identity_verified=verified)
        return done.reply.text


def test_confirmation_gives_content_time_of_receipt_and_end_date(database_url: str) -> None:
    chat = _cancel(database_url, "K410001")
    with transaction(database_url) as session:
        email = session.scalars(select(OutboxEmail)).one()
        cancellation = session.scalars(select(Cancellation)).one()
        assert cancellation.kind == "ordinary" and cancellation.requested_date is None
        assert cancellation.extra_recipient is None
    for text in (chat, email.body):
        assert "01.12.2026 um 13:45 Uhr" in text
        assert "01.01.2027" in text  # one month's notice
        assert "rdentliche Kündigung" in text and cancellation.confirmation_number in text
    assert "Vertrag: V41000101 (Mobil M)" in email.body
    assert "Gewünschter Termin: zum frühestmöglichen Termin" in email.body
    assert email.recipient == "k410001@mail.example"


def test_a_later_date_is_taken_and_an_earlier_one_explained(database_url: str) -> None:
    _cancel(database_url, "K410002", declaration=CancellationDeclaration(requested_date=date(2027, 6, 30)))
    chat = _cancel(database_url, "K410003", declaration=CancellationDeclaration(requested_date=date(2026, 12, 15)))
    with transaction(database_url) as session:
        later, earlier = session.scalars(select(Cancellation).order_by(Cancellation.id)).all()
        assert (later.requested_date, later.effective_date) == (date(2027, 6, 30), date(2027, 6, 30))
        assert (earlier.requested_date, earlier.effective_date) == (date(2026, 12, 15), date(2027, 1, 1))
    assert "Ein Ende zum 15.12.2026 ist wegen der Mindestlaufzeit bzw. Kündigungsfrist nicht möglich" in chat


def test_extraordinary_cancellations_compute_their_own_date(database_url: str) -> None:
    term = date(2028, 3, 31)
    moving = _cancel(database_url, "K410004", minimum_term_end=term,
                     declaration=CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=MOVING))
    fault = _cancel(database_url, "K410005", minimum_term_end=term,
                    declaration=CancellationDeclaration(kind=EXTRAORDINARY, extraordinary_reason=FAULT))
    with transaction(database_url) as session:
        rows = session.scalars(select(Cancellation).order_by(Cancellation.id)).all()
        assert [(c.kind, c.extraordinary_reason, c.effective_date) for c in rows] == [
            ("extraordinary", "moving", date(2027, 1, 1)), ("extraordinary", "fault", date(2026, 12, 1))]
        bodies = [e.body for e in session.scalars(select(OutboxEmail).order_by(OutboxEmail.id))]
    assert "außerordentliche Kündigung wegen Umzugs an einen Ort, an dem die Leistung nicht angeboten wird" in moving
    assert "Er endet am 01.12.2026" in fault and "§ 314 BGB" in fault
    assert "Art der Kündigung: Außerordentliche Kündigung wegen einer anhaltenden Störung" in bodies[1]


def test_extra_address_gets_a_copy_only_when_verified_and_the_address_on_file_always(database_url: str) -> None:
    wish = CancellationDeclaration(extra_recipient="kopie@beispiel.example")
    verified_chat = _cancel(database_url, "K410006", declaration=wish, verified=True)
    unverified_chat = _cancel(database_url, "K410007", declaration=wish, verified=False)
    with transaction(database_url) as session:
        emails = session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        rows = session.scalars(select(Cancellation).order_by(Cancellation.id)).all()
        assert [e.recipient for e in emails] == ["k410006@mail.example", "kopie@beispiel.example",
                                                 "k410007@mail.example"]
        assert emails[0].body == emails[1].body and "auch an kopie@beispiel.example" in emails[0].body
        assert [c.extra_recipient for c in rows] == ["kopie@beispiel.example", None]
    assert "k***@mail.example und an kopie@beispiel.example" in verified_chat
    assert "kopie@" not in unverified_chat


# --- the download over real HTTP ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _serve(settings: Settings) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def website(sqlite_database_url: str) -> AsyncIterator[str]:
    runner, url = await _serve(Settings(database_url=sqlite_database_url, download_link_secret=SECRET))
    try:
        yield url
    finally:
        await runner.cleanup()


def _number(url: str) -> str:
    with transaction(url) as session:
        return session.scalars(select(Cancellation)).one().confirmation_number


async def test_the_declaration_downloads_with_a_signed_link(website: str, sqlite_database_url: str,
                                                            client: httpx.AsyncClient) -> None:
    _cancel(sqlite_database_url, "K410010", declaration=CancellationDeclaration(requested_date=date(2027, 6, 30)))
    number = _number(sqlite_database_url)
    link = sign_download(SECRET, number, now=datetime.now(timezone.utc), valid_for=timedelta(days=30))
    response = await client.get(website + link.path())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert "Eingang der Kündigung: 01.12.2026 um 13:45 Uhr" in response.text
    assert "Der Vertrag endet am: 30.06.2027" in response.text and number in response.text
    assert "<" not in response.text


async def test_forged_or_expired_links_are_refused_without_leaking(website: str, sqlite_database_url: str,
                                                                   client: httpx.AsyncClient) -> None:
    _cancel(sqlite_database_url, "K410011")
    number = _number(sqlite_database_url)
    now = datetime.now(timezone.utc)
    good = sign_download(SECRET, number, now=now, valid_for=timedelta(days=30))
    forged = sign_download("another-secret", number, now=now, valid_for=timedelta(days=30))
    expired = sign_download(SECRET, number, now=now - timedelta(days=31), valid_for=timedelta(days=30))
    stretched = f"/kuendigung/{number}.txt?expires={good.expires + 86400}&token={good.token}"
    for path in (forged.path(), expired.path(), stretched, f"/kuendigung/{number}.txt",
                 f"/kuendigung/{number}.txt?expires=abc&token=def"):
        response = await client.get(website + path)
        assert response.status_code == 403, path
        assert "ungültig oder abgelaufen" in response.text
        assert "Erika" not in response.text and "K410011" not in response.text and "Mobil" not in response.text
    unknown = sign_download(SECRET, "KB-ZZZZZZZZ", now=now, valid_for=timedelta(days=30))
    response = await client.get(website + unknown.path())
    assert response.status_code == 404 and "keine Kündigungsbestätigung" in response.text


async def test_without_a_secret_no_link_is_valid(sqlite_database_url: str, client: httpx.AsyncClient) -> None:
    _cancel(sqlite_database_url, "K410012")
    number = _number(sqlite_database_url)
    runner, url = await _serve(Settings(database_url=sqlite_database_url, download_link_secret=None))
    try:
        link = sign_download(SECRET, number, now=datetime.now(timezone.utc), valid_for=timedelta(days=1))
        assert (await client.get(url + link.path())).status_code == 403
        privacy = await client.get(url + "/datenschutz")
        assert privacy.status_code == 200 and "Datenschutzhinweise" in privacy.text
    finally:
        await runner.cleanup()


# --- the actions ---------------------------------------------------------------------------------------------

async def test_cancelling_in_the_chat_offers_the_download_and_keeps_the_declaration(
        sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_database_url)
    monkeypatch.setenv("DOWNLOAD_LINK_SECRET", SECRET)
    monkeypatch.setenv("WEB_PUBLIC_URL", "https://www.nordstern.example")
    with transaction(sqlite_database_url) as session:
        customer_id = add_customer(session, number="K410020", plan_code="MOBIL_M", minimum_term_end=date(2025, 1, 1)).id
    dispatcher = CollectingDispatcher()
    slots = {"verified_customer": float(customer_id), "cancellation_kind": "extraordinary",
             "extraordinary_reason": "moving", "confirmation_email": "kopie@beispiel.example"}
    events = await ActionServeRequest().run(dispatcher, tracker(intent="cancel_now", text="/cancel_now",
                                                                slots=slots), {})
    texts = [m["text"] for m in dispatcher.messages]
    assert "ist gekündigt" in texts[0] and "außerordentliche Kündigung wegen Umzugs" in texts[0]
    assert "[Kündigungsbestätigung herunterladen (Textdatei)](https://www.nordstern.example/kuendigung/KB-" in texts[1]
    cleared = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert cleared["cancellation_kind"] is None and cleared["confirmation_email"] is None
    with transaction(sqlite_database_url) as session:
        row = session.scalars(select(Cancellation)).one()
        assert (row.kind, row.extraordinary_reason, row.extra_recipient) == (
            "extraordinary", "moving", "kopie@beispiel.example")


async def test_options_in_the_cancellation_message_are_kept(sqlite_database_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_database_url)
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="cancel_contract", text="Ich kündige zum 31.12.2030, Bestätigung bitte auch an x@y.example"), {})
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["requested_end_date"] == "2030-12-31" and slots["confirmation_email"] == "x@y.example"
    assert slots["pending_request"] == "cancellation"  # the usual optional reason question follows


async def test_first_message_names_the_privacy_notice_next_to_the_ai_disclosure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_PUBLIC_URL", "https://www.nordstern.example")
    monkeypatch.delenv("PRIVACY_URL", raising=False)
    dispatcher = CollectingDispatcher()
    await ActionSessionStart().run(dispatcher, tracker(), {})
    text = dispatcher.messages[0]["text"]
    assert "automatischer Assistent, kein Mensch" in text
    assert "[Datenschutzhinweise](https://www.nordstern.example/datenschutz)" in text
    monkeypatch.setenv("PRIVACY_URL", "https://konzern.example/privacy")
    dispatcher = CollectingDispatcher()
    await ActionSessionStart().run(dispatcher, tracker(), {})
    assert "[Datenschutzhinweise](https://konzern.example/privacy)" in dispatcher.messages[0]["text"]
