"""The WhatsApp channel end to end: Meta-shaped, signed webhooks into a real Rasa server (with the action
server and a seeded database), replies to the local Graph API stand-in (tests/standins/whatsapp_graph.py).

A full German cancellation (reason from the list, offer declined, confirmation number and date), forged and
unsigned webhooks refused, a retried webhook processed once, status callbacks recorded, the 24-hour rule, and
an agent's reply (RasaApi.send_agent_message(channel="whatsapp")) reaching the customer.
"""
from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.channels.whatsapp import store
from bot.handoff.messages import record_agent_message
from bot.handoff.rasa_api import RasaApi
from bot.records.database import transaction
from bot.records.models import (
    AgentMessage,
    Cancellation,
    ChannelContact,
    ChannelInboundMessage,
    ChannelOutboundMessage,
    Contract,
    Customer,
    HandoffRequest,
    OfferDecision,
    StaffUser,
)
from bot.retention.dates import effective_cancellation_date
from bot.retention.formatting import german_date
from bot.settings import Settings
from tests.servers import RunningAssistant, running_assistant, seeded_records
from tests.standins.whatsapp_graph import (
    GraphStandIn,
    button_reply,
    list_reply,
    message_webhook,
    new_message_id,
    signed,
    status_webhook,
    text_message,
)

pytestmark = pytest.mark.e2e

APP_SECRET = secrets.token_urlsafe(24)
VERIFY_TOKEN = secrets.token_urlsafe(12)
TEMPLATE = "kundenservice_antwort"


@pytest.fixture(scope="module")
def graph() -> Iterator[GraphStandIn]:
    with GraphStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def assistant(graph: GraphStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir: Path = tmp_path_factory.mktemp("whatsapp")
    env = {"WHATSAPP_ACCESS_TOKEN": graph.access_token, "WHATSAPP_APP_SECRET": APP_SECRET,
           "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_PHONE_NUMBER_ID": graph.phone_number_id,
           "WHATSAPP_API_BASE": graph.base_url, "WHATSAPP_TEMPLATE_NAME": TEMPLATE,
           "WHATSAPP_RETRY_BASE_SECONDS": "0.05", "VERIFICATION_CLIENT_MAX_FAILURES": "1000"}
    with running_assistant(seeded_records(workdir), workdir, web_app=False, rasa_api=True,
                           extra_env=env) as running:
        yield running


@pytest.fixture
async def rasa_api(assistant: RunningAssistant) -> AsyncIterator[RasaApi]:
    settings = Settings.from_env({"RASA_URL": assistant.rasa_url, "RASA_JWT_SECRET": assistant.jwt_secret or "",
                                  "DATABASE_URL": assistant.database_url})
    async with RasaApi(settings) as api:
        yield api


class Customer_:
    """One WhatsApp customer writing to the business number through Meta's webhook."""

    def __init__(self, http: httpx.AsyncClient, assistant: RunningAssistant, graph: GraphStandIn) -> None:
        self.http, self.assistant, self.graph = http, assistant, graph
        self.wa_id = "49151" + "".join(secrets.choice("0123456789") for _ in range(8))
        self.conversation_id = f"whatsapp:{self.wa_id}"

    @property
    def url(self) -> str:
        return f"{self.assistant.rasa_url}/webhooks/whatsapp/webhook"

    async def post(self, payload: dict, *, secret: str = APP_SECRET) -> httpx.Response:
        raw, headers = signed(payload, secret)
        return await self.http.post(self.url, content=raw, headers=headers)

    async def send(self, message: dict, *, message_id: str | None = None) -> list[dict]:
        """Send a message; the bodies the assistant sent back to this customer because of it."""
        before = len(self.graph.to(self.wa_id))
        response = await self.post(message_webhook(self.graph.phone_number_id, self.wa_id, message,
                                                   message_id=message_id))
        assert response.status_code == 200, response.text
        return self.graph.to(self.wa_id)[before:]

    async def says(self, text: str) -> list[dict]:
        return await self.send(text_message(text))


def texts(bodies: list[dict]) -> str:
    """What the customer reads: text bodies, interactive bodies, template parameters."""
    parts = []
    for body in bodies:
        if body["type"] == "text":
            parts.append(body["text"]["body"])
        elif body["type"] == "interactive":
            parts.append(body["interactive"]["body"]["text"])
        elif body["type"] == "template":
            parts.extend(p["text"] for c in body["template"].get("components", []) for p in c["parameters"])
    return "\n".join(parts)


def choices(bodies: list[dict]) -> dict[str, str]:
    """Reply-button and list-row ids (payloads) -> titles."""
    found = {}
    for body in bodies:
        if body["type"] != "interactive":
            continue
        action = body["interactive"]["action"]
        for button in action.get("buttons", []):
            found[button["reply"]["id"]] = button["reply"]["title"]
        for section in action.get("sections", []):
            for row in section["rows"]:
                found[row["id"]] = row["title"]
    return found


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=120) as client:
        yield client


