"""Data protection for the messaging channels' tables: the retention purge deletes what is older than the
transcript period (message bodies, message ids, phone numbers), erasure removes a customer's WhatsApp
conversation's rows; other customers' rows stay."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from bot.channels.whatsapp import store
from bot.privacy.erasure import erase_customer
from bot.privacy.retention import PurgeReport, purge_transcripts
from bot.records.database import transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import (
    AgentMessage,
    ChannelContact,
    ChannelInboundMessage,
    ChannelOutboundMessage,
    Customer,
    HandoffRequest,
    StaffUser,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


def _conversation(url: str, conversation_id: str, at: datetime, *, agent_message_id: int | None = None) -> None:
    with transaction(url) as session:
        session.add(ChannelInboundMessage(channel="whatsapp", provider_message_id=f"wamid.{conversation_id}",
                                          conversation_id=conversation_id, received_at=at))
        store.touch_contact(session, conversation_id=conversation_id, recipient=conversation_id.split(":")[1], at=at)
        row_id = store.record_outbound(session, conversation_id=conversation_id, kind="text",
                                       body='{"text": {"body": "Ihre Kündigung ..."}}', now=at,
                                       agent_message_id=agent_message_id)
        store.mark_sent(session, row_id, provider_message_id=f"wamid.out.{conversation_id}", attempts=1, now=at)


def _left(url: str) -> dict[str, set[str]]:
    with transaction(url) as session:
        return {
            "inbound": set(session.scalars(select(ChannelInboundMessage.conversation_id))),
            "contacts": set(session.scalars(select(ChannelContact.conversation_id))),
            "outbound": set(session.scalars(select(ChannelOutboundMessage.conversation_id))),
        }


def test_the_purge_deletes_old_channel_rows_and_keeps_recent_ones(database_url: str) -> None:
    with transaction(database_url) as session:
        agent = StaffUser(username="petra", first_name="Petra", password_hash="x", role="agent", created_at=NOW)
        session.add(agent)
        session.flush()
        handoff = HandoffRequest(conversation_id="whatsapp:491700000001", reason="customer_request",
                                 created_at=NOW - timedelta(days=200), channel="whatsapp", status="closed")
        session.add(handoff)
        session.flush()
        message = AgentMessage(handoff_id=handoff.id, conversation_id=handoff.conversation_id, agent_id=agent.id,
                               text="Hallo", created_at=NOW - timedelta(days=200))
        session.add(message)
        session.flush()
        old_agent_message = message.id
    _conversation(database_url, "whatsapp:491700000001", NOW - timedelta(days=200),
                  agent_message_id=old_agent_message)
    _conversation(database_url, "whatsapp:491700000002", NOW - timedelta(days=10))
    report = PurgeReport()
    purge_transcripts(records_url=database_url, event_store_urls=[], cutoff=NOW - timedelta(days=180), report=report)
    assert _left(database_url) == {key: {"whatsapp:491700000002"} for key in ("inbound", "contacts", "outbound")}
    assert (report.channel_messages, report.channel_contacts, report.agent_messages) == (2, 1, 1)


def test_erasure_removes_the_customers_whatsapp_rows(database_url: str) -> None:
    with transaction(database_url) as session:
        seed_demo_customers(session, count=7, seed=7, today=date.today())
    with transaction(database_url) as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        number = customer.customer_number
        session.add(HandoffRequest(conversation_id="whatsapp:491700000003", customer_id=customer.id,
                                   reason="customer_request", created_at=NOW, channel="whatsapp", status="closed"))
    _conversation(database_url, "whatsapp:491700000003", NOW)
    _conversation(database_url, "whatsapp:491700000004", NOW)  # somebody else
    report = erase_customer(number, records_url=database_url, event_store_urls=[])
    assert _left(database_url) == {key: {"whatsapp:491700000004"} for key in ("inbound", "contacts", "outbound")}
    assert report.removed["messaging channel contacts (phone number, chat id)"] == 1
