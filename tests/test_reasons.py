"""detect_reason: free German text -> one canonical cancellation reason (or None)."""
from __future__ import annotations

import pytest

from bot.nlp.reasons import detect_reason, fold
from bot.retention.offers import REASONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # price
        ("zu teuer", "price"),
        ("ZU TEUER!!!", "price"),
        ("viel zu teuer geworden", "price"),
        ("Das ist mir einfach zu teuer.", "price"),
        ("Die Preiserhöhung ist eine Frechheit", "price"),
        ("Die Preiserhoehung ist eine Frechheit", "price"),
        ("Ich kann mir das nicht mehr leisten", "price"),
        ("Die monatlichen Kosten sind zu hoch", "price"),
        ("Ich zahle zu viel für das bisschen Datenvolumen", "price"),
        ("Ich muss Geld sparen", "price"),
        ("45 € im Monat sind zu viel", "price"),
        ("Der Preis ist zu hoch", "price"),
        # competitor (more specific than price, even when the text also talks about money)
        ("bei der Konkurrenz zahle ich die Hälfte", "competitor"),
        ("bei der Konkurrenz zahle ich die Haelfte", "competitor"),
        ("wechsle zu Vodafone", "competitor"),
        ("Ich gehe zur Telekom", "competitor"),
        ("Ich habe ein besseres Angebot bekommen", "competitor"),
        ("O2 ist günstiger", "competitor"),
        ("Bei der Telekom ist es guenstiger", "competitor"),
        ("Bei 1&1 bekomme ich mehr Datenvolumen", "competitor"),
        ("Bei congstar zahle ich weniger", "competitor"),
        ("Aldi Talk ist billiger", "competitor"),
        ("Ich wechsle zu O2", "competitor"),
        ("Ich gehe zu einem anderen Anbieter", "competitor"),
        ("Ich bekomme woanders mehr für weniger Geld", "competitor"),
        # moving
        ("ich ziehe nach Spanien", "moving"),
        ("Ich ziehe um", "moving"),
        ("Wir ziehen ins Ausland", "moving"),
        ("Ich ziehe um und am neuen Wohnort gibt es kein Glasfaser", "moving"),
        ("Kündigung wegen Umzug", "moving"),
        ("Kuendigung wegen Umzug", "moving"),
        ("Ich bin umgezogen", "moving"),
        ("Ich bin ausgezogen", "moving"),
        # not_using
        ("nutze ich kaum", "not_using"),
        ("Ich brauche das nicht mehr", "not_using"),
        ("Mobilfunk brauche ich nicht mehr", "not_using"),
        ("Ich brauche keinen Handyvertrag mehr", "not_using"),
        ("Das Festnetz wird kaum genutzt", "not_using"),
        ("Der Tarif ist überflüssig geworden", "not_using"),
        ("Der Vertrag ist ueberfluessig", "not_using"),
        ("Das lohnt sich nicht", "not_using"),
        # technical
        ("schon wieder kein Netz", "technical"),
        ("Ständig Störungen", "technical"),
        ("Stoerung seit Tagen", "technical"),
        ("Das Internet fällt ständig aus", "technical"),
        ("Das Internet faellt staendig aus", "technical"),
        ("Das Internet ist viel zu langsam", "technical"),
        ("Die Verbindung bricht dauernd ab", "technical"),
        ("Der Router funktioniert nicht", "technical"),
        ("Im Keller habe ich keinen Empfang", "technical"),
        ("Das Netz ist hier richtig schlecht", "technical"),
        ("Das WLAN ist eine Katastrophe", "technical"),
        # service
        ("Ihr Kundenservice ist unterirdisch", "service"),
        ("Die Hotline ist nie erreichbar", "service"),
        ("Ihre Mitarbeiter sind unfreundlich", "service"),
        ("Ich hänge stundenlang in der Warteschleife", "service"),
        ("Ich haenge stundenlang in der Warteschleife", "service"),
        ("Niemand ruft mich zurück", "service"),
        ("Ich warte seit drei Wochen auf eine Antwort", "service"),
        ("Ich bin mit dem Service unzufrieden", "service"),
        # other
        ("Persönliche Gründe", "other"),
        ("Persoenliche Gruende", "other"),
        ("Das möchte ich nicht sagen", "other"),
        ("Keine Angabe", "other"),
        ("Sonstiges", "other"),
        ("Mein Mann ist verstorben", "other"),
    ],
)
def test_detect_reason(text: str, expected: str) -> None:
    assert detect_reason(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Ich möchte kündigen",
        "Ich moechte kuendigen",
        "Hallo",
        "",
        "   ",
        "Ich möchte meinen Vertrag kündigen",
        "Guten Tag, ich will meinen Handyvertrag beenden",
        "Kündigung zum nächstmöglichen Zeitpunkt",
        "Wann endet mein Vertrag?",
        "Ich möchte mit einem Mitarbeiter sprechen",
        "Ja",
        "Nein danke",
        "Danke, tschüss",
        "K123456",
        "10115",
        "12.04.1985",
    ],
)
def test_no_reason_stated(text: str) -> None:
    assert detect_reason(text) is None


