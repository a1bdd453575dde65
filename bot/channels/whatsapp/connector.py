"""The WhatsApp channel for Rasa (custom channel; Rasa 3.6 has none for the Cloud API).

credentials.yml:  bot.channels.whatsapp.connector.WhatsAppInput:
Webhook URL: https://<your host>/webhooks/whatsapp/webhook (GET: Meta's verification; POST: messages and
status callbacks, each checked against X-Hub-Signature-256 and refused with 403 otherwise). Secrets come from
the environment only (bot/settings.py, WHATSAPP_*); without them the webhook answers 503 and Rasa runs on.

A POST is answered after its messages are processed. Each message id is claimed first in
channel_inbound_messages, so Meta's retry (or the same webhook reaching a second Rasa server) is processed
once; if processing fails, the claim is released and the POST answered 500, so that Meta's retry gets it.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import sender_ids
from bot.channels.handoff_guard import HandoffGuard
from bot.channels.whatsapp import payloads, signature, store
from bot.channels.whatsapp.client import GraphClient
from bot.channels.whatsapp.outbound import WhatsAppSender
from bot.records.database import transaction
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
STATUS_RECHECK_SECONDS = (0.2, 0.5, 1.0)
NOT_CONFIGURED = ("WhatsApp channel not configured: set WHATSAPP_ACCESS_TOKEN, WHATSAPP_APP_SECRET, "
                  "WHATSAPP_VERIFY_TOKEN and WHATSAPP_PHONE_NUMBER_ID (README, section WhatsApp)")


class WhatsAppOutput(OutputChannel):
    """Sends Rasa's bot messages (and agents' messages appended through Rasa's API) to the customer."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, sender: WhatsAppSender | None) -> None:
        self.sender = sender

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        if self.sender is None:
            logger.error("%s; a message to a WhatsApp customer was not sent", NOT_CONFIGURED)
            return
        message = dict(message)
        for extra in ("image", "attachment"):  # links are the one form of media the assistant sends
            if message.get(extra) and isinstance(message[extra], str):
                message["text"] = f"{message.get('text') or ''}\n{message[extra]}".strip()
        agent_message_id = message.get("agent_message_id")
        await self.sender.deliver(recipient_id, message,
                                  agent_message_id=int(agent_message_id) if agent_message_id else None)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})


class WhatsAppInput(HandoffGuard, InputChannel):
    """Meta's webhook for one WhatsApp business number (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._sender: WhatsAppSender | None = None
        if not self.settings.whatsapp_configured:
            logger.warning(NOT_CONFIGURED)

    @property
    def sender(self) -> WhatsAppSender | None:
        if self._sender is None and self.settings.whatsapp_configured:
            s = self.settings
            client = GraphClient(api_base=s.whatsapp_api_base, phone_number_id=str(s.whatsapp_phone_number_id),
                                 access_token=str(s.whatsapp_access_token), max_attempts=s.whatsapp_max_attempts,
                                 retry_base_seconds=s.whatsapp_retry_base_seconds,
                                 retry_max_seconds=s.whatsapp_retry_max_seconds)
            self._sender = WhatsAppSender(database_url=s.database_url, client=client,
                                          template_name=s.whatsapp_template_name,
                                          template_language=s.whatsapp_template_language)
        return self._sender

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.sender)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return self.guarded(self._blueprint, on_new_message)

    def _blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.settings.whatsapp_configured else "not configured"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.settings.whatsapp_configured:
                logger.error(NOT_CONFIGURED)
                return response.text("WhatsApp channel not configured", status=503)
            mode, token = request.args.get("hub.mode"), request.args.get("hub.verify_token")
            challenge = request.args.get("hub.challenge") or ""
            if mode == "subscribe" and token and hmac.compare_digest(
                    token.encode(), str(self.settings.whatsapp_verify_token).encode()):
                logger.info("WhatsApp webhook verified by Meta")
                return response.text(challenge)
            logger.warning("WhatsApp webhook verification refused (wrong hub.mode or hub.verify_token)")
            return response.text("verification refused", status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.settings.whatsapp_configured:
                logger.error(NOT_CONFIGURED)
                return response.text("WhatsApp channel not configured", status=503)
            raw = request.body or b""
            if not signature.is_valid(raw, request.headers.get("x-hub-signature-256"),
                                      self.settings.whatsapp_app_secret):
                logger.warning("WhatsApp webhook refused: missing or wrong X-Hub-Signature-256 (from %s)",
                               request.ip)
                return response.text("signature refused", status=403)
            try:
                messages, statuses = payloads.parse_webhook(json.loads(raw))
            except (ValueError, payloads.WebhookPayloadError) as error:
                logger.warning("WhatsApp webhook ignored: %s", error)
                return response.text("not a WhatsApp webhook", status=400)
            for update in statuses:
                await self._record_status(update)
            for message in messages:
                if message.phone_number_id and message.phone_number_id != self.settings.whatsapp_phone_number_id:
                    logger.warning("WhatsApp message for another phone number id ignored (not this assistant's)")
                    continue
                try:
                    await self._handle(message, on_new_message)
                except Exception:
                    logger.exception("A WhatsApp message could not be processed; Meta will send it again")
                    await asyncio.to_thread(self._release, message.message_id)
                    return response.text("processing failed", status=500)
            return response.text("ok")

        return webhook

    def _apply_status(self, update: payloads.StatusUpdate) -> bool:
        with transaction(self.settings.database_url) as session:
            return store.apply_status(session, provider_message_id=update.message_id, status=update.status,
                                      at=update.timestamp, error=update.error)

    async def _record_status(self, update: payloads.StatusUpdate) -> None:
        """A callback can overtake the Graph API's answer to the send (whose message id is recorded only then):
        an unknown message id is looked up again briefly before it counts as another system's message."""
        for wait in STATUS_RECHECK_SECONDS:
            if await asyncio.to_thread(self._apply_status, update):
                return
            await asyncio.sleep(wait)
        if not await asyncio.to_thread(self._apply_status, update):
            logger.info("WhatsApp status %s for a message not sent by this assistant", update.status)

    def _release(self, message_id: str) -> None:
        with transaction(self.settings.database_url) as session:
            store.release_inbound(session, message_id=message_id)

    def _claim(self, message: payloads.InboundMessage, conversation_id: str) -> bool:
        now = datetime.now(timezone.utc)
        if not store.claim_inbound(self.settings.database_url, message_id=message.message_id,
                                   conversation_id=conversation_id, now=now):
            return False
        with transaction(self.settings.database_url) as session:
            store.touch_contact(session, conversation_id=conversation_id, recipient=message.wa_id,
                                at=min(message.timestamp, now))
        return True

    async def _handle(self, message: payloads.InboundMessage,
                      on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        conversation_id = sender_ids.conversation_id(CHANNEL, message.wa_id)
        if not await asyncio.to_thread(self._claim, message, conversation_id):
            logger.info("WhatsApp message seen before (a retry): not processed again")
            return
        output = self.get_output_channel()
        if message.text is None:
            await output.send_text_message(conversation_id, payloads.UNSUPPORTED_TEXT)
            return
        await on_new_message(UserMessage(message.text, output, conversation_id, input_channel=CHANNEL,
                                         message_id=message.message_id,
                                         metadata={"whatsapp_kind": message.kind}))
