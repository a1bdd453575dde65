"""The analytics pipeline end to end: a running Rasa server publishes every event to its event broker, the
analytics consumer (`python -m bot.cli analytics-consumer`) projects them into conversation_facts.

- embedded: Rasa's SQL event broker (its own SQLite file) -> facts in the SQLite records database;
- production: RabbitMQ (127.0.0.1:5672) -> facts in PostgreSQL.

In both, the consumer is killed (SIGKILL) in the middle of the conversations and started again, and every
event is delivered a second time: afterwards each conversation has exactly one processed key per event the
tracker store holds, and the facts say what happened (a cancellation, a save).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import aio_pika
import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import ConversationFact, ProcessedEvent
from bot.settings import PROJECT_ROOT
from tests.conftest import empty_tables
from tests.rabbitmq import RABBITMQ_URL, delete_queue
from tests.servers import running_assistant, seeded_records

pytestmark = pytest.mark.e2e

CATCH_UP_S = 90


def say(rest_url: str, sender: str, message: str) -> str:
    response = httpx.post(rest_url, json={"sender": sender, "message": message}, timeout=60)
    response.raise_for_status()
    return "\n".join(m.get("text", "") for m in response.json())


CANCELLATION = ["Guten Tag", "Ich möchte meinen Vertrag kündigen", "Ist mir einfach viel zu teuer geworden",
                "K100001", "10115", "nein, einfach kündigen"]
SAVE = ["Hallo", "Ich will kündigen, bei der Konkurrenz zahle ich die Hälfte", "K100002", "03.11.1972",
        "/accept_offer"]
SMALL_TALK = ["Hallo", "Bist du ein Bot?", "Danke, tschüss"]


class Consumer:
    """`python -m bot.cli analytics-consumer` as `bot.cli run` starts it, with its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log, self.process = env, log, None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "analytics-consumer"], cwd=PROJECT_ROOT,
                                        env=self.env, stdout=self.log.open("a"), stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def consumer_factory() -> Iterator[Callable[[dict[str, str], Path], Consumer]]:
    consumers: list[Consumer] = []

    def make(env: dict[str, str], log: Path) -> Consumer:
        consumer = Consumer(env, log)
        consumers.append(consumer)
        return consumer

    yield make
    for consumer in consumers:
        consumer.stop()


def tracker_store_events(tracker_store_url: str, senders: list[str]) -> dict[str, list[dict]]:
    engine = create_engine(tracker_store_url, future=True)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT sender_id, data FROM events ORDER BY id")).all()
    finally:
        engine.dispose()
    found: dict[str, list[dict]] = {sender: [] for sender in senders}
    for sender, data in rows:
        if sender in found:
            found[sender].append({"sender_id": sender, **json.loads(data)})
    return found


def processed_counts(database_url: str) -> dict[str, int]:
    with transaction(database_url) as session:
        return dict(session.execute(select(ProcessedEvent.conversation_id, func.count())
                                    .group_by(ProcessedEvent.conversation_id)).all())


def wait_until_caught_up(database_url: str, expected: dict[str, int], log: Path) -> None:
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        counts = processed_counts(database_url)
        if all(counts.get(sender) == count for sender, count in expected.items()):
            return
        time.sleep(0.5)
    pytest.fail(f"consumer did not catch up: {processed_counts(database_url)} != {expected}\n"
                f"{log.read_text()[-3000:]}")


def facts(database_url: str) -> dict[str, dict]:
    with transaction(database_url) as session:
        return {fact.conversation_id: {c.name: getattr(fact, c.name) for c in ConversationFact.__table__.columns
                                       if c.name not in ("id", "updated_at")}
                for fact in session.scalars(select(ConversationFact))}


