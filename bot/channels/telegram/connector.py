"""The Telegram channel for Rasa: `POST /webhooks/telegram/webhook` in, the Bot API out.

credentials.yml:  bot.channels.telegram.connector.TelegramInput:   (secrets only from the environment)

Every update must carry the secret registered with setWebhook in X-Telegram-Bot-Api-Secret-Token (compared in
constant time; 403 otherwise). An update is processed once (its update_id; a retry answers 200 and does nothing);
one that could not be processed answers 500 and is forgotten, so Telegram's retry is taken. A button press is
answered (answerCallbackQuery, the spinner stops) and becomes a user message with the button's payload. The
conversation is "telegram:<chat id>" (bot/channels/sender_ids.py); while an agent owns it, typed `/intent`
commands do not act (bot/channels/handoff_guard.py).

Without TELEGRAM_BOT_TOKEN (or TELEGRAM_WEBHOOK_SECRET) the channel is off: the webhook answers 503 and logs why;
Rasa starts as usual. Nothing here calls Telegram at start-up or per update (no getMe), and the output channel
is built without I/O, so an agent reply appended through Rasa's events API (output_channel=telegram) is sent
from inside the running server.

The peer of a webhook is Telegram, not the customer, so no `client_address` is put into the metadata: limits
per client (bot/assistant/verification_limits.py) fall back to the conversation.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.handoff_guard import HandoffGuard
from bot.channels.sender_ids import SenderIdError, conversation_id, provider_id
from bot.channels.telegram import records
from bot.channels.telegram.client import TelegramApiError, TelegramClient
from bot.channels.telegram.messages import inline_keyboard, is_callback_key, plain_links, split_text
from bot.channels.telegram.updates import CustomerAction, InvalidUpdate, parse_update
from bot.handoff.messages import mark_delivered
from bot.records.database import RecordsUnavailable, transaction
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
NOT_CONFIGURED = ("The Telegram channel is off: set TELEGRAM_BOT_TOKEN (from BotFather) and TELEGRAM_WEBHOOK_SECRET, "
                  "then run `python -m bot.cli telegram-set-webhook`")

ONLY_TEXT = ("Ich kann leider nur Textnachrichten lesen. Bitte schreiben Sie mir Ihr Anliegen als Text, "
             "ohne Bilder, Sprachnachrichten oder Dateien.")
STALE_BUTTON = "Diese Schaltfläche ist nicht mehr gültig. Bitte schreiben Sie mir Ihr Anliegen."


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _chat_id(raw: str) -> int | str:
    return int(raw) if raw.lstrip("-").isdigit() else raw


class TelegramDeliveryError(RuntimeError):
    """An agent's message that Telegram did not accept (the console keeps it unsent and tries again)."""