def _contract_of(url: str, customer_number: str) -> Contract:
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == customer_number)).one()
        return session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()


async def test_meta_verifies_the_webhook_with_the_verify_token(assistant: RunningAssistant,
                                                               http: httpx.AsyncClient) -> None:
    url = f"{assistant.rasa_url}/webhooks/whatsapp/webhook"
    ok = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                     "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = await http.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                        "hub.challenge": "1158201444"})
    assert wrong.status_code == 403 and "1158201444" not in wrong.text


async def test_a_whole_cancellation_on_whatsapp(assistant: RunningAssistant, graph: GraphStandIn,
                                                http: httpx.AsyncClient) -> None:
    customer = Customer_(http, assistant, graph)
    before = _contract_of(assistant.database_url, "K100001")
    expected_end = effective_cancellation_date(before, date.today())

    greeting = await customer.says("Guten Tag")
    assert "automatischer Assistent" in texts(greeting)

    question = await customer.says("Ich möchte meinen Vertrag kündigen")
    assert [b["type"] for b in question] == ["interactive", "interactive"]
    assert question[0]["interactive"]["type"] == "button", "cancel-now comes first, one tap, with the question"
    assert choices(question[:1]) == {"/cancel_now": "Jetzt kündigen"}
    assert question[1]["interactive"]["type"] == "list"
    reasons = choices(question[1:])
    assert reasons['/cancel_contract{"cancellation_reason":"price"}'] == "Zu teuer" and len(reasons) == 10

    ask_number = await customer.send(list_reply('/cancel_contract{"cancellation_reason":"price"}', "Zu teuer"))
    assert "Kundennummer" in texts(ask_number)
    await customer.says("K100001")
    offer = await customer.says("10115")
    assert "Mobil M" in texts(offer), "a standard customer who finds it too expensive gets the smaller plan"
    assert "/cancel_now" in choices(offer) and "/accept_offer" in choices(offer), texts(offer)

    done = await customer.send(button_reply("/cancel_now", choices(offer)["/cancel_now"]))
    said = texts(done)
    assert "gekündigt" in said and german_date(expected_end) in said, said
    assert "](" not in said, "no Markdown link syntax reaches WhatsApp"

    with transaction(assistant.database_url) as session:
        cancellation = session.scalars(select(Cancellation).where(
            Cancellation.conversation_id == customer.conversation_id)).one()
        assert cancellation.reason == "price" and cancellation.effective_date == expected_end
        assert cancellation.confirmation_number in said
        decision = session.scalars(select(OfferDecision).where(
            OfferDecision.conversation_id == customer.conversation_id)).one()
        assert decision.outcome == "declined"
        assert session.get(Contract, cancellation.contract_id).status == "cancelled"
        inbound = session.scalar(select(func.count()).select_from(ChannelInboundMessage).where(
            ChannelInboundMessage.conversation_id == customer.conversation_id))
        assert inbound == 6
        contact = session.get(ChannelContact, customer.conversation_id)
        assert contact.recipient == customer.wa_id and contact.channel == "whatsapp"
        outbound = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.conversation_id == customer.conversation_id)).all()
        assert len(outbound) == len(graph.to(customer.wa_id))
        assert all(row.status == "sent" and row.provider_message_id for row in outbound)
    assert assistant.stored_user_messages(customer.conversation_id)[-1]["text"] == "/cancel_now"


async def test_forged_and_unsigned_webhooks_are_refused(assistant: RunningAssistant, graph: GraphStandIn,
                                                        http: httpx.AsyncClient) -> None:
    customer = Customer_(http, assistant, graph)
    payload = message_webhook(graph.phone_number_id, customer.wa_id, text_message("Ich möchte kündigen"))
    forged = await customer.post(payload, secret="not-the-app-secret")
    raw, headers = signed(payload, APP_SECRET)
    unsigned = await http.post(customer.url, content=raw, headers={"Content-Type": "application/json"})
    tampered = await http.post(customer.url, content=raw.replace(b"Ich", b"Wir"),
                               headers=headers)
    assert (forged.status_code, unsigned.status_code, tampered.status_code) == (403, 403, 403)
    assert graph.to(customer.wa_id) == []
    assert assistant.stored_user_messages(customer.conversation_id) == []
    with transaction(assistant.database_url) as session:
        assert session.get(ChannelContact, customer.conversation_id) is None


