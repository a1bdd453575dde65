"""Near-duplicates between training data and evaluation sets.

An evaluation message that has a near-copy in the training data measures memory, not generalisation.
Two messages are near-copies when, after normalising (lower case, umlauts and ß folded, entity markup
and punctuation stripped), both have at least `min_words` words and

- the sets of their words have a Jaccard similarity of at least `min_jaccard` (0.7), or
- their normalised texts have a character similarity (difflib's `SequenceMatcher.ratio`) of at least
  `min_similarity` (0.85).

Comparing every pair with difflib would be slow (about 2,000 training texts x 800 evaluation
messages), so candidates are found through an index of words: only pairs that share at least two
words are compared (a pair of 4+-word messages with a character similarity of 0.85 that shares fewer
than two words would need nearly every word changed), and the cheap upper bounds (the
length ratio, difflib's `quick_ratio`) are checked before the exact ratio.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import yaml

MIN_WORDS = 4
MIN_JACCARD = 0.7
MIN_SIMILARITY = 0.85

_MARKUP = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # "[K123456](customer_id)" -> "K123456"
_FOLDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalised_words(text: str) -> list[str]:
    """The words of `text`: entity markup removed, lower case, umlauts and ß folded, no punctuation."""
    text = unicodedata.normalize("NFC", _MARKUP.sub(r"\1", text)).lower().translate(_FOLDS)
    return _WORD.findall(text)


@dataclass(frozen=True)
class Text:
    """A message and where it comes from (a file name, with a line or intent where useful)."""

    text: str
    source: str


@dataclass(frozen=True)
class NearCopy:
    """An evaluation message and a training text that is (almost) the same message."""

    evaluation: Text
    training: Text
    jaccard: float
    similarity: float

    def describe(self) -> str:
        return (f"{self.evaluation.source}: {self.evaluation.text!r} ~ {self.training.source}: "
                f"{self.training.text!r} (Jaccard {self.jaccard:.2f}, characters {self.similarity:.2f})")


@dataclass(frozen=True)
class _Prepared:
    item: Text
    words: frozenset[str]
    joined: str


def _prepare(item: Text) -> _Prepared:
    words = normalised_words(item.text)
    return _Prepared(item, frozenset(words), " ".join(words))


def similarity(a: str, b: str) -> tuple[float, float]:
    """Word-set Jaccard and character similarity of two texts after normalising."""
    first, second = _prepare(Text(a, "")), _prepare(Text(b, ""))
    union = first.words | second.words
    jaccard = len(first.words & second.words) / len(union) if union else 0.0
    return jaccard, SequenceMatcher(None, first.joined, second.joined, autojunk=False).ratio()


def find_near_copies(evaluation: Iterable[Text], training: Iterable[Text], *, min_words: int = MIN_WORDS,
                     min_jaccard: float = MIN_JACCARD, min_similarity: float = MIN_SIMILARITY) -> list[NearCopy]:
    """Every (evaluation, training) pair that is a near-copy, in the order of the evaluation messages."""
    if not 0 < min_jaccard <= 1 or not 0 < min_similarity <= 1 or min_words < 1:
        raise ValueError("min_jaccard and min_similarity must be in (0, 1], min_words at least 1")
    prepared = [p for p in map(_prepare, training) if len(p.joined.split()) >= min_words]
    index: dict[str, list[int]] = defaultdict(list)
    for number, candidate in enumerate(prepared):
        for word in candidate.words:
            index[word].append(number)
    found: list[NearCopy] = []
    for query in map(_prepare, evaluation):
        if len(query.joined.split()) < min_words:
            continue
        shared = Counter(number for word in query.words for number in index.get(word, ()))
        # difflib caches what it learns about its second sequence: the query stays there.
        matcher = SequenceMatcher(None, "", query.joined, autojunk=False)
        for number, common in sorted(shared.items()):
            if common < 2:
                continue
            candidate = prepared[number]
            jaccard = common / len(query.words | candidate.words)
            lengths = len(query.joined) + len(candidate.joined)
            ratio = 0.0
            if jaccard >= min_jaccard or 2 * min(len(query.joined), len(candidate.joined)) >= min_similarity * lengths:
                matcher.set_seq1(candidate.joined)
                if jaccard >= min_jaccard or matcher.quick_ratio() >= min_similarity:
                    ratio = matcher.ratio()
            if jaccard >= min_jaccard or ratio >= min_similarity:
                found.append(NearCopy(query.item, candidate.item, round(jaccard, 3), round(ratio, 3)))
    return found


# --- the project's files -------------------------------------------------------------------------

def nlu_training_texts(directory: Path) -> list[Text]:
    """Every example text of the Rasa NLU files in `directory` (intents, synonyms, lookups; not regexes)."""
    texts: list[Text] = []
    for path in sorted(directory.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
            if "regex" in block:
                continue
            label = block.get("intent") or block.get("synonym") or block.get("lookup") or "?"
            for line in str(block.get("examples", "")).splitlines():
                if line.strip().startswith("- "):
                    texts.append(Text(line.strip()[2:].strip(), f"{path.name} ({label})"))
    return texts


def tsv_texts(path: Path) -> list[Text]:
    """The first column of a tab-separated file with a header line, with the line number as source."""
    texts: list[Text] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()[1:], start=2):
        if line.strip():
            texts.append(Text(line.split("\t", 1)[0], f"{path.name}:{number}"))
    return texts


def near_copy_report(copies: Sequence[NearCopy]) -> str:
    return "\n".join(copy.describe() for copy in copies)
