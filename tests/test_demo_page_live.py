"""The demo page in real Chromium against the real assistant: a German cancellation through the chat widget.

The action server, the Rasa server and the web app run once for this module on free local ports, on a
fresh SQLite database seeded with the demo customers. Each test opens the page in a new browser context
(a new chat session), types into the widget and clicks its buttons as a person would, checks what the
page shows, and then the rows the conversation left in the database. The browser never reaches the
internet: every request that is not to this machine is aborted and recorded.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from bot.assistant.service_answers import current_monthly_price
from bot.records.database import transaction
from bot.records.models import (
    Cancellation,
    Contract,
    Customer,
    OfferDecision,
    OutboxEmail,
    Plan,
    RetentionOffer,
)
from bot.retention.dates import effective_cancellation_date
from bot.retention.formatting import euro, german_date
from tests.browser import block_external_requests, launch_chromium, require_bundle
from tests.servers import RunningAssistant, running_assistant, seeded_records

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPLY_TIMEOUT_MS = 30_000  # one turn: Rasa, the action server and the widget's message delay
CONFIRMATION_NUMBER = re.compile(r"KB-[A-Z0-9]{8}")
HOSTILE = "<img src=x onerror=alert(1)>"
BOT_MESSAGES = ".rw-from-response .rw-response"  # not the typing indicator ("…"), which is a .rw-response too


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir: Path = tmp_path_factory.mktemp("live-assistant")
    url = seeded_records(workdir)
    with running_assistant(url, workdir) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_bundle()
    with launch_chromium() as chromium:
        yield chromium


@dataclass
class ChatPage:
    """The demo page with its chat widget, used as a customer would: typing and clicking."""

    page: Page
    blocked: list[str]
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def chat(self) -> Locator:
        return self.page.locator("#webchat .rw-conversation-container")

    def open_chat(self) -> None:
        self.page.locator("#webchat .rw-launcher").click()
        expect(self.chat).to_be_visible()

    def bot_message(self, text: str | re.Pattern[str]) -> Locator:
        """The bot's message containing `text`, once it is shown (fails after REPLY_TIMEOUT_MS)."""
        message = self.chat.locator(BOT_MESSAGES).filter(has_text=text).last
        expect(message).to_be_visible(timeout=REPLY_TIMEOUT_MS)
        return message

    def say(self, text: str) -> None:
        field_ = self.chat.get_by_placeholder("Ihre Nachricht …")
        expect(field_).to_be_enabled(timeout=REPLY_TIMEOUT_MS)
        field_.fill(text)
        self.chat.locator("button.rw-send").click()
        expect(self.chat.locator(".rw-client").last).to_have_text(text)

    def click(self, button_title: str) -> None:
        self.button(button_title).click()
        expect(self.chat.locator(".rw-client").last).to_have_text(button_title)

    def button(self, title: str) -> Locator:
        button = self.chat.locator(".rw-replies .rw-reply").filter(has_text=re.compile(f"^{re.escape(title)}$"))
        expect(button).to_be_visible(timeout=REPLY_TIMEOUT_MS)
        return button

    def button_titles(self) -> list[str]:
        return self.chat.locator(".rw-replies .rw-reply").all_inner_texts()

    def session_id(self) -> str:
        """The conversation id Rasa knows this chat by (the widget keeps it in sessionStorage)."""
        stored = self.page.evaluate("sessionStorage.getItem('chat_session')")
        return json.loads(stored)["session_id"]

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path))


