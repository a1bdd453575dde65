"""Rasa's endpoints configuration (action server, tracker store, lock store, event broker) from the settings.

`python -m bot.cli run` and the end-to-end tests write this file instead of using a fixed one, so that
every URL comes from the environment through `bot.settings`:

- conversations (tracker store): `TRACKER_STORE_URL`, an SQLAlchemy URL; embedded default
  `sqlite:///var/conversations.db`, in production e.g. `postgresql://postgres@127.0.0.1:5432/test`;
  written without the customers' verification answers (bot.conversation_store);
- lock store: `LOCK_STORE_URL`, e.g. `redis://127.0.0.1:6379/1` (needed as soon as more than one Rasa
  process serves the same conversations; the project's atomic `bot.scaling.lock_store.AtomicRedisLockStore`);
  in memory when unset;
- event broker: `EVENT_BROKER_URL`, e.g. `amqp://guest:guest@127.0.0.1:5672/` (RabbitMQ), publishing
  every conversation event to the queue `EVENT_BROKER_QUEUE` through the project's batching broker
  (bot.analytics.rabbitmq_broker; `EVENT_BROKER_PUBLISHER=rasa` for Rasa's own Pika broker); when unset,
  Rasa's SQL event broker writes them to a database of its own, `ANALYTICS_EVENTS_URL` (default
  `sqlite:///var/analytics_events.db`, "off" for none). Either way the analytics consumer (bot.analytics) reads them.

- action server: every call carries `Authorization: Bearer ${ACTION_SERVER_TOKEN}`; the file names the
  variable, Rasa substitutes its value from its own environment when it reads the file, so the secret
  is never written here (the action server refuses calls without it, see bot.action_server).

The committed `endpoints.yml` is only for `rasa` commands typed by hand.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import Settings

TRACKER_STORE_CLASS = "bot.conversation_store.RedactingSQLTrackerStore"
SQL_EVENT_BROKER_CLASS = "bot.analytics.sql_broker.WalSQLEventBroker"
RABBITMQ_EVENT_BROKER_CLASS = "bot.analytics.rabbitmq_broker.BatchingRabbitMQEventBroker"
# Rasa 3.6's own RedisLockStore issues tickets non-atomically (RasaHQ/rasa#9213): two servers can both hold a
# conversation. The project's lock store does every step as one Redis script (bot.scaling.lock_store).
LOCK_STORE_CLASS = "bot.scaling.lock_store.AtomicRedisLockStore"
LOCK_KEY_PREFIX = "retention"
# Rasa replaces ${NAME} in its endpoints file with the environment variable when it reads the file.
ACTION_SERVER_AUTHORIZATION = "Bearer ${ACTION_SERVER_TOKEN}"  # Redis keys are "retention:lock:<conversation id>"


class EndpointConfigurationError(ValueError):
    """A URL in the environment cannot be used for Rasa's endpoints."""


def tracker_store_config(url: str) -> dict[str, Any]:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise EndpointConfigurationError(
            f"TRACKER_STORE_URL must be an SQLAlchemy database URL such as "
            f"postgresql://user@host:5432/db or sqlite:///var/conversations.db, got {url!r}") from None
    # Rasa's SQL tracker store (here the subclass that redacts verification secrets) takes `url` as its
    # `host`, which accepts a complete database URL.
    return {"type": TRACKER_STORE_CLASS, "dialect": parsed.get_backend_name(), "url": url}


