"""Load test for several Rasa servers: conversations over REST, bursts reaching both servers at once, and checks.

Every conversation runs the same script, phase by phase (all conversations in a phase at once):

1. opening: one message through the load balancer;
2. burst: several messages of the same conversation at the same moment, half sent straight to server 1 and half
   to server 2 (as a messaging provider's retries and quick typists do): the lock store must serialise them;
3. after: messages one after the other through the balancer (while or after a server is killed, they must be
   answered by the survivor; a request cut off by the kill (502, connection reset) is sent again, as a
   provider would).

Afterwards `check_tracker` and `check_analytics` compare what was sent with what was stored:
- tracker store: every message stored exactly once (no loss, no double); the opening before the burst, the burst
  as one block, the later messages in the order sent (no reordering); every message is followed by exactly one
  turn of the assistant ending in `action_listen` before the next message (no two turns at once, nothing
  answered twice); and the answer the client received is the answer stored for that message.
- analytics (conversation_facts, written by the consumer from RabbitMQ): per conversation, the number of
  messages and the intents in order of first appearance equal the tracker store's.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

from bot.records.database import transaction
from bot.records.models import ConversationFact

OPENING: tuple[str, ...] = ("Hallo",)
BURST: tuple[str, ...] = ("Ich habe eine Frage zu meiner Rechnung", "Was kostet mein Tarif?",
                          "Wann endet mein Vertrag?", "Ich bin sehr unzufrieden")
AFTER: tuple[str, ...] = ("Danke", "Tschüss")
RETRYABLE_STATUS = (502, 503, 504)
REST_PATH = "/webhooks/rest/webhook"


@dataclass
class Sent:
    """One message as the client experienced it."""

    conversation: str
    text: str
    phase: str
    url: str
    status: int = 0
    reply: list[str] = field(default_factory=list)
    attempts: int = 0
    started: float = 0.0
    seconds: float = 0.0
    error: str | None = None


async def send(client: httpx.AsyncClient, sent: Sent, *, retry_url: str | None = None, attempts: int = 5) -> Sent:
    """POST the message; a 502/503/504 or a cut connection is sent again (to `retry_url` when given)."""
    sent.started = time.perf_counter()
    url = sent.url
    for attempt in range(1, attempts + 1):
        sent.attempts = attempt
        try:
            response = await client.post(url + REST_PATH, json={"sender": sent.conversation, "message": sent.text})
        except httpx.TransportError as error:
            sent.error = f"{error.__class__.__name__}"
        else:
            sent.status = response.status_code
            if response.status_code == 200:
                sent.reply = [m["text"] for m in response.json() if m.get("text")]
                sent.error = None
                break
            sent.error = f"HTTP {response.status_code}"
            if response.status_code not in RETRYABLE_STATUS:
                break
        url = retry_url or url
        await asyncio.sleep(0.5 * attempt)
    sent.seconds = time.perf_counter() - sent.started
    return sent


async def opening(client: httpx.AsyncClient, conversations: Sequence[str], balancer: str) -> list[Sent]:
    return list(await asyncio.gather(*(send(client, Sent(c, OPENING[0], "opening", balancer))
                                       for c in conversations)))


async def burst(client: httpx.AsyncClient, conversations: Sequence[str], servers: Sequence[str],
                balancer: str) -> list[Sent]:
    """Every conversation's burst messages at once, alternately straight to each server."""
    messages = [Sent(c, message, "burst", servers[i % len(servers)])
                for c in conversations for i, message in enumerate(BURST)]
    return list(await asyncio.gather(*(send(client, m, retry_url=balancer) for m in messages)))


async def after(client: httpx.AsyncClient, conversations: Sequence[str], balancer: str) -> list[Sent]:
    async def one(conversation: str) -> list[Sent]:
        return [await send(client, Sent(conversation, message, "after", balancer)) for message in AFTER]

    return [m for group in await asyncio.gather(*(one(c) for c in conversations)) for m in group]


# -- checks ------------------------------------------------------------------------------------------------------

def tracker_events(tracker_url: str, conversations: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(tracker_url, future=True)
    events: dict[str, list[dict[str, Any]]] = {c: [] for c in conversations}
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT sender_id, data FROM events WHERE sender_id = ANY(:ids) ORDER BY id")
                                      if engine.dialect.name == "postgresql" else
                                      text("SELECT sender_id, data FROM events ORDER BY id"),
                                      {"ids": list(conversations)})
            for sender, data in rows:
                if sender in events:
                    events[sender].append(json.loads(data))
    finally:
        engine.dispose()
    return events


