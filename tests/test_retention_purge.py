"""Retention periods: `purge-expired` deletes transcripts and analytics facts older than configured, and only
those, on SQLite and PostgreSQL; `bot.cli run` repeats it as a service."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot.cli import service_commands
from bot.conversation_store import RedactingSQLTrackerStore
from bot.privacy.event_tables import EventTable
from bot.privacy.retention import parse_interval, purge_expired, run_every
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import (
    AgentMessage,
    Cancellation,
    ConversationFact,
    ConversationInsight,
    Customer,
    FallbackMessage,
    HandoffRequest,
    ProcessedEvent,
    StaffUser,
)
from bot.settings import PROJECT_ROOT, Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TRANSCRIPT_DAYS, ANALYTICS_DAYS = 180, 730


def days_ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def _tracker_store(url: str) -> RedactingSQLTrackerStore:
    if url.startswith("sqlite"):
        return RedactingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=url.removeprefix("sqlite:///"))
    return RedactingSQLTrackerStore(Domain.empty(), dialect="postgresql", host=url)


def _conversation(*ages_days: float, now: datetime = NOW) -> list:
    events = []
    for age in ages_days:
        at = days_ago(age, now).timestamp()
        events += [UserUttered("Wie hoch ist meine Rechnung?", timestamp=at), BotUttered("Gern.", timestamp=at + 1)]
    return events


# conversation -> the ages (days) of its turns
CONVERSATIONS = {
    "expired": (400, 390),
    "just-expired": (181,),
    "started-long-ago-but-active": (300, 20),  # its latest turn is recent: the whole conversation stays
    "recent": (3,),
}


async def _seed_conversations(tracker_url: str, broker_url: str, *, now: datetime = NOW) -> None:
    store = _tracker_store(tracker_url)
    broker = SQLEventBroker(db=broker_url.removeprefix("sqlite:///"))
    for sender, ages in CONVERSATIONS.items():
        events = _conversation(*ages, now=now)
        await store.save(DialogueStateTracker.from_events(sender, events))
        for event in events:
            broker.publish({"sender_id": sender, **event.as_dict()})
    store.engine.dispose()
    broker.engine.dispose()


def _seed_records(url: str) -> None:
    with transaction(url) as session:
        seed_demo_customers(session, count=7, seed=7, today=NOW.date())
    with transaction(url) as session:
        customer = session.scalars(select(Customer)).first()
        agent = StaffUser(username="petra", first_name="Petra", password_hash="x", role="agent", created_at=NOW)
        session.add(agent)
        session.flush()
        for name, age in (("old", 200), ("new", 10)):
            handoff = HandoffRequest(conversation_id=f"handoff-{name}", customer_id=customer.id, reason="request_human",
                                     created_at=days_ago(age), callback_phone="0171 2345678", status="closed")
            session.add(handoff)
            session.flush()
            session.add(AgentMessage(handoff_id=handoff.id, conversation_id=f"handoff-{name}", agent_id=agent.id,
                                     text="Ich rufe Sie an.", created_at=days_ago(age)))
        for name, age in (("old", 200), ("new", 10)):
            session.add(FallbackMessage(conversation_id=f"fallback-{name}", text="häh", at=days_ago(age)))
        for name, age in (("old", 800), ("borderline", 729), ("new", 10)):
            session.add(ConversationFact(conversation_id=f"fact-{name}", started_at=days_ago(age),
                                         ended_at=days_ago(age), updated_at=days_ago(age)))
            session.add(ProcessedEvent(key=f"{name:0>64}", conversation_id=f"fact-{name}", processed_at=days_ago(age)))
            session.add(ConversationInsight(conversation_id=f"fact-{name}", updated_at=days_ago(age)))
        contract = customer.contracts[0]
        session.add(Cancellation(contract_id=contract.id, customer_id=customer.id, conversation_id="expired",
                                 requested_at=days_ago(900), effective_date=date(2024, 7, 1),
                                 confirmation_number="KB-OLD00001"))


async def test_purge_deletes_only_what_is_older_than_its_retention_period(
        database_url: str, stores: tuple[str, str]) -> None:
    tracker_url, broker_url = stores
    await _seed_conversations(tracker_url, broker_url)
    _seed_records(database_url)

    report = purge_expired(records_url=database_url, event_store_urls=[tracker_url], broker_urls=[broker_url],
                           transcript_days=TRANSCRIPT_DAYS, analytics_days=ANALYTICS_DAYS, now=NOW)

    for url in (tracker_url, broker_url):
        table = EventTable(url)
        left = {stored.conversation_id for stored in table.events()}
        table.dispose()
        assert left == {"started-long-ago-but-active", "recent"}, url
    assert report.transcripts == 2 and report.transcript_events == 6 and report.broker_events == 6
    with transaction(database_url) as session:
        assert [m.conversation_id for m in session.scalars(select(AgentMessage))] == ["handoff-new"]
        phones = {h.conversation_id: h.callback_phone for h in session.scalars(select(HandoffRequest))}
        assert phones == {"handoff-old": None, "handoff-new": "0171 2345678"}, "the handoff stays, the phone goes"
        assert [m.conversation_id for m in session.scalars(select(FallbackMessage))] == ["fallback-new"]
        facts = sorted(f.conversation_id for f in session.scalars(select(ConversationFact)))
        assert facts == ["fact-borderline", "fact-new"]
        assert sorted(p.conversation_id for p in session.scalars(select(ProcessedEvent))) == facts
        assert sorted(i.conversation_id for i in session.scalars(select(ConversationInsight))) == facts
        assert session.scalars(select(Cancellation.confirmation_number)).all() == ["KB-OLD00001"], "legal record"
    assert (report.facts, report.processed_events, report.insights) == (1, 1, 1)
    assert (report.agent_messages, report.fallback_messages, report.callback_phones) == (1, 1, 1)

    again = purge_expired(records_url=database_url, event_store_urls=[tracker_url], broker_urls=[broker_url],
                          transcript_days=TRANSCRIPT_DAYS, analytics_days=ANALYTICS_DAYS, now=NOW)
    assert again.summary() == ", ".join(f"{name}: 0" for name in (
        "transcripts", "transcript events", "broker events", "agent messages", "fallback messages",
        "callback phones", "channel messages", "channel contacts", "facts", "processed events", "insights"))


def test_the_periods_come_from_the_settings() -> None:
    assert (Settings().transcript_retention_days, Settings().analytics_retention_days) == (180, 730)
    settings = Settings.from_env({"TRANSCRIPT_RETENTION_DAYS": "30", "ANALYTICS_RETENTION_DAYS": "365",
                                  "PURGE_INTERVAL_HOURS": "6"})
    assert (settings.transcript_retention_days, settings.analytics_retention_days) == (30, 365)
    with pytest.raises(ValueError, match="TRANSCRIPT_RETENTION_DAYS"):
        Settings.from_env({"TRANSCRIPT_RETENTION_DAYS": "0"})
    command = service_commands(settings, rasa_port=5005, action_port=5055, endpoints=Path("e.yml"))["data retention"]
    assert command[1:] == ["-m", "bot.cli", "purge-expired", "--every", "6h"]


def test_interval_and_schedule() -> None:
    assert [parse_interval(t) for t in ("24h", "30m", "90s", "2d", "1")] == [86400, 1800, 90, 172800, 3600]
    with pytest.raises(ValueError):
        parse_interval("often")
    runs: list[int] = []
    slept: list[float] = []

    def job() -> None:
        runs.append(1)
        if len(runs) == 2:
            raise ConnectionError("database down")  # logged; the schedule goes on

    run_every(3.0, job, should_stop=lambda: len(runs) >= 3, sleep=slept.append)
    assert len(runs) == 3 and sum(slept) == 6.0


async def test_the_scheduled_process_purges_and_stops_on_sigterm(sqlite_database_url: str, tmp_path: Path) -> None:
    tracker_url, broker_url = f"sqlite:///{tmp_path / 'c.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    await _seed_conversations(tracker_url, broker_url, now=datetime.now(timezone.utc))
    env = {**os.environ, "DATABASE_URL": sqlite_database_url, "TRACKER_STORE_URL": tracker_url,
           "ANALYTICS_EVENTS_URL": broker_url, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "purge-expired", "--every", "1s"], cwd=PROJECT_ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        left: set[str] = set(CONVERSATIONS)
        while time.monotonic() < deadline and left != {"started-long-ago-but-active", "recent"}:
            time.sleep(0.5)
            table = EventTable(tracker_url)
            left = {stored.conversation_id for stored in table.events()}
            table.dispose()
        assert left == {"started-long-ago-but-active", "recent"}
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Deleted expired data (transcripts older than 180 days" in output
