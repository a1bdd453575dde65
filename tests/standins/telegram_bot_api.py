"""A local stand-in of the Telegram Bot API (`POST /bot<token>/<method>`, JSON), for tests without internet.

It implements the calls the project makes (sendMessage with inline keyboards, sendPhoto, answerCallbackQuery,
setWebhook, getMe) in Telegram's documented shapes: `{"ok": true, "result": ...}`, or
`{"ok": false, "error_code": ..., "description": ...}` (429 with `parameters.retry_after`). It checks what
Telegram checks that matters here (the token, text length 1-4096, callback_data 1-64 bytes, secret_token
characters) and records every request. `fail_next` queues error answers for a method.

Runs in a thread with its own event loop, so sync and async tests (and Rasa in another process) can use it.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_standin"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class Call:
    method: str
    body: dict[str, Any]
    answered: int  # HTTP status


def too_many_requests(retry_after: int = 1) -> tuple[int, dict[str, Any]]:
    return 429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}


def server_error() -> tuple[int, dict[str, Any]]:
    return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}


def forbidden() -> tuple[int, dict[str, Any]]:
    return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}


def _bad(description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}


class TelegramBotApi:
    """The stand-in's state: what it received, what it will answer next."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.base_url = ""
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._failures: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self._message_id = 1000
        self.webhook: dict[str, Any] | None = None

    # --- for tests ---
    def fail_next(self, method: str, *answers: tuple[int, dict[str, Any]]) -> None:
        with self._lock:
            self._failures[method].extend(answers)

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The accepted sendMessage bodies (to one chat), oldest first."""
        return [c.body for c in self.calls("sendMessage")
                if c.answered == 200 and (chat_id is None or c.body.get("chat_id") == chat_id)]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    # --- the API ---
    def _answer(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self._failures[method]:
                return self._failures[method].popleft()
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "Nordstern",
                                                "username": "nordstern_test_bot"}}
        if method == "setWebhook":
            if not body.get("url"):
                return _bad("bad webhook: An HTTPS URL must be provided for webhook")
            if "secret_token" in body and not _SECRET.match(str(body["secret_token"])):
                return _bad("secret token contains unallowed characters")
            self.webhook = body
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "answerCallbackQuery":
            if not body.get("callback_query_id"):
                return _bad("query is too old and response timeout expired or query ID is invalid")
            return 200, {"ok": True, "result": True}
        if method in ("sendMessage", "sendPhoto"):
            if body.get("chat_id") in (None, ""):
                return _bad("chat not found")
            if method == "sendMessage":
                text = body.get("text")
                if not isinstance(text, str) or not text.strip():
                    return _bad("message text is empty")
                if len(text) > 4096:
                    return _bad("message is too long")
            markup = body.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                        return _bad("BUTTON_DATA_INVALID")
            with self._lock:
                self._message_id += 1
                message_id = self._message_id
            result = {"message_id": message_id, "date": int(time.time()),
                      "chat": {"id": body["chat_id"], "type": "private"},
                      "from": {"id": 123456, "is_bot": True, "first_name": "Nordstern"}}
            if method == "sendMessage":
                result["text"] = body["text"]
            if markup:
                result["reply_markup"] = markup
            return 200, {"ok": True, "result": result}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            status, answer = _bad("can't parse JSON")
        else:
            status, answer = self._answer(method, body)
        with self._lock:
            self._calls.append(Call(method, body if isinstance(body, dict) else {}, status))
        return web.json_response(answer, status=status)


@contextmanager
def running_bot_api(token: str = TOKEN) -> Iterator[TelegramBotApi]:
    """The stand-in on a free 127.0.0.1 port; `.base_url` is what TELEGRAM_API_BASE should be."""
    api = TelegramBotApi(token)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner: dict[str, web.AppRunner] = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_post(r"/bot{token}/{method}", api._handle)
        runner["runner"] = web.AppRunner(app, access_log=None)
        await runner["runner"].setup()
        site = web.TCPSite(runner["runner"], "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        api.base_url = f"http://127.0.0.1:{port}"

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="telegram-standin", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the Telegram stand-in did not start")
    try:
        yield api
    finally:
        asyncio.run_coroutine_threadsafe(runner["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
