"""Restarts during live handoffs lose nothing: real processes, real HTTP, a real socket.io customer.

The action server, the Rasa server (HTTP API on, JWT) and the web app with the console run on fixed free
ports on fresh seeded records and conversations, on SQLite and on PostgreSQL, with the command lines of `python -m bot.cli run`; the test stops
and starts the web app or Rasa on the same port while a handoff is going on. The customer is a socket.io
client as the widget (bot.benchmark_handoff.Customer), the agent uses the console over HTTP and its live
channel (bot.benchmark_handoff.Agent).
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from bot.benchmark import wait_until_up
from bot.benchmark_handoff import ASK_FOR_PERSON, BACK_TEXT, Agent, Customer, Stream, wait_until
from bot.cli import MODEL_PATH, service_commands
from bot.handoff.users import create_user
from bot.rasa_endpoints import write_endpoints
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import AgentMessage, HandoffRequest
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import PG_ADMIN_URL, PG_DATABASE, empty_tables
from tests.servers import free_port, seeded_records

pytestmark = [pytest.mark.e2e]

PASSWORD = "Neustart-Passwort 2026!"
LIVE_S = 10.0


@dataclass
class Services:
    """The three servers on fixed ports, each of which can be stopped and started again."""

    workdir: Path
    env: dict[str, str]
    commands: dict[str, list[str]]
    health: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return self.env["RASA_URL"]

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.env['WEB_PORT']}"

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def start(self, label: str) -> None:
        log = self.workdir / f"{label.replace(' ', '-')}.log"
        process = subprocess.Popen(self.commands[label], cwd=PROJECT_ROOT, env=self.env,
                                   stdout=log.open("a"), stderr=subprocess.STDOUT)
        self.processes[label] = process
        wait_until_up(self.health[label], process, log, 240)

    def stop(self, label: str) -> None:
        process = self.processes.pop(label)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for label in list(self.processes):
            self.stop(label)


def fresh_pg_database(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The servers on the embedded defaults (SQLite records and conversations) or on PostgreSQL (both)."""
    if not MODEL_PATH.exists():
        pytest.fail(f"No trained model at {MODEL_PATH}")
    workdir = tmp_path_factory.mktemp("handoff-restarts")
    if request.param == "sqlite":
        url, conversations = seeded_records(workdir), f"sqlite:///{workdir / 'conversations.db'}"
    else:
        url = request.getfixturevalue("postgres_url")  # tests/conftest.py: skips when PostgreSQL is not there
        empty_tables(url)
        with transaction(url) as session:
            seed_demo_customers(session, count=30, seed=7, today=date.today())
        conversations = fresh_pg_database(f"{PG_DATABASE}_restart_conversations")
    with transaction(url) as session:
        create_user(session, username="anna", first_name="Anna", password=PASSWORD, role="agent",
                    now=datetime.now(timezone.utc))
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "WEB_PORT": str(web_port), "WEB_HOST": "127.0.0.1", "RASA_URL": f"http://127.0.0.1:{rasa_port}",
           "RASA_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
           "TRACKER_STORE_URL": conversations, "RASA_API_ENABLED": "true",
           "RASA_JWT_SECRET": secrets.token_urlsafe(32), "ACTION_SERVER_TOKEN": secrets.token_urlsafe(32),
           "SERVICE_HOURS": "Mo-So 00:00-24:00"}
    for name in ("LOCK_STORE_URL", "EVENT_BROKER_URL"):
        env.pop(name, None)
    settings = Settings.from_env(env)
    endpoints = write_endpoints(settings, workdir / "endpoints.yml",
                                action_server_url=f"http://127.0.0.1:{action_port}/webhook")
    commands = service_commands(settings, rasa_port=rasa_port, action_port=action_port, endpoints=endpoints)
    running = Services(workdir, env, commands, {"action server": f"http://127.0.0.1:{action_port}/health",
                                                 "rasa server": f"http://127.0.0.1:{rasa_port}/",
                                                 "web app": f"http://127.0.0.1:{web_port}/healthz"})
    try:
        for label in ("action server", "rasa server", "web app"):
            running.start(label)
        yield running
    finally:
        running.stop_all()


# ---------------------------------------------------------------- helpers

async def logged_in(services: Services) -> Agent:
    """Anna, logged in with a new session, with her live queue open (so she counts as online)."""
    agent = Agent(0, services.web_url, "anna", "Anna", PASSWORD)
    await agent.log_in()
    stream = agent.open_stream()
    assert await wait_until(lambda: 1.0 if stream.ready.is_set() else None, stream.changed, LIVE_S)
    return agent


async def customer_in_queue(services: Services, index: int) -> tuple[Customer, int]:
    customer = Customer(index, services.rasa_url)
    await customer.connect()
    await customer.say(ASK_FOR_PERSON)
    assert await customer.wait_for(lambda t: "verbinde" in t.lower(), timeout=60), customer.received
    return customer, handoff_of(services, customer.session_id)


def handoff_of(services: Services, conversation_id: str) -> int:
    with transaction(services.database_url) as session:
        return session.scalars(select(HandoffRequest.id).where(
            HandoffRequest.conversation_id == conversation_id)).one()


async def take(agent: Agent, customer: Customer, handoff_id: int) -> None:
    answer = await agent.post(f"/console/conversations/{handoff_id}/take")
    assert answer.status_code == 303, answer.text[:500]
    assert await customer.wait_for(lambda t: "Anna aus unserem Service-Team" in t, timeout=LIVE_S)


async def reply(agent: Agent, handoff_id: int, message: str) -> int:
    return (await agent.post(f"/console/conversations/{handoff_id}/reply", {"text": message})).status_code


