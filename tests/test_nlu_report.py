"""The evaluation report: targets judged on the test set, its misses kept out of docs/, notes kept."""
from __future__ import annotations

import json
from pathlib import Path

from bot.evaluation.datasets import LabelledMessage
from bot.evaluation.evaluate import EvaluationReport, HeldOutResult, score_heldout
from bot.evaluation.parsing import Prediction, prediction_from_parse
from bot.evaluation.report import KEPT_MARKER, render_markdown, write_report


def _scored(intents: list[str], sentiments: list[str | None]) -> HeldOutResult:
    messages = [LabelledMessage("Ich kündige", "cancel_contract", "negative"),
                LabelledMessage("Wetter?", "out_of_scope", "neutral"),
                LabelledMessage("Frechheit", "complain", "negative"),
                LabelledMessage("Hallo", "greet", "neutral")]
    predictions = [Prediction(i, 0.9, s, latency_ms=float(n + 10))
                   for n, (i, s) in enumerate(zip(intents, sentiments, strict=True))]
    return score_heldout(messages, predictions)


def _report(*, sentiment: bool) -> EvaluationReport:
    labels: list[str | None] = ["negative", "neutral", "neutral", "neutral"] if sentiment else [None] * 4
    test = _scored(["cancel_contract", "nlu_fallback", "cancel_contract", "greet"], labels)
    dev = _scored(["cancel_contract", "out_of_scope", "complain", "greet"], labels)
    return EvaluationReport(
        generated_at="2026-11-24 06:00 UTC", machine="test", command="python -m bot.cli evaluate",
        model_path="models/retention.tar.gz", test_path="tests/nlu_test/messages.tsv", test=test,
        dev_path="tests/nlu_heldout/messages.tsv", dev=dev, germeval_path="/missing.tsv", germeval=None,
        germeval_note="not available: /missing.tsv not found (set GERMEVAL_DEV_PATH)")


def test_targets_are_judged_on_the_test_set_with_the_dev_value_beside_them() -> None:
    text = render_markdown(_report(sentiment=False))
    assert "| metric | test | dev | target | met (test) |" in text
    assert "| cancel_contract recall | 1.000 | 1.000 | ≥ 0.97 | yes |" in text
    assert "| cancel_contract precision | 0.500 | 1.000 | ≥ 0.95 | **no** |" in text
    assert "| intent macro F1 | 0.417 | 1.000 | ≥ 0.92 | **no** |" in text
    assert "| out-of-scope recall | 1.000 | 1.000 | ≥ 0.8 | yes |" in text  # the fallback counts as detection
    assert "| sentiment negative F1 | not available | not available | ≥ 0.9 | – |" in text
    assert "| GermEval 2017 sentiment micro-F1 | not available | – | ≥ 0.75 | – |" in text
    assert "| parse latency p50 (ms) | 11.5 | 11.5 | ≤ 15 | yes |" in text
    assert "GermEval 2017" in text and "not found (set GERMEVAL_DEV_PATH)" in text


def test_both_sets_get_intent_tables_but_only_the_dev_set_may_name_its_misses() -> None:
    text = render_markdown(_report(sentiment=False))
    test_part, dev_part = text.split("## Intents (test set)")[1].split("## Intents (dev set)")
    assert "- complain → cancel_contract: 1" in test_part and "- none" in dev_part
    assert ("Highlighted: **cancel_contract** precision 0.500, recall 1.000; **complain** precision 0.000, "
            "recall 0.000.") in test_part
    assert "| macro F1 | | | 0.417 | 4 |" in test_part and "| macro F1 | | | 1.000 | 4 |" in dev_part
    assert "2 of 4 messages misclassified; they are not listed anywhere in docs/" in test_part
    assert "Frechheit" not in text and "Wetter?" not in text


def test_sentiment_scores_appear_when_the_model_gives_them() -> None:
    text = render_markdown(_report(sentiment=True))
    assert "| sentiment negative F1 | 0.667 | 0.667 | ≥ 0.9 | **no** |" in text
    assert "Test set: 4 documents: micro-F1 0.750" in text and "Dev set: 4 documents: micro-F1 0.750" in text


def test_regenerating_keeps_the_notes_below_the_marker(tmp_path: Path) -> None:
    markdown, result = tmp_path / "nlu_evaluation.md", tmp_path / "results" / "nlu.json"
    markdown.write_text(f"# old numbers\n\n{KEPT_MARKER}\n## History\n\nbefore: 0.87\n", encoding="utf-8")
    write_report(_report(sentiment=False), markdown_path=markdown, json_path=result)
    text = markdown.read_text(encoding="utf-8")
    assert "# old numbers" not in text
    assert text.endswith(f"{KEPT_MARKER}\n## History\n\nbefore: 0.87\n")
    data = json.loads(result.read_text(encoding="utf-8"))
    assert data["test"]["intents"]["per_intent"]["cancel_contract"]["precision"] == 0.5
    assert data["dev"]["intents"]["per_intent"]["cancel_contract"]["precision"] == 1.0
    assert [t["met"] for t in data["targets"]][:2] == [True, False]
    assert [m["text"] for m in data["test"]["misses"]] == ["Wetter?", "Frechheit"]  # results/ is not committed


def test_a_parse_result_is_read_with_or_without_sentiment() -> None:
    parsed = {"text": "Frechheit", "intent": {"name": "complain", "confidence": 0.81},
              "sentiment": {"label": "negative", "score": 0.93}}
    assert prediction_from_parse(parsed, 4.2) == Prediction("complain", 0.81, "negative", 4.2)
    without = prediction_from_parse({"text": "Hallo", "intent": {"name": "greet", "confidence": 0.9}}, 3.0)
    assert without.sentiment is None
