"""Configuration read from the environment, in one place.

Every setting has a safe embedded default except secrets, which have none: SMTP
credentials come from the environment or e-mail goes to the outbox table.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'retention.db'}"


def _default_tracker_store_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'conversations.db'}"


def _env_int(name: str, default: int, env: Mapping[str, str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _env_bool(name: str, default: bool, env: Mapping[str, str]) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment."""

    database_url: str = field(default_factory=_default_database_url)
    company_name: str = "Nordstern Telekom"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_public_url: str = "http://localhost:5005"
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "kundenservice@nordstern-telekom.example"
    spacy_model_path: Path = PROJECT_ROOT / "models" / "spacy_de"
    # Where Rasa keeps conversations (SQLAlchemy URL), its lock store (redis:// URL, or in memory when
    # unset) and its event broker (amqp:// URL for RabbitMQ, or none when unset).
    tracker_store_url: str = field(default_factory=_default_tracker_store_url)
    lock_store_url: str | None = None
    event_broker_url: str | None = None
    event_broker_queue: str = "retention_events"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    # § 312k BGB: the privacy notice named in the first message (Art. 13 GDPR), where the web app is reached
    # by customers (links to the cancellation download), and the key that signs those download links
    # (generated at setup; without it no download link is offered).
    privacy_url: str = "/datenschutz"
    web_public_url: str | None = None
    download_link_secret: str | None = None
    download_link_days: int = 30
    # The zone the naive times written before migration 0004 are read in (see that migration).
    records_legacy_timezone: str = "Europe/Berlin"
    # GermEval 2017 dev set (licensed non-commercial): read at run time by `bot.cli evaluate`, never copied.
    germeval_dev_path: Path = PROJECT_ROOT.parent / "shared" / "eval" / "germeval2017_dev.tsv"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default: this process's environment)."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            company_name=env.get("COMPANY_NAME") or defaults.company_name,
            rasa_url=env.get("RASA_URL") or defaults.rasa_url,
            rasa_public_url=env.get("RASA_PUBLIC_URL") or defaults.rasa_public_url,
            web_host=env.get("WEB_HOST") or defaults.web_host,
            web_port=_env_int("WEB_PORT", defaults.web_port, env),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_env_int("SMTP_PORT", defaults.smtp_port, env),
            smtp_user=env.get("SMTP_USER") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=_env_bool("SMTP_STARTTLS", defaults.smtp_starttls, env),
            mail_from=env.get("MAIL_FROM") or defaults.mail_from,
            spacy_model_path=Path(env.get("SPACY_MODEL_PATH") or defaults.spacy_model_path),
            tracker_store_url=env.get("TRACKER_STORE_URL") or defaults.tracker_store_url,
            lock_store_url=env.get("LOCK_STORE_URL") or None,
            event_broker_url=env.get("EVENT_BROKER_URL") or None,
            event_broker_queue=env.get("EVENT_BROKER_QUEUE") or defaults.event_broker_queue,
            action_server_url=env.get("ACTION_SERVER_URL") or defaults.action_server_url,
            privacy_url=env.get("PRIVACY_URL") or defaults.privacy_url,
            web_public_url=(env.get("WEB_PUBLIC_URL") or "").rstrip("/") or None,
            download_link_secret=env.get("DOWNLOAD_LINK_SECRET") or None,
            download_link_days=_env_int("DOWNLOAD_LINK_DAYS", defaults.download_link_days, env),
            records_legacy_timezone=env.get("RECORDS_LEGACY_TIMEZONE") or defaults.records_legacy_timezone,
            germeval_dev_path=Path(env.get("GERMEVAL_DEV_PATH") or defaults.germeval_dev_path),
        )


def public_web_url(settings: Settings) -> str:
    """Where customers reach the web app: WEB_PUBLIC_URL, else the address it listens on."""
    return settings.web_public_url or f"http://{settings.web_host}:{settings.web_port}"


def get_settings() -> Settings:
    """Settings as the environment says now (cheap; read on demand, never at import)."""
    return Settings.from_env()
