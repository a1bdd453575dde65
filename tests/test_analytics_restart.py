"""Real server restarts in the production pipeline: RabbitMQ and PostgreSQL are killed and started again while the
project's event broker publishes a stream of conversation events and the analytics consumer applies them.

The servers are private to this test, so the shared ones other tests and helpers use are never touched: a
PostgreSQL 15 cluster (initdb into a temporary folder, own port, run as the `postgres` user when the test runs as
root, since PostgreSQL refuses root) and a RabbitMQ node (own node name, AMQP and distribution ports, database
and logs in a temporary folder, no plugins). RabbitMQ is killed with SIGKILL (no clean shutdown) and started on
the same database; PostgreSQL is stopped in "immediate" mode (a crash: WAL recovery at the next start).
Skipped, with the reason, only when the server binaries are missing.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import create_engine, func, select, text

from bot.analytics.rabbitmq_broker import BatchingRabbitMQEventBroker
from bot.records.database import transaction
from bot.records.migrations import upgrade_to_head
from bot.records.models import ConversationFact, ProcessedEvent
from bot.settings import PROJECT_ROOT
from tests.analytics_events import action, bot, user
from tests.servers import free_port

PG_BIN = Path(os.environ.get("TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
RABBITMQ_SERVER = Path(os.environ.get("TEST_RABBITMQ_SERVER", "/usr/lib/rabbitmq/bin/rabbitmq-server"))
START_S = 60
CATCH_UP_S = 180


def _wait_for_port(port: int, process: subprocess.Popen | None, log: Path, timeout: float = START_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing listens on {port} after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


class PrivatePostgres:
    """A PostgreSQL cluster in a folder of its own, on a port of its own, listening on 127.0.0.1 only."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.data, self.log = folder, folder / "data", folder / "postgres.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # PostgreSQL does not run as root

    def _run(self, *command: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        """Stop without a checkpoint, as a crash would: the next start replays the WAL."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        subprocess.run([*(["runuser", "-u", "postgres", "--"] if self.as_postgres else []), str(PG_BIN / "pg_ctl"),
                        "-D", str(self.data), "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


class PrivateRabbitMQ:
    """A RabbitMQ node of its own: own node name, ports, database and logs; no plugins (no management port)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port, self.dist_port = free_port(), free_port()
        self.name = f"rabbittest{uuid.uuid4().hex[:8]}@localhost"
        self.log = folder / "rabbitmq.log"
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        folder = self.folder
        return {**{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
                "HOME": str(folder), "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
                "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"), "RABBITMQ_LOG_BASE": str(folder / "log"),
                "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
                "RABBITMQ_PLUGINS_EXPAND_DIR": str(folder / "plugins-expand"),
                "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"), "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}"}

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "rabbitmq-env.conf").write_text("")
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")

    def start(self) -> None:
        # A session of its own, so that kill() reaches the Erlang VM and its helpers, and nothing else.
        self.process = subprocess.Popen([str(RABBITMQ_SERVER)], env=self.env(), stdout=self.log.open("a"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for_port(self.port, self.process, self.log)

    def kill(self) -> None:
        """SIGKILL, no clean shutdown; persistent messages it confirmed must survive."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.process = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the port is free once the VM is gone
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    time.sleep(0.2)
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"


@pytest.fixture
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRabbitMQ]]:
    missing = [str(path) for path in (PG_BIN / "initdb", PG_BIN / "pg_ctl", RABBITMQ_SERVER) if not path.exists()]
    if missing:
        pytest.skip(f"server binaries missing: {', '.join(missing)} (PostgreSQL 15 and RabbitMQ, see scripts/setup.sh)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot be started as another user")
    # Not pytest's tmp_path: as root that folder is closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="analytics-restart-"))
    folder.chmod(0o755)
    postgres, rabbitmq = PrivatePostgres(folder / "pg"), PrivateRabbitMQ(folder / "rabbitmq")
    try:
        postgres.init()
        postgres.start()
        rabbitmq.init()
        rabbitmq.start()
        yield postgres, rabbitmq
    finally:
        rabbitmq.kill()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _conversation(sender: str, turns: int) -> list[dict]:
    events = []
    for turn in range(turns):
        at = 100.0 * turn
        events += [user(sender, at, f"Nachricht {turn}", "ask_bill", channel="rest"),
                   action(sender, at + 1, "action_serve_request"), bot(sender, at + 2, "Antwort")]
    return events


def _interleaved(conversations: list[list[dict]]) -> list[dict]:
    """The conversations' events mixed as concurrent conversations publish them (each in its own order)."""
    stream, position = [], [0] * len(conversations)
    while any(position[i] < len(c) for i, c in enumerate(conversations)):
        for index, events in enumerate(conversations):
            turn = events[position[index]:position[index] + 3]
            stream += turn
            position[index] += len(turn)
    return stream


def _processed(database_url: str) -> dict[str, int]:
    try:
        with transaction(database_url) as session:
            return dict(session.execute(select(ProcessedEvent.conversation_id, func.count())
                                        .group_by(ProcessedEvent.conversation_id)).all())
    except Exception:  # noqa: BLE001 - the database may be restarting right now
        return {}


async def _queue_depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        return declared.declaration_result.message_count or 0


def test_nothing_is_lost_or_doubled_when_rabbitmq_and_postgresql_restart_mid_stream(
        servers: tuple[PrivatePostgres, PrivateRabbitMQ], tmp_path: Path) -> None:
    postgres, rabbitmq = servers
    admin = create_engine(postgres.url(), future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('CREATE DATABASE "records"'))
    admin.dispose()
    database_url = postgres.url("records")
    upgrade_to_head(database_url)

    queue = f"rabbit_restart_{uuid.uuid4().hex[:8]}"
    senders = [f"rest:restart-{number}" for number in range(6)]
    turns = 25
    stream = _interleaved([_conversation(sender, turns) for sender in senders])  # 450 events
    log = tmp_path / "consumer.log"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": database_url,
           "EVENT_BROKER_URL": rabbitmq.url, "EVENT_BROKER_QUEUE": queue}
    consumer = subprocess.Popen([sys.executable, "-m", "bot.cli", "analytics-consumer"], cwd=PROJECT_ROOT, env=env,
                                stdout=log.open("w"), stderr=subprocess.STDOUT)
    broker = BatchingRabbitMQEventBroker(rabbitmq.url, queues=[queue], confirm_timeout_s=5, close_timeout_s=60)
    broker.start()
    try:
        assert broker.wait_connected(START_S)
        thirds = [stream[:150], stream[150:300], stream[300:]]

        def publish(events: list[dict]) -> None:
            for index in range(0, len(events), 10):  # a steady stream, as turns end
                for event in events[index:index + 10]:
                    broker.publish(event)
                time.sleep(0.1)

        publish(thirds[0])
        # RabbitMQ dies in the middle of the stream (the consumer and the broker are still at work on the first
        # part), the stream goes on, and RabbitMQ comes back on the same database.
        rabbitmq.kill()
        publish(thirds[1])
        assert broker.stats().buffered >= len(thirds[1]), "events published while RabbitMQ is down wait in the broker"
        rabbitmq.start()
        # Then PostgreSQL crashes under the consumer while the rest of the stream arrives; it comes back once the
        # consumer has found it gone.
        postgres.crash()
        publisher = threading.Thread(target=publish, args=(thirds[2],))
        publisher.start()
        deadline = time.monotonic() + CATCH_UP_S
        while "database is unavailable" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        postgres.start()
        publisher.join()
        assert broker.flush(CATCH_UP_S), broker.stats()

        expected = {sender: 3 * turns for sender in senders}
        deadline = time.monotonic() + CATCH_UP_S
        while _processed(database_url) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _processed(database_url) == expected, log.read_text()[-4000:]
        while asyncio.run(_queue_depth(rabbitmq.url, queue)) > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert asyncio.run(_queue_depth(rabbitmq.url, queue)) == 0, "every message acknowledged"
    finally:
        broker.stop(10)
        consumer.terminate()
        try:
            consumer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            consumer.kill()

    # Nothing doubled: each conversation counts each of its messages once, as the facts show.
    with transaction(database_url) as session:
        facts = {fact.conversation_id: fact for fact in session.scalars(select(ConversationFact))}
        keys = session.scalar(select(func.count()).select_from(ProcessedEvent))
    assert keys == len(stream)
    assert sorted(facts) == sorted(senders)
    assert {sender: facts[sender].messages for sender in senders} == {sender: turns for sender in senders}
    assert all(facts[sender].intents == "ask_bill" for sender in senders)
    consumer_log = log.read_text()
    assert "RabbitMQ" in consumer_log and "database is unavailable" in consumer_log, consumer_log[-3000:]
