"""The daily roll-up (bot.analytics.rollup) always equals what the conversation facts add up to, on SQLite and
PostgreSQL: after random event streams through the projection (duplicates, events out of order that move a
conversation to the day before, channel changes, outcomes that change when records arrive later, handoffs taken
later, quiet conversations closed), after the retention purge and an erasure, after a rebuild by the command,
after the migration that introduced it, and with two consumers writing at once. The dashboard's figures and days
read from it equal the same figures counted conversation by conversation."""
from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, insert, select, text

from bot.analytics import charts, kpis, rollup
from bot.analytics.period import Period
from bot.analytics.projection import (
    apply_event,
    apply_events,
    close_quiet_conversations,
    refresh_unfinished_handoffs,
)
from bot.cli import main
from bot.privacy.erasure import erase_customer
from bot.privacy.retention import PurgeReport, purge_analytics
from bot.records.database import transaction
from bot.records.migrations import _config
from bot.records.models import (
    Cancellation,
    Contract,
    ConversationFact,
    DailyFigures,
    HandoffRequest,
    OfferDecision,
    RetentionOffer,
    SatisfactionRating,
)
from tests.analytics_events import T0, action, slot, user
from tests.conftest import empty_tables
from tests.factories import add_customer

MIDNIGHT = datetime(2026, 11, 3, tzinfo=timezone.utc)  # conversations start around midnight of 2 to 3 November
CHANNELS = ("socketio", "rest", "whatsapp", "telegram")
JUDGED = {"today": date(2026, 12, 20), "hold_days": 30}


def _t(moment: datetime) -> float:
    """Seconds after tests.analytics_events.T0 (the events' time base)."""
    return moment.timestamp() - T0


def reference(session) -> dict[rollup.Key, tuple[int, ...]]:  # type: ignore[no-untyped-def]
    """The roll-up counted fact by fact in Python, from the dashboard's definitions (README "Marketing dashboard")."""
    found: dict[rollup.Key, list[int]] = defaultdict(lambda: [0] * len(rollup.FIGURES))
    for fact in session.scalars(select(ConversationFact)):
        row = found[(fact.started_at.date(), fact.channel)]
        handed_off = fact.handoff_wait_seconds is not None or fact.outcome == "handed_off"
        for name, value in (
                ("conversations", 1), ("cancellation_intents", int(fact.cancellation_intent)),
                ("accepted_offer_cost_cents", (fact.offer_cost_cents or 0) if fact.outcome == "offer_accepted" else 0),
                ("cancellations", int(fact.cancelled_at is not None or fact.outcome == "cancelled")),
                ("handoffs", int(handed_off)), ("handoff_waits", int(fact.handoff_wait_seconds is not None)),
                ("fallbacks", fact.fallbacks), ("messages", fact.messages), ("ratings", int(fact.rating is not None)),
                ("rating_sum", fact.rating or 0),
                ("dissatisfaction_micros", int(fact.dissatisfaction_peak * 1_000_000 + 0.5))):
            row[rollup.FIGURES.index(name)] += value
    return {key: tuple(values) for key, values in found.items()}


def assert_consistent(url: str) -> dict[rollup.Key, tuple[int, ...]]:
    with transaction(url) as session:
        stored, expected = rollup.stored(session), reference(session)
        assert stored == expected
        assert rollup.recomputed(session) == expected
    return stored


