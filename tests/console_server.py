"""The web app with the agent console on a free local port, in a thread, for tests over real HTTP.

    with serving(create_app(settings, console_rasa_api=rasa)) as base_url:
        httpx.get(f"{base_url}/console/login")

`RecordingRasa` stands in for Rasa's HTTP API where a test checks the console's own rules; the browser test
talks to the real Rasa server.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

from bot.console.sessions import start_session
from bot.handoff.users import create_user
from bot.records.database import transaction
from tests.servers import free_port

PASSWORD = "ein sehr geheimes Passwort 42"


@dataclass
class RecordingRasa:
    """Records what the console asked Rasa to do (pause, resume, agent messages)."""

    calls: list[tuple] = field(default_factory=list)
    down: bool = False  # then every call fails as if Rasa were not reachable

    def _reachable(self) -> None:
        if self.down:
            raise ConnectionRefusedError("Rasa is down (test)")

    async def pause(self, conversation_id: str, agent_first_name: str) -> None:
        self._reachable()
        self.calls.append(("pause", conversation_id, agent_first_name))

    async def resume(self, conversation_id: str) -> None:
        self._reachable()
        self.calls.append(("resume", conversation_id))

    async def send_agent_message(self, conversation_id: str, *, channel: str, text: str, agent_first_name: str,
                                 message_id: int) -> None:
        self._reachable()
        self.calls.append(("message", conversation_id, channel, text, agent_first_name, message_id))


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 on a free port until the block ends; yields the base URL."""
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the web app did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def add_user(database_url: str, username: str, *, role: str = "agent", first_name: str | None = None) -> int:
    with transaction(database_url) as session:
        return create_user(session, username=username, first_name=first_name or username.capitalize(),
                           password=PASSWORD, role=role, now=datetime.now(timezone.utc)).id


def session_cookie(database_url: str, user_id: int, *, at: datetime | None = None) -> dict[str, str]:
    """A console session cookie for the user, started at `at` (default now)."""
    with transaction(database_url) as session:
        return {"console_session": start_session(session, user_id=user_id, now=at or datetime.now(timezone.utc))}
