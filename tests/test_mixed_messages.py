"""Mixed messages (issue 8, finding 1): a declared cancellation is a cancellation whatever else it says;
a cancellation of something that is not the company's is not; a message that might be a cancellation
shows the cancel button. Plain functions and the actions, with crafted parse results."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionComplain, ActionFallback
from bot.assistant.mixed_messages import (
    COMPLAINT,
    COMPLAINT_MAYBE_CANCELLING,
    GENERAL_ACKNOWLEDGEMENT,
    acknowledgement,
    complaint_reply,
    might_be_cancellation,
)
from bot.assistant.replies import CANCEL_NOW
from bot.nlp.components import CancellationCueBooster
from bot.nlp.cues import (
    RankedIntent,
    declares_cancellation,
    foreign_cancellation,
    has_strong_cue,
    is_foreign_cancellation,
    should_cancel,
)


@pytest.mark.parametrize("text", [
    "ich kündige, euer kundenservice ist ein witz, keine antwort auf 4 mails",
    "Ich will kündigen. Eure Hotline hat mich jetzt dreimal abgewimmelt und keiner ruft zurück.",
    "Hiermit kündige ich meinen Vertrag, die Rechnung stimmt nie",
    "Der Router fällt jeden Tag aus, deshalb kündige ich",
    "Kündigen Sie bitte meinen Anschluss, die Konkurrenz ist billiger",
    "Kündigung bitte, ich habe genug",
    "Wie kann ich hier kündigen? Seit Wochen geht nichts",
    "Ich möchte den Vertrag zum Monatsende beenden, der Service ist unterirdisch",
    "Ich mache Schluss mit euch, dauernd neue Preise",
    "Ich möchte von meinem Widerrufsrecht Gebrauch machen",
    "ich bin raus",
])
def test_declared_cancellations_are_recognised_whatever_else_they_say(text: str) -> None:
    assert declares_cancellation(text)


@pytest.mark.parametrize("text", [
    "Wann kann ich frühestens kündigen?",
    "Ich möchte wissen, bis wann ich kündigen muss",
    "Ich habe letzten Monat gekündigt und ihr bucht immer noch ab",
    "Meine Kündigung wurde nicht bestätigt",
    "Was passiert mit meiner Rufnummer, wenn ich kündige?",
    "Ich will nicht kündigen, nur einen günstigeren Tarif",
    "Stornieren Sie die Kündigung bitte, ich bleibe",
    "Ich will meine Wohnung beim Vermieter kündigen",
    "Wie kündige ich meine Kfz-Versicherung?",
    "Ich möchte aus dem Sportverein austreten und die Mitgliedschaft im Verein kündigen",
    # issue 8, finding 4: cue false positives
    "Ich werde das Gefühl nicht los, dass hier etwas nicht stimmt",
    "Was ist mein Widerrufsrecht?",
    "Ich bin kurz weg",
])
def test_other_messages_declare_no_cancellation(text: str) -> None:
    assert not declares_cancellation(text)


@pytest.mark.parametrize("text", [
    "Ich werde das Gefühl nicht los, dass ihr mich abzockt",
    "Den Eindruck werde ich nicht los",
    "Was ist mein Widerrufsrecht?",
    "Wie lange gilt die Widerrufsfrist?",
    "Ich bin kurz weg",
    "Bin gleich wieder weg, Moment",
    "ich bin mal kurz weg, melde mich gleich",
])
def test_the_cue_false_positives_of_issue_8_are_no_strong_cues(text: str) -> None:
    assert not has_strong_cue(text)


def test_the_cues_that_are_meant_still_count() -> None:
    for text in ("Wie werde ich den Vertrag wieder los?", "Ich widerrufe den Vertrag", "Ich bin weg"):
        assert has_strong_cue(text), text


def ranking(*pairs: tuple[str, float]) -> list[RankedIntent]:
    return [RankedIntent(name, confidence) for name, confidence in pairs]


@pytest.mark.parametrize(("text", "ranked", "expected"), [
    # the declaration wins over a confident complaint: the complaint is its reason
    ("ich kündige, euer kundenservice ist ein witz, keine antwort auf 4 mails",
     ranking(("complain", 0.99), ("cancel_contract", 0.006)), True),
    ("Ich will kündigen. Eure Hotline hat mich jetzt dreimal abgewimmelt und keiner ruft zurück.",
     ranking(("complain", 0.87), ("cancel_now", 0.10), ("cancel_contract", 0.02)), True),
    ("Das Internet fällt dauernd aus, ich kündige", ranking(("report_problem", 0.9), ("cancel_contract", 0.05)), True),
    ("Schon wieder falsch abgerechnet, ich kündige", ranking(("ask_bill", 0.8), ("cancel_contract", 0.1)), True),
    # not over an explicit request for a person, nor over an answer to a question the assistant asked
    ("Ich will kündigen, verbinden Sie mich mit einem Menschen",
     ranking(("request_human", 0.8), ("cancel_contract", 0.15)), False),
    ("Nein, ich will kündigen", ranking(("deny", 0.7), ("cancel_contract", 0.25)), False),
    # questions about the notice period stay questions
    ("Wann kann ich kündigen?", ranking(("ask_contract", 0.6), ("cancel_contract", 0.35)), False),
])
def test_a_declared_cancellation_overrules_the_other_intent(text: str, ranked: list[RankedIntent],
                                                             expected: bool) -> None:
    assert should_cancel(text, ranked, max_gap=0.5) is expected


def test_a_declaration_needs_the_evidence_configured() -> None:
    ranked = ranking(("complain", 0.99), ("cancel_contract", 0.006))
    assert not should_cancel("ich kündige, euer Service ist ein Witz", ranked, max_gap=0.5, min_declared=0.05)


def parsed(text: str, *pairs: tuple[str, float]) -> Message:
    ranked = [{"name": name, "confidence": confidence} for name, confidence in pairs]
    return Message(data={"text": text, "intent": dict(ranked[0]), "intent_ranking": ranked})


def test_the_booster_keeps_the_complaint_second() -> None:
    message = parsed("Ich will kündigen. Keiner ruft zurück.", ("complain", 0.87), ("cancel_now", 0.1),
                     ("cancel_contract", 0.02))
    CancellationCueBooster({"max_gap": 0.5}).process([message])
    assert [r["name"] for r in message.get("intent_ranking")][:2] == ["cancel_contract", "complain"]
    assert message.get("intent")["name"] == "cancel_contract"


def test_cancelling_the_flat_with_the_landlord_is_out_of_scope() -> None:
    text = "Ich will meinen Mietvertrag beim Vermieter kündigen"
    assert is_foreign_cancellation(text)
    assert foreign_cancellation(text, ranking(("cancel_contract", 0.9), ("out_of_scope", 0.05)))
    message = parsed(text, ("cancel_contract", 0.9), ("out_of_scope", 0.05))
    CancellationCueBooster({"max_gap": 0.5}).process([message])
    assert message.get("intent")["name"] == "out_of_scope"
    # ... but not when the company's own service is named as well, or the customer moves
    assert not is_foreign_cancellation("Ich ziehe aus der Wohnung aus und will mein Internet kündigen")
    assert not is_foreign_cancellation("Ich ziehe zu meiner Freundin in die Wohnung, wie beende ich den Vertrag?")
    assert not is_foreign_cancellation("Neuer Job in Hamburg, deshalb muss ich kündigen")
    assert not is_foreign_cancellation("Meine Wohnung hat kein Netz, der Vermieter ist schuld, ich kündige bei euch")


def parse(text: str, *pairs: tuple[str, float]) -> dict:
    ranked = [{"name": name, "confidence": confidence} for name, confidence in pairs]
    return {"text": text, "intent": ranked[0], "intent_ranking": ranked, "entities": []}


def test_a_complaint_with_a_close_cancellation_shows_the_cancel_button() -> None:
    close = parse("Ich überlege ernsthaft, ob ich bei euch bleibe", ("complain", 0.55), ("cancel_contract", 0.3))
    assert might_be_cancellation(close)
    assert complaint_reply(close) == COMPLAINT_MAYBE_CANCELLING
    assert COMPLAINT_MAYBE_CANCELLING.buttons[0] == CANCEL_NOW
    clear = parse("Euer Service ist schlecht", ("complain", 0.95), ("cancel_contract", 0.03))
    assert complaint_reply(clear) == COMPLAINT and CANCEL_NOW not in COMPLAINT.buttons


def test_a_fallback_with_cancellation_close_might_be_a_cancellation() -> None:
    assert might_be_cancellation(parse("weg damit", ("nlu_fallback", 0.4), ("cancel_contract", 0.35),
                                       ("out_of_scope", 0.2)))
    assert not might_be_cancellation(parse("blabla", ("nlu_fallback", 0.4), ("out_of_scope", 0.35),
                                           ("greet", 0.2), ("cancel_contract", 0.05)))
    # a cancellation itself, or a button, is not in doubt
    assert not might_be_cancellation(parse("ich kündige", ("cancel_contract", 0.9), ("complain", 0.1)))
    assert not might_be_cancellation(parse("/deny", ("deny", 1.0), ("cancel_contract", 0.0)))


def test_the_complaint_in_a_cancellation_is_acknowledged() -> None:
    service = parse("ich kündige, euer kundenservice ist ein witz", ("cancel_contract", 1.0), ("complain", 0.99))
    assert "Kundenservice" in acknowledgement(service)
    general = parse("ich kündige, ihr seid unmöglich", ("cancel_contract", 0.9), ("complain", 0.6))
    assert acknowledgement(general) == GENERAL_ACKNOWLEDGEMENT
    assert acknowledgement(parse("ich möchte kündigen", ("cancel_contract", 0.95), ("ask_contract", 0.03))) is None
    assert acknowledgement(parse("Euer Service ist schlecht", ("complain", 0.95), ("cancel_contract", 0.03))) is None


def _tracker(message: dict, events: list[dict] | None = None) -> Tracker:
    return Tracker(sender_id="mixed-1", slots={}, latest_message=message,
                   events=events or [{"event": "user", "text": message["text"], "parse_data": message}],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


def _buttons(dispatcher: CollectingDispatcher) -> list[str]:
    return [b["payload"] for m in dispatcher.messages for b in (m.get("buttons") or [])]


async def test_the_complaint_action_shows_the_cancel_button_when_cancellation_is_a_close_second() -> None:
    dispatcher = CollectingDispatcher()
    message = parse("Mir reicht es langsam mit euch", ("complain", 0.5), ("cancel_contract", 0.4))
    await ActionComplain().run(dispatcher, _tracker(message), {})
    assert _buttons(dispatcher)[0] == "/cancel_now"
    dispatcher = CollectingDispatcher()
    message = parse("Euer Service ist schlecht", ("complain", 0.95), ("cancel_contract", 0.02))
    await ActionComplain().run(dispatcher, _tracker(message), {})
    assert "/cancel_now" not in _buttons(dispatcher) and "/request_human" in _buttons(dispatcher)


async def test_the_fallback_shows_the_cancel_button_when_cancellation_is_close() -> None:
    dispatcher = CollectingDispatcher()
    message = parse("Vertrag weg", ("nlu_fallback", 0.4), ("cancel_contract", 0.38), ("out_of_scope", 0.1))
    message["intent"] = {"name": "nlu_fallback", "confidence": 0.4}
    await ActionFallback().run(dispatcher, _tracker(message), {})
    assert _buttons(dispatcher) == ["/cancel_now"]
    dispatcher = CollectingDispatcher()
    message = parse("blabla", ("nlu_fallback", 0.4), ("out_of_scope", 0.38), ("greet", 0.1))
    await ActionFallback().run(dispatcher, _tracker(message), {})
    assert _buttons(dispatcher) == [] and dispatcher.messages[0].get("response") == "utter_default"


def test_an_unsure_cancellation_without_a_word_of_cancelling_gives_way_to_a_concrete_request() -> None:
    from bot.nlp.cues import unworded_cancellation

    ranked = ranking(("cancel_contract", 0.45), ("report_problem", 0.3))
    assert unworded_cancellation("Seit heute früh ist der Strom weg", ranked, max_gap=0.5) == "report_problem"
    # words of cancelling, a sure classifier, or a complaint second: it stays a cancellation
    assert unworded_cancellation("Ich will kündigen, der Strom ist weg", ranked, max_gap=0.5) is None
    assert unworded_cancellation("Der Strom ist weg", ranking(("cancel_contract", 0.8), ("report_problem", 0.15)),
                                 max_gap=0.5) is None
    assert unworded_cancellation("Ihr seid das Letzte", ranking(("cancel_contract", 0.45), ("complain", 0.4)),
                                 max_gap=0.5) is None


def test_the_two_cancellation_intents_share_their_evidence() -> None:
    message = parsed("Kein Angebot, ich will jetzt kündigen", ("cancel_contract", 0.35), ("cancel_now", 0.3),
                     ("complain", 0.2))
    CancellationCueBooster({"max_gap": 0.5}).process([message])
    assert message.get("intent")["name"] == "cancel_contract"
    assert message.get("intent")["confidence"] == pytest.approx(0.65)


def test_which_replies_offer_the_cancellation_at_once() -> None:
    from bot.assistant.mixed_messages import cancel_button_shown

    def parse(text: str, *ranking: tuple[str, float]) -> dict:
        ranked = [{"name": n, "confidence": c} for n, c in ranking]
        return {"text": text, "intent": ranked[0], "intent_ranking": ranked}

    assert cancel_button_shown(parse("Ich kündige", ("cancel_contract", 0.9), ("complain", 0.1)))
    # in doubt: a bill question with a cancellation close behind gets the button with its answer
    assert cancel_button_shown(parse("Die Rechnung ist zu hoch, so nicht", ("ask_bill", 0.5), ("cancel_contract", 0.3)))
    assert not cancel_button_shown(parse("Wie hoch ist meine Rechnung?", ("ask_bill", 0.9), ("cancel_contract", 0.05)))
    # a greeting's reply has no button, whatever is ranked behind it
    assert not cancel_button_shown(parse("Hallo", ("greet", 0.5), ("cancel_contract", 0.4)))


async def test_an_out_of_scope_answer_shows_the_cancel_button_when_it_might_be_a_cancellation() -> None:
    from actions.conversation import ActionOutOfScope

    dispatcher = CollectingDispatcher()
    message = parse("Ich will hier raus aus allem", ("out_of_scope", 0.45), ("cancel_contract", 0.35))
    await ActionOutOfScope().run(dispatcher, _tracker(message), {})
    assert dispatcher.messages[0].get("response") == "utter_out_of_scope"
    assert _buttons(dispatcher) == ["/cancel_now"]
    dispatcher = CollectingDispatcher()
    message = parse("Wie wird das Wetter?", ("out_of_scope", 0.9), ("greet", 0.05), ("cancel_contract", 0.01))
    await ActionOutOfScope().run(dispatcher, _tracker(message), {})
    assert _buttons(dispatcher) == []


def test_a_service_answer_gets_the_cancel_button_on_its_last_text_when_in_doubt() -> None:
    from actions.common import offer_cancellation_if_in_doubt

    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(text="Ihre Rechnung beträgt 39,99 €.", buttons=[{"title": "Danke", "payload": "/thank"}])
    offer_cancellation_if_in_doubt(dispatcher, parse("Die Rechnung ist schon wieder so hoch, mir reichts",
                                                     ("ask_bill", 0.5), ("cancel_contract", 0.3)))
    assert _buttons(dispatcher) == ["/cancel_now", "/thank"]
    assert "kündigen" in dispatcher.messages[0]["text"]
    # not in doubt: the answer stays as it is; taken as a cancellation: the cancellation path shows it anyway
    dispatcher = CollectingDispatcher()
    dispatcher.utter_message(text="Ihre Rechnung beträgt 39,99 €.")
    offer_cancellation_if_in_doubt(dispatcher, parse("Wie hoch ist die Rechnung?", ("ask_bill", 0.9),
                                                     ("cancel_contract", 0.05)))
    offer_cancellation_if_in_doubt(dispatcher, parse("Ich kündige", ("cancel_contract", 0.9), ("ask_bill", 0.05)))
    assert _buttons(dispatcher) == []
