"""Analytics for marketers: Rasa's event stream projected into conversation facts (pipeline), save validation,
and the dashboard's aggregates. Plain logic; only the consumers talk to a broker.

Importing the package wires the daily roll-up to the facts (bot.analytics.rollup: ORM events on
ConversationFact), so every process that writes facts through bot.analytics keeps the roll-up with them."""
from bot.analytics import rollup as _rollup  # noqa: F401 - registers the roll-up's ORM events