def assert_dashboard_matches_the_facts(url: str, first: date, last: date) -> None:
    """Key figures and days from the roll-up against the same figures counted over the facts in Python."""
    with transaction(url) as session:
        facts = list(session.scalars(select(ConversationFact)))
        for channel in (None, *CHANNELS):
            period = Period(first, last, channel)
            chosen = [f for f in facts if first <= f.started_at.date() <= last and channel in (None, f.channel)]
            figures = kpis.figures(session, period, **JUDGED)
            messages = sum(f.messages for f in chosen)
            ratings = [f.rating for f in chosen if f.rating is not None]
            handoffs = sum(1 for f in chosen if f.handoff_wait_seconds is not None or f.outcome == "handed_off")
            assert figures.conversations == len(chosen)
            assert figures.customers == len({f.customer_id for f in chosen if f.customer_id is not None})
            assert figures.cancellation_intents == sum(1 for f in chosen if f.cancellation_intent)
            assert figures.offer_cost_cents == sum(f.offer_cost_cents or 0 for f in chosen
                                                   if f.outcome == "offer_accepted")
            assert figures.cancellations == sum(1 for f in chosen
                                                if f.cancelled_at is not None or f.outcome == "cancelled")
            assert figures.handoffs == handoffs
            assert figures.handoff_rate == (pytest.approx(handoffs / len(chosen)) if chosen else None)
            assert figures.fallback_rate == (pytest.approx(sum(f.fallbacks for f in chosen) / messages)
                                             if messages else None)
            assert figures.average_rating == (pytest.approx(sum(ratings) / len(ratings)) if ratings else None)
            for point in charts.per_day(session, period):
                today = [f for f in chosen if f.started_at.date() == point.day]
                assert (point.conversations, point.cancellation_intents) == (
                    len(today), sum(1 for f in today if f.cancellation_intent))
                assert point.dissatisfaction == (
                    pytest.approx(sum(f.dissatisfaction_peak for f in today) / len(today), abs=1e-6)
                    if today else None)


def _customers(url: str, count: int) -> list[tuple[int, int, str]]:
    found = []
    with transaction(url) as session:
        for number in range(count):
            customer = add_customer(session, number=f"K2{number:05d}", plan_code="MOBIL_M")
            contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
            found.append((customer.id, contract.id, contract.contract_number))
    return found


def _stream(chance: random.Random, sender: str, start: datetime, customer_id: int,
            contract_number: str) -> tuple[list[dict], list[dict]]:
    """One conversation's events in time order, and maybe an earlier event that arrives after all the others
    (it moves the conversation's start, sometimes to the day before)."""
    seconds = _t(start)
    channel = chance.choice(CHANNELS)
    events = [user(sender, seconds, "Hallo", "greet", channel=channel)]
    step = seconds
    for _ in range(chance.randint(2, 7)):
        step += chance.randint(5, 400)
        kind = chance.random()
        if kind < 0.25:
            intent = chance.choice(("cancel_contract", "cancel_now", "ask_bill", "nlu_fallback", "nlu_fallback"))
            if chance.random() < 0.2:
                channel = chance.choice(CHANNELS)  # the same conversation id arriving on another channel
            events.append(user(sender, step, f"Nachricht {step:.0f} {chance.random():.6f}", intent, channel=channel))
        elif kind < 0.4:
            events.append(slot(sender, step, "dissatisfaction_peak", chance.random()))
        elif kind < 0.5:
            events.append(slot(sender, step, "verified_customer", float(customer_id)))
        elif kind < 0.6:
            events.append(slot(sender, step, "cancellation_reason", chance.choice(("price", "moving"))))
        elif kind < 0.7:
            events += [slot(sender, step, "offer_code", chance.choice(("DISCOUNT_20", "PAUSE_3"))),
                       slot(sender, step + 0.1, "contract_number", contract_number)]
        elif kind < 0.8:
            events.append(slot(sender, step, "rating", float(chance.randint(1, 5))))
        else:
            events.append(action(sender, step, "action_serve_request"))  # the projection reads the records
    late = [user(sender, seconds - chance.randint(60, 900), "Guten Abend", "greet", channel=channel)]
    return events, late if chance.random() < 0.5 else []


