"""The Telegram channel end to end: a real Rasa server and action server, Telegram replaced by the local
stand-in of the Bot API (tests/standins/telegram_bot_api.py), updates shaped and authenticated as Telegram
sends them (X-Telegram-Bot-Api-Secret-Token).

Also: the website channels (REST, socket.io) refuse the conversation ids of the messaging channels.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import httpx
import pytest
import socketio
from sqlalchemy import select

from bot.channels.telegram import records
from bot.channels.telegram.messages import callback_key, inline_keyboard
from bot.handoff.messages import record_agent_message
from bot.handoff.queue import take
from bot.handoff.rasa_api import RasaApi, RasaApiError
from bot.handoff.users import create_user
from bot.records.database import transaction
from bot.records.models import (
    AgentMessage,
    Cancellation,
    ChannelContact,
    ChannelInboundMessage,
    ChannelOutboundMessage,
    Contract,
    Customer,
    HandoffRequest,
    OfferDecision,
)
from bot.retention.dates import effective_cancellation_date
from bot.retention.formatting import german_date
from bot.settings import Settings
from tests.servers import RunningAssistant, running_assistant, seeded_records
from tests.standins.telegram_bot_api import TelegramBotApi, forbidden, running_bot_api, too_many_requests

pytestmark = pytest.mark.e2e

SECRET = "test_" + secrets.token_urlsafe(24)
WEBHOOK = "/webhooks/telegram/webhook"
_update_ids = itertools.count(int(time.time()))
_chat_ids = itertools.count(700_000_000 + int(time.time()) % 1_000_000)


@pytest.fixture(scope="module")
def bot_api() -> Iterator[TelegramBotApi]:
    with running_bot_api() as api:
        yield api


@pytest.fixture(scope="module")
def assistant(bot_api: TelegramBotApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir: Path = tmp_path_factory.mktemp("assistant-telegram")
    env = {"TELEGRAM_BOT_TOKEN": bot_api.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE": bot_api.base_url}
    with running_assistant(seeded_records(workdir), workdir, web_app=False, rasa_api=True, extra_env=env) as running:
        yield running


class TelegramChat:
    """One customer's private chat with the bot: updates in, the stand-in's sendMessage bodies out."""

    def __init__(self, http: httpx.AsyncClient, assistant: RunningAssistant, bot_api: TelegramBotApi) -> None:
        self.http, self.assistant, self.bot_api = http, assistant, bot_api
        self.chat_id = next(_chat_ids)
        self.conversation = f"telegram:{self.chat_id}"
        self.user = {"id": self.chat_id, "is_bot": False, "first_name": "Anna", "language_code": "de"}

    def _message(self, text: str) -> dict:
        return {"message_id": next(_update_ids) % 100_000, "from": self.user,
                "chat": {"id": self.chat_id, "type": "private", "first_name": "Anna"},
                "date": int(time.time()), "text": text}

    async def post(self, update: dict, *, secret: str | None = SECRET) -> httpx.Response:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return await self.http.post(self.assistant.rasa_url + WEBHOOK, json=update, headers=headers)

    async def _replies(self, update: dict) -> list[dict]:
        before = len(self.bot_api.sent(self.chat_id))
        response = await self.post(update)
        assert response.status_code == 200, response.text
        return self.bot_api.sent(self.chat_id)[before:]

    async def say(self, text: str) -> list[dict]:
        return await self._replies({"update_id": next(_update_ids), "message": self._message(text)})

    async def press(self, replies: list[dict], payload_or_title: str) -> list[dict]:
        """Press the inline button (by callback_data or title) of the last keyboard in `replies`."""
        keyboard = [m for m in replies if m.get("reply_markup")][-1]
        buttons = [row[0] for row in keyboard["reply_markup"]["inline_keyboard"]]
        button = next(b for b in buttons if payload_or_title in (b["callback_data"], b["text"]))
        query = {"id": f"cb-{next(_update_ids)}", "from": self.user, "chat_instance": "1",
                 "message": {**self._message(keyboard["text"]), "reply_markup": keyboard["reply_markup"]},
                 "data": button["callback_data"]}
        return await self._replies({"update_id": next(_update_ids), "callback_query": query})


def text_of(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)


def callback_data(messages: list[dict]) -> list[str]:
    return [row[0].get("callback_data") for m in messages for row in (m.get("reply_markup") or {}).get(
        "inline_keyboard", [])]


def _contract_of(url: str, customer_number: str) -> Contract:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == customer_number)).one()
        return session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()


async def test_a_customer_cancels_on_telegram_and_everything_is_recorded(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    expected_end = effective_cancellation_date(_contract_of(assistant.database_url, "K100001"), date.today())

    greeting = await chat.say("/start")
    assert "automatischer Assistent" in text_of(greeting)
    assert "Datenschutzhinweise: http" in text_of(greeting) and "](" not in text_of(greeting)
    reason_question = await chat.say("Ich möchte meinen Vertrag kündigen")
    assert "/cancel_now" in callback_data(reason_question), "the cancel-now button comes at once"
    assert all(len(d.encode()) <= 64 for d in callback_data(reason_question))
    ask_number = await chat.press(reason_question, '/cancel_contract{"cancellation_reason":"price"}')
    assert "Kundennummer" in text_of(ask_number)
    await chat.say("K100001")
    offer = await chat.say("10115")
    assert "Mobil M" in text_of(offer)
    assert {"/accept_offer", "/cancel_now"} <= set(callback_data(offer))
    done = await chat.press(offer, "/cancel_now")
    text = text_of(done)
    assert "gekündigt" in text and german_date(expected_end) in text

    answered = {c.body["callback_query_id"] for c in bot_api.calls("answerCallbackQuery") if c.answered == 200}
    assert len([q for q in answered if q.startswith("cb-")]) >= 2, "every button press is answered"
    with transaction(assistant.database_url) as session:
        cancellation = session.scalars(select(Cancellation).where(
            Cancellation.conversation_id == chat.conversation)).one()
        assert cancellation.reason == "price" and cancellation.effective_date == expected_end
        assert cancellation.confirmation_number in text
        decision = session.scalars(select(OfferDecision).where(
            OfferDecision.conversation_id == chat.conversation)).one()
        assert decision.outcome == "declined"
        assert session.get(Contract, cancellation.contract_id).status == "cancelled"
        inbound = session.scalars(select(ChannelInboundMessage).where(
            ChannelInboundMessage.conversation_id == chat.conversation)).all()
        assert len(inbound) == 6 and {row.channel for row in inbound} == {"telegram"}
        contact = session.get(ChannelContact, chat.conversation)
        assert contact.recipient == str(chat.chat_id)
        outbound = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.conversation_id == chat.conversation)).all()
        assert len(outbound) == len(bot_api.sent(chat.chat_id))
        assert {row.status for row in outbound} == {"sent"} and all(row.provider_message_id for row in outbound)
        assert any(row.kind == "keyboard" for row in outbound)
    user_texts = [e["text"] for e in assistant.stored_user_messages(chat.conversation)]
    assert '/cancel_contract{"cancellation_reason":"price"}' in user_texts and "/cancel_now" in user_texts


async def test_an_update_without_the_right_secret_is_refused(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    for secret in (None, "", "wrong", SECRET + "x", SECRET[:-1]):
        update = {"update_id": next(_update_ids), "message": chat._message("Ich möchte kündigen")}
        assert (await chat.post(update, secret=secret)).status_code == 403
    assert (await client.post(assistant.rasa_url + WEBHOOK, content=b"{not json",
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})).status_code == 400
    assert bot_api.sent(chat.chat_id) == []
    assert assistant.stored_user_messages(chat.conversation) == []


async def test_an_update_telegram_sends_again_is_processed_once(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    update = {"update_id": next(_update_ids), "message": chat._message("Hallo")}
    first = await chat.post(update)
    replies = len(bot_api.sent(chat.chat_id))
    results = await asyncio.gather(chat.post(update), chat.post(update))
    assert first.status_code == 200 and all(r.status_code == 200 for r in results)
    assert replies > 0 and len(bot_api.sent(chat.chat_id)) == replies
    assert [e["text"] for e in assistant.stored_user_messages(chat.conversation)] == ["Hallo"]


async def test_a_rate_limited_reply_is_sent_after_the_wait_and_a_photo_gets_an_answer(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    bot_api.fail_next("sendMessage", too_many_requests(1))
    replies = await chat.say("Hallo")
    assert "automatischer Assistent" in text_of(replies)
    photo = {**chat._message("x"), "photo": [{"file_id": "AgAD", "width": 90, "height": 90}]}
    del photo["text"]
    only_text = await chat._replies({"update_id": next(_update_ids), "message": photo})
    assert "nur Textnachrichten" in text_of(only_text)
    with transaction(assistant.database_url) as session:
        attempts = session.scalars(select(ChannelOutboundMessage.attempts).where(
            ChannelOutboundMessage.conversation_id == chat.conversation)).all()
    assert 2 in attempts


async def test_a_button_with_a_long_payload_counts_as_that_payload(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    await chat.say("Hallo")
    payload = '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"moving"}'
    keyboard = inline_keyboard([{"title": "Sonderkündigung wegen Umzug", "payload": payload}])
    # as TelegramOutput records a keyboard it sent to this chat
    records.record_sent(assistant.database_url, conversation_id=chat.conversation, kind="keyboard",
                        body={"chat_id": chat.chat_id, "text": "?", "reply_markup": keyboard.reply_markup},
                        message_id=1, attempts=1, now=datetime.now(timezone.utc),
                        callback_payloads=keyboard.long_payloads)
    await chat.press([{"text": "?", "reply_markup": keyboard.reply_markup}], "Sonderkündigung wegen Umzug")
    assert payload in [e["text"] for e in assistant.stored_user_messages(chat.conversation)]
    stale = {"text": "?", "reply_markup": {"inline_keyboard": [[{"text": "Alt", "callback_data": callback_key("x")}]]}}
    assert "nicht mehr gültig" in text_of(await chat.press([stale], "Alt"))


async def test_an_agent_reply_reaches_the_telegram_customer(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    await chat.say("Hallo")
    asked = await chat.say("Ich möchte mit einem Menschen sprechen")
    assert asked
    now = datetime.now(timezone.utc)
    with transaction(assistant.database_url) as session:
        handoff = session.scalars(select(HandoffRequest).where(
            HandoffRequest.conversation_id == chat.conversation)).first()
        if handoff is None:  # outside service hours the assistant offers a callback; the queue entry is the same
            handoff = HandoffRequest(conversation_id=chat.conversation, reason="customer_request",
                                     created_at=now, channel="telegram")
            session.add(handoff)
            session.flush()
        assert handoff.channel == "telegram"
        agent = create_user(session, username=f"anna{chat.chat_id}", first_name="Anna",
                            password="ein langes Passwort 123", role="agent", now=now)
        session.flush()
        take(session, handoff_id=handoff.id, agent_id=agent.id, now=now)
        message = record_agent_message(session, handoff_id=handoff.id, agent_id=agent.id,
                                       text="Ich kümmere mich darum.", now=now)
        message_id = message.id
    settings = Settings(rasa_url=assistant.rasa_url, rasa_jwt_secret=assistant.jwt_secret)
    async with RasaApi(settings) as rasa:
        await rasa.pause(chat.conversation, "Anna")
        assert "Anna aus unserem Service-Team" in bot_api.sent(chat.chat_id)[-1]["text"]
        await rasa.send_agent_message(chat.conversation, channel="telegram", text="Ich kümmere mich darum.",
                                      agent_first_name="Anna", message_id=message_id)
        assert bot_api.sent(chat.chat_id)[-1]["text"] == "Anna: Ich kümmere mich darum."
        # While the agent owns the conversation, a typed command does not end the handoff (HandoffGuard).
        assert await chat.say("/restart") == []
        assert await rasa.is_paused(chat.conversation)
        # A reply Telegram refuses stays unsent for the console (Rasa answers 500) and is recorded as failed.
        with transaction(assistant.database_url) as session:
            refused_id = record_agent_message(session, handoff_id=handoff.id, agent_id=agent.id, text="Noch da?",
                                              now=now).id
        bot_api.fail_next("sendMessage", forbidden())
        with pytest.raises(RasaApiError, match="500"):
            await rasa.send_agent_message(chat.conversation, channel="telegram", text="Noch da?",
                                          agent_first_name="Anna", message_id=refused_id)
    with transaction(assistant.database_url) as session:
        row = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.agent_message_id == message_id)).one()
        assert row.status == "sent" and row.conversation_id == chat.conversation
        assert session.get(AgentMessage, message_id).delivered_at is not None
        refused = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.agent_message_id == refused_id)).one()
        assert refused.status == "failed" and "blocked" in refused.last_error
        assert session.get(AgentMessage, refused_id).delivered_at is None


async def test_the_website_channels_refuse_a_messaging_conversation_id(
        assistant: RunningAssistant, bot_api: TelegramBotApi, client: httpx.AsyncClient) -> None:
    chat = TelegramChat(client, assistant, bot_api)
    await chat.say("Hallo")
    for sender in (chat.conversation, chat.conversation.upper(), "whatsapp:4915112345678"):
        response = await client.post(assistant.rest_url, json={"sender": sender, "message": "Hallo"})
        assert response.status_code == 400 and "reserved" in response.json()["error"]
    assert (await client.post(assistant.rest_url, json={"sender": "web-visitor-1", "message": "Hallo"})
            ).status_code == 200

    confirmed: list[str] = []
    answered = asyncio.Event()
    sio = socketio.AsyncClient()
    sio.on("session_confirm", lambda session_id: confirmed.append(session_id))
    sio.on("bot_uttered", lambda data: answered.set())
    await sio.connect(assistant.rasa_url, socketio_path="/socket.io", transports=["polling"])
    try:
        await sio.emit("session_request", {"session_id": chat.conversation})
        await sio.emit("user_uttered", {"message": "Ich will kündigen", "session_id": chat.conversation})
        for _ in range(40):
            if confirmed:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(1.5)
        assert confirmed and confirmed[0] != chat.conversation, "a new session instead"
        assert not answered.is_set()
    finally:
        await sio.disconnect()
    stored = [e["text"] for e in assistant.stored_user_messages(chat.conversation)]
    assert stored == ["Hallo"], json.dumps(stored)


def test_without_a_token_rasa_starts_and_the_webhook_says_it_is_off(tmp_path: Path) -> None:
    """No TELEGRAM_BOT_TOKEN, and a Bot API that cannot be reached: Rasa starts; the webhook answers 503."""
    env = {"TELEGRAM_BOT_TOKEN": "", "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_BASE": "http://127.0.0.1:9"}
    with running_assistant(seeded_records(tmp_path), tmp_path, action_server=False, web_app=False,
                           extra_env=env) as assistant:
        update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"},
                                              "date": int(time.time()), "text": "Hallo"}}
        response = httpx.post(assistant.rasa_url + WEBHOOK, json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=30)
        assert response.status_code == 503 and "not configured" in response.text
        assert httpx.get(assistant.rasa_url + "/webhooks/telegram/", timeout=30).json() == {"status": "not configured"}
    assert "TELEGRAM_BOT_TOKEN" in (tmp_path / "rasa.log").read_text()


def test_with_telegram_unreachable_rasa_starts_and_failed_replies_are_recorded(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "123:unreachable", "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_BASE": "http://127.0.0.1:9", "TELEGRAM_MAX_ATTEMPTS": "2"}
    with running_assistant(seeded_records(tmp_path), tmp_path, web_app=False, extra_env=env) as assistant:
        assert httpx.get(assistant.rasa_url + "/webhooks/telegram/", timeout=30).json() == {"status": "ok"}
        update = {"update_id": 5, "message": {"message_id": 1, "chat": {"id": 4242, "type": "private"},
                                              "from": {"id": 4242, "is_bot": False, "first_name": "Anna"},
                                              "date": int(time.time()), "text": "Hallo"}}
        response = httpx.post(assistant.rasa_url + WEBHOOK, json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, timeout=60)
        assert response.status_code == 200
        assert [e["text"] for e in assistant.stored_user_messages("telegram:4242")] == ["Hallo"]
        with transaction(assistant.database_url) as session:
            rows = session.scalars(select(ChannelOutboundMessage).where(
                ChannelOutboundMessage.conversation_id == "telegram:4242")).all()
        assert rows and all(r.status == "failed" and r.attempts == 2 and "not reachable" in r.last_error
                            for r in rows)
    log = (tmp_path / "rasa.log").read_text()
    assert "Telegram message not sent" in log and "123:unreachable" not in log, "the token is never logged"
