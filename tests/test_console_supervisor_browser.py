"""A supervisor sees all agents' conversations live and reassigns one, in real Chromium against the real servers.

The action server, the Rasa server (HTTP API on, JWT) and the web app run on free local ports on a fresh seeded
SQLite database. Two customers ask for a person over Rasa's REST channel; the agents Anna and Bert take one
each over real HTTP (console login, CSRF); the supervisor Clara watches "Alle Gespräche" in the browser and
moves Anna's conversation to Bert. Screenshots are written on failure.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, select, text

from bot.handoff.users import create_user
from bot.records.database import transaction
from bot.records.models import HandoffRequest
from tests.browser import block_external_requests, launch_chromium
from tests.servers import RunningAssistant, running_assistant, seeded_records

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "Aufsicht-Passwort 2026!"
LIVE_MS = 5_000
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir: Path = tmp_path_factory.mktemp("console-supervisor")
    url = seeded_records(workdir)
    with transaction(url) as session:
        for username, role in (("anna", "agent"), ("bert", "agent"), ("clara", "supervisor")):
            create_user(session, username=username, first_name=username.capitalize(), password=PASSWORD, role=role,
                        now=datetime.now(timezone.utc))
    with running_assistant(url, workdir, rasa_api=True,
                           extra_env={"SERVICE_HOURS": "Mo-So 00:00-24:00"}) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as chromium:
        yield chromium


class AgentClient:
    """An agent using the console over HTTP (as the browser would: login form, CSRF token, same-site posts)."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)
        form = self.http.get("/console/login")
        answer = self.http.post("/console/login", data={"csrf_token": CSRF_RE.search(form.text).group(1),
                                                         "username": username, "password": PASSWORD})
        assert answer.status_code == 303
        self.csrf = CSRF_RE.search(self.http.get("/console/").text).group(1)

    def post(self, path: str, **data: str) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **data}, headers={"Origin": self.base_url})


def ask_for_person(assistant: RunningAssistant, sender: str) -> int:
    answer = httpx.post(assistant.rest_url, json={"sender": sender, "message": "Ich möchte mit einem Menschen "
                                                                                "sprechen"}, timeout=60)
    assert "verbinde" in answer.text.lower(), answer.text
    with transaction(assistant.database_url) as session:
        return session.scalars(select(HandoffRequest.id).where(HandoffRequest.conversation_id == sender)).one()


def stored_bot_texts(assistant: RunningAssistant, sender: str) -> list[str]:
    engine = create_engine(assistant.tracker_store_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'bot' "
                                           "ORDER BY id"), {"s": sender}).all()
    finally:
        engine.dispose()
    return [json.loads(row[0]).get("text") or "" for row in rows]


def test_supervisor_sees_all_conversations_live_and_reassigns_one(assistant: RunningAssistant, browser: Browser,
                                                                   tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    context.set_default_timeout(15_000)
    blocked = block_external_requests(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        supervise(assistant, page)
    except Exception as error:
        page.screenshot(path=str(tmp_path / "failed-supervisor.png"), full_page=True)
        raise AssertionError(f"{error}\nScreenshot: {tmp_path / 'failed-supervisor.png'}") from error
    finally:
        context.close()
    assert blocked == [] and errors == []


def supervise(assistant: RunningAssistant, page: Page) -> None:
    base = assistant.web_url or ""
    # Clara logs in first (an open console counts as online, so customers are queued) and opens the overview.
    page.goto(f"{base}/console/login")
    page.get_by_label("Benutzername").fill("clara")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", name="Warteschlange")).to_be_visible()
    page.get_by_role("link", name="Alle Gespräche").click()
    expect(page.get_by_role("heading", name="Alle offenen und laufenden Gespräche")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live")

    first, second = ask_for_person(assistant, "supervised-1"), ask_for_person(assistant, "supervised-2")
    anna, bert = AgentClient(base, "anna"), AgentClient(base, "bert")
    assert anna.post(f"/console/conversations/{first}/take").status_code == 303
    assert bert.post(f"/console/conversations/{second}/take").status_code == 303

    # Both agents' conversations show up in Clara's overview without a reload, each with its agent.
    row_first = page.locator(f"#all tbody tr[data-handoff='{first}']")
    row_second = page.locator(f"#all tbody tr[data-handoff='{second}']")
    expect(row_first).to_contain_text("(Anna)", timeout=LIVE_MS)
    expect(row_second).to_contain_text("(Bert)", timeout=LIVE_MS)

    # Clara moves Anna's conversation to Bert (the form lists what the page was loaded with: reload first).
    page.reload()
    page.locator("select[name=handoff_id]").select_option(str(first))
    page.locator("select[name=to_agent_id]").select_option(label="Bert (bert)")
    page.get_by_role("button", name="Zuweisen").click()
    expect(page.get_by_role("status")).to_contain_text("Gespräch neu zugewiesen")
    with transaction(assistant.database_url) as session:
        handoff = session.get(HandoffRequest, first)
        assert handoff.status == "taken" and handoff.assigned_agent.username == "bert"

    # Anna can no longer write into it, Bert can; the customer learns who took over, in the transcript.
    assert anna.post(f"/console/conversations/{first}/reply", text="Noch da?").status_code == 409
    assert bert.post(f"/console/conversations/{first}/reply", text="Hier ist jetzt Bert.").status_code == 303
    stored = stored_bot_texts(assistant, "supervised-1")
    assert any(t.startswith("Bert aus unserem Service-Team hat das Gespräch übernommen") for t in stored), stored
    assert "Bert: Hier ist jetzt Bert." in stored
    assert "Anna: Noch da?" not in stored

    page.goto(f"{base}/console/all")
    expect(page.locator(f"#all tbody tr[data-handoff='{first}']")).to_contain_text("(Bert)", timeout=LIVE_MS)
    for handoff_id in (first, second):
        assert bert.post(f"/console/conversations/{handoff_id}/close", resolution="solved", note="").status_code == 303
    # Closed conversations leave the overview, live.
    expect(page.locator("#all tbody tr[data-handoff]")).to_have_count(0, timeout=LIVE_MS)
