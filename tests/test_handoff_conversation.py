"""An agent takes over a conversation and hands it back (issue 9), over real HTTP against the real servers.

The Rasa server (HTTP API on, JWT) and the action server run on free ports on a fresh seeded SQLite
database, as `bot.cli run` starts them. The customer writes on the REST channel (and on socket.io for the
live delivery); the console's side is `bot.handoff.RasaApi`. What Rasa 3.6 would do on its own during a
pause, and what the project decided instead:

- customer messages are stored, no prediction is made, and the dissatisfaction update that Rasa still runs
  (`action_extract_slots` -> `action_validate_slot_mappings`) says nothing;
- a typed `/restart` (or any `/intent`) does not end the pause; it is stored as text only;
- a session expiry neither ends the pause nor drops the verification;
- a wish to cancel still gets the cancel-now button, and the button ends the pause (§ 312k BGB);
- after the hand-back the assistant says it is back and answers the next message without asking the
  customer to identify again (RasaHQ/rasa#5645: answering during a handoff, failed prediction after it).
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone

import httpx
import pytest
import socketio
from sqlalchemy import create_engine, select, text

from bot.handoff.callback import InvalidCallback, parse_window
from bot.handoff.rasa_api import RasaApi
from bot.records.database import transaction
from bot.records.models import AgentMessage, HandoffRequest, StaffUser
from bot.settings import Settings
from tests.servers import RunningAssistant, running_assistant, seeded_records

pytestmark = pytest.mark.e2e
CALLBACK = '/request_human{"handoff_option":"callback"}'  # the button "Rückruf vereinbaren"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir = tmp_path_factory.mktemp("handoff-conversation")
    with running_assistant(seeded_records(workdir), workdir, web_app=False, rasa_api=True,
                           extra_env={"VERIFICATION_CLIENT_MAX_FAILURES": "1000",
                                      "SERVICE_HOURS": "Mo-So 00:00-24:00"}) as running:
        yield running


@pytest.fixture
async def rasa_api(assistant: RunningAssistant) -> AsyncIterator[RasaApi]:
    settings = Settings.from_env({"RASA_URL": assistant.rasa_url, "RASA_JWT_SECRET": assistant.jwt_secret or "",
                                  "DATABASE_URL": assistant.database_url})
    async with RasaApi(settings) as api:
        yield api


class Chat:
    """One customer conversation over the REST channel."""

    def __init__(self, http: httpx.AsyncClient, assistant: RunningAssistant) -> None:
        self.http, self.assistant = http, assistant
        self.sender = f"handoff-{uuid.uuid4().hex[:12]}"

    async def say(self, text: str) -> list[dict]:
        response = await self.http.post(self.assistant.rest_url, json={"sender": self.sender, "message": text})
        response.raise_for_status()
        return response.json()

    async def text(self, text: str) -> str:
        return "\n".join(m.get("text", "") for m in await self.say(text))

    async def tracker(self) -> dict:
        response = await self.http.get(f"{self.assistant.rasa_url}/conversations/{self.sender}/tracker",
                                       params={"include_events": "ALL"}, headers=self.assistant.api_headers())
        response.raise_for_status()
        return response.json()


def hours_pass(assistant: RunningAssistant, sender: str, *, hours: float) -> None:
    """Move the conversation's stored events back in time (the SQLite tracker store of the test servers)."""
    seconds = hours * 3600
    engine = create_engine(assistant.tracker_store_url, future=True)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "UPDATE events SET timestamp = timestamp - :s, "
                "data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - :s) "
                "WHERE sender_id = :sender"), {"s": seconds, "sender": sender})
    finally:
        engine.dispose()


