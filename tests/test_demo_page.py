"""The demo website: real HTTP against the aiohttp app on a free local port, and the page in real Chromium.

No Rasa server runs here: the page's socket URL points at a local port where nothing listens, so the
widget shows that it is connecting. The browser never reaches the internet (every other request is
aborted and recorded).
"""
from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio
from aiohttp import web
from playwright.sync_api import ConsoleMessage, Page, expect

from bot.records.catalog import PLANS
from bot.retention.formatting import euro
from bot.settings import Settings
from bot.web.app import SHOWN_PLANS, WEBCHAT_BUNDLE, create_app, tariff_cards
from bot.web.serving import serving
from tests.browser import block_external_requests, launch_chromium, require_bundle

COMPANY = "Nordstern Telekom"
EXTERNAL_REFERENCE = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""",
                                re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def socket_url() -> str:
    """A Rasa socket URL where nothing listens (connections are refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def web_url(socket_url: str) -> Iterator[str]:
    with serving(create_app(Settings(company_name=COMPANY, rasa_public_url=socket_url))) as url:
        yield url


# --- HTTP ---------------------------------------------------------------------------------------------


def test_page_shows_company_and_socket_url(web_url: str, socket_url: str) -> None:
    response = httpx.get(f"{web_url}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<h1>" in page
    assert COMPANY in page
    assert f'data-socket-url="{socket_url}"' in page
    assert f'var socketUrl = "{socket_url}";' in page
    assert 'src="static/webchat.js"' in page


def test_page_loads_nothing_from_elsewhere(web_url: str) -> None:
    page = httpx.get(f"{web_url}/").text
    assert EXTERNAL_REFERENCE.findall(page) == []
    assert "fonts.googleapis" not in page


def test_company_name_and_socket_url_are_escaped() -> None:
    settings = Settings(company_name="Nordstern <script>alert(1)</script> & Co",
                        rasa_public_url='http://127.0.0.1:1/"</script><script>alert(2)</script>')
    with serving(create_app(settings)) as url:
        page = httpx.get(f"{url}/").text
    assert "<script>alert(1)" not in page
    assert "Nordstern &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
    assert "<script>alert(2)" not in page
    assert "</script><script>" not in page
    # HTML attribute context: html.escape; script context: a JSON string that cannot close the <script>.
    assert 'data-socket-url="http://127.0.0.1:1/&quot;&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in page
    assert r'"http://127.0.0.1:1/\"\u003c/script\u003e\u003cscript\u003ealert(2)\u003c/script\u003e"' in page
    assert page.count("<script") == 2


def test_tariff_cards_show_the_plans_and_prices_the_assistant_uses(web_url: str) -> None:
    page = httpx.get(f"{web_url}/").text
    cards = re.findall(r'<article class="card[^"]*" data-plan="([A-Z_0-9]+)">(.*?)</article>', page, re.DOTALL)
    assert [code for code, _ in cards] == list(SHOWN_PLANS)
    plans = {plan["code"]: plan for plan in PLANS}
    for code, card in cards:
        assert f"<h3>{plans[code]['name']}</h3>" in card
        assert f'<p class="price">{euro(plans[code]["monthly_price_cents"])} <small>/ Monat</small></p>' in card
    assert "{{" not in page


def test_tariff_cards_escape_catalog_text() -> None:
    plan = {"code": "X1", "name": "<b>Mobil</b>", "category": "mobile", "monthly_price_cents": 1050,
            "description": "<i>1 GB</i>, <script>alert(1)</script>"}
    cards = tariff_cards((plan,), shown=("X1",), featured="X1")
    assert "<b>" not in cards and "<i>" not in cards and "<script>" not in cards
    assert "<h3>&lt;b&gt;Mobil&lt;/b&gt;</h3>" in cards
    assert "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>" in cards and "10,50 €" in cards


def test_healthz(web_url: str) -> None:
    response = httpx.get(f"{web_url}/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


def test_widget_bundle_is_served_without_external_imports(web_url: str) -> None:
    require_bundle()
    response = httpx.get(f"{web_url}/static/webchat.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    script = response.text
    assert "WebChat" in script and len(script) > 100_000
    assert "fonts.googleapis.com" in WEBCHAT_BUNDLE.read_text(encoding="utf-8"), "bundle changed: revisit the test"
    assert "fonts.googleapis.com" not in script
    assert not re.search(r"@import\s+url\(\s*[\"']?(?:https?:)?//", script)


def test_missing_bundle_gives_503_and_the_page_still_renders(tmp_path: Path) -> None:
    app = create_app(Settings(company_name=COMPANY), bundle_path=tmp_path / "missing" / "index.js")
    with serving(app) as url:
        bundle = httpx.get(f"{url}/static/webchat.js")
        page = httpx.get(f"{url}/")
    assert bundle.status_code == 503
    assert bundle.headers["content-type"].startswith("text/plain")
    assert "npm ci" in bundle.text and "bot/web" in bundle.text
    assert page.status_code == 200 and COMPANY in page.text


# --- Real browser -------------------------------------------------------------------------------------


def wait_for_animations(page: Page, selector: str) -> None:
    """Wait until the element's CSS animations (the widget's slide-in) have finished."""
    page.wait_for_function(
        "s => document.querySelector(s).getAnimations().every(a => a.playState !== 'running')", arg=selector)


def _is_refused_socket_connection(message: ConsoleMessage, socket_url: str) -> bool:
    """Console errors from the widget failing to reach the (absent) Rasa socket.io server."""
    where = (message.location or {}).get("url", "")
    return "ERR_CONNECTION_REFUSED" in message.text and (
        where.startswith(socket_url) or socket_url in message.text
    )


@pytest.mark.browser
def test_page_and_chat_widget_in_chromium(web_url: str, socket_url: str, tmp_path: Path) -> None:
    require_bundle()
    with launch_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="de-DE")
        blocked = block_external_requests(context)
        page = context.new_page()
        console_errors: list[ConsoleMessage] = []
        page_errors: list[str] = []
        page.on("console", lambda message: console_errors.append(message) if message.type == "error" else None)
        page.on("pageerror", lambda error: page_errors.append(str(error)))

        page.goto(f"{web_url}/", wait_until="load")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Mobilfunk und Internet")
        expect(page.locator(".site-header")).to_contain_text(COMPANY)

        launcher = page.locator("#webchat .rw-launcher")
        expect(launcher).to_be_visible(timeout=15_000)
        page.screenshot(path=str(tmp_path / "demo-page.png"))
        page.screenshot(path=str(tmp_path / "demo-page-full.png"), full_page=True)

        launcher.click()
        conversation = page.locator("#webchat .rw-conversation-container")
        expect(conversation).to_be_visible()
        wait_for_animations(page, "#webchat .rw-conversation-container")
        expect(conversation.locator(".rw-title")).to_have_text("Kundenservice")
        expect(conversation).to_contain_text("Automatischer Assistent")
        expect(conversation).to_contain_text("Verbinde")
        page.screenshot(path=str(tmp_path / "demo-chat-open.png"))

        # The font and everything else come from this machine; the widget's Google Fonts import is gone.
        computed_font = page.evaluate(
            "getComputedStyle(document.querySelector('#webchat .rw-title')).fontFamily")
        assert "Inter" not in computed_font
        context.close()

    assert blocked == [], f"the page tried to reach the internet: {blocked}"
    assert page_errors == []
    unexpected = [f"{m.text} ({(m.location or {}).get('url', '')})" for m in console_errors
                  if not _is_refused_socket_connection(m, socket_url)]
    assert unexpected == []
    assert (tmp_path / "demo-page.png").stat().st_size > 10_000
    assert (tmp_path / "demo-chat-open.png").stat().st_size > 10_000


# --- The widget against a stand-in for Rasa's socket.io channel ----------------------------------------

GREETING = "Guten Tag! Wie kann ich Ihnen helfen?"
BUTTONS = [{"title": "Vertrag kündigen", "payload": "/cancel_contract"},
           {"title": "Tarif wechseln", "payload": "/change_tariff"}]


def fake_rasa_socket_app(received: list[tuple[str, dict]]) -> web.Application:
    """What rasa.core.channels.socketio does (Rasa 3.6, credentials.yml: user_uttered/bot_uttered,
    session_persistence), answering /greet with buttons the way Rasa's send_text_with_buttons does."""
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app, socketio_path="socket.io")

    @sio.on("session_request")
    async def session_request(sid: str, data: dict | None) -> None:
        data = data or {}
        received.append(("session_request", data))
        session_id = data.get("session_id") or "fake-session-1"
        await sio.emit("session_confirm", session_id, room=sid)

    @sio.on("user_uttered")
    async def user_uttered(sid: str, data: dict) -> None:
        received.append(("user_uttered", data))
        if data.get("message") == "/greet":
            quick_replies = [{"content_type": "text", **button} for button in BUTTONS]
            await sio.emit("bot_uttered", {"text": GREETING, "quick_replies": quick_replies}, room=sid)
        else:
            await sio.emit("bot_uttered", {"text": f"Verstanden: {data.get('message')}"}, room=sid)

    return app


@pytest.mark.browser
def test_widget_talks_socketio_and_shows_buttons_as_quick_replies(tmp_path: Path) -> None:
    require_bundle()
    received: list[tuple[str, dict]] = []
    with serving(fake_rasa_socket_app(received)) as rasa_url, \
            serving(create_app(Settings(company_name=COMPANY, rasa_public_url=rasa_url))) as url, \
            launch_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="de-DE")
        blocked = block_external_requests(context)
        page = context.new_page()
        console_errors: list[str] = []
        page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: console_errors.append(str(error)))

        page.goto(f"{url}/", wait_until="load")
        page.locator("#webchat .rw-launcher").click()
        conversation = page.locator("#webchat .rw-conversation-container")
        expect(conversation.locator(".rw-response")).to_contain_text(GREETING, timeout=15_000)
        replies = conversation.locator(".rw-replies .rw-reply")
        expect(replies).to_have_text([button["title"] for button in BUTTONS])
        expect(conversation.locator(".rw-loading")).to_have_count(0)  # connected: no "Verbinde …"
        wait_for_animations(page, "#webchat .rw-conversation-container")
        page.screenshot(path=str(tmp_path / "demo-chat-quick-replies.png"))

        replies.first.click()
        expect(conversation.locator(".rw-response").last).to_contain_text("Verstanden: /cancel_contract")
        expect(conversation.locator(".rw-client").last).to_contain_text("Vertrag kündigen")
        page.screenshot(path=str(tmp_path / "demo-chat-answered.png"))
        context.close()

    assert blocked == []
    assert console_errors == []
    kinds = [kind for kind, _ in received]
    assert kinds[0] == "session_request"
    messages = [data for kind, data in received if kind == "user_uttered"]
    assert [m["message"] for m in messages] == ["/greet", "/cancel_contract"]
    assert messages[0]["customData"] == {"language": "de"}
    assert messages[0]["session_id"] == messages[1]["session_id"] == "fake-session-1"
