"""Plain logic behind the conversation-quality fixes of issue 8 (§§ 4–6)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from actions.dissatisfaction import (
    ACKNOWLEDGE,
    ACKNOWLEDGE_PROBLEM,
    ACKNOWLEDGE_PROBLEM_DEFAULT,
    HUMAN_OFFERED,
    acknowledgement,
    chose_to_cancel,
    problem_acknowledgement,
)
from bot.assistant.dissatisfaction import Message
from bot.cli import address_block, service_environment
from bot.nlp.vocabulary import Vocabulary
from bot.settings import PROJECT_ROOT, Settings


@pytest.mark.parametrize(("intent", "offer_pending", "expected"), [
    ("cancel_now", False, True),
    ("cancel_now", True, True),
    ("deny", True, True),  # no to the offer
    ("cancel_contract", True, True),  # asking to cancel again after the offer
    ("deny", False, False),
    ("cancel_contract", False, False),  # the reason question comes next, not the confirmation
    ("complain", True, False),
])
def test_the_decision_to_cancel(intent: str, offer_pending: bool, expected: bool) -> None:
    assert chose_to_cancel(intent, offer_pending) is expected


@pytest.mark.parametrize(("intent", "offer_pending"), [("cancel_now", False), ("deny", True), ("cancel_now", True)])
def test_nothing_stands_between_the_decision_and_the_confirmation(intent: str, offer_pending: bool) -> None:
    assert acknowledgement(score=0.9, acknowledged=None, high_value=True, intent=intent,
                           offer_pending=offer_pending) == (None, None), "and the acknowledgement stays due"
    assert acknowledgement(score=0.6, acknowledged=None, high_value=False, intent="ask_bill",
                           offer_pending=offer_pending) == (HUMAN_OFFERED, ACKNOWLEDGE)


@pytest.mark.parametrize(("message", "already", "expected"), [
    (Message(intent="report_problem", sentiment="negative", sentiment_confidence=0.99), False,
     ACKNOWLEDGE_PROBLEM["report_problem"]),
    (Message(intent="ask_bill", sentiment="negative", sentiment_confidence=0.9), False, ACKNOWLEDGE_PROBLEM["ask_bill"]),
    (Message(intent="change_plan", sentiment="negative", sentiment_confidence=0.9), False,
     ACKNOWLEDGE_PROBLEM_DEFAULT),
    (Message(intent="report_problem", sentiment="negative", sentiment_confidence=0.99), True, None),  # once
    (Message(intent="report_problem", sentiment="neutral", sentiment_confidence=0.99), False, None),  # calm
    (Message(intent="report_problem", sentiment="negative", sentiment_confidence=0.4), False, None),  # unsure
    (Message(intent="complain", sentiment="negative", sentiment_confidence=0.99), False, None),  # says sorry itself
    (Message(intent="cancel_now", sentiment="negative", sentiment_confidence=0.99), False, None),
])
def test_an_angry_request_is_acknowledged_once(message: Message, already: bool, expected: object) -> None:
    assert problem_acknowledgement(message, already_acknowledged=already) == expected


VOCABULARY = Vocabulary.from_texts(["Ich möchte meinen Vertrag kündigen", "Hallo", "Meine Rechnung ist zu hoch",
                                    "Das Internet geht nicht"])


@pytest.mark.parametrize(("text", "not_understood"), [
    ("zmpf grrk trlala", True),
    ("asdf jklö qwer", True),
    ("hallo leute", False),
    ("zmpf", None),  # a single word is left to the classifier
    ("ich kündigte meinen Vertrag", False),  # "kündigte" through "kündigen"
    ("Rechnung zmpf", False),  # half the words known
    ("zmpf grrk Rechnung trlala", True),  # a quarter known
    ("K123456", None),  # digits: a customer number, a postcode, a date are not judged
    ("anna@example.de", None),
    ('/rate{"rating":5}', None),
    ("🙂", None),
])
def test_messages_in_no_known_words_are_not_understood(text: str, not_understood: bool | None) -> None:
    share = VOCABULARY.known_share(text)
    if not_understood is None:
        assert share is None
    else:
        assert VOCABULARY.not_understood(text, 0.34) is not_understood


def test_the_vocabulary_survives_being_stored() -> None:
    assert Vocabulary.from_list(VOCABULARY.as_list()) == VOCABULARY


def test_the_servers_get_quiet_third_party_warnings(tmp_path) -> None:
    settings = Settings.from_env({"SECRETS_FILE": str(tmp_path / "secrets.env")})
    env = service_environment({"PATH": "/usr/bin"}, settings, rasa_port=5005)
    assert "ignore::DeprecationWarning" in env["PYTHONWARNINGS"]
    kept = service_environment({"PYTHONWARNINGS": "default"}, settings, rasa_port=5005)
    assert kept["PYTHONWARNINGS"] == "default", "an operator's own setting wins"
    # The servers' start (as bot.rasa_server does it) then says nothing about deprecations.
    start = ("from bot.quiet_warnings import SANIC, quiet_third_party_warnings; "
             "quiet_third_party_warnings(preload=SANIC); import bot.rasa_server; bot.rasa_server.install(); "
             "import rasa.core.agent, rasa.core.tracker_store, sqlalchemy, pyparsing")
    probe = subprocess.run([sys.executable, "-c", start],
                           cwd=PROJECT_ROOT, env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                           timeout=300)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert "DeprecationWarning" not in probe.stderr and "FutureWarning" not in probe.stderr, probe.stderr[-2000:]


def test_the_addresses_are_printed_together() -> None:
    block = address_block(Settings(), rasa_port=5005, action_port=5055)
    assert "http://127.0.0.1:8000/" in block and "http://127.0.0.1:5005/webhooks/rest/webhook" in block
    assert "http://127.0.0.1:5055/health" in block and "ready" in block