async def test_a_retried_webhook_is_processed_once(assistant: RunningAssistant, graph: GraphStandIn,
                                                   http: httpx.AsyncClient) -> None:
    customer = Customer_(http, assistant, graph)
    message_id = new_message_id()
    first = await customer.send(text_message("Hallo"), message_id=message_id)
    assert first, "the assistant answered"
    again = await customer.send(text_message("Hallo"), message_id=message_id)
    assert again == [], "Meta's retry of the same message id gets no second answer"
    assert [m["text"] for m in assistant.stored_user_messages(customer.conversation_id)] == ["Hallo"]

    # The same webhook twice at the same moment (two deliveries in flight, or two Rasa servers): one answer.
    message_id = new_message_id()
    before = len(graph.to(customer.wa_id))
    payload = message_webhook(graph.phone_number_id, customer.wa_id, text_message("Wann endet mein Vertrag?"),
                              message_id=message_id)
    responses = await asyncio.gather(customer.post(payload), customer.post(payload))
    assert [r.status_code for r in responses] == [200, 200]
    answered = graph.to(customer.wa_id)[before:]
    assert len(answered) == 1 and "Kundennummer" in texts(answered), answered
    assert [m["text"] for m in assistant.stored_user_messages(customer.conversation_id)] == [
        "Hallo", "Wann endet mein Vertrag?"]


async def test_a_message_for_another_business_number_is_not_answered(
        assistant: RunningAssistant, graph: GraphStandIn, http: httpx.AsyncClient) -> None:
    customer = Customer_(http, assistant, graph)
    response = await customer.post(message_webhook("999999999999", customer.wa_id, text_message("Hallo")))
    assert response.status_code == 200
    assert graph.to(customer.wa_id) == [] and assistant.stored_user_messages(customer.conversation_id) == []


async def test_status_callbacks_are_recorded_not_answered(assistant: RunningAssistant, graph: GraphStandIn,
                                                          http: httpx.AsyncClient) -> None:
    customer = Customer_(http, assistant, graph)
    await customer.says("Hallo")
    with transaction(assistant.database_url) as session:
        row = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.conversation_id == customer.conversation_id)).first()
    sent_before = len(graph.received)
    for status in ("read", "delivered"):  # out of order: "delivered" arrives after "read"
        response = await customer.post(status_webhook(graph.phone_number_id, customer.wa_id,
                                                      row.provider_message_id, status))
        assert response.status_code == 200
    assert len(graph.received) == sent_before, "a status callback is no message to answer"
    assert assistant.stored_user_messages(customer.conversation_id)[-1]["text"] == "Hallo"
    with transaction(assistant.database_url) as session:
        assert session.get(ChannelOutboundMessage, row.id).status == "read"


def _take_handoff(database_url: str, conversation_id: str) -> tuple[int, int]:
    """A handoff of this WhatsApp conversation taken by agent Anna (what the console's queue and `take` write)."""
    now = datetime.now(timezone.utc)
    with transaction(database_url) as session:
        agent = session.scalars(select(StaffUser).where(StaffUser.username == "anna")).first()
        if agent is None:
            agent = StaffUser(username="anna", first_name="Anna", password_hash="x" * 40, role="agent",
                              active=True, created_at=now)
            session.add(agent)
            session.flush()
        handoff = HandoffRequest(conversation_id=conversation_id, reason="customer_request", status="taken",
                                 created_at=now, channel="whatsapp", assigned_agent_id=agent.id, taken_at=now)
        session.add(handoff)
        session.flush()
        return handoff.id, agent.id


def _agent_message(database_url: str, handoff_id: int, agent_id: int, text: str) -> int:
    with transaction(database_url) as session:
        return record_agent_message(session, handoff_id=handoff_id, agent_id=agent_id, text=text,
                                    now=datetime.now(timezone.utc)).id


