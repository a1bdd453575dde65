"""The project's RabbitMQ event broker: Rasa's events published in batches from a thread of their own.

Rasa 3.6's `PikaEventBroker.publish` schedules one task per event on Rasa's event loop, and aiormq sends them
one at a time, each needing several turns of a loop that is busy predicting the turns; at 20 concurrent
conversations most events left Rasa only seconds after their turn (docs/analytics_pipeline.md). This broker
instead:

- `publish()` (called by Rasa's tracker store on its event loop) only serialises the event and appends it to
  an in-memory buffer: a lock and a deque, no I/O, no task on Rasa's loop;
- a publisher thread with an event loop of its own takes everything that has accumulated (up to
  `batch_size`), publishes it on one channel with publisher confirms, all messages of the batch in flight at
  once, and removes them from the buffer only when RabbitMQ has confirmed every one of them;
- when RabbitMQ is unreachable, refuses or does not confirm a batch in time, the batch stays at the head of
  the buffer and is published again after reconnecting (pause 0.5 s, doubling up to 30 s). Events are
  therefore delivered at least once and in order; a batch that was partly taken before the failure arrives
  partly twice, which the consumer recognises by each event's stable key (bot/analytics/events.py);
- the buffer is bounded (`buffer_bytes`, EVENT_BROKER_BUFFER_MB): when it is full, a new event is refused
  (not queued, the older ones stay) and an error is logged with the number refused so far. Conversations go on
  unharmed; the refused events are still in the tracker store and can be published again with
  `rasa export --endpoints <file> --minimum-timestamp ...` (the consumer counts a re-published event once).
  Blocking Rasa instead would stop every conversation for as long as RabbitMQ is away;
- `wait_published()` returns once every event handed over before the call is confirmed: the tracker store
  awaits it before a turn ends, so that with several Rasa servers a conversation's turns reach RabbitMQ in the
  order they ran (bot/scaling/ordering.py);
- `close()` (Rasa's shutdown) waits up to `close_timeout_s` for the buffer to drain and logs how many events
  were left behind if it could not.

Messages are exactly those of Rasa's Pika broker (JSON body of the event, persistent, `app_id` =
RASA_ENVIRONMENT, the exporter's headers), to the same fanout exchange `rasa-exchange` bound to the same
durable queues, so bot/analytics/consumer_rabbitmq.py reads them unchanged. Loaded by Rasa as
`type: bot.analytics.rabbitmq_broker.BatchingRabbitMQEventBroker` (bot/rasa_endpoints.py).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

RASA_EXCHANGE = "rasa-exchange"  # rasa.core.brokers.pika.RABBITMQ_EXCHANGE (Rasa 3.6)
DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024
DEFAULT_BATCH_SIZE = 500
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0


@dataclass(frozen=True)
class _Pending:
    body: bytes
    headers: dict[str, Any] | None


@dataclass(frozen=True)
class BrokerStats:
    buffered: int  # events waiting for RabbitMQ's confirmation
    buffered_bytes: int
    confirmed: int  # events RabbitMQ has confirmed since the start
    refused: int  # events refused because the buffer was full
    connected: bool


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # a waiter that gave up (timeout) is cancelled already
        future.set_result(None)


class BatchingRabbitMQEventBroker(EventBroker):
    """Publishes Rasa's events to RabbitMQ in confirmed batches from a background thread (see the module)."""

    def __init__(self, url: str, *, queues: Sequence[str] | str, exchange_name: str = RASA_EXCHANGE,
                 buffer_bytes: int = DEFAULT_BUFFER_BYTES, batch_size: int = DEFAULT_BATCH_SIZE,
                 confirm_timeout_s: float = 15.0, close_timeout_s: float = 10.0, **_: Any) -> None:
        super().__init__()
        if not url or not url.startswith(("amqp://", "amqps://")):
            raise ValueError(f"the RabbitMQ event broker needs an amqp:// URL, got {url!r}")
        self.url = url
        self.queues = [queues] if isinstance(queues, str) else list(queues)
        if not self.queues:
            raise ValueError("the RabbitMQ event broker needs at least one queue")
        self.exchange_name = exchange_name
        self.buffer_bytes = int(buffer_bytes)
        self.batch_size = max(1, int(batch_size))
        self.confirm_timeout_s = confirm_timeout_s
        self.close_timeout_s = close_timeout_s
        self._app_id = os.environ.get("RASA_ENVIRONMENT")
        self._lock = threading.Lock()
        self._buffer: deque[_Pending] = deque()
        self._buffered_bytes = 0
        self._handed = 0  # events accepted into the buffer since the start
        self._confirmed = 0
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._refused = 0
        self._refusing = False  # an error was logged for the current full period
        self._wake_scheduled = False
        self._stopping = False
        self._abandon = False
        self._connected = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._loop_ready = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ Rasa's side

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig | None,
                                   event_loop: asyncio.AbstractEventLoop | None = None,
                                   ) -> BatchingRabbitMQEventBroker | None:
        """Rasa's factory (`type: bot.analytics.rabbitmq_broker.BatchingRabbitMQEventBroker`). Rasa starts even
        when RabbitMQ is not reachable yet: the events wait in the buffer (the log says so)."""
        if broker_config is None:
            return None
        broker = cls(broker_config.url or "", **broker_config.kwargs)
        broker.start()
        if not await asyncio.to_thread(broker.wait_connected, 10.0):
            logger.error("Event broker: RabbitMQ is not reachable yet; events are kept in memory (up to %d MB) "
                         "and published once it is", broker.buffer_bytes // (1024 * 1024))
        return broker

    def publish(self, event: dict[str, Any], headers: dict[str, Any] | None = None) -> None:
        """Queue one event for publishing; never blocks and never raises for RabbitMQ's state."""
        body = json.dumps(event).encode("utf-8")  # the same body as Rasa's PikaEventBroker
        with self._lock:
            if self._buffered_bytes + len(body) > self.buffer_bytes:
                self._refused += 1
                first = not self._refusing
                self._refusing = True
            else:
                self._buffer.append(_Pending(body, dict(headers) if headers else None))
                self._buffered_bytes += len(body)
                self._handed += 1
                first = False
                wake = not self._wake_scheduled
                self._wake_scheduled = True
                if wake:
                    self._wake()
                return
        if first:
            logger.error("Event broker: the buffer of %d MB is full (RabbitMQ unreachable or too slow); new events "
                         "are refused until it drains (%d so far). They stay in the tracker store and can be "
                         "published again with `rasa export`.", self.buffer_bytes // (1024 * 1024), self._refused)

    def is_ready(self) -> bool:
        return self._connected.is_set()

    async def wait_published(self) -> None:
        """Return once RabbitMQ has confirmed every event handed to `publish()` before this call (they leave the
        buffer in order, so it is enough that as many are confirmed as were handed over by then)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            target = self._handed
            if self._confirmed >= target:
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((target, loop, future))
        await future

    async def close(self) -> None:
        """Publish what is buffered (waiting up to close_timeout_s), then stop the thread."""
        await asyncio.to_thread(self.stop, self.close_timeout_s)

    # ------------------------------------------------------------------ plain interface (tests, rasa export)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._thread_main, name="rabbitmq-event-broker", daemon=True)
        self._thread.start()
        self._loop_ready.wait()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until every buffered event is confirmed; False if some are still waiting after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._buffer:
                    return True
            time.sleep(0.02)
        with self._lock:
            return not self._buffer

    def stop(self, timeout: float) -> None:
        with self._lock:
            self._stopping = True
        self._wake()
        if self._thread is None:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            with self._lock:
                self._abandon = True
                left = len(self._buffer)
            self._wake()
            self._thread.join(5)
            if left:
                logger.error("Event broker: stopped with %d events not confirmed by RabbitMQ (they are in the "
                             "tracker store; `rasa export` publishes them again)", left)

    def stats(self) -> BrokerStats:
        with self._lock:
            return BrokerStats(buffered=len(self._buffer), buffered_bytes=self._buffered_bytes,
                               confirmed=self._confirmed, refused=self._refused, connected=self._connected.is_set())

    # ------------------------------------------------------------------ the publisher thread

    def _wake(self) -> None:
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wakeup.set)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._wakeup = asyncio.Event()
        self._loop = loop
        self._loop_ready.set()
        try:
            loop.run_until_complete(self._publish_forever())
        finally:
            self._connected.clear()
            loop.close()

    def _take(self) -> list[_Pending]:
        """The oldest events (up to batch_size), left in the buffer until confirmed."""
        with self._lock:
            self._wake_scheduled = False
            count = min(len(self._buffer), self.batch_size)
            return [self._buffer[index] for index in range(count)]

    def _confirm(self, batch: list[_Pending]) -> None:
        with self._lock:
            for _ in batch:
                pending = self._buffer.popleft()
                self._buffered_bytes -= len(pending.body)
            self._confirmed += len(batch)
            done = [(loop, future) for target, loop, future in self._waiters if target <= self._confirmed]
            self._waiters = [waiter for waiter in self._waiters
                             if waiter[0] > self._confirmed and not waiter[2].done()]
            if self._refusing and self._buffered_bytes < self.buffer_bytes // 2:
                self._refusing = False
                logger.warning("Event broker: the buffer drains again; %d events were refused in all", self._refused)
        for loop, future in done:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def _finished(self) -> bool:
        with self._lock:
            return self._abandon or (self._stopping and not self._buffer)

    async def _pause(self, seconds: float) -> None:
        assert self._wakeup is not None
        deadline = time.monotonic() + seconds
        while not self._abandon and time.monotonic() < deadline:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return

    async def _publish_forever(self) -> None:
        pause = RECONNECT_FIRST_S
        while not self._finished():
            try:
                connection = await aio_pika.connect(self.url, timeout=10)
            except Exception as error:  # noqa: BLE001 - refused, unreachable, handshake cut: all are waited out
                logger.warning("Event broker: RabbitMQ unavailable (%s: %s); %d events buffered, trying again "
                               "in %.1f s", error.__class__.__name__, error, self.stats().buffered, pause)
                await self._pause(pause)
                pause = min(RECONNECT_MAX_S, pause * 2)
                continue
            try:
                async with connection:
                    exchange = await self._declare(connection)
                    self._connected.set()
                    logger.info("Event broker: connected to RabbitMQ, publishing to %s", ", ".join(self.queues))
                    pause = RECONNECT_FIRST_S
                    await self._publish_batches(connection, exchange)
            except Exception as error:  # noqa: BLE001 - aiormq/pamqp raise many kinds; the thread must go on
                logger.warning("Event broker: publishing failed (%s: %s); %d events kept, reconnecting in %.1f s",
                               error.__class__.__name__, error, self.stats().buffered, pause)
                self._connected.clear()
                await self._pause(pause)
                pause = min(RECONNECT_MAX_S, pause * 2)
            finally:
                self._connected.clear()

    async def _declare(self, connection: aio_pika.abc.AbstractConnection) -> aio_pika.abc.AbstractExchange:
        """The exchange and queues as Rasa's Pika broker declares them (so either side may start first)."""
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(self.exchange_name, type=aio_pika.ExchangeType.FANOUT)
        for name in self.queues:
            queue = await channel.declare_queue(name, durable=True)
            await queue.bind(exchange, "")
        return exchange

    async def _publish_batches(self, connection: aio_pika.abc.AbstractConnection,
                               exchange: aio_pika.abc.AbstractExchange) -> None:
        assert self._wakeup is not None
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        while not self._finished():
            if lost.is_set():
                raise ConnectionError("the connection to RabbitMQ was closed")
            batch = self._take()
            if not batch:
                self._wakeup.clear()
                if self._buffer_empty_and_stopping():
                    return
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            messages = [aio_pika.Message(pending.body, headers=pending.headers, app_id=self._app_id,
                                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT) for pending in batch]
            # Every message of the batch in flight at once; each publish returns when RabbitMQ confirmed it
            # (a negative confirmation raises DeliveryError, an AMQPError).
            confirmed = asyncio.ensure_future(
                asyncio.gather(*(exchange.publish(message, "") for message in messages), return_exceptions=True))
            closed = asyncio.ensure_future(lost.wait())
            await asyncio.wait({confirmed, closed}, timeout=self.confirm_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            if not confirmed.done():  # the connection closed or RabbitMQ did not confirm in time
                confirmed.cancel()
                raise ConnectionError("RabbitMQ did not confirm the batch" if not lost.is_set()
                                      else "the connection to RabbitMQ was closed")
            failed = [result for result in confirmed.result() if isinstance(result, BaseException)]
            if failed:
                raise failed[0]
            self._confirm(batch)

    def _buffer_empty_and_stopping(self) -> bool:
        with self._lock:
            return self._stopping and not self._buffer

