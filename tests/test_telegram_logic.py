"""The Telegram channel's plain logic and its Bot API client, against the local stand-in (no Rasa).

Updates parsed as Telegram documents them; text split within 4,096 characters; inline keyboards within
Telegram's 64-byte callback_data without losing a button; retries on 429 (retry_after) and 5xx but not on
refusals; updates seen once and long payloads found again in the records (SQLite and PostgreSQL); the
set-webhook command registering the secret token.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from bot.channels.telegram import records
from bot.channels.telegram.client import TelegramApiError, TelegramClient
from bot.channels.telegram.messages import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_TEXT_LENGTH,
    inline_keyboard,
    is_callback_key,
    plain_links,
    split_text,
)
from bot.channels.telegram.updates import InvalidUpdate, parse_update
from bot.channels.telegram.webhook import WebhookSetupError, webhook_request
from bot.cli import main as cli_main
from bot.records.database import transaction
from bot.records.models import ChannelContact, ChannelOutboundMessage
from bot.settings import Settings
from tests.standins.telegram_bot_api import (
    TelegramBotApi,
    forbidden,
    running_bot_api,
    server_error,
    too_many_requests,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
EXTRAORDINARY = '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"moving"}'


@pytest.fixture(scope="module")
def bot_api() -> Iterator[TelegramBotApi]:
    with running_bot_api() as api:
        yield api


def _client(api: TelegramBotApi, **kwargs: object) -> TelegramClient:
    return TelegramClient(api_base=api.base_url, token=api.token, backoff_base_s=0.01, **kwargs)  # type: ignore[arg-type]


# --- updates ---

def test_a_text_message_and_a_button_press_are_read_as_telegram_sends_them() -> None:
    text = parse_update({"update_id": 7, "message": {
        "message_id": 3, "from": {"id": 42, "is_bot": False, "first_name": "Anna"},
        "chat": {"id": 42, "type": "private"}, "date": 1764590000, "text": "Ich möchte kündigen"}})
    assert (text.kind, text.chat_id, text.text) == ("text", 42, "Ich möchte kündigen")
    press = parse_update({"update_id": 8, "callback_query": {
        "id": "cb-1", "from": {"id": 42, "is_bot": False, "first_name": "Anna"},
        "message": {"message_id": 4, "chat": {"id": 42, "type": "private"}, "date": 1764590000, "text": "?"},
        "data": "/cancel_now"}})
    assert (press.kind, press.chat_id, press.text, press.callback_query_id) == ("button", 42, "/cancel_now", "cb-1")


def test_start_greets_and_a_photo_is_not_a_message() -> None:
    assert parse_update({"update_id": 1, "message": {"chat": {"id": 5}, "text": "/start"}}).text == "/greet"
    photo = parse_update({"update_id": 2, "message": {"chat": {"id": 5}, "photo": [{"file_id": "x"}]}})
    assert photo.kind == "unsupported"
    assert parse_update({"update_id": 3, "edited_message": {"chat": {"id": 5}, "text": "x"}}).kind == "ignored"


@pytest.mark.parametrize("body", [None, [], {"message": {"chat": {"id": 1}, "text": "x"}}, {"update_id": "1"}])
def test_a_body_that_is_no_update_is_refused(body: object) -> None:
    with pytest.raises(InvalidUpdate):
        parse_update(body)


# --- messages ---

def test_long_text_is_split_within_the_limit_at_word_boundaries_and_nothing_is_lost() -> None:
    text = "\n\n".join(" ".join(f"Wort{i}-{j}" for j in range(300)) for i in range(5))
    parts = split_text(text)
    assert len(parts) > 1 and all(len(part) <= MAX_TEXT_LENGTH for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())
    assert all(not part.endswith("-") and part.split()[-1].startswith("Wort") for part in parts)
    assert split_text("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]


def test_markdown_links_become_plain_links() -> None:
    assert plain_links("Wie wir Ihre Angaben verarbeiten: [Datenschutzhinweise](https://x.de/datenschutz)") == (
        "Wie wir Ihre Angaben verarbeiten: Datenschutzhinweise: https://x.de/datenschutz")
    assert plain_links("[kein Link] (oder doch)") == "[kein Link] (oder doch)"


def test_every_button_is_kept_and_long_payloads_get_a_short_key() -> None:
    buttons = [{"title": "Umzug (Sonderkündigung)", "payload": EXTRAORDINARY},
               {"title": "Jetzt kündigen", "payload": "/cancel_now"},
               {"title": "Zu teuer", "payload": '/cancel_contract{"cancellation_reason":"price"}'}]
    keyboard = inline_keyboard(buttons)
    rows = keyboard.reply_markup["inline_keyboard"]
    assert [row[0]["text"] for row in rows] == [b["title"] for b in buttons]
    data = [row[0]["callback_data"] for row in rows]
    assert all(len(d.encode()) <= MAX_CALLBACK_DATA_BYTES for d in data)
    assert data[1] == "/cancel_now" and data[2] == buttons[2]["payload"]
    assert is_callback_key(data[0]) and keyboard.long_payloads == {data[0]: EXTRAORDINARY}


# --- client ---

async def test_a_429_is_retried_after_the_time_telegram_asks_for(bot_api: TelegramBotApi) -> None:
    bot_api.clear()
    bot_api.fail_next("sendMessage", too_many_requests(1))
    client = _client(bot_api)
    result = await client.call("sendMessage", {"chat_id": 1, "text": "Hallo"})
    await client.aclose()
    assert result.attempts == 2 and result.result["text"] == "Hallo"
    assert [c.answered for c in bot_api.calls("sendMessage")] == [429, 200]


async def test_server_errors_are_retried_and_refusals_are_not(bot_api: TelegramBotApi) -> None:
    bot_api.clear()
    client = _client(bot_api, max_attempts=3)
    bot_api.fail_next("sendMessage", server_error(), server_error())
    assert (await client.call("sendMessage", {"chat_id": 1, "text": "a"})).attempts == 3
    bot_api.fail_next("sendMessage", forbidden())
    with pytest.raises(TelegramApiError) as refused:
        await client.call("sendMessage", {"chat_id": 1, "text": "b"})
    assert refused.value.error_code == 403 and refused.value.attempts == 1
    bot_api.fail_next("sendMessage", server_error(), server_error(), server_error())
    with pytest.raises(TelegramApiError) as gave_up:
        await client.call("sendMessage", {"chat_id": 1, "text": "c"})
    assert gave_up.value.attempts == 3
    bot_api.fail_next("sendMessage", too_many_requests(3600))
    with pytest.raises(TelegramApiError, match="wait 3600"):
        await client.call("sendMessage", {"chat_id": 1, "text": "d"})
    await client.aclose()
    assert [c.answered for c in bot_api.calls("sendMessage")] == [502, 502, 200, 403, 502, 502, 502, 429]


async def test_an_unreachable_api_fails_with_a_clear_error() -> None:
    client = TelegramClient(api_base="http://127.0.0.1:9", token="1:x", max_attempts=2, backoff_base_s=0.01)
    with pytest.raises(TelegramApiError, match="not reachable"):
        await client.call("getMe", {})
    await client.aclose()


# --- records ---

def test_an_update_is_processed_once_and_can_be_let_through_again(database_url: str) -> None:
    seen = {"update_id": 99, "conversation_id": "telegram:42", "chat_id": 42, "now": NOW}
    assert records.first_time_seen(database_url, **seen) is True
    assert records.first_time_seen(database_url, **seen) is False
    records.forget_update(database_url, update_id=99)
    assert records.first_time_seen(database_url, **seen) is True
    with transaction(database_url) as session:
        contact = session.get(ChannelContact, "telegram:42")
        assert (contact.channel, contact.recipient) == ("telegram", "42")


def test_a_long_payload_is_found_by_its_key_in_the_same_conversation_only(database_url: str) -> None:
    keyboard = inline_keyboard([{"title": "Umzug", "payload": EXTRAORDINARY}])
    key = next(iter(keyboard.long_payloads))
    records.record_sent(database_url, conversation_id="telegram:42", kind="keyboard",
                        body={"chat_id": 42, "text": "?", "reply_markup": keyboard.reply_markup}, message_id=5,
                        attempts=1, now=NOW, callback_payloads=keyboard.long_payloads)
    assert records.payload_for_key(database_url, conversation_id="telegram:42", key=key) == EXTRAORDINARY
    assert records.payload_for_key(database_url, conversation_id="telegram:43", key=key) is None
    with transaction(database_url) as session:
        row = session.scalars(select(ChannelOutboundMessage)).one()
        assert (row.status, row.provider_message_id, row.channel) == ("sent", "5", "telegram")


# --- webhook registration ---

def test_the_webhook_request_names_what_is_missing() -> None:
    with pytest.raises(WebhookSetupError, match="TELEGRAM_BOT_TOKEN"):
        webhook_request(Settings(), url="https://example.de/webhooks/telegram/webhook", drop_pending_updates=False)
    with pytest.raises(WebhookSetupError, match="A-Z"):
        webhook_request(Settings(telegram_bot_token="1:x", telegram_webhook_secret="nicht erlaubt!"),
                        url="https://example.de/x", drop_pending_updates=False)
    with pytest.raises(WebhookSetupError, match="--url"):
        webhook_request(Settings(telegram_bot_token="1:x", telegram_webhook_secret="abc"), url=None,
                        drop_pending_updates=False)


def test_the_set_webhook_command_registers_the_secret_token(bot_api: TelegramBotApi,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", bot_api.token)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret_-token")
    monkeypatch.setenv("TELEGRAM_API_BASE", bot_api.base_url)
    url = "https://bot.example.de/webhooks/telegram/webhook"
    assert cli_main(["telegram-set-webhook", "--url", url, "--drop-pending-updates"]) == 0
    assert bot_api.webhook == {"url": url, "secret_token": "s3cret_-token",
                               "allowed_updates": ["message", "callback_query"], "drop_pending_updates": True}
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:wrong")
    assert cli_main(["telegram-set-webhook", "--url", url]) == 1