def lock_store_config(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise EndpointConfigurationError(f"LOCK_STORE_URL must look like redis://host:6379/1, got {url!r}")
    database = parts.path.strip("/") or "0"
    if not database.isdigit():
        raise EndpointConfigurationError(f"LOCK_STORE_URL: the Redis database must be a number, got {database!r}")
    config: dict[str, Any] = {"type": LOCK_STORE_CLASS, "url": parts.hostname, "port": parts.port or 6379,
                              "db": int(database), "key_prefix": LOCK_KEY_PREFIX, "use_ssl": parts.scheme == "rediss"}
    if parts.password:
        config["password"] = unquote(parts.password)
    if parts.username:
        config["username"] = unquote(parts.username)
    return config


def event_broker_config(url: str, queue: str, *, publisher: str = "batching",
                        buffer_mb: int = 64) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
        raise EndpointConfigurationError(
            f"EVENT_BROKER_URL must look like amqp://user:password@host:5672/, got {url!r}")
    if publisher == "batching":
        # The project's broker: batches from a thread of its own, publisher confirms, a bounded buffer while
        # RabbitMQ is away; the same messages as Rasa's Pika broker (bot/analytics/rabbitmq_broker.py).
        return {"type": RABBITMQ_EVENT_BROKER_CLASS, "url": url, "queues": [queue],
                "buffer_bytes": buffer_mb * 1024 * 1024}
    if publisher == "rasa":
        # Rasa's Pika broker connects with the whole URL; it still wants user, password and port on their own
        # (it appends its `port`, default 5672, to a URL that does not contain that number).
        return {"type": "pika", "url": url, "username": unquote(parts.username or "guest"),
                "password": unquote(parts.password or "guest"), "port": parts.port or 5672, "queues": [queue]}
    raise EndpointConfigurationError(f"EVENT_BROKER_PUBLISHER must be 'batching' or 'rasa', got {publisher!r}")


def sql_event_broker_config(url: str) -> dict[str, Any]:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise EndpointConfigurationError(
            f"ANALYTICS_EVENTS_URL must be an SQLAlchemy database URL such as sqlite:///var/analytics_events.db, "
            f"got {url!r}") from None
    # Rasa's SQLEventBroker (here the subclass that keeps a WAL SQLite file open) takes a complete URL as its
    # `host`, as the SQL tracker store does.
    return {"type": SQL_EVENT_BROKER_CLASS, "dialect": parsed.get_backend_name(), "url": url}


def _prepare_sqlite_events_file(url: str, tracker_store_url: str) -> None:
    """Create the folder, refuse the tracker store's file (both tables are called `events`), and switch the
    file to write-ahead logging so that the analytics consumer's reads never block Rasa's writes."""
    import sqlite3

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    tracker = make_url(tracker_store_url)
    if tracker.get_backend_name() == "sqlite" and tracker.database and \
            Path(tracker.database).resolve() == Path(parsed.database).resolve():
        raise EndpointConfigurationError("ANALYTICS_EVENTS_URL must name another database than TRACKER_STORE_URL")
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(parsed.database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.close()


def endpoints_config(settings: Settings, *, action_server_url: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "action_endpoint": {"url": action_server_url or settings.action_server_url,
                            "headers": {"Authorization": ACTION_SERVER_AUTHORIZATION}},
        "tracker_store": tracker_store_config(settings.tracker_store_url),
    }
    if settings.lock_store_url:
        config["lock_store"] = lock_store_config(settings.lock_store_url)
    if settings.event_broker_url:
        config["event_broker"] = event_broker_config(settings.event_broker_url, settings.event_broker_queue,
                                                     publisher=settings.event_broker_publisher,
                                                     buffer_mb=settings.event_broker_buffer_mb)
    elif settings.analytics_events_url:
        config["event_broker"] = sql_event_broker_config(settings.analytics_events_url)
    return config


def write_endpoints(settings: Settings, target: Path, *, action_server_url: str | None = None) -> Path:
    """Write the endpoints file for these settings; an SQLite tracker store's folder is created."""
    config = endpoints_config(settings, action_server_url=action_server_url)
    tracker_url = make_url(settings.tracker_store_url)
    if tracker_url.get_backend_name() == "sqlite" and tracker_url.database:
        Path(tracker_url.database).parent.mkdir(parents=True, exist_ok=True)
    if not settings.event_broker_url and settings.analytics_events_url:
        _prepare_sqlite_events_file(settings.analytics_events_url, settings.tracker_store_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# Written by bot.rasa_endpoints from the environment; edits are overwritten.\n"
                      + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return target
