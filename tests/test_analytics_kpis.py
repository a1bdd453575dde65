"""The dashboard's figures against numbers computed by hand (tests/analytics_facts.py), on SQLite and PostgreSQL.

November 2026, judged on 10 December, hold period 30 days:
- 7 conversations (f1..f7), 4 distinct customers (c1 twice), 5 cancellation intents (f1..f5);
- saves: f1 held (accepted 2 Nov, active 37 days later), f3 pending (14 days), f2 lost (the contract was
  cancelled 15 days after the offer was accepted, so the save counts as lost once judged);
  save rate 1 / 5 = 0.2;
- offer cost of accepted offers 1000 + 3000 + 500 = 4500 cents; revenue retained (f1): 1999 × 1 month − 1000 = 999;
- 1 cancellation processed (f4); handoffs f5 (120 s) and f6 (60 s): rate 2 / 7, median wait 90 s;
- fallbacks 1 + 2 + 1 = 4 of 6+4+5+3+2+5+2 = 27 customer messages; ratings 5, 3, 4: average 4.0.
October (previous period): 1 conversation, 1 cancellation intent, 1 cancellation.
"""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from bot.analytics import charts, drilldown, export, kpis
from bot.analytics.dashboard_saves import saves_by_group
from bot.analytics.drilldown import Selection
from bot.analytics.period import InvalidPeriod, Period
from bot.analytics.saves import revenue_retained_for
from bot.records.database import transaction
from bot.records.models import Contract, ConversationFact
from tests.analytics_facts import FALLBACK_WITH_EMAIL, HOLD_DAYS, HOSTILE_INTENTS, NOVEMBER, TODAY, seed_facts

JUDGED = {"today": TODAY, "hold_days": HOLD_DAYS}


@pytest.fixture
def facts_url(database_url: str) -> str:
    with transaction(database_url) as session:
        seed_facts(session)
    return database_url


def test_key_figures_of_november_against_hand_computed_numbers(facts_url: str) -> None:
    with transaction(facts_url) as session:
        figures = {kpi.name: kpi for kpi in kpis.kpis(session, NOVEMBER, **JUDGED)}
    current = {name: kpi.current for name, kpi in figures.items()}
    assert current == {
        "conversations": 7, "customers": 4, "cancellation_intents": 5, "save_rate": pytest.approx(0.2),
        "saves_held": 1, "saves_pending": 1, "saves_lost": 1, "revenue_retained_cents": 999,
        "offer_cost_cents": 4500, "cancellations": 1, "handoff_rate": pytest.approx(2 / 7),
        "median_wait_seconds": 90, "fallback_rate": pytest.approx(4 / 27), "average_rating": pytest.approx(4.0),
    }
    assert figures["conversations"].previous == 6 - 5  # October: p1 only
    assert figures["conversations"].change == 6
    assert figures["cancellation_intents"].previous == 1 and figures["cancellations"].change == 0
    assert figures["save_rate"].previous == 0 and figures["save_rate"].change == pytest.approx(0.2)
    assert figures["average_rating"].previous is None and figures["average_rating"].change is None


def test_save_status_depends_on_the_day_it_is_judged(facts_url: str) -> None:
    with transaction(facts_url) as session:
        early = kpis.figures(session, NOVEMBER, today=date(2026, 12, 1), hold_days=HOLD_DAYS)
        late = kpis.figures(session, NOVEMBER, today=date(2027, 1, 31), hold_days=HOLD_DAYS)
    assert (early.saves_held, early.saves_pending, early.saves_lost) == (0, 2, 1)  # f1 only 29 days old
    assert (late.saves_held, late.saves_pending, late.saves_lost) == (2, 0, 1)
    # 31 Jan: f1 2 whole months (2 Nov to 31 Jan, no notice period) × 1999 − 1000; f3 would have ended on
    # 25 Dec (one notice month), 1 whole month since × 999 − 500 — as PIPELINE's revenue_retained_for says
    assert late.revenue_retained_cents == 2 * 1999 - 1000 + 999 - 500
    with transaction(facts_url) as session:
        held = session.scalars(select(ConversationFact).where(ConversationFact.conversation_id.in_(
            ("f1-held", "f3-pending"))))
        assert late.revenue_retained_cents == sum(
            revenue_retained_for(fact, session.get(Contract, fact.contract_id), today=date(2027, 1, 31))
            for fact in held)


def test_one_channel_and_its_previous_period(facts_url: str) -> None:
    chat = Period(NOVEMBER.first, NOVEMBER.last, "socketio")
    with transaction(facts_url) as session:
        figures = kpis.figures(session, chat, **JUDGED)
    assert (figures.conversations, figures.cancellation_intents, figures.saves_held, figures.saves_pending,
            figures.saves_lost) == (5, 4, 1, 1, 0)
    assert figures.median_wait_seconds == 120 and figures.average_rating == 5


