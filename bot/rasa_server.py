"""Start Rasa with a few additions, so that every message gets an answer, fast.

- When the action server cannot be reached: Rasa 3.6 logs a failed custom action and sends nothing,
  so the customer would wait forever. Here a failed call becomes a polite German message. Form
  rejections pass through unchanged.
- An empty or whitespace-only message: the intent classifier raises on it (HTTP 500 on /model/parse,
  no answer on the webhook). Here it is treated as not understood.

Rasa 3.6 also checks every action server response with `jsonschema.validate`, which first validates
the (constant) response schema against the JSON Schema meta-schema: with jsonschema 4.17 that costs
about 40 ms of CPU per custom action call, most of a turn's time. Here the schema is checked once and
the compiled validator is reused; responses are still validated exactly as before.

The embedded SQLite tracker store gets a write-ahead log (see `install_sqlite_write_ahead_log`), and
stored events find their class through a cache (`install_event_type_cache`).

Rasa's HTTP API (`--enable-api`: /conversations/..., /model/...) reads and changes any conversation, so
it never runs open: with `--enable-api` this requires RASA_JWT_SECRET in the environment and passes it
to Rasa as `--jwt-secret` (HS256; the token travels in the Authorization header, not in the URL), and
refuses to start without it, with a token in the URL (`--auth-token`) or with `--cors "*"`.

Usage: python -m bot.rasa_server run ...   (the same arguments as `rasa`)
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

logger = logging.getLogger(__name__)

# Bookkeeping Rasa runs on every user message besides the answer (the dissatisfaction score): a
# failure there stays silent, since the answer to the message itself tells the customer, once.
BACKGROUND_ACTIONS = ("action_validate_slot_mappings",)

ACTION_SERVER_DOWN = (
    "Entschuldigung, ich habe gerade eine technische Störung und kann Ihr Anliegen im Moment nicht bearbeiten. "
    "Bitte versuchen Sie es in ein paar Minuten noch einmal oder rufen Sie unseren Kundenservice an."
)


def install_action_server_fallback() -> None:
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.shared.core.events import BotUttered
    from rasa.shared.exceptions import RasaException

    if getattr(RemoteAction.run, "_polite_fallback", False):
        return
    original = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> list:
        try:
            return await original(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except RasaException as error:
            if self.name() in BACKGROUND_ACTIONS:
                logger.error("Custom action %s failed: %s", self.name(), error)
                return []
            logger.error("Custom action %s failed, answering politely instead: %s", self.name(), error)
            return [BotUttered(text=ACTION_SERVER_DOWN, metadata={"action_server_unavailable": True})]

    run._polite_fallback = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]


def install_cached_action_result_validator() -> None:
    """Validate action server responses with a validator compiled once, instead of once per call."""
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import DOCS_BASE_URL, RemoteAction

    if getattr(RemoteAction._validate_action_result, "_cached_validator", False):
        return
    validators: dict[type, Any] = {}

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        validator = validators.get(type(self))
        if validator is None:
            schema = self.action_response_format_spec()
            validator_class = validator_for(schema)
            validator_class.check_schema(schema)
            validator = validators[type(self)] = validator_class(schema)
        try:
            validator.validate(result)
            return True
        except ValidationError as error:
            error.message += (
                ". Failed to validate Action server response from API, make sure your response from the Action "
                f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise

    validate_action_result._cached_validator = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


_sqlite_pragmas_installed = False


def install_sqlite_write_ahead_log() -> None:
    """Rasa's SQLite tracker store: write-ahead log, and no fsync on every commit (about 7 ms a turn here).

    With `synchronous=NORMAL` in WAL mode a power cut can lose the last turns, never corrupt the file;
    production keeps conversations in PostgreSQL (TRACKER_STORE_URL).
    """
    global _sqlite_pragmas_installed
    if _sqlite_pragmas_installed:
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    _sqlite_pragmas_installed = True


def install_featureless_message_guard() -> None:
    """An empty or whitespace-only message becomes `nlu_fallback` instead of an HTTP 500.

    Such a message has no tokens, hence no features, and LogisticRegressionClassifier raises on a
    feature matrix without columns. Here it gets no intent (confidence 0), which the FallbackClassifier
    after it turns into `nlu_fallback`, so the customer is asked to rephrase.
    """
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    if getattr(LogisticRegressionClassifier.process, "_featureless_guard", False):
        return
    original = LogisticRegressionClassifier.process

    def has_features(message: Message) -> bool:
        # What the classifier reads: the text's sentence features (sparse or dense). Looked up, not combined:
        # `get_sparse_features` stacks the matrices (scipy), several ms a message for a yes/no answer.
        return any(f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE for f in message.features)

    def process(self: LogisticRegressionClassifier, messages: list[Message]) -> list[Message]:
        featureless = [m for m in messages if not has_features(m)]
        for message in featureless:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        if len(featureless) < len(messages):
            original(self, [m for m in messages if has_features(m)])
        return messages

    process._featureless_guard = True  # type: ignore[attr-defined]
    LogisticRegressionClassifier.process = process  # type: ignore[method-assign]


def install_sentence_feature_matrix() -> None:
    """LogisticRegressionClassifier's feature row from the sentence features alone.

    Rasa 3.6 builds the row with `Message.get_sparse_features`, which also stacks every featurizer's
    per-token (sequence) matrices, only to throw them away: most of the classifier's time per message.
    Here the same sentence-feature blocks are stacked in the same order (regex, words, characters, then
    dense), so the row, and with it every prediction, is the same (tests/test_rasa_server.py).
    """
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from scipy.sparse import csr_matrix, hstack, vstack

    if getattr(LogisticRegressionClassifier._create_X, "_sentence_only", False):
        return
    original = LogisticRegressionClassifier._create_X

    def sentence_row(message: Message) -> csr_matrix:
        sentence = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        sparse = [f.features for f in sentence if f.is_sparse()]
        dense = [f.features for f in sentence if f.is_dense()]
        blocks = [*sparse, *([csr_matrix(np.concatenate(dense, axis=-1))] if dense else [])]
        if not blocks:
            return csr_matrix([])
        return csr_matrix(hstack(blocks)) if len(blocks) > 1 else csr_matrix(blocks[0])

    def create_x(self: LogisticRegressionClassifier, messages: list[Message]) -> csr_matrix:
        return vstack([sentence_row(message) for message in messages])

    create_x._sentence_only = True  # type: ignore[attr-defined]
    create_x.__wrapped_original__ = original  # type: ignore[attr-defined]
    LogisticRegressionClassifier._create_X = create_x  # type: ignore[method-assign]


class _BorrowedSession:
    """`async with` on a shared aiohttp session that stays open afterwards."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *_exc: object) -> None:
        return None


