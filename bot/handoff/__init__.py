"""Handing conversations to people: the queue, availability, wait estimates, callbacks, agent messages, accounts.

Plain logic on the records database (no Rasa, no web); each function takes the caller's session.
Modules: `queue` (who owns which conversation), `availability` (service hours, agents online),
`wait_estimate`, `callback` (phone number and time window), `messages` (agent message outbox),
`users` (console accounts and logins).
"""
from bot.handoff.queue import AlreadyTaken, HandoffError, NotAllowed, NotYourConversation, QueueEntry

__all__ = ["AlreadyTaken", "HandoffError", "NotAllowed", "NotYourConversation", "QueueEntry"]
