"""The evaluation report as Markdown (docs/nlu_evaluation.md) and as JSON (results/)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.evaluation.evaluate import EvaluationReport, HeldOutResult
from bot.evaluation.scoring import FALLBACK, OUT_OF_SCOPE, IntentResult, SentimentResult
from bot.evaluation.targets import check_targets
from bot.settings import PROJECT_ROOT

HIGHLIGHTED = ("cancel_contract", "complain")
# Everything below this line in an existing report is kept when the report is regenerated.
KEPT_MARKER = "<!-- Kept when the report is regenerated: notes and history below. -->"


def to_json(report: EvaluationReport) -> dict[str, Any]:
    """Everything, misclassified messages of both sets included (results/ is not committed)."""
    data = asdict(report)
    data["targets"] = [asdict(check) for check in check_targets(report)]
    for name, result in (("test", report.test), ("dev", report.dev)):
        if result.sentiment is not None:
            data[name]["sentiment"]["negative_f1"] = result.sentiment.negative_f1
    if report.germeval is not None:
        data["germeval"]["negative_f1"] = report.germeval.negative_f1
    return data


def _number(value: float | None, digits: int = 3) -> str:
    return "not available" if value is None else f"{value:.{digits}f}"


def _shown_path(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return path


def _sentiment_lines(result: SentimentResult) -> list[str]:
    per_class = ", ".join(f"{label} {scores.f1:.3f}" for label, scores in result.per_class.items())
    missing = f"; {result.missing} without a sentiment (counted as wrong)" if result.missing else ""
    return [f"{result.documents} documents: micro-F1 {result.micro_f1:.3f} (= accuracy {result.accuracy:.3f}), "
            f"negative F1 {result.negative_f1:.3f}; F1 per class: {per_class}{missing}."]


def _highlighted(intents: IntentResult) -> str:
    return "; ".join(f"**{name}** precision {intents.per_intent[name].precision:.3f}, recall "
                     f"{intents.per_intent[name].recall:.3f}" for name in HIGHLIGHTED if name in intents.per_intent)


def _intent_section(title: str, result: HeldOutResult, misses_note: str) -> list[str]:
    intents = result.intents
    button = result.cancel_button
    lines = [f"## Intents ({title})", "",
             f"Highlighted: {_highlighted(intents)}. Intent accuracy {intents.accuracy:.3f}; "
             f"{intents.fallback_predictions} messages fell back; out-of-scope recall "
             f"{intents.out_of_scope_recall:.3f} ({intents.out_of_scope_as_fallback} of them as `{FALLBACK}`).",
             "",
             f"Cancellation one click away: the reply to {button.reachable} of {button.cancellations} cancellation "
             f"messages ({button.reachable_share:.3f}) offers the cancellation at once (taken as a cancellation, or "
             f"the \"Jetzt kündigen\" button because it might be one); the button also comes with "
             f"{button.offered_to_others} of {button.others} other messages ({button.offered_to_others_share:.3f}).",
             "",
             "| intent | precision | recall | F1 | support |",
             "|---|---|---|---|---|"]
    for intent, scores in intents.per_intent.items():
        name = f"**{intent}**" if intent in HIGHLIGHTED else intent
        lines.append(f"| {name} | {scores.precision:.3f} | {scores.recall:.3f} | {scores.f1:.3f} | {scores.support} |")
    lines += [f"| macro F1 | | | {intents.macro_f1:.3f} | {intents.messages} |", "",
              "Most frequent confusions (gold → predicted):", ""]
    lines += [f"- {c.gold} → {c.predicted}: {c.count}" for c in intents.confusions] or ["- none"]
    lines += ["", f"{len(result.misses)} of {intents.messages} messages misclassified; {misses_note}", ""]
    return lines


def _sentiment_line(name: str, result: HeldOutResult) -> str:
    return f"{name}: " + (_sentiment_lines(result.sentiment)[0] if result.sentiment
                          else "not available (the model gives no `sentiment` in its parse result).")


def render_markdown(report: EvaluationReport) -> str:
    """The report for docs/: scores and counts only, never a misclassified test-set message."""
    test, dev = report.test, report.dev
    lines = [
        "# NLU evaluation",
        "",
        f"Generated {report.generated_at} on {report.machine} with `python -m bot.cli evaluate`",
        f"(model `{Path(report.model_path).name}`). Neither set was trained on. The **test set** "
        f"`{_shown_path(report.test_path)}` ({test.intents.messages} messages) is never used for tuning, so the "
        f"targets are judged on it; the **dev set** `{_shown_path(report.dev_path)}` ({dev.intents.messages} "
        f"messages) is used for error analysis, so its numbers are optimistic. See the README next to each set.",
        "",
        "## Targets",
        "",
        "| metric | test | dev | target | met (test) |",
        "|---|---|---|---|---|",
    ]
    for check in check_targets(report):
        met = "–" if check.met is None else ("yes" if check.met else "**no**")
        digits = 1 if "latency" in check.name else 3
        dev_value = _number(check.dev_value, digits) if check.per_set else "–"
        lines.append(f"| {check.name} | {_number(check.value, digits)} | {dev_value} | {check.rule} | {met} |")
    lines += [
        "",
        f"Out-of-scope recall counts `{FALLBACK}` predictions for `{OUT_OF_SCOPE}` messages as correct detection; "
        f"in the per-intent scores below `{FALLBACK}` is a miss.",
        "",
    ]
    lines += _intent_section("test set", test, "they are not listed anywhere in docs/ so that nobody tunes on "
                             "them (only results/nlu_evaluation.json, which is not committed, has them).")
    lines += _intent_section("dev set", dev, "they are listed in results/nlu_evaluation.json for error analysis.")
    lines += ["## Sentiment", "", _sentiment_line("Test set", test), "", _sentiment_line("Dev set", dev)]
    lines += ["", "GermEval 2017 dev set (subtask B, 3 classes, licensed non-commercial, read at run time only): " + (
        _sentiment_lines(report.germeval)[0] if report.germeval else report.germeval_note + ".")]
    lines += ["", "## Parse latency", "", "In-process `Agent.parse_message` (after one warm-up parse): "
              + "; ".join(f"{name} set, {r.latency.messages} messages: p50 {r.latency.p50_ms:.1f} ms, "
                          f"p95 {r.latency.p95_ms:.1f} ms, mean {r.latency.mean_ms:.1f} ms"
                          for name, r in (("test", test), ("dev", dev))) + ".", ""]
    return "\n".join(lines)


def kept_section(existing: str) -> str:
    """The part of an existing report that regenerating keeps (from the marker on)."""
    index = existing.find(KEPT_MARKER)
    return existing[index:] if index >= 0 else KEPT_MARKER + "\n"


def write_report(report: EvaluationReport, *, markdown_path: Path, json_path: Path) -> None:
    existing = markdown_path.read_text(encoding="utf-8") if markdown_path.exists() else ""
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(render_markdown(report) + "\n" + kept_section(existing), encoding="utf-8")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
