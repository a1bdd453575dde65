"""Replies to messages that mix a cancellation with something else, or might be a cancellation.

A declared cancellation is put first by the NLU (`bot.nlp.cues.should_cancel`); what else the
message says (a complaint, a fault, the price) is its reason and is acknowledged in the same reply,
in one sentence before the cancellation step, which stays one click away. When the assistant is not
sure whether a message is a cancellation (a cancellation intent ranked close behind, or a fallback),
the reply shows the "Jetzt kündigen" button rather than hiding it.

Plain functions over the parse result (`tracker.latest_message`): its `intent_ranking` and `text`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.assistant.replies import CANCEL_NOW, NO_THANKS, TALK_TO_HUMAN, Reply
from bot.nlp.reasons import detect_reason

CANCELLATION_INTENTS = ("cancel_contract", "cancel_now")
FALLBACK = "nlu_fallback"
# Intents that, ranked behind a cancellation, say the message complained as well.
COMPLAINING_INTENTS = ("complain", "report_problem", "ask_bill")
# How much probability the cancellation intents need among the top two to count as "might be a cancellation".
IN_DOUBT_AT = 0.15
# How much a complaining intent behind the cancellation needs to count as a complaint in the message.
SECONDARY_AT = 0.2

# One sentence that acknowledges what the customer complained about, by the reason stated.
ACKNOWLEDGEMENTS = {
    "service": "Das tut mir leid, dass Sie mit unserem Kundenservice so schlechte Erfahrungen gemacht haben.",
    "technical": "Das tut mir leid, dass Sie mit Störungen und Ausfällen so viel Ärger hatten.",
    "price": "Das tut mir leid, dass Ihnen unser Angebot zu teuer geworden ist.",
}
GENERAL_ACKNOWLEDGEMENT = "Das tut mir leid, dass Sie Ärger mit uns hatten."

COMPLAINT_TEXT = ("Das tut mir leid, und ich verstehe Ihren Ärger. Erzählen Sie mir gern, was genau passiert ist, "
                  "oder ich verbinde Sie mit einer Mitarbeiterin oder einem Mitarbeiter.")
IF_YOU_WANT_TO_CANCEL = "Wenn Sie kündigen möchten, geht das auch direkt hier."
COMPLAINT = Reply(COMPLAINT_TEXT, (TALK_TO_HUMAN, NO_THANKS))
COMPLAINT_MAYBE_CANCELLING = Reply(f"{COMPLAINT_TEXT} {IF_YOU_WANT_TO_CANCEL}", (CANCEL_NOW, TALK_TO_HUMAN, NO_THANKS))
NOT_UNDERSTOOD_TEXT = "Entschuldigung, das habe ich nicht verstanden. Könnten Sie es bitte anders formulieren?"
NOT_UNDERSTOOD_MAYBE_CANCELLING = Reply(f"{NOT_UNDERSTOOD_TEXT} {IF_YOU_WANT_TO_CANCEL}", (CANCEL_NOW,))


def _ranking(parse: Mapping[str, Any]) -> list[tuple[str, float]]:
    return [(str(r.get("name")), float(r.get("confidence") or 0.0)) for r in parse.get("intent_ranking") or []]


def might_be_cancellation(parse: Mapping[str, Any], *, at: float = IN_DOUBT_AT) -> bool:
    """Whether the message may be a cancellation although the assistant does not treat it as one:
    the cancellation intents hold at least `at` of the probability among the two best-ranked intents
    (after a fallback: the two best intents the classifier saw), and the message is not itself a
    cancellation or a button payload."""
    text = str(parse.get("text") or "")
    ranking = _ranking(parse)
    if not ranking or text.startswith("/"):
        return False
    fallback = ranking[0][0] == FALLBACK
    intents = [r for r in ranking if r[0] != FALLBACK]
    if not intents or (not fallback and intents[0][0] in CANCELLATION_INTENTS):
        return False
    return sum(confidence for name, confidence in intents[:2] if name in CANCELLATION_INTENTS) >= at


# The replies that carry the "Jetzt kündigen" button when the message might be a cancellation
# (`might_be_cancellation`): a misunderstanding, a complaint, an out-of-scope answer and the service answers.
BUTTON_WHEN_IN_DOUBT = frozenset({FALLBACK, "complain", "out_of_scope", "ask_bill", "ask_contract", "report_problem",
                                  "change_plan", "pause_contract"})


def cancel_button_shown(parse: Mapping[str, Any]) -> bool:
    """Whether the assistant's reply to this parse offers the cancellation at once: the message is taken as a
    cancellation, or it might be one and its reply is one of `BUTTON_WHEN_IN_DOUBT`."""
    intent = str((parse.get("intent") or {}).get("name") or "")
    if intent in CANCELLATION_INTENTS:
        return True
    return intent in BUTTON_WHEN_IN_DOUBT and might_be_cancellation(parse)


def cancel_button_in_doubt(parse: Mapping[str, Any]) -> bool:
    """Whether the reply to a message that was not taken as a cancellation must add the cancel button."""
    intent = str((parse.get("intent") or {}).get("name") or "")
    return intent in BUTTON_WHEN_IN_DOUBT and intent not in CANCELLATION_INTENTS and might_be_cancellation(parse)


def complaint_reply(parse: Mapping[str, Any]) -> Reply:
    """The reply to a complaint: empathy and a human; and the cancel button when it might be a cancellation."""
    return COMPLAINT_MAYBE_CANCELLING if might_be_cancellation(parse) else COMPLAINT


def acknowledgement(parse: Mapping[str, Any]) -> str | None:
    """The sentence that acknowledges the complaint in a cancellation message, or None when it has none.

    A message counts as complaining when it states a service, fault or price reason, or when a complaint,
    fault report or bill question is ranked behind the cancellation with at least `SECONDARY_AT`.
    """
    text = str(parse.get("text") or "")
    ranking = _ranking(parse)
    if not text or text.startswith("/") or not ranking or ranking[0][0] not in CANCELLATION_INTENTS:
        return None
    reason = detect_reason(text)
    if reason in ACKNOWLEDGEMENTS:
        return ACKNOWLEDGEMENTS[reason]
    if any(name in COMPLAINING_INTENTS and confidence >= SECONDARY_AT for name, confidence in ranking[1:3]):
        return GENERAL_ACKNOWLEDGEMENT
    return None


def with_cancel_button(reply: Reply) -> Reply:
    """`reply` with "Jetzt kündigen" as its first button (unless it is there already)."""
    if CANCEL_NOW in reply.buttons:
        return reply
    return Reply(f"{reply.text} {IF_YOU_WANT_TO_CANCEL}", (CANCEL_NOW, *reply.buttons))