def buttons(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


async def verified_chat(http: httpx.AsyncClient, assistant: RunningAssistant) -> Chat:
    """A conversation in which K100001 has identified and asked about the contract."""
    chat = Chat(http, assistant)
    await chat.say("Hallo")
    await chat.say("Wann endet mein Vertrag?")
    await chat.say("K100001")
    answer = await chat.text("10115")
    assert "Vertrag" in answer and "Postleitzahl" not in answer, answer
    tracker = await chat.tracker()
    assert tracker["slots"]["verified_customer"] is not None
    return chat


def open_handoff(database_url: str, conversation_id: str) -> HandoffRequest | None:
    with transaction(database_url) as session:
        row = session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id,
                                                           HandoffRequest.status != "closed")).first()
        if row is not None:
            session.expunge(row)
        return row


def take_in_records(database_url: str, handoff_id: int, *, first_name: str = "Anna") -> int:
    """What the console's `take` writes (bot.handoff.queue): the row taken by an agent; the agent's id."""
    moment = datetime.now(timezone.utc)
    with transaction(database_url) as session:
        agent = session.scalars(select(StaffUser).where(StaffUser.username == first_name.lower())).first()
        if agent is None:
            agent = StaffUser(username=first_name.lower(), first_name=first_name, password_hash="x" * 40,
                              role="agent", active=True, created_at=moment)
            session.add(agent)
            session.flush()
        row = session.get(HandoffRequest, handoff_id)
        row.status, row.assigned_agent_id, row.taken_at = "taken", agent.id, moment
        return agent.id


async def asked_for_a_human(chat: Chat) -> HandoffRequest:
    reply = await chat.text("Ich möchte mit einem Menschen sprechen")
    assert "Service-Team" in reply or "Mitarbeiter" in reply, reply
    handoff = open_handoff(chat.assistant.database_url, chat.sender)
    assert handoff is not None and handoff.status == "open"
    return handoff


async def test_while_waiting_a_wish_to_cancel_gets_the_cancel_now_button(assistant: RunningAssistant) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        chat = await verified_chat(http, assistant)
        await asked_for_a_human(chat)
        assert "/cancel_now" in buttons(await chat.say("ich will kündigen"))


async def test_during_a_handoff_the_assistant_is_silent_and_the_customer_cannot_end_it(
        assistant: RunningAssistant, rasa_api: RasaApi) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        chat = await verified_chat(http, assistant)
        handoff = await asked_for_a_human(chat)
        take_in_records(assistant.database_url, handoff.id)
        await rasa_api.pause(chat.sender, "Anna")
        assert await rasa_api.is_paused(chat.sender)

        # Plain messages, an angry one (would be acknowledged by the dissatisfaction update), commands.
        typed = ["Hallo, ist da jemand?", "Das ist doch unglaublich, ihr seid alle unfähig, eine Frechheit!!!",
                 "Das ist doch unglaublich, ihr seid alle unfähig, eine Frechheit!!!", "/restart", "/request_human",
                 "/greet", "Wann endet mein Vertrag?"]
        for message in typed:
            assert await chat.say(message) == [], message
        tracker = await chat.tracker()
        assert tracker["paused"] is True
        assert [e["text"] for e in tracker["events"] if e["event"] == "user"][-len(typed):] == typed
        assert not any(e["event"] == "restart" for e in tracker["events"])
        restart = [e for e in tracker["events"] if e["event"] == "user" and e["text"] == "/restart"][0]
        assert restart["parse_data"]["intent"]["name"] is None
        assert tracker["slots"]["verified_customer"] is not None

        # The agent writes: stored as a bot utterance marked with the agent, shown with the first name.
        await rasa_api.send_agent_message(chat.sender, channel="rest", text="Guten Tag, ich sehe mir das an.",
                                          agent_first_name="Anna", message_id=4711)
        events = await rasa_api.events_since(chat.sender, time.time() - 60)
        agent_events = [e for e in events if e["event"] == "bot" and (e.get("metadata") or {}).get("agent")]
        assert agent_events[-1]["text"] == "Anna: Guten Tag, ich sehe mir das an."
        assert {"agent": "Anna", "agent_message_id": 4711}.items() <= agent_events[-1]["metadata"].items()
        assert await chat.say("Danke!") == []

        # Hand back: the assistant says it is back and answers without asking to identify again.
        await rasa_api.resume(chat.sender)
        tracker = await chat.tracker()
        assert tracker["paused"] is False
        back = [e for e in tracker["events"] if e["event"] == "bot"][-1]["text"]
        assert "wieder für Sie da" in back and "nicht noch einmal" in back
        answer = await chat.text("Wann endet mein Vertrag?")
        assert "Kundennummer" not in answer and "Vertrag" in answer, answer
        assert "nicht verstanden" not in await chat.text("Danke, das war alles")


