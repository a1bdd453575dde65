"""How dissatisfied a customer is in this conversation: a score from 0 (calm) to 1 (furious).

The score is updated on every user message from what that message shows (negative sentiment, a
complaint, the wish to cancel, misunderstandings in a row, a question asked again) and from the
customer's history once they are verified (recent complaints, open faults). Calm messages let it
decay, but never below what the history alone says.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Reasons, in the order they are reported.
NEGATIVE_SENTIMENT = "negative_sentiment"
COMPLAINT = "complaint"
CANCELLATION_INTENT = "cancellation_intent"
REPEATED_FALLBACK = "repeated_fallback"
REPEATED_QUESTION = "repeated_question"
COMPLAINT_HISTORY = "complaint_history"
OPEN_FAULT = "open_fault"
REASONS = (NEGATIVE_SENTIMENT, COMPLAINT, CANCELLATION_INTENT, REPEATED_FALLBACK, REPEATED_QUESTION,
           COMPLAINT_HISTORY, OPEN_FAULT)

ACKNOWLEDGE_AT = 0.5  # the assistant says once that it notices the frustration and offers a human
VERY_DISSATISFIED_AT = 0.75  # a high-value customer is then offered a human with priority

# What one message adds.
NEGATIVE_SENTIMENT_WEIGHT = 0.3  # times the sentiment component's confidence
COMPLAINT_WEIGHT = 0.3
CANCELLATION_WEIGHT = 0.2
REPEATED_FALLBACK_WEIGHT = 0.2
REPEATED_QUESTION_WEIGHT = 0.2
# What remains after a message without any sign of dissatisfaction.
CALM_DECAY = 0.8
POSITIVE_DECAY = 0.6
# The floor the history sets.
COMPLAINT_HISTORY_WEIGHT = 0.1  # per recent complaint, at most two counted
OPEN_FAULT_WEIGHT = 0.15  # per open fault, at most two counted
HISTORY_FLOOR_MAX = 0.4  # history alone never triggers the acknowledgement

CANCELLATION_INTENTS = ("cancel_contract", "cancel_now")


@dataclass(frozen=True)
class Message:
    """What one user message shows."""

    intent: str | None = None
    sentiment: str | None = None  # negative | neutral | positive, when the NLU provides it
    sentiment_confidence: float = 1.0
    consecutive_fallbacks: int = 0  # including this message
    repeats_question: bool = False  # the same request was already made in this conversation


@dataclass(frozen=True)
class History:
    """The verified customer's records, as far as they bear on their mood."""

    recent_complaints: int = 0
    open_faults: int = 0

    def floor(self) -> float:
        value = (COMPLAINT_HISTORY_WEIGHT * min(self.recent_complaints, 2)
                 + OPEN_FAULT_WEIGHT * min(self.open_faults, 2))
        return min(value, HISTORY_FLOOR_MAX)

    def reasons(self) -> list[str]:
        return ([COMPLAINT_HISTORY] if self.recent_complaints else []) + ([OPEN_FAULT] if self.open_faults else [])


@dataclass(frozen=True)
class Assessment:
    score: float
    reasons: list[str]  # detected in this message (history reasons included while it is known)


def assess(previous: float, message: Message, history: History | None = None) -> Assessment:
    """The new score after `message`, and what was detected in it."""
    added = 0.0
    reasons: list[str] = []
    if message.sentiment == "negative":
        added += NEGATIVE_SENTIMENT_WEIGHT * _clamp(message.sentiment_confidence)
        reasons.append(NEGATIVE_SENTIMENT)
    if message.intent == "complain":
        added += COMPLAINT_WEIGHT
        reasons.append(COMPLAINT)
    if message.intent in CANCELLATION_INTENTS:
        added += CANCELLATION_WEIGHT
        reasons.append(CANCELLATION_INTENT)
    if message.consecutive_fallbacks >= 2:
        added += REPEATED_FALLBACK_WEIGHT
        reasons.append(REPEATED_FALLBACK)
    if message.repeats_question:
        added += REPEATED_QUESTION_WEIGHT
        reasons.append(REPEATED_QUESTION)

    if added:
        score = previous + added
    else:
        score = previous * (POSITIVE_DECAY if message.sentiment == "positive" else CALM_DECAY)
    if history is not None:
        score = max(score, history.floor())
        reasons += history.reasons()
    return Assessment(round(_clamp(score), 3), reasons)


def merge_reasons(known: Sequence[str], new: Sequence[str]) -> list[str]:
    """All reasons seen in the conversation, in the canonical order."""
    seen = set(known) | set(new)
    return [reason for reason in REASONS if reason in seen]


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 1.0)
