"""What counts as a satisfaction rating: the `rating` regexes of the NLU data, and parse_rating."""
from __future__ import annotations

import re

import pytest
import yaml

from bot.assistant.handoff import parse_rating
from bot.settings import PROJECT_ROOT


def _rating_patterns() -> list[re.Pattern[str]]:
    data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / "regex.yml").read_text(encoding="utf-8"))
    (block,) = (b for b in data["nlu"] if b.get("regex") == "rating")
    # RegexEntityExtractor runs with case_sensitive: false, and the entity value is the whole match.
    return [re.compile(line[2:], re.IGNORECASE) for line in block["examples"].splitlines() if line.startswith("- ")]


def extracted_ratings(text: str) -> list[str]:
    return [m.group() for pattern in _rating_patterns() for m in pattern.finditer(text)]


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", "5"),
        ("3!", "3"),
        ("4 Sterne", "4"),
        ("1 Stern", "1"),
        ("ich gebe eine 3", "3"),
        ("gut, 4 von 5", "4"),
        ("4/5", "4"),
        ("Note 2", "2"),
        ("Bewertung: 4", "4"),
        ("Eine 2, weil es lange gedauert hat", "2"),
        ("Volle 5 Punkte", "5"),
    ],
)
def test_a_clear_rating_gives_exactly_that_number(text: str, rating: str) -> None:
    assert extracted_ratings(text) == [rating]


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "alert(1)", "'; DROP TABLE customers; --", "Ich habe 2 Verträge",
     "Meine Rechnung vom 3.5. ist falsch", "K100001", "10115", "12.04.1985", "Tarif 2 GB", "x" * 10_000, "😡"],
)
def test_numbers_in_code_or_other_text_are_no_rating(text: str) -> None:
    assert extracted_ratings(text) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4, 4), (4.0, 4), ("4", 4), ("5", 5), (1, 1), (0, None), (6, None), (4.5, None), ("7", None), ("abc", None),
     ("", None), (None, None), (True, None), ("4; DROP TABLE", None)],
)
def test_parse_rating_accepts_only_whole_numbers_from_1_to_5(value: object, expected: int | None) -> None:
    assert parse_rating(value) == expected