async def test_agent_replies_reach_the_customer_and_use_the_template_after_24_hours(
        assistant: RunningAssistant, graph: GraphStandIn, http: httpx.AsyncClient, rasa_api: RasaApi) -> None:
    customer = Customer_(http, assistant, graph)
    await customer.says("Ich möchte mit einem Menschen sprechen")
    handoff_id, agent_id = _take_handoff(assistant.database_url, customer.conversation_id)
    await rasa_api.pause(customer.conversation_id, "Anna")
    assert "Anna" in texts(graph.to(customer.wa_id)[-1:]), "the customer is told who took over"

    with transaction(assistant.database_url) as session:
        channel = session.get(HandoffRequest, handoff_id).channel
    message_id = _agent_message(assistant.database_url, handoff_id, agent_id, "Guten Tag, ich sehe mir das an.")
    await rasa_api.send_agent_message(customer.conversation_id, channel=channel, text="Guten Tag, ich sehe mir das an.",
                                      agent_first_name="Anna", message_id=message_id)
    last = graph.to(customer.wa_id)[-1]
    assert last["type"] == "text" and last["text"]["body"] == "Anna: Guten Tag, ich sehe mir das an."
    with transaction(assistant.database_url) as session:
        sent = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.agent_message_id == message_id)).one()
    assert (await customer.post(status_webhook(graph.phone_number_id, customer.wa_id, sent.provider_message_id,
                                               "delivered"))).status_code == 200
    with transaction(assistant.database_url) as session:
        assert session.get(AgentMessage, message_id).delivered_at is not None, "delivery confirmed by Meta"

    # The handoff guard applies on WhatsApp too: a typed command does not end the agent's conversation.
    assert await customer.says("/restart") == []
    assert await rasa_api.is_paused(customer.conversation_id)

    # A day and more later the window is closed: the reply goes out as the configured template.
    with transaction(assistant.database_url) as session:
        session.execute(update(ChannelContact).where(ChannelContact.conversation_id == customer.conversation_id)
                        .values(last_customer_message_at=datetime.now(timezone.utc) - timedelta(hours=25)))
    late_id = _agent_message(assistant.database_url, handoff_id, agent_id, "Ihr Anliegen ist erledigt.")
    await rasa_api.send_agent_message(customer.conversation_id, channel="whatsapp", text="Ihr Anliegen ist erledigt.",
                                      agent_first_name="Anna", message_id=late_id)
    late = graph.to(customer.wa_id)[-1]
    assert late["type"] == "template" and late["template"]["name"] == TEMPLATE
    assert texts([late]) == "Anna: Ihr Anliegen ist erledigt."
    with transaction(assistant.database_url) as session:
        notes = store.console_notes(session, customer.conversation_id, datetime.now(timezone.utc))
    assert notes is not None and not notes.window_open

    # Meta reports later that the template could not be delivered: agents see it.
    with transaction(assistant.database_url) as session:
        row = session.scalars(select(ChannelOutboundMessage).where(
            ChannelOutboundMessage.agent_message_id == late_id)).one()
    response = await customer.post(status_webhook(graph.phone_number_id, customer.wa_id, row.provider_message_id,
                                                  "failed", errors=[{"code": 131026,
                                                                     "title": "Message undeliverable"}]))
    assert response.status_code == 200
    with transaction(assistant.database_url) as session:
        notes = store.console_notes(session, customer.conversation_id, datetime.now(timezone.utc))
        assert [f.error for f in notes.failed] == ["131026 Message undeliverable"]
        assert session.get(ChannelOutboundMessage, row.id).status == "failed"

    # The customer writes again (the window opens) and presses "Jetzt kündigen": the assistant takes over at once.
    answer = await customer.send(button_reply("/cancel_now", "Jetzt kündigen"))
    assert answer and all(body["type"] != "template" for body in answer), answer
    assert not await rasa_api.is_paused(customer.conversation_id)


async def test_an_image_gets_a_hint_instead_of_being_lost(assistant: RunningAssistant, graph: GraphStandIn,
                                                          http: httpx.AsyncClient) -> None:
    customer = Customer_(http, assistant, graph)
    answer = await customer.send({"type": "image", "image": {"id": "1479537139650973", "mime_type": "image/jpeg"}})
    assert "als Text" in texts(answer)


def test_without_whatsapp_secrets_rasa_runs_and_the_webhook_says_so(tmp_path: Path) -> None:
    blank = {name: "" for name in ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
                                   "WHATSAPP_PHONE_NUMBER_ID")}
    with running_assistant(seeded_records(tmp_path), tmp_path, action_server=False, web_app=False,
                           extra_env=blank) as running:
        url = f"{running.rasa_url}/webhooks/whatsapp/webhook"
        raw, headers = signed(message_webhook("1", "4915100000000", text_message("Hallo")), "any")
        assert httpx.post(url, content=raw, headers=headers, timeout=30).status_code == 503
        assert httpx.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"},
                         timeout=30).status_code == 503
        assert httpx.get(f"{running.rasa_url}/webhooks/whatsapp/", timeout=30).json() == {"status": "not configured"}
        assert httpx.post(running.rest_url, json={"sender": "web-1", "message": "Hallo"}, timeout=60).status_code == 200
    assert "WhatsApp channel not configured" in (tmp_path / "rasa.log").read_text()
