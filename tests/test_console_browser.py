"""An agent takes over a customer's chat in the console, live, in real Chromium against the real assistant.

The action server, the Rasa server (HTTP API on, JWT) and the web app with the console run on free local
ports on a fresh seeded SQLite database, as `python -m bot.cli run` starts them. Two browser contexts: the
customer on the demo page with the chat widget, and an agent logged into the console. Nothing leaves this
machine (requests elsewhere are aborted and recorded). On failure both pages are saved as screenshots
(the paths are in the failure message).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from bot.handoff.users import create_user
from bot.records.database import transaction
from bot.records.models import AgentMessage, HandoffRequest
from tests.browser import block_external_requests, launch_chromium, require_bundle
from tests.servers import RunningAssistant, running_assistant, seeded_records
from tests.test_demo_page_live import BOT_MESSAGES, ChatPage

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "Konsole-Passwort 2026!"
HOSTILE = "<script>window.pwned=1</script>"
LIVE_MS = 5_000  # what "live" means here: the other side sees a message within 5 s (typically about 1 s)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir: Path = tmp_path_factory.mktemp("console-live")
    url = seeded_records(workdir)
    with transaction(url) as session:
        create_user(session, username="anna", first_name="Anna", password=PASSWORD, role="agent",
                    now=datetime.now(timezone.utc))
    # The service team is on duty around the clock here, so the test does not depend on the time of day.
    with running_assistant(url, workdir, rasa_api=True,
                           extra_env={"SERVICE_HOURS": "Mo-So 00:00-24:00"}) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_bundle()
    with launch_chromium() as chromium:
        yield chromium


def new_context(browser: Browser) -> tuple[BrowserContext, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    context.set_default_timeout(15_000)
    return context, block_external_requests(context)


class Console:
    """The agent console in its own browser context, used as an agent would."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page, self.base_url = page, base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def log_in(self, username: str, password: str) -> None:
        self.page.goto(f"{self.base_url}/console/login")
        self.page.get_by_label("Benutzername").fill(username)
        self.page.get_by_label("Passwort").fill(password)
        self.page.get_by_role("button", name="Anmelden").click()
        expect(self.page.get_by_role("heading", name="Warteschlange")).to_be_visible()
        expect(self.page.locator("#live-state")).to_have_text("Live")

    def transcript_line(self, text: str | re.Pattern[str], author: str) -> None:
        line = self.page.locator(f"#transcript li.author-{author} p.text").filter(has_text=text)
        expect(line.last).to_be_visible(timeout=LIVE_MS)


@pytest.fixture
def pages(assistant: RunningAssistant, browser: Browser) -> Iterator[tuple[ChatPage, Console]]:
    """The customer's demo page and the agent's console, each in its own browser context."""
    customer_context, customer_blocked = new_context(browser)
    agent_context, agent_blocked = new_context(browser)
    customer_page = customer_context.new_page()
    chat = ChatPage(customer_page, customer_blocked)
    customer_page.on("pageerror", lambda error: chat.errors.append(str(error)))
    console = Console(agent_context.new_page(), assistant.web_url or "")
    try:
        yield chat, console
    finally:
        customer_context.close()
        agent_context.close()
    assert customer_blocked == [] and agent_blocked == [], "a page tried to reach the internet"
    assert chat.errors == [] and console.errors == []


def test_agent_takes_over_replies_live_and_hands_back(assistant: RunningAssistant, pages: tuple[ChatPage, Console],
                                                       tmp_path: Path) -> None:
    chat, console = pages
    try:
        run_handoff(assistant, chat, console, tmp_path)
    except Exception as error:
        chat.page.screenshot(path=str(tmp_path / "failed-customer.png"), full_page=True)
        console.page.screenshot(path=str(tmp_path / "failed-agent.png"), full_page=True)
        raise AssertionError(f"{error}\nScreenshots: {tmp_path / 'failed-customer.png'}, "
                             f"{tmp_path / 'failed-agent.png'}") from error


