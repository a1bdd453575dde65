"""The console's pages and form actions (aiohttp handlers; the rules live in bot/handoff and bot/assistant).

Every handler states who may use it (`access_rule`); bot/console/auth.py enforces it, and CSRF on POSTs.
Database work runs in a thread (asyncio.to_thread), one transaction each; Rasa is called afterwards
(pause on take, resume on hand back and close, the agent's message on reply).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.messaging_records import console_failed
from bot.channels.whatsapp.store import console_view as whatsapp_console_view
from bot.console import actions, csrf, labels
from bot.console.auth import (
    AGENT_ROLES,
    COOKIE,
    SUPERVISOR_ROLES,
    access_rule,
    clear_cookie,
    lifetime,
    login_of,
    now,
    requester,
    set_cookie,
)
from bot.console.records import conversation_insight, customer_records
from bot.console.sessions import Login, end_session, start_session
from bot.console.transcript import read_conversation
from bot.handoff import queue
from bot.handoff.queue import HandoffError
from bot.records.database import transaction
from bot.records.models import HandoffRequest, StaffUser
from bot.retention.formatting import berlin_date, berlin_time
from bot.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

SETTINGS_KEY = web.AppKey("console_settings", Settings)
TEMPLATES_KEY = web.AppKey("console_templates", Environment)
RASA_KEY = web.AppKey("console_rasa", object)  # bot.console.app.RasaConnection

ROLE_NAMES = {"agent": "Agent", "supervisor": "Supervisor", "marketer": "Marketing"}
AUTHOR_NAMES = {"customer": "Kunde", "assistant": "Assistent"}
NOTICES = {
    "taken": "Sie haben das Gespräch übernommen. Der Assistent schweigt, bis Sie es zurückgeben oder abschließen.",
    "sent": "Nachricht gesendet.",
    "closed": "Gespräch abgeschlossen.",
    "handed_back": "Gespräch an den Assistenten zurückgegeben.",
    "reassigned": "Gespräch neu zugewiesen.",
    "offer_applied": "Angebot angewendet; der Kunde hat die Bestätigung erhalten.",
    "cancelled": "Kündigung ausgeführt; der Kunde hat die Bestätigung erhalten.",
    "complaint": "Beschwerde notiert; der Kunde hat die Vorgangsnummer erhalten.",
}
MAX_REPLY = 2000
HOME_PAGES = {"marketer": "/console/analytics/"}  # where a login lands (agents and supervisors: the queue)


def settings_of(request: web.Request) -> Settings:
    return request.app[SETTINGS_KEY]


async def in_records(request: web.Request, work: Callable[[Session], T]) -> T:
    """Run `work` in one records transaction in a worker thread."""
    url = settings_of(request).database_url

    def run() -> T:
        with transaction(url) as session:
            return work(session)

    return await asyncio.to_thread(run)


def render(request: web.Request, template: str, *, status: int = 200, login: Login | None = None,
           **values: Any) -> web.Response:
    environment = request.app[TEMPLATES_KEY]
    notice = NOTICES.get(request.query.get("done", ""))
    body = environment.get_template(template).render(
        company=settings_of(request).company_name, login=login, roles=ROLE_NAMES, notice=notice,
        error=values.pop("error", None), **values)
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


def forbidden_page(request: web.Request, login: Login) -> web.Response:
    return render(request, "forbidden.html", status=403, login=login)


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


# --- login -------------------------------------------------------------------------------------------------

def _login_form(request: web.Request, *, status: int = 200, error: str | None = None,
                username: str = "") -> web.Response:
    token = csrf.new_token()
    response = render(request, "login.html", status=status, error=error, username=username, login_csrf=token)
    set_cookie(response, csrf.LOGIN_COOKIE, token, settings_of(request))
    return response


@access_rule(roles=None)
async def login_form(request: web.Request) -> web.Response:
    return _login_form(request)


@access_rule(roles=None)
async def login_submit(request: web.Request) -> web.StreamResponse:
    from bot.handoff.users import LoginLimits, TooManyAttempts, authenticate

    settings = settings_of(request)
    form = await request.post()
    if not csrf.tokens_match(request.cookies.get(csrf.LOGIN_COOKIE), form.get(csrf.FIELD)):  # type: ignore[arg-type]
        return _login_form(request, status=403, error="Die Anmeldeseite war veraltet. Bitte versuchen Sie es erneut.")
    username = str(form.get("username", "")).strip()[:80]
    password = str(form.get("password", ""))
    client = requester(request, settings)

    def check(session: Session) -> tuple[str, str] | None:
        user = authenticate(session, username=username, password=password, client_key=client, now=now(),
                            limits=LoginLimits.from_settings(settings))
        return None if user is None else (start_session(session, user_id=user.id, now=now(),
                                                         lifetime=lifetime(settings)), user.role)

    try:
        started = await in_records(request, check)
    except TooManyAttempts as refused:
        response = _login_form(request, status=429, username=username, error=str(refused))
        response.headers["Retry-After"] = str(refused.retry_after_seconds)
        return response
    if started is None:
        return _login_form(request, status=401, username=username,
                           error="Benutzername oder Passwort ist falsch.")
    token, role = started
    response = web.HTTPSeeOther(HOME_PAGES.get(role, "/console/"))
    set_cookie(response, COOKIE, token, settings)
    clear_cookie(response, csrf.LOGIN_COOKIE)
    raise response


@access_rule(roles=frozenset({"agent", "supervisor", "marketer"}))
async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(COOKIE)
    await in_records(request, lambda session: end_session(session, token=token, now=now()))
    response = web.HTTPSeeOther("/console/login")
    clear_cookie(response, COOKIE)
    raise response


# --- lists -------------------------------------------------------------------------------------------------

@access_rule(roles=AGENT_ROLES)
async def queue_page(request: web.Request) -> web.Response:
    login = login_of(request)

    def load(session: Session) -> tuple[list, list]:
        moment = now()
        return ([labels.entry_json(e) for e in queue.waiting_queue(session, now=moment)],
                [labels.entry_json(e) for e in queue.conversations_of(session, agent_id=login.user_id, now=moment)])

    waiting, mine = await in_records(request, load)
    return render(request, "queue.html", login=login, waiting=waiting, mine=mine)


@access_rule(roles=AGENT_ROLES)
async def mine_page(request: web.Request) -> web.Response:
    login = login_of(request)
    mine = await in_records(request, lambda session: [
        labels.entry_json(e) for e in queue.conversations_of(session, agent_id=login.user_id, now=now())])
    return render(request, "mine.html", login=login, mine=mine)


def _agents(session: Session) -> list[dict[str, Any]]:
    users = session.scalars(select(StaffUser).where(StaffUser.active.is_(True),
                                                    StaffUser.role.in_(tuple(AGENT_ROLES)))
                            .order_by(StaffUser.first_name))
    return [{"id": user.id, "first_name": user.first_name, "username": user.username} for user in users]


@access_rule(roles=SUPERVISOR_ROLES)
async def all_page(request: web.Request) -> web.Response:
    login = login_of(request)

    def load(session: Session) -> tuple[list, list]:
        return [labels.entry_json(e) for e in queue.all_active(session, now=now())], _agents(session)

    entries, agents = await in_records(request, load)
    return render(request, "all.html", login=login, entries=entries, agents=agents)


# --- one conversation --------------------------------------------------------------------------------------

def _handoff_id(request: web.Request) -> int:
    return int(request.match_info["handoff_id"])


def _curve(points: list) -> str:
    if len(points) < 2:
        return ""
    step = 200 / (len(points) - 1)
    return " ".join(f"{i * step:.1f},{60 - 58 * min(max(p.score, 0.0), 1.0):.1f}" for i, p in enumerate(points))


async def _conversation(request: web.Request, *, status: int = 200, error: str | None = None,
                        retry: str | None = None) -> web.Response:
    """The conversation page; `retry` ("take" | "resume") offers to repeat a call to Rasa that failed."""
    login = login_of(request)
    handoff_id = _handoff_id(request)
    settings = settings_of(request)
    offer_contract = request.query.get("offer_contract", "")

    def load(session: Session) -> dict[str, Any] | None:
        handoff = session.get(HandoffRequest, handoff_id)
        if handoff is None:
            return None
        moment = now()
        owner = handoff.assigned_agent.first_name if handoff.assigned_agent else None
        if handoff.status == "taken" and handoff.assigned_agent_id == login.user_id:
            state = "mine"
        else:
            state = handoff.status if handoff.status != "taken" else "other"
        records = (customer_records(session, customer_id=handoff.customer_id, today=berlin_date(moment), now=moment)
                   if handoff.customer_id else None)
        offer = None
        if state == "mine" and records and offer_contract.isdigit():
            try:
                found = actions.offer_for(session, handoff_id=handoff.id, agent_id=login.user_id,
                                          contract_id=int(offer_contract), reason=None, now=moment)
            except HandoffError:
                found = None
            offer = {"contract_id": int(offer_contract), "code": found[0] if found else None,
                     "text": found[1] if found else None}
        session.expunge(handoff)
        return {"handoff": handoff, "owner": owner, "state": state, "records": records, "offer": offer,
                "insight": conversation_insight(session, conversation_id=handoff.conversation_id),
                "whatsapp": whatsapp_console_view(session, handoff.conversation_id, moment),
                "channel_failed": console_failed(session, handoff.conversation_id),
                "agents": _agents(session) if login.role == "supervisor" else [],
                "waiting": labels.waiting_label(queue.waiting_seconds(handoff, now=moment))}

    values = await in_records(request, load)
    if values is None:
        raise web.HTTPNotFound(text="Diesen Vorgang gibt es nicht.")
    handoff = values["handoff"]

    def transcript() -> Any:
        with transaction(settings.tracker_store_url) as session:
            return read_conversation(session, conversation_id=handoff.conversation_id)

    conversation = await asyncio.to_thread(transcript)
    lines = [{"event_id": line.event_id, "author": line.author, "agent_name": line.agent_name, "text": line.text,
              "time": f"{berlin_time(line.at):%H:%M}"} for line in conversation.lines]
    return render(request, "conversation.html", status=status, login=login, error=error, retry=retry, lines=lines,
                  last_event_id=conversation.last_event_id, curve=_curve(conversation.dissatisfaction),
                  reason=labels.reason_label(handoff.reason), channel=labels.CHANNELS.get(handoff.channel, handoff.channel),
                  resolution=labels.RESOLUTIONS.get(handoff.resolution or "", handoff.resolution or ""),
                  statuses=labels.STATUSES, priorities=labels.PRIORITIES, resolutions=labels.RESOLUTIONS,
                  segments=labels.SEGMENTS, complaint_categories=labels.COMPLAINT_CATEGORIES,
                  author_names=AUTHOR_NAMES, **values)


@access_rule(roles=AGENT_ROLES)
async def conversation_page(request: web.Request) -> web.Response:
    return await _conversation(request)


def _done(request: web.Request, code: str) -> web.HTTPSeeOther:
    return see_other(f"/console/conversations/{_handoff_id(request)}?done={code}")


async def _rasa(request: web.Request, what: str, call: Callable[[Any], Any]) -> str | None:
    """Call Rasa; None when it worked, else what the agent is told."""
    try:
        await call(request.app[RASA_KEY].get())
    except Exception:  # any failure of the call: the agent is told, the handoff stays as recorded
        logger.exception("Rasa call failed: %s", what)
        return f"Der Assistent war nicht erreichbar ({what}). Bitte versuchen Sie es gleich noch einmal."
    return None


@access_rule(roles=AGENT_ROLES)
async def take(request: web.Request) -> web.StreamResponse:
    login = login_of(request)
    handoff_id = _handoff_id(request)

    def work(session: Session) -> str:
        handoff = session.get(HandoffRequest, handoff_id)
        if handoff is not None and handoff.status == "taken" and handoff.assigned_agent_id == login.user_id:
            return handoff.conversation_id  # taken before, but pausing the assistant failed: pause again
        return queue.take(session, handoff_id=handoff_id, agent_id=login.user_id, now=now()).conversation_id

    try:
        conversation_id = await in_records(request, work)
    except HandoffError as error:
        return await _conversation(request, status=409, error=str(error))
    problem = await _rasa(request, "Pause", lambda api: api.pause(conversation_id, login.first_name))
    if problem:
        return await _conversation(request, status=502, error="Das Gespräch ist Ihnen zugewiesen, aber der "
                                   "Assistent ist noch nicht angehalten. " + problem, retry="take")
    raise _done(request, "taken")


async def _send_to_customer(request: web.Request, handoff_id: int, text: str) -> str | None:
    """Store the agent's message (outbox), hand it (and any earlier one Rasa did not take) to Rasa, mark them
    sent; None when all went out, else what the agent is told (the message stays stored, and the web app
    hands it to Rasa by itself once Rasa is reachable again: bot.console.delivery)."""
    from bot.console.delivery import send_pending
    from bot.handoff.messages import record_agent_message

    login = login_of(request)

    def store(session: Session) -> None:
        record_agent_message(session, handoff_id=handoff_id, agent_id=login.user_id, text=text, now=now())

    await in_records(request, store)
    problem = await send_pending(request.app, settings_of(request), request.app[RASA_KEY], handoff_id=handoff_id)
    if problem is None:
        return None
    return ("Der Assistent war nicht erreichbar (Nachricht). Sie wird automatisch zugestellt, sobald er wieder "
            "erreichbar ist.")


@access_rule(roles=AGENT_ROLES)
async def reply(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("text", "")).strip()
    if not text:
        return await _conversation(request, status=400, error="Bitte schreiben Sie eine Nachricht.")
    if len(text) > MAX_REPLY:
        return await _conversation(request, status=400, error=f"Höchstens {MAX_REPLY} Zeichen.")
    try:
        problem = await _send_to_customer(request, _handoff_id(request), text)
    except HandoffError as error:
        return await _conversation(request, status=409, error=str(error))
    if problem:
        return await _conversation(request, status=502, error="Die Nachricht ist gespeichert, aber noch nicht "
                                   "zugestellt. " + problem)
    raise _done(request, "sent")


async def _finish(request: web.Request, work: Callable[[Session, Login], HandoffRequest], code: str) -> web.StreamResponse:
    login = login_of(request)
    try:
        conversation_id = await in_records(request, lambda session: work(session, login).conversation_id)
    except HandoffError as error:
        return await _conversation(request, status=409, error=str(error))
    problem = await _rasa(request, "Fortsetzen", lambda api: api.resume(conversation_id))
    if problem:
        return await _conversation(request, status=502, error="Das Gespräch ist abgeschlossen, aber der Assistent "
                                   "antwortet noch nicht wieder. " + problem, retry="resume")
    raise _done(request, code)


@access_rule(roles=AGENT_ROLES)
async def resume(request: web.Request) -> web.StreamResponse:
    """Let the assistant answer again after closing, when that failed (Rasa was not reachable)."""
    login = login_of(request)
    handoff_id = _handoff_id(request)

    def work(session: Session) -> str:
        handoff = session.get(HandoffRequest, handoff_id)
        if handoff is None or handoff.status != "closed" or (
                handoff.assigned_agent_id != login.user_id and login.role != "supervisor"):
            raise HandoffError("Nur ein abgeschlossenes Gespräch, das Sie bearbeitet haben, kann an den Assistenten "
                               "zurückgehen.")
        return handoff.conversation_id

    try:
        conversation_id = await in_records(request, work)
    except HandoffError as error:
        return await _conversation(request, status=409, error=str(error))
    problem = await _rasa(request, "Fortsetzen", lambda api: api.resume(conversation_id))
    if problem:
        return await _conversation(request, status=502, error=problem, retry="resume")
    raise _done(request, "handed_back")


@access_rule(roles=AGENT_ROLES)
async def close(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    resolution = str(form.get("resolution", ""))
    note = str(form.get("note", "")).strip() or None
    if resolution not in labels.RESOLUTIONS:
        return await _conversation(request, status=400, error="Bitte wählen Sie ein Ergebnis.")
    return await _finish(request, lambda session, login: queue.close(
        session, handoff_id=_handoff_id(request), agent_id=login.user_id, resolution=resolution, note=note,
        now=now()), "closed")


@access_rule(roles=AGENT_ROLES)
async def hand_back(request: web.Request) -> web.StreamResponse:
    return await _finish(request, lambda session, login: queue.hand_back(
        session, handoff_id=_handoff_id(request), agent_id=login.user_id, now=now()), "handed_back")


@access_rule(roles=SUPERVISOR_ROLES)
async def reassign(request: web.Request) -> web.StreamResponse:
    login = login_of(request)
    form = await request.post()
    try:
        handoff_id, to_agent_id = int(str(form.get("handoff_id"))), int(str(form.get("to_agent_id")))
    except ValueError:
        raise web.HTTPBadRequest(text="Vorgang und Agent angeben.") from None

    def work(session: Session) -> tuple[str, str, bool]:
        handoff = queue.reassign(session, handoff_id=handoff_id, supervisor_id=login.user_id,
                                 to_agent_id=to_agent_id, now=now())
        return handoff.conversation_id, session.get(StaffUser, to_agent_id).first_name, handoff.status == "taken"

    try:
        conversation_id, first_name, taken = await in_records(request, work)
    except HandoffError as error:
        raise web.HTTPConflict(text=str(error)) from None
    if taken:  # the customer sees the new agent's name from now on
        await _rasa(request, "Pause", lambda api: api.pause(conversation_id, first_name))
    raise see_other(f"/console/conversations/{handoff_id}?done=reassigned")


async def _customer_action(request: web.Request, work: Callable[[Session, Login, Any], actions.Done],
                           code: str) -> web.StreamResponse:
    login = login_of(request)
    form = await request.post()
    try:
        done = await in_records(request, lambda session: work(session, login, form))
    except (HandoffError, LookupError, ValueError) as error:
        return await _conversation(request, status=409, error=str(error))
    problem = await _send_to_customer(request, _handoff_id(request), done.customer_text)
    if problem:
        return await _conversation(request, status=502, error="Erledigt, aber die Bestätigung ist noch nicht beim "
                                   "Kunden angekommen. " + problem)
    raise _done(request, code)


def _int(form: Any, name: str) -> int:
    try:
        return int(str(form.get(name, "")))
    except ValueError:
        raise actions.ActionRefused("Bitte wählen Sie einen Vertrag.") from None


@access_rule(roles=AGENT_ROLES)
async def apply_offer(request: web.Request) -> web.StreamResponse:
    return await _customer_action(request, lambda session, login, form: actions.apply_offer(
        session, handoff_id=_handoff_id(request), agent_id=login.user_id, contract_id=_int(form, "contract_id"),
        offer_code=str(form.get("offer_code", "")), reason=None, now=now()), "offer_applied")


@access_rule(roles=AGENT_ROLES)
async def cancel(request: web.Request) -> web.StreamResponse:
    company = settings_of(request).company_name
    return await _customer_action(request, lambda session, login, form: actions.process_cancellation(
        session, handoff_id=_handoff_id(request), agent_id=login.user_id, contract_id=_int(form, "contract_id"),
        reason=None, now=now(), company=company), "cancelled")


@access_rule(roles=AGENT_ROLES)
async def complaint(request: web.Request) -> web.StreamResponse:
    return await _customer_action(request, lambda session, login, form: actions.note_complaint(
        session, handoff_id=_handoff_id(request), agent_id=login.user_id, category=str(form.get("category", "")),
        description=str(form.get("description", "")), now=now()), "complaint")
