"""Cancellation cues: which phrasings count as leaving, and when they overrule the classifier."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlp.components import CancellationCueBooster
from bot.nlp.cues import RankedIntent, alternative_to_cancelling, has_cancel_word, has_strong_cue, should_cancel


@pytest.mark.parametrize(
    "text",
    [
        "Ich bin raus",
        "So, ich bin hier raus, viel zu teuer",
        "Wenn das so weitergeht, bin ich weg",
        "Wie werde ich den Handyvertrag wieder los?",
        "Ich will das Abo loswerden",
        "Ich will einfach weg von euch",
        "ich moechte raus aus dem vertrag",
        "Ich wechsle zu Vodafone",
        "wir gehen zur Konkurrenz",
        "Hab bei o2 schon unterschrieben",
        "Bitte das Abonnement stornieren",
        "Storno bitte",
        "Ich widerrufe den Vertrag",
        "Die Mitgliedschaft möchte ich zum Monatsende auflösen",
        "Den Vertrag nicht verlängern",
        "Bitte keine automatische Verlaengerung",
    ],
)
def test_phrases_that_say_the_customer_is_leaving_are_strong_cues(text: str) -> None:
    assert has_strong_cue(text)


@pytest.mark.parametrize(
    "text",
    [
        "Wann kann ich frühestens kündigen?",
        "Bei der Konkurrenz zahle ich die Hälfte",  # a price complaint, not a decision to leave
        "Ich möchte in einen günstigeren Tarif wechseln",
        "Wie wechsle ich den Router?",
        "Okay, dann stornieren Sie die Kündigung und geben mir den Rabatt",
        "Die Kündigung bitte zurücknehmen, ich bleibe",
        "Mein Internet ist weg",
        "Ich bin ab nächster Woche im Urlaub",
        "Kann ich meinen Vertrag verlängern?",
    ],
)
def test_other_phrasings_are_no_strong_cue(text: str) -> None:
    assert not has_strong_cue(text)


def test_the_word_kuendigen_is_recognised_in_its_spellings() -> None:
    for text in ("Kündigung zum 30.06.", "kuendigen bitte", "vertrag kundigen", "Sonderkündigung"):
        assert has_cancel_word(text), text
    assert not has_cancel_word("Ich möchte meinen Tarif wechseln")


def ranking(*pairs: tuple[str, float]) -> list[RankedIntent]:
    return [RankedIntent(name, confidence) for name, confidence in pairs]


@pytest.mark.parametrize(
    ("text", "ranked", "expected"),
    [
        # a strong cue wins over a close content intent ...
        ("Die Konkurrenz ist billiger, ich bin weg", ranking(("complain", 0.55), ("cancel_contract", 0.40)), True),
        # ... and, as a declared leaving (issue 8), even when the classifier is sure of the complaint
        ("Die Konkurrenz ist billiger, ich bin weg", ranking(("complain", 0.95), ("cancel_contract", 0.03)), True),
        # ... nor when cancel_contract is not ranked at all
        ("Ich wechsle zu o2", ranking(("change_plan", 0.60), ("ask_contract", 0.30)), False),
        # a strong cue always wins over an intent that says nothing about the concern
        ("Die Konkurrenz hat 50 Mbit für 20 Euro, ich bin raus", ranking(("identify", 0.60), ("rate", 0.2)), True),
        ("Wie werde ich den Vertrag los?", ranking(("out_of_scope", 0.70), ("cancel_contract", 0.20)), True),
        # the bare word only against contentless intents: a date is not an identification here
        ("Kündigung zum 30.06. bitte", ranking(("identify", 0.85), ("cancel_contract", 0.08)), True),
        ("Wann kann ich frühestens kündigen?", ranking(("ask_contract", 0.55), ("cancel_contract", 0.40)), False),
        ("Danke für die Kündigungsbestätigung", ranking(("thank", 0.80), ("cancel_contract", 0.15)), False),
        # answers to the assistant's questions and goodbyes are left alone
        ("Ja, kündigen", ranking(("affirm", 0.70), ("cancel_contract", 0.25)), False),
        ("Ich bin dann mal weg", ranking(("goodbye", 0.70), ("cancel_contract", 0.25)), False),
        # already a cancellation: nothing to do
        ("Ich bin raus, sofort kündigen", ranking(("cancel_now", 0.70), ("cancel_contract", 0.25)), False),
    ],
)
def test_when_a_cue_overrules_the_classifier(text: str, ranked: list[RankedIntent], expected: bool) -> None:
    assert should_cancel(text, ranked, max_gap=0.5) is expected


def parsed(text: str, *pairs: tuple[str, float]) -> Message:
    ranked = [{"name": name, "confidence": confidence} for name, confidence in pairs]
    return Message(data={"text": text, "intent": dict(ranked[0]), "intent_ranking": ranked})


def test_the_booster_puts_cancel_contract_first_with_the_confidence_of_both() -> None:
    booster = CancellationCueBooster({"max_gap": 0.5})
    message = parsed("Bei o2 zahle ich weniger, ich bin weg", ("complain", 0.5), ("ask_bill", 0.25),
                     ("cancel_contract", 0.25))
    booster.process([message])
    assert message.get("intent") == {"name": "cancel_contract", "confidence": 0.75}
    assert message.get("intent_ranking") == [{"name": "cancel_contract", "confidence": 0.75},
                                             {"name": "complain", "confidence": 0.25},
                                             {"name": "ask_bill", "confidence": 0.25}]


def test_the_booster_leaves_other_messages_and_button_payloads_alone() -> None:
    booster = CancellationCueBooster({"max_gap": 0.5})
    complaint = parsed("Bei o2 zahle ich weniger", ("complain", 0.55), ("cancel_contract", 0.40))
    payload = parsed("/deny", ("deny", 1.0), ("cancel_contract", 0.0))
    booster.process([complaint, payload])
    assert complaint.get("intent")["name"] == "complain"
    assert payload.get("intent")["name"] == "deny"


@pytest.mark.parametrize(
    ("text", "ranked", "expected"),
    [
        ("Geht pausieren statt kündigen?", ranking(("cancel_contract", 0.5), ("pause_contract", 0.3)), "pause_contract"),
        ("Lieber einen kleineren Tarif, ohne zu kündigen", ranking(("cancel_contract", 0.5), ("change_plan", 0.2)),
         "change_plan"),
        # the classifier is sure, or no alternative is close
        ("Geht pausieren statt kündigen?", ranking(("cancel_contract", 0.9), ("pause_contract", 0.05)), None),
        # "nicht kündigen" in a question about the contract is no plan change
        ("Warum kann ich nicht kündigen?", ranking(("cancel_contract", 0.6), ("ask_contract", 0.3)), None),
        ("Ich will kündigen", ranking(("cancel_contract", 0.5), ("pause_contract", 0.4)), None),
    ],
)
def test_when_the_customer_wants_something_instead_of_cancelling(
        text: str, ranked: list[RankedIntent], expected: str | None) -> None:
    assert alternative_to_cancelling(text, ranked, max_gap=0.5) == expected


def test_a_top_cancellation_that_its_words_confirm_is_no_misunderstanding() -> None:
    """The classifier ranks a cancellation first but spreads its probability thin (below the fallback
    threshold); the leaving cue counts as evidence on top, and the complaint stays second."""
    booster = CancellationCueBooster({"max_gap": 0.5})
    leaving = parsed("Wie kriege ich euch bloß wieder los?", ("cancel_contract", 0.33), ("complain", 0.3),
                     ("out_of_scope", 0.2))
    unsure = parsed("Was kostet das Ausland?", ("cancel_contract", 0.33), ("ask_bill", 0.3))
    foreign = parsed("Ich kündige meinen Mietvertrag", ("cancel_contract", 0.35), ("out_of_scope", 0.3))
    booster.process([leaving, unsure, foreign])
    assert leaving.get("intent") == {"name": "cancel_contract", "confidence": pytest.approx(0.63)}
    assert [r["name"] for r in leaving.get("intent_ranking")[:2]] == ["cancel_contract", "complain"]
    assert unsure.get("intent") == {"name": "cancel_contract", "confidence": 0.33}, "no cue: left as it was"
    assert foreign.get("intent")["name"] == "out_of_scope"


@pytest.mark.parametrize("text", ["Ich möchte nicht länger Ihr Kunde sein", "ich will nicht mehr kunde bei euch sein"])
def test_not_wanting_to_stay_a_customer_declares_a_cancellation(text: str) -> None:
    from bot.nlp.cues import declares_cancellation
    assert declares_cancellation(text)


def test_an_angry_fault_report_is_a_fault_report_when_the_classifier_is_torn() -> None:
    booster = CancellationCueBooster({"max_gap": 0.5})
    fault = parsed("Unglaublich, seit gestern wieder kein Netz!!!", ("complain", 0.5), ("report_problem", 0.48))
    service = parsed("Unglaublich, euer Service ist eine Zumutung", ("complain", 0.5), ("report_problem", 0.45))
    sure = parsed("Ihr seid eine Frechheit, seit Wochen kein Netz", ("complain", 0.9), ("report_problem", 0.1))
    booster.process([fault, service, sure])
    assert fault.get("intent")["name"] == "report_problem"
    assert [r["name"] for r in fault.get("intent_ranking")[:2]] == ["report_problem", "complain"]
    assert service.get("intent")["name"] == "complain", "no fault stated"
    assert sure.get("intent")["name"] == "complain", "the classifier is sure"
