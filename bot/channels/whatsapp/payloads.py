"""WhatsApp Cloud API shapes: incoming webhooks parsed into typed values, outgoing request bodies built.

Incoming (`parse_webhook`): `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {"metadata": ..., "contacts": [...], "messages": [...], "statuses": [...]}}]}]}`.
Text, reply-button and list replies (and a template's quick-reply button) become `InboundMessage`s whose
`text` is what Rasa receives (a button's id is its payload); any other type (image, voice, location, ...)
is an `InboundMessage` with `text=None`, answered with a hint. Status callbacks become `StatusUpdate`s.

Outgoing (`plan_*`): lists of request bodies for POST /{phone-number-id}/messages, within WhatsApp's limits:
text ≤ 4096 characters (split at paragraphs, sentences or words), interactive body ≤ 1024, at most 3 reply
buttons with titles ≤ 20, a list of ≤ 10 rows with titles ≤ 24 and descriptions ≤ 72, list button ≤ 20.
Titles are shortened by a German mapping of the assistant's known button titles, else cut at a word.

§ 312k BGB: the cancel-now choice (payload "/cancel_now") is never hidden in a list behind others: with more
than 3 choices it goes out as a reply button of its own, right with the question, and the other choices
follow as a list.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
BUTTON_TITLE_LIMIT = 20
MAX_BUTTONS = 3
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
MAX_ROWS = 10
LIST_BUTTON_LABEL = "Auswahl anzeigen"
LIST_SECTION_TITLE = "Auswahl"
REPLY_ID_LIMIT = 256
ROW_ID_LIMIT = 200
TEMPLATE_PARAMETER_LIMIT = 1000
CANCEL_NOW_PAYLOAD = "/cancel_now"
MORE_CHOICES_TEXT = "Oder wählen Sie hier:"
FURTHER_CHOICES_TEXT = "Weitere Auswahl:"
CHOOSE_TEXT = "Bitte wählen Sie:"
UNSUPPORTED_TEXT = ("Diese Art von Nachricht kann ich leider nicht lesen. Bitte schreiben Sie mir Ihr Anliegen "
                    "als Text oder tippen Sie auf eine der Antwortmöglichkeiten.")

# The assistant's button titles (domain.yml, actions/, bot/assistant/) that exceed a WhatsApp limit, in short
# forms that keep their meaning (≤ 20 characters: good for reply buttons and list rows).
SHORT_TITLES: dict[str, str] = {
    "Unzufrieden mit dem Service": "Service unzufrieden",
    "Wechsel zu anderem Anbieter": "Anbieterwechsel",
    "Außerordentlich kündigen: Umzug, Leistung am neuen Wohnort nicht verfügbar": "Sonderkünd. Umzug",
    "Außerordentlich kündigen: anhaltende Störung": "Sonderkünd. Störung",
    "Anderes Kündigungsdatum oder andere E-Mail": "Anderes Datum/E-Mail",
    "Mit einem Menschen sprechen": "Persönlich sprechen",
    "Bevorzugt mit einem Menschen sprechen": "Persönlich sprechen",
    "Kündigung ohne Identifizierung absenden": "Ohne Ident. kündigen",
    "Weiter mit dem Assistenten": "Weiter mit Assistent",
}


# ---------------------------------------------------------------------------------------------- incoming


@dataclass(frozen=True)
class InboundMessage:
    message_id: str  # wamid...
    wa_id: str
    text: str | None  # what Rasa receives; None for a type the assistant cannot read
    kind: str  # text | button_reply | list_reply | button | <other WhatsApp type>
    timestamp: datetime
    profile_name: str | None = None
    phone_number_id: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    message_id: str
    status: str  # sent | delivered | read | failed
    timestamp: datetime
    recipient_id: str | None = None
    error: str | None = None  # "131047 Re-engagement message" for failed ones


class WebhookPayloadError(ValueError):
    """A POST that is not a WhatsApp webhook."""


def _timestamp(raw: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(raw), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(timezone.utc)


def _message_text(message: dict[str, Any]) -> tuple[str | None, str]:
    kind = str(message.get("type") or "")
    if kind == "text":
        body = (message.get("text") or {}).get("body")
        return (body if isinstance(body, str) and body.strip() else None), kind
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        sub = str(interactive.get("type") or "")
        reply = interactive.get(sub) or {}
        if sub in ("button_reply", "list_reply") and isinstance(reply, dict):
            chosen = reply.get("id") or reply.get("title")
            return (str(chosen) if chosen else None), sub
        return None, f"interactive.{sub}"
    if kind == "button":  # a quick-reply button of a template
        button = message.get("button") or {}
        chosen = button.get("payload") or button.get("text")
        return (str(chosen) if chosen else None), kind
    return None, kind or "unknown"


def parse_webhook(payload: Any) -> tuple[list[InboundMessage], list[StatusUpdate]]:
    """The customer messages and the status callbacks in one webhook POST (WebhookPayloadError if it is none)."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookPayloadError("not a WhatsApp Business Account webhook")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            if (change or {}).get("field") != "messages":
                continue
            value = change.get("value") or {}
            phone_number_id = (value.get("metadata") or {}).get("phone_number_id")
            names = {str(c.get("wa_id")): (c.get("profile") or {}).get("name")
                     for c in value.get("contacts") or [] if isinstance(c, dict)}
            for message in value.get("messages") or []:
                if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
                    continue
                text, kind = _message_text(message)
                wa_id = str(message["from"])
                messages.append(InboundMessage(
                    message_id=str(message["id"]), wa_id=wa_id, text=text, kind=kind,
                    timestamp=_timestamp(message.get("timestamp")), profile_name=names.get(wa_id),
                    phone_number_id=str(phone_number_id) if phone_number_id else None))
            for status in value.get("statuses") or []:
                if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
                    continue
                errors = status.get("errors") or []
                error = None
                if errors and isinstance(errors[0], dict):
                    error = f"{errors[0].get('code', '')} {errors[0].get('title') or errors[0].get('message') or ''}"
                    error = error.strip()[:300]
                statuses.append(StatusUpdate(
                    message_id=str(status["id"]), status=str(status["status"]),
                    timestamp=_timestamp(status.get("timestamp")),
                    recipient_id=str(status["recipient_id"]) if status.get("recipient_id") else None, error=error))
    return messages, statuses


