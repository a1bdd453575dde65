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

from bot.nlp.reasons import detect_reason, fold

CANCEL = "cancel_contract"

# Phrases that on their own mean the customer is leaving.
_STRONG = tuple(re.compile(p) for p in (
    # "ich bin raus", "bin ich weg"; not a short absence ("ich bin kurz weg", "gleich wieder weg")
    r"\bbin\s+(?!(?:kurz|gleich|mal\s+kurz|eben|nur\s+kurz|kurz\s+mal|schnell|jetzt\s+kurz|gerade|mal)\s+"
    r"(?:\w+\s+)?(?:weg|raus)\b)(?:\w+\s+)?(?:weg|raus)\b(?!\s*(?:gewesen|gegangen))",
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
    # revoking ("ich widerrufe", "Widerruf meines Vertrags"); asking what the right of withdrawal is, is not
    r"\bwiderruf(?:e|en)?\b(?!\s*(?:recht|frist))",
    r"\bnicht\s+(?:mehr\s+)?verlaenger",
    r"\bkeine\s+(?:automatische\s+)?verlaengerung\b",
))

# A declaration of (or a request for) the cancellation itself, in the customer's own words: "ich
# kündige", "ich will/möchte/werde ... kündigen", "kündigen Sie (bitte) ...", "Kündigung bitte",
# "hiermit Kündigung", "wie kann ich kündigen?", "ich mache Schluss mit euch". Whatever else such a
# message says (a complaint, a fault, the price), the customer is leaving. Past tense ("ich habe
# gekündigt") and questions about the notice period ("wann kann ich kündigen?") are no declaration.
_KUEND = r"k(?:ue|u)ndig"
_DECLARATION = tuple(re.compile(p) for p in (
    rf"\bich\s+(?:\w+\s+){{0,2}}{_KUEND}e\b",  # "ich kündige", "ich hiermit kündige"
    rf"\b{_KUEND}e\s+(?:ich|hiermit)\b",  # "hiermit kündige ich", "deshalb kündige ich"
    rf"\b(?:will|moechte|moecht|muss|werde|wuerde|mochte|moechten|wollen|werden)\s+(?:ich\s+|wir\s+)?"
    rf"(?:[^\s.!?;]+\s+){{0,6}}(?:{_KUEND}en|beenden|aufloesen|stornieren)\b",
    rf"\b{_KUEND}(?:en|t)\s+(?:sie|ihr)\b",  # "kündigen Sie meinen Vertrag", "kündigt meinen Vertrag"
    rf"\b(?:bitte\s+(?:\w+\s+){{0,3}}{_KUEND}en|{_KUEND}en\s*,?\s*(?:bitte|sofort|jetzt|danke))\b",
    rf"^\W*{_KUEND}en\b(?!\s+(?:kann|darf|muss|koennen|geht))",  # "Kündigen. Niemand hilft mir."
    rf"\b{_KUEND}ung\b\s*(?:!|bitte|sofort|jetzt|zum\s+naechst)",  # "Kündigung bitte", "Kündigung!"
    rf"^\W*{_KUEND}ung\s*[.!:]",  # "Kündigung. ..."
    rf"\b(?:hiermit|reiche|einreichen|einreiche|spreche|aussprechen)\b[^.!?]{{0,40}}{_KUEND}ung"
    rf"|{_KUEND}ung\w*\s+(?:\w+\s+){{0,3}}(?:einreichen|aussprechen)",
    rf"\b{_KUEND}ung\s+(?:meines|meiner|des|der|von\s+meinem)\s+(?:\w+\s+)?(?:vertrag|anschluss|tarif|abo|"
    rf"mobilfunk|internet|strom|gas|festnetz|dsl)",
    rf"\b(?:wie|wo|was\s+muss\s+ich\s+tun\s*,?\s*um)\s+(?:\w+\s+){{0,4}}{_KUEND}",  # asking how to cancel
    r"\bmach\w*\s+(?:ich\s+)?schluss\s+mit\s+(?:euch|ihnen|nordstern|dem\s+vertrag)",
    r"\bnicht\s+(?:mehr|laenger)\s+(?:\w+\s+)?kunde\b",  # "nicht länger Kunde", "nicht mehr euer Kunde"
    r"\b(?:verlasse|verlassen)\s+(?:euch|sie|nordstern)\b",
    r"\bwiderrufsrecht\w*\s+(?:\w+\s+){0,3}(?:gebrauch|nutzen|ausueben|wahrnehmen)",
))
_CONDITIONAL = re.compile(rf"\b(?:wenn|falls|sobald|nachdem|ob|bevor)\s+(?:ich|wir)\s+(?:[^\s.!?;,]+\s+){{0,4}}"
                          rf"\w*{_KUEND}\w*")
