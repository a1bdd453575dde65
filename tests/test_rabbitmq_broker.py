"""The project's RabbitMQ event broker (bot/analytics/rabbitmq_broker.py) against the real RabbitMQ server.

Each test publishes to a fanout exchange of its own (not Rasa's `rasa-exchange`, to which other tests' and
helpers' queues may be bound) and deletes it with its queues afterwards. RabbitMQ "going away" is a TCP proxy
that is cut (tests/tcp_proxy.py); the restart of a real RabbitMQ node is in tests/test_analytics_restart.py.
"""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

# Rasa's pika broker uses rasa.shared.core.events without importing it (the Rasa server has it loaded already).
import rasa.shared.core.events  # noqa: F401
from rasa.core.brokers.broker import EventBroker
from rasa.core.brokers.pika import PikaEventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.analytics.rabbitmq_broker import BatchingRabbitMQEventBroker
from bot.rasa_endpoints import event_broker_config
from bot.scaling.ordering import wait_until_published
from tests.rabbitmq import RABBITMQ_URL
from tests.tcp_proxy import TcpProxy

WAIT_S = 30


def event(number: int, sender: str = "rabbit-broker-test") -> dict:
    return {"sender_id": sender, "event": "user", "timestamp": 1_700_000_000.0 + number, "text": f"Nachricht {number}",
            "input_channel": "rest", "message_id": f"m{number}", "metadata": {},
            "parse_data": {"text": f"Nachricht {number}", "intent": {"name": "greet", "confidence": 0.9},
                           "entities": []}}


@pytest.fixture
async def exchange_and_queue() -> AsyncIterator[tuple[str, str]]:
    try:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=3)
    except Exception as error:  # noqa: BLE001 - any connection problem means: no RabbitMQ here
        pytest.skip(f"RabbitMQ not reachable at {RABBITMQ_URL}: {error}")
    name = f"rabbit_broker_test_{uuid.uuid4().hex[:8]}"
    try:
        yield name, name
    finally:
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.exchange_delete(name)


