"""Recognise a cancellation reason in free German text ("viel zu teuer geworden", "ich ziehe nach Spanien").

Rules over a normalised form of the text (lower case, umlauts folded to ae/oe/ue/ss) so that
typed-without-umlauts variants match too. When several reasons appear, the more specific wins:
a competitor's cheaper price is `competitor`, not `price`.
"""
from __future__ import annotations

import re

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

# Checked in this order; the first reason with a matching pattern wins.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("competitor", (
        r"konkurren", r"andere[nr]? anbieter", r"wechsl?e\w* den anbieter", r"anbieter (?:zu )?wechseln", r"anbieter ?wechsel", r"wechsel\w* (?:zu|zur|zum) ",
        r"besseres? angebot", r"guenstiger(?:es)? angebot", r"telekom", r"vodafone", r"\bo2\b", r"1\s?&\s?1",
        r"congstar", r"aldi ?talk", r"\bblau\b", r"winsim", r"freenet", r"\bbei (?:der|einem|anderen) \w+ zahl",
        r"(?<!wohne )(?<!wohne jetzt )woanders", r"anderswo",
    )),
    ("moving", (
        r"\bumz(?:ug|ieh)", r"\bzieh\w*\b.*\b(?:nach|um|weg|aus)\b", r"\b(?:nach|ins|in die|in den)\b.*\bzieh", r"ausland", r"auswander", r"neue wohnung",
        r"wohnortwechsel", r"\bnach \w+ gezogen", r"weggezogen", r"\bwander\w* .*\baus\b", r"wohne \w* ?woanders", r"neuen wohnort", r"\bzieh\w* um\b", r"ausgezogen", r"\bumgezogen",
    )),
    ("not_using", (
        r"\b(?:nutze|benutze|brauche|verwende|nutz|brauch)\w* (?:\w+ )?(?:ihn |es |das |den |die )?"
        r"(?:kaum|nie|selten|nicht mehr|gar nicht|eh nicht|fast nie|nicht)\b",
        r"\bkaum (?:ge|be)?nutz", r"\bnicht (?:mehr )?(?:ge|be)?(?:nutzt|braucht)", r"\bkein bedarf",
        r"\bbrauch\w* (?:ich )?(?:keinen|keine|kein)\b", r"\bueberfluessig", r"\bunnoetig", r"\bungenutzt",
        r"zu selten", r"lohnt sich nicht", r"kein\w* bedarf",
        r"\b(?:nutze|benutze|verwende)\w* (?:\w+ ){0,3}(?:kaum|nie|selten|fast nie|nicht mehr|gar nicht)\b",
    )),
    ("technical", (
        r"kein(?:en)? (?:netz|empfang|internet|signal)", r"stoerung", r"ausfall", r"faellt (?:staendig |oft |dauernd |immer )?aus",
        r"funktionier\w* nicht", r"geht nicht", r"langsam", r"abbrue?ch", r"bricht \w*\s?ab", r"router", r"\bwlan\b",
        r"\bwifi\b", r"\bverbindung", r"funkl(?:och|oecher)", r"\bnetz\w*\b.*schlecht", r"schlecht\w* netz", r"technisch", r"\bmbit", r"drosse",
        r"\bempfang\b",
    )),
    ("service", (
        r"service", r"hotline", r"unfreundlich", r"niemand (?:ruft|meldet|antwortet|hilft)", r"keine antwort",
        r"\bwarte\w* seit", r"beratung", r"betreuung", r"kundenbetreuung", r"mitarbeiter\w* (?:sind|war)",
        r"nicht erreichbar", r"warteschleife", r"ignorier",
    )),
    ("price", (
        r"\bteuer", r"\bpreis", r"\bkoste(?:n|t)\b", r"\bzu viel\b", r"\bgeld\b", r"leisten", r"guenstiger", r"billiger",
        r"\bspar", r"\bzahl\w* zu\b", r"\bbeitrag", r"\bgebuehr", r"rechnung\w* (?:\w+ ){0,2}(?:zu|viel zu) hoch", r"\beuro\b",
        r"\bcent\b", r"\d+\s?(?:€|eur)",
    )),
    ("other", (
        r"anderer grund", r"sonstig", r"persoenlich\w* gruende", r"private[n]? gruende", r"keine angabe",
        r"moechte ich nicht sagen", r"\bverstorben", r"todesfall",
    )),
)

_COMPILED = tuple((reason, tuple(re.compile(p) for p in patterns)) for reason, patterns in _RULES)

# Phrases that rule a reason out ("ich ziehe nicht um", "nicht wegen des Preises", "der Preis ist nicht das
# Problem") are cut from the text before the rules run, so that the reason stated next to them counts.
# Each reaches at most to the end of its clause.
_DENIALS = tuple(re.compile(p) for p in (
    r"\bnicht (?:wegen|weil|aufgrund|am)\b[^,.;!?]*",
    r"\bkein(?:e|en)? (?:umzug|wechsel)\b",
    r"\bzieh\w* (?:ja |auch |doch )?nicht (?:\w+ )?(?:um|weg|aus)\b",
    r"\bwechsl?e\w* (?:ja |auch |doch )?nicht (?:zu|zur|zum|den) \w+",
    r"\bnicht zu teuer\b",
    r"[^,.;!?]*\b(?:ist|sind|war|waren) (?:es |das )?(?:nicht|kein) (?:das |der )?(?:problem|grund)\b",
))


def fold(text: str) -> str:
    """Lower case with umlauts and ß folded, whitespace collapsed."""
    return re.sub(r"\s+", " ", text.lower().translate(_FOLD)).strip()


def detect_reason(text: str | None) -> str | None:
    """The cancellation reason the text states, or None when it states none."""
    if not text:
        return None
    folded = fold(text)
    for denial in _DENIALS:
        folded = denial.sub(" ", folded)
    for reason, patterns in _COMPILED:
        if any(p.search(folded) for p in patterns):
            return reason
    return None
