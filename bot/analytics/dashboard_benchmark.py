"""How fast the marketing dashboard answers on many conversations: `python -m bot.cli analytics-benchmark`.

Seeds synthetic conversation facts (default 100,000 over the last 365 days, with fallback messages, demo
customers and contracts, some of them cancelled, and a small tracker store with transcripts), serves the web
app on a free local port, logs in a marketer and times every dashboard request over real HTTP: the dashboard
for 30, 90 and 365 days, the drill-downs (a reason, an offer kind, a funnel step, a later page), a transcript
and the CSV export of 30 days. SQLite always (in a temporary directory); PostgreSQL when a database URL is
given, which must not hold conversation facts yet (the benchmark never touches real data). The report
(median, p95 and slowest per request and backend) is written into a Markdown file between markers.
"""
from __future__ import annotations

import json
import logging
import math
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, text, update

from bot.analytics import rollup
from bot.records.catalog import ensure_catalog
from bot.records.database import make_engine, transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.migrations import upgrade_to_head
from bot.records.models import Cancellation, Contract, ConversationFact, Customer, FallbackMessage
from bot.web.serving import serving

TARGET_P95_MS = 300
BEGIN, END = "<!-- analytics-benchmark:begin -->", "<!-- analytics-benchmark:end -->"
REASONS = ("price", "competitor", "not_using", "moving", "technical", "service", "other")
OFFERS = (("DISCOUNT_20", "discount", 4798), ("DISCOUNT_10", "discount", 1200), ("PRICE_MATCH_25", "price_match", 3000),
          ("DOWNGRADE", "downgrade", 0), ("PAUSE_3", "pause", 1500), ("GOODWILL_25", "goodwill_credit", 2500),
          ("UPGRADE", "upgrade", 1000), ("RELOCATION", "relocation", 500))
CHANNELS = ("socketio",) * 6 + ("whatsapp",) * 2 + ("telegram", "rest")
SEGMENTS = ("standard",) * 6 + ("premium",) * 3 + ("business",)
FALLBACK_TEXTS = tuple(f"Frage {n} zu Roaming, Rechnung oder Vertrag, die der Assistent nicht kennt" for n in range(60))
TRANSCRIPTS = 200


class NotAnEmptyDatabase(RuntimeError):
    """The PostgreSQL database given already holds conversation facts."""


@dataclass(frozen=True)
class Timing:
    backend: str
    request: str
    path: str
    status: int
    size: int
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms)


def synthetic_facts(count: int, *, today: date, contract_ids: list[int], customer_of: dict[int, int],
                    seed: int = 10) -> Iterator[dict]:
    """`count` plausible conversation facts started over the 365 days up to `today`."""
    chance = random.Random(seed)
    first = datetime.combine(today - timedelta(days=364), datetime.min.time(), tzinfo=timezone.utc)
    # In start order, as the analytics consumer writes them.
    offsets = sorted(chance.randrange(365 * 86400) for _ in range(count))
    for number, offset in enumerate(offsets):
        started = first + timedelta(seconds=offset)
        minutes = chance.randint(1, 15)
        intent = chance.random() < 0.45
        verified = chance.random() < 0.6
        contract_id = chance.choice(contract_ids) if verified else None
        values: dict = {
            "conversation_id": f"bench-{number:06d}", "channel": chance.choice(CHANNELS), "started_at": started,
            "ended_at": started + timedelta(minutes=minutes), "messages": chance.randint(1, 12),
            "customer_id": customer_of[contract_id] if contract_id else None,
            "segment": chance.choice(SEGMENTS) if verified else None, "contract_id": contract_id,
            "intents": "greet,cancel_contract" if intent else "greet,ask_bill",
            "dissatisfaction_peak": round(chance.random() ** 2, 2), "cancellation_intent": intent,
            "cancellation_intent_at": started + timedelta(seconds=30) if intent else None, "reason": None,
            "offer_code": None, "offer_kind": None, "offer_value_cents": None, "offer_cost_cents": None,
            "offer_made_at": None, "outcome": chance.choice(("resolved",) * 4 + ("abandoned", "open")),
            "cancelled_at": None, "handoff_wait_seconds": None, "handoff_handling_seconds": None,
            "fallbacks": chance.choice((0, 0, 0, 1, 2)), "rating": chance.choice((None, None, 3, 4, 5, 1, 2)),
            "updated_at": started + timedelta(minutes=minutes),
        }
        if intent:
            if chance.random() < 0.8:
                values["reason"] = chance.choice(REASONS)
            roll = chance.random()
            if verified and values["reason"] and roll < 0.7:
                code, kind, cost = chance.choice(OFFERS)
                values |= {"offer_code": code, "offer_kind": kind, "offer_value_cents": cost // 6 or 300,
                           "offer_cost_cents": cost, "offer_made_at": started + timedelta(minutes=2)}
                roll = chance.random()
                values["outcome"] = "offer_accepted" if roll < 0.45 else ("cancelled" if roll < 0.85 else "handed_off")
            else:
                values["outcome"] = "cancelled" if roll < 0.85 else "handed_off"
            if values["outcome"] == "cancelled":
                values["cancelled_at"] = started + timedelta(minutes=minutes)
        if values["outcome"] == "handed_off" or chance.random() < 0.03:
            values["handoff_wait_seconds"] = chance.randint(10, 900)
            values["handoff_handling_seconds"] = chance.randint(60, 1800)
        yield values


