"""The benchmark's own logic (percentiles, ratios, the report's generated section) and, end to end, a tiny
side-by-side run against a bare `rasa init` bot and the assistant, both started by the benchmark."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.benchmark import (
    SECTION_BEGIN,
    SECTION_END,
    RunResult,
    assistant_conversation,
    bare_conversation,
    combine,
    percentile,
    ratios,
    render_section,
    rewrite_report,
)
from bot.cli import main


def result(bot: str, users: int, latencies: list[float], seconds: float, errors: int = 0) -> RunResult:
    return RunResult(bot=bot, users=users, conversations=1, messages=len(latencies), seconds=seconds,
                     latencies_ms=latencies, errors=errors, rasa_rss_mb=500.0)


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(values, 50) == 30.0
    assert percentile(values, 95) == pytest.approx(48.0)
    assert percentile([7.0], 95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    with pytest.raises(ValueError):
        percentile([], 50)


def test_ratios_compare_assistant_with_bare_bot_at_lowest_and_highest_load() -> None:
    results = [result("bare", 1, [60.0, 60.0, 60.0], 1.0), result("assistant", 1, [20.0, 30.0, 25.0], 1.0),
               result("bare", 20, [1.0] * 120, 10.0), result("assistant", 20, [1.0] * 300, 10.0)]
    r = ratios(results)
    assert r.latency_users == 1 and r.latency == pytest.approx(25.0 / 60.0)
    assert r.throughput_users == 20 and r.throughput == pytest.approx(30.0 / 12.0)
    assert r.latency_met and r.throughput_met
    slower = ratios([result("bare", 1, [60.0], 1.0), result("assistant", 1, [45.0], 1.0)])
    assert slower.latency == pytest.approx(0.75) and not slower.latency_met


def test_a_missing_bot_gives_no_ratio() -> None:
    r = ratios([result("assistant", 1, [20.0], 1.0)])
    assert r.latency is None and r.throughput is None and not r.latency_met


def test_rounds_combine_into_one_row() -> None:
    combined = combine([result("bare", 20, [1.0, 2.0], 1.0, errors=1), result("bare", 20, [3.0], 2.0)])
    assert (combined.messages, combined.seconds, combined.errors) == (3, 3.0, 1)
    assert combined.throughput == pytest.approx(1.0) and combined.p50 == 2.0
    with pytest.raises(ValueError):
        combine([result("bare", 20, [1.0], 1.0), result("assistant", 20, [1.0], 1.0)])


def test_both_conversations_have_the_same_length() -> None:
    assert len(bare_conversation(0)) == len(assistant_conversation(0)) == 7


def section() -> str:
    return render_section([result("bare", 1, [60.0], 1.0), result("assistant", 1, [24.0], 1.0)],
                          measured_at=datetime(2026, 12, 1, 14, 0), machine="vm (x86_64, 2 cores)",
                          setup="embedded", rounds=1)


def test_section_has_both_rows_and_the_ratios() -> None:
    text = section()
    assert "| bare | 1 |" in text and "| assistant | 1 |" in text
    assert "assistant p50 / bare p50 at 1 conversation(s): **0.40** (target ≤ 0.5: met)" in text


def test_rewriting_the_report_keeps_the_notes_outside_the_section() -> None:
    old = f"# Title\n\nIntro.\n\n{SECTION_BEGIN}\nold table\n{SECTION_END}\n\n## History\n\nKept notes.\n"
    new = rewrite_report(old, section())
    assert "old table" not in new and "| assistant | 1 |" in new
    assert new.startswith("# Title\n\nIntro.\n\n") and new.endswith("## History\n\nKept notes.\n")
    assert rewrite_report(new, section()) == new  # idempotent


def test_a_report_without_markers_keeps_its_text_below_the_new_section() -> None:
    new = rewrite_report("# Old benchmark\n\nNotes from before.\n", section())
    assert new.index(SECTION_END) < new.index("Notes from before.")
    assert rewrite_report(None, section()).count(SECTION_BEGIN) == 1


@pytest.mark.e2e
def test_benchmark_runs_both_bots_side_by_side_and_reports_the_ratios(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOCK_STORE_URL", "EVENT_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    report = tmp_path / "benchmark.md"
    report.write_text(f"# Benchmark\n\n{SECTION_BEGIN}\nold\n{SECTION_END}\n\n## Notes\n\nkept\n")
    code = main(["benchmark", "--users", "1", "--conversations", "2", "--rounds", "1", "--output", str(report)])
    text = report.read_text()
    assert code == 0, text
    assert "| bare | 1 | 2 | 14 |" in text and "| assistant | 1 | 2 | 14 |" in text
    assert "assistant p50 / bare p50 at 1 conversation(s): **" in text
    assert "assistant / bare at 1 conversations: **" in text
    assert text.endswith("## Notes\n\nkept\n") and "\nold\n" not in text
