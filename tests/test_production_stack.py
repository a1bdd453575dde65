"""The assistant on its production parts: PostgreSQL (records and conversations), Redis (lock store), RabbitMQ.

One conversation over the REST channel, then the Rasa and action servers are stopped and started
again: the customer, verified before the restart, gets the billing answer without identifying again,
because the conversation lives in PostgreSQL. Along the way Rasa must have taken its conversation
lock in Redis and published the conversation's events to RabbitMQ.
"""
from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import aio_pika
import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

from bot.conversation_store import REDACTED
from bot.rasa_endpoints import LOCK_KEY_PREFIX
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from tests.conftest import PG_ADMIN_URL, PG_DATABASE, empty_tables
from tests.rabbitmq import RABBITMQ_URL, delete_queue
from tests.servers import running_assistant

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/1"


def _reachable_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")

    async def connect() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
        await connection.close()

    try:
        asyncio.run(connect())
    except Exception as error:  # any connection problem means: no RabbitMQ here
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL}: {error.__class__.__name__}: {error}")


@pytest.fixture(scope="module")
def conversations_url() -> str:
    """A fresh PostgreSQL database for Rasa's tracker store."""
    name = f"{PG_DATABASE}_conversations"
    admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


class RedisCommands:
    """Every command Redis executes while active (Redis MONITOR), collected on a thread."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.commands: list[str] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            for command in monitor.listen():
                self.commands.append(command["command"])
                if self._stop.is_set():
                    return

    def __enter__(self) -> RedisCommands:
        self._thread.start()
        assert self._ready.wait(10), "Redis MONITOR did not start"
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.client.ping()  # one more command, so the listener wakes up and ends
        self._thread.join(timeout=10)


async def broker_events(queue_name: str, sender: str, *, wait_s: float = 15) -> list[dict]:
    """The events for `sender` that Rasa published to the queue (waits until its last bot reply arrived)."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
    found: list[dict] = []
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        deadline = asyncio.get_running_loop().time() + wait_s
        while asyncio.get_running_loop().time() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                if any(e.get("event") == "bot" for e in found):
                    break
                await asyncio.sleep(0.2)
                continue
            event = json.loads(message.body)
            if event.get("sender_id") == sender:
                found.append(event)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    return found


def say(rest_url: str, sender: str, message: str) -> str:
    response = httpx.post(rest_url, json={"sender": sender, "message": message}, timeout=30)
    response.raise_for_status()
    return "\n".join(m.get("text", "") for m in response.json())


@pytest.fixture(scope="module")
def records_url(postgres_url: str) -> Iterator[str]:
    empty_tables(postgres_url)
    with transaction(postgres_url) as session:
        seed_demo_customers(session, count=20, seed=11, today=date.today())
    yield postgres_url


def test_conversation_survives_a_restart_with_postgresql_redis_and_rabbitmq(
        records_url: str, conversations_url: str, tmp_path: Path) -> None:
    _reachable_or_skip()
    sender = f"prod-{uuid.uuid4().hex[:12]}"
    queue_name = f"retention_test_{uuid.uuid4().hex[:8]}"
    env = {"TRACKER_STORE_URL": conversations_url, "LOCK_STORE_URL": REDIS_URL,
           "EVENT_BROKER_URL": RABBITMQ_URL, "EVENT_BROKER_QUEUE": queue_name}

    with RedisCommands(REDIS_URL) as redis_commands:
        with running_assistant(records_url, tmp_path / "first", web_app=False, extra_env=env) as assistant:
            assert "automatischer Assistent" in say(assistant.rest_url, sender, "Hallo")
            assert "Kundennummer" in say(assistant.rest_url, sender, "Wann endet mein Vertrag?")
            say(assistant.rest_url, sender, "K100001")
            contract_answer = say(assistant.rest_url, sender, "10115")
            assert "identifiziert" in contract_answer or "Vertrag" in contract_answer
    lock_key = f"{LOCK_KEY_PREFIX}:lock:{sender}"
    assert any(lock_key in command for command in redis_commands.commands), \
        "Rasa did not take its conversation lock in Redis"

    events = asyncio.run(broker_events(queue_name, sender))
    user_texts = [e.get("text") for e in events if e.get("event") == "user"]
    assert user_texts == ["Hallo", "Wann endet mein Vertrag?", "K100001", REDACTED], \
        "the broker must get every message, the postcode redacted"
    assert any(e.get("event") == "bot" for e in events)

    try:
        with running_assistant(records_url, tmp_path / "second", web_app=False, extra_env=env) as assistant:
            bill_answer = say(assistant.rest_url, sender, "Wie hoch ist meine letzte Rechnung?")
    finally:
        # The second assistant declared the queue again; left behind, it would collect everyone's events.
        asyncio.run(delete_queue(queue_name))
    assert "Kundennummer" not in bill_answer, "after the restart the verified customer was asked to identify again"
    assert "€" in bill_answer

    engine = create_engine(conversations_url, future=True)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' "
                                         "ORDER BY id"), {"s": sender}).scalars().all()
    engine.dispose()
    assert [json.loads(row)["text"] for row in stored] == [
        "Hallo", "Wann endet mein Vertrag?", "K100001", REDACTED, "Wie hoch ist meine letzte Rechnung?"]
    assert "10115" not in " ".join(stored), "the postcode must not be stored anywhere in the conversation"
