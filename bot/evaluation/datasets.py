"""Reading the labelled evaluation sets: the project's held-out messages and GermEval 2017 (read only).

Both are tab-separated without quoting (texts may contain quotes). A broken line raises
`DatasetError` naming the file and line; nothing is silently skipped.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")


class DatasetError(ValueError):
    """An evaluation file is missing, has the wrong header, or has a malformed line."""


@dataclass(frozen=True)
class LabelledMessage:
    """A customer message with the intent and sentiment a human gave it."""

    text: str
    intent: str
    sentiment: str


@dataclass(frozen=True)
class SentimentExample:
    """A text labelled only with its document-level sentiment."""

    text: str
    sentiment: str


def _rows(path: Path, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        first = next(reader, None)
        if first != header:
            raise DatasetError(f"{path}, line 1: expected the header {header}, got {first}")
        for row in reader:
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                raise DatasetError(f"{path}, line {reader.line_num}: expected {len(header)} tab-separated "
                                   f"columns, got {len(row)}")
            yield reader.line_num, row


def _check_sentiment(path: Path, line: int, sentiment: str) -> None:
    if sentiment not in SENTIMENTS:
        raise DatasetError(f"{path}, line {line}: sentiment must be one of {', '.join(SENTIMENTS)}, "
                           f"got {sentiment!r}")


def load_labelled_messages(path: Path) -> list[LabelledMessage]:
    """The held-out set: columns `text`, `intent`, `sentiment`."""
    messages = []
    for line, (text, intent, sentiment) in _rows(path, ["text", "intent", "sentiment"]):
        if not text.strip() or not intent.strip():
            raise DatasetError(f"{path}, line {line}: text and intent must not be empty")
        _check_sentiment(path, line, sentiment)
        messages.append(LabelledMessage(text=text, intent=intent, sentiment=sentiment))
    return messages


def load_sentiment_examples(path: Path) -> list[SentimentExample]:
    """Any tab-separated file whose header names a `text` and a `label` or `sentiment` column
    (the project's sentiment training file, GermEval, the held-out sets)."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None) or []
        label_column = "label" if "label" in header else "sentiment"
        if "text" not in header or label_column not in header:
            raise DatasetError(f"{path}, line 1: the header needs a 'text' and a 'label' or 'sentiment' column")
        text_at, label_at = header.index("text"), header.index(label_column)
        examples = []
        for row in reader:
            if not row or row == [""]:
                continue
            if len(row) <= max(text_at, label_at):
                raise DatasetError(f"{path}, line {reader.line_num}: expected {len(header)} tab-separated columns")
            _check_sentiment(path, reader.line_num, row[label_at])
            examples.append(SentimentExample(text=row[text_at], sentiment=row[label_at]))
    return examples


def load_germeval(path: Path) -> list[SentimentExample]:
    """GermEval 2017 (subtask B): columns `id`, `relevance`, `sentiment`, `text`; all documents."""
    examples = []
    for line, (_id, _relevance, sentiment, text) in _rows(path, ["id", "relevance", "sentiment", "text"]):
        _check_sentiment(path, line, sentiment)
        examples.append(SentimentExample(text=text, sentiment=sentiment))
    return examples
