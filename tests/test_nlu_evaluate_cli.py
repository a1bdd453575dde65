"""`python -m bot.cli evaluate` end to end with the trained model, on a tiny held-out file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main


def test_a_missing_heldout_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--heldout", str(tmp_path / "nope.tsv"), "--output", str(tmp_path / "r.md"),
                 "--json", str(tmp_path / "r.json")])
    assert code == 2
    assert "nope.tsv: file not found" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


def test_evaluate_writes_the_report_and_says_what_is_not_available(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    heldout = tmp_path / "messages.tsv"
    heldout.write_text("text\tintent\tsentiment\nIch möchte meinen Handyvertrag kündigen\tcancel_contract\tneutral\n"
                       "Hallo zusammen, guten Tag\tgreet\tneutral\n", encoding="utf-8")
    monkeypatch.setenv("GERMEVAL_DEV_PATH", str(tmp_path / "no_germeval.tsv"))
    markdown, result = tmp_path / "nlu_evaluation.md", tmp_path / "results" / "nlu_evaluation.json"
    assert main(["evaluate", "--heldout", str(heldout), "--output", str(markdown), "--json", str(result)]) == 0
    text = markdown.read_text(encoding="utf-8")
    assert "| cancel_contract recall | 1.000 | ≥ 0.97 | yes |" in text
    assert "no_germeval.tsv not found (set GERMEVAL_DEV_PATH)" in text
    assert "## Parse latency" in capsys.readouterr().out
    data = json.loads(result.read_text(encoding="utf-8"))
    assert data["heldout"]["intents"]["messages"] == 2
    assert data["heldout"]["latency"]["p50_ms"] > 0
