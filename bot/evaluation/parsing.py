"""Parsing messages with the trained model in-process, timing each parse."""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.assistant.mixed_messages import cancel_button_shown

if TYPE_CHECKING:
    from rasa.core.agent import Agent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """What the model made of one message."""

    intent: str
    confidence: float
    sentiment: str | None  # None when the pipeline has no sentiment component
    latency_ms: float
    cancel_button: bool = False  # the reply would offer the cancellation at once (bot.assistant.mixed_messages)


def quiet_rasa_logging() -> None:
    """Route Rasa's structured log through the standard logging levels (otherwise every parse is
    printed at debug level, message text included)."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def load_agent(model_path: Path) -> Agent:
    """The trained model as a Rasa agent (NLU and policies; no action server needed for parsing)."""
    from rasa.core.agent import Agent

    if not model_path.is_file():
        raise FileNotFoundError(f"No trained model at {model_path}: run `python -m bot.cli train` first.")
    return Agent.load(str(model_path))


def prediction_from_parse(result: dict[str, Any], latency_ms: float) -> Prediction:
    """The intent and, when the pipeline adds one, the sentiment label (`result["sentiment"]["label"]`)."""
    intent = result.get("intent") or {}
    sentiment = result.get("sentiment")
    label = sentiment.get("label") if isinstance(sentiment, dict) else None
    return Prediction(intent=intent.get("name") or "", confidence=float(intent.get("confidence") or 0.0),
                      sentiment=label, latency_ms=latency_ms, cancel_button=cancel_button_shown(result))


async def parse_messages(agent: Agent, texts: Sequence[str], *, warm_up: bool = True) -> list[Prediction]:
    """Parse every text in order; the first parse after loading is repeated untimed when `warm_up`."""
    if warm_up and texts:
        await agent.parse_message(texts[0])
    predictions = []
    for text in texts:
        started = time.perf_counter()
        result = await agent.parse_message(text)
        predictions.append(prediction_from_parse(result, (time.perf_counter() - started) * 1000))
    return predictions
