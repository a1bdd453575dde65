"""Register the bot's webhook with Telegram (setWebhook with secret_token), once, not at every start.

aiogram 2.15 (Rasa's connector) cannot pass secret_token, so this is the raw Bot API call.
`python -m bot.cli telegram-set-webhook --url https://example.de/webhooks/telegram/webhook`
"""
from __future__ import annotations

import re
from typing import Any

from bot.channels.telegram.client import TelegramClient
from bot.settings import Settings

WEBHOOK_PATH = "/webhooks/telegram/webhook"
ALLOWED_UPDATES = ("message", "callback_query")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class WebhookSetupError(ValueError):
    """Something the operator must fix before the webhook can be registered (the message says what)."""


def webhook_request(settings: Settings, *, url: str | None, drop_pending_updates: bool) -> dict[str, Any]:
    """The setWebhook parameters from the settings; WebhookSetupError when a setting is missing or wrong."""
    if not settings.telegram_bot_token:
        raise WebhookSetupError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token into "
                                "the environment (or var/secrets.env)")
    secret = settings.telegram_webhook_secret or ""
    if not _SECRET.match(secret):
        raise WebhookSetupError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                                "(`python -m bot.cli secrets` generates one)")
    url = url or settings.telegram_webhook_url
    if not url:
        raise WebhookSetupError(f"give the public URL of the webhook: --url https://<your host>{WEBHOOK_PATH} "
                                "(or TELEGRAM_WEBHOOK_URL)")
    return {"url": url, "secret_token": secret, "allowed_updates": list(ALLOWED_UPDATES),
            "drop_pending_updates": drop_pending_updates}


async def set_webhook(settings: Settings, *, url: str | None = None, drop_pending_updates: bool = False) -> Any:
    """Register the webhook; Telegram's `result` (TelegramApiError with Telegram's description when refused)."""
    params = webhook_request(settings, url=url, drop_pending_updates=drop_pending_updates)
    client = TelegramClient(api_base=settings.telegram_api_base, token=settings.telegram_bot_token or "",
                            max_attempts=settings.telegram_max_attempts,
                            max_retry_after_s=settings.telegram_max_retry_after_seconds)
    try:
        return (await client.call("setWebhook", params)).result
    finally:
        await client.aclose()