def test_charts(facts_url: str) -> None:
    with transaction(facts_url) as session:
        days = charts.per_day(session, NOVEMBER)
        reasons = charts.reasons(session, NOVEMBER)
        funnel = charts.funnel(session, NOVEMBER)
        by_kind = charts.save_rate_by(session, NOVEMBER, "offer_kind", **JUDGED)
        by_segment = charts.save_rate_by(session, NOVEMBER, "segment", **JUDGED)
        by_reason = charts.save_rate_by(session, NOVEMBER, "reason", **JUDGED)
        fallbacks = charts.top_fallbacks(session, NOVEMBER, mask=lambda text: text.upper())
    assert len(days) == 30 and sum(d.conversations for d in days) == 7
    second = days[1]
    assert (second.day, second.conversations, second.cancellation_intents) == (date(2026, 11, 2), 1, 1)
    assert second.dissatisfaction == pytest.approx(0.6) and days[0].dissatisfaction is None
    assert [(r.code, r.conversations) for r in reasons] == [("price", 2), ("competitor", 1), ("none", 1),
                                                             ("technical", 1)]
    assert [(s.code, s.conversations) for s in funnel] == [
        ("intent", 5), ("reason", 4), ("offer", 4), ("accepted", 3), ("cancelled", 1), ("handed_off", 1)]
    assert [(s.code, s.conversations, s.held, s.pending, s.lost) for s in by_kind] == [
        ("discount", 2, 1, 1, 0), ("goodwill_credit", 1, 0, 0, 0), ("price_match", 1, 0, 0, 1)]
    assert by_kind[0].save_rate == 0.5
    assert [(s.code, s.conversations, s.held) for s in by_segment] == [
        ("business", 1, 0), ("premium", 1, 0), ("standard", 2, 1)]
    assert [(s.code, s.conversations, s.held) for s in by_reason] == [
        ("competitor", 1, 0), ("price", 2, 1), ("technical", 1, 0)]
    assert [(f.text, f.count) for f in fallbacks] == [("WAS KOSTET ROAMING?", 2), (FALLBACK_WITH_EMAIL.upper(), 1)]


@pytest.mark.parametrize("period", [NOVEMBER, Period(date(2026, 10, 1), date(2026, 12, 31)),
                                    Period(date(2026, 11, 1), date(2026, 11, 30), "whatsapp")])
def test_the_page_reads_the_saves_once_for_figures_and_charts(facts_url: str, period: Period) -> None:
    """The dashboard page reads the period's accepted offers once (saves_by_group) and gives them to the key
    figures and the save charts: the same numbers as each reading them itself."""
    with transaction(facts_url) as session:
        saves = saves_by_group(session, period, **JUDGED)
        assert kpis.kpis(session, period, saves=saves, **JUDGED) == kpis.kpis(session, period, **JUDGED)
        assert charts.breakdown(session, period, saves=saves, **JUDGED) == charts.breakdown(session, period, **JUDGED)
    assert saves  # every one of these periods has accepted offers


def test_drill_down_to_the_conversations_behind_a_segment(facts_url: str) -> None:
    def ids(selection: Selection) -> list[str]:
        with transaction(facts_url) as session:
            rows, more = drilldown.conversations(session, NOVEMBER, selection, **JUDGED)
        assert not more
        return [row.conversation_id for row in rows]

    assert ids(Selection("reason", "price")) == ["f3-pending", "f1-held"]
    assert ids(Selection("reason", "none")) == ["f5-handoff"]
    assert ids(Selection("offer_kind", "discount")) == ["f3-pending", "f1-held"]
    assert ids(Selection("step", "accepted")) == ["f3-pending", "f2-lost", "f1-held"]
    assert ids(Selection("step", "handed_off")) == ["f5-handoff"]
    assert ids(Selection("segment", "premium")) == ["f2-lost"]
    assert ids(Selection("day", "2026-11-15")) == ["f6-rest"]
    assert len(ids(Selection())) == 7
    with transaction(facts_url) as session:
        rows, _ = drilldown.conversations(session, NOVEMBER, Selection("step", "accepted"), **JUDGED)
    assert [row.save_status for row in rows] == ["pending", "lost", "held"]
    with pytest.raises(drilldown.InvalidSelection):
        Selection("step", "nonsense")
    with pytest.raises(drilldown.InvalidSelection):
        Selection("channel", "x")


def test_csv_export_is_masked_and_safe_against_formulas(facts_url: str) -> None:
    with transaction(facts_url) as session:
        rows = list(export.fact_rows(session, NOVEMBER, Selection(), masked=True, **JUDGED))
        full = list(export.fact_rows(session, NOVEMBER, Selection("reason", "price"), masked=False, **JUDGED))
    parsed = list(csv.reader(io.StringIO(export.to_csv(rows).lstrip("\ufeff")), delimiter=";"))
    assert parsed[0] == list(export.COLUMNS) and "customer_number" not in parsed[0]
    assert len(parsed) == 8
    abandoned = next(row for row in parsed if row[0] == "f7-abandoned")
    assert abandoned[export.COLUMNS.index("intents")] == "'" + HOSTILE_INTENTS
    held = next(row for row in parsed if row[0] == "f1-held")
    assert held[export.COLUMNS.index("save_status")] == "held"
    assert "K1000" not in export.to_csv(rows)
    assert full[0][-1] == "customer_number" and [row[-1] for row in full[1:]] == ["K100001", "K100003"]


@pytest.mark.parametrize("value, written", [("=1+1", "'=1+1"), ("+49", "'+49"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
                                            ("\tx", "'\tx"), ("\rx", "'\rx"), ("Preis", "Preis"), (-2, -2)])
def test_formula_cells_are_neutralised(value: object, written: object) -> None:
    assert export.neutralised(value) == written


def test_periods() -> None:
    assert NOVEMBER.previous() == Period(date(2026, 10, 2), date(2026, 10, 31))
    with pytest.raises(InvalidPeriod):
        Period(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(InvalidPeriod):
        Period(date(2026, 11, 1), date(2026, 11, 2), "fax")
