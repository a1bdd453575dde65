"""The evaluation metrics on small hand-made label lists whose scores are worked out by hand."""
from __future__ import annotations

import pytest

from bot.evaluation.metrics import (
    accuracy,
    confusion_pairs,
    label_scores,
    macro_f1,
    micro_f1,
    per_label_scores,
    percentile,
)
from bot.evaluation.scoring import score_intents, score_sentiment

GOLD = ["a", "a", "a", "b", "b", "c"]
PREDICTED = ["a", "a", "b", "b", "c", "c"]


@pytest.mark.parametrize(
    ("label", "precision", "recall", "f1", "support"),
    [
        ("a", 1.0, 2 / 3, 0.8, 3),  # 2 of 3 found, every "a" prediction right
        ("b", 0.5, 0.5, 0.5, 2),
        ("c", 0.5, 1.0, 2 / 3, 1),
    ],
)
def test_label_scores(label: str, precision: float, recall: float, f1: float, support: int) -> None:
    scores = label_scores(GOLD, PREDICTED, label)
    assert scores.precision == pytest.approx(precision)
    assert scores.recall == pytest.approx(recall)
    assert scores.f1 == pytest.approx(f1)
    assert scores.support == support


def test_macro_f1_is_the_unweighted_mean_over_labels() -> None:
    assert macro_f1(per_label_scores(GOLD, PREDICTED)) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_a_label_never_predicted_scores_zero_instead_of_dividing_by_zero() -> None:
    scores = label_scores(["x", "y"], ["y", "y"], "x")
    assert (scores.precision, scores.recall, scores.f1, scores.support) == (0.0, 0.0, 0.0, 1)


def test_accuracy_and_micro_f1() -> None:
    assert accuracy(GOLD, PREDICTED) == pytest.approx(4 / 6)
    assert micro_f1(GOLD, PREDICTED, ["a", "b", "c"]) == pytest.approx(4 / 6)  # single-label: = accuracy
    # only "a": 2 true positives, 0 false positives, 1 false negative -> 4 / 5
    assert micro_f1(GOLD, PREDICTED, ["a"]) == pytest.approx(0.8)
    # a prediction outside the labels (no sentiment given) is a miss, not a false positive
    assert micro_f1(["negative", "neutral"], ["negative", ""], ["negative", "neutral"]) == pytest.approx(2 / 3)


def test_confusion_pairs_most_frequent_first() -> None:
    gold = ["x", "x", "x", "y", "y", "z"]
    predicted = ["y", "y", "x", "z", "x", "z"]
    assert confusion_pairs(gold, predicted) == [("x", "y", 2), ("y", "x", 1), ("y", "z", 1)]
    assert confusion_pairs(gold, predicted, top=1) == [("x", "y", 2)]


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert (percentile(values, 0), percentile(values, 100)) == (1.0, 4.0)


@pytest.mark.parametrize("call", [
    lambda: accuracy(["a"], ["a", "b"]),
    lambda: label_scores(["a", "b"], ["a"], "a"),
    lambda: percentile([], 50),
    lambda: percentile([1.0], 101),
    lambda: macro_f1({}),
])
def test_bad_input_is_an_error(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_out_of_scope_recall_counts_fallback_as_detected_but_intent_scores_do_not() -> None:
    gold = ["out_of_scope", "out_of_scope", "out_of_scope", "out_of_scope", "greet"]
    predicted = ["out_of_scope", "nlu_fallback", "greet", "out_of_scope", "greet"]
    result = score_intents(gold, predicted)
    assert result.out_of_scope_recall == pytest.approx(3 / 4)
    assert result.out_of_scope_as_fallback == 1
    assert result.per_intent["out_of_scope"].recall == pytest.approx(2 / 4)
    assert result.fallback_predictions == 1
    assert set(result.per_intent) == {"out_of_scope", "greet"}  # nlu_fallback is no class of its own


def test_sentiment_is_not_available_without_any_predicted_label() -> None:
    assert score_sentiment(["negative", "neutral"], [None, None]) is None
    result = score_sentiment(["negative", "neutral", "negative"], ["negative", None, "neutral"])
    assert result is not None
    assert result.missing == 1
    assert result.accuracy == pytest.approx(1 / 3)
    assert result.negative_f1 == pytest.approx(2 / 3)  # precision 1, recall 1/2


def test_the_cancel_button_is_counted_for_cancellations_and_for_other_messages() -> None:
    from bot.evaluation.scoring import score_cancel_button
    result = score_cancel_button(["cancel_contract", "cancel_now", "cancel_contract", "complain", "greet"],
                                 [True, True, False, True, False])
    assert (result.reachable, result.cancellations) == (2, 3)
    assert result.reachable_share == pytest.approx(2 / 3)
    assert (result.offered_to_others, result.others) == (1, 2)
    with pytest.raises(ValueError):
        score_cancel_button(["cancel_contract"], [])
