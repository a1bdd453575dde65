"""Telegram Bot API calls (`POST {base}/bot<token>/<method>` with JSON) with retries.

Retried: HTTP 429 / error_code 429 after the `retry_after` seconds Telegram asks for (unless that is longer than
allowed, then the call fails at once), 5xx answers, timeouts and connection errors (after 0.5, 1, 2 ... s).
Not retried: other refusals (400 bad request, 401 wrong token, 403 the customer blocked the bot), which
retrying cannot fix. The token is part of every URL, so neither URLs nor httpx's request log line are logged.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

TIMEOUT_S = 10.0
BACKOFF_BASE_S = 0.5


class TelegramApiError(Exception):
    """A Bot API call that finally failed; `description` is Telegram's (or what went wrong on the way)."""

    def __init__(self, method: str, description: str, *, error_code: int | None = None, attempts: int = 1) -> None:
        super().__init__(f"{method}: {description}")
        self.method = method
        self.description = description
        self.error_code = error_code
        self.attempts = attempts


@dataclass(frozen=True)
class ApiResult:
    result: Any
    attempts: int


class TelegramClient:
    """One bot's Bot API; `http` may be shared (the connector keeps one per process)."""

    def __init__(self, *, api_base: str, token: str, max_attempts: int = 4, max_retry_after_s: float = 30.0,
                 backoff_base_s: float = BACKOFF_BASE_S, http: httpx.AsyncClient | None = None) -> None:
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        # httpx logs every request's URL at INFO, and a Bot API URL contains the bot's token.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self.max_attempts = max(1, max_attempts)
        self.max_retry_after_s = max_retry_after_s
        self.backoff_base_s = backoff_base_s
        self._http = http

    def _client(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(timeout=TIMEOUT_S)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def call(self, method: str, params: dict[str, Any]) -> ApiResult:
        """The call's `result`; TelegramApiError once it is refused or the attempts are used up."""
        problem = "not tried"
        code: int | None = None
        for attempt in range(1, self.max_attempts + 1):
            wait = self.backoff_base_s * 2 ** (attempt - 1)
            try:
                response = await self._client().post(f"{self._base}/{method}", json=params)
            except httpx.HTTPError as error:  # timeouts, refused connections, broken answers
                problem, code = f"Telegram not reachable ({error.__class__.__name__})", None
            else:
                body = _json(response)
                if response.status_code == 200 and body.get("ok") is True:
                    return ApiResult(body.get("result"), attempt)
                code = body.get("error_code") if isinstance(body.get("error_code"), int) else response.status_code
                problem = str(body.get("description") or f"HTTP {response.status_code}")
                if code == 429:
                    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
                    retry_after = parameters.get("retry_after")
                    wait = float(retry_after) if isinstance(retry_after, int | float) else wait
                    if wait > self.max_retry_after_s:
                        raise TelegramApiError(method, f"{problem} (asked to wait {wait:.0f} s)",
                                               error_code=code, attempts=attempt)
                elif response.status_code < 500:
                    raise TelegramApiError(method, problem, error_code=code, attempts=attempt)
            if attempt < self.max_attempts:
                logger.warning("Telegram %s attempt %d failed (%s); retrying in %.1f s", method, attempt, problem, wait)
                await asyncio.sleep(wait)
        raise TelegramApiError(method, problem, error_code=code, attempts=self.max_attempts)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