def seed(database_url: str, *, facts: int, today: date, customers: int = 500, batch: int = 5000) -> None:
    """Migrate, then add demo customers and `facts` synthetic facts with their fallback messages, and rebuild the
    daily roll-up from them."""
    upgrade_to_head(database_url)
    with transaction(database_url) as session:
        if session.scalar(select(func.count()).select_from(ConversationFact)):
            raise NotAnEmptyDatabase("this database already holds conversation facts; give an empty one")
        ensure_catalog(session)
        if not session.scalar(select(func.count()).select_from(Customer)):
            seed_demo_customers(session, count=customers, today=today)
        contracts = session.execute(select(Contract.id, Contract.customer_id)).all()
    customer_of = {contract_id: customer_id for contract_id, customer_id in contracts}
    rows, fallbacks = [], []
    chance = random.Random(11)
    for values in synthetic_facts(facts, today=today, contract_ids=list(customer_of), customer_of=customer_of):
        rows.append(values)
        for _ in range(values["fallbacks"]):
            fallbacks.append({"conversation_id": values["conversation_id"], "text": chance.choice(FALLBACK_TEXTS),
                              "at": values["started_at"] + timedelta(seconds=20)})
        if len(rows) >= batch:
            _insert(database_url, rows, fallbacks)
            rows, fallbacks = [], []
    _insert(database_url, rows, fallbacks)
    _cancel_some_saved_contracts(database_url)
    with transaction(database_url) as session:  # the facts went in as bulk inserts, past the roll-up's ORM events
        rollup.rebuild(session)
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def _cancel_some_saved_contracts(database_url: str) -> None:
    """Some saves are lost: every tenth contract was cancelled ten days after its latest accepted offer."""
    fact = ConversationFact
    with transaction(database_url) as session:
        latest = session.execute(select(fact.contract_id, fact.customer_id, func.max(fact.offer_made_at))
                                 .where((fact.outcome == "offer_accepted") & (fact.contract_id % 10 == 0))
                                 .group_by(fact.contract_id, fact.customer_id)).all()
        seen: set[int] = set(session.scalars(select(Cancellation.contract_id)))  # cancelled in the demo data
        for contract_id, customer_id, accepted in latest:
            if contract_id in seen or accepted is None:
                continue
            seen.add(contract_id)
            requested = accepted + timedelta(days=10)
            session.add(Cancellation(contract_id=contract_id, customer_id=customer_id, requested_at=requested,
                                     effective_date=requested.date() + timedelta(days=31),
                                     confirmation_number=f"KB-B{contract_id:07d}", conversation_id=None))
            session.execute(update(Contract).where(Contract.id == contract_id).values(status="cancelled"))


def _insert(database_url: str, rows: list[dict], fallbacks: list[dict]) -> None:
    with transaction(database_url) as session:
        if rows:
            session.execute(insert(ConversationFact.__table__), rows)
        if fallbacks:
            session.execute(insert(FallbackMessage.__table__), fallbacks)


def seed_transcripts(tracker_url: str, conversations: int = TRANSCRIPTS) -> None:
    """A tracker-store `events` table (the columns Rasa's SQLTrackerStore has) with short conversations."""
    engine = create_engine(tracker_url, future=True)
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), "
            "data TEXT)"))
        connection.execute(text("CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)"))
        events = []
        for number in range(conversations):
            for turn in range(6):
                at = 1_700_000_000 + number * 600 + turn * 20
                events.append({"sender": f"bench-{number:06d}", "type": "user", "at": at, "data": json.dumps(
                    {"event": "user", "timestamp": at, "text": f"Ich bin Erika Muster, K12345{turn}, ich will kündigen"})})
                events.append({"sender": f"bench-{number:06d}", "type": "bot", "at": at + 1, "data": json.dumps(
                    {"event": "bot", "timestamp": at + 1, "text": "Das tut mir leid. Darf ich fragen, warum?"})})
        connection.execute(text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                                "VALUES (:sender, :type, :at, :data)"), events)
    engine.dispose()


