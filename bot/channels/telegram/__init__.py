"""The Telegram channel: a Rasa custom channel on a small httpx client of the Telegram Bot API.

Rasa 3.6's own connector (aiogram 2.15) calls getMe on every update, registers its webhook with
`asyncio.run` when the output channel is built (which fails inside the running loop, so agent replies through
Rasa's events API broke, and start-up failed when the API was unreachable), cannot register a secret token and
passes only the token (no self-hosted Bot API server). This package replaces it:

- `updates`: a Telegram update -> the customer's chat, text or button press (plain logic);
- `messages`: text split at Telegram's 4,096 characters, inline keyboards with callback_data within 64 bytes;
- `client`: Bot API calls with retries (429 retry_after, 5xx, timeouts), token never logged;
- `records`: updates seen once (channel_inbound_messages), contacts, sent messages (channel_outbound_messages),
  long button payloads looked up by their short key;
- `webhook`: the raw setWebhook call with secret_token (`python -m bot.cli telegram-set-webhook`);
- `connector`: `TelegramInput` (credentials.yml: bot.channels.telegram.connector.TelegramInput) and
  `TelegramOutput`.
"""
