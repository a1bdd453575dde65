"""The dissatisfaction score and the once-only acknowledgement, as plain functions."""
from __future__ import annotations

import pytest

from actions.dissatisfaction import (
    ACKNOWLEDGE,
    ACKNOWLEDGE_WITH_PRIORITY,
    HUMAN_OFFERED,
    PRIORITY_OFFERED,
    acknowledgement,
    latest_message,
)
from bot.assistant.dissatisfaction import (
    ACKNOWLEDGE_AT,
    HISTORY_FLOOR_MAX,
    VERY_DISSATISFIED_AT,
    History,
    Message,
    assess,
    merge_reasons,
)
from tests.factories import tracker

NEGATIVE = {"sentiment": "negative", "sentiment_confidence": 0.9}


@pytest.mark.parametrize(("previous", "message", "score", "reasons"), [
    # calm messages decay the score
    (0.0, Message(intent="ask_bill"), 0.0, []),
    (0.5, Message(intent="ask_bill"), 0.4, []),
    (0.5, Message(intent="thank", sentiment="positive", sentiment_confidence=0.9), 0.3, []),
    (0.5, Message(intent="ask_bill", sentiment="neutral", sentiment_confidence=0.8), 0.4, []),
    # each sign of dissatisfaction adds
    (0.0, Message(intent="ask_bill", **NEGATIVE), 0.27, ["negative_sentiment"]),
    (0.0, Message(intent="complain"), 0.3, ["complaint"]),
    (0.0, Message(intent="cancel_contract"), 0.2, ["cancellation_intent"]),
    (0.0, Message(intent="cancel_now"), 0.2, ["cancellation_intent"]),
    (0.0, Message(intent="nlu_fallback", consecutive_fallbacks=1), 0.0, []),
    (0.0, Message(intent="nlu_fallback", consecutive_fallbacks=2), 0.2, ["repeated_fallback"]),
    (0.1, Message(intent="ask_bill", repeats_question=True), 0.3, ["repeated_question"]),
    # signals add up, and the score stays within 0..1
    (0.0, Message(intent="complain", **NEGATIVE), 0.57, ["negative_sentiment", "complaint"]),
    (0.9, Message(intent="cancel_contract", **NEGATIVE), 1.0, ["negative_sentiment", "cancellation_intent"]),
    # a sentiment without confidence counts as no sentiment weight, but is still reported
    (0.0, Message(intent="ask_bill", sentiment="negative", sentiment_confidence=0.0), 0.0, ["negative_sentiment"]),
])
def test_one_message_changes_the_score(previous: float, message: Message, score: float,
                                       reasons: list[str]) -> None:
    result = assess(previous, message)
    assert result.score == pytest.approx(score)
    assert result.reasons == reasons


@pytest.mark.parametrize(("history", "floor", "reasons"), [
    (History(), 0.0, []),
    (History(recent_complaints=1), 0.1, ["complaint_history"]),
    (History(open_faults=1), 0.15, ["open_fault"]),
    (History(recent_complaints=1, open_faults=1), 0.25, ["complaint_history", "open_fault"]),
    (History(recent_complaints=5, open_faults=5), HISTORY_FLOOR_MAX, ["complaint_history", "open_fault"]),
])
def test_history_is_a_floor_that_calm_messages_do_not_go_below(history: History, floor: float,
                                                               reasons: list[str]) -> None:
    calm = assess(0.0, Message(intent="greet"), history)
    assert calm.score == pytest.approx(floor) and calm.reasons == reasons
    assert assess(0.9, Message(intent="greet"), history).score == pytest.approx(0.72)
    assert floor < ACKNOWLEDGE_AT, "the history alone must not trigger the acknowledgement"


