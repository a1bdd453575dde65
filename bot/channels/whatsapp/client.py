"""Graph API calls: POST {base}/{phone-number-id}/messages with the access token, retried with backoff.

Retried: throttling (Graph error codes 130429, 131056, 80007, 4, which come with HTTP 400, so they are told
apart by `error.code`; and HTTP 429), server errors (5xx), time-outs and refused connections. Not retried:
every other error (a wrong number, a closed 24-hour window 131047, a bad token), which `send` raises at once.
The wait doubles from `retry_base_seconds` up to `retry_max_seconds`, or follows a Retry-After header.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

THROTTLING_CODES = frozenset({130429, 131056, 80007, 4})
OUTSIDE_WINDOW_CODE = 131047
TIMEOUT_S = 15.0


class GraphError(Exception):
    """The Graph API refused a message (or could not be reached, after the retries)."""

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None,
                 retryable: bool = False, attempts: int = 1) -> None:
        super().__init__(message)
        self.code, self.http_status, self.retryable, self.attempts = code, http_status, retryable, attempts

    @property
    def outside_window(self) -> bool:
        return self.code == OUTSIDE_WINDOW_CODE

    def short(self) -> str:
        """For the records and the console: code and message, no personal data (Graph messages have none)."""
        code = f"{self.code} " if self.code is not None else ""
        return f"{code}{self}"[:300]


@dataclass(frozen=True)
class Sent:
    message_id: str
    attempts: int


def _error_of(response: httpx.Response) -> GraphError:
    try:
        error = (response.json() or {}).get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    code = int(code) if isinstance(code, int | str) and str(code).lstrip("-").isdigit() else None
    message = str(error.get("message") or f"HTTP {response.status_code}")[:200]
    retryable = (code in THROTTLING_CODES or response.status_code == 429 or response.status_code >= 500)
    return GraphError(message, code=code, http_status=response.status_code, retryable=retryable)


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


class GraphClient:
    """Sends message bodies (bot.channels.whatsapp.payloads) for one WhatsApp business number."""

    def __init__(self, *, api_base: str, phone_number_id: str, access_token: str,
                 http: httpx.AsyncClient | None = None, max_attempts: int = 5, retry_base_seconds: float = 1.0,
                 retry_max_seconds: float = 30.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.url = f"{api_base.rstrip('/')}/{phone_number_id}/messages"
        self._token = access_token
        self._http = http
        self.max_attempts = max(1, max_attempts)
        self.retry_base_seconds, self.retry_max_seconds = retry_base_seconds, retry_max_seconds
        self._sleep = sleep

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(timeout=TIMEOUT_S)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        suggested = _retry_after(response)
        if suggested is not None:
            return min(suggested, self.retry_max_seconds)
        return min(self.retry_base_seconds * 2 ** (attempt - 1), self.retry_max_seconds)

    async def send(self, body: dict[str, Any]) -> Sent:
        """Send one message; its WhatsApp message id (wamid...), or GraphError."""
        headers = {"Authorization": f"Bearer {self._token}"}
        for attempt in range(1, self.max_attempts + 1):
            response: httpx.Response | None = None
            try:
                response = await self._client().post(self.url, json=body, headers=headers)
            except httpx.TransportError as exc:  # time-out, refused connection, broken connection
                error = GraphError(f"Graph API not reachable ({exc.__class__.__name__})", retryable=True)
            else:
                if response.status_code < 300:
                    try:
                        message_id = str(response.json()["messages"][0]["id"])
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise GraphError("Graph API answered without a message id",
                                         http_status=response.status_code, attempts=attempt) from None
                    return Sent(message_id=message_id, attempts=attempt)
                error = _error_of(response)
            error.attempts = attempt
            if not error.retryable or attempt == self.max_attempts:
                raise error
            delay = self._delay(attempt, response)
            logger.warning("WhatsApp send attempt %s failed (%s); retrying in %.1f s", attempt, error.short(), delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")