def test_none_text() -> None:
    assert detect_reason(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bei Vodafone ist es billiger", "competitor"),  # not price
        ("Bei der Konkurrenz ist es nicht so teuer", "competitor"),
        ("Ich ziehe um, zu teuer ist es auch", "moving"),  # not price
        ("Ich nutze es kaum, dafür ist es zu teuer", "not_using"),
    ],
)
def test_more_specific_reason_wins(text: str, expected: str) -> None:
    assert detect_reason(text) == expected


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Zu   TEUER  ", "zu teuer"),
        ("Ärger über Störungen", "aerger ueber stoerungen"),
        ("Straße\tgrößer", "strasse groesser"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    "text",
    ["zu teuer", "wechsle zu Vodafone", "ich ziehe nach Spanien", "nutze ich kaum", "schon wieder kein Netz",
     "Ihr Kundenservice ist unterirdisch", "Persönliche Gründe"],
)
def test_result_is_a_canonical_reason_in_any_case(text: str) -> None:
    result = detect_reason(text)
    assert result in REASONS
    assert detect_reason(text.upper()) == result
    assert detect_reason(f"  {text}\n") == result


def _regression(text: str, expected: str | None, got: str | None, why: str) -> object:
    """A misclassification that was fixed; kept so that it stays fixed."""
    return pytest.param(text, expected, id=text)


def _bug(text: str, expected: str | None, got: str | None, why: str) -> object:
    return pytest.param(text, expected, id=text, marks=pytest.mark.xfail(
        strict=True, reason=f"BUG: detect_reason({text!r}) returns {got!r}, should be {expected!r}: {why}"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        _regression("Ein anderer Anbieter bietet mir mehr", "competitor", None,
             r"the pattern 'anderen? anbieter' misses the nominative 'anderer Anbieter'"),
        _regression("Ein anderer Anbieter ist günstiger", "competitor", "price",
             r"'anderer Anbieter' is not recognised, so the price word wins"),
        _regression("Ich wechsle den Anbieter", "competitor", None,
             r"only 'anbieterwechsel'/'anbieter wechsel' and 'wechsel.. zu' are patterns"),
        _regression("Die Rechnung ist viel zu hoch", "price", None,
             r"'rechnung\w* (?:zu|viel zu) hoch' does not allow the verb 'ist' in between"),
        _regression("Ich nutze den Vertrag kaum", "not_using", None,
             "the not_using pattern allows only one word between the verb and 'kaum' ('den Vertrag' is two)"),
        _regression("Ich nutze das Handy fast nie", "not_using", None,
             "same: an article plus a noun between verb and 'fast nie' is not matched"),
        _regression("Ich habe keinen Bedarf mehr", "not_using", None, r"'\bkein bedarf' misses 'keinen Bedarf'"),
        _regression("Ich bin nach München gezogen", "moving", None,
             r"the participle 'gezogen' is not matched (only 'umgezogen'/'ausgezogen')"),
        _regression("Ich bin weggezogen", "moving", None, "'weggezogen' is not matched"),
        _regression("Ich wandere nach Kanada aus", "moving", None,
             "'auswander' only matches the joined form, not the separable verb 'wandere ... aus'"),
        _regression("Ich wohne jetzt woanders", "moving", "competitor",
             "'woanders' is a competitor pattern, checked before moving"),
        _regression("Aus privaten Gründen", "other", None, r"'private? gruende' misses the dative 'privaten Gründen'"),
        _regression("Ich habe ständig Funklöcher", "technical", None, "'Funkloch' is not a technical pattern"),
        _regression("Nein, ich ziehe nicht um, es ist einfach zu teuer", "price", "moving",
             "negation is ignored: 'ziehe nicht um' matches the moving rule, which is checked before price"),
        _regression("ich ziehe nicht um, es ist zu teuer", "price", "moving", "same, without 'Nein'"),
        _regression("nicht wegen des Preises, der Service ist schlecht", "service", "service",
             "the denied price must not take over from the service complaint"),
        _regression("Nicht wegen des Service, sondern weil es zu teuer ist", "price", "service",
             "'nicht wegen' denies the service; the price is the reason"),
        _regression("Es liegt nicht am Preis, das Netz ist zu schlecht", "technical", "technical",
             "the denied price must not take over from the network complaint"),
        _regression("Der Preis ist nicht das Problem, sondern die Hotline", "service", "service",
             "the denied price must not take over from the hotline complaint"),
        _regression("Kein Umzug, es ist mir einfach zu teuer", "price", "moving", "'kein Umzug' denies moving"),
        _regression("Ich wechsle nicht zur Konkurrenz, ich nutze es einfach kaum", "not_using", "competitor",
             "'wechsle nicht zur' denies the competitor"),
        _regression("Es ist nicht zu teuer, aber ich ziehe nach Hamburg", "moving", "moving",
             "'nicht zu teuer' denies the price"),
        _regression("Das Angebot ist nicht zu teuer", None, "price", "'nicht zu teuer' states no reason"),
        _regression("Ich ziehe nicht um", None, "moving", "a denied reason alone states no reason"),
        # false positives: these state no reason at all (the NLU extractor runs on every message)
        _regression("Bitte schicken Sie mir eine Empfangsbestätigung", None, "technical",
             "the substring 'empfang' in 'Empfangsbestätigung' triggers technical"),
        _regression("Meine Bankverbindung hat sich geändert", None, "technical",
             "the substring 'verbindung' in 'Bankverbindung' triggers technical"),
        _regression("Ist die Kündigung kostenlos?", None, "price", "the substring 'kosten' in 'kostenlos' triggers price"),
    ],
)
def test_known_misclassifications(text: str, expected: str | None) -> None:
    assert detect_reason(text) == expected
