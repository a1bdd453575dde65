"""What the agent console does to a conversation in Rasa: pause it, write into it, resume it, read it.

All of it goes through Rasa's HTTP API (`/conversations/{id}/tracker/events`, `/conversations/{id}/tracker`),
which `bot.cli run` switches on bound to 127.0.0.1 and protected by a JWT signed with RASA_JWT_SECRET
(bot/rasa_server.py). Each call carries a short-lived admin token.

- `pause`: Rasa's own `ConversationPaused` event. While paused Rasa stores every customer message and
  predicts nothing; what Rasa would still do is handled in the project: `action_extract_slots` runs the
  dissatisfaction update (silent while paused, actions/dissatisfaction.py), a typed `/restart` would end the
  pause (neutralised by the channels, bot/channels/handoff_guard.py) and so would a session expiry (the
  custom `action_session_start` keeps the pause and the slots, actions/conversation.py). An active form is
  ended first, so that what the customer writes to the agent is not taken as a form answer.
- `send_agent_message`: a bot utterance marked with the agent (`metadata.agent`, `agent_message_id`),
  appended with `execute_side_effects=true` so Rasa delivers it on the customer's channel. The socket.io
  output drops metadata, so the agent's first name is part of the text: "Anna: ...".
- `resume`: `ConversationResumed` does not make Rasa say anything, so a bot message follows that tells the
  customer the assistant is back (and, for a verified customer, that they need not identify again), then an
  `action_listen`, so that the next customer message is predicted like any other (RasaHQ/rasa#5645).
"""
from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import jwt

from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

TOKEN_LIFETIME_S = 120
TIMEOUT_S = 10.0


def agent_joined_text(agent_first_name: str) -> str:
    return (f"{agent_first_name} aus unserem Service-Team hat das Gespräch übernommen und antwortet Ihnen "
            "hier im Chat.")


def assistant_back_text(*, verified: bool) -> str:
    text = ("Ich bin wieder für Sie da, der automatische Assistent. Das Gespräch mit unserem Service-Team ist "
            "beendet.")
    if verified:
        text += " Sie sind weiterhin identifiziert und müssen Ihre Daten nicht noch einmal angeben."
    return text + " Wie kann ich Ihnen weiter helfen?"


def agent_message_text(agent_first_name: str, text: str) -> str:
    """How an agent's message appears in the widget: the first name, then the text."""
    return f"{agent_first_name}: {text}"


class RasaApiError(Exception):
    """Rasa could not be reached or refused the call; the message says which call and why."""


class RasaApi:
    """Rasa's HTTP API for the agent console (see the module docstring)."""

    def __init__(self, settings: Settings | None = None, *, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings or get_settings()
        self._client = client or httpx.AsyncClient(base_url=self.settings.rasa_url, timeout=TIMEOUT_S)
        self._owns_client = client is None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> RasaApi:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def _headers(self) -> dict[str, str]:
        if not self.settings.rasa_jwt_secret:
            raise RasaApiError("RASA_JWT_SECRET is not set: the console cannot reach Rasa's HTTP API")
        payload = {"user": {"username": "agent-console", "role": "admin"},
                   "exp": int(time.time()) + TOKEN_LIFETIME_S}
        token = jwt.encode(payload, self.settings.rasa_jwt_secret, algorithm="HS256")
        return {"Authorization": f"Bearer {token}"}

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, headers=self._headers(), **kwargs)
        except httpx.HTTPError as error:
            raise RasaApiError(f"{method} {path}: Rasa not reachable ({error.__class__.__name__})") from error
        if response.status_code >= 400:
            raise RasaApiError(f"{method} {path}: HTTP {response.status_code}")
        return response.json()

    async def _append(self, conversation_id: str, events: list[dict[str, Any]], *,
                      output_channel: str | None = None) -> dict[str, Any]:
        params = {"include_events": "NONE"}
        if output_channel is not None:
            params.update(output_channel=output_channel, execute_side_effects="true")
        return await self._request("POST", f"/conversations/{conversation_id}/tracker/events",
                                   params=params, json=events)

    async def pause(self, conversation_id: str, agent_first_name: str) -> None:
        """The agent owns the conversation: the assistant stops answering; the customer is told who took over."""
        now = time.time()
        await self._append(conversation_id, [
            {"event": "active_loop", "name": None, "timestamp": now},
            {"event": "slot", "name": "requested_slot", "value": None, "timestamp": now},
            {"event": "pause", "timestamp": now},
            {"event": "bot", "text": agent_joined_text(agent_first_name), "timestamp": now,
             "metadata": {"agent": agent_first_name, "handoff": "taken"}},
        ], output_channel="latest")

    async def resume(self, conversation_id: str) -> None:
        """The assistant takes over again and says so, knowing what it knew (a verified customer stays verified)."""
        state = await self._append(conversation_id, [
            {"event": "active_loop", "name": None}, {"event": "resume"}])
        verified = (state.get("slots") or {}).get("verified_customer") is not None
        await self._append(conversation_id, [
            {"event": "bot", "text": assistant_back_text(verified=verified), "timestamp": time.time(),
             "metadata": {"handoff": "handed_back"}},
            {"event": "action", "name": "action_listen", "timestamp": time.time()},
        ], output_channel="latest")

    async def send_agent_message(self, conversation_id: str, *, channel: str, text: str, agent_first_name: str,
                                 message_id: int) -> None:
        """Append the agent's message to the tracker and deliver it on `channel` (e.g. "socketio", "rest")."""
        await self._append(conversation_id, [{
            "event": "bot", "text": agent_message_text(agent_first_name, text), "timestamp": time.time(),
            "metadata": {"agent": agent_first_name, "agent_message_id": message_id},
        }], output_channel=channel)

    async def events_since(self, conversation_id: str, after_timestamp: float | None = None) -> list[dict[str, Any]]:
        """The conversation's events (all sessions) after `after_timestamp` (Unix seconds), oldest first."""
        state = await self._request("GET", f"/conversations/{conversation_id}/tracker",
                                    params={"include_events": "ALL"})
        events = state.get("events") or []
        if after_timestamp is None:
            return events
        return [e for e in events if float(e.get("timestamp") or 0) > after_timestamp]

    async def is_paused(self, conversation_id: str) -> bool:
        state = await self._request("GET", f"/conversations/{conversation_id}/tracker",
                                    params={"include_events": "NONE"})
        return bool(state.get("paused"))