def _add_records(chance: random.Random, url: str, sender: str, customer_id: int, contract_id: int,
                 when: datetime, offers: dict[str, int], done: set[str]) -> None:
    """Records an action would write for the conversation, at random: an offer decision, a cancellation (after
    an accepted offer: the outcome changes), a handoff and later its taking, a rating."""
    with transaction(url) as session:
        roll = chance.random()
        if roll < 0.25 and "decision" not in done:
            done.add("decision")
            session.add(OfferDecision(conversation_id=sender, customer_id=customer_id, contract_id=contract_id,
                                      offer_id=offers[chance.choice(list(offers))], reason="price",
                                      outcome=chance.choice(("accepted", "accepted", "declined")),
                                      cost_cents=chance.randint(0, 5000), decided_at=when))
        elif roll < 0.4 and "cancellation" not in done:
            done.add("cancellation")
            session.add(Cancellation(contract_id=contract_id, customer_id=customer_id, conversation_id=sender,
                                     requested_at=when + timedelta(minutes=5), effective_date=date(2027, 1, 31),
                                     reason="price", confirmation_number=f"KB-{sender[-12:]}"))
        elif roll < 0.55 and "handoff" not in done:
            done.add("handoff")
            session.add(HandoffRequest(conversation_id=sender, customer_id=customer_id, reason="request_human",
                                       created_at=when, status="open"))
        elif roll < 0.7 and "handoff" in done and "taken" not in done:
            done.add("taken")
            handoff = session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == sender)).one()
            handoff.status, handoff.taken_at = "taken", when + timedelta(seconds=chance.randint(5, 600))
        elif roll < 0.8:
            session.add(SatisfactionRating(conversation_id=sender, customer_id=customer_id,
                                           rating=chance.randint(1, 5), created_at=when))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollup_equals_the_facts_after_random_event_streams(database_url: str, seed: int) -> None:
    chance = random.Random(seed)
    people = _customers(database_url, 10)
    with transaction(database_url) as session:
        offers = {code: session.scalars(select(RetentionOffer.id).where(RetentionOffer.code == code)).one()
                  for code in ("DISCOUNT_20", "PAUSE_3")}
    senders = [f"rollup-{seed}-{number}" for number in range(len(people))]
    pending: list[dict] = []
    late: list[dict] = []
    for sender, (customer_id, _, contract_number) in zip(senders, people, strict=True):
        start = MIDNIGHT + timedelta(seconds=chance.randint(-3 * 3600, 3 * 3600))
        in_order, earlier = _stream(chance, sender, start, customer_id, contract_number)
        pending += in_order
        late += earlier
    pending = sorted(pending, key=lambda event: event["timestamp"]) + late
    applied: list[dict] = []
    done: dict[str, set[str]] = defaultdict(set)
    while pending:
        size = chance.randint(1, 12)
        batch, pending = pending[:size], pending[size:]
        batch += chance.sample(applied, min(len(applied), chance.randint(0, 4)))  # redeliveries
        chance.shuffle(batch)
        with transaction(database_url) as session:
            if chance.random() < 0.3:  # one event at a time, with autoflush (as a test or a tool would)
                for event in batch:
                    apply_event(session, event, now=MIDNIGHT)
            else:
                apply_events(session, batch, now=MIDNIGHT)
        applied += batch
        for sender, (customer_id, contract_id, _) in zip(senders, people, strict=True):
            if chance.random() < 0.3:
                _add_records(chance, database_url, sender, customer_id, contract_id,
                             MIDNIGHT + timedelta(minutes=chance.randint(0, 120)), offers, done[sender])
        if chance.random() < 0.3:
            with transaction(database_url) as session:
                refresh_unfinished_handoffs(session)
        if chance.random() < 0.2:
            with transaction(database_url) as session:
                close_quiet_conversations(session, now=MIDNIGHT + timedelta(hours=6), idle_minutes=30)
        assert_consistent(database_url)
    # Every conversation's latest records reach its fact with one more action each (outcomes change now).
    with transaction(database_url) as session:
        apply_events(session, [action(sender, 99_000, "action_listen_again") for sender in senders], now=MIDNIGHT)
    stored = assert_consistent(database_url)
    assert sum(values[0] for values in stored.values()) == len(senders)
    assert {day for day, _ in stored} <= {date(2026, 11, 2), date(2026, 11, 3)}
    assert_dashboard_matches_the_facts(database_url, date(2026, 11, 2), date(2026, 11, 3))
    assert_dashboard_matches_the_facts(database_url, date(2026, 11, 3), date(2026, 11, 3))


