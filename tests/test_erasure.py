"""Right to erasure: after `erase-customer`, none of the customer's personal values is left in any column of any
table (records, tracker store, analytics event broker), on SQLite and on PostgreSQL; the cancellation is kept."""
from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot import cli
from bot.assistant.cancellation import cancel_contract
from bot.assistant.cancellation_requests import submit_cancellation_request
from bot.conversation_store import RedactingSQLTrackerStore
from bot.privacy.erasure import ERASED, erase_customer
from bot.privacy.masking import personal_values
from bot.records.database import make_engine, transaction
from bot.records.demo_data import seed_demo_customers
from bot.records.models import (
    AgentMessage,
    Cancellation,
    Contract,
    ConversationFact,
    ConversationInsight,
    Customer,
    FallbackMessage,
    HandoffRequest,
    Invoice,
    OutboxEmail,
    SatisfactionRating,
    StaffUser,
    VerificationAttempt,
    VerificationLock,
)
from bot.retention.declaration import CancellationDeclaration

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ANNA, JONAS = "K100001", "K100002"
PHONE = "0171 2345678"
EXTRA = "anna.privat@web.example"
TYPED_ADDRESS = "Hauptstraße 5, 10115 Berlin"


def user(text: str, intent: str, at: float) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9}, timestamp=at,
                       parse_data={"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []})


def bot(text: str, at: float, buttons: list[dict] | None = None, **metadata: str) -> BotUttered:
    return BotUttered(text, data={"buttons": buttons} if buttons else {}, metadata=metadata or None, timestamp=at)


def verified_conversation(start: float, *, number: str, customer_id: int, name: str, postcode: str,
                          phone: str = PHONE, address: str = TYPED_ADDRESS) -> list[Event]:
    """Verification, a question, a handoff with a callback and an agent's message."""
    t = iter(start + i for i in range(100))
    return [
        user("Hallo, ich brauche Hilfe mit meiner Rechnung", "ask_bill", next(t)),
        ActionExecuted("action_serve_request", timestamp=next(t)),
        bot("Gern. Wie lautet Ihre Kundennummer?", next(t)),
        ActiveLoop("verification_form", timestamp=next(t)),
        SlotSet("requested_slot", "customer_id", timestamp=next(t)),
        ActionExecuted("action_listen", timestamp=next(t)),
        user(f"{number}, mein Name ist {name}", "identify", next(t)),
        SlotSet("customer_id", number, timestamp=next(t)),
        SlotSet("requested_slot", "verification_secret", timestamp=next(t)),
        ActionExecuted("action_listen", timestamp=next(t)),
        user(postcode, "identify", next(t)),
        SlotSet("verification_secret", "verified", timestamp=next(t)),
        SlotSet("verified_customer", float(customer_id), timestamp=next(t)),
        ActiveLoop(None, timestamp=next(t)),
        bot(f"Danke, {name.split()[0]}, Sie sind identifiziert.", next(t)),
        user(f"Bitte rufen Sie mich unter {phone} an, ich wohne übrigens {address}", "request_human", next(t)),
        bot(f"Petra: Guten Tag {name}, ich rufe Sie gleich an.", next(t), agent="Petra"),
    ]


def cancellation_conversation(start: float, *, number: str, customer_id: int, contract: str,
                              email: str) -> list[Event]:
    t = iter(start + i for i in range(100))
    return [
        user(f"Ich will kündigen. {number}", "cancel_contract", next(t)),
        SlotSet("customer_id", number, timestamp=next(t)),
        SlotSet("verified_customer", float(customer_id), timestamp=next(t)),
        bot("Schade! Darf ich Ihnen 20 % Rabatt anbieten?", next(t),
            buttons=[{"title": "Angebot annehmen", "payload": "/affirm"},
                     {"title": "Jetzt kündigen", "payload": "/cancel_now"}]),
        user("/cancel_now", "cancel_now", next(t)),
        SlotSet("contract_number", contract, timestamp=next(t)),
        bot(f"Ihr Vertrag {contract} ist gekündigt. Die Bestätigung geht an {email} und {EXTRA}.", next(t)),
    ]


async def _save(store: RedactingSQLTrackerStore, sender: str, events: list[Event]) -> None:
    await store.save(DialogueStateTracker.from_events(sender, events))


def _tracker_store(url: str) -> RedactingSQLTrackerStore:
    if url.startswith("sqlite"):
        return RedactingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=url.removeprefix("sqlite:///"))
    return RedactingSQLTrackerStore(Domain.empty(), dialect="postgresql", host=url)


