"""The project's Redis lock store: two Rasa servers never handle the same conversation at the same time.

Real Redis (TEST_REDIS_URL, default db 9 of the local server); every test uses a key prefix of its own.
"""
from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_endpoints import lock_store_config
from bot.scaling.lock_store import AtomicRedisLockStore

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _connection() -> dict:
    parts = urlsplit(REDIS_URL)
    return {"host": parts.hostname, "port": parts.port or 6379, "db": int(parts.path.strip("/") or 0)}


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis(**_connection())
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    name = f"scaletest{uuid.uuid4().hex[:10]}"
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def _store(prefix: str, **kwargs: object) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(key_prefix=prefix, **_connection(), **kwargs)  # type: ignore[arg-type]


def test_rasa_loads_it_from_the_written_endpoints_config(prefix: str) -> None:
    config = lock_store_config(REDIS_URL)
    store = LockStore.create(EndpointConfig(url=config.pop("url"), **{k: v for k, v in config.items()}))
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == "retention:lock:"


def test_rasa_own_redis_lock_store_lets_two_servers_hold_one_conversation(prefix: str) -> None:
    """Why the project has its own store: Rasa 3.6 reads, adds a ticket in Python and writes back."""
    server_a = RedisLockStore(key_prefix=prefix, **_connection())
    server_b = RedisLockStore(key_prefix=prefix, **_connection())
    # Both servers receive a message of the same conversation at the same moment: both read before either writes.
    lock_a = server_a.get_or_create_lock("conversation")
    lock_b = server_b.get_or_create_lock("conversation")
    ticket_a, ticket_b = lock_a.issue_ticket(60), lock_b.issue_ticket(60)
    server_a.save_lock(lock_a)
    server_b.save_lock(lock_b)
    stored = server_a.get_lock("conversation")
    assert stored is not None
    assert not stored.is_locked(ticket_a) and not stored.is_locked(ticket_b), "both are served at once"


def _hammer(store: AtomicRedisLockStore, conversations: list[str], turns: int, counter: redis.Redis,
            seen: list[tuple[str, int]], errors: list[BaseException]) -> None:
    """One 'server': many concurrent turns on the conversations, each checking nobody else holds the lock."""
    async def turn(index: int) -> None:
        conversation = conversations[index % len(conversations)]
        async with store.lock(conversation):
            holders = counter.incr(f"{store.key_prefix}holders:{conversation}")
            try:
                seen.append((conversation, int(holders)))
                await asyncio.sleep(0.002)
            finally:
                counter.decr(f"{store.key_prefix}holders:{conversation}")

    async def main() -> None:
        results = await asyncio.gather(*(turn(i) for i in range(turns)), return_exceptions=True)
        errors.extend(r for r in results if isinstance(r, BaseException))

    asyncio.run(main())


def test_two_servers_issuing_tickets_concurrently_never_both_hold_the_lock(prefix: str) -> None:
    counter = redis.Redis(**_connection())
    conversations = ["burst-1", "burst-2", "burst-3"]
    seen: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    servers = [threading.Thread(target=_hammer, args=(_store(prefix, poll_interval_s=0.001), conversations, 60,
                                                      counter, seen, errors)) for _ in range(3)]
    for server in servers:
        server.start()
    for server in servers:
        server.join()
    assert errors == []
    assert len(seen) == 180, "every turn got the lock"
    assert max(holders for _, holders in seen) == 1, "two turns held one conversation at the same time"
    assert not list(counter.scan_iter(f"{prefix}:lock:burst-*")), "locks are deleted when nobody waits"


async def test_turns_are_served_in_the_order_their_tickets_were_issued(prefix: str) -> None:
    server_a, server_b = _store(prefix), _store(prefix)
    order: list[int] = []
    first_holds = asyncio.Event()

    async def turn(store: AtomicRedisLockStore, number: int) -> None:
        async with store.lock("ordered"):
            if number == 0:
                first_holds.set()
                await asyncio.sleep(0.05)
            order.append(number)

    tasks = [asyncio.create_task(turn(server_a, 0))]
    await first_holds.wait()
    for number in range(1, 8):  # issued one after the other, alternately on the two servers
        tasks.append(asyncio.create_task(turn(server_b if number % 2 else server_a, number)))
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)
    assert order == list(range(8))


async def test_a_crashed_server_blocks_its_conversation_only_until_its_ticket_runs_out(prefix: str) -> None:
    crashed, survivor = _store(prefix), _store(prefix, ticket_lifetime_s=5)
    await crashed.issue_ticket_async("orphan", lock_lifetime=0.3)  # taken, never renewed nor released
    async with survivor.lock("orphan") as lock:
        assert lock.conversation_id == "orphan"


async def test_a_turn_longer_than_the_ticket_lifetime_keeps_the_lock(prefix: str) -> None:
    """The holder renews its ticket: a slow turn is not joined by the next one when the lifetime has passed."""
    server_a, server_b = _store(prefix, ticket_lifetime_s=0.3), _store(prefix, ticket_lifetime_s=0.3)
    events: list[str] = []
    holding = asyncio.Event()

    async def slow_turn() -> None:
        async with server_a.lock("slow"):
            holding.set()
            events.append("slow starts")
            await asyncio.sleep(1.0)  # more than three lifetimes
            events.append("slow ends")

    async def next_turn() -> None:
        await holding.wait()
        async with server_b.lock("slow"):
            events.append("next starts")

    await asyncio.gather(slow_turn(), next_turn())
    assert events == ["slow starts", "slow ends", "next starts"]


async def test_a_ticket_not_renewed_in_time_is_gone_and_its_server_is_told(prefix: str) -> None:
    """A server that stalled longer than the lifetime must not go on as if it held its place in the queue."""
    store = _store(prefix, ticket_lifetime_s=0.2)
    holder = await store.issue_ticket_async("stalled", lock_lifetime=30)
    waiting = await store.issue_ticket_async("stalled", lock_lifetime=0.2)
    await asyncio.sleep(0.4)  # the waiting server did not renew its ticket in time
    assert await store.touch_async("stalled", waiting, 0.2) is None
    assert await store.touch_async("stalled", holder, 30) == holder, "the live holder keeps the lock"
    await store.release_async("stalled", holder)


def test_the_synchronous_interface_uses_the_same_atomic_steps(prefix: str) -> None:
    store = _store(prefix)
    first = store.issue_ticket("sync")
    second = store.issue_ticket("sync")
    lock = store.get_lock("sync")
    assert lock is not None and not lock.is_locked(first) and lock.is_locked(second)
    assert store.is_someone_waiting("sync")
    store.cleanup("sync", first)
    store.cleanup("sync", second)
    assert store.get_lock("sync") is None
