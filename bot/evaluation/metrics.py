"""Classification metrics as plain functions over parallel lists of gold and predicted labels."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelScores:
    """Precision, recall and F1 of one label; 0.0 where a ratio has nothing to divide by."""

    precision: float
    recall: float
    f1: float
    support: int


def _check(gold: Sequence[str], predicted: Sequence[str]) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")


def label_scores(gold: Sequence[str], predicted: Sequence[str], label: str) -> LabelScores:
    """Scores of `label` against all other labels."""
    _check(gold, predicted)
    true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
    predicted_count = sum(1 for p in predicted if p == label)
    support = sum(1 for g in gold if g == label)
    precision = true_positive / predicted_count if predicted_count else 0.0
    recall = true_positive / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LabelScores(precision=precision, recall=recall, f1=f1, support=support)


def per_label_scores(gold: Sequence[str], predicted: Sequence[str],
                     labels: Iterable[str] | None = None) -> dict[str, LabelScores]:
    """Scores for each label (default: every gold label), in sorted order."""
    wanted = sorted(set(gold) if labels is None else set(labels))
    return {label: label_scores(gold, predicted, label) for label in wanted}


def macro_f1(scores: dict[str, LabelScores]) -> float:
    """Unweighted mean F1 over the given labels."""
    if not scores:
        raise ValueError("macro F1 needs at least one label")
    return sum(s.f1 for s in scores.values()) / len(scores)


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    _check(gold, predicted)
    if not gold:
        raise ValueError("accuracy of an empty list is undefined")
    return sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold)


def micro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Iterable[str]) -> float:
    """F1 from true positives, false positives and false negatives pooled over `labels`.

    With one label per item and `labels` covering every gold and predicted label it equals accuracy;
    predictions outside `labels` count as false negatives only.
    """
    _check(gold, predicted)
    wanted = set(labels)
    true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p and g in wanted)
    false_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if p in wanted and g != p)
    false_negative = sum(1 for g, p in zip(gold, predicted, strict=True) if g in wanted and g != p)
    denominator = 2 * true_positive + false_positive + false_negative
    return 2 * true_positive / denominator if denominator else 0.0


def confusion_pairs(gold: Sequence[str], predicted: Sequence[str], *, top: int = 10) -> list[tuple[str, str, int]]:
    """The most frequent (gold, predicted, count) mistakes, most frequent first, ties alphabetically."""
    _check(gold, predicted)
    counts = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(g, p, n) for (g, p), n in ordered[:top]]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("percentile of an empty list is undefined")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