async def take(queue_name: str, count: int, *, url: str = RABBITMQ_URL) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Wait for `count` messages in the queue (then a little more, to see any surplus) and take them all."""
    connection = await aio_pika.connect(url)
    messages: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        deadline = asyncio.get_running_loop().time() + WAIT_S
        idle_after_count = 0
        while asyncio.get_running_loop().time() < deadline and idle_after_count < 10:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                if len(messages) >= count:
                    idle_after_count += 1
                await asyncio.sleep(0.1)
                continue
            messages.append(message)
    return messages


def texts(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> list[str]:
    return [json.loads(message.body)["text"] for message in messages]


def first_occurrences(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


async def test_rasa_loads_the_broker_from_the_endpoints_config_and_messages_equal_rasas_pika_broker(
        exchange_and_queue: tuple[str, str]) -> None:
    exchange, queue = exchange_and_queue
    config = event_broker_config(RABBITMQ_URL, queue)
    broker = await EventBroker.create(EndpointConfig(url=config.pop("url"), exchange_name=exchange, **config))
    assert isinstance(broker, BatchingRabbitMQEventBroker) and broker.is_ready()
    pika = PikaEventBroker(RABBITMQ_URL, "guest", "guest", queues=[f"{queue}_pika"], exchange_name=f"{exchange}_pika")
    await pika.connect()
    try:
        sample = event(1)
        sample["text"] = "Kündigung – zu teuer, €"  # non-ASCII goes through as Rasa sends it
        broker.publish(sample)
        pika.publish(sample)
        await asyncio.sleep(0)  # Rasa's broker publishes in a task on this loop
        ours, = await take(queue, 1)
        rasas, = await take(f"{queue}_pika", 1)
    finally:
        await broker.close()
        await pika.close()
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(f"{queue}_pika")
            await channel.exchange_delete(f"{exchange}_pika")
    assert ours.body == rasas.body
    assert json.loads(ours.body) == sample
    assert (ours.delivery_mode, ours.app_id, ours.headers) == (rasas.delivery_mode, rasas.app_id, rasas.headers)
    assert ours.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_a_burst_arrives_complete_and_in_order_and_close_publishes_what_is_buffered(
        exchange_and_queue: tuple[str, str]) -> None:
    exchange, queue = exchange_and_queue
    broker = BatchingRabbitMQEventBroker(RABBITMQ_URL, queues=[queue], exchange_name=exchange, batch_size=100)
    broker.start()
    assert await asyncio.to_thread(broker.wait_connected, WAIT_S)
    for number in range(2000):
        broker.publish(event(number))
    await broker.close()  # right away: nothing of the burst may be left behind
    stats = broker.stats()
    assert (stats.buffered, stats.confirmed, stats.refused) == (0, 2000, 0)
    assert texts(await take(queue, 2000)) == [f"Nachricht {number}" for number in range(2000)]


async def test_events_published_while_rabbitmq_is_away_are_kept_and_delivered_in_order_when_it_is_back(
        exchange_and_queue: tuple[str, str]) -> None:
    exchange, queue = exchange_and_queue
    with TcpProxy("127.0.0.1", 5672) as proxy:
        broker = BatchingRabbitMQEventBroker(f"amqp://guest:guest@127.0.0.1:{proxy.port}/", queues=[queue],
                                             exchange_name=exchange, confirm_timeout_s=5)
        broker.start()
        try:
            assert await asyncio.to_thread(broker.wait_connected, WAIT_S)
            for number in range(100):
                broker.publish(event(number))
            assert await asyncio.to_thread(broker.flush, WAIT_S)
            proxy.cut()  # RabbitMQ goes away in the middle of the stream
            for number in range(100, 400):
                broker.publish(event(number))  # the conversation goes on: no error, no waiting
            assert broker.stats().buffered >= 300
            proxy.restore()
            assert await asyncio.to_thread(broker.flush, WAIT_S), broker.stats()
        finally:
            await broker.close()
    received = texts(await take(queue, 400))
    # At least once and in order: a batch cut off before its confirmation may arrive twice, which the
    # consumer recognises by the events' keys; nothing may be missing or overtaken.
    assert first_occurrences(received) == [f"Nachricht {number}" for number in range(400)]
    assert broker.stats().refused == 0


async def test_a_full_buffer_refuses_new_events_keeps_the_older_ones_and_says_so(
        exchange_and_queue: tuple[str, str], caplog: pytest.LogCaptureFixture) -> None:
    exchange, queue = exchange_and_queue
    size = len(json.dumps(event(0)).encode())
    with TcpProxy("127.0.0.1", 5672) as proxy:
        proxy.cut()  # RabbitMQ unreachable from the start: Rasa still starts
        broker = BatchingRabbitMQEventBroker(f"amqp://guest:guest@127.0.0.1:{proxy.port}/", queues=[queue],
                                             exchange_name=exchange, buffer_bytes=size * 10 + size // 2)
        broker.start()
        try:
            with caplog.at_level(logging.ERROR, logger="bot.analytics.rabbitmq_broker"):
                for number in range(25):
                    broker.publish(event(number))
            stats = broker.stats()
            assert (stats.buffered, stats.refused) == (10, 15)
            assert "buffer of" in caplog.text and "refused" in caplog.text and "rasa export" in caplog.text
            assert caplog.text.count("is full") == 1  # said once per full period, not per event
            proxy.restore()
            assert await asyncio.to_thread(broker.flush, WAIT_S), broker.stats()
            broker.publish(event(99))  # room again
            assert await asyncio.to_thread(broker.flush, WAIT_S)
        finally:
            await broker.close()
    assert first_occurrences(texts(await take(queue, 11))) == [f"Nachricht {n}" for n in [*range(10), 99]]


def test_an_unknown_publisher_is_rejected_with_what_to_write_instead() -> None:
    from bot.rasa_endpoints import EndpointConfigurationError, endpoints_config
    from bot.settings import Settings

    with pytest.raises(EndpointConfigurationError, match="EVENT_BROKER_PUBLISHER must be 'batching' or 'rasa'"):
        endpoints_config(Settings.from_env({"EVENT_BROKER_URL": RABBITMQ_URL, "EVENT_BROKER_PUBLISHER": "kafka"}))


async def test_wait_published_returns_only_once_rabbitmq_confirmed_what_was_handed_over(
        exchange_and_queue: tuple[str, str]) -> None:
    """What a turn awaits before it releases its conversation (bot/scaling/ordering.py): after wait_published the
    turn's events are in the queue, also when RabbitMQ was away while they were handed over."""
    exchange, queue = exchange_and_queue
    with TcpProxy("127.0.0.1", 5672) as proxy:
        broker = BatchingRabbitMQEventBroker(f"amqp://guest:guest@127.0.0.1:{proxy.port}/", queues=[queue],
                                             exchange_name=exchange, confirm_timeout_s=3)
        broker.start()
        try:
            assert await asyncio.to_thread(broker.wait_connected, WAIT_S)
            await broker.wait_published()  # nothing handed over yet: returns at once
            for number in range(50):
                broker.publish(event(number))
            await asyncio.wait_for(broker.wait_published(), WAIT_S)
            assert broker.stats().confirmed == 50
            proxy.cut()
            broker.publish(event(50))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(broker.wait_published(), 1.0)  # not confirmed while RabbitMQ is away
            waiting = asyncio.ensure_future(broker.wait_published())
            proxy.restore()
            await asyncio.wait_for(waiting, WAIT_S)
            assert broker.stats().buffered == 0
        finally:
            await broker.close()
    assert first_occurrences(texts(await take(queue, 51))) == [f"Nachricht {number}" for number in range(51)]


async def test_a_turn_does_not_wait_for_publishing_while_rabbitmq_is_away(
        exchange_and_queue: tuple[str, str]) -> None:
    """The cross-server order (bot/scaling/ordering.py) waits for the broker's confirmation, but not during an
    outage: the turn goes on at once, the events stay buffered and arrive in order once RabbitMQ is back."""
    exchange, queue = exchange_and_queue
    with TcpProxy("127.0.0.1", 5672) as proxy:
        broker = BatchingRabbitMQEventBroker(f"amqp://guest:guest@127.0.0.1:{proxy.port}/", queues=[queue],
                                             exchange_name=exchange, confirm_timeout_s=2)
        broker.start()
        try:
            assert await asyncio.to_thread(broker.wait_connected, WAIT_S)
            broker.publish(event(0))
            assert await wait_until_published(broker, timeout_s=WAIT_S)
            proxy.cut()
            broker.publish(event(1))  # noticed as lost here at the latest: the confirmation cannot come
            while broker.is_ready():
                await asyncio.sleep(0.05)
            broker.publish(event(2))
            # With the whole wait allowed, it returns at once: False, nothing confirmed, nothing waited for.
            assert not await asyncio.wait_for(wait_until_published(broker, timeout_s=3600), WAIT_S)
            proxy.restore()
            assert await asyncio.to_thread(broker.flush, WAIT_S), broker.stats()
        finally:
            await broker.close()
    assert first_occurrences(texts(await take(queue, 3))) == ["Nachricht 0", "Nachricht 1", "Nachricht 2"]
