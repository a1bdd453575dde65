"""Competitor names come from the configuration; the company's own name and everyday words are no competitor."""
from __future__ import annotations

import pytest

from bot.nlp.reasons import Competitors, detect_reason, mentions_competitor
from bot.settings import Settings

DEFAULT = Competitors(names=Settings().competitors, common_words=Settings().competitors_common_words,
                      own_names=(Settings().company_name,))


@pytest.mark.parametrize(("text", "expected"), [
    # the company's own name contains "Telekom" but is not a competitor
    ("Ich möchte meinen Nordstern Telekom Vertrag kündigen", None),
    ("Ich möchte meinen Nordstern-Telekom-Vertrag kündigen", None),
    ("nordstern telekom ist mir zu teuer", "price"),
    # "blau" the colour (or the state) is no provider
    ("blau ist meine Lieblingsfarbe", None),
    ("Blau ist meine Lieblingsfarbe", None),
    ("Mein Vertrag ist blau markiert", None),
    ("Ich war gestern blau", None),
    ("Der Router leuchtet blau und geht nicht", "technical"),
    # blau the provider: a switch, a comparison, the domain, a capitalised name next to tariff words
    ("ich wechsle zu blau", "competitor"),
    ("Bei Blau ist es billiger", "competitor"),
    ("blau.de hat die besseren Tarife", "competitor"),
    ("Blau hat mir ein besseres Angebot gemacht", "competitor"),
    ("Der Tarif von blau kostet 10 Euro", "competitor"),
    # the other names on word boundaries
    ("Ich gehe zur Telekom", "competitor"),
    ("Bei 1 & 1 ist es billiger", "competitor"),
    ("Ich gehe zu o2", "competitor"),
    ("Meine Frau hat mo2tor gesagt", None),
    ("AldiTalk ist billiger", "competitor"),
    # a denied switch does not count
    ("ich wechsle nicht zu O2, es ist einfach zu teuer", "price"),
])
def test_competitor_reason_with_the_default_configuration(text: str, expected: str | None) -> None:
    assert detect_reason(text, DEFAULT) == expected


def test_competitors_and_the_company_name_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({"COMPETITORS": "Funkwerk, Netz Plus", "COMPANY_NAME": "Blitz Mobil"})
    assert settings.competitors == ("Funkwerk", "Netz Plus")
    monkeypatch.setenv("COMPETITORS", "Funkwerk, Netz Plus, Mobil")
    monkeypatch.setenv("COMPANY_NAME", "Blitz Mobil")
    assert detect_reason("Ich wechsle zu Netz Plus") == "competitor"
    assert detect_reason("Bei Funkwerk zahle ich weniger") == "competitor"
    assert detect_reason("Ich möchte meinen Blitz Mobil Vertrag kündigen") is None, "the own name is excluded"
    assert detect_reason("Ich gehe zur Telekom") is None, "only the configured names count"


def test_common_words_are_configurable() -> None:
    competitors = Competitors(names=("Blau", "Vodafone"), common_words=())
    assert mentions_competitor("blau ist meine Lieblingsfarbe", competitors), "configured as a plain name"
    competitors = Competitors(names=("Blau", "Vodafone"), common_words=("blau",))
    assert not mentions_competitor("blau ist meine Lieblingsfarbe", competitors)
