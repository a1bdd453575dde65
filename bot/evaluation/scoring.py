"""Turning gold labels and predictions into the numbers of the evaluation report."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.evaluation.datasets import SENTIMENTS
from bot.evaluation.metrics import (
    LabelScores,
    accuracy,
    confusion_pairs,
    macro_f1,
    micro_f1,
    per_label_scores,
    percentile,
)

OUT_OF_SCOPE = "out_of_scope"
# Rasa's FallbackClassifier answers "nlu_fallback" when it is unsure; for a message that is out of
# scope that is the right outcome (the assistant says it cannot help), so it counts as detected.
FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Confusion:
    gold: str
    predicted: str
    count: int


@dataclass(frozen=True)
class IntentResult:
    messages: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, LabelScores]
    confusions: list[Confusion]
    out_of_scope_recall: float
    out_of_scope_as_fallback: int
    fallback_predictions: int


@dataclass(frozen=True)
class SentimentResult:
    """3-class sentiment scores; `missing` counts messages the model gave no sentiment for."""

    documents: int
    missing: int
    accuracy: float
    micro_f1: float
    per_class: dict[str, LabelScores]

    @property
    def negative_f1(self) -> float:
        return self.per_class["negative"].f1


@dataclass(frozen=True)
class Latency:
    messages: int
    p50_ms: float
    p95_ms: float
    mean_ms: float


CANCELLATION_INTENTS = ("cancel_contract", "cancel_now")


@dataclass(frozen=True)
class CancelButtonResult:
    """How often the reply offers the cancellation at once: for cancellation messages (`reachable`, the
    product's safety net behind the intent), and for all other messages (`offered_to_others`)."""

    cancellations: int
    reachable: int
    others: int
    offered_to_others: int

    @property
    def reachable_share(self) -> float:
        return self.reachable / self.cancellations if self.cancellations else 0.0

    @property
    def offered_to_others_share(self) -> float:
        return self.offered_to_others / self.others if self.others else 0.0


def score_cancel_button(gold: Sequence[str], shown: Sequence[bool]) -> CancelButtonResult:
    """`shown[i]`: whether the reply to message i offers the cancellation at once."""
    if len(gold) != len(shown):
        raise ValueError(f"{len(gold)} labels but {len(shown)} predictions")
    cancelling = [s for g, s in zip(gold, shown, strict=True) if g in CANCELLATION_INTENTS]
    others = [s for g, s in zip(gold, shown, strict=True) if g not in CANCELLATION_INTENTS]
    return CancelButtonResult(cancellations=len(cancelling), reachable=sum(cancelling), others=len(others),
                              offered_to_others=sum(others))


def score_intents(gold: Sequence[str], predicted: Sequence[str], *, top_confusions: int = 10) -> IntentResult:
    """Per-intent and macro scores over the intents in `gold`; `nlu_fallback` counts as a miss there."""
    per_intent = per_label_scores(gold, predicted)
    out_of_scope = [p for g, p in zip(gold, predicted, strict=True) if g == OUT_OF_SCOPE]
    detected = sum(1 for p in out_of_scope if p in (OUT_OF_SCOPE, FALLBACK))
    return IntentResult(
        messages=len(gold),
        accuracy=accuracy(gold, predicted),
        macro_f1=macro_f1(per_intent),
        per_intent=per_intent,
        confusions=[Confusion(g, p, n) for g, p, n in confusion_pairs(gold, predicted, top=top_confusions)],
        out_of_scope_recall=detected / len(out_of_scope) if out_of_scope else 0.0,
        out_of_scope_as_fallback=sum(1 for p in out_of_scope if p == FALLBACK),
        fallback_predictions=sum(1 for p in predicted if p == FALLBACK),
    )


def score_sentiment(gold: Sequence[str], predicted: Sequence[str | None]) -> SentimentResult | None:
    """Scores over all documents, or None when the model gave no sentiment at all (component absent)."""
    if all(p is None for p in predicted):
        return None
    labels = [p or "" for p in predicted]
    return SentimentResult(
        documents=len(gold),
        missing=sum(1 for p in predicted if p is None),
        accuracy=accuracy(gold, labels),
        micro_f1=micro_f1(gold, labels, SENTIMENTS),
        per_class=per_label_scores(gold, labels, SENTIMENTS),
    )


def measure_latency(latencies_ms: Sequence[float]) -> Latency:
    return Latency(messages=len(latencies_ms), p50_ms=percentile(latencies_ms, 50),
                   p95_ms=percentile(latencies_ms, 95), mean_ms=sum(latencies_ms) / len(latencies_ms))