def shows(stream: Stream, message: str) -> float | None:
    return next((at for at, line in stream.lines if line.get("text") == message), None)


def stored_bot_texts(services: Services, conversation_id: str) -> list[str]:
    engine = create_engine(services.env["TRACKER_STORE_URL"], future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'bot' "
                                           "ORDER BY id"), {"s": conversation_id}).all()
    finally:
        engine.dispose()
    return [json.loads(row[0]).get("text") for row in rows]


async def eventually(check: Callable[[], bool], timeout: float = LIVE_S) -> bool:
    for _ in range(int(timeout * 5)):
        if check():
            return True
        await asyncio.sleep(0.2)
    return check()


def messages_of(services: Services, handoff_id: int) -> list[AgentMessage]:
    with transaction(services.database_url) as session:
        found = list(session.scalars(select(AgentMessage).where(AgentMessage.handoff_id == handoff_id)
                                     .order_by(AgentMessage.id)))
        session.expunge_all()
        return found


# ---------------------------------------------------------------- the tests

async def test_web_app_restart_loses_no_handoff_and_the_agent_finds_her_conversations_again(
        services: Services) -> None:
    agent = await logged_in(services)
    customer, handoff_id = await customer_in_queue(services, 1)
    try:
        await take(agent, customer, handoff_id)
        assert await reply(agent, handoff_id, "Vor dem Neustart.") == 303
        assert await customer.wait_for(lambda t: t == "Anna: Vor dem Neustart.", timeout=LIVE_S)

        await asyncio.to_thread(services.stop, "web app")
        # While the console is down the customer writes on, and another customer asks for a person.
        await customer.say("Hallo? Ich schreibe während des Neustarts.")
        waiting, waiting_id = await customer_in_queue(services, 2)
        await asyncio.to_thread(services.start, "web app")

        # The agent's session survives the restart (server-side); her page and a new login both find it.
        page = await agent.client.get("/console/")
        assert page.status_code == 200 and f"/console/conversations/{handoff_id}" in page.text
        await agent.close()
        again = await logged_in(services)
        live = again.streams[0]
        assert live.last_queue is not None
        assert handoff_id in [entry["handoff_id"] for entry in live.last_queue["mine"]]
        assert waiting_id in [entry["handoff_id"] for entry in live.last_queue["waiting"]]
        conversation = again.open_stream(handoff_id)
        assert await wait_until(lambda: shows(conversation, "Hallo? Ich schreibe während des Neustarts."),
                                conversation.changed, LIVE_S)

        assert await reply(again, handoff_id, "Nach dem Neustart.") == 303
        assert await customer.wait_for(lambda t: t == "Anna: Nach dem Neustart.", timeout=LIVE_S)
        with transaction(services.database_url) as session:
            assert session.get(HandoffRequest, handoff_id).status == "taken"
            assert session.get(HandoffRequest, waiting_id).status == "open"
        assert await eventually(lambda: all(m.sent_at and m.delivered_at for m in messages_of(services, handoff_id)))
        assert (await again.post(f"/console/conversations/{handoff_id}/hand-back")).status_code == 303
        assert await customer.wait_for(lambda t: BACK_TEXT in t, timeout=LIVE_S)
        await again.close()
        await waiting.close()
    finally:
        await customer.close()


async def test_rasa_restart_keeps_the_handoff_and_delivers_what_the_agent_wrote_meanwhile(
        services: Services) -> None:
    agent = await logged_in(services)
    customer, handoff_id = await customer_in_queue(services, 3)
    try:
        await take(agent, customer, handoff_id)
        conversation_id = customer.session_id
        await customer.close()

        await asyncio.to_thread(services.stop, "rasa server")
        answer = await agent.post(f"/console/conversations/{handoff_id}/reply",
                                  {"text": "Geschrieben, während der Assistent neu startet."})
        assert answer.status_code == 502 and "automatisch zugestellt" in answer.text
        assert [m.sent_at for m in messages_of(services, handoff_id)] == [None]
        await asyncio.to_thread(services.start, "rasa server")

        # The console hands the stored message to Rasa by itself; the customer's widget reconnects (same
        # session) and gets it, live or as a missed message.
        back = Customer(3, services.rasa_url, session_id=conversation_id)
        await back.connect()
        try:
            assert await back.wait_for(lambda t: t == "Anna: Geschrieben, während der Assistent neu startet.",
                                       timeout=30)
            # The console marks it sent once Rasa's answer is back (moments after the widget got it).
            assert await eventually(lambda: all(m.sent_at and m.delivered_at for m in messages_of(services, handoff_id)))
            assert len(messages_of(services, handoff_id)) == 1

            # Still paused after the restart: the customer's message reaches the agent, the assistant is silent.
            conversation = agent.open_stream(handoff_id)
            before = len(back.received)
            await back.say("Meine Rechnung ist zu hoch, bitte prüfen Sie das.")
            assert await wait_until(lambda: shows(conversation, "Meine Rechnung ist zu hoch, bitte prüfen Sie das."),
                                    conversation.changed, LIVE_S)
            await asyncio.sleep(3)
            assert back.received[before:] == []

            assert (await agent.post(f"/console/conversations/{handoff_id}/hand-back")).status_code == 303
            assert await back.wait_for(lambda t: BACK_TEXT in t, timeout=LIVE_S)
            stored = stored_bot_texts(services, conversation_id)
            assert "Anna: Geschrieben, während der Assistent neu startet." in stored
            assert stored.count("Anna: Geschrieben, während der Assistent neu startet.") == 1
        finally:
            await back.close()
        with transaction(services.database_url) as session:
            assert session.get(HandoffRequest, handoff_id).resolution == "handed_back"
    finally:
        await agent.close()
