"""Helpers for the console tests over real HTTP: users, sessions, and a recorder in place of Rasa's HTTP API.

    with serving(create_app(settings, console_rasa_api=RecordingRasa())) as base_url:   # tests.test_demo_page
        httpx.get(f"{base_url}/console/login")

`RecordingRasa` stands in for Rasa's HTTP API where a test checks the console's own rules; the browser test
talks to the real Rasa server.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from bot.console.sessions import start_session
from bot.handoff.users import create_user
from bot.records.database import transaction
from bot.web.serving import serving

__all__ = ["PASSWORD", "RecordingRasa", "add_user", "serving", "session_cookie"]

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


def add_user(database_url: str, username: str, *, role: str = "agent", first_name: str | None = None) -> int:
    with transaction(database_url) as session:
        return create_user(session, username=username, first_name=first_name or username.capitalize(),
                           password=PASSWORD, role=role, now=datetime.now(timezone.utc)).id


def session_cookie(database_url: str, user_id: int, *, at: datetime | None = None) -> dict[str, str]:
    """A console session cookie for the user, started at `at` (default now)."""
    with transaction(database_url) as session:
        return {"console_session": start_session(session, user_id=user_id, now=at or datetime.now(timezone.utc))}
