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
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
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
ANSWERED = Counter()  # phase -> messages answered so far (the benchmark kills a server mid-burst by it)
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


async def send(client: httpx.AsyncClient, sent: Sent, *, retry_url: str | None = None, attempts: int = 10) -> Sent:
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
                ANSWERED[sent.phase] += 1
                break
            sent.error = f"HTTP {response.status_code}"
            if response.status_code not in RETRYABLE_STATUS:
                break
        url = retry_url or url
        await asyncio.sleep(min(0.5 * attempt, 3.0))
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
    last, unchanged_since = -1, time.monotonic()
    while True:
        facts = await asyncio.to_thread(analytics_facts, database_url, list(events))
        counted = sum(messages for messages, _ in facts.values())
        if counted != last:
            last, unchanged_since = counted, time.monotonic()
        # done: all counted, the deadline passed, or nothing new for a minute (the consumer has caught up)
        if counted >= wanted or time.monotonic() > deadline or time.monotonic() - unchanged_since > 60:
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


# -- the benchmark (`python -m bot.cli scale-benchmark`) ---------------------------------------------------------

@dataclass
class Round:
    label: str  # "one server" | "two servers" | "two servers, server 1 killed"
    conversations: list[str]
    sent: list[Sent]
    seconds: float
    load_average: float

    @property
    def answered(self) -> list[Sent]:
        return [m for m in self.sent if m.status == 200]


async def run_round(client: httpx.AsyncClient, label: str, conversations: list[str], *, balancer: str,
                    servers: list[str], kill: Callable[[], None] | None = None) -> Round:
    """One round of the script over `conversations`; `kill` (blocking) runs once a quarter of the burst is answered."""
    started = time.perf_counter()
    sent = await opening(client, conversations, balancer)
    ANSWERED["burst"] = 0
    burst_task = asyncio.create_task(burst(client, conversations, servers, balancer))
    if kill is not None:
        target = len(conversations) * len(BURST) // 4
        while not burst_task.done() and ANSWERED["burst"] < target:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(kill)
    sent += await burst_task
    sent += await after(client, conversations, balancer)
    return Round(label, conversations, sent, time.perf_counter() - started, os.getloadavg()[0])


def _row(label: str, rounds: list[Round]) -> str:
    sent = [m for r in rounds for m in r.sent]
    answered = [m for m in sent if m.status == 200]
    seconds = sum(r.seconds for r in rounds)
    latencies = [m.seconds * 1000 for m in answered]
    retried = sum(1 for m in sent if m.attempts > 1)
    load = max(r.load_average for r in rounds)
    return (f"| {label} | {len({c for r in rounds for c in r.conversations})} | {len(sent)} | "
            f"{len(answered) / seconds:.1f} msg/s | {percentile(latencies, 0.5):.0f} ms | "
            f"{percentile(latencies, 0.95):.0f} ms | {max(latencies, default=0):.0f} ms | "
            f"{len(sent) - len(answered)} | {retried} | {load:.1f} |")


def report(rounds: list[Round], *, tracker_problems: list[str], analytics_problems: list[str],
           description: str) -> str:
    by_label: dict[str, list[Round]] = {}
    for r in rounds:
        by_label.setdefault(r.label, []).append(r)
    lines = [description, "",
             "| servers | conversations | messages | throughput | latency p50 | p95 | max | failed | sent again | "
             "load average (1 min, max) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_row(label, group) for label, group in by_label.items()]
    one = [m.seconds for r in by_label.get("one server", []) for m in r.answered]
    two = [m.seconds for r in by_label.get("two servers", []) for m in r.answered]
    if one and two:
        t_one = sum(len(r.answered) for r in by_label["one server"]) / sum(r.seconds for r in by_label["one server"])
        t_two = sum(len(r.answered) for r in by_label["two servers"]) / sum(r.seconds for r in by_label["two servers"])
        lines += ["", f"- two servers / one server: throughput **{t_two / t_one:.2f}×**, latency p95 "
                      f"**{percentile(two, 0.95) / percentile(one, 0.95):.2f}×**"]
    lines += ["", f"- tracker store: {len(tracker_problems)} problem(s) (lost, doubled, reordered messages, turns "
                  "run at once, answers that differ from the stored ones)"]
    lines += [f"  - {problem}" for problem in tracker_problems[:10]]
    lines += [f"- analytics (conversation_facts): {len(analytics_problems)} problem(s) (message counts, intents "
              "in order)"]
    lines += [f"  - {problem}" for problem in analytics_problems[:10]]
    return "\n".join(lines)


BEGIN = "<!-- scale-benchmark:begin (generated by `python -m bot.cli scale-benchmark`; edits inside are overwritten) -->"
END = "<!-- scale-benchmark:end -->"


def write_report(output: Any, text_block: str) -> None:
    from pathlib import Path

    path = Path(output)
    old = path.read_text() if path.exists() else f"# Several Rasa servers: load test\n\n{BEGIN}\n{END}\n"
    if BEGIN not in old or END not in old:
        old = old.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = old.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text_block}\n{END}{tail}")


