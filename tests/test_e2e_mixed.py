"""Mixed messages over the REST channel (issue 8, finding 1): a cancellation declared together with a
complaint starts the cancellation, acknowledges the complaint in the same reply and keeps it as the
reason; cancelling the flat with the landlord does not start a cancellation."""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.assistant.mixed_messages import ACKNOWLEDGEMENTS
from bot.records.database import transaction
from bot.records.models import Cancellation, Customer
from tests.servers import RunningAssistant
from tests.test_e2e_conversation import Chat

pytestmark = pytest.mark.e2e

COMPLAINT_REPLY_START = "Das tut mir leid, und ich verstehe Ihren Ärger"


@pytest.mark.parametrize(("text", "number", "postcode"), [
    ("ich kündige, euer kundenservice ist ein witz, keine antwort auf 4 mails", "K100001", "10115"),
    ("Ich will kündigen. Eure Hotline hat mich jetzt dreimal abgewimmelt und keiner ruft zurück.", "K100003",
     "50667"),
])
async def test_a_cancellation_with_a_complaint_is_acknowledged_and_cancelled(
        text: str, number: str, postcode: str, assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    first = await chat.say(text)
    reply = Chat.text(first)
    assert ACKNOWLEDGEMENTS["service"] in reply, "the complaint is acknowledged in the same reply"
    assert COMPLAINT_REPLY_START not in reply, "answered as a cancellation, not as a complaint"
    # the complaint is the reason, so the cancellation goes straight on to the identification
    assert "Für die Kündigung" in reply and "Kundennummer" in reply
    await chat.say(number)
    step = await chat.say(postcode)
    if "/cancel_now" in Chat.buttons(step):  # an offer first: declining it and cancelling is one click
        await chat.say("/cancel_now")
    with transaction(assistant.database_url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == number)).one()
        cancellation = session.scalars(select(Cancellation).where(
            Cancellation.customer_id == customer.id).order_by(Cancellation.id.desc())).first()
        assert cancellation is not None and cancellation.reason == "service"


async def test_cancelling_the_flat_with_the_landlord_does_not_start_a_cancellation(
        assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    chat = Chat(client, assistant)
    reply = await chat.say("Wie kündige ich meinen Mietvertrag bei meinem Vermieter?")
    assert "Dabei kann ich Ihnen leider nicht helfen" in Chat.text(reply)
    assert "Kundennummer" not in Chat.text(reply) and "/cancel_now" not in Chat.buttons(reply)
