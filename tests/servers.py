"""Start the real servers (action server, Rasa server, web app) on free local ports for tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from bot.cli import MODEL_PATH
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


@dataclass(frozen=True)
class RunningAssistant:
    rasa_url: str
    web_url: str | None
    database_url: str

    @property
    def rest_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early (code {process.returncode}); log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up within {STARTUP_TIMEOUT_S} s; log:\n{log.read_text()[-3000:]}")


@contextmanager
def running_assistant(database_url: str, workdir: Path, *, action_server: bool = True,
                      web_app: bool = True, extra_env: dict[str, str] | None = None) -> Iterator[RunningAssistant]:
    """The assistant on free ports; with action_server=False, Rasa points at a port where nothing listens.

    Conversations go to an SQLite tracker store in `workdir` unless `extra_env` names another
    (TRACKER_STORE_URL), and `extra_env` may add a lock store and an event broker (see bot.rasa_endpoints).
    """
    if not MODEL_PATH.exists():
        raise RuntimeError(f"No trained model at {MODEL_PATH}: run scripts/test.sh (it trains when needed).")
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT_ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "2", "WEB_PORT": str(web_port), "WEB_HOST": "127.0.0.1",
           "RASA_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}", "RASA_URL": f"http://127.0.0.1:{rasa_port}",
           "TRACKER_STORE_URL": f"sqlite:///{workdir / 'conversations.db'}", **(extra_env or {})}
    endpoints = write_endpoints(Settings.from_env(env), workdir / "endpoints.yml",
                                action_server_url=f"http://127.0.0.1:{action_port}/webhook")
    commands: list[tuple[str, list[str], str]] = []
    if action_server:
        commands.append(("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port",
                                     str(action_port)], f"http://127.0.0.1:{action_port}/health"))
    commands.append(("rasa", [sys.executable, "-m", "bot.rasa_server", "run", "--model", str(MODEL_PATH),
                              "--enable-api", "--cors", "*", "--port", str(rasa_port), "--endpoints", str(endpoints),
                              "--credentials", str(PROJECT_ROOT / "credentials.yml")],
                     f"http://127.0.0.1:{rasa_port}/status"))
    if web_app:
        commands.append(("web", [sys.executable, "-m", "bot.web.app"], f"http://127.0.0.1:{web_port}/healthz"))
    processes: list[subprocess.Popen] = []
    try:
        started = []
        for label, command, health in commands:
            log = workdir / f"{label}.log"
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("w"),
                                       stderr=subprocess.STDOUT)
            processes.append(process)
            started.append((health, process, log))
        for health, process, log in started:
            _wait_until_up(health, process, log)
        yield RunningAssistant(rasa_url=f"http://127.0.0.1:{rasa_port}",
                               web_url=f"http://127.0.0.1:{web_port}" if web_app else None,
                               database_url=database_url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
