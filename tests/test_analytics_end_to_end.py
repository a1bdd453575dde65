"""Issue 10's "Done when", end to end: three conversations with the real assistant (cancelled, saved, handed
off and taken by an agent in the console) reach the marketing dashboard through the real event pipeline, and a
marketer who logs in over HTTP sees them in the key figures, the charts' data, the drill-down for a reason (on
to the masked transcript) and the CSV export.

- embedded default: SQLite records, Rasa's SQL event broker into its own SQLite file, the project's consumer;
- production: PostgreSQL (records and tracker store, fresh databases) and RabbitMQ (a queue of this test's own).

Everything runs as `python -m bot.cli run` starts it (tests/servers.py): Rasa, the action server, the analytics
consumer and the web app with the console and the dashboard. The assertions read only what the dashboard
serves: the KPI table and the charts' JSON of the page for today's period, the drill-down list, the transcript
page and the CSV export.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import aio_pika
import httpx
import pytest
from sqlalchemy import create_engine, delete, func, select, text

from bot.analytics import rollup
from bot.handoff.users import create_user
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import ConversationFact, FallbackMessage, ProcessedEvent
from tests.conftest import PG_ADMIN_URL, PG_DATABASE, empty_tables
from tests.rabbitmq import RABBITMQ_URL, delete_queue
from tests.servers import RunningAssistant, running_assistant, seeded_records

pytestmark = pytest.mark.e2e

PROJECTION_TIMEOUT_S = 120
PASSWORD = "ein-langes-Passwort-für-Mia"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
KPI_ROW = re.compile(r'<tr data-kpi="([a-z_]+)"><th scope="row">[^<]*</th><td class="value">([^<]*)</td>\s*'
                     r'<td>([^<]*)</td>')
CHART_DATA = re.compile(r'<script type="application/json" id="chart-data">(.*?)</script>', re.S)

# (message, a piece of the assistant's answer that shows the conversation went the expected way)
CANCELLED = [("Guten Tag", "automatischer Assistent"), ("Ich möchte meinen Vertrag kündigen", ""),
             ("Ist mir einfach viel zu teuer geworden", "Kundennummer"), ("K100001", ""),
             ("10115", "Mobil M"), ("nein, einfach kündigen", "gekündigt")]
SAVED = [("Hallo", "automatischer Assistent"), ("Ich will kündigen, bei der Konkurrenz zahle ich die Hälfte", ""),
         ("K100002", ""), ("03.11.1972", "25 %"), ("/accept_offer", "Ihr Vertrag läuft weiter")]
HANDED_OFF = [("Hallo", "automatischer Assistent"), ("Ich möchte mit einem Menschen sprechen", "Vorgang H-")]


@dataclass(frozen=True)
class Conversations:
    cancelled: str
    saved: str
    handed_off: str
    handoff_id: str  # "Vorgang H-<id>", as the assistant told the customer

    @property
    def ids(self) -> set[str]:
        return {self.cancelled, self.saved, self.handed_off}


def say(rest_url: str, sender: str, message: str) -> str:
    response = httpx.post(rest_url, json={"sender": sender, "message": message}, timeout=120)
    response.raise_for_status()
    return "\n".join(m.get("text", "") for m in response.json())


def converse(assistant: RunningAssistant) -> Conversations:
    """The three conversations, one after the other, over the REST channel as the demo customers."""
    tag = uuid.uuid4().hex[:8]
    cancelled, saved, handed_off = f"e2e-cancel-{tag}", f"e2e-save-{tag}", f"e2e-human-{tag}"
    answer = ""
    for sender, script in ((cancelled, CANCELLED), (saved, SAVED), (handed_off, HANDED_OFF)):
        for message, expected in script:
            answer = say(assistant.rest_url, sender, message)
            assert expected in answer, f"{sender}: {message!r} was answered {answer!r}"
    handoff = re.search(r"Vorgang H-(\d+)", answer)
    assert handoff, answer
    return Conversations(cancelled, saved, handed_off, handoff.group(1))


def stored_event_counts(tracker_store_url: str, senders: set[str]) -> dict[str, int]:
    """How many events Rasa stored per conversation (each one goes through the broker too)."""
    engine = create_engine(tracker_store_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all()
    finally:
        engine.dispose()
    return {sender: count for sender, count in rows if sender in senders}


def wait_until_projected(assistant: RunningAssistant, conversations: Conversations, log: Path) -> None:
    """Poll until the consumer has applied every event of the three conversations (or fail, saying how far)."""
    expected = stored_event_counts(assistant.tracker_store_url, conversations.ids)
    assert set(expected) == conversations.ids, f"the tracker store lacks conversations: {expected}"
    deadline = time.monotonic() + PROJECTION_TIMEOUT_S
    applied: dict[str, int] = {}
    while time.monotonic() < deadline:
        with transaction(assistant.database_url) as session:
            applied = dict(session.execute(
                select(ProcessedEvent.conversation_id, func.count())
                .where(ProcessedEvent.conversation_id.in_(conversations.ids))
                .group_by(ProcessedEvent.conversation_id)).all())
        if applied == expected:
            return
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no consumer log)"
    pytest.fail(f"the analytics consumer did not project the conversations within {PROJECTION_TIMEOUT_S} s: "
                f"events applied {applied}, stored by Rasa {expected}\nconsumer log:\n{tail}")


@contextmanager
def console_login(assistant: RunningAssistant, role: str, first_name: str) -> Iterator[httpx.Client]:
    """A console login with a new user of `role`, through the console's login form over HTTP."""
    username = f"{first_name.lower()}-{uuid.uuid4().hex[:6]}"
    with transaction(assistant.database_url) as session:
        create_user(session, username=username, first_name=first_name, password=PASSWORD, role=role,
                    now=datetime.now(timezone.utc))
    assert assistant.web_url is not None
    with httpx.Client(base_url=assistant.web_url, follow_redirects=False, timeout=60) as client:
        form = client.get("/console/login")
        assert form.status_code == 200
        token = CSRF_FIELD.search(form.text)
        assert token, "the login form has no CSRF token"
        response = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                       "csrf_token": token.group(1)})
        assert response.status_code == 303, response.text
        yield client