def converse_with_a_consumer_crash(rest_url: str, consumer: Consumer) -> dict[str, list[str]]:
    """Three conversations at once; the consumer is killed after the first messages and started again."""
    scripts = {f"analytics-cancel-{uuid.uuid4().hex[:8]}": CANCELLATION,
               f"analytics-save-{uuid.uuid4().hex[:8]}": SAVE,
               f"analytics-talk-{uuid.uuid4().hex[:8]}": SMALL_TALK}
    halfway = threading.Barrier(len(scripts) + 1)
    errors: list[BaseException] = []

    def run(sender: str, messages: list[str]) -> None:
        try:
            for number, message in enumerate(messages):
                if number == 2:
                    halfway.wait(timeout=120)
                say(rest_url, sender, message)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
            halfway.abort()

    threads = [threading.Thread(target=run, args=item) for item in scripts.items()]
    for thread in threads:
        thread.start()
    halfway.wait(timeout=120)
    time.sleep(1.0)
    consumer.kill()  # mid-stream: events keep coming while it is down
    time.sleep(2.0)
    consumer.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    return scripts


def ours(found: dict[str, object], scripts: dict[str, list[str]]) -> dict[str, object]:
    """Only this test's conversations: every queue bound to Rasa's fanout exchange on the shared RabbitMQ also
    gets the events of other assistants running on this machine at the time."""
    return {sender: value for sender, value in found.items() if sender in scripts}


def check_facts(database_url: str, scripts: dict[str, list[str]], expected_events: dict[str, list[dict]]) -> None:
    found = ours(facts(database_url), scripts)
    assert set(found) == set(scripts)
    for sender, messages in scripts.items():
        assert found[sender]["messages"] == len(messages)
        assert found[sender]["channel"] == "rest"
        user_events = [e for e in expected_events[sender] if e["event"] == "user"]
        assert found[sender]["intents"].split(",")[0] == user_events[0]["parse_data"]["intent"]["name"]
    cancel = next(found[s] for s in scripts if "cancel" in s)
    assert cancel["cancellation_intent"] and cancel["reason"] == "price"
    assert (cancel["outcome"], cancel["offer_kind"], cancel["segment"]) == ("cancelled", "downgrade", "standard")
    assert cancel["customer_id"] is not None and cancel["cancelled_at"] is not None
    save = next(found[s] for s in scripts if "save" in s)
    assert (save["outcome"], save["offer_kind"], save["reason"]) == ("offer_accepted", "price_match", "competitor")
    assert save["offer_cost_cents"] > 0 and save["offer_value_cents"] > 0 and save["segment"] == "premium"
    talk = next(found[s] for s in scripts if "talk" in s)
    assert talk["outcome"] == "open" and not talk["cancellation_intent"] and talk["offer_code"] is None
    assert "10115" not in json.dumps(found, default=str) and "1972" not in json.dumps(found, default=str)


def test_embedded_sql_broker_to_sqlite_facts_survives_a_consumer_crash_and_duplicates(
        tmp_path: Path, consumer_factory: Callable[[dict[str, str], Path], Consumer]) -> None:
    records = seeded_records(tmp_path)
    events_url = f"sqlite:///{tmp_path / 'analytics_events.db'}"
    env = {**os.environ, "DATABASE_URL": records, "ANALYTICS_EVENTS_URL": events_url,
           "ANALYTICS_POLL_SECONDS": "0.2", "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("EVENT_BROKER_URL", None)
    consumer = consumer_factory(env, tmp_path / "consumer.log")
    consumer.start()
    with running_assistant(records, tmp_path, web_app=False, extra_env={"ANALYTICS_EVENTS_URL": events_url}) as bot:
        scripts = converse_with_a_consumer_crash(bot.rest_url, consumer)
        stored = tracker_store_events(bot.tracker_store_url, list(scripts))
    expected = {sender: len(events) for sender, events in stored.items()}
    wait_until_caught_up(records, expected, tmp_path / "consumer.log")
    check_facts(records, scripts, stored)
    before = facts(records)

    # Every event a second time (as a re-publication would write it), then a restart: nothing changes.
    broker = create_engine(events_url, future=True)
    with broker.begin() as connection:
        for sender, events in stored.items():
            for event in events:
                connection.execute(text("INSERT INTO events (sender_id, data) VALUES (:s, :d)"),
                                   {"s": sender, "d": json.dumps(event)})
        last = connection.execute(text("SELECT max(id) FROM events")).scalar_one()
    broker.dispose()
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        with transaction(records) as session:
            if session.execute(text("SELECT position FROM analytics_consumer_offsets")).scalar_one() == last:
                break
        time.sleep(0.3)
    else:
        pytest.fail("the consumer did not read the repeated events")
    consumer.stop()
    assert processed_counts(records) == expected
    assert facts(records) == before


@pytest.fixture
def pg_records(postgres_url: str) -> str:
    empty_tables(postgres_url)
    with transaction(postgres_url) as session:
        seed_demo_customers(session, count=20, seed=11, today=date.today())
    return postgres_url


async def _reachable() -> None:
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=3)
    await connection.close()