class TelegramOutput(OutputChannel):
    """Sends the assistant's and the agents' messages to a Telegram chat; records each in the records database."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, settings: Settings, client: TelegramClient | None) -> None:
        self.settings = settings
        self.client = client

    async def _record(self, function: Callable[..., None], **kwargs: Any) -> None:
        try:
            await asyncio.to_thread(function, self.settings.database_url, now=_now(), **kwargs)
        except (SQLAlchemyError, RecordsUnavailable) as error:
            logger.warning("Could not record a Telegram message: %s", error.__class__.__name__)

    async def call(self, recipient_id: str, method: str, params: dict[str, Any], *, kind: str,
                   agent_message_id: Any = None, callback_payloads: dict[str, str] | None = None) -> bool:
        """Send to the conversation `recipient_id` ("telegram:<chat id>"); whether Telegram accepted it."""
        try:
            chat = _chat_id(provider_id(CHANNEL, recipient_id))
        except SenderIdError:
            logger.error("Not a Telegram conversation, nothing sent: %r", recipient_id)
            return False
        body = {"chat_id": chat, **params}
        agent_message = int(agent_message_id) if agent_message_id is not None else None
        if self.client is None:
            error, attempts = TelegramApiError(method, NOT_CONFIGURED), 0
        else:
            try:
                result = await self.client.call(method, body)
            except TelegramApiError as failure:
                error, attempts = failure, failure.attempts
            else:
                message_id = result.result.get("message_id") if isinstance(result.result, dict) else None
                await self._record(records.record_sent, conversation_id=recipient_id, kind=kind, body=body,
                                   message_id=message_id, attempts=result.attempts, agent_message_id=agent_message,
                                   callback_payloads=callback_payloads)
                if agent_message is not None:
                    await asyncio.to_thread(_mark_delivered, self.settings.database_url, agent_message)
                return True
        logger.error("Telegram message not sent after %d attempt(s): %s", attempts, error.description)
        await self._record(records.record_failed, conversation_id=recipient_id, kind=kind, body=body,
                           error=str(error), attempts=attempts, agent_message_id=agent_message)
        if agent_message is not None:
            raise TelegramDeliveryError(str(error))
        return False

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in split_text(plain_links(text)):
            await self.call(recipient_id, "sendMessage", {"text": part}, kind="text",
                            agent_message_id=kwargs.get("agent_message_id"))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        parts = split_text(plain_links(text)) or ["Bitte wählen Sie:"]
        for part in parts[:-1]:
            await self.call(recipient_id, "sendMessage", {"text": part}, kind="text")
        keyboard = inline_keyboard(buttons)
        await self.call(recipient_id, "sendMessage", {"text": parts[-1], "reply_markup": keyboard.reply_markup},
                        kind="keyboard", callback_payloads=keyboard.long_payloads,
                        agent_message_id=kwargs.get("agent_message_id"))

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.call(recipient_id, "sendPhoto", {"photo": image}, kind="photo")

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        if isinstance(json_message, dict) and isinstance(json_message.get("text"), str):
            params = {key: value for key, value in json_message.items() if key != "chat_id"}
            await self.call(recipient_id, "sendMessage", params, kind="text")
        else:
            logger.warning("A custom message without text is not sent on Telegram")


def _mark_delivered(database_url: str, message_id: int) -> None:
    try:
        with transaction(database_url) as session:
            mark_delivered(session, message_id, _now())
    except (SQLAlchemyError, RecordsUnavailable) as error:
        logger.warning("Could not mark agent message %s delivered: %s", message_id, error.__class__.__name__)


class TelegramInput(HandoffGuard, InputChannel):
    """The Telegram webhook (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if credentials:
            logger.warning("credentials.yml settings of the Telegram channel are ignored: its secrets come from the "
                           "environment (TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_BASE)")
        return cls()

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self._output: TelegramOutput | None = None
        if not self.configured:
            logger.info(NOT_CONFIGURED)

    @property
    def configured(self) -> bool:
        return bool(self.settings.telegram_bot_token and self.settings.telegram_webhook_secret)

    def get_output_channel(self) -> TelegramOutput:
        """The output channel, built without any call to Telegram (safe inside the running loop)."""
        if self._output is None:
            client = None
            if self.settings.telegram_bot_token:
                client = TelegramClient(api_base=self.settings.telegram_api_base,
                                        token=self.settings.telegram_bot_token,
                                        max_attempts=self.settings.telegram_max_attempts,
                                        max_retry_after_s=self.settings.telegram_max_retry_after_seconds)
            self._output = TelegramOutput(self.settings, client)
        return self._output

    def _secret_ok(self, request: Request) -> bool:
        sent = request.headers.get(SECRET_HEADER) or ""
        expected = self.settings.telegram_webhook_secret or ""
        return bool(sent) and hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        return self.guarded(self._blueprint, on_new_message)

    def _blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("telegram_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.configured else "not configured"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.configured:
                logger.error("A Telegram update arrived, but %s", NOT_CONFIGURED[0].lower() + NOT_CONFIGURED[1:])
                return response.text("Telegram channel not configured", status=503)
            if not self._secret_ok(request):
                logger.warning("Telegram webhook refused: missing or wrong %s (from %s)", SECRET_HEADER, request.ip)
                return response.text("forbidden", status=403)
            try:
                body = request.json
            except Exception:  # Sanic's own error for a body that is not JSON
                body = None
            try:
                action = parse_update(body)
            except InvalidUpdate as error:
                logger.warning("Telegram webhook: not an update (%s)", error)
                return response.text("not a Telegram update", status=400)
            return await self._handle(action, on_new_message)

        return webhook

    async def _handle(self, action: CustomerAction, on_new_message: Callable[[UserMessage], Awaitable[Any]]
                      ) -> HTTPResponse:
        output = self.get_output_channel()
        if action.callback_query_id is not None:
            await self._answer_callback(output, action.callback_query_id)
        if action.kind == "ignored" or action.chat_id is None:
            return response.text("ok")
        conversation = conversation_id(CHANNEL, action.chat_id)
        try:
            first_time = await asyncio.to_thread(
                records.first_time_seen, self.settings.database_url, update_id=action.update_id,
                conversation_id=conversation, chat_id=action.chat_id, now=_now())
        except (SQLAlchemyError, RecordsUnavailable) as error:
            # Without the records the update cannot be processed exactly once: Telegram retries it later.
            logger.error("Telegram update not processed, records unavailable (%s)", error.__class__.__name__)
            return response.text("records unavailable, retry later", status=503)
        if not first_time:
            logger.info("Telegram update %s was processed before; ignored", action.update_id)
            return response.text("ok")
        if action.kind == "unsupported":
            await output.send_text_message(conversation, ONLY_TEXT)
            return response.text("ok")
        text = action.text or ""
        if is_callback_key(text):
            payload = await asyncio.to_thread(records.payload_for_key, self.settings.database_url,
                                              conversation_id=conversation, key=text)
            if payload is None:
                await output.send_text_message(conversation, STALE_BUTTON)
                return response.text("ok")
            text = payload
        try:
            await on_new_message(UserMessage(text, output, conversation, input_channel=CHANNEL,
                                             metadata={"telegram_update_id": action.update_id}))
        except Exception:
            logger.exception("A Telegram update could not be processed; Telegram will send it again")
            await asyncio.to_thread(records.forget_update, self.settings.database_url, update_id=action.update_id)
            return response.text("could not process the update", status=500)
        return response.text("ok")

    @staticmethod
    async def _answer_callback(output: TelegramOutput, callback_query_id: str) -> None:
        if output.client is None:
            return
        try:
            await output.client.call("answerCallbackQuery", {"callback_query_id": callback_query_id})
        except TelegramApiError as error:  # the spinner stops by itself after a while; the press still counts
            logger.warning("answerCallbackQuery failed: %s", error.description)
