"""The dashboard benchmark's code at a tiny scale (no timing assertions: the figures are in docs/)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.analytics import dashboard_benchmark as benchmark
from bot.analytics import kpis
from bot.analytics.period import Period
from bot.records.database import transaction

TODAY = date(2026, 12, 1)


def test_every_dashboard_request_answers_on_synthetic_facts(database_url: str, tmp_path: Path) -> None:
    benchmark.seed(database_url, facts=300, today=TODAY, customers=20)
    with transaction(database_url) as session:
        year = kpis.figures(session, Period(date(2025, 12, 2), TODAY), today=TODAY, hold_days=30)
    assert year.conversations == 300 and 0 < year.cancellation_intents < 300
    assert year.saves_held + year.saves_pending + year.saves_lost > 0
    tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
    benchmark.seed_transcripts(tracker_url, conversations=50)
    timings = benchmark.time_requests(database_url, tracker_url, backend="test", repeat=2, today=TODAY)
    assert [t.request for t in timings] == [name for name, _ in benchmark.requests(TODAY)]
    assert all(t.status == 200 and len(t.samples_ms) == 2 and t.size > 0 for t in timings)
    with pytest.raises(benchmark.NotAnEmptyDatabase):
        benchmark.seed(database_url, facts=10, today=TODAY)


def test_the_command_writes_its_report_between_the_markers(tmp_path: Path) -> None:
    report = tmp_path / "analytics_benchmark.md"
    report.write_text("# Dashboard benchmark\n\nNotes stay.\n\n" + benchmark.BEGIN + "\nold\n" + benchmark.END
                      + "\n\nMore notes.\n", encoding="utf-8")
    timings = benchmark.run(facts=200, repeat=1, postgres_url=None, output=report, today=TODAY,
                            workdir=tmp_path)
    text = report.read_text(encoding="utf-8")
    assert "Notes stay." in text and "More notes." in text and "\nold\n" not in text
    assert text.count("| SQLite |") == len(benchmark.requests(TODAY)) == len(timings)