def test_a_calm_conversation_returns_to_zero_and_an_angry_one_crosses_both_thresholds() -> None:
    score = 0.0
    for message in (Message(intent="ask_bill", **NEGATIVE), Message(intent="ask_bill", repeats_question=True,
                                                                     **NEGATIVE)):
        score = assess(score, message).score
    assert ACKNOWLEDGE_AT <= score < VERY_DISSATISFIED_AT
    score = assess(score, Message(intent="complain", **NEGATIVE)).score
    assert score >= VERY_DISSATISFIED_AT
    for _ in range(12):
        score = assess(score, Message(intent="affirm")).score
    assert score < 0.1


def test_reasons_are_merged_in_canonical_order_without_duplicates() -> None:
    assert merge_reasons(["open_fault", "complaint"], ["complaint", "negative_sentiment"]) == [
        "negative_sentiment", "complaint", "open_fault"]


@pytest.mark.parametrize(("score", "known", "high_value", "intent", "state", "reply"), [
    (0.3, None, False, "ask_bill", None, None),
    (0.5, None, False, "ask_bill", HUMAN_OFFERED, ACKNOWLEDGE),
    (0.9, HUMAN_OFFERED, False, "complain", HUMAN_OFFERED, None),  # once per conversation
    (0.9, None, False, "cancel_contract", HUMAN_OFFERED, ACKNOWLEDGE),  # very dissatisfied, not high value
    (0.6, None, False, "complain", HUMAN_OFFERED, None),  # the complaint reply says sorry and offers a human
    (0.6, None, True, "ask_bill", HUMAN_OFFERED, ACKNOWLEDGE),  # high value, not yet very dissatisfied
    (0.8, None, True, "request_human", PRIORITY_OFFERED, None),  # the handoff itself says "priority"
    (0.8, None, True, "complain", PRIORITY_OFFERED, ACKNOWLEDGE_WITH_PRIORITY),
    (0.8, HUMAN_OFFERED, True, "complain", PRIORITY_OFFERED, ACKNOWLEDGE_WITH_PRIORITY),  # escalates once
    (0.95, PRIORITY_OFFERED, True, "complain", PRIORITY_OFFERED, None),
    (0.6, None, False, "request_human", HUMAN_OFFERED, None),  # the handoff answers by itself
])
def test_the_frustration_is_acknowledged_once(score: float, known: str | None, high_value: bool,
                                              intent: str, state: str | None, reply: object) -> None:
    assert acknowledgement(score=score, acknowledged=known, high_value=high_value,
                           intent=intent) == (state, reply)


def test_the_latest_message_is_read_from_the_tracker() -> None:
    asked = {"event": "user", "text": "Rechnung?", "parse_data": {"intent": {"name": "ask_bill"}}}
    fallback = {"event": "user", "text": "?", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    parse = {"text": "Rechnung!!", "intent": {"name": "ask_bill", "confidence": 0.9}, "entities": [],
             "sentiment": {"label": "negative", "score": 0.8}}
    again = tracker(intent="ask_bill", text="Rechnung!!",
                    events=[asked, fallback, fallback, {"event": "user", "text": "Rechnung!!", "parse_data": parse}])
    again.latest_message = parse
    message = latest_message(again)
    assert message == Message(intent="ask_bill", sentiment="negative", sentiment_confidence=0.8,
                              consecutive_fallbacks=0, repeats_question=True)
    # without the sentiment component, and a question asked for the first time
    first = latest_message(tracker(intent="ask_bill", text="Rechnung?"))
    assert first.sentiment is None and not first.repeats_question
    # answers to a form that the NLU did not classify are not misunderstandings
    lost = [fallback, fallback]
    assert latest_message(tracker(intent="nlu_fallback", events=lost)).consecutive_fallbacks == 2
    assert latest_message(tracker(intent="nlu_fallback", events=lost,
                                  active_loop="cancellation_form")).consecutive_fallbacks == 0
    # a new session forgets earlier questions
    new_session = tracker(intent="ask_bill", events=[asked, {"event": "session_started"}, asked])
    assert not latest_message(new_session).repeats_question