# ---------------------------------------------------------------------------------------------- outgoing


@dataclass(frozen=True)
class Outgoing:
    kind: str  # text | buttons | list | template
    body: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


def cut_at_word(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with "…" when it is longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:-–") + "…"


def short_title(title: str, limit: int) -> str:
    """A button or row title within `limit`: the known short form, else the title, else cut at a word."""
    title = " ".join((title or "").split())
    if len(title) <= limit:
        return title
    short = SHORT_TITLES.get(title)
    if short is not None and len(short) <= limit:
        return short
    return cut_at_word(title, limit)


_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MARKDOWN_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def whatsapp_text(text: str) -> str:
    """The assistant's Markdown as WhatsApp shows it: a link "[label](url)" as "label: url" (WhatsApp makes the
    address clickable), "**bold**" as WhatsApp's "*bold*"."""
    return _MARKDOWN_BOLD.sub(r"*\1*", _MARKDOWN_LINK.sub(r"\1: \2", text))


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in parts of at most `limit` characters, split at a paragraph, line, sentence or word."""
    rest = text.strip()
    parts: list[str] = []
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for separator in ("\n\n", "\n", ". ", "! ", "? ", " "):
            position = window.rfind(separator)
            if position >= limit // 2:
                cut = position + (1 if separator.strip() else 0)
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _base(to: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}


def text_body(to: str, text: str) -> dict[str, Any]:
    return {**_base(to), "type": "text", "text": {"preview_url": False, "body": text}}


def plan_text(to: str, text: str) -> list[Outgoing]:
    return [Outgoing("text", text_body(to, part)) for part in split_text(whatsapp_text(text))]


def _unique(titles: list[str], limit: int) -> list[str]:
    """WhatsApp refuses two equal titles in one message: number the repeats."""
    seen: dict[str, int] = {}
    result = []
    for title in titles:
        count = seen.get(title, 0) + 1
        seen[title] = count
        result.append(title if count == 1 else cut_at_word(title, limit - 3) + f" {count}")
    return result


def _payload(button: dict[str, Any]) -> str:
    return str(button.get("payload") or button.get("title") or "")


def buttons_body(to: str, text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    titles = _unique([short_title(str(b.get("title") or ""), BUTTON_TITLE_LIMIT) for b in buttons],
                     BUTTON_TITLE_LIMIT)
    return {**_base(to), "type": "interactive", "interactive": {
        "type": "button", "body": {"text": text},
        "action": {"buttons": [{"type": "reply", "reply": {"id": _payload(b)[:REPLY_ID_LIMIT], "title": title}}
                               for b, title in zip(buttons, titles, strict=True)]}}}


def list_body(to: str, text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    rows = []
    titles = _unique([short_title(str(b.get("title") or ""), ROW_TITLE_LIMIT) for b in buttons], ROW_TITLE_LIMIT)
    for button, title in zip(buttons, titles, strict=True):
        row: dict[str, Any] = {"id": _payload(button)[:ROW_ID_LIMIT], "title": title}
        full = " ".join(str(button.get("title") or "").split())
        if full != title:  # the whole title stays readable under the short one
            row["description"] = cut_at_word(full, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    return {**_base(to), "type": "interactive", "interactive": {
        "type": "list", "body": {"text": text},
        "action": {"button": LIST_BUTTON_LABEL, "sections": [{"title": LIST_SECTION_TITLE, "rows": rows}]}}}


def is_cancel_now(button: dict[str, Any]) -> bool:
    return _payload(button).strip() == CANCEL_NOW_PAYLOAD


def plan_buttons(to: str, text: str, buttons: list[dict[str, Any]]) -> list[Outgoing]:
    """The bodies for a message with choices (see the module docstring for the rules)."""
    buttons = [b for b in buttons if _payload(b)]
    if not buttons:
        return plan_text(to, text)
    plan: list[Outgoing] = []
    body_text = whatsapp_text(text).strip()
    if not body_text or len(body_text) > INTERACTIVE_BODY_LIMIT:
        plan.extend(plan_text(to, body_text) if body_text else [])
        body_text = CHOOSE_TEXT
    if len(buttons) <= MAX_BUTTONS:
        return plan + [Outgoing("buttons", buttons_body(to, body_text, buttons))]
    first = [b for b in buttons if is_cancel_now(b)][:MAX_BUTTONS]
    rest = [b for b in buttons if b not in first]
    list_text = body_text
    if first:
        plan.append(Outgoing("buttons", buttons_body(to, body_text, first)))
        list_text = MORE_CHOICES_TEXT
    for start in range(0, len(rest), MAX_ROWS):
        chunk = rest[start:start + MAX_ROWS]
        plan.append(Outgoing("list", list_body(to, list_text if start == 0 else FURTHER_CHOICES_TEXT, chunk)))
    return plan


def template_parameter(text: str) -> str:
    """Template parameters may not contain new lines, tabs or more than four spaces in a row."""
    return cut_at_word(" ".join(text.split()), TEMPLATE_PARAMETER_LIMIT)


def template_body(to: str, name: str, language: str, text: str | None) -> dict[str, Any]:
    """A message template (for outside the 24-hour window); its body's one variable {{1}} carries `text`."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if text:
        template["components"] = [{"type": "body", "parameters": [{"type": "text",
                                                                    "text": template_parameter(text)}]}]
    return {**_base(to), "type": "template", "template": template}