# "wann kann ich kündigen", "bis wann muss ich kündigen", "Kündigungsfrist": questions about the notice.
_NOTICE_QUESTION = re.compile(r"\b(?:wann|wie\s+lange|bis\s+wann|ab\s+wann|frist\w*|fruehestens|ueberhaupt)\b"
                              r"|\bk(?:ue|u)ndigungsfrist")
# Cancelling something that is not the company's service: the flat with the landlord, a club, an
# insurance, a newspaper, a job. Only when that thing is what is cancelled (named in the same clause as
# the cancelling), the message names none of the company's services and no move: "ich ziehe in eine neue
# Wohnung, wie beende ich den Vertrag?" is a cancellation because of moving.
_FOREIGN_THING = (r"(?:vermiete\w*|mietvertrag\w*|mietwohnung|wohnung|hausverwaltung|wg-zimmer|garage|stellplatz|"
                  r"\w*verein\w*|\w*club\w*|\w*klub\w*|fitness\w*|muckibude|\w*versicherung\w*|krankenkasse|"
                  r"\w*zeitung\w*|zeitschrift\w*|verlag\w*|bank|sparkasse|kreditkarte|kredit|bauspar\w*|"
                  r"arbeitgeber|arbeitsstelle|arbeitsvertrag|kita\w*|musikschule|kirche|gewerkschaft\w*|"
                  r"leasing\w*|bahncard|hotel\w*|flug|reise|pauschalreise|tanzschule|pacht\w*|putzfrau|pflegedienst|"
                  r"reitstall|amazon|prime|partnerboerse|adac|schornsteinfeger|deutschlandticket|nachsendeauftrag)")
_CANCEL_VERB = r"(?:k(?:ue|u)ndig\w*|storn\w*|widerruf\w*|austreten|austritt|aufloesen|beenden|abbestellen|abmelden|raus)"
_FOREIGN = re.compile(rf"\b{_FOREIGN_THING}\b[^.!?;]{{0,60}}\b{_CANCEL_VERB}|\b{_CANCEL_VERB}[^.!?;]{{0,60}}"
                      rf"\b{_FOREIGN_THING}\b|\baus\s+(?:dem|der)\s+\w*(?:verein|club|kirche)\w*\s+aus")
_MOVING = re.compile(r"\bzieh\w*|\bumzug\w*|\bumgezogen|\bausziehe|\bausgezogen")
_OWN = re.compile(r"\b(?:nordstern|euch|eure\w*|ihnen|ihr(?:en|em|er)?\s+(?:vertrag|tarif|service)|internet|"
                  r"dsl|glasfaser|handy\w*|mobilfunk\w*|festnetz|router|strom\w*|gas\w*|tv|fernseh\w*|"
                  r"anschluss|tarif\w*|sim)\b")

