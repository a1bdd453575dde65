"""The near-duplicate check between training data and evaluation sets (bot/evaluation/overlap.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.evaluation.overlap import Text, find_near_copies, nlu_training_texts, normalised_words, similarity, tsv_texts


def _pairs(evaluation: list[str], training: list[str]) -> list[tuple[str, str]]:
    copies = find_near_copies([Text(t, "eval") for t in evaluation], [Text(t, "train") for t in training])
    return [(c.evaluation.text, c.training.text) for c in copies]


def test_words_are_lower_case_without_umlauts_punctuation_or_entity_markup() -> None:
    assert normalised_words("Meine Kundennummer ist [K123456](customer_id), Größe: GRÜN!") == [
        "meine", "kundennummer", "ist", "k123456", "groesse", "gruen"]
    assert normalised_words('[Strom]{"entity": "product"} kündigen?') == ["strom", "kuendigen"]


def test_an_exact_copy_with_other_case_and_punctuation_is_found() -> None:
    assert _pairs(["Ich will meinen Vertrag kündigen!"], ["ich will meinen vertrag kündigen"]) == [
        ("Ich will meinen Vertrag kündigen!", "ich will meinen vertrag kündigen")]


def test_a_copy_with_one_word_changed_is_found_by_its_word_set() -> None:
    # 6 shared words of 8 in all: Jaccard 0.75
    evaluation = "Die Streaming App stürzt beim Start immer ab"
    training = "Die Streaming App stürzt beim Start ständig ab"
    assert similarity(evaluation, training)[0] == pytest.approx(7 / 9)
    assert _pairs([evaluation], [training]) == [(evaluation, training)]


def test_a_copy_with_typos_and_umlauts_written_out_is_found_by_its_characters() -> None:
    evaluation = "Die Hotline hat mich dreimal aus der Leitung geworfen"
    training = "die hotlin hat mich dreimal aus der leitung geworfn"
    jaccard, characters = similarity(evaluation, training)
    assert jaccard < 0.7 and characters >= 0.85
    assert _pairs([evaluation], [training]) == [(evaluation, training)]
    assert _pairs(["Warum ist meine Rechnung so hoch geworden"], ["warum ist meine rechnung so hoch gewordn"])


def test_different_messages_on_the_same_topic_are_not_copies() -> None:
    assert _pairs(["Ich möchte meinen Stromvertrag zum Monatsende kündigen"],
                  ["Wie kann ich meinen Handyvertrag kündigen?", "Kündigen Sie bitte meinen Vertrag"]) == []


def test_messages_of_fewer_than_four_words_are_not_compared() -> None:
    assert _pairs(["Vertrag kündigen bitte"], ["Vertrag kündigen bitte"]) == []
    assert _pairs(["Bitte den Vertrag kündigen"], ["Vertrag kündigen bitte"]) == []


def test_every_pair_is_reported_in_the_order_of_the_evaluation_messages() -> None:
    pairs = _pairs(["Das Internet ist seit gestern komplett weg", "Ich will mit einem Menschen sprechen"],
                   ["ich will mit einem menschen sprechen!", "Internet ist seit gestern komplett weg",
                    "das internet ist seit gestern komplett weg"])
    assert [p[0] for p in pairs] == ["Das Internet ist seit gestern komplett weg"] * 2 + [
        "Ich will mit einem Menschen sprechen"]


def test_thousands_of_pairs_are_checked_in_a_few_seconds() -> None:
    import time

    training = [f"Nachricht {i} über Tarif {i % 37} und Rechnung {i % 11} im Monat {i % 12}" for i in range(2000)]
    evaluation = [f"Frage {i} zu Tarif {i % 37} und Rechnung {i % 13}" for i in range(800)]
    started = time.perf_counter()
    find_near_copies([Text(t, "e") for t in evaluation], [Text(t, "t") for t in training])
    assert time.perf_counter() - started < 20


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="min_jaccard"):
        find_near_copies([], [], min_jaccard=0)


def test_training_texts_come_from_intent_examples_and_tsv_lines(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - Hallo zusammen\n    - Guten Tag\n'
        "- regex: customer_id\n  examples: |\n    - \\b[Kk]\\d{6}\\b\n", encoding="utf-8")
    assert [(t.text, t.source) for t in nlu_training_texts(tmp_path)] == [
        ("Hallo zusammen", "a.yml (greet)"), ("Guten Tag", "a.yml (greet)")]
    (tmp_path / "s.tsv").write_text("text\tlabel\nSuper Service\tpositive\n\nNa toll\tnegative\n", encoding="utf-8")
    assert [(t.text, t.source) for t in tsv_texts(tmp_path / "s.tsv")] == [
        ("Super Service", "s.tsv:2"), ("Na toll", "s.tsv:4")]
