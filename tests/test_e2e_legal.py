"""§ 312k BGB end to end (issue 7, finding 6): over the REST channel against the real Rasa, action and web
servers, and in real Chromium: what the customer may state, the confirmation with the time of receipt in
Berlin time, who gets it (outbox rows), the download of the declaration, and the privacy notice."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.models import Cancellation, Contract, Customer, OutboxEmail
from bot.retention.formatting import berlin_date, german_date, german_datetime
from tests.servers import RunningAssistant, running_assistant, seeded_records
from tests.test_demo_page_live import BOT_MESSAGES, REPLY_TIMEOUT_MS, ChatPage, browser, chat_page  # noqa: F401

pytestmark = pytest.mark.e2e

SECRET = "e2e-download-link-secret-0123456789abcdef"
LINK = re.compile(r"\[Kündigungsbestätigung herunterladen \(Textdatei\)\]\((http://[^)]+)\)")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir: Path = tmp_path_factory.mktemp("legal-assistant")
    with running_assistant(seeded_records(workdir), workdir, extra_env={"DOWNLOAD_LINK_SECRET": SECRET}) as running:
        yield running


def _say(assistant: RunningAssistant, sender: str, text: str) -> list[dict]:
    response = httpx.post(assistant.rest_url, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


def _texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def _cancellation(url: str, customer_number: str) -> tuple[Cancellation, Contract, Customer, list[OutboxEmail]]:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == customer_number)).one()
        cancellation = session.scalars(select(Cancellation).where(Cancellation.customer_id == customer.id)).one()
        emails = session.scalars(select(OutboxEmail).where(
            OutboxEmail.subject.contains(cancellation.confirmation_number)).order_by(OutboxEmail.id)).all()
        contract = session.get(Contract, cancellation.contract_id)
        session.expunge_all()
    return cancellation, contract, customer, emails


def test_date_and_extra_address_stated_in_free_text_reach_the_confirmation(assistant: RunningAssistant) -> None:
    sender = "legal-1"
    first = _say(assistant, sender, "Ich möchte kündigen")
    assert "[Datenschutzhinweise](" in first[0]["text"] and "kein Mensch" in first[0]["text"]
    replies = _say(assistant, sender, "zum 30.06.2040, Bestätigung bitte auch an kopie@beispiel.example")
    if any(b["payload"] == "/cancel_now" for m in replies for b in m.get("buttons", [])):
        _say(assistant, sender, "/cancel_now")  # the one click; the options were noted on the same step
    _say(assistant, sender, "K100001")
    done = _texts(_say(assistant, sender, "10115"))

    cancellation, contract, customer, emails = _cancellation(assistant.database_url, "K100001")
    received = german_datetime(cancellation.requested_at)
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} um \d\d:\d\d Uhr", received)
    assert (cancellation.kind, cancellation.requested_date.isoformat()) == ("ordinary", "2040-06-30")
    assert cancellation.effective_date.isoformat() == "2040-06-30"
    assert cancellation.extra_recipient == "kopie@beispiel.example"
    assert f"ist am {received} bei uns eingegangen: ordentliche Kündigung, gewünscht zum 30.06.2040" in done
    assert "Er endet am 30.06.2040" in done and "und an kopie@beispiel.example" in done
    # The address on file gets the confirmation, and the copy goes to the other address, with the same text.
    assert [e.recipient for e in emails] == [customer.email, "kopie@beispiel.example"]
    assert emails[0].body == emails[1].body
    assert f"Eingang der Kündigung: {received}" in emails[0].body
    assert f"Vertrag: {contract.contract_number}" in emails[0].body
    assert "Art der Kündigung: Ordentliche Kündigung" in emails[0].body

    # Abs. 3: the declaration as a file, behind the signed link in the chat.
    url = LINK.search(done).group(1)
    assert url.startswith(assistant.web_url + f"/kuendigung/{cancellation.confirmation_number}.txt?")
    download = httpx.get(url, timeout=30)
    assert download.status_code == 200 and f"Eingang der Kündigung: {received}" in download.text
    assert httpx.get(url.replace("token=", "token=0"), timeout=30).status_code == 403


def test_extraordinary_button_for_a_persistent_fault_ends_the_contract_on_receipt(
        assistant: RunningAssistant) -> None:
    sender = "legal-2"
    _say(assistant, sender, "Ich möchte kündigen")
    _say(assistant, sender, '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"fault"}')
    _say(assistant, sender, "K100004")
    done = _texts(_say(assistant, sender, "20095"))
    cancellation, _, customer, emails = _cancellation(assistant.database_url, "K100004")
    assert (cancellation.kind, cancellation.extraordinary_reason) == ("extraordinary", "fault")
    assert cancellation.effective_date == berlin_date(cancellation.requested_at)
    assert f"Er endet am {german_date(cancellation.effective_date)}" in done
    assert "außerordentliche Kündigung wegen einer anhaltenden Störung" in done
    assert [e.recipient for e in emails] == [customer.email]  # no other address was asked for
    assert abs((datetime.now(timezone.utc) - cancellation.requested_at).total_seconds()) < 120


@pytest.mark.browser
def test_the_widget_offers_the_download_after_cancelling(assistant: RunningAssistant,
                                                         chat_page: ChatPage) -> None:  # noqa: F811
    privacy = chat_page.chat.locator(BOT_MESSAGES).first.locator("a", has_text="Datenschutzhinweise")
    expect(privacy).to_have_attribute("href", f"{assistant.web_url}/datenschutz")
    chat_page.say("Ich möchte kündigen")
    chat_page.bot_message("Sie können jederzeit kündigen")
    chat_page.click("Jetzt kündigen")
    chat_page.bot_message("nennen Sie mir bitte Ihre Kundennummer")
    chat_page.say("K100005")
    chat_page.bot_message("Postleitzahl oder Ihr Geburtsdatum")
    chat_page.say("01067")
    chat_page.bot_message("ist gekündigt")
    link = chat_page.chat.locator("a", has_text="Kündigungsbestätigung herunterladen (Textdatei)")
    expect(link).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    href = link.get_attribute("href")
    cancellation, _, _, _ = _cancellation(assistant.database_url, "K100005")
    assert href.startswith(f"{assistant.web_url}/kuendigung/{cancellation.confirmation_number}.txt?")
    download = httpx.get(href, timeout=30)
    assert download.status_code == 200
    assert f"Eingang der Kündigung: {german_datetime(cancellation.requested_at)}" in download.text
    assert "Datenschutzhinweise" in httpx.get(f"{assistant.web_url}/datenschutz", timeout=30).text
