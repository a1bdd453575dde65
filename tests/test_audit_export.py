"""Audit export for disputes, on a real conversation through the running Rasa and action servers: what the
assistant showed (offers, buttons, the cancel-now button and when), what the customer chose, the
confirmation and the e-mail, with times; still readable after the customer's data was erased."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.privacy.audit import audit_export, audit_json, audit_text
from bot.privacy.erasure import erase_customer
from bot.privacy.masking import personal_values
from bot.records.database import transaction
from bot.records.models import Cancellation, Customer
from bot.settings import PROJECT_ROOT
from tests.servers import RunningAssistant
from tests.test_erasure import leftovers

pytestmark = pytest.mark.e2e


def _say(assistant: RunningAssistant, sender: str, text: str) -> list[dict]:
    response = httpx.post(assistant.rest_url, json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


def _payloads(messages: list[dict]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


def test_audit_export_of_a_cancellation_with_a_declined_offer(assistant: RunningAssistant, tmp_path: Path) -> None:
    sender = "audit-1"
    _say(assistant, sender, "Guten Tag")
    asked = _say(assistant, sender, "Ich möchte meinen Vertrag kündigen")
    assert "/cancel_now" in _payloads(asked)
    _say(assistant, sender, "Ist mir einfach viel zu teuer geworden")
    _say(assistant, sender, "K100001")
    offer = _say(assistant, sender, "10115")
    assert {"/accept_offer", "/cancel_now"} <= set(_payloads(offer))
    done = _say(assistant, sender, "/cancel_now")
    assert "gekündigt" in " ".join(m.get("text") or "" for m in done)
    with transaction(assistant.database_url) as session:
        cancellation = session.scalars(select(Cancellation).where(Cancellation.conversation_id == sender)).one()
        confirmation_number = cancellation.confirmation_number
        email = session.get(Customer, cancellation.customer_id).email

    export = audit_export(sender, records_url=assistant.database_url, tracker_store_url=assistant.tracker_store_url)
    assert export is not None
    said = [e for e in export.timeline if e.actor == "customer"]
    assert [e.text for e in said if e.kind == "message"][:3] == [
        "Guten Tag", "Ich möchte meinen Vertrag kündigen", "Ist mir einfach viel zu teuer geworden"]
    assert "10115" not in json.dumps([e.text for e in said]), "the verification answer stays redacted"
    [click] = [e for e in said if e.kind == "button_click"]
    assert click.value == "/cancel_now" and click.intent == "cancel_now"
    assert click.text != "/cancel_now", "the title the customer clicked is shown, not the payload"
    # The cancel-now button was on screen right after the wish to cancel and again with the offer.
    assert len(export.cancel_now_button_shown_at) >= 2
    shown = [datetime.fromisoformat(t) for t in export.cancel_now_button_shown_at]
    assert shown == sorted(shown) and datetime.fromisoformat(click.at) > shown[-1]
    offer_message = [e for e in export.timeline if e.actor == "assistant" and e.cancel_now_button][-1]
    assert {b["payload"] for b in offer_message.buttons} >= {"/accept_offer", "/cancel_now"}
    [decision] = export.offers
    assert (decision["offer_code"], decision["outcome"], decision["reason"]) == ("DOWNGRADE", "declined", "price")
    [declared] = export.cancellations
    assert declared["confirmation_number"] == confirmation_number and declared["contract_number"] == "V10000001"
    assert any(confirmation_number in (e.text or "") for e in export.timeline if e.actor == "assistant")
    assert [(m["recipient"], m["sent_at"]) for m in export.emails] == [(email, None)]  # no SMTP: queued only
    assert confirmation_number in export.emails[0]["subject"] and export.emails[0]["queued_at"]
    requested = datetime.fromisoformat(export.cancellations[0]["requested_at"])  # stored to the second
    assert datetime.fromisoformat(export.started_at).replace(microsecond=0) <= requested
    assert requested <= datetime.fromisoformat(export.ended_at)

    # The command writes the same as JSON or text.
    env = {**os.environ, "DATABASE_URL": assistant.database_url, "TRACKER_STORE_URL": assistant.tracker_store_url,
           "PYTHONPATH": str(PROJECT_ROOT)}
    target = tmp_path / "audit.txt"
    subprocess.run([sys.executable, "-m", "bot.cli", "audit-export", sender, "--format", "text", "--output",
                    str(target)], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=120)
    text = target.read_text(encoding="utf-8")
    assert f"Kunde klickt: {click.text}" in text and "<- Kündigungsbutton" in text and confirmation_number in text
    printed = subprocess.run([sys.executable, "-m", "bot.cli", "audit-export", sender], cwd=PROJECT_ROOT, env=env,
                             check=True, capture_output=True, text=True, timeout=120).stdout
    assert json.loads(printed)["cancellations"][0]["confirmation_number"] == confirmation_number
    missing = subprocess.run([sys.executable, "-m", "bot.cli", "audit-export", "no-such-conversation"],
                             cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "No conversation" in missing.stderr

    # After the customer's erasure the dispute record still reads: buttons, times, confirmation, no personal data;
    # and nothing of the customer is left in the records or in what Rasa itself wrote to the tracker store.
    with transaction(assistant.database_url) as session:
        customer_id = session.scalars(select(Customer.id).where(Customer.customer_number == "K100001")).one()
        values = personal_values(session, customer_id)
        others = {v.lower() for other in session.scalars(select(Customer.id).where(Customer.id != customer_id))
                  for v in personal_values(session, other)}
    values = [v for v in values if v.lower() not in others]
    stores = [assistant.database_url, assistant.tracker_store_url]
    assert len(leftovers(stores, values)) > 10
    erase_customer("K100001", records_url=assistant.database_url, event_store_urls=[assistant.tracker_store_url])
    after = audit_export(sender, records_url=assistant.database_url, tracker_store_url=assistant.tracker_store_url)
    assert after.cancel_now_button_shown_at == export.cancel_now_button_shown_at
    assert after.cancellations[0]["confirmation_number"] == confirmation_number
    assert leftovers(stores, values) == []
    rendered = audit_json(after) + audit_text(after)
    for value in ("K100001", "Schmidt", email, "V10000001"):
        assert value not in rendered
