"""Dissatisfaction over the REST channel against the running Rasa and action servers.

The acknowledgement comes from action_validate_slot_mappings, which Rasa runs after every user
message; Rasa test stories do not run it, so it is checked here, together with the rows left in
the records.
"""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from actions.dissatisfaction import ACKNOWLEDGE, ACKNOWLEDGE_WITH_PRIORITY
from bot.assistant.dissatisfaction import VERY_DISSATISFIED_AT
from bot.records.database import transaction
from bot.records.models import ConversationInsight, Customer, HandoffRequest
from tests.servers import RunningAssistant
from tests.test_e2e_conversation import Chat

pytestmark = pytest.mark.e2e


async def _conversation(chat: Chat, *texts: str) -> list[list[dict]]:
    return [await chat.say(text) for text in texts]


def _count(replies: list[list[dict]], reply_text: str) -> int:
    return sum(m.get("text") == reply_text for reply in replies for m in reply)


async def test_angry_high_value_customer_is_offered_a_human_with_priority(assistant: RunningAssistant,
                                                                         client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    replies = await _conversation(chat, "Schon wieder kein Netz", "K100004", "20095", "Das ist eine Frechheit",
                                  "ich will kündigen", "ständig kein Netz", "Das ist wirklich unverschämt")
    assert _count(replies, ACKNOWLEDGE_WITH_PRIORITY.text) == 1, "the priority offer comes exactly once"
    assert _count(replies, ACKNOWLEDGE.text) <= 1, "the frustration is acknowledged once, not on every message"
    # The fault report before the cancellation was no cancellation reason (issue 8): the reason is asked.
    assert "/cancel_now" in Chat.buttons(replies[4])
    offer = Chat.text(replies[5])
    assert "25,00 €" in offer, "the reason given when asked (technical) decides the offer"

    handoff = await chat.say("/request_human")
    assert "bevorzugt bearbeitet" in Chat.text(handoff)
    with transaction(assistant.database_url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == "K100004")).one()
        request = session.scalars(select(HandoffRequest).where(
            HandoffRequest.conversation_id == chat.sender)).one()
        assert request.priority == "urgent" and request.customer_id == customer.id
        assert request.dissatisfaction >= VERY_DISSATISFIED_AT
        insight = session.scalars(select(ConversationInsight).where(
            ConversationInsight.conversation_id == chat.sender)).one()
        assert insight.customer_id == customer.id and insight.acknowledged
        assert insight.peak_dissatisfaction >= VERY_DISSATISFIED_AT
        assert {"complaint", "cancellation_intent", "open_fault"} <= set(insight.reasons.split(","))


async def test_cancelling_while_identifying_keeps_the_number(assistant: RunningAssistant,
                                                              client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    replies = await _conversation(chat, "Warum ist meine Rechnung so hoch?", "K100001",
                                  "ich will eigentlich kündigen", "zu teuer", "10115")
    assert "/cancel_now" in Chat.buttons(replies[2]), "the cancellation starts with the cancel button"
    after_reason = Chat.text(replies[3])
    assert "Postleitzahl" in after_reason and "zum Beispiel K123456" not in after_reason, \
        "the customer number given before is not asked again"
    offer = Chat.text(replies[4])
    assert "Mobil M" in offer and "Rechnung" not in offer, "the cancellation is served, not the billing question"
    assert "/accept_offer" in Chat.buttons(replies[4])


async def test_the_reason_in_the_cancellation_message_wins(assistant: RunningAssistant,
                                                           client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    replies = await _conversation(chat, "Schon wieder kein Netz", "K100004", "20095",
                                  "Ich kündige, das ist mir viel zu teuer")
    assert "20 % Rabatt" in Chat.text(replies[3]), "price, not the earlier technical reason, decides the offer"


async def test_a_calm_conversation_is_not_acknowledged_and_leaves_no_row(assistant: RunningAssistant,
                                                                        client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    replies = await _conversation(chat, "Guten Tag", "Wann endet mein Vertrag?", "K100001", "10115", "Danke")
    assert _count(replies, ACKNOWLEDGE.text) == 0 and _count(replies, ACKNOWLEDGE_WITH_PRIORITY.text) == 0
    with transaction(assistant.database_url) as session:
        assert session.scalars(select(ConversationInsight).where(
            ConversationInsight.conversation_id == chat.sender)).first() is None
