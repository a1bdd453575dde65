"""The marketing dashboard's routes, added to the web app under /console/analytics like the console's own.

    GET /console/analytics/                          KPIs and charts for a period and channel     marketer, supervisor
    GET /console/analytics/conversations             the conversations behind a chart segment    marketer, supervisor
    GET /console/analytics/conversations/<id>        one transcript (masked for marketers)       marketer, supervisor
    GET /console/analytics/export.csv                the conversation facts as CSV (masked)      marketer, supervisor
    GET /console/analytics/static/<file>             chart.js (from npm), the page's script and style

Filters travel in the query string: from, to (ISO dates, UTC days; default the last 30 days), channel (empty:
all), and for a segment dimension + code (bot/analytics/drilldown.py). Access, CSRF (the logout form) and the
security headers (scripts from this site only) are the console's (bot/console/auth.py, app.py); agents get 403.
Marketers see customer text masked by bot.privacy.masking and never a customer number.
"""
from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from bot.analytics import charts, drilldown, export, kpis
from bot.analytics.dashboard_saves import SaveGroup, saves_by_group
from bot.analytics.drilldown import InvalidSelection, Selection
from bot.analytics.period import InvalidPeriod, Period, last_days
from bot.analytics.web import labels
from bot.console.app import CONSOLE_DIR
from bot.console.auth import access_rule, login_of
from bot.console.pages import ROLE_NAMES, in_records, settings_of
from bot.console.sessions import Login
from bot.console.transcript import read_conversation
from bot.privacy.masking import mask_text, personal_values
from bot.records.database import transaction
from bot.retention.formatting import berlin_time
from bot.settings import Settings
from bot.web.app import WEB_DIR

PREFIX = "/console/analytics"
ANALYTICS_ROLES = frozenset({"marketer", "supervisor"})
HERE = Path(__file__).resolve().parent
CHART_JS = WEB_DIR / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
STATIC_FILES = {
    "chart.js": (CHART_JS, "application/javascript"),
    "dashboard.js": (HERE / "static" / "dashboard.js", "application/javascript"),
    "dashboard.css": (HERE / "static" / "dashboard.css", "text/css"),
}
TEMPLATES_KEY = web.AppKey("analytics_templates", Environment)
DEFAULT_DAYS = 30


def today() -> date:
    return datetime.now(timezone.utc).date()


def hold_days(settings: Settings) -> int:
    """How many days an accepted offer must hold to count as a save (ANALYTICS_SAVE_HOLD_DAYS, default 30)."""
    return settings.analytics_save_hold_days


def masked_for(login: Login) -> bool:
    return login.role != "supervisor"


def _period(query: Any) -> Period:
    first, last, channel = query.get("from", ""), query.get("to", ""), query.get("channel", "") or None
    if not first and not last:
        return last_days(today(), DEFAULT_DAYS, channel)
    try:
        return Period(date.fromisoformat(first), date.fromisoformat(last), channel)
    except ValueError as error:
        if isinstance(error, InvalidPeriod):
            raise
        raise InvalidPeriod("Bitte geben Sie Anfangs- und Enddatum an.") from error


def _selection(query: Any) -> Selection:
    dimension = query.get("dimension") or None
    return Selection(dimension, query.get("code") or None) if dimension else Selection()


def _filters(period: Period, selection: Selection | None = None) -> dict[str, str]:
    values = {"from": period.first.isoformat(), "to": period.last.isoformat(), "channel": period.channel or ""}
    if selection is not None and selection.dimension:
        values |= {"dimension": selection.dimension, "code": selection.code or ""}
    return values