def _turns(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(user event, the events after it up to the next user event)."""
    turns: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append((event, []))
        elif turns:
            turns[-1][1].append(event)
    return turns


def check_tracker(events: dict[str, list[dict[str, Any]]], sent: Sequence[Sent]) -> list[str]:
    """What is wrong in the stored conversations (empty: nothing lost, doubled, reordered or answered twice)."""
    problems: list[str] = []
    by_conversation: dict[str, list[Sent]] = {}
    for message in sent:
        by_conversation.setdefault(message.conversation, []).append(message)
    for conversation, messages in by_conversation.items():
        turns = _turns(events.get(conversation, []))
        stored = [user.get("text") for user, _ in turns]
        delivered = [m for m in messages if m.status == 200]
        if Counter(stored) != Counter(m.text for m in delivered):
            lost = Counter(m.text for m in delivered) - Counter(stored)
            doubled = Counter(stored) - Counter(m.text for m in delivered)
            problems.append(f"{conversation}: lost {dict(lost)}, doubled {dict(doubled)}")
            continue
        expected_order = [m.text for m in delivered]
        burst_texts = {m.text for m in delivered if m.phase == "burst"}
        normalised = ["<burst>" if t in burst_texts else t for t in stored]
        wanted = ["<burst>" if t in burst_texts else t for t in expected_order]
        if normalised != wanted:
            problems.append(f"{conversation}: stored order {stored}, sent {expected_order}")
        replies = {m.text: m.reply for m in delivered}
        # The session start's welcome (stored before the first message) is part of the first answer.
        prelude: list[dict[str, Any]] = []
        for event in events.get(conversation, []):
            if event.get("event") == "user":
                break
            if event.get("event") == "bot":
                prelude.append(event)
        for number, (user, turn_events) in enumerate(turns):
            rest = (prelude if number == 0 else []) + turn_events
            listens = [e for e in turn_events if e.get("event") == "action" and e.get("name") == "action_listen"]
            actions = [e for e in turn_events if e.get("event") == "action"]
            if len(listens) != 1 or actions[-1:] != listens:
                problems.append(f"{conversation}: the turn of {user.get('text')!r} is not one complete turn "
                                f"({[e.get('name') for e in actions]})")
            # Rasa's REST channel sends a text with blank lines as several messages.
            stored_reply = [part for e in rest if e.get("event") == "bot" and e.get("text")
                            for part in e["text"].strip().split("\n\n")]
            if stored_reply != replies.get(user.get("text")):
                problems.append(f"{conversation}: {user.get('text')!r} answered {replies.get(user.get('text'))} "
                                f"but stored {stored_reply}")
    return problems


def intents_in_order(events: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for event in events:
        if event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name and name not in seen:
                seen.append(name)
    return seen


def analytics_facts(database_url: str, conversations: Sequence[str]) -> dict[str, tuple[int, str]]:
    with transaction(database_url) as session:
        rows = session.execute(select(ConversationFact.conversation_id, ConversationFact.messages,
                                      ConversationFact.intents)
                               .where(ConversationFact.conversation_id.in_(list(conversations)))).all()
    return {conversation: (messages, intents) for conversation, messages, intents in rows}


async def wait_for_analytics(database_url: str, events: dict[str, list[dict[str, Any]]], *,
                             timeout_s: float = 180.0) -> dict[str, tuple[int, str]]:
    """The facts once the consumer has applied every user message (or what it has at the deadline)."""
    wanted = sum(1 for stored in events.values() for e in stored if e.get("event") == "user")
    deadline = time.monotonic() + timeout_s
    while True:
        facts = await asyncio.to_thread(analytics_facts, database_url, list(events))
        if sum(messages for messages, _ in facts.values()) >= wanted or time.monotonic() > deadline:
            return facts
        await asyncio.sleep(1.0)


def check_analytics(facts: dict[str, tuple[int, str]], events: dict[str, list[dict[str, Any]]]) -> list[str]:
    problems = []
    for conversation, stored in events.items():
        users = sum(1 for e in stored if e.get("event") == "user")
        messages, intents = facts.get(conversation, (0, ""))
        if messages != users:
            problems.append(f"{conversation}: analytics count {messages} messages, the tracker store {users}")
        if intents.split(",") != intents_in_order(stored) and users:
            problems.append(f"{conversation}: analytics intents {intents!r}, tracker {intents_in_order(stored)}")
    return problems


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]