def test_a_duplicate_event_changes_nothing_and_a_later_outcome_moves_the_counts(database_url: str) -> None:
    (customer_id, contract_id, contract_number), = _customers(database_url, 1)
    sender = "rollup-outcome"
    events = [user(sender, 0, "Ich will kündigen", "cancel_contract", channel="rest"),
              slot(sender, 1, "verified_customer", float(customer_id)),
              slot(sender, 2, "offer_code", "DISCOUNT_20"), slot(sender, 2.1, "contract_number", contract_number)]
    with transaction(database_url) as session:
        apply_events(session, events, now=MIDNIGHT)
        offer_id = session.scalars(select(RetentionOffer.id).where(RetentionOffer.code == "DISCOUNT_20")).one()
        session.add(OfferDecision(conversation_id=sender, customer_id=customer_id, contract_id=contract_id,
                                  offer_id=offer_id, reason="price", outcome="accepted", cost_cents=2398,
                                  decided_at=MIDNIGHT))
    accepted = action(sender, 3, "action_accept_offer")
    with transaction(database_url) as session:
        assert apply_events(session, [accepted], now=MIDNIGHT) == 1
    before = assert_consistent(database_url)
    (key, values), = before.items()
    assert key[1] == "rest" and values[rollup.FIGURES.index("accepted_offer_cost_cents")] == 2398
    with transaction(database_url) as session:  # delivered again: nothing changes
        assert apply_events(session, [*events, accepted], now=MIDNIGHT) == 0
    assert assert_consistent(database_url) == before

    with transaction(database_url) as session:  # the customer cancels after all
        session.add(Cancellation(contract_id=contract_id, customer_id=customer_id, conversation_id=sender,
                                 requested_at=MIDNIGHT + timedelta(hours=1), effective_date=date(2027, 1, 31),
                                 reason="price", confirmation_number="KB-ROLLUP01"))
    with transaction(database_url) as session:
        apply_events(session, [action(sender, 4000, "action_cancel")], now=MIDNIGHT)
    (_, after), = assert_consistent(database_url).items()
    figures = dict(zip(rollup.FIGURES, after, strict=True))
    assert (figures["accepted_offer_cost_cents"], figures["cancellations"], figures["conversations"]) == (0, 1, 1)


def _facts_on_days(url: str, days: list[date], *, customer_id: int | None = None) -> None:
    chance = random.Random(7)
    with transaction(url) as session:
        for number, day in enumerate(days):
            started = datetime(day.year, day.month, day.day, 10, tzinfo=timezone.utc)
            session.add(ConversationFact(
                conversation_id=f"fact-{number}", channel=chance.choice(CHANNELS), started_at=started,
                ended_at=started + timedelta(minutes=5), updated_at=started, messages=chance.randint(1, 9),
                customer_id=customer_id, cancellation_intent=chance.random() < 0.5,
                outcome=chance.choice(("resolved", "cancelled", "handed_off", "offer_accepted")),
                offer_cost_cents=chance.choice((None, 1200)), rating=chance.choice((None, 2, 5)),
                fallbacks=chance.randint(0, 2), dissatisfaction_peak=round(chance.random(), 3),
                handoff_wait_seconds=chance.choice((None, 45))))


def test_the_retention_purge_takes_the_deleted_facts_out_of_the_rollup(database_url: str) -> None:
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(0, 60, 3) for _ in range(2)]
    _facts_on_days(database_url, days)
    assert len(assert_consistent(database_url)) > 10
    report = PurgeReport()
    purge_analytics(records_url=database_url, cutoff=datetime(2026, 2, 1, tzinfo=timezone.utc), report=report)
    assert report.facts == sum(1 for day in days if day < date(2026, 2, 1))
    stored = assert_consistent(database_url)
    assert stored and min(day for day, _ in stored) >= date(2026, 2, 1)


def test_changes_to_thousands_of_days_go_out_in_several_statements(database_url: str) -> None:
    """A purge of years of facts: more values than SQLite's default limit of 32,766 parameters per statement."""
    keys = [(date(2020, 1, 1) + timedelta(days=offset), channel) for offset in range(800) for channel in CHANNELS]
    one = [1] * len(rollup.FIGURES)
    with transaction(database_url) as session:
        rollup.apply_changes(session.connection(), {key: list(one) for key in keys})
        assert len(rollup.stored(session)) == len(keys)
        rollup.apply_changes(session.connection(), {key: [-value for value in one] for key in keys[5:]})
        assert rollup.stored(session) == {key: tuple(one) for key in keys[:5]}