# A feeling, thought or suspicion one cannot shake off ("ich werde das Gefühl nicht los, dass ...") is
# no contract one wants to be rid of: such a sentence is cut before the cues are looked for.
_SHAKE_OFF = re.compile(r"[^.!?]*\b(?:gefuehl|eindruck|gedanke|verdacht|angst|sorge|zweifel|aerger|wut)\w*\b[^.!?]*"
                        r"\blos\b")

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
    folded = _SHAKE_OFF.sub(" ", fold(text))
    if _TAKE_BACK.search(folded):
        return False
    return any(pattern.search(folded) for pattern in _STRONG)


def is_foreign_cancellation(text: str) -> bool:
    """True when the text is about something that is not the company's service (a flat, a club, an
    insurance, a newspaper, a job) and names none of the company's services."""
    folded = fold(text)
    return _FOREIGN.search(folded) is not None and _OWN.search(folded) is None and _MOVING.search(folded) is None


def declares_cancellation(text: str) -> bool:
    """True when the text declares or asks for the cancellation of the company's service, whatever else
    it says ("ich kündige, euer Service ist ein Witz"), or contains a strong leaving cue ("ich bin raus").

    Not: taking a cancellation back, naming cancelling as what the customer does not want, asking
    about the notice period, or cancelling something that is not the company's (`is_foreign_cancellation`).
    """
    folded = fold(text)
    if _TAKE_BACK.search(folded) or _NOT_CANCELLING.search(folded) or is_foreign_cancellation(text):
        return False
    if has_strong_cue(text):
        return True
    folded = _CONDITIONAL.sub(" ", folded)  # "was passiert, wenn ich kündige?" asks about the consequences
    declared = [m for p in _DECLARATION for m in p.finditer(folded)]
    if not declared:
        return False
    # "wann kann ich kündigen" is a question about the contract; "ich kündige, wann ist das Ende?" is not.
    firm = re.search(rf"\bich\s+(?:\w+\s+){{0,2}}{_KUEND}e\b|\b{_KUEND}e\s+(?:ich|hiermit)\b|\bhiermit\b", folded)
    return firm is not None or _NOTICE_QUESTION.search(folded) is None


def has_cancel_word(text: str) -> bool:
    return _CANCEL_WORD.search(fold(text)) is not None


@dataclass(frozen=True)
class RankedIntent:
    name: str
    confidence: float


# Intents a declared cancellation overrules: what else the message says (a complaint, a fault, a bill,
# a question, a wish for a cheaper plan) is why the customer leaves, and becomes the reason.
OVERRULED_BY_DECLARATION = frozenset({"complain", "report_problem", "ask_bill", "ask_contract", "change_plan"}) \
    | CONTENTLESS


def cancellation_evidence(ranking: Sequence[RankedIntent]) -> float:
    """The classifier's probability that the message is a cancellation (either cancellation intent)."""
    return sum(r.confidence for r in ranking if r.name in (CANCEL, "cancel_now"))


def should_cancel(text: str, ranking: Sequence[RankedIntent], *, max_gap: float,
                  min_declared: float = 0.0) -> bool:
    """Whether a cue should turn the classifier's top intent into `cancel_contract`.

    A declared cancellation (`declares_cancellation`: "ich kündige, euer Service ist ein Witz") wins
    over a complaint, fault report, bill or contract question, plan change or contentless intent,
    provided the classifier ranks a cancellation intent at all and gives the cancellation intents
    together at least `min_declared`.

    Only when the top intent is not already a cancellation. A strong cue wins over an intent that
    says nothing about the concern (greeting, date, rating, out of scope); over a content intent
    (complaint, contract question, plan change) only when `cancel_contract` is ranked close behind,
    within `max_gap` of the top confidence. The bare word "kündigen" only wins over contentless
    intents (`CONTENTLESS_FOR_WORD`), so notice-period questions stay `ask_contract`.
    """
    if not ranking or ranking[0].name in (CANCEL, "cancel_now") or is_foreign_cancellation(text):
        return False  # nothing to do, or cancelling the flat, a club, an insurance: not the company's
    top = ranking[0]
    evidence = cancellation_evidence(ranking)  # 0 when no cancellation intent is ranked at all
    if top.name in OVERRULED_BY_DECLARATION and evidence > 0 and evidence >= min_declared \
            and declares_cancellation(text):
        return True
    if has_strong_cue(text):
        if top.name in CONTENTLESS:
            return True
        cancel = next((r for r in ranking if r.name == CANCEL), None)
        return cancel is not None and top.confidence - cancel.confidence <= max_gap
    return top.name in CONTENTLESS_FOR_WORD and has_cancel_word(text)