async def test_a_session_expiry_during_a_handoff_keeps_the_pause_and_the_verification(
        assistant: RunningAssistant, rasa_api: RasaApi) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        chat = await verified_chat(http, assistant)
        handoff = await asked_for_a_human(chat)
        take_in_records(assistant.database_url, handoff.id)
        await rasa_api.pause(chat.sender, "Anna")
        await chat.say("Hallo?")
        # Two hours pass (longer than session_expiration_time, 60 minutes): every stored event gets older.
        hours_pass(assistant, chat.sender, hours=2)

        assert await chat.say("Hallo? Ich bin wieder da.") == []  # no welcome message, nothing
        tracker = await chat.tracker()
        assert [e["event"] for e in tracker["events"]].count("session_started") >= 2
        assert tracker["paused"] is True
        assert tracker["slots"]["verified_customer"] is not None

        await rasa_api.resume(chat.sender)
        answer = await chat.text("Wann endet mein Vertrag?")
        assert "Kundennummer" not in answer and "Vertrag" in answer, answer


async def test_a_wish_to_cancel_during_a_handoff_gets_the_button_and_the_button_cancels(
        assistant: RunningAssistant, rasa_api: RasaApi) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        chat = await verified_chat(http, assistant)
        handoff = await asked_for_a_human(chat)
        take_in_records(assistant.database_url, handoff.id)
        await rasa_api.pause(chat.sender, "Anna")
        reply = await chat.say("ich will kündigen")
        assert buttons(reply) == ["/cancel_now"], reply
        assert await rasa_api.is_paused(chat.sender)
        confirmation = await chat.text("/cancel_now")
        assert "Kündigung" in confirmation and "bestätig" in confirmation.lower(), confirmation
        assert not await rasa_api.is_paused(chat.sender)
        # the agent's console sees the handoff end, and why
        assert open_handoff(assistant.database_url, chat.sender) is None
        with transaction(assistant.database_url) as session:
            closed = session.get(HandoffRequest, handoff.id)
            assert (closed.status, closed.resolution) == ("closed", "handed_back")
            assert "Jetzt kündigen" in closed.note


