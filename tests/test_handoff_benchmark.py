"""The handoff benchmark end to end at a tiny scale (3 customers, 2 agents): it starts the real servers,
runs the whole scenario and reports zero lost messages. No timing is asserted: this proves the benchmark
works, docs/handoff_benchmark.md has the figures."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.benchmark_handoff import HandoffRun, render_section, rewrite_report
from bot.cli import main

pytestmark = [pytest.mark.e2e]


def test_report_section_is_rewritten_per_backend_and_notes_stay() -> None:
    run = HandoffRun(customers=3, agents=2, setup="test", queue_ms=[100.0, 300.0], agent_message_ms=[50.0],
                     customer_message_ms=[])
    from datetime import datetime, timezone

    section = render_section(run, measured_at=datetime(2026, 12, 1, tzinfo=timezone.utc), machine="box")
    assert "| 200 ms | 290 ms | 300 ms | 2 |" in section and "n/a" in section
    report = rewrite_report("# Title\n\nA note.\n", section, "embedded")
    report = rewrite_report(report, section.replace("box", "other box"), "environment")
    again = rewrite_report(report, section.replace("box", "third box"), "embedded")
    assert "A note." in again and "third box" in again and "other box" in again
    assert again.count("## Embedded defaults") == 1 and again.count("## PostgreSQL") == 1


def test_tiny_benchmark_loses_nothing(tmp_path: Path) -> None:
    report = tmp_path / "handoff_benchmark.md"
    code = main(["handoff-benchmark", "--customers", "3", "--agents", "2", "--rounds", "1", "--output", str(report)])
    text = report.read_text()
    assert "3 customers (socket.io), 2 agents" in text
    assert "Errors: 0. Lost messages/entries: 0. Assistant messages during a handoff: 0." in text
    assert code == 0
    # every latency was measured: 3 customers x 2 agents queue entries, 3 agent and 3 customer messages
    assert "| 6 |" in text and text.count("| 3 |") == 3
