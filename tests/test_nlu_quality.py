"""NLU regression test: the trained model on the dev and test sets must not fall below today's quality.

The thresholds sit a little (about 0.02) below the numbers measured when they were set (see
docs/nlu_evaluation.md); raise them when the NLU gets better. The model is loaded once for the module.
A failure on the dev set lists its misclassified messages (the dev set is for error analysis); a failure
on the test set gives only the scores, so that nobody tunes on its messages.
Latency is measured and documented by `python -m bot.cli evaluate`, not asserted here.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from bot.cli import HELDOUT_PATH, MODEL_PATH, TEST_SET_PATH
from bot.evaluation import HeldOutResult, evaluate_heldout, load_agent, load_labelled_messages
from bot.evaluation.parsing import quiet_rasa_logging

if TYPE_CHECKING:
    from rasa.core.agent import Agent

# 0.02 below what `python -m bot.cli evaluate` measured for the model of 2026-11-24 (one message of a
# class with 60 examples moves recall by about 0.016, so one flip passes and two fail).
# Issue 8 (2026-12-01) deleted the training lines that were near-copies of dev- or test-set messages;
# the minimums that the honest numbers then fell below were lowered to 0.02 below the new measurement
# (marked "issue 8"; docs/nlu_evaluation.md). The others still hold and stay.
MINIMUM_DEV = {
    "cancel_contract recall": 0.913,  # issue 8: measured 0.933 (0.950 before, same day)
    "cancel_contract precision": 0.913,  # issue 8: 0.933 (0.983)
    "complain recall": 0.789,  # issue 8: 0.809 (0.851)
    "complain precision": 0.885,  # issue 8: 0.905 (0.952)
    "intent macro F1": 0.91,  # issue 8: 0.930 (0.947)
    "out-of-scope recall": 0.88,  # issue 8: 0.900 (0.933)
}
MINIMUM_TEST = {  # the new test set (tests/nlu_test/, issue 8): 0.02 below the measurement of the second round
    # (606 fresh training examples, other companies' cancellations out of scope; docs/nlu_evaluation.md). That
    # round traded cancel_contract recall (0.917 -> 0.880) for precision and request_human recall; the
    # cancellation stays one click away for 0.959 of cancellation messages (the cancel button when in doubt).
    "cancel_contract recall": 0.86,  # measured 0.880 (first measurement 0.917)
    "cancel_contract precision": 0.828,  # 0.848 (0.839)
    "complain recall": 0.745,  # 0.765 (0.765)
    "complain precision": 0.73,  # 0.750 (0.750)
    "request_human recall": 0.751,  # 0.771 (0.657)
    "intent macro F1": 0.866,  # 0.886 (0.866)
    "out-of-scope recall": 0.862,  # 0.882 (0.843)
    "cancellation one click away": 0.939,  # 0.959 (not measured before)
}
# dev: issue 8 measured 0.876 without the dev-fitted sentiment rules and near-copies (0.908 before)
MINIMUM_SENTIMENT_NEGATIVE_F1 = {"dev": 0.856, "test": 0.824}  # new test set: measured 0.844


@pytest.fixture(scope="module")
def agent() -> Agent:
    if not MODEL_PATH.exists():
        raise RuntimeError(f"No trained model at {MODEL_PATH}: run scripts/test.sh (it trains when needed).")
    quiet_rasa_logging()
    return load_agent(MODEL_PATH)


@pytest.fixture(scope="module")
def dev(agent: Agent) -> HeldOutResult:
    return asyncio.run(evaluate_heldout(agent, load_labelled_messages(HELDOUT_PATH)))


@pytest.fixture(scope="module")
def test_set(agent: Agent) -> HeldOutResult:
    return asyncio.run(evaluate_heldout(agent, load_labelled_messages(TEST_SET_PATH)))


def _below(result: HeldOutResult, minimum: dict[str, float]) -> dict[str, float]:
    intents = result.intents
    measured = {
        "cancel_contract recall": intents.per_intent["cancel_contract"].recall,
        "cancel_contract precision": intents.per_intent["cancel_contract"].precision,
        "complain recall": intents.per_intent["complain"].recall,
        "complain precision": intents.per_intent["complain"].precision,
        "request_human recall": intents.per_intent["request_human"].recall,
        "intent macro F1": intents.macro_f1,
        "out-of-scope recall": intents.out_of_scope_recall,
        "cancellation one click away": result.cancel_button.reachable_share,
    }
    return {name: round(value, 3) for name, value in measured.items() if name in minimum and value < minimum[name]}


def test_intent_quality_holds_on_the_dev_set(dev: HeldOutResult) -> None:
    below = _below(dev, MINIMUM_DEV)
    assert below == {}, f"NLU regression on the dev set (minimum {MINIMUM_DEV}); misses: {dev.misses}"


def test_intent_quality_holds_on_the_test_set(test_set: HeldOutResult) -> None:
    below = _below(test_set, MINIMUM_TEST)
    assert below == {}, (f"NLU regression on the test set (minimum {MINIMUM_TEST}); {len(test_set.misses)} "
                         "misclassified. Analyse errors on the dev set only; do not tune on the test set.")


@pytest.mark.parametrize("name", ["dev", "test"])
def test_sentiment_quality_holds_when_the_pipeline_has_sentiment(
        name: str, request: pytest.FixtureRequest) -> None:
    result: HeldOutResult = request.getfixturevalue("dev" if name == "dev" else "test_set")
    if result.sentiment is None:
        pytest.skip("the pipeline has no sentiment component (config.yml), so there is no sentiment to check")
    assert result.sentiment.missing == 0
    assert result.sentiment.negative_f1 >= MINIMUM_SENTIMENT_NEGATIVE_F1[name]
