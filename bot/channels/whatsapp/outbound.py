"""Sending what the assistant or an agent says to a WhatsApp customer, recorded in channel_outbound_messages.

Within the 24-hour window the message goes out as text, reply buttons or a list (payloads.plan_buttons);
outside it (or when Meta answers 131047 because it is closed) as the configured template, or, without a
template, not at all: then it is recorded as failed with the reason, which the agent console shows. A part
that finally fails stops the rest of that message (recorded as failed too), so the customer never gets a
message's later parts without its beginning.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from bot.channels import sender_ids
from bot.channels.whatsapp import payloads, store, window
from bot.channels.whatsapp.client import GraphClient, GraphError
from bot.records.database import transaction

logger = logging.getLogger(__name__)

NO_TEMPLATE = "24-Stunden-Fenster geschlossen und keine Vorlage (WHATSAPP_TEMPLATE_NAME) konfiguriert"
EARLIER_PART_FAILED = "nicht gesendet: ein vorheriger Teil der Nachricht ist fehlgeschlagen"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def message_text(message: dict[str, Any]) -> str:
    """The text of a Rasa bot message, with the choices' titles (for a template, which has no buttons)."""
    text = str(message.get("text") or "").strip()
    choices = [str(b.get("title")) for b in (message.get("buttons") or message.get("quick_replies") or [])
               if b.get("title")]
    if choices:
        text = f"{text} ({' / '.join(choices)})".strip()
    return text


class WhatsAppSender:
    def __init__(self, *, database_url: str, client: GraphClient, template_name: str | None,
                 template_language: str) -> None:
        self.database_url = database_url
        self.client = client
        self.template_name, self.template_language = template_name, template_language

    def _window_open(self, conversation_id: str) -> bool:
        with transaction(self.database_url) as session:
            return window.is_open(store.last_customer_message_at(session, conversation_id), _now())

    def _record(self, conversation_id: str, outgoing: payloads.Outgoing, agent_message_id: int | None) -> int:
        with transaction(self.database_url) as session:
            return store.record_outbound(session, conversation_id=conversation_id, kind=outgoing.kind,
                                         body=outgoing.json(), now=_now(), agent_message_id=agent_message_id)

    def _sent(self, row_id: int, message_id: str, attempts: int) -> None:
        with transaction(self.database_url) as session:
            store.mark_sent(session, row_id, provider_message_id=message_id, attempts=attempts, now=_now())

    def _failed(self, row_id: int, error: str, attempts: int) -> None:
        with transaction(self.database_url) as session:
            store.mark_failed(session, row_id, error=error, attempts=attempts, now=_now())

    def _template(self, recipient: str, text: str) -> payloads.Outgoing | None:
        if not self.template_name:
            return None
        return payloads.Outgoing("template", payloads.template_body(recipient, self.template_name,
                                                                    self.template_language, text))

    async def _send_one(self, conversation_id: str, outgoing: payloads.Outgoing,
                        agent_message_id: int | None) -> GraphError | None:
        row_id = await asyncio.to_thread(self._record, conversation_id, outgoing, agent_message_id)
        try:
            sent = await self.client.send(outgoing.body)
        except GraphError as error:
            logger.warning("WhatsApp message (%s) finally failed: %s", outgoing.kind, error.short())
            await asyncio.to_thread(self._failed, row_id, error.short(), error.attempts)
            return error
        await asyncio.to_thread(self._sent, row_id, sent.message_id, sent.attempts)
        return None

    async def _give_up(self, conversation_id: str, plan: list[payloads.Outgoing], reason: str,
                       agent_message_id: int | None) -> None:
        for outgoing in plan:
            row_id = await asyncio.to_thread(self._record, conversation_id, outgoing, agent_message_id)
            await asyncio.to_thread(self._failed, row_id, reason, 0)

    async def deliver(self, conversation_id: str, message: dict[str, Any], *,
                      agent_message_id: int | None = None) -> bool:
        """Send a Rasa bot message to the customer of `conversation_id`; whether all of it went out."""
        recipient = sender_ids.provider_id("whatsapp", conversation_id)
        text = str(message.get("text") or "")
        buttons = list(message.get("buttons") or message.get("quick_replies") or [])
        if not text.strip() and not buttons:
            return True
        if not await asyncio.to_thread(self._window_open, conversation_id):
            return await self._deliver_template(conversation_id, recipient, message, agent_message_id)
        plan = payloads.plan_buttons(recipient, text, buttons) if buttons else payloads.plan_text(recipient, text)
        for index, outgoing in enumerate(plan):
            error = await self._send_one(conversation_id, outgoing, agent_message_id)
            if error is None:
                continue
            if error.outside_window and index == 0:  # Meta's clock says the window closed: re-engage
                return await self._deliver_template(conversation_id, recipient, message, agent_message_id)
            await self._give_up(conversation_id, plan[index + 1:], EARLIER_PART_FAILED, agent_message_id)
            return False
        return True

    async def _deliver_template(self, conversation_id: str, recipient: str, message: dict[str, Any],
                                agent_message_id: int | None) -> bool:
        template = self._template(recipient, message_text(message))
        if template is None:
            logger.warning("A WhatsApp message was not sent: the 24-hour window is closed and no template is set")
            await self._give_up(conversation_id, [payloads.Outgoing("text", payloads.text_body(
                recipient, message_text(message)))], NO_TEMPLATE, agent_message_id)
            return False
        return await self._send_one(conversation_id, template, agent_message_id) is None