def agent_takes(assistant: RunningAssistant, handoff_id: str) -> None:
    """An agent takes the handoff in the console (which pauses the assistant for that conversation)."""
    page = f"/console/conversations/{handoff_id}"
    with console_login(assistant, "agent", "Anna") as anna:
        token = CSRF_FIELD.search(anna.get(page).text)
        assert token, "the conversation page has no CSRF token"
        taken = anna.post(f"{page}/take", data={"csrf_token": token.group(1)})
        assert taken.status_code == 303, taken.text


def wait_until_handoff_time_known(database_url: str, conversation_id: str, log: Path) -> None:
    """The wait until the agent took over is picked up by the consumer's periodic step (every 30 s)."""
    deadline = time.monotonic() + PROJECTION_TIMEOUT_S
    while time.monotonic() < deadline:
        with transaction(database_url) as session:
            if session.scalar(select(ConversationFact.handoff_wait_seconds)
                              .where(ConversationFact.conversation_id == conversation_id)) is not None:
                return
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no consumer log)"
    pytest.fail(f"the analytics consumer did not pick up the agent's takeover within {PROJECTION_TIMEOUT_S} s\n"
                f"consumer log:\n{tail}")


def kpi_table(page: str) -> dict[str, tuple[str, str]]:
    """The key figures as shown: name -> (this period, previous period)."""
    return {name: (value.strip(), previous.strip()) for name, value, previous in KPI_ROW.findall(page)}


def chart_data(page: str) -> dict:
    found = CHART_DATA.search(page)
    assert found, "the dashboard has no chart data"
    return json.loads(found.group(1))


