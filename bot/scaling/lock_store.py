"""A Redis lock store whose every step is one atomic Redis operation, for several Rasa servers.

Rasa 3.6's `RedisLockStore` issues a ticket by reading the lock (GET), adding a ticket in Python and writing
it back (SET). Two servers handling messages of the same conversation at the same moment can both read the
same lock, both append "ticket 0" and both believe they are served first (RasaHQ/rasa#9213): the two turns run
at once, and their events interleave or overwrite each other in the tracker store. Its clean-up (remove my
ticket, "is anyone waiting?", delete) has the same gap: a ticket issued in between is deleted with the lock,
and its holder then fails with a LockError.

Here a lock is one Redis hash per conversation, `<prefix>:lock:<conversation id>`:

    field "last"   -> the number of the ticket issued last (HINCRBY: two servers never get the same number)
    field "<n>"    -> the expiry of ticket n (Redis server time, seconds), so servers' clocks do not matter

and each step is a Lua script, which Redis runs without interleaving anything else:

- issue:   drop expired tickets, HINCRBY "last", store its expiry; returns the ticket number;
- serving: drop expired tickets; the lowest live ticket number (-1 when none: the lock has expired);
- release: remove this ticket, drop expired ones; delete the hash when no ticket is left.

A ticket is served when it is the lowest live number (tickets are served in the order they were issued, as in
Rasa's TicketLock). Unlike Rasa's, a ticket is renewed by its server while it waits and while it holds the lock
(`touch`: a new expiry of now + `ticket_lifetime_s`, default 10 s, from a thread of its own so that a busy event
loop does not delay it); so a turn may take as long as it needs, and
a server that dies blocks its conversations only until its tickets run out (at most `ticket_lifetime_s`); the
hash itself also expires then. (With Rasa's fixed 60 s from issue, a request that had waited behind a dead
server's ticket found its own ticket expiring while it ran, and the next request ran at the same time: found by
the load test, bot/scaling/load_test.py.)

endpoints.yml (written by bot.rasa_endpoints from LOCK_STORE_URL):
    lock_store: {type: bot.scaling.lock_store.AtomicRedisLockStore, url: 127.0.0.1, port: 6379, db: 1,
                 key_prefix: retention}
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio as aioredis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "retention"
DEFAULT_POLL_INTERVAL_S = 0.02  # for the request next in line; the n-th in line asks n times less often
MAX_POLL_INTERVAL_S = 0.25
# A ticket lives this long after its owner last renewed it: while a server waits for or holds the lock it renews
# its ticket (each poll, and from a thread every quarter of the lifetime), so only a dead server's tickets expire, and
# its conversations are free again after at most this long (Rasa's tickets live 60 s from issue, renewed never:
# a request that waited long behind a dead server's ticket could find its own expired while it was running).
DEFAULT_TICKET_LIFETIME_S = 10.0
SOCKET_TIMEOUT_S = 10.0

# KEYS[1] = the lock hash. Every script first removes the expired tickets (time from the Redis server).
_PURGE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local fields = redis.call('HGETALL', KEYS[1])
local lowest = nil
local live = 0
for i = 1, #fields, 2 do
  local name = fields[i]
  if name ~= 'last' then
    if tonumber(fields[i + 1]) <= now then
      redis.call('HDEL', KEYS[1], name)
    else
      live = live + 1
      local number = tonumber(name)
      if lowest == nil or number < lowest then lowest = number end
    end
  end
end
"""

# ARGV[1] = lifetime in seconds. Returns the new ticket's number.
ISSUE_SCRIPT = _PURGE + """
local number = redis.call('HINCRBY', KEYS[1], 'last', 1)
local lifetime = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], tostring(number), string.format('%.6f', now + lifetime))
local ttl = redis.call('PTTL', KEYS[1])
local wanted = math.ceil(lifetime * 1000) + 1000
if ttl < wanted then redis.call('PEXPIRE', KEYS[1], wanted) end
return number
"""

# Returns the ticket being served (lowest live number), or -1 when no live ticket is left.
SERVING_SCRIPT = _PURGE + """
if lowest == nil then return -1 end
return lowest
"""

# ARGV[1] = my ticket, ARGV[2] = lifetime in seconds. My ticket, still alive, gets a new expiry (now + lifetime):
# a waiting or working server keeps its ticket as long as it is alive. Returns the ticket being served, or -2 when
# my ticket has expired (then I must not go on).
TOUCH_SCRIPT = _PURGE + """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -2 end
local lifetime = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.6f', now + lifetime))
local wanted = math.ceil(lifetime * 1000) + 1000
if redis.call('PTTL', KEYS[1]) < wanted then redis.call('PEXPIRE', KEYS[1], wanted) end
return lowest
"""

