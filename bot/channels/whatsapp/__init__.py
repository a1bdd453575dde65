"""The WhatsApp Business Cloud API channel (Meta's Graph API).

Plain logic in typed modules that tests call directly: `signature` (X-Hub-Signature-256), `payloads` (incoming
webhooks parsed, outgoing bodies built), `window` (the 24-hour customer-service window), `statuses` (delivery
statuses that only move forward), `store` (the channel tables), `client` (Graph API calls with retries); the
Rasa custom channel in `connector` stays thin.
"""
