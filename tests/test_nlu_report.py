"""The evaluation report: targets marked met or not, missing sentiment said plainly, notes kept."""
from __future__ import annotations

import json
from pathlib import Path

from bot.evaluation.datasets import LabelledMessage
from bot.evaluation.evaluate import EvaluationReport, score_heldout
from bot.evaluation.parsing import Prediction, prediction_from_parse
from bot.evaluation.report import KEPT_MARKER, render_markdown, write_report


def _report(*, sentiment: bool) -> EvaluationReport:
    messages = [LabelledMessage("Ich kündige", "cancel_contract", "negative"),
                LabelledMessage("Wetter?", "out_of_scope", "neutral"),
                LabelledMessage("Frechheit", "complain", "negative"),
                LabelledMessage("Hallo", "greet", "neutral")]
    labels = ["negative", "neutral", "neutral", "neutral"] if sentiment else [None] * 4
    intents = ["cancel_contract", "nlu_fallback", "cancel_contract", "greet"]
    predictions = [Prediction(i, 0.9, s, latency_ms=float(n + 10)) for n, (i, s) in enumerate(zip(intents, labels, strict=True))]
    return EvaluationReport(
        generated_at="2026-11-24 06:00 UTC", machine="test", command="python -m bot.cli evaluate",
        model_path="models/retention.tar.gz", heldout_path="messages.tsv",
        heldout=score_heldout(messages, predictions), germeval_path="/missing.tsv", germeval=None,
        germeval_note="not available: /missing.tsv not found (set GERMEVAL_DEV_PATH)")


def test_targets_are_marked_and_missing_sentiment_is_not_a_failure() -> None:
    text = render_markdown(_report(sentiment=False))
    assert "| cancel_contract recall | 1.000 | ≥ 0.97 | yes |" in text
    assert "| cancel_contract precision | 0.500 | ≥ 0.95 | **no** |" in text
    assert "| out-of-scope recall | 1.000 | ≥ 0.8 | yes |" in text  # the fallback counts as detection
    assert "| sentiment negative F1 (held-out) | not available | ≥ 0.9 | – |" in text
    assert "| parse latency p50 (ms) | 11.5 | ≤ 15 | yes |" in text
    assert "- complain → cancel_contract: 1" in text
    assert ("Highlighted: **cancel_contract** precision 0.500, recall 1.000; **complain** precision 0.000, "
            "recall 0.000.") in text
    assert "GermEval 2017" in text and "not found (set GERMEVAL_DEV_PATH)" in text


def test_sentiment_scores_appear_when_the_model_gives_them() -> None:
    text = render_markdown(_report(sentiment=True))
    assert "| sentiment negative F1 (held-out) | 0.667 | ≥ 0.9 | **no** |" in text
    assert "micro-F1 0.750" in text


def test_regenerating_keeps_the_notes_below_the_marker(tmp_path: Path) -> None:
    markdown, result = tmp_path / "nlu_evaluation.md", tmp_path / "results" / "nlu.json"
    markdown.write_text(f"# old numbers\n\n{KEPT_MARKER}\n## History\n\nbefore: 0.87\n", encoding="utf-8")
    write_report(_report(sentiment=False), markdown_path=markdown, json_path=result)
    text = markdown.read_text(encoding="utf-8")
    assert "# old numbers" not in text
    assert text.endswith(f"{KEPT_MARKER}\n## History\n\nbefore: 0.87\n")
    data = json.loads(result.read_text(encoding="utf-8"))
    assert data["heldout"]["intents"]["per_intent"]["cancel_contract"]["precision"] == 0.5
    assert [t["met"] for t in data["targets"]][:2] == [True, False]


def test_a_parse_result_is_read_with_or_without_sentiment() -> None:
    parsed = {"text": "Frechheit", "intent": {"name": "complain", "confidence": 0.81},
              "sentiment": {"label": "negative", "score": 0.93}}
    assert prediction_from_parse(parsed, 4.2) == Prediction("complain", 0.81, "negative", 4.2)
    without = prediction_from_parse({"text": "Hallo", "intent": {"name": "greet", "confidence": 0.9}}, 3.0)
    assert without.sentiment is None