def check_dashboard(assistant: RunningAssistant, conversations: Conversations) -> None:
    today = datetime.now(timezone.utc).date().isoformat()
    period = f"from={today}&to={today}&channel="
    with console_login(assistant, "marketer", "Mia") as client:
        assert client.get("/console/analytics/").status_code == 200  # where a marketer lands after the login
        response = client.get(f"/console/analytics/?{period}")
        assert response.status_code == 200
        page = response.text

        shown = kpi_table(page)
        assert shown["conversations"] == ("3", "0")
        assert shown["customers"] == ("2", "0")  # K100001 and K100002 identified; the handoff did not
        assert shown["cancellation_intents"] == ("2", "0")
        assert shown["cancellations"] == ("1", "0")
        assert shown["saves_pending"] == ("1", "0")  # the accepted offer, within the 30 days' hold
        assert shown["saves_held"][0] == "0" and shown["saves_lost"][0] == "0"
        assert shown["save_rate"][0] == "0,0 %"  # held saves / cancellation conversations: none held yet
        assert shown["offer_cost_cents"][0] not in ("0,00 €", "–")
        assert shown["handoff_rate"][0] == "33,3 %"
        median_wait = shown["median_wait_seconds"][0]
        assert re.fullmatch(r"\d+:\d\d min", median_wait), median_wait  # the agent took the handoff

        data = chart_data(page)
        assert {(r["code"], r["conversations"]) for r in data["reasons"]} == {("price", 1), ("competitor", 1)}
        assert "Preis: 1" in page and "Wechsel zu Mitbewerber: 1" in page
        assert {step["code"]: step["conversations"] for step in data["funnel"]} == {
            "intent": 2, "reason": 2, "offer": 2, "accepted": 1, "cancelled": 1, "handed_off": 0}
        assert {(s["code"], s["conversations"], s["pending"]) for s in data["save_rate"]["offer_kind"]} == {
            ("downgrade", 1, 0), ("price_match", 1, 1)}
        assert [(d["day"], d["conversations"], d["intents"]) for d in data["days"] if d["conversations"]] == [
            (today, 3, 2)]

        # Drill-down from the reason "Preis" to the cancelling conversation, and on to its transcript.
        drill = client.get(f"/console/analytics/conversations?{period}&dimension=reason&code=price")
        assert drill.status_code == 200
        listed = re.findall(r'<tr data-conversation="([^"]+)">', drill.text)
        assert listed == [conversations.cancelled]
        assert "gekündigt" in drill.text and "Günstigerer Tarif" in drill.text
        link = re.search(r'href="(/console/analytics/conversations/[^"?]+\?[^"]*)"', drill.text)
        assert link, "the drill-down row links to its transcript"
        transcript = client.get(link.group(1).replace("&amp;", "&"))
        assert transcript.status_code == 200
        assert "zu teuer" in transcript.text
        assert "K100001" not in transcript.text and "10115" not in transcript.text  # masked for marketers

        competitor = client.get(f"/console/analytics/conversations?{period}&dimension=reason&code=competitor")
        assert re.findall(r'<tr data-conversation="([^"]+)">', competitor.text) == [conversations.saved]

        export = client.get(f"/console/analytics/export.csv?{period}")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff")), delimiter=";"))
    assert len(rows) == 3
    by_id = {row["conversation_id"]: row for row in rows}
    assert set(by_id) == conversations.ids
    assert {cid: (by_id[cid]["outcome"], by_id[cid]["reason"], by_id[cid]["offer_kind"], by_id[cid]["save_status"])
            for cid in by_id} == {
        conversations.cancelled: ("cancelled", "price", "downgrade", ""),
        conversations.saved: ("offer_accepted", "competitor", "price_match", "pending"),
        conversations.handed_off: ("handed_off", "", "", "")}
    assert all(row["channel"] == "rest" for row in rows)
    assert "customer_number" not in rows[0] and "K10000" not in export.text
    waited = int(by_id[conversations.handed_off]["handoff_wait_seconds"])
    assert median_wait == f"{waited // 60}:{waited % 60:02d} min"  # one handoff: its wait is the median
    assert by_id[conversations.handed_off]["handoff_handling_seconds"] == ""  # the agent has not closed it yet