# Below Sanic's keep-alive timeout (5 s), so the client drops an idle connection before the action server does.
ACTION_SERVER_KEEPALIVE_S = 2.0


def install_persistent_endpoint_sessions() -> None:
    """One HTTP session (with its kept-alive connections) per endpoint, instead of one per call.

    Rasa 3.6 opens a new aiohttp session, and so a new TCP connection, for every call of a custom
    action (`EndpointConfig.request`): several a turn. Here each endpoint (URL, headers, auth) gets one
    session per event loop, with the same headers, authentication and timeout as Rasa's; connections idle
    longer than ACTION_SERVER_KEEPALIVE_S are closed by this side first.
    """
    import asyncio

    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.utils.endpoints import EndpointConfig

    if getattr(EndpointConfig.session, "_persistent", False):
        return
    original = EndpointConfig.session
    sessions: dict[tuple, aiohttp.ClientSession] = {}

    def session(self: EndpointConfig) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return original(self)
        key = (id(loop), self.url, tuple(sorted((self.headers or {}).items())),
               tuple(sorted((self.basic_auth or {}).items())))
        shared = sessions.get(key)
        if shared is None or shared.closed or shared.loop is not loop:
            auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                    if self.basic_auth else None)
            shared = sessions[key] = aiohttp.ClientSession(
                headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_SERVER_KEEPALIVE_S))
        return _BorrowedSession(shared)

    session._persistent = True  # type: ignore[attr-defined]
    EndpointConfig.session = session  # type: ignore[method-assign]


