"""Demo website with the chat widget, served by aiohttp.

    python -m bot.web.app      serve on WEB_HOST:WEB_PORT (see bot.settings)

Routes:
    GET /                  the company's demo page with the chat widget (templates/demo.html) and tariff
                           cards from the plan catalog, so the page and the assistant name the same prices
    GET /static/webchat.js the rasa-webchat bundle from node_modules (installed by `npm ci` in bot/web)
    GET /healthz           {"status": "ok"}
    GET /datenschutz       the short privacy notice the assistant's first message links to (PRIVACY_URL)
    GET /kuendigung/<confirmation number>.txt?expires=…&token=…
                           the cancellation declaration with its time of receipt as a plain-text file, only
                           with a link signed by DOWNLOAD_LINK_SECRET that has not expired (403 otherwise)
    /console/...           the agent console (bot/console), for logged-in service agents only
    /console/analytics/... the marketing dashboard (bot/analytics/web), for marketers and supervisors

The widget talks to the Rasa server's socket.io channel at `settings.rasa_public_url` directly from the
browser; this app serves files and, for a signed link, one cancellation confirmation from the records. The page loads nothing from anywhere else: the widget bundle's CSS
imports a web font from Google Fonts, and that import is removed when the bundle is served.
"""
from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.assistant.receipt import declaration_file, link_is_valid
from bot.records.catalog import PLANS
from bot.records.database import transaction
from bot.retention.formatting import euro
from bot.settings import Settings, get_settings

logger = logging.getLogger("bot.web")

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_PATH = WEB_DIR / "templates" / "demo.html"
WEBCHAT_BUNDLE = WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"

MISSING_BUNDLE_MESSAGE = (
    "The chat widget is not installed: {path} is missing.\n"
    "Run the project setup (bash scripts/setup.sh), or in bot/web: npm ci\n"
)

# CSS `@import url(http://...)` / `@import url(//...)` in the bundle's style strings (rasa-webchat 1.0.1
# imports the "Inter" font from fonts.googleapis.com in every stylesheet it injects).
_EXTERNAL_CSS_IMPORT = re.compile(r"""@import\s+url\(\s*["']?(?:https?:)?//[^)]*\)\s*;?""")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")

# The plans shown as cards on the demo page (codes from bot.records.catalog.PLANS), and the one highlighted.
SHOWN_PLANS = ("MOBIL_S", "MOBIL_M", "MOBIL_L", "DSL_250")
FEATURED_PLAN = "MOBIL_M"
CATEGORY_NAMES = {"mobile": "Mobilfunk", "internet": "Internet"}