def test_embedded_default_conversations_show_on_the_dashboard(tmp_path: Path) -> None:
    records = seeded_records(tmp_path)
    with running_assistant(records, tmp_path, analytics_consumer=True, rasa_api=True,
                           extra_env={"ANALYTICS_POLL_SECONDS": "0.2"}) as assistant:
        conversations = converse(assistant)
        agent_takes(assistant, conversations.handoff_id)
        wait_until_projected(assistant, conversations, tmp_path / "analytics.log")
        wait_until_handoff_time_known(records, conversations.handed_off, tmp_path / "analytics.log")
        check_dashboard(assistant, conversations)


async def _reachable() -> None:
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
    await connection.close()


@pytest.fixture
def pg_records(postgres_url: str) -> str:
    empty_tables(postgres_url)
    with transaction(postgres_url) as session:
        seed_demo_customers(session, count=20, seed=11, today=date.today())
    return postgres_url


@pytest.fixture
def pg_conversations() -> Iterator[str]:
    """A fresh PostgreSQL database for Rasa's tracker store, dropped afterwards."""
    name = f"{PG_DATABASE}_e2e_tracker"
    admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def stop_consumer(assistant: RunningAssistant) -> None:
    """End the analytics consumer this test started (by its process id)."""
    assert assistant.pids is not None
    pid = assistant.pids["analytics consumer"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the process stays a zombie until running_assistant reaps it
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.2)
    pytest.fail("the analytics consumer did not stop within 20 s of SIGTERM")


def forget_other_assistants(database_url: str, conversations: Conversations) -> None:
    """Rasa publishes to one fanout exchange, so on this machine's shared RabbitMQ this test's queue also got
    the events of every other assistant running meanwhile (other tests, benchmarks). A deployment has its own
    broker; so that the dashboard shows what it would show there, the facts of those other conversations are
    removed once the consumer has stopped."""
    with transaction(database_url) as session:
        rollup.delete_facts(session, ConversationFact.conversation_id.not_in(conversations.ids))  # and their counts
        for model in (FallbackMessage, ProcessedEvent):
            session.execute(delete(model).where(model.conversation_id.not_in(conversations.ids)))


# Named "pg", not "postgresql": Rasa takes any tracker store URL containing that word (here the test's
# tmp_path) for a PostgreSQL one.
def test_pg_and_rabbitmq_conversations_show_on_the_dashboard(tmp_path: Path, pg_records: str,
                                                             pg_conversations: str) -> None:
    try:
        asyncio.run(_reachable())
    except Exception as error:  # noqa: BLE001 - any connection problem means: no RabbitMQ here
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL}: {error}")
    queue_name = f"analytics_e2e_{uuid.uuid4().hex[:8]}"
    env = {"TRACKER_STORE_URL": pg_conversations, "EVENT_BROKER_URL": RABBITMQ_URL,
           "EVENT_BROKER_QUEUE": queue_name}
    try:
        with running_assistant(pg_records, tmp_path, analytics_consumer=True, rasa_api=True,
                               extra_env=env) as assistant:
            conversations = converse(assistant)
            agent_takes(assistant, conversations.handoff_id)
            wait_until_projected(assistant, conversations, tmp_path / "analytics.log")
            wait_until_handoff_time_known(pg_records, conversations.handed_off, tmp_path / "analytics.log")
            stop_consumer(assistant)
            forget_other_assistants(pg_records, conversations)
            check_dashboard(assistant, conversations)
    finally:
        asyncio.run(delete_queue(queue_name))
