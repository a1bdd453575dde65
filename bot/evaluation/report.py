"""The evaluation report as Markdown (docs/nlu_evaluation.md) and as JSON (results/)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.evaluation.evaluate import EvaluationReport
from bot.evaluation.scoring import FALLBACK, OUT_OF_SCOPE, SentimentResult
from bot.evaluation.targets import check_targets

HIGHLIGHTED = ("cancel_contract", "complain")
# Everything below this line in an existing report is kept when the report is regenerated.
KEPT_MARKER = "<!-- Kept when the report is regenerated: notes and history below. -->"


def to_json(report: EvaluationReport) -> dict[str, Any]:
    data = asdict(report)
    data["targets"] = [asdict(check) for check in check_targets(report)]
    if report.heldout.sentiment is not None:
        data["heldout"]["sentiment"]["negative_f1"] = report.heldout.sentiment.negative_f1
    if report.germeval is not None:
        data["germeval"]["negative_f1"] = report.germeval.negative_f1
    return data


def _number(value: float | None, digits: int = 3) -> str:
    return "not available" if value is None else f"{value:.{digits}f}"


def _sentiment_lines(result: SentimentResult) -> list[str]:
    per_class = ", ".join(f"{label} {scores.f1:.3f}" for label, scores in result.per_class.items())
    missing = f"; {result.missing} without a sentiment (counted as wrong)" if result.missing else ""
    return [f"{result.documents} documents: micro-F1 {result.micro_f1:.3f} (= accuracy {result.accuracy:.3f}), "
            f"negative F1 {result.negative_f1:.3f}; F1 per class: {per_class}{missing}."]


def render_markdown(report: EvaluationReport) -> str:
    intents = report.heldout.intents
    lines = [
        "# NLU evaluation",
        "",
        f"Generated {report.generated_at} on {report.machine} with `python -m bot.cli evaluate`",
        f"(model `{Path(report.model_path).name}`, held-out set `tests/nlu_heldout/messages.tsv`, "
        f"{intents.messages} messages the model was never trained on; see `tests/nlu_heldout/README.md`).",
        "",
        "## Targets",
        "",
        "| metric | value | target | met |",
        "|---|---|---|---|",
    ]
    for check in check_targets(report):
        met = "–" if check.met is None else ("yes" if check.met else "**no**")
        digits = 1 if "latency" in check.name else 3
        lines.append(f"| {check.name} | {_number(check.value, digits)} | {check.rule} | {met} |")
    highlighted = "; ".join(f"**{name}** precision {intents.per_intent[name].precision:.3f}, recall "
                            f"{intents.per_intent[name].recall:.3f}" for name in HIGHLIGHTED if name in intents.per_intent)
    lines += [
        "",
        f"Highlighted: {highlighted}.",
        "",
        f"Out-of-scope recall counts `{FALLBACK}` predictions for `{OUT_OF_SCOPE}` messages as correct detection "
        f"({intents.out_of_scope_as_fallback} of them here); in the per-intent scores below `{FALLBACK}` is a miss. "
        f"Intent accuracy {intents.accuracy:.3f}; {intents.fallback_predictions} messages fell back.",
        "",
        "## Intents (held-out)",
        "",
        "| intent | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for intent, scores in intents.per_intent.items():
        name = f"**{intent}**" if intent in HIGHLIGHTED else intent
        lines.append(f"| {name} | {scores.precision:.3f} | {scores.recall:.3f} | {scores.f1:.3f} | {scores.support} |")
    lines += [f"| macro F1 | | | {intents.macro_f1:.3f} | {intents.messages} |", "",
              "Most frequent confusions (gold → predicted):", ""]
    lines += [f"- {c.gold} → {c.predicted}: {c.count}" for c in intents.confusions] or ["- none"]
    lines += ["", "## Sentiment", "", "Held-out set: " + (
        _sentiment_lines(report.heldout.sentiment)[0] if report.heldout.sentiment
        else "not available (the model gives no `sentiment` in its parse result).")]
    lines += ["", "GermEval 2017 dev set (subtask B, 3 classes, licensed non-commercial, read at run time only): " + (
        _sentiment_lines(report.germeval)[0] if report.germeval else report.germeval_note + ".")]
    latency = report.heldout.latency
    lines += ["", "## Parse latency", "",
              f"In-process `Agent.parse_message` over the {latency.messages} held-out messages (after one warm-up "
              f"parse): p50 {latency.p50_ms:.1f} ms, p95 {latency.p95_ms:.1f} ms, mean {latency.mean_ms:.1f} ms.",
              ""]
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
