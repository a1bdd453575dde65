"""A local stand-in of Meta's WhatsApp Cloud API (Graph API) for the tests, and Meta-shaped webhooks.

`GraphStandIn` serves POST /{phone-number-id}/messages on 127.0.0.1 (free port, own thread and event loop, so
sync and async tests and module-scoped servers can use it). It checks the bearer token and the documented
limits of the bodies (text ≤ 4096, interactive body ≤ 1024, ≤ 3 reply buttons with titles ≤ 20, a list of
≤ 10 rows with titles ≤ 24 and descriptions ≤ 72, list button ≤ 20), records every accepted body, and
answers as Meta documents: {"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id":
"wamid..."}]}, or an error {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}:
scripted ones (`fail_next`: throttling codes with HTTP 400, 5xx, ...), 131047 for a free-form message to a
customer whose window is closed here (`close_window`), 190 for a wrong token, 100 for a body over a limit.

The webhook helpers build Meta's documented payloads and sign them like Meta (X-Hub-Signature-256).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.whatsapp.signature import sign


@dataclass
class ScriptedError:
    http_status: int
    code: int
    message: str = "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    error_type: str = "OAuthException"


@dataclass
class GraphStandIn:
    phone_number_id: str = "106540352242922"
    access_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    received: list[dict[str, Any]] = field(default_factory=list)  # accepted bodies, in order
    attempts: list[dict[str, Any]] = field(default_factory=list)  # every request body, refused ones too
    refused: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (body, error)
    closed_windows: set[str] = field(default_factory=set)
    _script: list[ScriptedError] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    port: int = 0

    # ------------------------------------------------------------------ control from the tests

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, *errors: ScriptedError) -> None:
        self._script.extend(errors)

    def close_window(self, wa_id: str) -> None:
        self.closed_windows.add(wa_id)

    def to(self, wa_id: str) -> list[dict[str, Any]]:
        return [body for body in self.received if body.get("to") == wa_id]

    def clear(self) -> None:
        self.received.clear()
        self.attempts.clear()
        self.refused.clear()
        self._script.clear()

    # ------------------------------------------------------------------ the API

    @staticmethod
    def _error(status: int, code: int, message: str, error_type: str = "OAuthException",
               subcode: int | None = None) -> web.Response:
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code,
                                 "fbtrace_id": secrets.token_urlsafe(8)}
        if subcode is not None:
            error["error_subcode"] = subcode
        return web.json_response({"error": error}, status=status)

    @staticmethod
    def limits_problem(body: dict[str, Any]) -> str | None:
        """What in `body` breaks a documented limit, or None."""
        if body.get("messaging_product") != "whatsapp" or not body.get("to"):
            return "messaging_product and to are required"
        kind = body.get("type")
        if kind == "text":
            text = (body.get("text") or {}).get("body") or ""
            return None if 0 < len(text) <= 4096 else f"text.body must have 1 to 4096 characters ({len(text)})"
        if kind == "template":
            template = body.get("template") or {}
            return None if template.get("name") and (template.get("language") or {}).get("code") \
                else "template.name and template.language.code are required"
        if kind != "interactive":
            return f"unsupported type {kind!r}"
        interactive = body.get("interactive") or {}
        text = (interactive.get("body") or {}).get("text") or ""
        if not 0 < len(text) <= 1024:
            return f"interactive.body.text must have 1 to 1024 characters ({len(text)})"
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                return f"1 to 3 buttons allowed ({len(buttons)})"
            titles = [b["reply"]["title"] for b in buttons]
            if any(not 0 < len(t) <= 20 for t in titles) or len(set(titles)) != len(titles):
                return f"button titles must be unique, 1 to 20 characters: {titles}"
            if any(not 0 < len(b["reply"]["id"]) <= 256 for b in buttons):
                return "button ids must have 1 to 256 characters"
            return None
        if interactive.get("type") == "list":
            label = action.get("button") or ""
            rows = [row for section in action.get("sections") or [] for row in section.get("rows") or []]
            if not 0 < len(label) <= 20:
                return f"action.button must have 1 to 20 characters ({label!r})"
            if not 1 <= len(rows) <= 10:
                return f"1 to 10 rows allowed ({len(rows)})"
            for row in rows:
                if not 0 < len(row.get("title") or "") <= 24 or len(row.get("description") or "") > 72 \
                        or not 0 < len(row.get("id") or "") <= 200:
                    return f"row over a limit: {row}"
            return None
        return f"unsupported interactive type {interactive.get('type')!r}"

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, 100, "Invalid JSON", "OAuthException")
        self.attempts.append(body)
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return self._error(400, 100, "Unsupported post request. Object does not exist", "GraphMethodException",
                               33)
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self._error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if self._script:
            scripted = self._script.pop(0)
            self.refused.append((body, {"code": scripted.code}))
            return self._error(scripted.http_status, scripted.code, scripted.message, scripted.error_type)
        problem = self.limits_problem(body)
        if problem is not None:
            self.refused.append((body, {"code": 100, "problem": problem}))
            return self._error(400, 100, f"(#100) Invalid parameter: {problem}")
        if body.get("to") in self.closed_windows and body.get("type") != "template":
            self.refused.append((body, {"code": 131047}))
            return self._error(400, 131047, "Re-engagement message", "OAuthException")
        self.received.append(body)
        message_id = f"wamid.STANDIN{next(self._ids):06d}{secrets.token_hex(4)}"
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": message_id}]})

    # ------------------------------------------------------------------ running

    def start(self) -> GraphStandIn:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
            app.router.add_post("/{phone_number_id}/messages", self._messages)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="whatsapp-graph-standin", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the WhatsApp stand-in did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> GraphStandIn:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------- webhooks as Meta sends them

_message_ids = itertools.count(1)


def new_message_id() -> str:
    return f"wamid.HBgN{next(_message_ids):06d}{secrets.token_hex(6).upper()}"


def _envelope(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "4930123456789", "phone_number_id": phone_number_id},
                  **value}}]}]}


def message_webhook(phone_number_id: str, wa_id: str, message: dict[str, Any], *, name: str = "Anna Schmidt",
                    message_id: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
    """A customer message (`message` holds "type" and its part, e.g. {"type": "text", "text": {"body": ..}})."""
    return _envelope(phone_number_id, {
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": message_id or new_message_id(),
                      "timestamp": str(timestamp if timestamp is not None else int(time.time())), **message}]})


def text_message(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def button_reply(reply_id: str, title: str) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {"type": "button_reply",
                                                   "button_reply": {"id": reply_id, "title": title}}}


def list_reply(row_id: str, title: str, description: str = "") -> dict[str, Any]:
    return {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
        "id": row_id, "title": title, "description": description}}}


def status_webhook(phone_number_id: str, wa_id: str, message_id: str, status: str, *,
                   errors: list[dict[str, Any]] | None = None, timestamp: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": message_id, "status": status,
                             "timestamp": str(timestamp if timestamp is not None else int(time.time())),
                             "recipient_id": wa_id}
    if errors:
        entry["errors"] = errors
    return _envelope(phone_number_id, {"statuses": [entry]})


def signed(payload: dict[str, Any], app_secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a webhook POST as Meta sends it."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, app_secret)}