# Below this confidence, a top `cancel_contract` without a word of cancelling is not trusted on its own.
UNSURE_CANCEL_BELOW = 0.6
# What an unsure, wordless cancellation gives way to: a concrete request the message may be instead.
CONCRETE_INTENTS = frozenset({"report_problem", "pause_contract", "change_plan", "greet",
                              "state_cancellation_details", "ask_bill", "ask_contract"})


def unworded_cancellation(text: str, ranking: Sequence[RankedIntent], *, max_gap: float) -> str | None:
    """The intent to put first instead of an unsure top `cancel_contract` (below `UNSURE_CANCEL_BELOW`)
    when the text has no cancellation wording at all (no "kündigen", no leaving cue, no declaration) and a
    concrete request is ranked second within `max_gap`, and no reason for leaving is stated: the classifier leaned on words that also occur in
    cancellations ("Strom weg", "auf Eis legen"). A complaint is not among them, so a wordless angry
    message stays a cancellation; otherwise None."""
    if len(ranking) < 2 or ranking[0].name != CANCEL or ranking[0].confidence >= UNSURE_CANCEL_BELOW:
        return None
    second = ranking[1]
    if second.name not in CONCRETE_INTENTS or ranking[0].confidence - second.confidence > max_gap:
        return None
    if has_cancel_word(text) or has_strong_cue(text) or declares_cancellation(text):
        return None
    if detect_reason(text) is not None:
        return None  # a reason for leaving (moving, a competitor, not using it) makes it an indirect cancellation
    return second.name


def confirmed_cancellation(text: str, ranking: Sequence[RankedIntent]) -> bool:
    """Whether a top cancellation intent is confirmed by the words of the message (a declared cancellation
    or a strong leaving cue): then the cue counts as evidence on top of the classifier's, as when it
    overrules another intent, so that a cancellation the classifier ranks first but spreads thin
    ("wie werde ich euch wieder los?": cancellation 0.34, complaint 0.31) is not taken for a misunderstanding."""
    if len(ranking) < 2 or ranking[0].name not in (CANCEL, "cancel_now") or is_foreign_cancellation(text):
        return False
    return has_strong_cue(text) or declares_cancellation(text)


# How close a complaint and a fault report must be for the stated fault to decide.
FAULT_OR_COMPLAINT_GAP = 0.2


def fault_over_complaint(text: str, ranking: Sequence[RankedIntent]) -> bool:
    """Whether an angry message that the classifier finds as much a complaint as a fault report (within
    `FAULT_OR_COMPLAINT_GAP`) is a fault report: it states a technical fault ("schon wieder kein Internet,
    eine Frechheit"), which needs the troubleshooting answer; the anger is acknowledged there too."""
    if len(ranking) < 2 or {ranking[0].name, ranking[1].name} != {"complain", "report_problem"}:
        return False
    if ranking[0].name == "report_problem" or ranking[0].confidence - ranking[1].confidence > FAULT_OR_COMPLAINT_GAP:
        return False
    return detect_reason(text) == "technical"


def foreign_cancellation(text: str, ranking: Sequence[RankedIntent]) -> bool:
    """Whether a top `cancel_contract` is about cancelling something that is not the company's (the flat
    with the landlord, a club, an insurance): then the message is out of scope."""
    return bool(ranking) and ranking[0].name == CANCEL and is_foreign_cancellation(text)


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