async def _publish_again(queue_name: str, events: list[dict]) -> None:
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        for event in events:
            await channel.default_exchange.publish(
                aio_pika.Message(json.dumps(event).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue_name)
    finally:
        await connection.close()


async def _queue_depth(queue_name: str) -> int:
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True, passive=True)
        return queue.declaration_result.message_count
    finally:
        await connection.close()


# Named "pg", not "postgresql": Rasa takes any tracker store URL containing that word (here the test's
# tmp_path) for a PostgreSQL one.
def test_rabbitmq_to_pg_facts_survives_a_consumer_crash_and_duplicates(
        tmp_path: Path, pg_records: str, consumer_factory: Callable[[dict[str, str], Path], Consumer]) -> None:
    try:
        asyncio.run(_reachable())
    except Exception as error:  # noqa: BLE001 - any connection problem means: no RabbitMQ here
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL}: {error}")
    queue_name = f"analytics_test_{uuid.uuid4().hex[:8]}"
    broker_env = {"EVENT_BROKER_URL": RABBITMQ_URL, "EVENT_BROKER_QUEUE": queue_name}
    env = {**os.environ, "DATABASE_URL": pg_records, "PYTHONPATH": str(PROJECT_ROOT), **broker_env}
    consumer = consumer_factory(env, tmp_path / "consumer.log")
    consumer.start()  # before Rasa: it declares the queue, so no event published meanwhile is lost
    try:
        with running_assistant(pg_records, tmp_path, web_app=False, extra_env=broker_env) as bot:
            scripts = converse_with_a_consumer_crash(bot.rest_url, consumer)
            stored = tracker_store_events(bot.tracker_store_url, list(scripts))
        expected = {sender: len(events) for sender, events in stored.items()}
        wait_until_caught_up(pg_records, expected, tmp_path / "consumer.log")
        check_facts(pg_records, scripts, stored)
        before = ours(facts(pg_records), scripts)

        # Duplicate delivery: every event once more through the broker, and a restart in between.
        asyncio.run(_publish_again(queue_name, [e for events in stored.values() for e in events]))
        consumer.kill()
        consumer.start()
        deadline = time.monotonic() + CATCH_UP_S
        while asyncio.run(_queue_depth(queue_name)) > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.0)  # the last messages in flight are acknowledged after their commit
        consumer.stop()
        assert asyncio.run(_queue_depth(queue_name)) == 0, "every message acknowledged"
        assert ours(processed_counts(pg_records), scripts) == expected
        assert ours(facts(pg_records), scripts) == before
    finally:
        asyncio.run(delete_queue(queue_name))


async def test_the_sql_broker_rasa_loads_keeps_one_wal_connection_and_writes_rasas_table(tmp_path: Path) -> None:
    from rasa.core.brokers.broker import EventBroker
    from rasa.utils.endpoints import EndpointConfig

    from bot.rasa_endpoints import sql_event_broker_config

    config = dict(sql_event_broker_config(f"sqlite:///{tmp_path / 'events.db'}"))
    broker = await EventBroker.create(EndpointConfig(url=config.pop("url"), **config))
    assert type(broker).__name__ == "WalSQLEventBroker"
    for number in range(3):
        broker.publish({"sender_id": "a", "event": "user", "timestamp": 1.0 + number, "text": f"m{number}"})
    engine = create_engine(f"sqlite:///{tmp_path / 'events.db'}", future=True)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        rows = connection.execute(text("SELECT sender_id, data FROM events ORDER BY id")).all()
    engine.dispose()
    assert [(sender, json.loads(data)["text"]) for sender, data in rows] == [("a", "m0"), ("a", "m1"), ("a", "m2")]
    assert broker.engine.pool.checkedout() == 0 and broker.engine.pool.size() == 1