# ARGV[1] = the ticket to remove. Returns the number of live tickets left (0: the lock was deleted).
RELEASE_SCRIPT = """
redis.call('HDEL', KEYS[1], ARGV[1])
""" + _PURGE + """
if live == 0 then redis.call('DEL', KEYS[1]) end
return live
"""


class _Renewer:
    """Renews this process's tickets from a thread of its own, every quarter of their lifetime.

    Under heavy load Rasa's event loop can be busy for seconds at a time (every turn's NLU runs on it), so a
    renewal scheduled on the loop may come too late and a live server's ticket would expire. A thread gets the
    CPU regardless: a ticket expires only when its process is gone or frozen.
    """

    def __init__(self, store: AtomicRedisLockStore) -> None:
        self.store = store
        self.tickets: dict[tuple[str, int], float] = {}  # (conversation, ticket) -> lifetime
        self.guard = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        with self.guard:
            self.tickets[(conversation_id, ticket)] = lifetime
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="lock-ticket-renewer", daemon=True)
                self.thread.start()

    def discard(self, conversation_id: str, ticket: int) -> None:
        with self.guard:
            self.tickets.pop((conversation_id, ticket), None)

    def _run(self) -> None:
        while True:
            with self.guard:
                tickets = dict(self.tickets)
            interval = min(tickets.values(), default=self.store.ticket_lifetime_s) / 4
            if tickets:
                try:
                    with self.store.red.pipeline(transaction=False) as pipe:
                        for (conversation_id, ticket), lifetime in tickets.items():
                            self.store._touch(keys=[self.store._key(conversation_id)], args=[ticket, lifetime],
                                              client=pipe)
                        pipe.execute()
                except redis.RedisError as error:
                    logger.warning("Could not renew the conversation locks: %s", error.__class__.__name__)
            time.sleep(interval)


