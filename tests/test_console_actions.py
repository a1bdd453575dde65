"""What an agent does in the console, over real HTTP on SQLite and PostgreSQL: take, reply, act for the
customer through the assistant's own functions (one offer per cancellation, the cancellation with its
confirmation, a fault report), reassign (supervisors) and close.

Rasa's HTTP API is replaced by a recorder (tests.console_server.RecordingRasa): what matters here is what the
console records and asks Rasa to do; tests/test_console_browser.py runs the whole way with the real Rasa.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import (
    AgentMessage,
    Cancellation,
    Complaint,
    Contract,
    Customer,
    HandoffRequest,
    OfferDecision,
    OutboxEmail,
)
from bot.settings import Settings
from bot.web.app import create_app
from tests.console_server import RecordingRasa, add_user, serving, session_cookie

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CONVERSATION = "conversation-k100001"


@dataclass
class Desk:
    url: str
    database_url: str
    rasa: RecordingRasa
    handoff_id: int
    contract_id: int
    anna: int
    bert: int
    chef: int

    def agent(self, user_id: int) -> httpx.Client:
        return httpx.Client(base_url=self.url, cookies=session_cookie(self.database_url, user_id),
                            follow_redirects=False, timeout=15)

    @property
    def page(self) -> str:
        return f"/console/conversations/{self.handoff_id}"


def token(client: httpx.Client, path: str) -> str:
    return CSRF_FIELD.search(client.get(path).text).group(1)


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    with transaction(database_url) as session:
        seed_demo_customers(session, count=3, seed=7, today=datetime.now(timezone.utc).date())
        customer = session.scalars(select(Customer).where(Customer.customer_number == "K100001")).one()
        contract = session.scalars(select(Contract).where(Contract.customer_id == customer.id)).one()
        handoff = HandoffRequest(conversation_id=CONVERSATION, customer_id=customer.id, reason="price",
                                 priority="normal", status="open", created_at=datetime.now(timezone.utc),
                                 channel="socketio")
        session.add(handoff)
        session.flush()
        handoff_id, contract_id = handoff.id, contract.id
    anna = add_user(database_url, "anna", first_name="Anna")
    bert = add_user(database_url, "bert", first_name="Bert")
    chef = add_user(database_url, "chef", first_name="Clara", role="supervisor")
    settings = Settings.from_env({"DATABASE_URL": database_url,
                                  "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'conversations.db'}"})
    rasa = RecordingRasa()
    with serving(create_app(settings, console_rasa_api=rasa)) as url:
        yield Desk(url, database_url, rasa, handoff_id, contract_id, anna, bert, chef)


def customer_messages(desk: Desk) -> list[str]:
    return [call[3] for call in desk.rasa.calls if call[0] == "message"]


def test_one_offer_per_cancellation_then_cancel_and_report_a_fault(desk: Desk) -> None:
    with desk.agent(desk.anna) as anna:
        csrf = token(anna, desk.page)
        assert anna.post(f"{desk.page}/take", data={"csrf_token": csrf}).status_code == 303
        # The offer is the one the assistant would make for this customer and reason.
        page = anna.get(desk.page, params={"offer_contract": desk.contract_id}).text
        code = re.search(r'name="offer_code" value="([^"]+)"', page).group(1)
        applied = anna.post(f"{desk.page}/offer", data={"csrf_token": csrf, "contract_id": desk.contract_id,
                                                        "offer_code": code})
        assert applied.status_code == 303, applied.text
        assert "Ihr Vertrag läuft weiter" in customer_messages(desk)[-1]
        again = anna.post(f"{desk.page}/offer", data={"csrf_token": csrf, "contract_id": desk.contract_id,
                                                      "offer_code": code})
        assert again.status_code == 409 and "schon ein Angebot" in again.text
        assert "kein (weiteres) Angebot" in anna.get(desk.page, params={"offer_contract": desk.contract_id}).text

        cancelled = anna.post(f"{desk.page}/cancel", data={"csrf_token": csrf, "contract_id": desk.contract_id})
        assert cancelled.status_code == 303
        fault = anna.post(f"{desk.page}/complaint", data={"csrf_token": csrf, "category": "technical",
                                                          "description": "Internet fällt abends aus"})
        assert fault.status_code == 303
    with transaction(desk.database_url) as session:
        decisions = session.scalars(select(OfferDecision).where(OfferDecision.conversation_id == CONVERSATION)).all()
        assert [decision.outcome for decision in decisions] == ["accepted"]
        cancellation = session.scalars(select(Cancellation).where(Cancellation.contract_id == desk.contract_id)).one()
        assert cancellation.conversation_id == CONVERSATION
        assert session.get(Contract, desk.contract_id).status == "cancelled"
        customer = session.get(Customer, cancellation.customer_id)
        email = session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == customer.email)).one()
        assert cancellation.confirmation_number in email.subject
        complaint = session.scalars(select(Complaint).where(Complaint.conversation_id == CONVERSATION)).one()
        assert (complaint.category, complaint.description) == ("technical", "Internet fällt abends aus")
        sent = session.scalars(select(AgentMessage).where(AgentMessage.handoff_id == desk.handoff_id)).all()
        assert len(sent) == 3 and all(message.sent_at is not None for message in sent)
    messages = customer_messages(desk)
    assert cancellation.confirmation_number in messages[1]
    assert f"S-{complaint.id}" in messages[2]


def test_only_the_owner_acts_supervisor_reassigns_and_closing_resumes_the_assistant(desk: Desk) -> None:
    with desk.agent(desk.anna) as anna, desk.agent(desk.bert) as bert, desk.agent(desk.chef) as chef:
        anna_csrf, bert_csrf, chef_csrf = token(anna, desk.page), token(bert, desk.page), token(chef, desk.page)
        assert anna.post(f"{desk.page}/take", data={"csrf_token": anna_csrf}).status_code == 303
        late = bert.post(f"{desk.page}/take", data={"csrf_token": bert_csrf})
        assert late.status_code == 409 and "Anna" in late.text
        refused = bert.post(f"{desk.page}/reply", data={"csrf_token": bert_csrf, "text": "Hallo von Bert"})
        assert refused.status_code == 409
        assert customer_messages(desk) == []

        assert chef.post("/console/reassign", data={"csrf_token": chef_csrf, "handoff_id": desk.handoff_id,
                                                    "to_agent_id": desk.bert}).status_code == 303
        assert bert.post(f"{desk.page}/reply", data={"csrf_token": bert_csrf, "text": "Hallo, hier ist Bert."}
                         ).status_code == 303
        assert anna.post(f"{desk.page}/reply", data={"csrf_token": anna_csrf, "text": "Noch da?"}).status_code == 409
        assert "Bert" in chef.get("/console/all").text

        closed = bert.post(f"{desk.page}/close", data={"csrf_token": bert_csrf, "resolution": "solved",
                                                       "note": "Frage zur Rechnung geklärt"})
        assert closed.status_code == 303
    assert desk.rasa.calls == [
        ("pause", CONVERSATION, "Anna"), ("pause", CONVERSATION, "Bert"),
        ("message", CONVERSATION, "socketio", "Hallo, hier ist Bert.", "Bert", desk.rasa.calls[2][5]),
        ("resume", CONVERSATION)]
    with transaction(desk.database_url) as session:
        handoff = session.get(HandoffRequest, desk.handoff_id)
        assert (handoff.status, handoff.resolution, handoff.note) == ("closed", "solved", "Frage zur Rechnung geklärt")
        assert handoff.assigned_agent_id == desk.bert and handoff.taken_at and handoff.closed_at


def test_nothing_is_lost_while_rasa_is_down(desk: Desk) -> None:
    with desk.agent(desk.anna) as anna:
        csrf = token(anna, desk.page)
        desk.rasa.down = True
        taken = anna.post(f"{desk.page}/take", data={"csrf_token": csrf})
        assert taken.status_code == 502 and "Assistent jetzt anhalten" in taken.text
        failed = anna.post(f"{desk.page}/reply", data={"csrf_token": csrf, "text": "Erste Nachricht"})
        assert failed.status_code == 502 and "gespeichert" in failed.text
        desk.rasa.down = False
        assert anna.post(f"{desk.page}/take", data={"csrf_token": csrf}).status_code == 303  # pause again
        assert anna.post(f"{desk.page}/reply", data={"csrf_token": csrf, "text": "Zweite Nachricht"}
                         ).status_code == 303
        desk.rasa.down = True
        closed = anna.post(f"{desk.page}/hand-back", data={"csrf_token": csrf})
        assert closed.status_code == 502 and "Assistent jetzt fortsetzen" in closed.text
        desk.rasa.down = False
        assert anna.post(f"{desk.page}/resume", data={"csrf_token": csrf}).status_code == 303
    assert [call[0] for call in desk.rasa.calls] == ["pause", "message", "message", "resume"]
    assert customer_messages(desk) == ["Erste Nachricht", "Zweite Nachricht"]
    with transaction(desk.database_url) as session:
        sent = session.scalars(select(AgentMessage).where(AgentMessage.handoff_id == desk.handoff_id)
                               .order_by(AgentMessage.id)).all()
        assert [message.sent_at is not None for message in sent] == [True, True]
        assert session.get(HandoffRequest, desk.handoff_id).resolution == "handed_back"


def test_two_agents_taking_at_once_one_wins_the_other_is_told(desk: Desk) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with desk.agent(desk.anna) as anna, desk.agent(desk.bert) as bert:
        posts = [(client, token(client, desk.page)) for client in (anna, bert)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            responses = list(pool.map(lambda post: post[0].post(f"{desk.page}/take", data={"csrf_token": post[1]}),
                                      posts))
    assert sorted(response.status_code for response in responses) == [303, 409]
    winner = desk.anna if responses[0].status_code == 303 else desk.bert
    loser_page = next(response for response in responses if response.status_code == 409).text
    assert ("Anna" if winner == desk.anna else "Bert") in loser_page
    with transaction(desk.database_url) as session:
        assert session.get(HandoffRequest, desk.handoff_id).assigned_agent_id == winner
    assert [call[0] for call in desk.rasa.calls] == ["pause"]
