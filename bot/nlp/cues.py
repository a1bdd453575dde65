"""Strong cancellation cues in German text, and when they should overrule the intent classifier.

The classifier weighs single words, so indirect cancellations whose words belong to other intents
("die Konkurrenz ist billiger, ich bin raus" looks like a complaint, "Kündigung zum 31.03." like a
date for identification) lose to those intents. A cue here is a phrase that on its own says the
customer is leaving: leaving ("ich bin weg", "wie werde ich das Abo los"), switching provider ("ich
wechsle zu o2"), ending or revoking the contract ("Abo stornieren", "Vertrag auflösen", "widerrufen")
or refusing its renewal ("nicht verlängern"). The bare word "kündigen" is a weaker cue: questions
about the notice period ("wann kann ich frühestens kündigen?") are `ask_contract`.

Rules over the folded text (lower case, umlauts folded; `bot.nlp.reasons.fold`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.nlp.reasons import fold

CANCEL = "cancel_contract"

# Phrases that on their own mean the customer is leaving.
_STRONG = tuple(re.compile(p) for p in (
    r"\bbin\s+(?:\w+\s+)?(?:weg|raus)\b(?!\s*(?:gewesen|gegangen))",
    r"\b(?:los\s?werden|loszuwerden)\b",
    r"\b(?:werde|wird|werden|kriege|krieg|bekomme)\s+(?:ich\s+)?(?:\w+\s+){0,3}(?:wieder\s+)?los\b",
    r"\braus\s+aus\s+(?:dem|meinem|diesem|eurem|ihrem)\b",
    r"\bweg\s+von\s+(?:euch|ihnen|dir|nordstern)\b",
    r"\b(?:wechsle|wechsel|wechseln|gehe|geh|gehen)\s+(?:\w+\s+)?(?:zu|zur|zum)\s+"
    r"(?:der\s+)?(?:konkurrenz|telekom|vodafone|o2|1\s?&\s?1|congstar|aldi|blau|winsim|freenet|eon|e\.on|"
    r"lichtblick|stadtwerke\w*|einem\s+anderen|anderen)",
    r"\bbei\s+(?:der\s+)?\S+\s+(?:\w+\s+){0,2}(?:unterschrieben|abgeschlossen)\b",
    r"\b(?:vertrag|abo|abonnement|mitgliedschaft|anschluss|kundenkonto)\w*\b[^.?!]{0,30}"
    r"\b(?:beenden|aufloesen|stornieren|storniere|abbestellen|widerrufen|widerrufe)\b",
    r"\bstorn(?:o|iere|ieren|ierung)\b",
    r"\bwiderruf(?:e|en|srecht)?\b",
    r"\bnicht\s+(?:mehr\s+)?verlaenger",
    r"\bkeine\s+(?:automatische\s+)?verlaengerung\b",
))

# Taking a cancellation back ("stornieren Sie die Kündigung") is the opposite of a cue.
_TAKE_BACK = re.compile(r"\b(?:stornier|widerruf|zurueckn|zurueckzie)\w*\s+(?:\w+\s+){0,2}kuendigung"
                        r"|\bkuendigung\w*\s+(?:\w+\s+){0,2}(?:stornier|widerruf|zurueck)")

# Cancelling named as what the customer does *not* want ("pausieren statt kündigen", "nicht kündigen").
_NOT_CANCELLING = re.compile(r"\b(?:statt|anstatt|anstelle|ohne|nicht)\s+(?:zu\s+)?k(?:ue|u)ndig"
                             r"|\bkeine\s+kuendigung")
# What such a customer wants instead.
ALTERNATIVES = ("pause_contract", "change_plan", "accept_offer")

# The word "kündigen" itself (also misspelt or without umlaut).
_CANCEL_WORD = re.compile(r"\bk(?:ue|u)n(?:d|id)i?g|\bkuendg|\bkuendig|\bsonderkuendig")

# Intents that say nothing about the customer's concern, so a strong cue outweighs them. Yes/no
# answers are not among them: "ja, kündigen" confirms a question the assistant asked.
# "Ich bin dann mal weg" can be a goodbye, so goodbyes are not among them either.
CONTENTLESS = frozenset({"greet", "identify", "rate", "dont_know", "bot_challenge", "out_of_scope"})
# The bare word "kündigen" outweighs fewer: "danke für die Kündigungsbestätigung" stays a thank-you.
CONTENTLESS_FOR_WORD = frozenset({"greet", "identify", "rate", "out_of_scope"})


def has_strong_cue(text: str) -> bool:
    """True when the text contains a phrase that on its own says the customer is leaving."""
    folded = fold(text)
    if _TAKE_BACK.search(folded):
        return False
    return any(pattern.search(folded) for pattern in _STRONG)


def has_cancel_word(text: str) -> bool:
    return _CANCEL_WORD.search(fold(text)) is not None


@dataclass(frozen=True)
class RankedIntent:
    name: str
    confidence: float


def should_cancel(text: str, ranking: Sequence[RankedIntent], *, max_gap: float) -> bool:
    """Whether a cue should turn the classifier's top intent into `cancel_contract`.

    Only when the top intent is not already a cancellation. A strong cue wins over an intent that
    says nothing about the concern (greeting, date, rating, out of scope); over a content intent
    (complaint, contract question, plan change) only when `cancel_contract` is ranked close behind,
    within `max_gap` of the top confidence. The bare word "kündigen" only wins over contentless
    intents (`CONTENTLESS_FOR_WORD`), so notice-period questions stay `ask_contract`.
    """
    if not ranking or ranking[0].name in (CANCEL, "cancel_now"):
        return False
    top = ranking[0]
    if has_strong_cue(text):
        if top.name in CONTENTLESS:
            return True
        cancel = next((r for r in ranking if r.name == CANCEL), None)
        return cancel is not None and top.confidence - cancel.confidence <= max_gap
    return top.name in CONTENTLESS_FOR_WORD and has_cancel_word(text)


def alternative_to_cancelling(text: str, ranking: Sequence[RankedIntent], *, max_gap: float) -> str | None:
    """The intent to put first instead of a top `cancel_contract` when the customer names cancelling
    as what they do not want ("kann ich pausieren statt kündigen?") and a pause, plan change or offer
    acceptance is ranked within `max_gap` behind; otherwise None."""
    if not ranking or ranking[0].name != CANCEL or _NOT_CANCELLING.search(fold(text)) is None:
        return None
    alternative = next((r for r in ranking if r.name in ALTERNATIVES), None)
    if alternative is None or ranking[0].confidence - alternative.confidence > max_gap:
        return None
    return alternative.name