def js_literal(value: object) -> str:
    """`value` as a JavaScript literal that is safe inside an inline <script> element."""
    return (
        json.dumps(value)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def render(template: str, *, html_values: dict[str, str], js_values: dict[str, object],
           markup_values: dict[str, str] | None = None) -> str:
    """Fill `{{ name }}` placeholders: HTML-escaped text, JavaScript literals (JSON) for names in js_values,
    and for names in markup_values HTML that this module built itself from escaped parts."""
    values = {name: html.escape(value, quote=True) for name, value in html_values.items()}
    values.update({name: js_literal(value) for name, value in js_values.items()})
    values.update(markup_values or {})

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template placeholder {{{{ {name} }}}} has no value")
        return values[name]

    return _PLACEHOLDER.sub(substitute, template)


def strip_external_imports(bundle: str) -> str:
    """The widget bundle without CSS imports of external stylesheets (web fonts)."""
    return _EXTERNAL_CSS_IMPORT.sub("", bundle)


@dataclass
class _BundleCache:
    path: Path
    mtime_ns: int | None = None
    body: bytes = b""

    def load(self) -> bytes | None:
        """The served bundle, re-read when the file changed; None when it is not installed."""
        try:
            mtime_ns = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if mtime_ns != self.mtime_ns:
            text = self.path.read_text(encoding="utf-8")
            self.body = strip_external_imports(text).encode("utf-8")
            self.mtime_ns = mtime_ns
        return self.body


SETTINGS_KEY = web.AppKey("settings", Settings)
PAGE_KEY = web.AppKey("page", str)
BUNDLE_KEY = web.AppKey("webchat_bundle", _BundleCache)

_COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def tariff_cards(plans: tuple[dict, ...] = PLANS, *, shown: tuple[str, ...] = SHOWN_PLANS,
                 featured: str = FEATURED_PLAN) -> str:
    """HTML cards for the `shown` plans: name, the description's first part as the headline, the rest as
    bullet points, and the monthly price, all escaped."""
    by_code = {plan["code"]: plan for plan in plans}
    cards = []
    for code in shown:
        plan = by_code[code]
        headline, *features = (part.strip() for part in plan["description"].split(","))
        badge = '<span class="badge">Beliebt</span>' if code == featured else ""
        items = "".join(f"<li>{html.escape(feature)}</li>" for feature in features)
        cards.append(
            f'<article class="card{" featured" if code == featured else ""}" data-plan="{html.escape(code)}">{badge}'
            f'<p class="kind">{html.escape(CATEGORY_NAMES.get(plan["category"], plan["category"]))}</p>'
            f'<h3>{html.escape(plan["name"])}</h3><p class="volume">{html.escape(headline)}</p>'
            f'<ul>{items}</ul><p class="price">{html.escape(euro(plan["monthly_price_cents"]))} '
            '<small>/ Monat</small></p></article>'
        )
    return "\n".join(cards)


def render_demo_page(settings: Settings, template: str) -> str:
    return render(
        template,
        html_values={
            "company_name": settings.company_name,
            "socket_url": settings.rasa_public_url,
            "year": str(date.today().year),
        },
        js_values={"socket_url_js": settings.rasa_public_url},
        markup_values={"tariff_cards": tariff_cards()},
    )


async def demo_page(request: web.Request) -> web.Response:
    return web.Response(text=request.app[PAGE_KEY], content_type="text/html", charset="utf-8",
                        headers={**_COMMON_HEADERS, "Cache-Control": "no-cache"})


async def webchat_bundle(request: web.Request) -> web.Response:
    cache = request.app[BUNDLE_KEY]
    body = cache.load()
    if body is None:
        logger.warning("Chat widget bundle missing at %s: run npm ci in bot/web", cache.path)
        return web.Response(status=503, text=MISSING_BUNDLE_MESSAGE.format(path=cache.path),
                            content_type="text/plain", charset="utf-8", headers=_COMMON_HEADERS)
    response = web.Response(body=body, content_type="application/javascript", charset="utf-8",
                            headers={**_COMMON_HEADERS, "Cache-Control": "no-cache"})
    response.enable_compression()
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


PRIVACY_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Datenschutzhinweise – {company}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>
<h1>Datenschutzhinweise zum Kundenservice-Chat</h1>
<p>Verantwortlich: {company}. Der Chat wird von einem automatischen Assistenten beantwortet, nicht von einem
Menschen; auf Wunsch verbindet er Sie mit einer Mitarbeiterin oder einem Mitarbeiter.</p>
<p>Wir verarbeiten, was Sie im Chat schreiben, um Ihr Anliegen zu bearbeiten (Art. 6 Abs. 1 lit. b DSGVO),
etwa Fragen zu Vertrag und Rechnung oder eine Kündigung. Zur Identifizierung fragen wir nur Ihre Kundennummer
und Ihre Postleitzahl oder Ihr Geburtsdatum; diese Angabe wird nach der Prüfung nicht im Gesprächsverlauf
gespeichert. Kündigungen und ihre Bestätigungen bewahren wir als Nachweis auf (Art. 6 Abs. 1 lit. c DSGVO).</p>
<p>Sie haben das Recht auf Auskunft, Berichtigung, Löschung, Einschränkung der Verarbeitung,
Datenübertragbarkeit und Widerspruch sowie auf Beschwerde bei einer Datenschutz-Aufsichtsbehörde.</p>
<p><a href="/">Zurück zur Startseite</a></p>
</main></body></html>
"""


async def privacy_page(request: web.Request) -> web.Response:
    company = html.escape(request.app[SETTINGS_KEY].company_name)
    return web.Response(text=PRIVACY_PAGE.format(company=company), content_type="text/html", charset="utf-8",
                        headers=_COMMON_HEADERS)


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", content_type="text/plain", charset="utf-8",
                        headers={**_COMMON_HEADERS, "Cache-Control": "no-store"})


async def cancellation_download(request: web.Request) -> web.Response:
    """GET /kuendigung/<confirmation number>.txt?expires=…&token=…: the declaration as a plain-text file
    (§ 312k Abs. 3 BGB). A forged or expired link gets 403 and learns nothing about the number."""
    settings = request.app[SETTINGS_KEY]
    number = request.match_info["number"]
    moment = datetime.now(timezone.utc)
    if not link_is_valid(settings.download_link_secret, number, request.query.get("expires"),
                         request.query.get("token"), now=moment):
        return _plain(403, "Dieser Link ist ungültig oder abgelaufen. Ihre Kündigungsbestätigung haben Sie auch "
                           "per E-Mail erhalten; im Chat können Sie jederzeit nach ihr fragen.")

    def load() -> str | None:
        with transaction(settings.database_url) as session:
            return declaration_file(session, number=number, company=settings.company_name)

    try:
        body = await asyncio.to_thread(load)
    except SQLAlchemyError:
        logger.warning("Cancellation download %s: records unavailable", number)
        return _plain(503, "Die Bestätigung ist gerade nicht abrufbar. Bitte versuchen Sie es später noch einmal.")
    if body is None:
        return _plain(404, "Zu diesem Link gibt es keine Kündigungsbestätigung.")
    return web.Response(text=body, content_type="text/plain", charset="utf-8", headers={
        **_COMMON_HEADERS, "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="Kuendigungsbestaetigung-{number}.txt"'})


def create_app(settings: Settings, *, bundle_path: Path = WEBCHAT_BUNDLE,
               console_rasa_api: object | None = None) -> web.Application:
    """The web application for `settings`; `bundle_path` is the rasa-webchat bundle to serve; the console
    talks to Rasa through `console_rasa_api` (default: bot.handoff.rasa_api.RasaApi)."""
    from bot.analytics.web import install_analytics
    from bot.console import install_console

    app = web.Application()
    app[SETTINGS_KEY] = settings
    app[PAGE_KEY] = render_demo_page(settings, TEMPLATE_PATH.read_text(encoding="utf-8"))
    app[BUNDLE_KEY] = _BundleCache(bundle_path)
    app.router.add_get("/", demo_page)
    app.router.add_get("/static/webchat.js", webchat_bundle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/datenschutz", privacy_page)
    app.router.add_get(r"/kuendigung/{number:KB-[A-Z0-9]{8}}.txt", cancellation_download)
    install_console(app, settings, rasa_api=console_rasa_api)
    install_analytics(app, settings)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    app = create_app(settings)
    if not WEBCHAT_BUNDLE.exists():
        logger.warning(MISSING_BUNDLE_MESSAGE.format(path=WEBCHAT_BUNDLE).strip())
    logger.info("Demo website of %s at http://%s:%s/ (chat connects to %s)",
                settings.company_name, settings.web_host, settings.web_port, settings.rasa_public_url)
    web.run_app(app, host=settings.web_host, port=settings.web_port, print=None)


if __name__ == "__main__":
    main()