def install_event_type_cache() -> None:
    """Look event classes up by type name in a dict instead of walking all of Event's subclasses each time.

    Rasa 3.6 resolves every stored event's class (`Event.resolve_by_type`) by listing all subclasses of
    Event recursively and checking each with `inspect.isabstract`: dozens of times for each conversation
    it loads from the tracker store, about a tenth of a turn's CPU. Found classes are remembered; an
    unknown name still goes through Rasa's own lookup (and its error).
    """
    from rasa.shared.core.events import Event

    if getattr(Event.resolve_by_type, "_cached", False):
        return
    original = Event.resolve_by_type
    found: dict[str, type] = {}

    def resolve_by_type(type_name: str, default: type | None = None) -> type | None:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    resolve_by_type._cached = True  # type: ignore[attr-defined]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]


def install() -> None:
    """Everything this module adds to Rasa (idempotent)."""
    install_action_server_fallback()
    install_featureless_message_guard()
    install_cached_action_result_validator()
    install_sqlite_write_ahead_log()
    install_event_type_cache()
    install_sentence_feature_matrix()
    install_persistent_endpoint_sessions()


class UnsafeServerArguments(ValueError):
    """The Rasa server would start with its HTTP API or CORS open."""


def secured_arguments(args: list[str], environ: dict[str, str] | os._Environ) -> list[str]:
    """`args` for `rasa`, with the JWT secret from the environment when the HTTP API is on.

    Raises UnsafeServerArguments for an API without RASA_JWT_SECRET, for `--auth-token` and for CORS "*".
    """
    if "--auth-token" in args or "-t" in args or any(a.startswith("--auth-token=") for a in args):
        raise UnsafeServerArguments("--auth-token puts the token into every URL (and so into access logs); "
                                    "set RASA_JWT_SECRET and send JWTs in the Authorization header instead.")
    if "--cors" in args:
        start = args.index("--cors") + 1
        origins = []
        for value in args[start:]:
            if value.startswith("-"):
                break
            origins.append(value)
        if "*" in origins:
            raise UnsafeServerArguments('--cors "*" lets every website use this server from its visitors\' '
                                        'browsers; list the website origins (ALLOWED_ORIGINS) instead.')
    if "--enable-api" not in args or any(a == "--jwt-secret" or a.startswith("--jwt-secret=") for a in args):
        return list(args)
    secret = environ.get("RASA_JWT_SECRET")
    if not secret:
        raise UnsafeServerArguments(
            "Rasa's HTTP API (--enable-api, RASA_API_ENABLED) reads and changes every conversation, so it "
            "only runs with authentication: set RASA_JWT_SECRET (`python -m bot.cli setup` generates one into "
            "var/secrets.env), or switch the API off (RASA_API_ENABLED=false).")
    # Given to Rasa in this process only, so the secret does not show in the process list.
    # "=" keeps a secret that starts with "-" (token_urlsafe) from being read as an option.
    return [*args, f"--jwt-secret={secret}", "--jwt-method", "HS256"]


def main() -> None:
    # Rasa's telemetry would send crash reports to the internet; nothing here may.
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    try:
        args = secured_arguments(sys.argv[1:], os.environ)
    except UnsafeServerArguments as error:
        print(f"Refusing to start the Rasa server: {error}", file=sys.stderr)
        sys.exit(2)
    from bot.quiet_warnings import SANIC, install_after_rasa_filters, quiet_third_party_warnings

    quiet_third_party_warnings(preload=SANIC)
    install()
    install_after_rasa_filters()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