async def test_agent_messages_reach_the_widget_live_and_after_a_reconnect(
        assistant: RunningAssistant, rasa_api: RasaApi) -> None:
    session_id = f"widget-{uuid.uuid4().hex[:12]}"
    received: asyncio.Queue[dict] = asyncio.Queue()

    async def connect() -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        client.on("bot_uttered", received.put_nowait)
        await client.connect(assistant.rasa_url, transports=["polling"], socketio_path="/socket.io", wait_timeout=10)
        await client.emit("session_request", {"session_id": session_id})
        return client

    async def next_text(timeout: float = 30) -> str:
        return (await asyncio.wait_for(received.get(), timeout)).get("text", "")

    client = await connect()
    await client.emit("user_uttered", {"session_id": session_id, "message": "Ich möchte mit einem Menschen sprechen"})
    assert "Willkommen" in await next_text()
    assert "H-" in await next_text()  # the handoff request's number
    handoff = open_handoff(assistant.database_url, session_id)
    assert handoff is not None
    agent_id = take_in_records(assistant.database_url, handoff.id)
    await rasa_api.pause(session_id, "Anna")
    assert "Anna" in await next_text()
    # The customer writes, and types a command: nothing comes back, the pause holds.
    for typed in ("Hallo? Ist da jemand?", "/restart"):
        await client.emit("user_uttered", {"session_id": session_id, "message": typed})
    await asyncio.sleep(3)
    assert received.empty()
    assert await rasa_api.is_paused(session_id)
    stored = [e["text"] for e in await rasa_api.events_since(session_id) if e["event"] == "user"]
    assert stored[-2:] == ["Hallo? Ist da jemand?", "/restart"]

    def record(text: str) -> int:
        with transaction(assistant.database_url) as session:
            moment = datetime.now(timezone.utc)
            message = AgentMessage(handoff_id=handoff.id, conversation_id=session_id, agent_id=agent_id, text=text,
                                   created_at=moment, sent_at=moment)
            session.add(message)
            session.flush()
            return message.id

    def delivered(message_id: int) -> datetime | None:
        with transaction(assistant.database_url) as session:
            return session.get(AgentMessage, message_id).delivered_at

    live = record("Guten Tag, hier ist Anna.")
    started = time.monotonic()
    await rasa_api.send_agent_message(session_id, channel="socketio", text="Guten Tag, hier ist Anna.",
                                      agent_first_name="Anna", message_id=live)
    assert await next_text() == "Anna: Guten Tag, hier ist Anna."
    assert time.monotonic() - started < 1.0
    await asyncio.sleep(0.5)
    assert delivered(live) is not None

    await client.disconnect()
    await asyncio.sleep(0.5)
    missed = record("Sind Sie noch da?")
    await rasa_api.send_agent_message(session_id, channel="socketio", text="Sind Sie noch da?",
                                      agent_first_name="Anna", message_id=missed)
    assert delivered(missed) is None

    client = await connect()  # the customer reloads the page: same session
    try:
        assert await next_text() == "Anna: Sind Sie noch da?"
        await asyncio.sleep(0.5)
        assert delivered(missed) is not None
    finally:
        await client.disconnect()


async def test_with_nobody_online_the_customer_can_leave_a_callback_or_go_on_with_the_assistant(
        assistant: RunningAssistant) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        chat = Chat(http, assistant)
        await chat.say("Hallo")
        offer = await chat.say("Ich möchte mit einem Menschen sprechen")
        assert "keine Mitarbeiterin" in offer[0]["text"], offer  # nobody has the console open
        assert {CALLBACK, "/deny"} <= set(buttons(offer))
        titles = [b["title"] for m in offer for b in m.get("buttons") or []]
        assert "Rückruf vereinbaren" in titles and "Weiter mit dem Assistenten" in titles

        assert "Wann passt Ihnen ein Rückruf" in await chat.text(CALLBACK)
        with pytest.raises(InvalidCallback) as past:
            parse_window("gestern 10-12 Uhr", datetime.now(timezone.utc))
        assert str(past.value) in await chat.text("gestern 10-12 Uhr")  # asked again, with why
        assert "Telefonnummer" in await chat.text("morgen 10-12 Uhr")
        assert "Vorwahl" in await chat.text("12345")  # asked again, with what is wrong
        done = await chat.text("0171 9876 5432")
        assert "zurück" in done and "H-" in done, done
        handoff = open_handoff(assistant.database_url, chat.sender)
        assert handoff is not None
        assert handoff.callback_phone == "+4917198765432"
        assert "10:00" in handoff.callback_window and "12:00" in handoff.callback_window
        tracker = await chat.tracker()
        assert tracker["slots"]["callback_phone"] is None and tracker["slots"]["callback_window"] is None
        # Personal data: the number is with the handoff request only, not in the stored conversation.
        stored = json.dumps(tracker["events"])
        assert "9876" not in stored and "5432" not in stored
        assert "[entfernt: Telefonnummer für den Rückruf]" in [m["text"] for m in
                                                                assistant.stored_user_messages(chat.sender)]
        assert "Wann endet" not in await chat.text("Danke")

        other = Chat(http, assistant)
        await other.say("Ich möchte mit einem Menschen sprechen")
        assert "sonst noch etwas" in await other.text("/deny")
