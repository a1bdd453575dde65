"""`python -m bot.cli evaluate` end to end with the trained model, on tiny test and dev files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

TEST_SET = ("text\tintent\tsentiment\nIch möchte meinen Handyvertrag kündigen\tcancel_contract\tneutral\n"
            "Hallo zusammen, guten Tag\tgreet\tneutral\n")
DEV_SET = ("text\tintent\tsentiment\nBitte kündigen Sie meinen Stromvertrag zum Monatsende\tcancel_contract\tneutral\n"
           "Wie wird das Wetter morgen in Rom?\tout_of_scope\tneutral\nGuten Abend\tgreet\tneutral\n")


@pytest.mark.parametrize("missing", ["--test", "--dev"])
def test_a_missing_set_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], missing: str) -> None:
    present = tmp_path / "present.tsv"
    present.write_text(TEST_SET, encoding="utf-8")
    paths = {"--test": str(present), "--dev": str(present), missing: str(tmp_path / "nope.tsv")}
    code = main(["evaluate", *[part for option, path in paths.items() for part in (option, path)],
                 "--output", str(tmp_path / "r.md"), "--json", str(tmp_path / "r.json")])
    assert code == 2
    assert "nope.tsv: file not found" in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


def test_evaluate_writes_both_sets_and_says_what_is_not_available(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    test_set, dev_set = tmp_path / "test.tsv", tmp_path / "dev.tsv"
    test_set.write_text(TEST_SET, encoding="utf-8")
    dev_set.write_text(DEV_SET, encoding="utf-8")
    monkeypatch.setenv("GERMEVAL_DEV_PATH", str(tmp_path / "no_germeval.tsv"))
    markdown, result = tmp_path / "nlu_evaluation.md", tmp_path / "results" / "nlu_evaluation.json"
    assert main(["evaluate", "--test", str(test_set), "--dev", str(dev_set), "--output", str(markdown),
                 "--json", str(result)]) == 0
    text = markdown.read_text(encoding="utf-8")
    assert "| cancel_contract recall | 1.000 | 1.000 | ≥ 0.97 | yes |" in text
    assert f"**test set** `{test_set}` (2 messages)" in text and f"**dev set** `{dev_set}` (3 messages)" in text
    assert "## Intents (test set)" in text and "## Intents (dev set)" in text
    assert "no_germeval.tsv not found (set GERMEVAL_DEV_PATH)" in text
    assert "## Parse latency" in capsys.readouterr().out
    data = json.loads(result.read_text(encoding="utf-8"))
    assert (data["test"]["intents"]["messages"], data["dev"]["intents"]["messages"]) == (2, 3)
    assert data["test"]["latency"]["p50_ms"] > 0 and data["dev"]["latency"]["p50_ms"] > 0