def render(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    body = request.app[TEMPLATES_KEY].get_template(template).render(
        company=settings_of(request).company_name, login=login_of(request), roles=ROLE_NAMES, notice=None,
        error=values.pop("error", None), label=labels.label, channels=labels.CHANNELS, **values)
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


def _parse(request: web.Request, *, with_selection: bool) -> tuple[Period, Selection]:
    try:
        period = _period(request.query)
        selection = _selection(request.query) if with_selection else Selection()
    except (InvalidPeriod, InvalidSelection) as error:
        raise web.HTTPBadRequest(text=f"{error}\n", content_type="text/plain") from error
    return period, selection


def _share_json(dimension: str, share: charts.Share) -> dict[str, Any]:
    return {"code": share.code, "label": labels.label(dimension, share.code), "conversations": share.conversations,
            "held": share.held, "pending": share.pending, "lost": share.lost, "save_rate": share.save_rate}


@access_rule(roles=ANALYTICS_ROLES)
async def dashboard_page(request: web.Request) -> web.Response:
    login, settings = login_of(request), settings_of(request)
    try:
        period, error = _period(request.query), None
    except InvalidPeriod as invalid:
        period, error = last_days(today(), DEFAULT_DAYS), str(invalid)
    judged = {"today": today(), "hold_days": hold_days(settings)}
    mask = mask_text if masked_for(login) else (lambda text: text)

    def load_days(session: Session) -> list[dict[str, Any]]:
        return [{"day": p.day.isoformat(), "conversations": p.conversations, "intents": p.cancellation_intents,
                 "dissatisfaction": p.dissatisfaction} for p in charts.per_day(session, period)]

    def load_breakdown(session: Session, saves: list[SaveGroup]) -> dict[str, Any]:
        found = charts.breakdown(session, period, saves=saves, **judged)
        return {"reasons": [_share_json("reason", s) for s in found.reasons],
                "funnel": [_share_json("step", s) for s in found.funnel],
                "save_rate": {dimension: [_share_json(dimension, s) for s in shares]
                              for dimension, shares in found.save_rate.items()}}

    # Independent reads, each in its own transaction and thread, so that both cores work on one page. The period's
    # accepted offers (save status, revenue) are read once, then used by the key figures and the save charts.
    saves, days, fallbacks = await asyncio.gather(
        in_records(request, lambda session: saves_by_group(session, period, **judged)),
        in_records(request, load_days),
        in_records(request, lambda session: [asdict(f) for f in charts.top_fallbacks(session, period, mask=mask)]))
    figures, breakdown = await asyncio.gather(
        in_records(request, lambda session: kpis.kpis(session, period, saves=saves, **judged)),
        in_records(request, lambda session: load_breakdown(session, saves)))
    data = {"days": days, **breakdown, "fallbacks": fallbacks}
    rows = [{"name": k.name, "label": labels.KPI_LABELS[k.name], "value": labels.kpi_value(k.name, k.current),
             "previous": labels.kpi_value(k.name, k.previous), "change": labels.kpi_change(k.name, k.change)}
            for k in figures]
    filters = _filters(period)
    data["query"] = urlencode(filters)
    return render(request, "dashboard.html", error=error, period=period, previous=period.previous(), kpis=rows,
                  data=data, filters=filters, query=data["query"], hold=judged["hold_days"])


@access_rule(roles=ANALYTICS_ROLES)
async def conversations_page(request: web.Request) -> web.Response:
    period, selection = _parse(request, with_selection=True)
    page = int(request.query["page"]) if request.query.get("page", "").isdigit() else 1
    judged = {"today": today(), "hold_days": hold_days(settings_of(request))}
    rows, more = await in_records(request, lambda session: drilldown.conversations(
        session, period, selection, page=page, **judged))
    filters = _filters(period, selection)
    return render(request, "conversations.html", period=period, selection=selection, rows=rows, page=page,
                  more=more, query=urlencode(filters), back=urlencode(_filters(period)),
                  dimension_label=labels.DIMENSIONS.get(selection.dimension or "", ""),
                  code_label=labels.label(selection.dimension or "", selection.code))


@access_rule(roles=ANALYTICS_ROLES)
async def transcript_page(request: web.Request) -> web.Response:
    login, settings = login_of(request), settings_of(request)
    conversation_id = request.match_info["conversation_id"]
    masked = masked_for(login)

    def known(session: Session) -> tuple[bool, list[str]]:
        found, customer_id = drilldown.customer_of(session, conversation_id)
        return found, (personal_values(session, customer_id) if found and customer_id and masked else [])

    found, values = await in_records(request, known)
    if not found:
        raise web.HTTPNotFound(text="Zu diesem Gespräch gibt es keine Auswertung.\n", content_type="text/plain")

    def transcript() -> Any:
        with transaction(settings.tracker_store_url) as session:
            return read_conversation(session, conversation_id=conversation_id)

    conversation = await asyncio.to_thread(transcript)
    lines = [{"author": line.author, "agent_name": line.agent_name, "time": f"{berlin_time(line.at):%d.%m. %H:%M}",
              "text": mask_text(line.text, known_values=values) if masked else line.text}
             for line in conversation.lines]
    return render(request, "transcript.html", conversation_id=conversation_id, lines=lines, masked=masked,
                  back=request.query.get("back", ""))


@access_rule(roles=ANALYTICS_ROLES)
async def export_csv(request: web.Request) -> web.Response:
    period, selection = _parse(request, with_selection=True)
    masked = masked_for(login_of(request))
    judged = {"today": today(), "hold_days": hold_days(settings_of(request))}
    body = await in_records(request, lambda session: export.to_csv(export.fact_rows(
        session, period, selection, masked=masked, **judged)))
    name = f"gespraeche-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return web.Response(body=body.encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@access_rule(roles=None, page=False)
async def static_file(request: web.Request) -> web.StreamResponse:
    entry = STATIC_FILES.get(request.match_info["name"])
    if entry is None or not entry[0].is_file():
        raise web.HTTPNotFound(text="Nicht gefunden.\n" if entry is None else
                               "chart.js ist nicht installiert: npm ci in bot/web ausführen.\n",
                               content_type="text/plain")
    path, content_type = entry
    return web.Response(body=path.read_bytes(), content_type=content_type,
                        headers={"Cache-Control": "private, max-age=300"})


@access_rule(roles=ANALYTICS_ROLES)
async def analytics_root(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect(PREFIX + "/")


def install_analytics(app: web.Application, settings: Settings) -> None:
    """Add the dashboard's routes to `app` (which already has the console, for login, roles and CSRF)."""
    del settings  # read per request from the console's settings (one source for both)
    app[TEMPLATES_KEY] = Environment(
        loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(CONSOLE_DIR / "templates")]),
        autoescape=True, undefined=StrictUndefined)
    router = app.router
    router.add_get(PREFIX, analytics_root, allow_head=False)
    router.add_get(PREFIX + "/", dashboard_page, allow_head=False)
    router.add_get(PREFIX + "/conversations", conversations_page, allow_head=False)
    router.add_get(PREFIX + "/conversations/{conversation_id:[^/]{1,120}}", transcript_page, allow_head=False)
    router.add_get(PREFIX + "/export.csv", export_csv, allow_head=False)
    router.add_get(PREFIX + "/static/{name}", static_file, allow_head=False)
