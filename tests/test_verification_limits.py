"""Verification limits across conversations, and cancelling without verification (issue 7, finding 2).

Plain logic and actions against real SQLite and PostgreSQL; the e2e tests over HTTP are in
tests/test_e2e_verification_lock.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.forms import ValidateVerificationForm
from actions.handoff import ActionRequestHuman
from actions.requests import ActionServeRequest
from actions.verification_lock import ActionSubmitCancellationRequest, ValidateUnverifiedCancellationForm
from bot.assistant.cancellation_requests import (
    clean_name,
    looks_like_email,
    open_requests,
    submit_cancellation_request,
)
from bot.assistant.verification import Secret
from bot.assistant.verification_limits import (
    Limits,
    active_lock,
    checked_verification,
    client_key,
    release_lock,
)
from bot.records.database import transaction
from bot.records.models import CancellationRequest, HandoffRequest, OutboxEmail, VerificationAttempt, VerificationLock
from bot.settings import Settings
from tests.factories import add_customer, tracker

DOMAIN: dict = {}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
RIGHT, WRONG = Secret(postcode="10115"), Secret(postcode="99999")
DEFAULT_LIMITS = Limits()


@pytest.fixture
def records(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    for name in ("VERIFICATION_MAX_FAILURES", "VERIFICATION_WINDOW_HOURS", "VERIFICATION_LOCK_HOURS",
                 "VERIFICATION_CLIENT_MAX_FAILURES", "VERIFICATION_CLIENT_WINDOW_MINUTES",
                 "VERIFICATION_CLIENT_LOCK_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    with transaction(database_url) as session:
        add_customer(session, number="K400001", plan_code="MOBIL_M", postcode="10115")
        add_customer(session, number="K400002", plan_code="MOBIL_M", postcode="10115")
    return database_url


def attempt(url: str, number: str, secret: Secret, *, at: datetime, conversation: str = "c1",
            client: str | None = None, limits: Limits = DEFAULT_LIMITS) -> str:
    with transaction(url) as session:
        outcome = checked_verification(session, customer_number=number, secret=secret,
                                       client=client or f"conversation:{conversation}", conversation_id=conversation,
                                       now=at, limits=limits)
    return outcome.result


def test_five_failures_across_conversations_lock_the_number_even_for_the_right_postcode(records: str) -> None:
    results = [attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=i), conversation=f"c{i}")
               for i in range(5)]
    assert results == ["failed"] * 4 + ["locked"], "the fifth failure in 24 h locks, whatever the conversation"
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(hours=1), conversation="c9") == "locked"
    with transaction(records) as session:
        lock = session.scalars(select(VerificationLock)).one()
        assert (lock.customer_number, lock.failures, lock.conversation_id) == ("K400001", 5, "c4")
        assert lock.locked_until == T0 + timedelta(minutes=4, hours=24)
        assert lock.locked_at.tzinfo is not None
        outcomes = [a.outcome for a in session.scalars(select(VerificationAttempt).order_by(VerificationAttempt.id))]
        assert outcomes == ["failed"] * 5 + ["refused"]
    # Another number is not affected.
    assert attempt(records, "K400002", RIGHT, at=T0 + timedelta(hours=1), conversation="c10") == "verified"


def test_a_number_nobody_has_is_counted_and_locked_exactly_like_an_existing_one(records: str) -> None:
    existing = [attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=i), conversation=f"e{i}")
                for i in range(7)]
    unknown = [attempt(records, "K499999", WRONG, at=T0 + timedelta(minutes=i), conversation=f"u{i}")
               for i in range(7)]
    assert existing == unknown == ["failed"] * 4 + ["locked"] * 3
    with transaction(records) as session:
        assert {lock.customer_number for lock in session.scalars(select(VerificationLock))} == {"K400001", "K499999"}


def test_failures_older_than_the_window_do_not_count(records: str) -> None:
    for i in range(4):
        attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=i))
    later = T0 + timedelta(hours=24, minutes=5)
    assert attempt(records, "K400001", WRONG, at=later) == "failed"
    assert attempt(records, "K400001", RIGHT, at=later + timedelta(minutes=1)) == "verified"


def test_the_lock_ends_after_the_lock_time_and_counting_starts_afresh(records: str) -> None:
    for i in range(5):
        attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=i), conversation=f"c{i}")
    locked_until = T0 + timedelta(minutes=4, hours=24)
    assert attempt(records, "K400001", RIGHT, at=locked_until - timedelta(seconds=1)) == "locked"
    assert attempt(records, "K400001", WRONG, at=locked_until + timedelta(seconds=1)) == "failed"
    assert attempt(records, "K400001", RIGHT, at=locked_until + timedelta(seconds=2)) == "verified"


def test_configured_limits_apply(records: str) -> None:
    limits = Limits.from_settings(Settings.from_env({"VERIFICATION_MAX_FAILURES": "2", "VERIFICATION_LOCK_HOURS": "1",
                                                     "VERIFICATION_WINDOW_HOURS": "2"}))
    assert (limits.max_failures, limits.lock_for, limits.window) == (2, timedelta(hours=1), timedelta(hours=2))
    assert attempt(records, "K400001", WRONG, at=T0, limits=limits) == "failed"
    assert attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=1), limits=limits) == "locked"
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(minutes=62), limits=limits) == "verified"


def test_settings_reject_nonsense() -> None:
    defaults = Limits.from_settings(Settings.from_env({}))
    assert defaults == Limits()
    assert (defaults.max_failures, defaults.window, defaults.lock_for) == (5, timedelta(hours=24),
                                                                          timedelta(hours=24))
    with pytest.raises(ValueError, match="VERIFICATION_MAX_FAILURES must be at least 1"):
        Settings.from_env({"VERIFICATION_MAX_FAILURES": "0"})
    with pytest.raises(ValueError, match="VERIFICATION_LOCK_HOURS must be a whole number"):
        Settings.from_env({"VERIFICATION_LOCK_HOURS": "ein Tag"})


def test_a_success_resets_the_count_of_the_number_but_not_of_the_client(records: str) -> None:
    client = "address:203.0.113.7"
    for i in range(4):
        attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=i), client=client)
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(minutes=5), client=client) == "verified"
    assert [attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=6 + i), client=client)
            for i in range(4)] == ["failed"] * 4
    # 8 failures of this client so far; two more (any number) reach the client limit of 10.
    assert attempt(records, "K400002", WRONG, at=T0 + timedelta(minutes=11), client=client) == "failed"
    assert attempt(records, "K400002", WRONG, at=T0 + timedelta(minutes=12), client=client) == "locked"


def test_one_client_trying_many_numbers_is_stopped(records: str) -> None:
    client = "address:198.51.100.23"
    numbers = [f"K4100{i:02d}" for i in range(10)]
    results = [attempt(records, number, WRONG, at=T0 + timedelta(minutes=i), conversation=f"c{i}", client=client)
               for i, number in enumerate(numbers)]
    assert results == ["failed"] * 9 + ["locked"], "10 failures in an hour, each number tried only once"
    # Even a right answer for another number is not checked for this client now ...
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(minutes=20), client=client) == "locked"
    # ... while other clients, and the number itself, are not affected.
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(minutes=20), client="address:192.0.2.1") == "verified"
    with transaction(records) as session:
        lock = session.scalars(select(VerificationLock)).one()
        assert (lock.client_key, lock.customer_number, lock.failures) == (client, None, 10)
        assert lock.locked_until == T0 + timedelta(minutes=69)
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(minutes=70), client=client) == "verified"


def test_an_agent_can_release_a_lock(records: str) -> None:
    for i in range(5):
        attempt(records, "K400001", WRONG, at=T0 + timedelta(minutes=i))
    with transaction(records) as session:
        lock = active_lock(session, customer_number="K400001", client="conversation:x", now=T0 + timedelta(hours=1))
        assert lock is not None
        release_lock(session, lock_id=lock.id, released_by="agent-17", now=T0 + timedelta(hours=2))
    assert attempt(records, "K400001", WRONG, at=T0 + timedelta(hours=3)) == "failed", "counting starts afresh"
    assert attempt(records, "K400001", RIGHT, at=T0 + timedelta(hours=3, minutes=1)) == "verified"
    with transaction(records) as session, pytest.raises(LookupError):
        release_lock(session, lock_id=999_999, released_by="agent-17", now=T0)


def test_client_key_is_the_peer_address_else_the_conversation() -> None:
    assert client_key("203.0.113.7", "abc") == "address:203.0.113.7"
    assert client_key(None, "abc") == client_key("  ", "abc") == client_key(42, "abc") == "conversation:abc"
    assert len(client_key("x" * 500, "abc")) == 200


# --- the form and the actions, as the action server calls them ---------------------------------------------------

async def _secret_turn(number: str, secret: str, *, sender: str, failures: int = 0,
                       metadata: dict | None = None) -> tuple[dict, str]:
    dispatcher = CollectingDispatcher()
    said = tracker(slots={"customer_id": number, "verification_failures": float(failures)}, text=secret,
                   sender=sender)
    if metadata is not None:
        said.latest_message["metadata"] = metadata
    result = await ValidateVerificationForm().validate_verification_secret(secret, dispatcher, said, DOMAIN)
    return result, "\n".join(m.get("text") or "" for m in dispatcher.messages)


async def test_new_conversations_do_not_reset_the_count(records: str) -> None:
    texts = []
    for conversation, failures in (("conv-1", 0), ("conv-1", 1), ("conv-1", 2), ("conv-2", 0), ("conv-2", 1)):
        result, text = await _secret_turn("K400001", "99999", sender=conversation, failures=failures)
        texts.append(text)
    assert result["verification_locked"] is True and result["verification_failures"] == 3
    third, text = await _secret_turn("K400001", "10115", sender="conv-3")
    assert "verified_customer" not in third and third["verification_locked"] is True
    assert "identifiziert" not in text and "Mustermann" not in text
    # The number step of a new conversation already says it: nothing more is asked.
    dispatcher = CollectingDispatcher()
    number = await ValidateVerificationForm().validate_customer_id(
        "K400001", dispatcher, tracker(intent="identify", text="K400001", sender="conv-4"), DOMAIN)
    assert number["verification_locked"] is True and number["customer_id"] is None


async def test_the_peer_address_in_the_metadata_limits_one_client_across_conversations(records: str) -> None:
    for i in range(10):
        result, _ = await _secret_turn(f"K4200{i:02d}", "99999", sender=f"enum-{i}",
                                       metadata={"client_address": "203.0.113.99"})
    assert result.get("verification_locked") is True
    blocked, _ = await _secret_turn("K400002", "10115", sender="enum-new", metadata={"client_address": "203.0.113.99"})
    assert blocked.get("verification_locked") is True and "verified_customer" not in blocked
    other, _ = await _secret_turn("K400002", "10115", sender="someone-else", metadata={"client_address": "192.0.2.5"})
    assert other["verified_customer"] is not None


async def test_locked_cancellation_offers_submitting_it_and_a_human(records: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="cancel_now", slots={"verification_locked": True, "verification_failures": 3.0}), DOMAIN)
    payloads = [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []]
    assert payloads == ["/cancel_now", "/request_human"]  # "Kündigung ohne Identifizierung absenden", a human
    assert "vorübergehend gesperrt" in dispatcher.messages[0]["text"]
    assert not any(e.get("event") == "active_loop" and e.get("name") for e in events), "no further attempt"
    assert {"event": "slot", "name": "unverified_cancellation_offered", "value": True} in [
        {k: e.get(k) for k in ("event", "name", "value")} for e in events]
    # Pressing it opens the form for name, number and e-mail or postal address.
    dispatcher = CollectingDispatcher()
    events = await ActionServeRequest().run(dispatcher, tracker(
        intent="cancel_now", slots={"verification_locked": True, "unverified_cancellation_offered": True}), DOMAIN)
    assert dispatcher.messages == []
    assert {"event": "active_loop", "name": "unverified_cancellation_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events]
    # Another request while locked: a human, no cancellation button.
    dispatcher = CollectingDispatcher()
    await ActionServeRequest().run(dispatcher, tracker(intent="ask_bill", slots={"verification_locked": True}),
                                   DOMAIN)
    assert [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []] == ["/request_human",
                                                                                          "/deny"]
    # Pressing the human button opens a handoff request marked as a verification lock.
    await ActionRequestHuman().run(CollectingDispatcher(), tracker(
        intent="request_human", slots={"verification_locked": True}, sender="locked-1"), DOMAIN)
    with transaction(records) as session:
        assert session.scalars(select(HandoffRequest)).one().reason == "verification_locked"


async def test_three_failures_in_one_conversation_also_offer_the_cancellation(records: str) -> None:
    dispatcher = CollectingDispatcher()
    await ActionServeRequest().run(dispatcher, tracker(intent="cancel_now", slots={"verification_failures": 3.0}),
                                   DOMAIN)
    assert "/cancel_now" in [b["payload"] for m in dispatcher.messages for b in m.get("buttons")]
    assert "Kündigung ohne Identifizierung absenden" in [b["title"] for m in dispatcher.messages
                                                         for b in m.get("buttons")]


def test_each_value_of_the_cancellation_form_is_checked() -> None:
    form, d = ValidateUnverifiedCancellationForm(), CollectingDispatcher()
    assert form.validate_cancellation_request_name("  Erika   Mustermann ", d, tracker(), DOMAIN) == {
        "cancellation_request_name": "Erika Mustermann"}
    assert form.validate_cancellation_request_name("   ", d, tracker(), DOMAIN) == {"cancellation_request_name": None}
    assert form.validate_cancellation_request_name("12345", d, tracker(), DOMAIN) == {"cancellation_request_name": None}
    assert form.validate_cancellation_request_number("k 400 001", d, tracker(), DOMAIN) == {
        "cancellation_request_number": "K400001"}
    assert form.validate_cancellation_request_number("weiß nicht", d, tracker(), DOMAIN) == {
        "cancellation_request_number": None}
    assert form.validate_cancellation_request_contact("meine ist erika@mail.example", d, tracker(), DOMAIN) == {
        "cancellation_request_contact": "erika@mail.example"}
    assert form.validate_cancellation_request_contact("Am  Markt 3,\n 10115 Berlin", d, tracker(), DOMAIN) == {
        "cancellation_request_contact": "Am Markt 3, 10115 Berlin"}
    assert form.validate_cancellation_request_contact("erika at mail", d, tracker(), DOMAIN) == {
        "cancellation_request_contact": None}
    assert form.validate_cancellation_request_contact("10115", d, tracker(), DOMAIN) == {
        "cancellation_request_contact": None}
    texts = [m["text"] for m in d.messages]
    assert len(texts) == 5 and "E-Mail-Adresse" in texts[-1] and "Anschrift" in texts[-1]
    assert looks_like_email("a@b") is None and clean_name("x" * 201) is None


def test_a_cancellation_request_confirms_receipt_only_to_the_address_on_file(records: str) -> None:
    at = datetime(2026, 7, 1, 10, 5, tzinfo=timezone.utc)  # 12:05 in Berlin (summer time)
    with transaction(records) as session:
        matched = submit_cancellation_request(session, customer_number="k400001", name="Erika Mustermann",
                                              email="K400001@Mail.Example ", conversation_id="c1", now=at,
                                              company="Nordstern")
        wrong_mail = submit_cancellation_request(session, customer_number="K400002", name="Erika Mustermann",
                                                 email="attacker@evil.example", conversation_id="c2", now=at,
                                                 company="Nordstern")
        unknown = submit_cancellation_request(session, customer_number="K499999", name="Max Muster",
                                              email="max@mail.example", conversation_id="c3", now=at,
                                              company="Nordstern")
        by_address = submit_cancellation_request(session, customer_number="K400002", name="Erika Mustermann",
                                                 email=None, postal_address="Am Markt 3, 10115 Berlin",
                                                 conversation_id="c4", now=at, company="Nordstern")
        wrong_address = submit_cancellation_request(session, customer_number="K400002", name="Erika Mustermann",
                                                    email=None, postal_address="Hauptstr. 1, 80331 München",
                                                    conversation_id="c5", now=at, company="Nordstern")
        with pytest.raises(ValueError, match="e-mail address or the postal address"):
            submit_cancellation_request(session, customer_number="K400002", name="Erika Mustermann", email=None,
                                        conversation_id="c6", now=at, company="Nordstern")
    assert matched.outbox_email_id is not None and by_address.outbox_email_id is not None
    assert wrong_mail.outbox_email_id is None and unknown.outbox_email_id is None
    assert wrong_address.outbox_email_id is None
    # The chat answer is the same whether or not the data matched a customer, and says nothing about one.
    texts = {r.reply.text.replace(r.reference, "REF") for r in (matched, wrong_mail, unknown, by_address,
                                                                 wrong_address)}
    assert len(texts) == 1
    text = texts.pop()
    assert "01.07.2026 um 12:05 Uhr" in text and "Mustermann" not in text and "@" not in text
    with transaction(records) as session:
        rows = {r.conversation_id: r for r in session.scalars(select(CancellationRequest))}
        assert rows["c1"].customer_id is not None and rows["c1"].status == "received"
        assert rows["c1"].customer_number == "K400001" and rows["c1"].received_at == at
        assert rows["c2"].customer_id is None and rows["c2"].email == "attacker@evil.example"
        assert rows["c3"].customer_id is None
        assert rows["c4"].customer_id is not None and rows["c4"].postal_address == "Am Markt 3, 10115 Berlin"
        assert rows["c5"].customer_id is None
        assert {r.conversation_id for r in open_requests(session)} == {"c1", "c2", "c3", "c4", "c5"}
        mails = {m.recipient: m for m in session.scalars(select(OutboxEmail))}
        assert set(mails) == {"k400001@mail.example", "k400002@mail.example"}, "only ever to the address on file"
        mail = mails["k400001@mail.example"]
        assert matched.reference in mail.subject and "01.07.2026 um 12:05 Uhr" in mail.body
        assert "Am Markt 3" in mails["k400002@mail.example"].body


async def test_submitting_the_form_records_and_answers_without_customer_data(records: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitCancellationRequest().run(dispatcher, tracker(
        sender="submit-1", slots={"cancellation_request_name": "Erika Mustermann",
                                  "cancellation_request_number": "K400002",
                                  "cancellation_request_contact": "k400002@mail.example"}), DOMAIN)
    text = dispatcher.messages[0]["text"]
    assert "eingegangen" in text and "Referenznummer: KE-" in text and "Mustermann" not in text
    cleared = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert cleared["cancellation_request_contact"] is None
    with transaction(records) as session:
        request = session.scalars(select(CancellationRequest)).one()
        assert request.conversation_id == "submit-1" and request.customer_id is not None
        assert request.reference in text
        assert session.scalars(select(OutboxEmail)).one().recipient == "k400002@mail.example"
