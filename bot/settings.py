"""Configuration read from the environment, in one place.

Every setting has a safe embedded default except secrets, which have none: SMTP
credentials come from the environment or e-mail goes to the outbox table; the shared secrets between
the processes (bot.secrets) come from the environment or from the git-ignored file `var/secrets.env`
that the set-up generates.

Every server listens on 127.0.0.1 unless RASA_HOST, ACTION_SERVER_HOST or WEB_HOST say otherwise.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'retention.db'}"


def _default_tracker_store_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'conversations.db'}"


def _default_analytics_events_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'analytics_events.db'}"


def connectable_host(host: str) -> str:
    """The address to connect to for a server listening on `host` (a wildcard address means this machine)."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _env_int(name: str, default: int, env: Mapping[str, str]) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _env_float(name: str, default: float, env: Mapping[str, str]) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _env_positive_int(name: str, default: int, env: Mapping[str, str]) -> int:
    value = _env_int(name, default, env)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _env_list(name: str, env: Mapping[str, str]) -> tuple[str, ...] | None:
    """A comma- or space-separated list; None when unset or empty."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return tuple(item for item in raw.replace(",", " ").split() if item)


def _env_names(name: str, env: Mapping[str, str]) -> tuple[str, ...] | None:
    """A comma-separated list of names that may contain spaces ("Aldi Talk, O2"); None when unset or empty."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _env_origins(name: str, env: Mapping[str, str]) -> tuple[str, ...] | None:
    """Website origins such as https://www.example.de (scheme, host, optional port; never "*")."""
    origins = _env_list(name, env)
    if origins is None:
        return None
    cleaned = []
    for origin in origins:
        parts = urlsplit(origin)
        if origin == "*" or parts.scheme not in ("http", "https") or not parts.hostname \
                or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{name} must list website origins such as https://www.example.de or "
                             f"http://localhost:8000 (no path, no \"*\"), got {origin!r}")
        cleaned.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(cleaned)


def _env_bool(name: str, default: bool, env: Mapping[str, str]) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_service_hours(name: str, default: str, env: Mapping[str, str]) -> str:
    """Service hours as written, checked now so that a typo stops the start with a clear message."""
    from bot.handoff.availability import InvalidServiceHours, parse_service_hours  # imports this module

    raw = (env.get(name) or "").strip() or default
    try:
        parse_service_hours(raw)
    except InvalidServiceHours as error:
        raise ValueError(f"{name}: {error}") from None
    return raw