def run_handoff(assistant: RunningAssistant, chat: ChatPage, console: Console, tmp_path: Path) -> None:
    # The agent is in the console first (so the customer is told that someone is online).
    console.log_in("anna", PASSWORD)

    chat.page.goto(f"{assistant.web_url}/", wait_until="load")
    chat.open_chat()
    chat.bot_message("Wie kann ich Ihnen helfen?")
    chat.say("K100001")
    chat.bot_message("Postleitzahl oder Ihr Geburtsdatum")
    chat.say("10115")
    chat.bot_message("identifiziert")
    chat.say("Ich möchte mit einem Menschen sprechen")
    chat.bot_message("Ich verbinde Sie mit einer Mitarbeiterin oder einem Mitarbeiter")
    conversation_id = chat.session_id()

    # The waiting customer appears in the agent's queue without a reload, with name (verified) and reason.
    row = console.page.locator("#queue tbody tr[data-handoff]")
    expect(row).to_have_count(1, timeout=LIVE_MS)
    expect(row).to_contain_text("Kundenwunsch")
    expect(row).to_contain_text("Web-Chat")
    with transaction(assistant.database_url) as session:
        handoff = session.scalars(select(HandoffRequest).where(
            HandoffRequest.conversation_id == conversation_id)).one()
        handoff_id = handoff.id
        assert handoff.customer_id is not None  # verified before asking for a person
    assert row.get_attribute("data-handoff") == str(handoff_id)
    expect(row.locator("td").nth(4)).not_to_have_text("nicht identifiziert")
    console.page.screenshot(path=str(tmp_path / "queue.png"))

    row.get_by_role("link", name="Öffnen").click()
    console.transcript_line("Ich möchte mit einem Menschen sprechen", "customer")
    console.page.get_by_role("button", name="Gespräch übernehmen").click()
    expect(console.page.get_by_role("status")).to_contain_text("Sie haben das Gespräch übernommen")
    chat.bot_message("Anna aus unserem Service-Team hat das Gespräch übernommen")

    # The agent's reply reaches the widget with the agent's first name.
    console.page.get_by_label("Antwort an den Kunden").fill("Guten Tag, hier ist Anna. Worum geht es?")
    console.page.get_by_role("button", name="Senden").click()
    expect(console.page.get_by_role("status")).to_contain_text("Nachricht gesendet")
    expect(chat.chat.locator(BOT_MESSAGES).filter(has_text="Anna: Guten Tag, hier ist Anna. Worum geht es?")
           ).to_be_visible(timeout=LIVE_MS)

    # The customer reloads the page (same browser session): the conversation goes on where it was.
    chat.page.reload(wait_until="load")
    if not chat.chat.is_visible():
        chat.open_chat()
    expect(chat.chat.locator(BOT_MESSAGES).filter(has_text="Anna: Guten Tag")).to_be_visible(timeout=LIVE_MS)

    # The customer answers; the agent sees it live, as text (the script does not run in the console).
    chat.say(f"Meine Rechnung ist zu hoch {HOSTILE}")
    console.transcript_line(f"Meine Rechnung ist zu hoch {HOSTILE}", "customer")
    assert console.page.evaluate("window.pwned") is None
    # The assistant stays silent while the agent owns the conversation.
    chat.page.wait_for_timeout(2_000)
    expect(chat.chat.locator(BOT_MESSAGES).last).to_contain_text("Anna: Guten Tag")
    console.page.screenshot(path=str(tmp_path / "conversation.png"))
    chat.screenshot(tmp_path / "customer-during-handoff.png")

    # Hand back: the assistant says it is back and answers without asking the customer to identify again.
    console.page.get_by_role("button", name="An den Assistenten zurückgeben").click()
    expect(console.page.get_by_role("status")).to_contain_text("zurückgegeben")
    chat.bot_message("Ich bin wieder für Sie da")
    chat.say("Wie lange läuft mein Vertrag noch?")
    answer = chat.bot_message("V10000001")
    expect(answer).not_to_contain_text("Kundennummer")
    chat.screenshot(tmp_path / "customer-after.png")

    with transaction(assistant.database_url) as session:
        handoff = session.get(HandoffRequest, handoff_id)
        assert (handoff.status, handoff.resolution) == ("closed", "handed_back")
        assert handoff.assigned_agent.username == "anna" and handoff.taken_at and handoff.closed_at
        message = session.scalars(select(AgentMessage).where(AgentMessage.handoff_id == handoff_id)).one()
        assert message.text == "Guten Tag, hier ist Anna. Worum geht es?" and message.sent_at is not None
    stored = [event["text"] for event in assistant.stored_user_messages(conversation_id)]
    assert f"Meine Rechnung ist zu hoch {HOSTILE}" in stored
