"""The quality targets of issues 3 and 8 and whether a report meets them.

A target is judged on the test set; the dev set's value is shown beside it for comparison only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.evaluation.evaluate import EvaluationReport, HeldOutResult

CANCEL = "cancel_contract"


@dataclass(frozen=True)
class Target:
    name: str
    threshold: float
    at_most: bool  # True: the value must not exceed the threshold (latency); False: must reach it
    value_of: Callable[[EvaluationReport, HeldOutResult], float | None]  # the value on the given set
    per_set: bool = True  # False: measured once for the report (GermEval), not per set

    @property
    def rule(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.threshold:g}"


@dataclass(frozen=True)
class TargetCheck:
    name: str
    rule: str
    value: float | None  # on the test set
    dev_value: float | None  # on the dev set, for comparison
    met: bool | None  # judged on the test set; None: not measured
    per_set: bool  # False: one value for the whole report (no dev value)


def _recall_of(intent: str) -> Callable[[EvaluationReport, HeldOutResult], float | None]:
    """The intent's recall on a set; None when the set has no message of that intent."""
    def recall(_report: EvaluationReport, result: HeldOutResult) -> float | None:
        scores = result.intents.per_intent.get(intent)
        return scores.recall if scores is not None else None
    return recall


def _negative_f1(_report: EvaluationReport, result: HeldOutResult) -> float | None:
    return result.sentiment.negative_f1 if result.sentiment else None


def _germeval_micro_f1(report: EvaluationReport, _result: HeldOutResult) -> float | None:
    return report.germeval.micro_f1 if report.germeval else None


TARGETS: tuple[Target, ...] = (
    Target("cancel_contract recall", 0.97, False, lambda _r, s: s.intents.per_intent[CANCEL].recall),
    Target("cancel_contract precision", 0.95, False, lambda _r, s: s.intents.per_intent[CANCEL].precision),
    Target("request_human recall", 0.90, False, _recall_of("request_human")),
    Target("intent macro F1", 0.92, False, lambda _r, s: s.intents.macro_f1),
    Target("out-of-scope recall", 0.80, False, lambda _r, s: s.intents.out_of_scope_recall),
    Target("sentiment negative F1", 0.90, False, _negative_f1),
    Target("GermEval 2017 sentiment micro-F1", 0.75, False, _germeval_micro_f1, per_set=False),
    Target("parse latency p50 (ms)", 15, True, lambda _r, s: s.latency.p50_ms),
)


def check_targets(report: EvaluationReport) -> list[TargetCheck]:
    checks = []
    for target in TARGETS:
        value = target.value_of(report, report.test)
        dev_value = target.value_of(report, report.dev) if target.per_set else None
        met = None if value is None else (value <= target.threshold if target.at_most else value >= target.threshold)
        checks.append(TargetCheck(target.name, target.rule, value, dev_value, met, target.per_set))
    return checks