@dataclass(frozen=True)
class Settings:
    """Typed view of the environment."""

    database_url: str = field(default_factory=_default_database_url)
    company_name: str = "Nordstern Telekom"
    # Other providers a customer may say they switch to (cancellation reason "competitor"; bot/nlp/reasons.py).
    # The company's own name never counts, even where it contains one of them ("Nordstern Telekom").
    competitors: tuple[str, ...] = (
        "Telekom", "Vodafone", "O2", "1&1", "Congstar", "Aldi Talk", "Blau", "winSIM", "freenet", "Klarmobil",
        "otelo", "fraenk", "Lidl Connect", "PYUR", "NetCologne", "M-net", "EWE", "Drillisch", "simplytel",
    )
    # Competitor names that are also everyday words ("blau" is a colour): they count only in a provider
    # context ("zu blau wechseln", "bei Blau", "blau.de", a capitalised "Blau" next to tariff words).
    competitors_common_words: tuple[str, ...] = ("Blau",)
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_public_url: str = "http://localhost:5005"
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    # Interfaces the Rasa server and the action server listen on (127.0.0.1: this machine only).
    rasa_host: str = "127.0.0.1"
    action_server_host: str = "127.0.0.1"
    # Rasa's HTTP API (/conversations/..., /model/...): on, for the agent console (pause, agent messages,
    # resume, transcript; bot/handoff/rasa_api.py); every call needs a JWT signed with rasa_jwt_secret
    # (HS256, in the Authorization header). It listens where the channels do (rasa_host, 127.0.0.1).
    rasa_api_enabled: bool = True
    rasa_jwt_secret: str | None = None
    # Shared secret Rasa sends to the action server (Authorization: Bearer ...); without it the action
    # server refuses every call except /health.
    action_server_token: str | None = None
    # Website origins whose pages may talk to Rasa from the browser (CORS and the socket.io Origin
    # check); empty means the demo website's own origins (see `website_origins`).
    allowed_origins: tuple[str, ...] = ()
    # Reverse proxies (IP addresses or networks) whose X-Forwarded-For header names the client.
    trusted_proxies: tuple[str, ...] = ()
    # Where the set-up keeps generated secrets (git-ignored, mode 0600); the environment wins over it.
    secrets_file: Path = PROJECT_ROOT / "var" / "secrets.env"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "kundenservice@nordstern-telekom.example"
    # Failed e-mail deliveries are retried after base, 2 × base, 4 × base … seconds, at most max; the
    # delivery worker looks for due e-mails every poll interval.
    outbox_retry_base_seconds: float = 30.0
    outbox_retry_max_seconds: float = 3600.0
    outbox_poll_seconds: float = 5.0
    spacy_model_path: Path = PROJECT_ROOT / "models" / "spacy_de"
    # Where Rasa keeps conversations (SQLAlchemy URL), its lock store (redis:// URL, or in memory when
    # unset) and its event broker (amqp:// URL for RabbitMQ, or none when unset).
    tracker_store_url: str = field(default_factory=_default_tracker_store_url)
    lock_store_url: str | None = None
    event_broker_url: str | None = None
    event_broker_queue: str = "retention_events"
    # RabbitMQ publisher (bot/analytics/rabbitmq_broker.py): "batching" (the project's broker, batches from a
    # thread of its own with publisher confirms) or "rasa" (Rasa 3.6's Pika broker, kept for comparison); the
    # batching broker keeps at most this many MB of unconfirmed events in memory while RabbitMQ is away.
    event_broker_publisher: str = "batching"
    event_broker_buffer_mb: int = 64
    # Analytics pipeline (bot/analytics): without EVENT_BROKER_URL, Rasa's SQL event broker writes every
    # event to this database of its own (never the tracker store's; "off" disables it); an accepted offer
    # counts as a save once the contract is still active this many days later; an open conversation
    # quiet for this long is closed (abandoned or resolved).
    analytics_events_url: str | None = field(default_factory=_default_analytics_events_url)
    analytics_save_hold_days: int = 30
    analytics_idle_minutes: int = 30
    analytics_poll_seconds: float = 1.0
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
    # Verification limits across conversations (bot/assistant/verification_limits.py): after
    # `verification_max_failures` failed attempts for one customer number within `verification_window_hours`,
    # verifying that number through the assistant is locked for `verification_lock_hours`; one client
    # (peer address, else the conversation) gets `verification_client_max_failures` failures across all
    # numbers per `verification_client_window_minutes`, then no attempts for `verification_client_lock_minutes`.
    verification_max_failures: int = 5
    verification_window_hours: int = 24
    verification_lock_hours: int = 24
    verification_client_max_failures: int = 10
    verification_client_window_minutes: int = 60
    verification_client_lock_minutes: int = 60
    # When people take over conversations (bot/handoff/availability.py), Berlin wall time, e.g.
    # "Mo-Fr 08:00-20:00, Sa 09:00-16:00"; outside them the customer is offered a callback at once.
    service_hours: str = "Mo-Sa 08:00-20:00"
    # An agent counts as online while the console was seen within this many seconds.
    handoff_presence_seconds: int = 90
    # The wait a customer is told is the median wait of the handoffs taken within this many days.
    handoff_wait_history_days: int = 7
    # Console logins (bot/handoff/users.py): at most this many failures per user name, and per client
    # address, within the window; then no attempts until the oldest failure leaves the window.
    login_max_failures_per_user: int = 5
    login_max_failures_per_client: int = 20
    login_window_minutes: int = 15
    # Agent console (bot/console): a login ends after `console_idle_minutes` without a request or after
    # `console_session_hours` in all; its cookie is sent over HTTPS only when console_secure_cookies (default:
    # when WEB_PUBLIC_URL is https).
    console_idle_minutes: int = 30
    console_session_hours: int = 10
    console_secure_cookies: bool | None = None
    # Data protection (bot/privacy/retention.py): conversation transcripts (tracker store) older than
    # `transcript_retention_days` and analytics facts older than `analytics_retention_days` are deleted by
    # `python -m bot.cli purge-expired`, which `bot.cli run` repeats every `purge_interval_hours`.
    transcript_retention_days: int = 180
    analytics_retention_days: int = 730
    purge_interval_hours: int = 24
    # --- WhatsApp Business Cloud API channel (bot/channels/whatsapp; README "WhatsApp") ---------------------
    # Off until the access token, app secret, verify token and phone number id are all set (the webhook then
    # answers 503). The app secret checks every webhook's X-Hub-Signature-256; the verify token answers Meta's
    # GET verification. Outside the 24-hour window replies go out as the template `whatsapp_template_name`
    # (one body variable {{1}} for the text). Failed sends are retried up to `whatsapp_max_attempts` times,
    # waiting base, 2 x base, ... up to max seconds.
    whatsapp_access_token: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_base: str = "https://graph.facebook.com/v19.0"
    whatsapp_template_name: str | None = None
    whatsapp_template_language: str = "de"
    whatsapp_max_attempts: int = 5
    whatsapp_retry_base_seconds: float = 1.0
    whatsapp_retry_max_seconds: float = 30.0
    # --- Telegram channel (bot/channels/telegram) ---
    # The bot's token from BotFather (without it the channel is off: its webhook answers 503); the secret
    # Telegram sends back in X-Telegram-Bot-Api-Secret-Token (registered by `python -m bot.cli
    # telegram-set-webhook`, generated into var/secrets.env by the set-up); the Bot API's base URL (a
    # self-hosted Bot API server, or the tests' stand-in); the public HTTPS URL of the webhook for the
    # set-webhook command. A send is tried at most `telegram_max_attempts` times (429 with retry_after,
    # 5xx, timeouts); a 429 asking to wait longer than `telegram_max_retry_after_seconds` fails at once.
    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_url: str | None = None
    telegram_max_attempts: int = 4
    telegram_max_retry_after_seconds: float = 30.0
    # --- Several Rasa servers (bot/scaling, `python -m bot.cli run-cluster`; README "Running on several Rasa
    # servers") ---
    # socket.io client manager shared by all Rasa servers (redis://host:6379/10): an agent message emitted by
    # one server reaches a widget connected to another; unset = each server knows only its own widgets.
    socketio_manager_url: str | None = None
    # `run-cluster`: how many Rasa servers (each with its own action server) behind the load balancer (haproxy,
    # on `--rasa-port`, default 5005); the Rasa servers take the ports after it, the action servers the ports
    # from `--action-port` (default 5055) on.
    cluster_rasa_servers: int = 2
    haproxy_binary: str = "haproxy"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from `env` (default: this process's environment)."""
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            company_name=env.get("COMPANY_NAME") or defaults.company_name,
            competitors=_env_names("COMPETITORS", env) or defaults.competitors,
            competitors_common_words=_env_names("COMPETITORS_COMMON_WORDS", env)
            or defaults.competitors_common_words,
            rasa_url=env.get("RASA_URL") or defaults.rasa_url,
            rasa_public_url=env.get("RASA_PUBLIC_URL") or defaults.rasa_public_url,
            web_host=env.get("WEB_HOST") or defaults.web_host,
            web_port=_env_int("WEB_PORT", defaults.web_port, env),
            rasa_host=env.get("RASA_HOST") or defaults.rasa_host,
            action_server_host=env.get("ACTION_SERVER_HOST") or defaults.action_server_host,
            rasa_api_enabled=_env_bool("RASA_API_ENABLED", defaults.rasa_api_enabled, env),
            rasa_jwt_secret=env.get("RASA_JWT_SECRET") or None,
            action_server_token=env.get("ACTION_SERVER_TOKEN") or None,
            allowed_origins=_env_origins("ALLOWED_ORIGINS", env) or defaults.allowed_origins,
            trusted_proxies=_env_list("TRUSTED_PROXIES", env) or defaults.trusted_proxies,
            secrets_file=Path(env.get("SECRETS_FILE") or defaults.secrets_file),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_env_int("SMTP_PORT", defaults.smtp_port, env),
            smtp_user=env.get("SMTP_USER") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=_env_bool("SMTP_STARTTLS", defaults.smtp_starttls, env),
            mail_from=env.get("MAIL_FROM") or defaults.mail_from,
            outbox_retry_base_seconds=_env_float("OUTBOX_RETRY_BASE_SECONDS", defaults.outbox_retry_base_seconds, env),
            outbox_retry_max_seconds=_env_float("OUTBOX_RETRY_MAX_SECONDS", defaults.outbox_retry_max_seconds, env),
            outbox_poll_seconds=_env_float("OUTBOX_POLL_SECONDS", defaults.outbox_poll_seconds, env),
            spacy_model_path=Path(env.get("SPACY_MODEL_PATH") or defaults.spacy_model_path),
            tracker_store_url=env.get("TRACKER_STORE_URL") or defaults.tracker_store_url,
            lock_store_url=env.get("LOCK_STORE_URL") or None,
            event_broker_url=env.get("EVENT_BROKER_URL") or None,
            event_broker_queue=env.get("EVENT_BROKER_QUEUE") or defaults.event_broker_queue,
            event_broker_publisher=(env.get("EVENT_BROKER_PUBLISHER") or defaults.event_broker_publisher).lower(),
            event_broker_buffer_mb=_env_positive_int("EVENT_BROKER_BUFFER_MB", defaults.event_broker_buffer_mb, env),
            analytics_events_url=(None if (env.get("ANALYTICS_EVENTS_URL") or "").lower() == "off"
                                  else env.get("ANALYTICS_EVENTS_URL") or defaults.analytics_events_url),
            analytics_save_hold_days=_env_positive_int("ANALYTICS_SAVE_HOLD_DAYS", defaults.analytics_save_hold_days,
                                                       env),
            analytics_idle_minutes=_env_positive_int("ANALYTICS_IDLE_MINUTES", defaults.analytics_idle_minutes, env),
            analytics_poll_seconds=_env_float("ANALYTICS_POLL_SECONDS", defaults.analytics_poll_seconds, env),
            action_server_url=env.get("ACTION_SERVER_URL") or defaults.action_server_url,
            privacy_url=env.get("PRIVACY_URL") or defaults.privacy_url,
            web_public_url=(env.get("WEB_PUBLIC_URL") or "").rstrip("/") or None,
            download_link_secret=env.get("DOWNLOAD_LINK_SECRET") or None,
            download_link_days=_env_int("DOWNLOAD_LINK_DAYS", defaults.download_link_days, env),
            records_legacy_timezone=env.get("RECORDS_LEGACY_TIMEZONE") or defaults.records_legacy_timezone,
            germeval_dev_path=Path(env.get("GERMEVAL_DEV_PATH") or defaults.germeval_dev_path),
            verification_max_failures=_env_positive_int(
                "VERIFICATION_MAX_FAILURES", defaults.verification_max_failures, env),
            verification_window_hours=_env_positive_int(
                "VERIFICATION_WINDOW_HOURS", defaults.verification_window_hours, env),
            verification_lock_hours=_env_positive_int(
                "VERIFICATION_LOCK_HOURS", defaults.verification_lock_hours, env),
            verification_client_max_failures=_env_positive_int(
                "VERIFICATION_CLIENT_MAX_FAILURES", defaults.verification_client_max_failures, env),
            verification_client_window_minutes=_env_positive_int(
                "VERIFICATION_CLIENT_WINDOW_MINUTES", defaults.verification_client_window_minutes, env),
            verification_client_lock_minutes=_env_positive_int(
                "VERIFICATION_CLIENT_LOCK_MINUTES", defaults.verification_client_lock_minutes, env),
            service_hours=_env_service_hours("SERVICE_HOURS", defaults.service_hours, env),
            handoff_presence_seconds=_env_positive_int(
                "HANDOFF_PRESENCE_SECONDS", defaults.handoff_presence_seconds, env),
            handoff_wait_history_days=_env_positive_int(
                "HANDOFF_WAIT_HISTORY_DAYS", defaults.handoff_wait_history_days, env),
            login_max_failures_per_user=_env_positive_int(
                "LOGIN_MAX_FAILURES_PER_USER", defaults.login_max_failures_per_user, env),
            login_max_failures_per_client=_env_positive_int(
                "LOGIN_MAX_FAILURES_PER_CLIENT", defaults.login_max_failures_per_client, env),
            login_window_minutes=_env_positive_int("LOGIN_WINDOW_MINUTES", defaults.login_window_minutes, env),
            console_idle_minutes=_env_positive_int("CONSOLE_IDLE_MINUTES", defaults.console_idle_minutes, env),
            console_session_hours=_env_positive_int("CONSOLE_SESSION_HOURS", defaults.console_session_hours, env),
            console_secure_cookies=(_env_bool("CONSOLE_SECURE_COOKIES", False, env)
                                    if env.get("CONSOLE_SECURE_COOKIES") else None),
            transcript_retention_days=_env_positive_int(
                "TRANSCRIPT_RETENTION_DAYS", defaults.transcript_retention_days, env),
            analytics_retention_days=_env_positive_int(
                "ANALYTICS_RETENTION_DAYS", defaults.analytics_retention_days, env),
            purge_interval_hours=_env_positive_int("PURGE_INTERVAL_HOURS", defaults.purge_interval_hours, env),
            # WhatsApp channel
            whatsapp_access_token=env.get("WHATSAPP_ACCESS_TOKEN") or None,
            whatsapp_app_secret=env.get("WHATSAPP_APP_SECRET") or None,
            whatsapp_verify_token=env.get("WHATSAPP_VERIFY_TOKEN") or None,
            whatsapp_phone_number_id=env.get("WHATSAPP_PHONE_NUMBER_ID") or None,
            whatsapp_api_base=(env.get("WHATSAPP_API_BASE") or defaults.whatsapp_api_base).rstrip("/"),
            whatsapp_template_name=env.get("WHATSAPP_TEMPLATE_NAME") or None,
            whatsapp_template_language=env.get("WHATSAPP_TEMPLATE_LANGUAGE") or defaults.whatsapp_template_language,
            whatsapp_max_attempts=_env_positive_int("WHATSAPP_MAX_ATTEMPTS", defaults.whatsapp_max_attempts, env),
            whatsapp_retry_base_seconds=_env_float("WHATSAPP_RETRY_BASE_SECONDS",
                                                   defaults.whatsapp_retry_base_seconds, env),
            whatsapp_retry_max_seconds=_env_float("WHATSAPP_RETRY_MAX_SECONDS",
                                                  defaults.whatsapp_retry_max_seconds, env),
            # --- Telegram channel ---
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            telegram_api_base=(env.get("TELEGRAM_API_BASE") or defaults.telegram_api_base).rstrip("/"),
            telegram_webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            telegram_max_attempts=_env_positive_int("TELEGRAM_MAX_ATTEMPTS", defaults.telegram_max_attempts, env),
            telegram_max_retry_after_seconds=_env_float(
                "TELEGRAM_MAX_RETRY_AFTER_SECONDS", defaults.telegram_max_retry_after_seconds, env),
            socketio_manager_url=env.get("SOCKETIO_MANAGER_URL") or None,
            cluster_rasa_servers=_env_positive_int("CLUSTER_RASA_SERVERS", defaults.cluster_rasa_servers, env),
            haproxy_binary=env.get("HAPROXY_BINARY") or defaults.haproxy_binary,
        )

    @property
    def whatsapp_configured(self) -> bool:
        """Whether the WhatsApp channel has everything it needs (else its webhook answers 503)."""
        return all((self.whatsapp_access_token, self.whatsapp_app_secret, self.whatsapp_verify_token,
                    self.whatsapp_phone_number_id))

    @property
    def website_origins(self) -> tuple[str, ...]:
        """Origins allowed to use Rasa from a browser: ALLOWED_ORIGINS, else the demo website's own."""
        if self.allowed_origins:
            return self.allowed_origins
        return (f"http://127.0.0.1:{self.web_port}", f"http://localhost:{self.web_port}")


def console_cookies_secure(settings: Settings) -> bool:
    """Whether the console's session cookie is sent over HTTPS only: CONSOLE_SECURE_COOKIES, else when the web
    app is reached over https (WEB_PUBLIC_URL)."""
    if settings.console_secure_cookies is not None:
        return settings.console_secure_cookies
    return (settings.web_public_url or "").startswith("https://")


def public_web_url(settings: Settings) -> str:
    """Where customers reach the web app: WEB_PUBLIC_URL, else the address it listens on."""
    return settings.web_public_url or f"http://{settings.web_host}:{settings.web_port}"


def get_settings() -> Settings:
    """Settings as the environment says now (cheap; read on demand, never at import)."""
    return Settings.from_env()
