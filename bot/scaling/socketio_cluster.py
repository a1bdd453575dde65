"""socket.io across several Rasa servers: one client manager over Redis, and who is connected where.

Rasa 3.6 creates its socket.io server without a client manager, so `emit` reaches only the widgets connected to
the same process: an agent message that the console appends through server A never reaches a customer whose
widget is connected to server B. With SOCKETIO_MANAGER_URL (redis://host:6379/10), every Rasa server uses
python-socketio's `AsyncRedisManager`: an emit is published on a Redis channel and each server delivers it to its
own widgets in that room (the room is the conversation id, Rasa's session persistence).

The manager cannot say whether *any* server has a widget in a room (its `rooms` are local), and the channel
marks an agent message delivered only when one is connected (otherwise it is emitted again when the widget comes
back, bot/channels/socketio.py). So each server also records its widgets in Redis:

    <prefix>:socketio:room:<conversation id>   hash  "<server id>:<socket id>" -> 1  (joined, until disconnect)
    <prefix>:socketio:server:<server id>       a heartbeat, refreshed every HEARTBEAT_S, expiring after ALIVE_S

and a room counts as connected when one of its entries belongs to a server whose heartbeat is alive: the widgets
of a server that was killed stop counting within ALIVE_S (they reconnect to another server, which then delivers
what they missed).
"""
from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from socketio import AsyncRedisManager, AsyncServer

logger = logging.getLogger(__name__)

KEY_PREFIX = "retention:socketio:"
HEARTBEAT_S = 5.0
ALIVE_S = 15
ROOM_KEEP_S = 7 * 24 * 3600
CHANNEL = "retention-socketio"


class ClusterPresence:
    """Which conversations have a widget connected to some live Rasa server (see the module docstring)."""

    def __init__(self, url: str, server_id: str, *, key_prefix: str = KEY_PREFIX) -> None:
        self.redis = aioredis.Redis.from_url(url)
        self.server_id = server_id
        self.prefix = key_prefix
        self._rooms_of: dict[str, set[str]] = {}  # socket id -> rooms joined on this server
        self._heartbeat: asyncio.Task | None = None

    def _room_key(self, room: str) -> str:
        return f"{self.prefix}room:{room}"

    def _server_key(self, server_id: str) -> str:
        return f"{self.prefix}server:{server_id}"

    async def _beat(self) -> None:
        while True:
            try:
                await self.redis.set(self._server_key(self.server_id), "1", ex=ALIVE_S)
            except RedisError as error:
                logger.warning("socket.io presence heartbeat failed: %s", error.__class__.__name__)
            await asyncio.sleep(HEARTBEAT_S)

    async def start(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            await self.redis.set(self._server_key(self.server_id), "1", ex=ALIVE_S)
            self._heartbeat = asyncio.create_task(self._beat())

    async def join(self, room: str, sid: str) -> None:
        await self.start()
        self._rooms_of.setdefault(sid, set()).add(room)
        key = self._room_key(room)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, f"{self.server_id}:{sid}", "1")
            pipe.expire(key, ROOM_KEEP_S)
            await pipe.execute()

    async def leave(self, sid: str) -> None:
        for room in self._rooms_of.pop(sid, set()):
            await self.redis.hdel(self._room_key(room), f"{self.server_id}:{sid}")

    async def connected(self, room: str) -> bool:
        """Whether a widget of this conversation is connected to a live server (stale entries are removed)."""
        entries = [name.decode() for name in await self.redis.hkeys(self._room_key(room))]
        if not entries:
            return False
        servers = sorted({entry.split(":", 1)[0] for entry in entries})
        alive = dict(zip(servers, await self.redis.mget([self._server_key(s) for s in servers]), strict=True))
        stale = [entry for entry in entries if alive.get(entry.split(":", 1)[0]) is None]
        if stale:
            await self.redis.hdel(self._room_key(room), *stale)
        return len(stale) < len(entries)


def use_redis_manager(sio: AsyncServer, url: str) -> ClusterPresence:
    """Give Rasa's socket.io server a Redis client manager (before its first connection) and a presence record."""
    manager = AsyncRedisManager(url, channel=CHANNEL)
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False  # initialised (its listener started) on the first connection
    return ClusterPresence(url, manager.host_id)

