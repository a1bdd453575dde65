"""Audit export of one conversation, for disputes: `python -m bot.cli audit-export <conversation_id>`.

What the assistant showed (its messages, the buttons offered, in particular the cancel-now button, and when),
what the customer wrote or chose (a button's title for a click), the offers made and how the customer
decided, the cancellation declared and its confirmation number, and the confirmation e-mails queued and
sent, each with its time (UTC, ISO 8601). Read from the tracker store (where verification answers and
callback phone numbers are already redacted) and the records. Agents' messages are marked as such.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import or_, select

from bot.privacy.event_tables import EventTable
from bot.records.database import transaction
from bot.records.models import Cancellation, CancellationRequest, Contract, OfferDecision, OutboxEmail
from bot.retention.formatting import berlin_time

CANCEL_NOW_PAYLOAD = "/cancel_now"
# Slots whose changes say what the customer chose or declared (no secrets: those are redacted anyway).
DECISION_SLOTS = ("cancellation_reason", "contract_number", "cancellation_kind", "extraordinary_reason",
                  "requested_end_date", "offer_code", "offer_pending", "rating", "verified_customer")


@dataclass
class TimelineEntry:
    at: str
    actor: str  # assistant | agent | customer | system
    kind: str  # message | button_click | slot
    text: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    cancel_now_button: bool = False
    intent: str | None = None
    slot: str | None = None
    value: Any = None


@dataclass
class AuditExport:
    conversation_id: str
    exported_at: str
    started_at: str | None
    ended_at: str | None
    timeline: list[TimelineEntry]
    cancel_now_button_shown_at: list[str]
    offers: list[dict[str, Any]]
    cancellations: list[dict[str, Any]]
    cancellation_requests: list[dict[str, Any]]
    emails: list[dict[str, Any]]


def _iso(moment: float | datetime | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
    return datetime.fromtimestamp(float(moment), tz=timezone.utc).isoformat()


def _timeline(events: list[dict[str, Any]]) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    button_titles: dict[str, str] = {}
    for event in events:
        kind, at = event.get("event"), _iso(event.get("timestamp"))
        if kind == "bot":
            data = event.get("data") or {}
            buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                       for b in data.get("buttons") or [] if isinstance(b, dict)]
            button_titles.update({b["payload"]: b["title"] for b in buttons})
            metadata = event.get("metadata") or {}
            actor = "agent" if metadata.get("agent") or metadata.get("agent_name") else "assistant"
            entries.append(TimelineEntry(at=at or "", actor=actor, kind="message", text=event.get("text"),
                                         buttons=buttons, cancel_now_button=any(
                                             b["payload"].startswith(CANCEL_NOW_PAYLOAD) for b in buttons)))
        elif kind == "user":
            text = event.get("text") or ""
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if text.startswith("/"):
                entries.append(TimelineEntry(at=at or "", actor="customer", kind="button_click",
                                             text=button_titles.get(text, text), intent=intent, value=text))
            else:
                entries.append(TimelineEntry(at=at or "", actor="customer", kind="message", text=text,
                                             intent=intent))
        elif kind == "slot" and event.get("name") in DECISION_SLOTS:
            entries.append(TimelineEntry(at=at or "", actor="system", kind="slot", slot=event.get("name"),
                                         value=event.get("value")))
    return entries


def audit_export(conversation_id: str, *, records_url: str, tracker_store_url: str,
                 now: datetime | None = None) -> AuditExport | None:
    """The audit export of one conversation; None when neither the tracker store nor the records know it."""
    table = EventTable(tracker_store_url)
    try:
        events = [stored.event for stored in table.events({conversation_id})]
    finally:
        table.dispose()
    with transaction(records_url) as session:
        offers = [{"at": _iso(d.decided_at), "offer_code": d.offer.code, "offer": d.offer.title,
                   "kind": d.offer.kind, "reason": d.reason, "outcome": d.outcome, "cost_cents": d.cost_cents}
                  for d in session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == conversation_id)
                                           .order_by(OfferDecision.decided_at))]
        cancellations = []
        references: list[str] = []
        for c in session.scalars(select(Cancellation).where(Cancellation.conversation_id == conversation_id)
                                 .order_by(Cancellation.requested_at)):
            contract = session.get(Contract, c.contract_id)
            references.append(c.confirmation_number)
            cancellations.append({
                "requested_at": _iso(c.requested_at), "confirmation_number": c.confirmation_number,
                "contract_number": contract.contract_number if contract else None, "kind": c.kind,
                "extraordinary_reason": c.extraordinary_reason, "reason": c.reason,
                "requested_date": c.requested_date.isoformat() if c.requested_date else None,
                "effective_date": c.effective_date.isoformat(), "channel": c.channel,
                "copy_to_second_address": c.extra_recipient is not None})
        requests = []
        for r in session.scalars(select(CancellationRequest).where(
                CancellationRequest.conversation_id == conversation_id).order_by(CancellationRequest.received_at)):
            references.append(r.reference)
            requests.append({"received_at": _iso(r.received_at), "reference": r.reference, "status": r.status,
                             "matched_customer": r.customer_id is not None})
        emails = []
        if references:
            condition = or_(*(OutboxEmail.subject.contains(reference) for reference in references))
            for email in session.scalars(select(OutboxEmail).where(condition).order_by(OutboxEmail.created_at)):
                emails.append({"queued_at": _iso(email.created_at), "sent_at": _iso(email.sent_at),
                               "recipient": email.recipient, "subject": email.subject, "attempts": email.attempts,
                               "last_error": email.last_error, "body": email.body})
    if not events and not offers and not cancellations and not requests:
        return None
    timeline = _timeline(events)
    times = [float(e["timestamp"]) for e in events if e.get("timestamp") is not None]
    return AuditExport(
        conversation_id=conversation_id, exported_at=_iso(now or datetime.now(timezone.utc)) or "",
        started_at=_iso(min(times)) if times else None, ended_at=_iso(max(times)) if times else None,
        timeline=timeline,
        cancel_now_button_shown_at=[entry.at for entry in timeline if entry.cancel_now_button],
        offers=offers, cancellations=cancellations, cancellation_requests=requests, emails=emails)


def audit_json(export: AuditExport) -> str:
    return json.dumps(asdict(export), ensure_ascii=False, indent=2)


def _berlin(iso: str | None) -> str:
    if not iso:
        return "-"
    return berlin_time(datetime.fromisoformat(iso)).strftime("%d.%m.%Y %H:%M:%S")


def audit_text(export: AuditExport) -> str:
    """A plain-text rendering for people: one line per step (German time), then the records (UTC)."""
    lines = [f"Conversation {export.conversation_id}: {_berlin(export.started_at)} – {_berlin(export.ended_at)} "
             f"(Europe/Berlin), exported {export.exported_at}", ""]
    for entry in export.timeline:
        at = _berlin(entry.at)
        if entry.kind == "slot":
            lines.append(f"{at}  [{entry.slot} = {entry.value!r}]")
            continue
        who = {"assistant": "Assistent", "agent": "Mitarbeiter/in", "customer": "Kunde"}.get(entry.actor, entry.actor)
        action = "klickt" if entry.kind == "button_click" else "schreibt"
        lines.append(f"{at}  {who} {action}: {entry.text or ''}")
        for button in entry.buttons:
            mark = "  <- Kündigungsbutton" if button["payload"].startswith(CANCEL_NOW_PAYLOAD) else ""
            lines.append(f"{'':19}  [Button] {button['title']}{mark}")
    for title, rows in (("Offers", export.offers), ("Cancellations", export.cancellations),
                        ("Cancellation requests (unverified)", export.cancellation_requests),
                        ("E-mails", [{k: v for k, v in e.items() if k != "body"} for e in export.emails])):
        rendered = [f"  {json.dumps(row, ensure_ascii=False)}" for row in rows] or ["  none"]
        lines += ["", f"{title} (times in UTC):", *rendered]
    return "\n".join(lines)