class AtomicRedisLockStore(LockStore):
    """Rasa's ticket lock kept in Redis, each step an atomic Lua script (see the module docstring).

    `lock()` (what Rasa's agent and HTTP API use) talks to Redis asynchronously; the synchronous methods of
    Rasa's `LockStore` interface work too and use the same scripts.
    """

    def __init__(self, endpoint_config: EndpointConfig | None = None, *, host: str = "localhost",
                 port: int = 6379, db: int = 1, username: str | None = None, password: str | None = None,
                 use_ssl: bool = False, key_prefix: str | None = None,
                 poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
                 ticket_lifetime_s: float = DEFAULT_TICKET_LIFETIME_S,
                 socket_timeout: float = SOCKET_TIMEOUT_S) -> None:
        if endpoint_config is not None:  # Rasa loads a custom lock store with the endpoint config
            kwargs: dict[str, Any] = dict(endpoint_config.kwargs)
            host = endpoint_config.url or host
            port = int(kwargs.get("port", port))
            db = int(kwargs.get("db", db))
            username = kwargs.get("username", username)
            password = kwargs.get("password", password)
            use_ssl = bool(kwargs.get("use_ssl", use_ssl))
            key_prefix = kwargs.get("key_prefix", key_prefix)
            poll_interval_s = float(kwargs.get("poll_interval_s", poll_interval_s))
            ticket_lifetime_s = float(kwargs.get("ticket_lifetime_s", ticket_lifetime_s))
        prefix = key_prefix or DEFAULT_KEY_PREFIX
        if not prefix.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"The lock store's key prefix must be letters, digits, - or _, got {prefix!r}")
        self.key_prefix = f"{prefix}:lock:"
        self.poll_interval_s = poll_interval_s
        self.ticket_lifetime_s = ticket_lifetime_s
        connection: dict[str, Any] = {"host": host, "port": int(port), "db": int(db), "username": username,
                                      "password": password, "ssl": use_ssl, "socket_timeout": socket_timeout}
        self.red = redis.Redis(**connection)
        self._connection = connection
        self._async: dict[int, aioredis.Redis] = {}  # one client per event loop
        self._issue = self.red.register_script(ISSUE_SCRIPT)
        self._serving = self.red.register_script(SERVING_SCRIPT)
        self._touch = self.red.register_script(TOUCH_SCRIPT)
        self._renewer = _Renewer(self)
        self._release = self.red.register_script(RELEASE_SCRIPT)
        super().__init__()

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    # -- asynchronous path: what Rasa uses for every message ---------------------------------------------

    def _async_client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        client = self._async.get(id(loop))
        if client is None:
            client = aioredis.Redis(**self._connection)
            self._async = {id(loop): client}  # a new loop (tests) replaces the old client
        return client

    async def issue_ticket_async(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        client = self._async_client()
        try:
            return int(await client.evalsha(self._issue.sha, 1, self._key(conversation_id), lock_lifetime))
        except redis.exceptions.NoScriptError:
            return int(await client.eval(ISSUE_SCRIPT, 1, self._key(conversation_id), lock_lifetime))
        except redis.RedisError as error:
            raise LockError(f"Could not issue a ticket for conversation '{conversation_id}': {error}") from error

    async def now_serving_async(self, conversation_id: str) -> int | None:
        client = self._async_client()
        try:
            number = int(await client.evalsha(self._serving.sha, 1, self._key(conversation_id)))
        except redis.exceptions.NoScriptError:
            number = int(await client.eval(SERVING_SCRIPT, 1, self._key(conversation_id)))
        return None if number < 0 else number

    async def touch_async(self, conversation_id: str, ticket: int, lifetime: float) -> int | None:
        """Renew my ticket; the ticket being served (-1: none), None when mine has expired."""
        client = self._async_client()
        keys_and_args = (1, self._key(conversation_id), ticket, lifetime)
        try:
            number = int(await client.evalsha(self._touch.sha, *keys_and_args))
        except redis.exceptions.NoScriptError:
            number = int(await client.eval(TOUCH_SCRIPT, *keys_and_args))
        return None if number == -2 else number

    async def release_async(self, conversation_id: str, ticket: int) -> None:
        client = self._async_client()
        try:
            await client.evalsha(self._release.sha, 1, self._key(conversation_id), ticket)
        except redis.exceptions.NoScriptError:
            await client.eval(RELEASE_SCRIPT, 1, self._key(conversation_id), ticket)

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[TicketLock]:
        """Hold the conversation's lock: wait until this ticket is the lowest live one, release it afterwards.

        The ticket is renewed while waiting and while held (see DEFAULT_TICKET_LIFETIME_S), so Rasa's
        `lock_lifetime` (from issue, never renewed) is not used; LockError when the ticket expired anyway (this
        server stalled for longer than the lifetime). `wait_time_in_seconds` (Rasa passes 1 s) bounds the
        polling interval of the request next in line.
        """
        lifetime = self.ticket_lifetime_s
        ticket = await self.issue_ticket_async(conversation_id, lifetime)
        self._renewer.add(conversation_id, ticket, lifetime)
        interval = min(self.poll_interval_s, wait_time_in_seconds)
        try:
            while True:
                serving = await self.touch_async(conversation_id, ticket, lifetime)
                if serving is None:
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}' "
                                    f"(ticket {ticket} expired while waiting).")
                if serving == ticket:
                    break
                # The further back in the queue, the less often to ask: hundreds of waiting requests polling every
                # 20 ms kept a busy server's event loop from the turns themselves (scale-benchmark, one server).
                await asyncio.sleep(min(interval * max(ticket - serving, 1), MAX_POLL_INTERVAL_S))
            yield TicketLock(conversation_id, deque([Ticket(ticket, 0.0)]))
        finally:
            self._renewer.discard(conversation_id, ticket)
            try:
                await self.release_async(conversation_id, ticket)
            except redis.RedisError as error:  # the ticket then expires on its own
                logger.warning("Could not release ticket %s of %s: %s", ticket, conversation_id, error)

    # -- Rasa's synchronous LockStore interface ---------------------------------------------------------

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=[self._key(conversation_id)], args=[lock_lifetime]))
        except redis.RedisError as error:
            raise LockError(f"Could not issue a ticket for conversation '{conversation_id}': {error}") from error

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        self._serving(keys=[self._key(conversation_id)])  # drops expired tickets
        fields = self.red.hgetall(self._key(conversation_id))
        tickets = sorted((int(name), float(value)) for name, value in fields.items() if name != b"last")
        if not tickets:
            return None
        return TicketLock(conversation_id, deque(Ticket(number, expires) for number, expires in tickets))

    def delete_lock(self, conversation_id: str) -> None:
        self._log_deletion(conversation_id, bool(self.red.delete(self._key(conversation_id))))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("AtomicRedisLockStore changes locks only through its atomic scripts")

    def update_lock(self, conversation_id: str) -> None:
        self._serving(keys=[self._key(conversation_id)])

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._release(keys=[self._key(conversation_id)], args=[ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            serving = await self.now_serving_async(conversation_id)
            if serving is None or serving > ticket:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if serving == ticket:
                return TicketLock(conversation_id, deque([Ticket(ticket, 0.0)]))
            await asyncio.sleep(min(self.poll_interval_s, wait_time_in_seconds))
