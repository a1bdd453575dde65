"""Recognise a cancellation reason in free German text ("viel zu teuer geworden", "ich ziehe nach Spanien").

Rules over a normalised form of the text (lower case, umlauts folded to ae/oe/ue/ss) so that
typed-without-umlauts variants match too. When several reasons appear, the more specific wins:
a competitor's cheaper price is `competitor`, not `price`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

from bot.settings import get_settings

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

# Checked in this order; the first reason with a matching pattern wins.
_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("competitor", (
        r"konkurren", r"andere[nr]? anbieter", r"wechsl?e\w* den anbieter", r"anbieter (?:zu )?wechseln", r"anbieter ?wechsel", r"wechsel\w* (?:zu|zur|zum) ",
        r"besseres? angebot", r"guenstiger(?:es)? angebot", r"\bbei (?:der|einem|anderen) \w+ zahl",
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


# Words around a competitor's name that make an everyday word ("blau") a provider: a switch or a
# comparison right before it, a ".de" right after it.
_PROVIDER_BEFORE = r"(?:\b(?:zu|zur|zum|bei|von|nach|mit|wie|als|gegen|vertrag bei|kunde bei|kundin bei)\s+)"
_PROVIDER_AFTER = r"(?:\.de\b|\s+(?:ist|sind|bietet|hat|gibt|verlangt|kostet)\b[^.!?]*?\b(?:guenstiger|billiger|"
_PROVIDER_AFTER += r"besser\w*|angebot\w*|tarif\w*|preis\w*|euro|daten\w*|gb|netz)\b|\s*-?\s*(?:tarif|vertrag|angebot|kunde))"
# Words that put a capitalised everyday word into a provider context anywhere in the message.
_PROVIDER_CONTEXT = re.compile(r"\b(?:anbieter\w*|tarif\w*|wechsel\w*|wechsl\w*|vertrag\w*|angebot\w*|"
                               r"guenstiger|billiger|netzbetreiber|provider|mobilfunk\w*|handyvertrag\w*)\b")


@dataclass(frozen=True)
class Competitors:
    """Which names count as competitors: `names` always, `common_words` only in a provider context,
    `own_names` (the company's own) never."""

    names: tuple[str, ...]
    common_words: tuple[str, ...] = ()
    own_names: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls) -> Competitors:
        """As configured now (COMPETITORS, COMPETITORS_COMMON_WORDS, COMPANY_NAME); read once per configuration."""
        return _configured(*(os.environ.get(name) for name in _SETTINGS_NAMES))


_SETTINGS_NAMES = ("COMPETITORS", "COMPETITORS_COMMON_WORDS", "COMPANY_NAME")


@lru_cache(maxsize=4)
def _configured(*_values: str | None) -> Competitors:
    settings = get_settings()
    return Competitors(names=settings.competitors, common_words=settings.competitors_common_words,
                       own_names=(settings.company_name,))


def _name_pattern(name: str) -> str:
    """A name as a folded pattern on word boundaries: "Aldi Talk" also as "alditalk", "1&1" as "1 & 1"."""
    parts = [re.escape(part) for part in re.split(r"[\s-]+", fold(name)) if part]
    body = r"[\s-]?".join(parts).replace(r"\&", r"\s?&\s?")
    return rf"(?<![\w&]){body}(?![\w&])"


@lru_cache(maxsize=16)
def _compile(competitors: Competitors) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None,
                                                re.Pattern[str] | None, tuple[str, ...]]:
    common = {fold(name) for name in competitors.common_words}
    plain = [_name_pattern(n) for n in competitors.names if fold(n) not in common]
    words = [_name_pattern(n) for n in competitors.names if fold(n) in common]
    own = [_name_pattern(n) for n in competitors.own_names if n.strip()]
    # The own name reaches over a hyphenated compound ("Nordstern-Telekom-Vertrag").
    own_pattern = re.compile("|".join(rf"{p}(?:-\w+)*" for p in own)) if own else None
    plain_pattern = re.compile("|".join(plain)) if plain else None
    words_pattern = re.compile(rf"{_PROVIDER_BEFORE}(?:{'|'.join(words)})|(?:{'|'.join(words)}){_PROVIDER_AFTER}") \
        if words else None
    return own_pattern, plain_pattern, words_pattern, tuple(sorted(common))


def mentions_competitor(text: str, competitors: Competitors | None = None) -> bool:
    """Whether the text names another provider (never the company itself, an everyday word only as a provider).

    >>> mentions_competitor("Ich wechsle zu blau", Competitors(("Blau",), ("Blau",)))
    True
    >>> mentions_competitor("blau ist meine Lieblingsfarbe", Competitors(("Blau",), ("Blau",)))
    False
    """
    return _names_competitor(fold(text), text, competitors or Competitors.from_settings())


def _names_competitor(folded: str, original: str, competitors: Competitors) -> bool:
    own, plain, words, common = _compile(competitors)
    if own is not None:
        folded = own.sub(" ", folded)
    if plain is not None and plain.search(folded):
        return True
    if words is not None and words.search(folded):
        return True
    # A capitalised everyday word inside a sentence about providers ("Blau hat das bessere Angebot").
    if not common or not _PROVIDER_CONTEXT.search(folded):
        return False
    capitalised = {fold(word) for word in re.findall(r"(?<![\w-])[A-ZÄÖÜ][\w.]*", original)}
    return any(word in capitalised and re.search(_name_pattern(word), folded) for word in common)


def detect_reason(text: str | None, competitors: Competitors | None = None) -> str | None:
    """The cancellation reason the text states, or None when it states none.

    Competitors come from the settings (COMPETITORS, COMPETITORS_COMMON_WORDS, COMPANY_NAME) unless given.
    """
    if not text:
        return None
    competitors = competitors or Competitors.from_settings()
    folded = fold(text)
    for denial in _DENIALS:
        folded = denial.sub(" ", folded)
    if _names_competitor(folded, text, competitors):
        return "competitor"
    own = _compile(competitors)[0]
    if own is not None:
        folded = own.sub(" ", folded)  # "Nordstern Telekom" is neither a competitor nor any other reason
    for reason, patterns in _COMPILED:
        if any(p.search(folded) for p in patterns):
            return reason
    return None
