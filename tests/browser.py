"""Real-browser helpers: Debian's Chromium driven by Playwright, with no request leaving this machine.

    with launch_chromium() as browser:
        page = browser.new_page()
        blocked = block_external_requests(page)
        page.goto(url)
        assert blocked == []

Playwright never downloads a browser here: it drives /usr/bin/chromium (Debian's package, installed by
scripts/setup.sh). When it is missing, the tests that need it fail and say so instead of skipping.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from bot.web.app import WEBCHAT_BUNDLE

CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def require_bundle() -> None:
    """Fails the test (never skips) when the rasa-webchat bundle that the demo page serves is missing."""
    if not WEBCHAT_BUNDLE.is_file():
        pytest.fail(f"The chat widget is not installed ({WEBCHAT_BUNDLE} is missing): run the project setup "
                    "(bash scripts/setup.sh), or npm ci in bot/web.", pytrace=False)


def require_chromium() -> Path:
    """The Chromium executable; fails the test (never skips) when it is not installed."""
    if not CHROMIUM_PATH.is_file():
        pytest.fail(
            f"Chromium not found at {CHROMIUM_PATH}: run the project setup (bash scripts/setup.sh, "
            "which installs Debian's chromium package) before the browser tests.",
            pytrace=False,
        )
    return CHROMIUM_PATH


@contextmanager
def launch_chromium(*, headless: bool = True) -> Iterator[Browser]:
    """Debian's Chromium, started by Playwright's sync API; closed on exit."""
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS,
                                             headless=headless)
        try:
            yield browser
        finally:
            browser.close()


def is_local_url(url: str) -> bool:
    """True for URLs that stay on this machine (loopback hosts, data: and blob: URLs)."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


def block_external_requests(target: Page | BrowserContext) -> list[str]:
    """Abort every request of `target` that is not to 127.0.0.1/localhost.

    Returns the list that the URLs of the aborted requests are appended to, so a test can check that the
    page did not even try to reach the internet.
    """
    blocked: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if is_local_url(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort("blockedbyclient")

    target.route("**/*", handle)
    return blocked