def requests(today: date) -> list[tuple[str, str]]:
    """Every dashboard request the benchmark times: (what, path)."""
    def period(days: int) -> str:
        return f"from={(today - timedelta(days=days - 1)).isoformat()}&to={today.isoformat()}"

    month = period(30)
    return [
        ("Dashboard, 30 days, all channels", f"/console/analytics/?{month}"),
        ("Dashboard, 90 days, web chat", f"/console/analytics/?{period(90)}&channel=socketio"),
        ("Dashboard, 365 days, all channels", f"/console/analytics/?{period(365)}"),
        ("Drill-down: reason (price), 30 days", f"/console/analytics/conversations?{month}&dimension=reason&code=price"),
        ("Drill-down: offer kind (discount), 90 days",
         f"/console/analytics/conversations?{period(90)}&dimension=offer_kind&code=discount"),
        ("Drill-down: funnel step (accepted), 30 days",
         f"/console/analytics/conversations?{month}&dimension=step&code=accepted"),
        ("Drill-down: all conversations, 365 days, page 20", f"/console/analytics/conversations?{period(365)}&page=20"),
        ("Transcript (masked)", "/console/analytics/conversations/bench-000042"),
        ("CSV export, 30 days", f"/console/analytics/export.csv?{month}"),
    ]


def time_requests(database_url: str, tracker_url: str, *, backend: str, repeat: int, today: date) -> list[Timing]:
    """Serve the web app over `database_url` and time each request `repeat` times (after one warm-up)."""
    from bot.console.sessions import start_session
    from bot.handoff.users import create_user
    from bot.settings import Settings
    from bot.web.app import create_app

    now = datetime.now(timezone.utc)
    with transaction(database_url) as session:
        user = create_user(session, username=f"bench-marketer-{int(time.time())}", first_name="Bench",
                           password="Benchmark-Passwort 2026!", role="marketer", now=now)
        token = start_session(session, user_id=user.id, now=now)
    settings = Settings.from_env({"DATABASE_URL": database_url, "TRACKER_STORE_URL": tracker_url,
                                  "CONSOLE_IDLE_MINUTES": "600"})
    timings = []
    with serving(create_app(settings)) as url, httpx.Client(base_url=url, cookies={"console_session": token},
                                                             timeout=120) as client:
        for name, path in requests(today):
            response = client.get(path)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
            timings.append(Timing(backend, name, path, response.status_code, len(response.content), samples))
    return timings


def markdown(timings: list[Timing], *, facts: int, repeat: int) -> str:
    lines = [BEGIN, "", f"{facts:,} synthetic conversations over 365 days; each request {repeat} times after one "
             f"warm-up, over real HTTP with a marketer's session; target p95 ≤ {TARGET_P95_MS} ms.", "",
             "| Backend | Request | Status | Size | Median ms | p95 ms | Slowest ms |",
             "|---|---|---|---|---|---|---|"]
    for t in timings:
        flag = "" if t.p95_ms <= TARGET_P95_MS else " ⚠"
        lines.append(f"| {t.backend} | {t.request} | {t.status} | {t.size:,} B | {t.median_ms:.0f} | "
                     f"{t.p95_ms:.0f}{flag} | {t.max_ms:.0f} |")
    lines += ["", END]
    return "\n".join(lines)


def write_report(output: Path, section: str) -> None:
    """Replace the generated section of `output` (notes outside the markers stay)."""
    existing = output.read_text(encoding="utf-8") if output.exists() else ""
    if BEGIN in existing and END in existing:
        head, rest = existing.split(BEGIN, 1)
        content = head + section + rest.split(END, 1)[1]
    else:
        content = (existing or "# Dashboard benchmark\n\n") + section + "\n"
    output.write_text(content, encoding="utf-8")


def run(*, facts: int, repeat: int, postgres_url: str | None, output: Path | None,
        today: date | None = None, workdir: Path | None = None) -> list[Timing]:
    """Seed and time on SQLite (in `workdir`, default a temporary directory) and on PostgreSQL if given."""
    today = today or datetime.now(timezone.utc).date()
    for noisy in ("aiohttp.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    timings: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="analytics-benchmark-") as temporary:
        base = workdir or Path(temporary)
        tracker_url = f"sqlite:///{base / 'conversations.db'}"
        seed_transcripts(tracker_url)
        backends = [("SQLite", f"sqlite:///{base / 'records.db'}")]
        if postgres_url:
            backends.append(("PostgreSQL", postgres_url))
        for backend, url in backends:
            started = time.perf_counter()
            seed(url, facts=facts, today=today)
            print(f"{backend}: {facts} facts seeded in {time.perf_counter() - started:.1f} s", flush=True)
            measured = time_requests(url, tracker_url, backend=backend, repeat=repeat, today=today)
            for t in measured:
                print(f"{backend:10} {t.request:50} {t.status} median {t.median_ms:6.0f} ms  p95 {t.p95_ms:6.0f} ms",
                      flush=True)
            timings += measured
    if output is not None:
        write_report(output, markdown(timings, facts=facts, repeat=repeat))
    return timings
