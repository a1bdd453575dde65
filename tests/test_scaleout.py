"""Two Rasa servers behind haproxy, sharing PostgreSQL (conversations), Redis (lock store, socket.io manager) and
RabbitMQ (events, read by the analytics consumer): the small-scale version of `python -m bot.cli scale-benchmark`.

The tests run in file order on one cluster; the last one kills server 1.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest
import socketio

from bot.handoff.rasa_api import RasaApi
from bot.records.database import transaction
from bot.records.models import AgentMessage, HandoffRequest, StaffUser
from bot.scaling import load_test
from bot.scaling.cluster import ClusterLayout, RunningCluster, rasa_label, running_cluster
from bot.settings import PROJECT_ROOT, Settings
from tests.conftest import PG_DATABASE, _create_pg_database, empty_tables
from tests.rabbitmq import RABBITMQ_URL, delete_queue
from tests.servers import free_port

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
LOCK_STORE_URL = f"redis://{REDIS_HOST}:6379/9"
SOCKETIO_MANAGER_URL = f"redis://{REDIS_HOST}:6379/10"
CONVERSATIONS = 20


@pytest.fixture(scope="module")
def cluster(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCluster, Settings]]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (scripts/setup.sh installs it)")
    import redis

    try:
        redis.Redis.from_url(LOCK_STORE_URL).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable: {error}")
    empty_tables(postgres_url)
    conversations_url = _create_pg_database(f"{PG_DATABASE}_conversations")
    queue = f"scale_test_{uuid.uuid4().hex[:8]}"
    workdir = tmp_path_factory.mktemp("cluster")
    layout = ClusterLayout(balancer_port=free_port(), rasa_ports=(free_port(), free_port()),
                           action_ports=(free_port(), free_port()))
    env = {**os.environ, "DATABASE_URL": postgres_url, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TRACKER_STORE_URL": conversations_url, "LOCK_STORE_URL": LOCK_STORE_URL,
           "EVENT_BROKER_URL": RABBITMQ_URL, "EVENT_BROKER_QUEUE": queue,
           "SOCKETIO_MANAGER_URL": SOCKETIO_MANAGER_URL, "RASA_URL": layout.balancer_url,
           "RASA_API_ENABLED": "true", "RASA_JWT_SECRET": secrets.token_urlsafe(32),
           "ACTION_SERVER_TOKEN": secrets.token_urlsafe(32), "ANALYTICS_POLL_SECONDS": "0.5"}
    settings = Settings.from_env(env)
    try:
        with running_cluster(settings, layout, workdir, env) as running:
            yield running, settings
    finally:
        asyncio.run(delete_queue(queue))


async def test_an_agent_message_sent_through_server_1_reaches_a_widget_connected_to_server_2(
        cluster: tuple[RunningCluster, Settings]) -> None:
    running, settings = cluster
    conversation = f"widget-{uuid.uuid4().hex[:10]}"
    received: asyncio.Queue = asyncio.Queue()
    widget = socketio.AsyncClient()
    widget.on("bot_uttered", lambda data: received.put_nowait(data))
    await widget.connect(running.layout.rasa_url(2), transports=["polling"])
    try:
        await widget.emit("session_request", {"session_id": conversation})
        await widget.emit("user_uttered", {"message": "Hallo", "session_id": conversation})
        greeting = await asyncio.wait_for(received.get(), 120)
        assert greeting.get("text"), "the assistant greets the customer on server 2"
        with transaction(settings.database_url) as session:
            now = datetime.now(timezone.utc)
            agent = StaffUser(username=f"agent{uuid.uuid4().hex[:6]}", first_name="Petra", role="agent",
                              password_hash="x", created_at=now)
            session.add(agent)
            session.flush()
            handoff = HandoffRequest(conversation_id=conversation, reason="request_human", created_at=now,
                                     status="taken", assigned_agent_id=agent.id, taken_at=now)
            session.add(handoff)
            session.flush()
            message = AgentMessage(handoff_id=handoff.id, conversation_id=conversation, agent_id=agent.id,
                                   text="Ich helfe Ihnen gern.", created_at=now, sent_at=now)
            session.add(message)
            session.flush()
            message_id = message.id
        server_1 = Settings.from_env({"RASA_URL": running.layout.rasa_url(1),
                                      "RASA_JWT_SECRET": settings.rasa_jwt_secret or ""})
        async with RasaApi(server_1) as api:
            await api.send_agent_message(conversation, channel="socketio", text="Ich helfe Ihnen gern.",
                                         agent_first_name="Petra", message_id=message_id)

        async def agent_message() -> str:
            while "Ich helfe Ihnen gern." not in (text := (await received.get()).get("text") or ""):
                pass
            return text

        assert "Petra" in await asyncio.wait_for(agent_message(), 60)
        with transaction(settings.database_url) as session:
            assert session.get(AgentMessage, message_id).delivered_at is not None, \
                "the message reached the widget, so it is marked delivered"
    finally:
        await widget.disconnect()


async def test_bursts_at_both_servers_lose_double_and_reorder_nothing_and_a_killed_server_is_survived(
        cluster: tuple[RunningCluster, Settings]) -> None:
    running, settings = cluster
    run = uuid.uuid4().hex[:6]
    conversations = [f"scale-{run}-{i:03d}" for i in range(CONVERSATIONS)]
    servers = [running.layout.rasa_url(1), running.layout.rasa_url(2)]
    balancer = running.balancer_url
    async with httpx.AsyncClient(timeout=120) as client:
        sent = await load_test.opening(client, conversations, balancer)
        sent += await load_test.burst(client, conversations, servers, balancer)
        # Server 1 dies (SIGKILL) between two messages of every conversation; they go on through the balancer.
        await asyncio.to_thread(running.kill, rasa_label(1))
        sent += await load_test.after(client, conversations, balancer)
    failed = [(m.conversation, m.text, m.error) for m in sent if m.status != 200]
    assert failed == [], "every message is answered, after the kill by the surviving server"

    events = load_test.tracker_events(settings.tracker_store_url, conversations)
    assert load_test.check_tracker(events, sent) == []
    facts = await load_test.wait_for_analytics(settings.database_url, events)
    assert load_test.check_analytics(facts, events) == []
