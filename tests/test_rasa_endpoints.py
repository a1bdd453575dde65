"""Rasa's endpoints rendered from the environment: embedded defaults, production URLs, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.core.utils import AvailableEndpoints
from rasa.shared.exceptions import RasaException

from bot.rasa_endpoints import (
    LOCK_STORE_CLASS,
    TRACKER_STORE_CLASS,
    EndpointConfigurationError,
    endpoints_config,
    write_endpoints,
)
from bot.settings import PROJECT_ROOT, Settings


def test_embedded_defaults_keep_conversations_and_analytics_events_in_separate_sqlite_files() -> None:
    config = endpoints_config(Settings.from_env({}))
    assert config["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook",
                                         "headers": {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}}
    assert config["tracker_store"] == {"type": TRACKER_STORE_CLASS, "dialect": "sqlite",
                                       "url": f"sqlite:///{PROJECT_ROOT / 'var' / 'conversations.db'}"}
    assert "lock_store" not in config
    # Rasa's SQL event broker, into a database of its own (its table is called `events` too).
    assert config["event_broker"] == {"type": "bot.analytics.sql_broker.WalSQLEventBroker", "dialect": "sqlite",
                                      "url": f"sqlite:///{PROJECT_ROOT / 'var' / 'analytics_events.db'}"}


def test_the_sql_event_broker_can_be_switched_off_and_never_shares_the_tracker_stores_file(tmp_path: Path) -> None:
    assert "event_broker" not in endpoints_config(Settings.from_env({"ANALYTICS_EVENTS_URL": "off"}))
    same = f"sqlite:///{tmp_path / 'conversations.db'}"
    with pytest.raises(EndpointConfigurationError, match="another database"):
        write_endpoints(Settings.from_env({"TRACKER_STORE_URL": same, "ANALYTICS_EVENTS_URL": same}),
                        tmp_path / "endpoints.yml")


def test_production_urls_become_postgresql_redis_and_rabbitmq() -> None:
    settings = Settings.from_env({
        "TRACKER_STORE_URL": "postgresql://rasa:s%40cret@db.internal:5433/conversations",
        "LOCK_STORE_URL": "redis://:p%3Ass@cache.internal:6380/2",
        "EVENT_BROKER_URL": "amqp://events:pw@mq.internal:5673/",
        "EVENT_BROKER_QUEUE": "crm_events",
        "ACTION_SERVER_URL": "http://actions.internal:5055/webhook",
    })
    config = endpoints_config(settings)
    assert config["action_endpoint"]["url"] == "http://actions.internal:5055/webhook"
    assert config["tracker_store"]["dialect"] == "postgresql"
    assert config["tracker_store"]["url"] == "postgresql://rasa:s%40cret@db.internal:5433/conversations"
    assert config["lock_store"] == {"type": LOCK_STORE_CLASS, "url": "cache.internal", "port": 6380, "db": 2,
                                    "key_prefix": "retention", "use_ssl": False, "password": "p:ss"}
    assert config["event_broker"] == {"type": "bot.analytics.rabbitmq_broker.BatchingRabbitMQEventBroker",
                                      "url": "amqp://events:pw@mq.internal:5673/", "queues": ["crm_events"],
                                      "buffer_bytes": 64 * 1024 * 1024}
    rasa_pika = endpoints_config(Settings.from_env({"EVENT_BROKER_URL": "amqp://events:pw@mq.internal:5673/",
                                                     "EVENT_BROKER_PUBLISHER": "rasa"}))
    assert rasa_pika["event_broker"] == {"type": "pika", "url": "amqp://events:pw@mq.internal:5673/",
                                         "username": "events", "password": "pw", "port": 5673,
                                         "queues": ["retention_events"]}
    # What Rasa's Pika broker connects to with these settings: the URL as given (without the port on its own it
    # would append 5672 to it, "amqp://events:pw@mq.internal:5673:5672/", and fail to start).
    from rasa.core.brokers.pika import PikaEventBroker

    broker_config = {k: v for k, v in rasa_pika["event_broker"].items() if k not in ("type", "url")}
    pika = PikaEventBroker(host=rasa_pika["event_broker"]["url"], **broker_config)
    assert pika._configure_url() == "amqp://events:pw@mq.internal:5673/"


def test_the_action_port_given_to_run_wins_over_the_default() -> None:
    config = endpoints_config(Settings.from_env({}), action_server_url="http://127.0.0.1:6123/webhook")
    assert config["action_endpoint"]["url"] == "http://127.0.0.1:6123/webhook"


@pytest.mark.parametrize(("name", "value", "hint"), [
    ("TRACKER_STORE_URL", "not a url", "SQLAlchemy database URL"),
    ("LOCK_STORE_URL", "127.0.0.1:6379", "redis://host:6379/1"),
    ("LOCK_STORE_URL", "redis://127.0.0.1:6379/first", "must be a number"),
    ("EVENT_BROKER_URL", "http://127.0.0.1:5672", "amqp://user:password@host:5672/"),
])
def test_unusable_urls_are_rejected_with_what_to_write_instead(name: str, value: str, hint: str) -> None:
    with pytest.raises(EndpointConfigurationError, match=name) as error:
        endpoints_config(Settings.from_env({name: value}))
    assert hint in str(error.value)


def test_written_file_is_read_by_rasa_and_creates_the_sqlite_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "token")  # Rasa substitutes it when reading the file
    database = tmp_path / "new-folder" / "conversations.db"
    settings = Settings.from_env({"TRACKER_STORE_URL": f"sqlite:///{database}",
                                  "LOCK_STORE_URL": "redis://127.0.0.1:6379/1"})
    target = write_endpoints(settings, tmp_path / "endpoints.yml")
    assert database.parent.is_dir()
    assert yaml.safe_load(target.read_text())["tracker_store"]["url"] == f"sqlite:///{database}"
    endpoints = AvailableEndpoints.read_endpoints(str(target))
    assert endpoints.tracker_store.type == TRACKER_STORE_CLASS
    assert endpoints.tracker_store.url == f"sqlite:///{database}"
    assert endpoints.lock_store.type == LOCK_STORE_CLASS
    assert endpoints.lock_store.kwargs["db"] == 1


def test_rasa_reads_the_action_server_token_from_its_environment(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_endpoints(Settings.from_env({}), tmp_path / "endpoints.yml")
    assert "secret-value" not in target.read_text()
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "secret-value")
    endpoints = AvailableEndpoints.read_endpoints(str(target))
    assert endpoints.action.headers == {"Authorization": "Bearer secret-value"}
    monkeypatch.delenv("ACTION_SERVER_TOKEN")
    with pytest.raises(RasaException, match="ACTION_SERVER_TOKEN"):  # Rasa does not start without it
        AvailableEndpoints.read_endpoints(str(target))
