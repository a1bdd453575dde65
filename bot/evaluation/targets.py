"""The quality targets of issue 3 and whether a report meets them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.evaluation.evaluate import EvaluationReport

CANCEL = "cancel_contract"


@dataclass(frozen=True)
class Target:
    name: str
    threshold: float
    at_most: bool  # True: the value must not exceed the threshold (latency); False: must reach it
    value_of: Callable[[EvaluationReport], float | None]

    @property
    def rule(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.threshold:g}"


@dataclass(frozen=True)
class TargetCheck:
    name: str
    rule: str
    value: float | None
    met: bool | None  # None: not measured


def _heldout_negative_f1(report: EvaluationReport) -> float | None:
    return report.heldout.sentiment.negative_f1 if report.heldout.sentiment else None


def _germeval_micro_f1(report: EvaluationReport) -> float | None:
    return report.germeval.micro_f1 if report.germeval else None


TARGETS: tuple[Target, ...] = (
    Target("cancel_contract recall", 0.97, False, lambda r: r.heldout.intents.per_intent[CANCEL].recall),
    Target("cancel_contract precision", 0.95, False, lambda r: r.heldout.intents.per_intent[CANCEL].precision),
    Target("intent macro F1", 0.92, False, lambda r: r.heldout.intents.macro_f1),
    Target("out-of-scope recall", 0.80, False, lambda r: r.heldout.intents.out_of_scope_recall),
    Target("sentiment negative F1 (held-out)", 0.90, False, _heldout_negative_f1),
    Target("GermEval 2017 sentiment micro-F1", 0.75, False, _germeval_micro_f1),
    Target("parse latency p50 (ms)", 15, True, lambda r: r.heldout.latency.p50_ms),
)


def check_targets(report: EvaluationReport) -> list[TargetCheck]:
    checks = []
    for target in TARGETS:
        value = target.value_of(report)
        met = None if value is None else (value <= target.threshold if target.at_most else value >= target.threshold)
        checks.append(TargetCheck(target.name, target.rule, value, met))
    return checks