def _conversation_events(sender: str, start: float, count: int) -> list[dict]:
    """`count` turns: a user message, an action and its bot reply, as Rasa publishes them."""
    from tests.analytics_events import action, bot, user

    events = []
    for turn in range(count):
        at = start + turn * 10
        events += [user(sender, at, f"Nachricht {turn}", "ask_bill", channel="rest"),
                   action(sender, at + 1, "action_serve_request"), bot(sender, at + 2, "Antwort")]
    return events


async def _publish_like_rasa(url: str, events: list[dict]) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("rasa-exchange", type=aio_pika.ExchangeType.FANOUT)
        for event in events:
            await exchange.publish(aio_pika.Message(json.dumps(event).encode(),
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "")
    finally:
        await connection.close()


def _wait_for_count(database_url: str, sender: str, count: int, log: Path) -> None:
    deadline = time.monotonic() + CATCH_UP_S
    while time.monotonic() < deadline:
        try:
            if processed_counts(database_url).get(sender) == count:
                return
        except Exception:  # noqa: BLE001 - the database may be cut off in this test
            pass
        time.sleep(0.3)
    pytest.fail(f"{processed_counts(database_url).get(sender)} of {count} events applied\n{log.read_text()[-3000:]}")


def test_the_rabbitmq_consumer_survives_database_and_broker_outages(
        tmp_path: Path, pg_records: str, consumer_factory: Callable[[dict[str, str], Path], Consumer]) -> None:
    """Connections to PostgreSQL and to RabbitMQ are cut (as by a restart) while events keep coming."""
    from sqlalchemy.engine import make_url

    from tests.tcp_proxy import TcpProxy

    try:
        asyncio.run(_reachable())
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL}: {error}")
    pg = make_url(pg_records)
    queue_name = f"analytics_outage_{uuid.uuid4().hex[:8]}"
    sender = f"outage-{uuid.uuid4().hex[:8]}"
    batches = [_conversation_events(sender, 1000.0 * number, 10) for number in range(3)]
    log = tmp_path / "consumer.log"
    with TcpProxy(pg.host or "127.0.0.1", pg.port or 5432) as database, TcpProxy("127.0.0.1", 5672) as broker:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "EVENT_BROKER_QUEUE": queue_name,
               "DATABASE_URL": pg.set(host="127.0.0.1", port=database.port).render_as_string(hide_password=False),
               "EVENT_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{broker.port}/"}
        consumer = consumer_factory(env, log)
        consumer.start()
        try:
            deadline = time.monotonic() + 30
            while asyncio.run(_queue_exists(queue_name)) is False and time.monotonic() < deadline:
                time.sleep(0.3)
            asyncio.run(_publish_like_rasa(RABBITMQ_URL, batches[0]))
            _wait_for_count(pg_records, sender, len(batches[0]), log)

            database.cut()  # the database goes away while events arrive
            asyncio.run(_publish_like_rasa(RABBITMQ_URL, batches[1]))
            time.sleep(3)
            assert processed_counts(pg_records).get(sender) == len(batches[0])
            database.restore()
            _wait_for_count(pg_records, sender, len(batches[0]) + len(batches[1]), log)

            broker.cut()  # then the broker connection
            asyncio.run(_publish_like_rasa(RABBITMQ_URL, batches[2]))
            time.sleep(2)
            broker.restore()
            _wait_for_count(pg_records, sender, sum(map(len, batches)), log)
        finally:
            consumer.stop()
            asyncio.run(delete_queue(queue_name))
    assert "database is unavailable" in log.read_text() and "RabbitMQ" in log.read_text()
    fact = facts(pg_records)[sender]
    assert fact["messages"] == 30 and fact["intents"] == "ask_bill"


async def _queue_exists(queue_name: str) -> bool:
    connection = await aio_pika.connect(RABBITMQ_URL)
    try:
        channel = await connection.channel()
        await channel.declare_queue(queue_name, durable=True, passive=True)
        return True
    except aio_pika.exceptions.ChannelClosed:
        return False
    finally:
        await connection.close()
