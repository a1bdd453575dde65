"""Start the real servers (action server, Rasa server, web app) on free local ports for tests.

They start with exactly the command lines of `python -m bot.cli run` (`bot.cli.service_commands`), so
with the production defaults: everything on 127.0.0.1, Rasa's HTTP API off, the action server taking
calls only with the shared secret (a fresh random one per run unless the environment sets
ACTION_SERVER_TOKEN). With `rasa_api=True` the HTTP API is on and needs a JWT: `assistant.api_headers()`
gives a valid Authorization header (`api_token` builds the token with PyJWT).
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jwt
from sqlalchemy import create_engine, text

from bot.benchmark import wait_until_up
from bot.cli import MODEL_PATH, service_commands
from bot.rasa_endpoints import write_endpoints
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.migrations import upgrade_to_head
from bot.settings import PROJECT_ROOT, Settings

STARTUP_TIMEOUT_S = 240


def seeded_records(workdir: Path, *, customers: int = 30, seed: int = 7) -> str:
    """A fresh, migrated SQLite records database in `workdir` with demo customers (the personas first)."""
    url = f"sqlite:///{workdir / 'records.db'}"
    upgrade_to_head(url)
    with transaction(url) as session:
        seed_demo_customers(session, count=customers, seed=seed, today=date.today())
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_token(secret: str, *, username: str = "admin", role: str = "admin", lifetime_s: int = 600) -> str:
    """A JWT for Rasa's HTTP API (`--jwt-secret`, HS256): role "admin" may use every endpoint, role "user"
    only the conversation whose id is `username`."""
    payload = {"user": {"username": username, "role": role}, "exp": int(time.time()) + lifetime_s}
    return jwt.encode(payload, secret, algorithm="HS256")


@dataclass(frozen=True)
class RunningAssistant:
    rasa_url: str
    web_url: str | None
    database_url: str
    action_server_url: str = ""  # e.g. http://127.0.0.1:5055 (/health, /webhook)
    action_server_token: str = ""  # the shared secret Rasa sends to the action server
    jwt_secret: str | None = None  # set when Rasa's HTTP API is on (rasa_api=True)
    tracker_store_url: str = ""
    pids: dict[str, int] | None = None  # label (as in bot.cli.service_commands) -> process id

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def api_headers(self, *, username: str = "admin", role: str = "admin") -> dict[str, str]:
        """An Authorization header with a valid JWT for Rasa's HTTP API (started with rasa_api=True)."""
        if self.jwt_secret is None:
            raise RuntimeError("Rasa's HTTP API is off: start the assistant with running_assistant(..., rasa_api=True)")
        return {"Authorization": f"Bearer {api_token(self.jwt_secret, username=username, role=role)}"}

    def stored_user_messages(self, sender_id: str) -> list[dict]:
        """The user messages of a conversation as Rasa stored them (tracker store), oldest first."""
        engine = create_engine(self.tracker_store_url, future=True)
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT data FROM events WHERE sender_id = :sender AND type_name = 'user' ORDER BY id"),
                    {"sender": sender_id}).all()
        finally:
            engine.dispose()
        return [json.loads(row[0]) for row in rows]


@contextmanager
def running_assistant(database_url: str, workdir: Path, *, action_server: bool = True,
                      web_app: bool = True, extra_env: dict[str, str] | None = None,
                      rasa_api: bool = False, mail_worker: bool = False,
                      analytics_consumer: bool = False) -> Iterator[RunningAssistant]:
    """The assistant on free ports; with action_server=False, Rasa points at a port where nothing listens.

    Conversations go to an SQLite tracker store in `workdir` unless `extra_env` names another
    (TRACKER_STORE_URL), and `extra_env` may add a lock store and an event broker (see bot.rasa_endpoints).
    Rasa's HTTP API is off unless `rasa_api` (then it requires a JWT: `RunningAssistant.api_headers`).
    The e-mail delivery worker runs only with `mail_worker` (it serves nothing, so nothing is awaited), the
    analytics consumer only with `analytics_consumer`; Rasa's SQL event broker writes to `workdir` unless
    `extra_env` says otherwise (ANALYTICS_EVENTS_URL, EVENT_BROKER_URL).
    """
    if not MODEL_PATH.exists():
        raise RuntimeError(f"No trained model at {MODEL_PATH}: run scripts/test.sh (it trains when needed).")
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "2", "WEB_PORT": str(web_port), "WEB_HOST": "127.0.0.1",
           "RASA_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}", "RASA_URL": f"http://127.0.0.1:{rasa_port}",
           "TRACKER_STORE_URL": f"sqlite:///{workdir / 'conversations.db'}",
           "ANALYTICS_EVENTS_URL": f"sqlite:///{workdir / 'analytics_events.db'}",
           "RASA_API_ENABLED": "true" if rasa_api else "false", **(extra_env or {})}
    env["ACTION_SERVER_TOKEN"] = env.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(32)
    if rasa_api:
        env["RASA_JWT_SECRET"] = env.get("RASA_JWT_SECRET") or secrets.token_urlsafe(32)
    settings = Settings.from_env(env)
    endpoints = write_endpoints(settings, workdir / "endpoints.yml",
                                action_server_url=f"http://127.0.0.1:{action_port}/webhook")
    health = {"action server": f"http://127.0.0.1:{action_port}/health",
              "rasa server": f"http://127.0.0.1:{rasa_port}/",  # answers once the model is loaded
              "web app": f"http://127.0.0.1:{web_port}/healthz", "e-mail delivery": None,
              "analytics consumer": None}
    logs = {"action server": "actions", "rasa server": "rasa", "web app": "web", "e-mail delivery": "mail",
            "analytics consumer": "analytics"}
    commands = service_commands(settings, rasa_port=rasa_port, action_port=action_port, endpoints=endpoints)
    if not action_server:
        del commands["action server"]
    if not web_app:
        del commands["web app"]
    if not mail_worker:
        del commands["e-mail delivery"]
    # The retention job deletes only data older than months; tests call bot.privacy.retention directly.
    commands.pop("data retention", None)
    if not analytics_consumer:
        del commands["analytics consumer"]
    processes: dict[str, subprocess.Popen] = {}
    try:
        started = []
        for label, command in commands.items():
            log = workdir / f"{logs[label]}.log"
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("w"),
                                       stderr=subprocess.STDOUT)
            processes[label] = process
            started.append((health[label], process, log))
        for url, process, log in started:
            if url is not None:
                wait_until_up(url, process, log, STARTUP_TIMEOUT_S)
        yield RunningAssistant(rasa_url=f"http://127.0.0.1:{rasa_port}",
                               web_url=f"http://127.0.0.1:{web_port}" if web_app else None,
                               database_url=database_url,
                               action_server_url=f"http://127.0.0.1:{action_port}",
                               action_server_token=env["ACTION_SERVER_TOKEN"],
                               jwt_secret=env.get("RASA_JWT_SECRET") if rasa_api else None,
                               tracker_store_url=settings.tracker_store_url,
                               pids={label: process.pid for label, process in processes.items()})
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