def test_an_erasure_leaves_the_rollup_equal_to_the_facts(database_url: str) -> None:
    (customer_id, _, _), = _customers(database_url, 1)
    _facts_on_days(database_url, [date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 2)], customer_id=customer_id)
    before = assert_consistent(database_url)
    erase_customer("K200000", records_url=database_url, event_store_urls=[])
    with transaction(database_url) as session:
        assert session.scalars(select(ConversationFact.customer_id)).all() == [None] * 3
    assert assert_consistent(database_url) == before  # the roll-up holds no customer reference


def test_the_command_rebuilds_the_rollup_after_bulk_inserts(database_url: str, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    _facts_on_days(database_url, [date(2026, 4, 1), date(2026, 4, 2)])
    started = datetime(2026, 4, 3, 23, 59, tzinfo=timezone.utc)
    with transaction(database_url) as session:  # past the ORM: the roll-up does not know them
        session.execute(insert(ConversationFact.__table__), [
            {"conversation_id": f"bulk-{n}", "channel": "rest", "started_at": started, "ended_at": started,
             "updated_at": started, "messages": 2, "intents": "", "dissatisfaction_peak": 0.25,
             "cancellation_intent": True, "outcome": "open", "fallbacks": 1} for n in range(3)])
        session.execute(DailyFigures.__table__.update().values(messages=999))  # and a damaged row
        assert rollup.stored(session) != reference(session)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["analytics-rebuild-rollup", "--check"]) == 1
    assert "differs from the conversation facts on 3 day and channel rows" in capsys.readouterr().out
    assert main(["analytics-rebuild-rollup"]) == 0
    assert "3 day and channel rows" in capsys.readouterr().out
    assert main(["analytics-rebuild-rollup", "--check"]) == 0
    assert "equals the conversation facts (3 day and channel rows)" in capsys.readouterr().out
    stored = assert_consistent(database_url)
    assert stored[(date(2026, 4, 3), "rest")][:2] == (3, 3)


def test_the_migration_fills_the_rollup_from_the_facts_already_there(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    url = f"sqlite:///{tmp_path / 'before.db'}"
    command.upgrade(_config(url), "0010")
    engine = create_engine(url, future=True)
    with engine.begin() as connection:
        for number, (started, peak, outcome) in enumerate((("2026-05-01 23:59:59.000000", 0.1234567, "cancelled"),
                                                          ("2026-05-02 00:00:00.000000", 0.5, "offer_accepted"),
                                                          ("2026-05-02 08:00:00.000000", 0.0, "handed_off"))):
            connection.execute(text(
                "INSERT INTO conversation_facts (conversation_id, channel, started_at, ended_at, messages, intents, "
                "dissatisfaction_peak, cancellation_intent, outcome, fallbacks, offer_cost_cents, rating, updated_at)"
                " VALUES (:id, 'socketio', :at, :at, 3, '', :peak, 1, :outcome, 1, 700, 4, :at)"),
                {"id": f"old-{number}", "at": started, "peak": peak, "outcome": outcome})
    engine.dispose()
    command.upgrade(_config(url), "head")
    stored = assert_consistent(url)
    assert sorted(stored) == [(date(2026, 5, 1), "socketio"), (date(2026, 5, 2), "socketio")]
    assert stored[(date(2026, 5, 1), "socketio")][rollup.FIGURES.index("dissatisfaction_micros")] == 123457


def test_two_consumers_writing_at_once_lose_no_count(postgres_url: str) -> None:
    """Two RabbitMQ consumers' transactions adding conversations to the same day and channel at the same time on
    PostgreSQL (the upsert adds atomically; SQLite has one writer, the SQL consumer)."""
    database_url = postgres_url
    empty_tables(database_url)
    errors: list[BaseException] = []

    def consume(name: str) -> None:
        try:
            for batch in range(15):
                events = [user(f"{name}-{batch}-{n}", 3600 + n, "Hallo", "greet", channel="telegram")
                          for n in range(4)]
                with transaction(database_url) as session:
                    apply_events(session, events, now=MIDNIGHT)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    workers = [threading.Thread(target=consume, args=(name,)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    stored = assert_consistent(database_url)
    assert sum(values[0] for values in stored.values()) == 2 * 15 * 4
