"""Whether a message uses any of the words the assistant knows ("zmpf grrk trlala" does not).

The vocabulary is the set of words in the training examples. A word counts as known when it is in
the vocabulary or, for words of five letters or more, shares its first five letters with a known
word (so that "kündigte" counts through "kündigen"). A message of which too small a share of words
is known is not understood, whatever intent the classifier guesses for it: keyboard mashing and
nonsense then take the fallback path (rephrase, then a human after two misunderstandings).

Messages with digits or an "@" (customer numbers, postcodes, dates, e-mail addresses) and button
payloads are never judged: they carry meaning the vocabulary does not describe. Nor are messages of a
single word: colloquial one-word greetings and answers vary too much ("nabend", "jop") to judge by
words; the classifier's character n-grams and the confidence threshold decide those.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_WORD = re.compile(r"[^\W\d_]{2,}")
PREFIX = 5
MIN_WORDS = 2  # shorter messages are left to the classifier


def words(text: str) -> list[str]:
    """The words of a text (letters only, two or more), lower case with umlauts folded."""
    return [w.translate(_FOLD) for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class Vocabulary:
    known: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        known = {w for text in texts for w in words(text)}
        return cls(frozenset(known), frozenset(w[:PREFIX] for w in known if len(w) >= PREFIX))

    def knows(self, word: str) -> bool:
        return word in self.known or (len(word) >= PREFIX and word[:PREFIX] in self.prefixes)

    def known_share(self, text: str) -> float | None:
        """Share of the text's words the vocabulary knows; None when the text is not to be judged."""
        if not text or text.startswith("/") or "@" in text or any(ch.isdigit() for ch in text):
            return None
        found = words(text)
        if len(found) < MIN_WORDS:
            return None  # one word, emoji, punctuation: left to the classifier
        return sum(self.knows(w) for w in found) / len(found)

    def not_understood(self, text: str, min_known_share: float) -> bool:
        """Whether too few of the text's words are known to take any intent from it."""
        share = self.known_share(text)
        return share is not None and share < min_known_share

    def as_list(self) -> list[str]:
        return sorted(self.known)

    @classmethod
    def from_list(cls, known: Iterable[str]) -> Vocabulary:
        known = set(known)
        return cls(frozenset(known), frozenset(w[:PREFIX] for w in known if len(w) >= PREFIX))
