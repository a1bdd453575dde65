"""A marketer uses the dashboard in real Chromium: KPIs and charts, a click on a reason, a masked transcript, CSV.

The web app (console + dashboard) runs on a free local port over a SQLite database holding the hand-computed
facts of tests/analytics_facts.py and a transcript written by Rasa's SQL tracker store. Nothing leaves this
machine (requests elsewhere are aborted and recorded), and the pages raise no script error.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.privacy.masking import personal_values
from bot.records.database import transaction
from bot.settings import Settings
from bot.web.app import create_app
from tests.analytics_facts import seed_facts
from tests.browser import block_external_requests, launch_chromium
from tests.console_server import PASSWORD, add_user, serving
from tests.test_console_access import store_conversation

pytestmark = [pytest.mark.browser]

CANVASES = ("chart-days", "chart-reasons", "chart-funnel", "chart-offer_kind", "chart-reason", "chart-segment",
            "chart-dissatisfaction")
PAINTED = """id => { const c = document.getElementById(id); const d = c.getContext('2d').getImageData(0, 0, c.width,
  c.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; }"""
BAR_CENTRE = """([id, label]) => { const chart = Chart.getChart(document.getElementById(id));
  const index = chart.data.labels.indexOf(label); const bar = chart.getDatasetMeta(0).data[index];
  const box = chart.canvas.getBoundingClientRect(); return {x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2}; }"""


@dataclass
class Site:
    url: str
    customer_values: list[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from bot.records.catalog import ensure_catalog
    from bot.records.migrations import upgrade_to_head

    workdir: Path = tmp_path_factory.mktemp("analytics-browser")
    url = f"sqlite:///{workdir / 'records.db'}"
    upgrade_to_head(url)
    with transaction(url) as session:
        ensure_catalog(session)
    with transaction(url) as session:
        values = personal_values(session, seed_facts(session).customer_ids["c1"])
    add_user(url, "mia", role="marketer", first_name="Mia")
    add_user(url, "anna", role="agent", first_name="Anna")
    tracker_url = f"sqlite:///{workdir / 'conversations.db'}"
    store_conversation(tracker_url, "f1-held", [
        ("bot", "Guten Tag, ich bin der automatische Assistent."),
        ("user", "Ich will kündigen, hier Erika Mustermann, Kundennummer K100001"),
        ("user", "Meine Mail ist k100001@mail.example"),
    ])
    settings = Settings.from_env({"DATABASE_URL": url, "TRACKER_STORE_URL": tracker_url})
    with serving(create_app(settings)) as base_url:
        yield Site(base_url, values)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="de-DE", accept_downloads=True)
    context.set_default_timeout(15_000)
    blocked = block_external_requests(context)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert blocked == [] and errors == []


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()


def test_marketer_reads_the_dashboard_drills_down_and_exports(site: Site, page: Page, tmp_path: Path) -> None:
    log_in(page, site.url, "mia")
    expect(page.get_by_role("heading", name="Auswertung")).to_be_visible()
    page.get_by_label("Von").fill("2026-11-01")
    page.get_by_label("Bis").fill("2026-11-30")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page.locator('tr[data-kpi="conversations"] td.value')).to_have_text("7")
    expect(page.locator('tr[data-kpi="cancellation_intents"] td.value')).to_have_text("5")
    expect(page.locator('tr[data-kpi="offer_cost_cents"] td.value')).to_have_text("45,00 €")
    expect(page.locator('tr[data-kpi="conversations"] td.change')).to_have_text("+6")
    for canvas in CANVASES:
        expect(page.locator(f"#{canvas}")).to_have_attribute("data-drawn", "1")
        assert page.evaluate(PAINTED, canvas) > 500, f"{canvas} is blank"
    expect(page.locator("#fallbacks")).to_contain_text("[E-Mail]")

    point = page.evaluate(BAR_CENTRE, ["chart-reasons", "Preis"])
    page.mouse.click(point["x"], point["y"])
    expect(page.get_by_role("heading", name=re.compile("Grund „Preis“"))).to_be_visible()
    rows = page.locator("#conversations tbody tr")
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("link").click()
    expect(page.get_by_role("heading", name="Gesprächsverlauf")).to_be_visible()
    transcript = page.locator("#transcript")
    expect(transcript).to_contain_text("Ich will kündigen")
    expect(transcript).to_contain_text("[Kundennummer]")
    shown = transcript.inner_text()
    for value in site.customer_values:
        assert not re.search(rf"(?<![\w@.]){re.escape(value)}(?![\w@])", shown, re.IGNORECASE), value

    page.get_by_role("link", name="Zurück zur Liste").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Diese Gespräche als CSV").click()
    download = download_info.value
    assert download.suggested_filename == "gespraeche-2026-11-01-2026-11-30.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    rows_csv = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows_csv[1:]] == ["f1-held", "f3-pending"]
    assert "K100001" not in target.read_text(encoding="utf-8-sig")

    page.goto(f"{site.url}/console/")
    expect(page.get_by_role("heading", name="Kein Zugriff")).to_be_visible()


def test_agent_does_not_see_the_dashboard(site: Site, page: Page) -> None:
    log_in(page, site.url, "anna")
    expect(page.get_by_role("heading", name="Warteschlange")).to_be_visible()
    expect(page.get_by_role("link", name="Auswertung")).to_have_count(0)
    page.goto(f"{site.url}/console/analytics/?from=2026-11-01&to=2026-11-30")
    expect(page.get_by_role("heading", name="Kein Zugriff")).to_be_visible()
    expect(page.locator("canvas")).to_have_count(0)
