"""The marketing dashboard over real HTTP: marketers and supervisors only, masked for marketers, CSRF on POSTs.

The web app (bot/web/app.py with the console and the dashboard) runs on a free local port on SQLite and on
PostgreSQL with the hand-computed facts of tests/analytics_facts.py; a transcript is written with Rasa's own
SQL tracker store.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.privacy.masking import personal_values
from bot.records.database import transaction
from bot.records.models import FallbackMessage
from bot.settings import Settings
from bot.web.app import create_app
from tests.analytics_facts import at, seed_facts
from tests.console_server import RecordingRasa, add_user, serving, session_cookie
from tests.test_console_access import CSRF_FIELD, login, store_conversation

NOVEMBER = "from=2026-11-01&to=2026-11-30"
HOSTILE = "<script>window.pwned=1</script>"
ROUTES = ["/console/analytics/", f"/console/analytics/?{NOVEMBER}&channel=socketio",
          f"/console/analytics/conversations?{NOVEMBER}&dimension=reason&code=price",
          "/console/analytics/conversations/f1-held", f"/console/analytics/export.csv?{NOVEMBER}"]


@dataclass
class Dashboard:
    url: str
    database_url: str
    customer_values: list[str]

    def client(self, role: str | None = None) -> httpx.Client:
        cookies = None
        if role is not None:
            user = add_user(self.database_url, f"{role}-{len(role)}", role=role, first_name=role.capitalize())
            cookies = session_cookie(self.database_url, user)
        return httpx.Client(base_url=self.url, cookies=cookies, follow_redirects=False, timeout=30)


@pytest.fixture
def dashboard(database_url: str, tmp_path: Path) -> Iterator[Dashboard]:
    tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
    with transaction(database_url) as session:
        seeded = seed_facts(session)
        session.add(FallbackMessage(conversation_id="f7-abandoned", text=HOSTILE, at=at(11, 20, 10, 2)))
        values = sorted({value for customer_id in seeded.customer_ids.values()
                         for value in personal_values(session, customer_id)})
    store_conversation(tracker_url, "f1-held", [
        ("bot", "Guten Tag, ich bin der automatische Assistent."),
        ("user", "Ich will kündigen, ich bin Erika Mustermann, Kundennummer K100001"),
        ("bot", "Danke, Frau Mustermann. Ihr Vertrag V10000101 ..."),
        ("user", "Meine Mail ist k100001@mail.example, PLZ 10115, geboren am 12.04.1985"),
        ("user", HOSTILE),
    ])
    settings = Settings.from_env({"DATABASE_URL": database_url, "TRACKER_STORE_URL": tracker_url})
    with serving(create_app(settings, console_rasa_api=RecordingRasa())) as url:
        yield Dashboard(url, database_url, values)


def test_anonymous_visitors_are_sent_to_the_login(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        for path in ROUTES:
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/console/login", path
        assert client.get("/console/analytics/static/chart.js").status_code == 200  # a public library


def test_agents_are_refused(dashboard: Dashboard) -> None:
    with dashboard.client("agent") as client:
        for path in ROUTES:
            response = client.get(path)
            assert response.status_code == 403, path
            assert "Kein Zugriff" in response.text and "f1-held" not in response.text
        assert "Auswertung" not in client.get("/console/").text


def test_marketer_sees_figures_and_drills_down_to_a_masked_transcript(dashboard: Dashboard) -> None:
    with dashboard.client("marketer") as client:
        page = client.get(f"/console/analytics/?{NOVEMBER}")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert re.search(r'data-kpi="conversations"><th scope="row">Gespräche</th><td class="value">7<', page.text)
        assert re.search(r'data-kpi="cancellation_intents">.*?<td class="value">5<', page.text)
        assert '<script src="/console/analytics/static/chart.js">' in page.text
        assert HOSTILE not in page.text and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page.text
        assert "[E-Mail]" in page.text and "erika.k100003@mail.example" not in page.text
        chart_js = client.get("/console/analytics/static/chart.js")
        assert chart_js.status_code == 200 and "Chart.js v4" in chart_js.text[:200]

        listing = client.get(f"/console/analytics/conversations?{NOVEMBER}&dimension=reason&code=price")
        assert listing.status_code == 200
        assert re.findall(r'data-conversation="([^"]+)"', listing.text) == ["f3-pending", "f1-held"]

        transcript = client.get("/console/analytics/conversations/f1-held")
        assert transcript.status_code == 200
        assert "Ich will kündigen" in transcript.text and "[Kundennummer]" in transcript.text
        assert HOSTILE not in transcript.text

        exported = client.get(f"/console/analytics/export.csv?{NOVEMBER}&dimension=step&code=accepted")
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff")), delimiter=";"))
        assert [row[0] for row in rows[1:]] == ["f1-held", "f2-lost", "f3-pending"]
        assert "customer_number" not in rows[0] and "K1000" not in exported.text
        everything = client.get(f"/console/analytics/export.csv?{NOVEMBER}").text
        # No personal value of any customer in any page or export a marketer sees.
        for shown in (page.text, listing.text, transcript.text, exported.text, everything):
            for value in dashboard.customer_values:
                assert not re.search(rf"(?<![\w@.]){re.escape(value)}(?![\w@])", shown, re.IGNORECASE), value

        assert client.get("/console/").status_code == 403  # not the agent console
        assert client.get("/console/analytics/conversations/unknown").status_code == 404
        assert client.get("/console/analytics/?from=2026-11-30&to=2026-11-01").status_code == 200  # with a notice
        assert client.get(f"/console/analytics/conversations?{NOVEMBER}&dimension=step&code=x").status_code == 400


def test_supervisor_sees_the_transcript_unmasked(dashboard: Dashboard) -> None:
    with dashboard.client("supervisor") as client:
        transcript = client.get("/console/analytics/conversations/f1-held")
        assert transcript.status_code == 200 and "K100001" in transcript.text
        assert "Auswertung" in client.get("/console/").text


def test_marketer_login_lands_on_the_dashboard_and_logout_needs_the_csrf_token(dashboard: Dashboard) -> None:
    add_user(dashboard.database_url, "mia", role="marketer", first_name="Mia")
    with dashboard.client() as client:
        response = login(client, "mia")
        assert response.status_code == 303 and response.headers["location"] == "/console/analytics/"
        page = client.get("/console/analytics/")
        assert page.status_code == 200 and "Mia (Marketing)" in page.text
        assert "Warteschlange" not in page.text
        assert client.post("/console/logout").status_code == 403  # no token
        assert client.post("/console/logout", data={"csrf_token": "wrong"}).status_code == 403
        foreign = client.post("/console/logout", data={"csrf_token": CSRF_FIELD.search(page.text).group(1)},
                              headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert client.get("/console/analytics/").status_code == 200
        assert client.post("/console/analytics/").status_code == 405  # the dashboard only reads
        token = CSRF_FIELD.search(page.text).group(1)
        assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
        assert client.get("/console/analytics/").status_code == 303
