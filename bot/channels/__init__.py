"""Rasa input channels with the checks Rasa 3.6's own lack (registered by module path in credentials.yml).

- `bot.channels.socketio.OriginCheckingSocketIOInput`: the chat widget's socket.io channel; only pages
  from the configured website origins (ALLOWED_ORIGINS) may connect from a browser;
- `bot.channels.rest.ClientAddressRestInput`: the REST channel;
- `bot.channels.telegram.connector.TelegramInput`: Telegram (bot/channels/telegram; the peer is Telegram, so
  its messages carry no `client_address`).

Both put the client's network address into every user message's metadata under `client_address`
(`bot.channels.client_address`), overwriting whatever the client sent under that key, so actions can
read `tracker.latest_message["metadata"]["client_address"]` (e.g. to limit attempts per client).
"""
