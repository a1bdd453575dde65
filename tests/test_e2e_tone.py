"""Conversation quality over the REST channel against the running Rasa and action servers (issue 8, §§ 4–6):
the reason is taken only when cancellation is in play, nonsense reaches the misunderstanding path,
an angry first message is acknowledged, the decision to cancel is confirmed with nothing in between,
and a normal conversation leaves no ERROR and no personal data in Rasa's log.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actions.conversation import OFFER_HUMAN_AFTER_MISUNDERSTANDING
from actions.dissatisfaction import ACKNOWLEDGE, ACKNOWLEDGE_PROBLEM, ACKNOWLEDGE_WITH_PRIORITY
from tests.servers import RunningAssistant, running_assistant, seeded_records
from tests.test_e2e_conversation import Chat

pytestmark = pytest.mark.e2e

REASON_BUTTON = '/cancel_contract{"cancellation_reason":"price"}'


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tone")


@pytest.fixture(scope="module")
def assistant(workdir: Path) -> Iterator[RunningAssistant]:
    with running_assistant(seeded_records(workdir), workdir, web_app=False) as running:
        yield running


async def test_a_price_complaint_without_cancellation_is_no_cancellation_reason(assistant: RunningAssistant,
                                                                                client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    await chat.say("Die Rechnung ist zu teuer")
    cancelling = await chat.say("Ich möchte meinen Vertrag kündigen")
    assert REASON_BUTTON in Chat.buttons(cancelling), \
        "the reason is asked: the earlier complaint about the bill was no cancellation reason"


async def test_the_reason_in_the_cancellation_message_is_taken(assistant: RunningAssistant,
                                                               client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    cancelling = await chat.say("Ich kündige, das ist mir viel zu teuer")
    assert REASON_BUTTON not in Chat.buttons(cancelling) and "Kundennummer" in Chat.text(cancelling)


async def test_the_own_company_name_leads_to_no_price_match(assistant: RunningAssistant,
                                                           client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    cancelling = await chat.say("Ich möchte meinen Nordstern Telekom Vertrag kündigen")
    assert REASON_BUTTON in Chat.buttons(cancelling), "no reason (competitor) is read from the company's own name"


async def test_two_nonsense_messages_reach_the_offer_of_a_human(assistant: RunningAssistant,
                                                                client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    first = await chat.say("zmpf grrk trlala")
    assert "nicht verstanden" in Chat.text(first) and "Guten Tag" not in Chat.text(first), "no greeting"
    second = await chat.say("qwrtz plonk frzzl")
    assert OFFER_HUMAN_AFTER_MISUNDERSTANDING.text in Chat.text(second)
    assert "/request_human" in Chat.buttons(second)
    intents = [m["parse_data"]["intent"]["name"] for m in assistant.stored_user_messages(chat.sender)]
    assert intents == ["nlu_fallback", "nlu_fallback"]


async def test_an_angry_first_message_is_acknowledged_before_the_identification(
        assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    reply = await chat.say("Das ist eine Frechheit, schon wieder seit drei Tagen kein Internet!!!")
    texts = [m.get("text", "") for m in reply]
    asks = next(i for i, text in enumerate(texts) if "Kundennummer" in text)
    sorry = [i for i, text in enumerate(texts) if "tut mir leid" in text]
    assert sorry and sorry[0] < asks, f"the problem is acknowledged before the identification: {texts}"
    assert ACKNOWLEDGE_PROBLEM["report_problem"].text in texts or ACKNOWLEDGE.text in texts or \
        any("Das tut mir leid" in text for text in texts[:asks])
    # once: the next angry message is not acknowledged again with the same words
    again = await chat.say("Das ist eine Frechheit, schon wieder kein Internet!!!")
    assert ACKNOWLEDGE_PROBLEM["report_problem"].text not in Chat.text(again)


async def test_declining_the_offer_is_confirmed_with_nothing_in_between(assistant: RunningAssistant,
                                                                       client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    # Annoyed enough that the decision to cancel would tip the score over the acknowledgement threshold.
    await chat.say("Ich kündige, das ist mir viel zu teuer")
    await chat.say("K100001")
    offer = await chat.say("10115")
    assert "/accept_offer" in Chat.buttons(offer)
    done = await chat.say("nein danke, einfach kündigen")
    assert "gekündigt" in done[0].get("text", ""), f"the confirmation comes first: {done}"
    assert not any(m.get("text") in (ACKNOWLEDGE.text, ACKNOWLEDGE_WITH_PRIORITY.text) for m in done)
    assert "/request_human" not in Chat.buttons(done), "no human offer between the choice and the confirmation"


async def test_a_normal_conversation_logs_no_error_and_no_personal_data(
        assistant: RunningAssistant, client: httpx.AsyncClient, workdir: Path) -> None:
    chat = Chat(client, assistant)
    await chat.say("Guten Tag")
    reason_question = await chat.say("Ich möchte meinen Vertrag kündigen")
    assert REASON_BUTTON in Chat.buttons(reason_question), "the payloads reach the customer with single braces"
    await chat.say(REASON_BUTTON)
    await chat.say("K100002")
    leaving = Chat(client, assistant)
    await leaving.say("Hallo")
    rating = await leaving.say("tschüss")
    assert '/rate{"rating":5}' in Chat.buttons(rating)
    await leaving.say('/rate{"rating":5}')
    log = (workdir / "rasa.log").read_text(encoding="utf-8")
    errors = [line for line in log.splitlines() if re.search(r"\bERROR\b", line)]
    assert not errors, "\n".join(errors[:5])
    assert "K100002" not in log, "no customer number in the log"