@pytest.fixture
def chat_page(assistant: RunningAssistant, browser: Browser) -> Iterator[ChatPage]:
    """The demo page in a fresh browser context (a new chat session), with the chat opened and greeted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    context.set_default_timeout(15_000)
    blocked = block_external_requests(context)
    page = context.new_page()
    chat_page = ChatPage(page, blocked)
    page.on("dialog", lambda dialog: (chat_page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: chat_page.errors.append(str(error)))
    page.on("console", lambda message: chat_page.errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{assistant.web_url}/", wait_until="load")
    chat_page.open_chat()
    # The disclosure comes first, then the greeting.
    chat_page.bot_message("Wie kann ich Ihnen helfen?")
    expect(chat_page.chat.locator(BOT_MESSAGES).first).to_contain_text("Ich bin ein automatischer Assistent, kein Mensch")
    try:
        yield chat_page
    finally:
        context.close()
    assert chat_page.blocked == [], f"the page tried to reach the internet: {chat_page.blocked}"
    assert chat_page.errors == []


@dataclass(frozen=True)
class ContractState:
    contract_id: int
    contract_number: str
    plan_name: str
    monthly_price_cents: int
    price_today_cents: int
    email: str


def contract_state(url: str, customer_number: str) -> ContractState:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == customer_number)).one()
        contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
        return ContractState(contract.id, contract.contract_number, contract.plan.name, contract.monthly_price_cents,
                             current_monthly_price(contract, date.today()), customer.email)


def cancel_up_to_the_offer(chat_page: ChatPage, customer_number: str, postcode: str, tmp_path: Path) -> Locator:
    """Say "Ich möchte kündigen", give "Zu teuer" by button, identify; returns the offer message."""
    chat_page.say("Ich möchte kündigen")
    chat_page.bot_message("Sie können jederzeit kündigen")
    chat_page.button("Zu teuer")
    assert chat_page.button_titles()[:2] == ["Jetzt kündigen", "Zu teuer"], "cancelling comes first, always"
    chat_page.screenshot(tmp_path / "reason-question.png")
    chat_page.click("Zu teuer")
    chat_page.bot_message("nennen Sie mir bitte Ihre Kundennummer")
    chat_page.say(customer_number)
    chat_page.bot_message("Postleitzahl oder Ihr Geburtsdatum")
    chat_page.say(postcode)
    offer = chat_page.bot_message("Möchten Sie das Angebot annehmen oder jetzt kündigen?")
    expect(chat_page.button("Angebot annehmen")).to_be_visible()
    expect(chat_page.button("Nein, jetzt kündigen")).to_be_visible()
    chat_page.screenshot(tmp_path / "offer.png")
    return offer


def test_accepting_the_offer_keeps_the_contract_at_the_offered_price(
        assistant: RunningAssistant, chat_page: ChatPage, tmp_path: Path) -> None:
    before = contract_state(assistant.database_url, "K100002")
    discounted = before.monthly_price_cents * 80 // 100

    offer = cancel_up_to_the_offer(chat_page, "K100002", "80331", tmp_path)
    # A premium customer who finds it too expensive: 20 % off the price from the records.
    expect(offer).to_contain_text("20 % Rabatt für 12 Monate")
    expect(offer).to_contain_text(f"Sie zahlen dann {euro(discounted)} statt {euro(before.price_today_cents)} im Monat")

    chat_page.click("Angebot annehmen")
    confirmation = chat_page.bot_message("Ihr Vertrag läuft weiter")
    expect(confirmation).to_contain_text("20 % Treuerabatt für 12 Monate")
    expect(confirmation).to_contain_text(f"Ab sofort zahlen Sie {euro(discounted)} im Monat")
    chat_page.screenshot(tmp_path / "accepted.png")
    conversation_id = chat_page.session_id()

    with transaction(assistant.database_url) as session:
        decision = session.scalars(select(OfferDecision).where(
            OfferDecision.conversation_id == conversation_id)).one()
        assert decision.outcome == "accepted" and decision.reason == "price"
        assert session.get(RetentionOffer, decision.offer_id).code == "DISCOUNT_20"
        assert decision.contract_id == before.contract_id and decision.cost_cents > 0
        contract = session.get(Contract, before.contract_id)
        assert contract.status == "active" and contract.cancellation_effective_date is None
        assert contract.discount_percent == 20 and contract.discount_until > date.today()
        assert contract.monthly_price_cents == before.monthly_price_cents
        assert current_monthly_price(contract, date.today()) == discounted
        assert german_date(contract.discount_until) in confirmation.inner_text()
        assert session.scalars(select(Cancellation).where(Cancellation.contract_id == contract.id)).first() is None
        assert session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == before.email)).first() is None


def test_declining_the_offer_cancels_and_records_everything(
        assistant: RunningAssistant, chat_page: ChatPage, tmp_path: Path) -> None:
    before = contract_state(assistant.database_url, "K100001")
    with transaction(assistant.database_url) as session:
        expected_end = effective_cancellation_date(session.get(Contract, before.contract_id), date.today())
        cheaper = session.scalars(select(Plan).where(Plan.code == "MOBIL_M")).one()
        cheaper_name, cheaper_price = cheaper.name, cheaper.monthly_price_cents

    offer = cancel_up_to_the_offer(chat_page, "K100001", "10115", tmp_path)
    # A standard customer who finds it too expensive: the next smaller plan, against the price from the records.
    expect(offer).to_contain_text(f"in den Tarif {cheaper_name}")
    expect(offer).to_contain_text(f"{euro(cheaper_price)} statt {euro(before.price_today_cents)} im Monat")

    # The demo page's own tariff card names the same price as the offer.
    card = chat_page.page.locator(".card").filter(has=chat_page.page.get_by_role("heading", name=cheaper_name))
    expect(card.locator(".price")).to_have_text(f"{euro(cheaper_price)} / Monat")

    chat_page.click("Nein, jetzt kündigen")
    done = chat_page.bot_message("ist gekündigt")
    text = done.inner_text()
    assert f"Ihr Vertrag {before.contract_number} ({before.plan_name}) ist gekündigt." in text
    assert f"Er endet am {german_date(expected_end)}." in text
    numbers = CONFIRMATION_NUMBER.findall(text)
    assert len(numbers) == 1, text
    assert "a***@mail.example" in text and before.email not in text
    assert chat_page.chat.locator(BOT_MESSAGES).filter(has_text="Möchten Sie das Angebot").count() == 1, \
        "one offer only, never a second one"
    chat_page.screenshot(tmp_path / "cancelled.png")
    conversation_id = chat_page.session_id()

    with transaction(assistant.database_url) as session:
        cancellation = session.scalars(select(Cancellation).where(
            Cancellation.conversation_id == conversation_id)).one()
        assert cancellation.confirmation_number == numbers[0]
        assert cancellation.effective_date == expected_end
        assert cancellation.contract_id == before.contract_id and cancellation.reason == "price"
        decision = session.scalars(select(OfferDecision).where(
            OfferDecision.conversation_id == conversation_id)).one()
        assert decision.outcome == "declined" and decision.cost_cents == 0
        assert session.get(RetentionOffer, decision.offer_id).code == "DOWNGRADE"
        contract = session.get(Contract, before.contract_id)
        assert contract.status == "cancelled" and contract.cancellation_effective_date == expected_end
        assert contract.plan.name == before.plan_name, "declining leaves the plan as it was"
        mail = session.scalars(select(OutboxEmail).where(
            OutboxEmail.subject.contains(cancellation.confirmation_number))).one()
        assert mail.recipient == before.email
        assert german_date(expected_end) in mail.body and before.contract_number in mail.body


def test_customer_text_is_shown_as_text_not_markup_even_after_a_reload(
        assistant: RunningAssistant, chat_page: ChatPage, tmp_path: Path) -> None:
    replies = chat_page.chat.locator(BOT_MESSAGES)
    shown_before = replies.count()
    chat_page.say(HOSTILE)
    expect(replies.nth(shown_before)).to_contain_text(re.compile(r"\w"), timeout=REPLY_TIMEOUT_MS)  # answered
    chat_page.screenshot(tmp_path / "hostile.png")
    expect(chat_page.chat.locator(".rw-client").last).to_have_text(HOSTILE)
    assert chat_page.page.locator("img[onerror], #webchat img[src='x']").count() == 0

    # The widget keeps the conversation for the browser tab: after a reload it renders the stored
    # messages again (still as text), and Rasa continues the same conversation.
    session_id = chat_page.session_id()
    chat_page.page.reload(wait_until="load")
    expect(chat_page.chat).to_be_visible()
    expect(chat_page.chat.locator(".rw-client").last).to_have_text(HOSTILE)
    assert chat_page.page.locator("img[onerror], #webchat img[src='x']").count() == 0
    shown_before = replies.count()
    chat_page.say("Bist du ein Bot?")
    chat_page.bot_message("Ich bin ein automatischer Assistent, also ein Computerprogramm")
    assert chat_page.session_id() == session_id
    assert replies.nth(shown_before - 1).inner_text() != "", "the earlier messages are still shown"
    expect(chat_page.chat.locator(BOT_MESSAGES).filter(has_text="Wie kann ich Ihnen helfen?")).to_have_count(1)
    chat_page.screenshot(tmp_path / "after-reload.png")
    assert chat_page.dialogs == []
    # What Rasa stored (its HTTP API is off, as in production): the answer is sent before the turn is stored.
    for _ in range(40):
        said = [event.get("text") for event in assistant.stored_user_messages(session_id)]
        if len(said) >= 3:
            break
        time.sleep(0.25)
    assert said == ["/greet", HOSTILE, "Bist du ein Bot?"]
