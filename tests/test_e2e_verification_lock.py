"""Verification cannot be brute-forced by starting new conversations (issue 7, finding 2), over real HTTP.

The Rasa and action servers run on free ports on a fresh seeded SQLite database; every conversation
is a new sender id on the REST channel. All requests come from 127.0.0.1, so the per-client limit is
raised for this module's assistant (it would otherwise count all tests together once the channel
reports the peer address) and tested with a low limit on a second assistant.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.records.database import transaction
from bot.records.models import (
    Cancellation,
    CancellationRequest,
    Customer,
    OutboxEmail,
    VerificationAttempt,
    VerificationLock,
)
from tests.servers import RunningAssistant, running_assistant, seeded_records

pytestmark = pytest.mark.e2e
LOCKED = "vorübergehend gesperrt"


@pytest.fixture(scope="module")
def lock_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAssistant]:
    workdir = tmp_path_factory.mktemp("lock-assistant")
    with running_assistant(seeded_records(workdir), workdir, web_app=False,
                           extra_env={"VERIFICATION_CLIENT_MAX_FAILURES": "1000"}) as running:
        yield running


class Chat:
    """One conversation (its own sender id) over the REST channel."""

    def __init__(self, http: httpx.AsyncClient, assistant: RunningAssistant, metadata: dict | None = None) -> None:
        self.http, self.assistant, self.metadata = http, assistant, metadata
        self.sender = f"lock-{uuid.uuid4().hex[:12]}"

    async def say(self, text: str) -> list[dict]:
        body: dict = {"sender": self.sender, "message": text}
        if self.metadata is not None:
            body["metadata"] = self.metadata
        response = await self.http.post(self.assistant.rest_url, json=body)
        response.raise_for_status()
        return response.json()

    async def text(self, text: str) -> str:
        return "\n".join(m.get("text", "") for m in await self.say(text))


def buttons(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


async def _fail(chat: Chat, number: str, secrets: list[str]) -> list[str]:
    """Give the number and a wrong secret for each of `secrets`; the replies to the secrets."""
    replies = []
    for secret in secrets:
        await chat.say(number)
        replies.append("\n".join(m.get("text", "") for m in await chat.say(secret)))
    return replies


async def _to_the_cancellation_without_verification(chat: Chat) -> None:
    """A new conversation cancelling with the locked K100005 and accepting to cancel without verification."""
    await chat.say("/cancel_now")
    assert "/cancel_now" in buttons(await chat.say("K100005"))
    assert "Name" in await chat.text("/cancel_now")


async def test_new_conversations_do_not_reset_the_count_and_the_right_postcode_then_does_not_verify(
        lock_assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    first = Chat(client, lock_assistant)
    await first.say("Was steht auf meiner letzten Rechnung?")
    replies = await _fail(first, "K100003", ["99999", "01.01.1950", "12345"])
    assert "Versuch 2 von 3" in replies[0] and "Versuch 3 von 3" in replies[1]
    assert "nicht identifizieren" in replies[2]

    second = Chat(client, lock_assistant)
    await second.say("Was steht auf meiner letzten Rechnung?")
    replies = await _fail(second, "K100003", ["11111", "22222"])
    assert LOCKED in replies[1], "the fifth failure, counted across conversations, locks the number"
    again = await second.say("Was steht auf meiner letzten Rechnung?")
    assert LOCKED in "\n".join(m.get("text", "") for m in again) and "/request_human" in buttons(again)

    third = Chat(client, lock_assistant)
    await third.say("Was steht auf meiner letzten Rechnung?")
    at_number = await third.text("K100003")
    assert LOCKED in at_number, "a new conversation is told at once; nothing more is asked"
    right = await third.text("50667")  # the right postcode
    for reply in (at_number, right):
        assert "identifiziert" not in reply.replace("nicht identifizieren", "")
        assert "Yilmaz" not in reply and "Fatma" not in reply and "€" not in reply and "V10000003" not in reply
    bill = await third.text("Was steht auf meiner letzten Rechnung?")
    assert LOCKED in bill and "€" not in bill

    with transaction(lock_assistant.database_url) as session:
        lock = session.scalars(select(VerificationLock).where(VerificationLock.customer_number == "K100003")).one()
        assert lock.failures == 5 and lock.conversation_id == second.sender and lock.released_at is None
        attempts = session.scalars(select(VerificationAttempt).where(
            VerificationAttempt.customer_number == "K100003")).all()
        assert sum(a.outcome == "failed" for a in attempts) == 5
        assert not any(a.outcome == "verified" for a in attempts)
    handoff = await third.text("/request_human")
    assert "Vorgang H-" in handoff


async def test_a_number_nobody_has_gets_byte_identical_answers(lock_assistant: RunningAssistant,
                                                                client: httpx.AsyncClient) -> None:
    async def transcript(number: str) -> list[list[dict]]:
        said: list[list[dict]] = []
        for secrets in (["99999", "98765", "11111"], ["22222", "33333"], ["44444"]):
            chat = Chat(client, lock_assistant)
            said.append(await chat.say("Wann endet mein Vertrag?"))
            for secret in secrets:
                said.append(await chat.say(number))
                said.append(await chat.say(secret))
        # Everything the customer sees, byte for byte (the recipient is the conversation's own id).
        return [[{k: v for k, v in m.items() if k != "recipient_id"} for m in turn] for turn in said]

    existing, unknown = await transcript("K100002"), await transcript("K199999")
    assert json.dumps(existing, ensure_ascii=False) == json.dumps(unknown, ensure_ascii=False)
    assert LOCKED in json.dumps(existing, ensure_ascii=False)
    with transaction(lock_assistant.database_url) as session:
        locked = {lock.customer_number for lock in session.scalars(select(VerificationLock))}
    assert {"K100002", "K199999"} <= locked


async def test_a_locked_customer_can_still_cancel_and_the_receipt_goes_only_to_the_address_on_file(
        lock_assistant: RunningAssistant, client: httpx.AsyncClient) -> None:
    url = lock_assistant.database_url
    with transaction(url) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_number == "K100005")).one()
        on_file, first_name, last_name = customer.email, customer.first_name, customer.last_name
    first = Chat(client, lock_assistant)
    await first.say("/cancel_now")
    await _fail(first, "K100005", ["99999", "88888", "77777"])
    second = Chat(client, lock_assistant)
    await second.say("/cancel_now")
    await _fail(second, "K100005", ["66666", "55555"])

    chat = Chat(client, lock_assistant)
    await chat.say("Ich möchte meinen Vertrag kündigen")
    await chat.say("/cancel_now")
    offered = await chat.say("K100005")
    offered_text = "\n".join(m.get("text", "") for m in offered)
    assert LOCKED in offered_text
    assert buttons(offered) == ["/cancel_now", "/request_human"]  # "Kündigung ohne Identifizierung absenden"
    assert "Name" in await chat.text("/cancel_now")
    assert "Kundennummer" in await chat.text(f"{first_name} {last_name}")
    assert "E-Mail" in await chat.text("K100005")
    receipt = await chat.text(on_file.upper())
    assert "eingegangen" in receipt and " Uhr" in receipt and "Referenznummer: KE-" in receipt
    for private in (on_file, first_name, last_name, "MOBIL", "Mobil", "V10000005", "€"):
        assert private.lower() not in receipt.lower()

    # Someone else tries with a typed address: the same answer, no e-mail to the typed address.
    other = Chat(client, lock_assistant)
    await _to_the_cancellation_without_verification(other)
    await other.say(f"{first_name} {last_name}")
    await other.say("K100005")
    other_receipt = await other.text("jemand@fremd.example")
    # Not knowing the e-mail address, the customer gives the postal address (its postcode is on file).
    by_post = Chat(client, lock_assistant)
    await _to_the_cancellation_without_verification(by_post)
    await by_post.say(f"{first_name} {last_name}")
    await by_post.say("K100005")
    post_receipt = await by_post.text("Lindenweg 4, 01067 Dresden")
    assert "eingegangen" in post_receipt and on_file not in post_receipt

    with transaction(url) as session:
        rows = {r.conversation_id: r for r in session.scalars(select(CancellationRequest))}
        mine, theirs, posted = rows[chat.sender], rows[other.sender], rows[by_post.sender]
        assert posted.customer_id == customer.id and posted.postal_address == "Lindenweg 4, 01067 Dresden"
        assert mine.customer_id == customer.id and mine.status == "received" and mine.customer_number == "K100005"
        assert theirs.customer_id is None and theirs.email == "jemand@fremd.example"
        assert mine.reference in receipt and theirs.reference in other_receipt
        mails = session.scalars(select(OutboxEmail).where(OutboxEmail.subject.contains("Eingangsbestätigung"))).all()
        assert [m.recipient for m in mails] == [on_file, on_file]
        assert mine.reference in mails[0].subject and posted.reference in mails[1].subject
        assert not session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == "jemand@fremd.example")).all()
        assert session.scalars(select(Cancellation).where(Cancellation.customer_id == customer.id)).first() is None, \
            "an agent checks it first; nothing is cancelled on unverified data"
    assert other_receipt.replace(theirs.reference, "REF").split("eingegangen")[1] == \
        receipt.replace(mine.reference, "REF").split("eingegangen")[1]


async def test_one_client_trying_many_numbers_is_stopped(tmp_path_factory: pytest.TempPathFactory,
                                                          client: httpx.AsyncClient) -> None:
    workdir = tmp_path_factory.mktemp("client-limit")
    metadata = {"client_address": "198.51.100.7"}
    with running_assistant(seeded_records(workdir), workdir, web_app=False,
                           extra_env={"VERIFICATION_CLIENT_MAX_FAILURES": "2"}) as assistant:
        trying = Chat(client, assistant, metadata)
        await trying.say("Wann endet mein Vertrag?")
        await trying.say("K100002")
        await trying.say("12345")
        await trying.say("K100004")
        stopped = await trying.text("12345")
        assert LOCKED in stopped, "two failures on two numbers reach this client's limit"
        with transaction(assistant.database_url) as session:
            lock = session.scalars(select(VerificationLock)).one()
        assert lock.customer_number is None and lock.failures == 2
        # The numbers themselves are not locked: from elsewhere they verify.
        # The client is recognised by the peer address the channel reports (the security channel
        # sets it; until then the REST body's metadata, or else only the conversation, counts).
        fresh = Chat(client, assistant, metadata)
        await fresh.say("Wann endet mein Vertrag?")
        reply = await fresh.text("K100001") + "\n" + await fresh.text("10115")
        if lock.client_key.startswith("address:"):
            assert LOCKED in reply and "V10000001" not in reply, "a new conversation of the same client is stopped"
        else:
            assert lock.client_key == f"conversation:{trying.sender}"
            assert "V10000001" in reply
