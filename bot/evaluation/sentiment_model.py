"""Measuring the sentiment model on its own: cross-validation, labelled files, latency.

    python -m bot.evaluation.sentiment_model [--cross-validate] [--rasa-model M] FILE...

trains `bot.nlp.sentiment` on the project's examples and measures it on each FILE (tab-separated,
with a `text` and a `label` or `sentiment` column, e.g. the GermEval dev set, read at run time only).
`python -m bot.cli evaluate` measures the whole trained NLU; this is for working on the model itself.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.evaluation.datasets import DatasetError, SentimentExample, load_sentiment_examples
from bot.evaluation.metrics import accuracy, per_label_scores
from bot.evaluation.parsing import load_agent, parse_messages, quiet_rasa_logging
from bot.nlp.sentiment import (
    LABELS,
    NO_SENTIMENT,
    Example,
    Lemmatizer,
    SentimentConfig,
    SentimentDataError,
    SentimentModel,
    read_examples,
    train_model,
)


@dataclass(frozen=True)
class SentimentEvaluation:
    """Micro-F1 (= accuracy for one label per text), per-class F1 and the confusion counts."""

    count: int
    accuracy: float
    f1: dict[str, float]
    confusion: dict[str, dict[str, int]]  # gold label -> predicted label -> count

    def summary(self) -> str:
        per_class = ", ".join(f"{label} F1 {self.f1[label]:.3f}" for label in LABELS)
        return f"{self.count} texts: micro-F1 {self.accuracy:.3f}; {per_class}"


def compare(gold: Sequence[str], predicted: Sequence[str]) -> SentimentEvaluation:
    confusion = {label: dict.fromkeys(LABELS, 0) for label in LABELS}
    for expected, label in zip(gold, predicted, strict=True):
        confusion[expected][label] += 1
    scores = per_label_scores(gold, predicted, LABELS)
    return SentimentEvaluation(len(gold), accuracy(gold, predicted),
                               {label: scores[label].f1 for label in LABELS}, confusion)


def evaluate(model: SentimentModel, examples: Sequence[SentimentExample]) -> SentimentEvaluation:
    predicted = [s.label for s in model.predict_many([e.text for e in examples])]
    return compare([e.sentiment for e in examples], predicted)


def cross_validate(examples: Sequence[Example], *, folds: int = 5, config: SentimentConfig | None = None,
                   lemmatizer: Lemmatizer | None = None) -> SentimentEvaluation:
    """Stratified k-fold estimate on the project's own examples (each predicted by a model not trained on it)."""
    from sklearn.model_selection import StratifiedKFold

    lemmatizer = lemmatizer or Lemmatizer.from_spacy_lookups()
    predicted = [""] * len(examples)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_rows, test_rows in splitter.split(list(examples), [e.label for e in examples]):
        model = SentimentModel(config, lemmatizer).fit([examples[i] for i in train_rows])
        labels = model.predict_many([examples[i].text for i in test_rows])
        for row, sentiment in zip(test_rows, labels, strict=True):
            predicted[row] = sentiment.label
    return compare([e.label for e in examples], predicted)


def latency_ms(model: SentimentModel, texts: Sequence[str]) -> float:
    """Median time of one single-message prediction, in milliseconds."""
    timings = []
    for text in texts:
        started = time.perf_counter()
        model.predict(text)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def pipeline_latency_ms(model_path: Path, texts: Sequence[str]) -> tuple[float, list[str]]:
    """Median time of one whole NLU parse by the trained Rasa model, and the sentiment labels it gave."""
    import asyncio

    predictions = asyncio.run(parse_messages(load_agent(model_path), texts))
    labels = [p.sentiment or NO_SENTIMENT.label for p in predictions]
    return statistics.median(p.latency_ms for p in predictions), labels


def main(argv: Sequence[str] | None = None) -> int:
    """Train on the project's examples, measure on each FILE."""
    parser = argparse.ArgumentParser(prog="python -m bot.evaluation.sentiment_model", description=main.__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="tab-separated: text and label (or sentiment)")
    parser.add_argument("--cross-validate", action="store_true", help="5-fold estimate on the training file")
    parser.add_argument("--train", type=Path, default=Path("data/sentiment/train.tsv"))
    parser.add_argument("--rasa-model", type=Path, help="also time the whole NLU pipeline of this trained model")
    arguments = parser.parse_args(argv)
    quiet_rasa_logging()
    try:
        return _measure(arguments)
    except (DatasetError, SentimentDataError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2


def _measure(arguments: argparse.Namespace) -> int:
    if arguments.cross_validate:
        result = cross_validate(read_examples(arguments.train))
        print(f"5-fold cross-validation on {arguments.train}: {result.summary()}")
        print(f"  confusion (gold -> predicted): {result.confusion}")
    measured = {path: load_sentiment_examples(path) for path in arguments.files}  # bad files fail before training
    model = train_model(arguments.train)
    for path, examples in measured.items():
        result = evaluate(model, examples)
        print(f"{path}: {result.summary()}")
        print(f"  confusion (gold -> predicted): {result.confusion}")
        sample = [e.text for e in examples[:500]]
        print(f"  sentiment model latency per message (p50): {latency_ms(model, sample):.2f} ms")
        if arguments.rasa_model:
            median, labels = pipeline_latency_ms(arguments.rasa_model, sample[:300])
            agree = sum(a == s.label for a, s in zip(labels, model.predict_many(sample[:300]), strict=True))
            print(f"  whole NLU pipeline latency per message (p50): {median:.2f} ms;"
                  f" labels equal to this run's model: {agree}/{len(labels)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