def all_cells(url: str) -> list[tuple[str, str, str]]:
    """(table, column, text) for every non-empty cell of every table; JSON also decoded (umlauts as typed)."""
    engine = make_engine(url)
    cells: list[tuple[str, str, str]] = []
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)).mappings():
                    for column, value in row.items():
                        # Numbers (ids, cents, counts) are no personal data, even when an id happens to equal a
                        # postcode ("invoices.id 10115" on a long-lived test database); text, dates and JSON are.
                        if value is None or isinstance(value, bool | int | float):
                            continue
                        text = str(value)
                        if text[:1] in "{[":
                            try:
                                text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
                            except ValueError:
                                pass
                        cells.append((table.name, column, text))
    finally:
        engine.dispose()
    return cells


def leftovers(urls: list[str], values: list[str]) -> list[str]:
    patterns = [(v, re.compile(r"(?<![\w@.])" + re.escape(v) + r"(?![\w@])", re.IGNORECASE)) for v in values]
    found = []
    for url in urls:
        for table, column, text in all_cells(url):
            found += [f"{table}.{column}: {v!r} in {text[:120]!r}" for v, p in patterns if p.search(text)]
    return found


async def test_erasure_leaves_no_personal_value_in_any_table_and_keeps_the_cancellation(
        database_url: str, stores: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    tracker_url, broker_url = stores
    with transaction(database_url) as session:
        seed_demo_customers(session, count=30, seed=7, today=NOW.date())
    with transaction(database_url) as session:
        anna = session.scalars(select(Customer).where(Customer.customer_number == ANNA)).one()
        jonas = session.scalars(select(Customer).where(Customer.customer_number == JONAS)).one()
        anna_id, jonas_id = anna.id, jonas.id
        contract = session.scalars(select(Contract).where(Contract.customer_id == anna.id)).first()
        contract_id, contract_number = contract.id, contract.contract_number
        anna_name, anna_email, anna_postcode = anna.full_name, anna.email, anna.postcode
        jonas_name = jonas.full_name
        invoices_before = session.scalar(select(sa.func.count()).select_from(Invoice))
        done = cancel_contract(session, customer_id=anna.id, contract_id=contract.id, reason="price",
                               conversation_id="conv-1-cancel", declined_offer_code=None, now=NOW,
                               company="Nordstern Telekom", identity_verified=True,
                               declaration=CancellationDeclaration(extra_recipient=EXTRA))
        submit_cancellation_request(session, customer_number=ANNA, name=anna_name, email=None,
                                    postal_address=TYPED_ADDRESS, conversation_id="conv-1-request", now=NOW,
                                    company="Nordstern Telekom")
        agent = StaffUser(username="petra", first_name="Petra", password_hash="x", role="agent", created_at=NOW)
        session.add(agent)
        session.flush()
        handoff = HandoffRequest(conversation_id="conv-1-help", customer_id=anna.id, reason="request_human",
                                 created_at=NOW, status="taken", assigned_agent_id=agent.id, taken_at=NOW,
                                 callback_phone=PHONE, callback_window="heute 18-19 Uhr")
        session.add(handoff)
        session.flush()
        session.add(AgentMessage(handoff_id=handoff.id, conversation_id="conv-1-help", agent_id=agent.id,
                                 text=f"Guten Tag {anna_name}, ich rufe Sie gleich an.", created_at=NOW))
        session.add_all([
            VerificationAttempt(customer_number=ANNA, client_key="10.0.0.7", outcome="failed", attempted_at=NOW,
                                conversation_id="conv-1-help"),
            VerificationLock(customer_number=ANNA, locked_at=NOW, locked_until=NOW + timedelta(hours=1),
                             failures=5, conversation_id="conv-1-help"),
            ConversationInsight(conversation_id="conv-1-help", customer_id=anna.id, dissatisfaction=0.7,
                                peak_dissatisfaction=0.8, reasons="repeated", updated_at=NOW),
            SatisfactionRating(conversation_id="conv-1-help", customer_id=anna.id, rating=2, created_at=NOW),
            ConversationFact(conversation_id="conv-1-help", channel="socketio", started_at=NOW, ended_at=NOW,
                             customer_id=anna.id, segment="standard", contract_id=contract.id, messages=3,
                             outcome="handed_off", updated_at=NOW),
            ConversationFact(conversation_id="conv-2-other", channel="socketio", started_at=NOW, ended_at=NOW,
                             customer_id=jonas.id, segment="premium", messages=2, updated_at=NOW),
            FallbackMessage(conversation_id="conv-1-help", text=f"meine mail ist {anna_email}", at=NOW),
            FallbackMessage(conversation_id="conv-2-other", text="wie geht das mit dem router", at=NOW),
        ])
        values = personal_values(session, anna.id) + [PHONE, EXTRA, "Hauptstraße 5"]
        others = set()
        for other in session.scalars(select(Customer.id).where(Customer.id != anna.id)):
            others |= {v.lower() for v in personal_values(session, other)}
    # Values another customer shares (a first name, say) cannot be told apart; every other value must go.
    anna_values = sorted(v for v in set(values) if v.lower() not in others)
    assert {ANNA, anna_email, anna_name, contract_number, anna_postcode, PHONE, EXTRA} <= set(anna_values)

    start = NOW.timestamp() - 3600
    store = _tracker_store(tracker_url)
    conversations = {
        "conv-1-help": verified_conversation(start, number=ANNA, customer_id=anna_id, name=anna_name,
                                                postcode=anna_postcode),
        "conv-1-cancel": cancellation_conversation(start + 200, number=ANNA, customer_id=anna_id,
                                                      contract=contract_number, email=anna_email),
        # Named only in the text, linked to nothing in the records: found by her number.
        "conv-1-unlinked": [user(f"Hallo, hier ist {anna_name}, Kundennummer {ANNA}", "greet", start + 400),
                               bot("Guten Tag! Wie kann ich helfen?", start + 401)],
        "conv-2-other": verified_conversation(start + 600, number=JONAS, customer_id=jonas_id, name=jonas_name,
                                            postcode="80331", phone="089 9876543", address="Lindenweg 3, 80331 München"),
    }
    broker = SQLEventBroker(db=broker_url.removeprefix("sqlite:///"))
    for sender, events in conversations.items():
        await _save(store, sender, events)
        for event in events:
            broker.publish({"sender_id": sender, **event.as_dict()})
    store.engine.dispose()
    broker.engine.dispose()
    urls = [database_url, tracker_url, broker_url]
    assert len(leftovers(urls, anna_values)) > 20, "the set-up must put her values everywhere"

    jonas_events_before = [c for c in all_cells(tracker_url) if c[0] == "events" and "conv-2-other" in c[2]]
    report = erase_customer(ANNA, records_url=database_url, event_store_urls=[tracker_url], broker_urls=[broker_url])
    print(report.text())

    assert leftovers(urls, anna_values) == []
    assert report.conversations_deleted == ["conv-1-help", "conv-1-unlinked"]
    assert report.conversations_anonymised == ["conv-1-cancel", "conv-1-request"]
    output = capsys.readouterr().out
    assert "Kept, and why:" in output and "§ 312k BGB" in output and "§ 147 AO" in output
    with transaction(database_url) as session:
        cancellation = session.scalars(select(Cancellation).where(Cancellation.customer_id == anna_id)).one()
        assert cancellation.confirmation_number == done.confirmation_number
        assert cancellation.contract_id == contract_id and cancellation.extra_recipient is None
        assert session.get(Contract, contract_id).status == "cancelled"
        assert session.scalar(select(sa.func.count()).select_from(Invoice)) == invoices_before
        assert session.scalars(select(HandoffRequest)).all() == []
        assert session.scalars(select(VerificationLock)).all() == []
        facts = {f.conversation_id: f.customer_id for f in session.scalars(select(ConversationFact))}
        assert facts == {"conv-1-help": None, "conv-2-other": jonas_id}
        assert [m.conversation_id for m in session.scalars(select(FallbackMessage))] == ["conv-2-other"]
        assert session.get(Customer, jonas_id).full_name == jonas_name
        erased_mails = session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == ERASED)).all()
        assert len(erased_mails) == 3 and all(done.confirmation_number in m.subject for m in erased_mails[:2])
        assert all(m.next_attempt_at.year == 9999 and "erased" in m.last_error for m in erased_mails), \
            "no delivery is tried to an erased address"
    # The other customer's conversation is untouched; the cancellation conversation still shows the button.
    assert [c for c in all_cells(tracker_url) if c[0] == "events" and "conv-2-other" in c[2]] == jonas_events_before
    cancel_cells = " ".join(c[2] for c in all_cells(tracker_url) if c[0] == "events" and c[1] == "data")
    assert "/cancel_now" in cancel_cells and "[Vertragsnummer]" in cancel_cells


def test_the_command_prints_what_it_kept_and_refuses_unknown_numbers(
        sqlite_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with transaction(sqlite_database_url) as session:
        seed_demo_customers(session, count=7, seed=7, today=date.today())
    monkeypatch.setenv("DATABASE_URL", sqlite_database_url)
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'conversations.db'}")
    monkeypatch.setenv("ANALYTICS_EVENTS_URL", "off")
    assert cli.main(["erase-customer", "K100003"]) == 0
    output = capsys.readouterr().out
    assert "Erased customer K100003" in output and "Kept, and why:" in output
    assert cli.main(["erase-customer", "K100003"]) == 1, "the number is gone"
    assert "No customer has the number K100003" in capsys.readouterr().err
    with transaction(sqlite_database_url) as session:
        assert session.scalars(select(Customer).where(Customer.first_name == "Fatma")).all() == []