def run_benchmark(*, conversations: int, rounds: int, output: Any, kill: bool = True) -> int:
    """Start two Rasa servers behind haproxy on the shared services named in the environment, run the rounds
    (one server and two servers alternating, then a round in which server 1 is killed), check, report."""
    import platform
    import socket
    import tempfile
    import uuid
    from datetime import datetime, timezone
    from pathlib import Path

    from bot.cli import service_environment
    from bot.records.migrations import upgrade_to_head
    from bot.scaling.cluster import ClusterLayout, rasa_label, running_cluster
    from bot.settings import Settings

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    layout = ClusterLayout(balancer_port=free_port(), rasa_ports=(free_port(), free_port()),
                           action_ports=(free_port(), free_port()))
    env = service_environment(os.environ, Settings.from_env(), rasa_port=layout.balancer_port)
    env.update(RASA_URL=layout.balancer_url, RASA_PUBLIC_URL=layout.balancer_url, RASA_API_ENABLED="false")
    settings = Settings.from_env(env)
    for name, value in (("DATABASE_URL", settings.database_url), ("TRACKER_STORE_URL", settings.tracker_store_url)):
        if not value.startswith("postgresql"):
            print(f"{name} must be a PostgreSQL database for the scale-out benchmark, got {value!r}")
            return 2
    if not settings.lock_store_url or not settings.event_broker_url:
        print("LOCK_STORE_URL (redis://...) and EVENT_BROKER_URL (amqp://...) are required")
        return 2
    upgrade_to_head(settings.database_url)
    run = uuid.uuid4().hex[:6]
    servers = [layout.rasa_url(1), layout.rasa_url(2)]
    done: list[Round] = []

    async def main(cluster: Any) -> None:
        limits = httpx.Limits(max_connections=2000, max_keepalive_connections=500)
        async with httpx.AsyncClient(timeout=300, limits=limits) as client:
            for number in range(rounds):
                for label in ("one server", "two servers"):
                    ids = [f"scale-{run}-{len(done)}-{i:04d}" for i in range(conversations)]
                    if label == "one server":
                        done.append(await run_round(client, label, ids, balancer=servers[0],
                                                    servers=[servers[0]]))
                    else:
                        done.append(await run_round(client, label, ids, balancer=layout.balancer_url,
                                                    servers=servers))
                    print(f"round {number + 1}, {label}: {len(done[-1].answered)}/{len(done[-1].sent)} answered in "
                          f"{done[-1].seconds:.1f} s", flush=True)
            if kill:
                ids = [f"scale-{run}-{len(done)}-{i:04d}" for i in range(conversations)]
                done.append(await run_round(client, "two servers, server 1 killed mid-burst", ids,
                                            balancer=layout.balancer_url, servers=servers,
                                            kill=lambda: cluster.kill(rasa_label(1))))
                print(f"kill round: {len(done[-1].answered)}/{len(done[-1].sent)} answered in "
                      f"{done[-1].seconds:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="scale-benchmark-") as workdir:
        with running_cluster(settings, layout, Path(workdir), env) as cluster:
            asyncio.run(main(cluster))
            all_sent = [m for r in done for m in r.sent]
            all_ids = [c for r in done for c in r.conversations]
            events = tracker_events(settings.tracker_store_url, all_ids)
            tracker_problems = check_tracker(events, all_sent)
            facts = asyncio.run(wait_for_analytics(settings.database_url, events, timeout_s=600))
            analytics_problems = check_analytics(facts, events)
    description = (
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores) with `python -m bot.cli scale-benchmark --conversations {conversations} "
        f"--rounds {rounds}`: two Rasa servers (each with its own action server) behind haproxy, PostgreSQL "
        f"tracker store and records, the atomic Redis lock store, RabbitMQ event broker and the analytics consumer, "
        f"all on this machine. Each round: {conversations} new conversations at once, each "
        f"{len(OPENING) + len(BURST) + len(AFTER)} messages (an opening through the balancer; a burst of "
        f"{len(BURST)} messages at the same moment, alternately straight to each server; then {len(AFTER)} one "
        f"after the other through the balancer). \"one server\": all traffic to server 1 (server 2 idle), "
        f"\"two servers\": through the balancer; alternating, {rounds} round(s) each, rows combine the rounds. "
        "Latency: from sending to the answer, including the wait for the conversation's lock (the burst's "
        "messages queue behind each other) and any sending again after a 502 or a cut connection.")
    write_report(output, report(done, tracker_problems=tracker_problems, analytics_problems=analytics_problems,
                                description=description))
    print(f"Report written to {output}")
    return 0 if not tracker_problems and not analytics_problems else 1
