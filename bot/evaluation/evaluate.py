"""One evaluation run: parse the test and dev sets (and GermEval when present) with the trained model.

Both sets are held out from training. The dev set (tests/nlu_heldout/) is used for error analysis;
the test set (tests/nlu_test/) is never used for tuning, so the targets are judged on it.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from bot.evaluation.datasets import LabelledMessage, load_germeval, load_labelled_messages
from bot.evaluation.parsing import Prediction, load_agent, parse_messages
from bot.evaluation.scoring import (
    CancelButtonResult,
    IntentResult,
    Latency,
    SentimentResult,
    measure_latency,
    score_cancel_button,
    score_intents,
    score_sentiment,
)

if TYPE_CHECKING:
    from rasa.core.agent import Agent


@dataclass(frozen=True)
class Miss:
    """A message whose intent the model got wrong."""

    text: str
    gold: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class HeldOutResult:
    """The model's scores on one labelled set that it was not trained on."""

    intents: IntentResult
    sentiment: SentimentResult | None
    latency: Latency
    misses: list[Miss]
    cancel_button: CancelButtonResult


@dataclass(frozen=True)
class EvaluationReport:
    generated_at: str
    machine: str
    command: str
    model_path: str
    test_path: str
    test: HeldOutResult  # never used for tuning: the targets are judged here
    dev_path: str
    dev: HeldOutResult  # used for error analysis, so its numbers are optimistic
    germeval_path: str
    germeval: SentimentResult | None  # None when the file is not there (see germeval_note)
    germeval_note: str


def machine_description() -> str:
    return f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()})"


def score_heldout(messages: list[LabelledMessage], predictions: list[Prediction]) -> HeldOutResult:
    gold = [m.intent for m in messages]
    predicted = [p.intent for p in predictions]
    misses = [Miss(m.text, m.intent, p.intent, round(p.confidence, 3))
              for m, p in zip(messages, predictions, strict=True) if m.intent != p.intent]
    return HeldOutResult(
        intents=score_intents(gold, predicted),
        sentiment=score_sentiment([m.sentiment for m in messages], [p.sentiment for p in predictions]),
        latency=measure_latency([p.latency_ms for p in predictions]),
        misses=misses,
        cancel_button=score_cancel_button(gold, [p.cancel_button for p in predictions]),
    )


async def evaluate_heldout(agent: Agent, messages: list[LabelledMessage]) -> HeldOutResult:
    predictions = await parse_messages(agent, [m.text for m in messages])
    return score_heldout(messages, predictions)


async def evaluate_germeval(agent: Agent, path: Path) -> SentimentResult | None:
    examples = load_germeval(path)
    predictions = await parse_messages(agent, [e.text for e in examples], warm_up=False)
    return score_sentiment([e.sentiment for e in examples], [p.sentiment for p in predictions])


async def run_evaluation(*, model_path: Path, test_path: Path, dev_path: Path, germeval_path: Path,
                         command: str) -> EvaluationReport:
    """Load the model once and measure everything the report shows."""
    test_messages = load_labelled_messages(test_path)
    dev_messages = load_labelled_messages(dev_path)
    agent = load_agent(model_path)
    test = await evaluate_heldout(agent, test_messages)
    dev = await evaluate_heldout(agent, dev_messages)
    germeval: SentimentResult | None = None
    if not germeval_path.is_file():
        note = f"not available: {germeval_path} not found (set GERMEVAL_DEV_PATH)"
    elif dev.sentiment is None:
        note = "not available: the model gives no sentiment (no sentiment component in the pipeline)"
    else:
        germeval = await evaluate_germeval(agent, germeval_path)
        note = f"{germeval_path.name}, all documents, read at run time only"
    return EvaluationReport(
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine_description(),
        command=command,
        model_path=str(model_path),
        test_path=str(test_path),
        test=test,
        dev_path=str(dev_path),
        dev=dev,
        germeval_path=str(germeval_path),
        germeval=germeval,
        germeval_note=note,
    )
