"""The agent console over real HTTP: nothing answers without a valid session of the right role.

The web app (bot/web/app.py with the console mounted at /console) runs on a free local port on SQLite and on
PostgreSQL. Rasa's HTTP API is replaced by a recorder here (these tests are about the console's own rules;
tests/test_console_browser.py uses the real Rasa). Conversations are written with Rasa's own SQL tracker
store, so the transcript is read as it is stored.
"""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import Customer, HandoffRequest, LoginAttempt, StaffUser
from bot.settings import PROJECT_ROOT, Settings
from bot.web.app import create_app
from tests.console_server import PASSWORD, RecordingRasa, add_user, serving, session_cookie

HOSTILE = "<script>window.pwned=1</script><img src=x onerror=alert(1)>"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    url: str
    database_url: str
    rasa: RecordingRasa
    handoff_id: int
    conversation_id: str

    def client(self, cookies: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, cookies=cookies, follow_redirects=False, timeout=15)


def store_conversation(tracker_url: str, conversation_id: str, texts: list[tuple[str, str]]) -> None:
    """Write a conversation with Rasa's SQL tracker store: ("user" | "bot", text) pairs."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(dialect="sqlite", db=tracker_url.removeprefix("sqlite:///"))
    tracker = DialogueStateTracker(conversation_id, slots=[])
    for author, text in texts:
        tracker.update(UserUttered(text) if author == "user" else BotUttered(text))
    asyncio.run(store.save(tracker))
    store.engine.dispose()


@pytest.fixture
def console(database_url: str, tmp_path: Path) -> Iterator[Console]:
    tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
    conversation_id = "c0ffee-customer-1"
    store_conversation(tracker_url, conversation_id, [
        ("bot", "Guten Tag, ich bin der automatische Assistent."),
        ("user", HOSTILE),
        ("user", "Ich möchte mit einem Menschen sprechen"),
    ])
    with transaction(database_url) as session:
        seed_demo_customers(session, count=3, seed=7, today=datetime.now(timezone.utc).date())
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        customer.first_name = "<b>Eva</b>"
        handoff = HandoffRequest(conversation_id=conversation_id, customer_id=customer.id, reason="customer_request",
                                 priority="normal", status="open", created_at=datetime.now(timezone.utc),
                                 dissatisfaction=0.4, channel="socketio")
        session.add(handoff)
        session.flush()
        handoff_id = handoff.id
    settings = Settings.from_env({"DATABASE_URL": database_url, "TRACKER_STORE_URL": tracker_url,
                                  "CONSOLE_IDLE_MINUTES": "30", "CONSOLE_SESSION_HOURS": "10"})
    rasa = RecordingRasa()
    with serving(create_app(settings, console_rasa_api=rasa)) as url:
        yield Console(url, database_url, rasa, handoff_id, conversation_id)


def routes(handoff_id: int) -> list[tuple[str, str]]:
    """Every console route except the login form (method, path)."""
    conversation = f"/console/conversations/{handoff_id}"
    return [("GET", "/console/"), ("GET", "/console/mine"), ("GET", "/console/all"), ("GET", conversation),
            ("GET", f"/console/events?handoff={handoff_id}"), ("POST", "/console/reassign"),
            *[("POST", f"{conversation}/{action}")
              for action in ("take", "reply", "close", "hand-back", "resume", "offer", "cancel", "complaint")]]


SUPERVISOR_ONLY = {"/console/all", "/console/reassign"}


def handoff_status(console: Console) -> tuple[str, int | None]:
    with transaction(console.database_url) as session:
        handoff = session.get(HandoffRequest, console.handoff_id)
        return handoff.status, handoff.assigned_agent_id


def csrf_token(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF_FIELD.search(page.text).group(1)


def login(client: httpx.Client, username: str, password: str = PASSWORD, *, token: str | None = None) -> httpx.Response:
    form_token = token if token is not None else csrf_token(client, "/console/login")
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": form_token})


def assert_refused(response: httpx.Response, method: str, path: str) -> None:
    if method == "GET" and "/events" not in path:
        assert response.status_code == 303, (path, response.status_code)
        assert response.headers["location"] == "/console/login"
    else:
        assert response.status_code == 401, (method, path, response.status_code)
    assert "Eva" not in response.text and "window.pwned" not in response.text


def test_every_route_refuses_anonymous_requests(console: Console) -> None:
    with console.client() as client:
        for method, path in routes(console.handoff_id):
            assert_refused(client.request(method, path), method, path)
        assert client.get("/console/login").status_code == 200
    assert handoff_status(console) == ("open", None)
    assert console.rasa.calls == []


def test_expired_and_ended_sessions_are_refused(console: Console) -> None:
    agent = add_user(console.database_url, "anna", first_name="Anna")
    now = datetime.now(timezone.utc)
    idle = session_cookie(console.database_url, agent, at=now - timedelta(minutes=31))
    old = session_cookie(console.database_url, agent, at=now - timedelta(hours=11))
    forged = {"console_session": "not-a-session-token"}
    for cookies in (idle, old, forged):
        with console.client(cookies) as client:
            for method, path in routes(console.handoff_id):
                assert_refused(client.request(method, path, data={"csrf_token": "x"}), method, path)
    # A session used within the idle timeout stays valid; after logout its cookie is refused.
    with console.client() as client:
        assert login(client, "anna").status_code == 303
        token = csrf_token(client, "/console/")
        cookie = {"console_session": client.cookies["console_session"]}
        assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    with console.client(cookie) as client:
        assert_refused(client.get("/console/"), "GET", "/console/")


def test_wrong_roles_get_403(console: Console) -> None:
    marketer = add_user(console.database_url, "mona", role="marketer")
    agent = add_user(console.database_url, "anna", first_name="Anna")
    with console.client(session_cookie(console.database_url, marketer)) as client:
        for method, path in routes(console.handoff_id):
            response = client.request(method, path)
            assert response.status_code == 403, (path, response.status_code)
            assert "Eva" not in response.text and "window.pwned" not in response.text
    with console.client(session_cookie(console.database_url, agent)) as client:
        token = csrf_token(client, "/console/")
        assert client.get("/console/all").status_code == 403
        response = client.post("/console/reassign", data={"csrf_token": token, "handoff_id": console.handoff_id,
                                                          "to_agent_id": agent})
        assert response.status_code == 403
        assert client.get("/console/").status_code == 200
    assert handoff_status(console) == ("open", None)


def test_posts_without_the_csrf_token_are_refused(console: Console) -> None:
    agent = add_user(console.database_url, "anna", first_name="Anna")
    take = f"/console/conversations/{console.handoff_id}/take"
    with console.client(session_cookie(console.database_url, agent)) as client:
        token = csrf_token(client, f"/console/conversations/{console.handoff_id}")
        assert client.post(take).status_code == 403
        assert client.post(take, data={"csrf_token": "wrong" + token}).status_code == 403
        assert client.post(take, data={"csrf_token": token},
                           headers={"Origin": "http://evil.example"}).status_code == 403
        assert handoff_status(console) == ("open", None)
        assert console.rasa.calls == []
        response = client.post(take, data={"csrf_token": token})
        assert response.status_code == 303
    assert handoff_status(console) == ("taken", agent)
    assert console.rasa.calls == [("pause", console.conversation_id, "Anna")]
    # The login form has its own token: a login without it is refused even with the right password.
    with console.client() as client:
        client.get("/console/login")
        assert login(client, "anna", token="").status_code == 403
        assert "console_session" not in client.cookies


def test_login_refuses_without_saying_why_and_sets_a_strict_cookie(console: Console) -> None:
    add_user(console.database_url, "anna", first_name="Anna")
    with console.client() as client:
        wrong_password = login(client, "anna", "falsches Passwort 123")
        unknown_user = login(client, "niemand", PASSWORD)
        assert wrong_password.status_code == unknown_user.status_code == 401
        message = "Benutzername oder Passwort ist falsch."
        assert message in wrong_password.text and message in unknown_user.text
        response = login(client, "anna")
        assert response.status_code == 303 and response.headers["location"] == "/console/"
        cookie = next(value for value in response.headers.get_list("set-cookie")
                      if value.startswith("console_session="))
        attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
        assert "httponly" in attributes and "path" in attributes and "/console" in attributes["path"]
        assert attributes["samesite"].split("=")[1].strip() == "Strict"
        page = client.get("/console/")
        assert page.status_code == 200 and "Anna" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


def test_login_is_rate_limited(console: Console) -> None:
    add_user(console.database_url, "anna", first_name="Anna")
    with console.client() as client:
        for _ in range(5):
            assert login(client, "anna", "falsches Passwort 123").status_code == 401
        refused = login(client, "anna")  # the right password, too late
        assert refused.status_code == 429
        assert "console_session" not in client.cookies
        assert int(refused.headers["retry-after"]) > 0
    with transaction(console.database_url) as session:
        attempts = session.scalars(select(LoginAttempt).where(LoginAttempt.username == "anna")).all()
        assert [attempt.succeeded for attempt in attempts] == [False] * 5


def test_customer_text_is_shown_as_text(console: Console) -> None:
    agent = add_user(console.database_url, "anna", first_name="Anna")
    with console.client(session_cookie(console.database_url, agent)) as client:
        for path in ("/console/", f"/console/conversations/{console.handoff_id}"):
            page = client.get(path)
            assert page.status_code == 200
            assert "<script>window.pwned" not in page.text and "<img src=x" not in page.text
            assert "<b>Eva</b>" not in page.text and "&lt;b&gt;Eva&lt;/b&gt;" in page.text
        conversation = client.get(f"/console/conversations/{console.handoff_id}").text
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in conversation
        assert "Ich möchte mit einem Menschen sprechen" in conversation
        assert conversation.count("<script") == 1  # the console's own script file, nothing else


def test_live_channel_sends_the_queue_and_new_messages(console: Console) -> None:
    agent = add_user(console.database_url, "anna", first_name="Anna")
    with console.client(session_cookie(console.database_url, agent)) as client:
        with client.stream("GET", f"/console/events?handoff={console.handoff_id}&after=0") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = {}
            lines = stream.iter_lines()
            while len(events) < 2:
                line = next(lines)
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                    events[name] = json.loads(next(lines).removeprefix("data: "))
    waiting = events["queue"]["waiting"]
    assert [entry["handoff_id"] for entry in waiting] == [console.handoff_id]
    assert waiting[0]["customer_name"].startswith("<b>Eva</b>")  # raw in JSON; the page puts it in as text
    assert [line["author"] for line in events["transcript"]["lines"]] == ["assistant", "customer", "customer"]
    assert events["transcript"]["lines"][1]["text"] == HOSTILE


def test_create_user_command(database_url: str) -> None:
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"}
    command = [sys.executable, "-m", "bot.cli", "create-user", "berta", "--first-name", "Berta", "--role",
               "supervisor", "--password-stdin"]
    short = subprocess.run(command, input="zu kurz\n", capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    assert short.returncode == 2 and "at least 12" in short.stderr
    done = subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    with transaction(database_url) as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == "berta")).one()
        assert (user.role, user.first_name) == ("supervisor", "Berta")
        assert user.password_hash.startswith("$argon2") and PASSWORD not in user.password_hash
