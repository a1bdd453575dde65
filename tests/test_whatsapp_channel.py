"""The WhatsApp channel's plain logic: signatures, webhook parsing, outgoing bodies within WhatsApp's limits,
the 24-hour window, status callbacks out of order, and sending through the local Graph API stand-in with
retries (throttling codes with HTTP 400, server errors) and the template outside the window."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.channels.whatsapp import payloads, signature, statuses, store, window
from bot.channels.whatsapp.client import GraphClient, GraphError
from bot.channels.whatsapp.outbound import NO_TEMPLATE, WhatsAppSender
from bot.records.database import transaction
from bot.records.models import ChannelOutboundMessage
from tests.standins.whatsapp_graph import (
    GraphStandIn,
    ScriptedError,
    button_reply,
    list_reply,
    message_webhook,
    status_webhook,
    text_message,
)

WA_ID = "4915112345678"
CONVERSATION = f"whatsapp:{WA_ID}"
# The cancellation-reason question's choices as domain.yml has them (11, the cancel-now one first).
REASON_BUTTONS = [
    {"title": "Jetzt kündigen", "payload": "/cancel_now"},
    {"title": "Zu teuer", "payload": '/cancel_contract{"cancellation_reason":"price"}'},
    {"title": "Unzufrieden mit dem Service", "payload": '/cancel_contract{"cancellation_reason":"service"}'},
    {"title": "Technische Probleme", "payload": '/cancel_contract{"cancellation_reason":"technical"}'},
    {"title": "Umzug", "payload": '/cancel_contract{"cancellation_reason":"moving"}'},
    {"title": "Nutze es kaum", "payload": '/cancel_contract{"cancellation_reason":"not_using"}'},
    {"title": "Wechsel zu anderem Anbieter", "payload": '/cancel_contract{"cancellation_reason":"competitor"}'},
    {"title": "Anderer Grund", "payload": '/cancel_contract{"cancellation_reason":"other"}'},
    {"title": "Außerordentlich kündigen: Umzug, Leistung am neuen Wohnort nicht verfügbar",
     "payload": '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"moving"}'},
    {"title": "Außerordentlich kündigen: anhaltende Störung",
     "payload": '/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"fault"}'},
    {"title": "Anderes Kündigungsdatum oder andere E-Mail", "payload": "/state_cancellation_details"},
]


# ---------------------------------------------------------------------------------------- signature


def test_only_metas_signature_of_the_exact_body_passes() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    header = signature.sign(body, "app-secret")
    assert signature.is_valid(body, header, "app-secret")
    assert not signature.is_valid(body + b" ", header, "app-secret"), "a changed body"
    assert not signature.is_valid(body, signature.sign(body, "other-secret"), "app-secret"), "a forged signature"
    assert not signature.is_valid(body, None, "app-secret"), "unsigned"
    assert not signature.is_valid(body, header.removeprefix("sha256="), "app-secret"), "without the sha256= prefix"
    assert not signature.is_valid(body, header, None), "no app secret configured: nothing passes"


# ---------------------------------------------------------------------------------------- incoming


def test_text_button_and_list_replies_become_user_messages_and_statuses_do_not() -> None:
    hook = message_webhook("PNID", WA_ID, text_message("Ich möchte kündigen"), message_id="wamid.1", timestamp=1700000000)
    messages, found_statuses = payloads.parse_webhook(hook)
    assert [(m.message_id, m.wa_id, m.text, m.kind) for m in messages] == [
        ("wamid.1", WA_ID, "Ich möchte kündigen", "text")]
    assert messages[0].timestamp == datetime.fromtimestamp(1700000000, tz=timezone.utc)
    assert messages[0].profile_name == "Anna Schmidt" and found_statuses == []

    pressed, _ = payloads.parse_webhook(message_webhook("PNID", WA_ID, button_reply("/cancel_now", "Jetzt kündigen")))
    assert pressed[0].text == "/cancel_now", "a reply button's id is its payload"
    chosen, _ = payloads.parse_webhook(message_webhook("PNID", WA_ID, list_reply(
        '/cancel_contract{"cancellation_reason":"price"}', "Zu teuer")))
    assert chosen[0].text == '/cancel_contract{"cancellation_reason":"price"}'
    image, _ = payloads.parse_webhook(message_webhook("PNID", WA_ID, {"type": "image", "image": {"id": "1"}}))
    assert image[0].text is None and image[0].kind == "image", "an image is answered with a hint, not lost"

    messages, found_statuses = payloads.parse_webhook(status_webhook(
        "PNID", WA_ID, "wamid.OUT", "failed", errors=[{"code": 131047, "title": "Re-engagement message"}]))
    assert messages == []
    assert [(s.message_id, s.status, s.error) for s in found_statuses] == [
        ("wamid.OUT", "failed", "131047 Re-engagement message")]


def test_a_post_that_is_no_whatsapp_webhook_is_refused() -> None:
    with pytest.raises(payloads.WebhookPayloadError):
        payloads.parse_webhook({"object": "page", "entry": []})
    with pytest.raises(payloads.WebhookPayloadError):
        payloads.parse_webhook([1, 2])


# ---------------------------------------------------------------------------------------- outgoing


def test_long_text_is_split_within_the_limit_at_sentence_ends_without_losing_anything() -> None:
    sentence = "Ihr Vertrag läuft bis zum 30.06.2027 und verlängert sich danach monatlich. "
    text = sentence * 150  # about 11,000 characters
    plan = payloads.plan_text(WA_ID, text)
    parts = [o.body["text"]["body"] for o in plan]
    assert len(parts) == 3 and all(len(p) <= payloads.TEXT_LIMIT for p in parts)
    assert all(p.endswith("monatlich.") for p in parts[:-1]), "cut after a sentence, not inside a word"
    assert " ".join(parts).split() == text.split()
    assert all(GraphStandIn.limits_problem(o.body) is None for o in plan)


def test_markdown_links_and_bold_become_what_whatsapp_shows() -> None:
    [body] = payloads.plan_text(WA_ID, "Speichern Sie sie **hier**: [Erklärung herunterladen](https://nordstern.example/d/K1?s=x)")
    assert body.body["text"]["body"] == ("Speichern Sie sie *hier*: Erklärung herunterladen: "
                                         "https://nordstern.example/d/K1?s=x")


def test_up_to_three_choices_are_reply_buttons_with_meaningful_short_titles() -> None:
    plan = payloads.plan_buttons(WA_ID, "Möchten Sie das Angebot annehmen?", [
        {"title": "Angebot annehmen", "payload": "/accept_offer"},
        {"title": "Nein, jetzt kündigen", "payload": "/cancel_now"},
        {"title": "Mit einem Menschen sprechen", "payload": "/request_human"}])
    assert [o.kind for o in plan] == ["buttons"]
    buttons = plan[0].body["interactive"]["action"]["buttons"]
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in buttons] == [
        ("/accept_offer", "Angebot annehmen"), ("/cancel_now", "Nein, jetzt kündigen"),
        ("/request_human", "Persönlich sprechen")]
    assert GraphStandIn.limits_problem(plan[0].body) is None


def test_unknown_long_titles_are_cut_at_a_word() -> None:
    assert payloads.short_title("Tarif wechseln und Datenvolumen erhöhen", 20) == "Tarif wechseln und…"
    assert all(len(payloads.short_title(t, 20)) <= 20 for t in payloads.SHORT_TITLES)


def test_the_reason_question_keeps_cancel_now_as_a_button_of_its_own_and_the_reasons_as_a_list() -> None:
    """§ 312k: one tap cancels; the reasons (optional) follow in a list of at most 10 rows."""
    plan = payloads.plan_buttons(WA_ID, "Sie können jederzeit kündigen. Warum möchten Sie kündigen?", REASON_BUTTONS)
    assert [o.kind for o in plan] == ["buttons", "list"]
    first = plan[0].body["interactive"]
    assert first["body"]["text"].startswith("Sie können jederzeit kündigen")
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in first["action"]["buttons"]] == [
        ("/cancel_now", "Jetzt kündigen")]
    rows = plan[1].body["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == 10 and "/cancel_now" not in [r["id"] for r in rows]
    by_id = {r["id"]: r for r in rows}
    assert by_id['/cancel_contract{"cancellation_reason":"price"}']["title"] == "Zu teuer"
    moving = by_id['/cancel_now{"cancellation_kind":"extraordinary","extraordinary_reason":"moving"}']
    assert moving["title"] == "Sonderkünd. Umzug"
    assert moving["description"].startswith("Außerordentlich kündigen: Umzug"), "the full meaning stays readable"
    assert all(GraphStandIn.limits_problem(o.body) is None for o in plan)


def test_more_than_ten_other_choices_go_into_several_lists() -> None:
    buttons = [{"title": f"Tarif {n}", "payload": f"/choose{{\"n\":{n}}}"} for n in range(14)]
    plan = payloads.plan_buttons(WA_ID, "Welcher Tarif?", buttons)
    assert [o.kind for o in plan] == ["list", "list"]
    assert sum(len(o.body["interactive"]["action"]["sections"][0]["rows"]) for o in plan) == 14


def test_a_template_parameter_has_no_line_breaks() -> None:
    body = payloads.template_body(WA_ID, "kundenservice_antwort", "de", "Anna: Hallo,\n\nhier die Antwort.")
    assert body["template"]["components"][0]["parameters"][0]["text"] == "Anna: Hallo, hier die Antwort."
    assert body["template"]["language"] == {"code": "de"}


# ---------------------------------------------------------------------------------------- window, statuses


def test_the_window_is_open_for_24_hours_after_the_customers_last_message() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    assert window.is_open(now - timedelta(hours=23, minutes=59), now)
    assert not window.is_open(now - timedelta(hours=24), now)
    assert not window.is_open(None, now), "never written: only a template"


def test_statuses_only_move_forward_and_failed_is_final() -> None:
    assert statuses.next_status("sent", "read") == "read"
    assert statuses.next_status("read", "delivered") == "read", "a late 'delivered' after 'read'"
    assert statuses.next_status("delivered", "failed") == "failed"
    assert statuses.next_status("failed", "read") == "failed"
    assert statuses.next_status("sent", "deleted") == "sent", "unknown statuses change nothing"


def test_status_callbacks_are_recorded_forward_only(database_url: str) -> None:
    now = datetime.now(timezone.utc)
    with transaction(database_url) as session:
        row_id = store.record_outbound(session, conversation_id=CONVERSATION, kind="text", body="{}", now=now)
        store.mark_sent(session, row_id, provider_message_id="wamid.X", attempts=1, now=now)
    for status in ("read", "delivered", "sent"):
        with transaction(database_url) as session:
            assert store.apply_status(session, provider_message_id="wamid.X", status=status, at=now)
    with transaction(database_url) as session:
        assert session.get(ChannelOutboundMessage, row_id).status == "read"
        assert not store.apply_status(session, provider_message_id="wamid.unknown", status="read", at=now)


def test_a_retried_message_id_is_claimed_once(database_url: str) -> None:
    now = datetime.now(timezone.utc)
    assert store.claim_inbound(database_url, message_id="wamid.R", conversation_id=CONVERSATION, now=now)
    assert not store.claim_inbound(database_url, message_id="wamid.R", conversation_id=CONVERSATION, now=now)


# ---------------------------------------------------------------------------------------- sending


@pytest.fixture(scope="module")
def graph() -> GraphStandIn:
    with GraphStandIn() as standin:
        yield standin


@pytest.fixture
def fresh_graph(graph: GraphStandIn) -> GraphStandIn:
    graph.clear()
    graph.closed_windows.clear()
    return graph


def _client(graph: GraphStandIn, *, token: str | None = None, max_attempts: int = 4) -> tuple[GraphClient, list]:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    client = GraphClient(api_base=graph.base_url, phone_number_id=graph.phone_number_id,
                         access_token=token or graph.access_token, max_attempts=max_attempts,
                         retry_base_seconds=1.0, retry_max_seconds=8.0, sleep=record_wait)
    return client, waits


@pytest.mark.parametrize("code", [130429, 131056, 80007, 4])
async def test_throttling_errors_with_http_400_are_retried_with_backoff(fresh_graph: GraphStandIn, code: int) -> None:
    client, waits = _client(fresh_graph)
    fresh_graph.fail_next(ScriptedError(400, code), ScriptedError(400, code))
    sent = await client.send(payloads.text_body(WA_ID, "Hallo"))
    await client.aclose()
    assert sent.message_id.startswith("wamid.") and sent.attempts == 3
    assert waits == [1.0, 2.0]
    assert [b["text"]["body"] for b in fresh_graph.to(WA_ID)] == ["Hallo"], "sent once in the end"


async def test_server_errors_are_retried_and_then_given_up(fresh_graph: GraphStandIn) -> None:
    client, waits = _client(fresh_graph, max_attempts=3)
    fresh_graph.fail_next(*[ScriptedError(503, 2, "Service temporarily unavailable", "OAuthException")] * 3)
    with pytest.raises(GraphError) as raised:
        await client.send(payloads.text_body(WA_ID, "Hallo"))
    await client.aclose()
    assert raised.value.attempts == 3 and waits == [1.0, 2.0]
    assert fresh_graph.received == []


async def test_permanent_errors_are_not_retried(fresh_graph: GraphStandIn) -> None:
    client, waits = _client(fresh_graph, token="wrong-token")
    with pytest.raises(GraphError) as raised:
        await client.send(payloads.text_body(WA_ID, "Hallo"))
    await client.aclose()
    assert raised.value.code == 190 and raised.value.attempts == 1 and waits == []


async def test_an_unreachable_api_is_retried_then_reported(fresh_graph: GraphStandIn) -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    from tests.servers import free_port
    client = GraphClient(api_base=f"http://127.0.0.1:{free_port()}", phone_number_id="1", access_token="t",
                         max_attempts=2, retry_base_seconds=1.0, sleep=record_wait)
    with pytest.raises(GraphError) as raised:
        await client.send(payloads.text_body(WA_ID, "Hallo"))
    await client.aclose()
    assert raised.value.retryable and raised.value.attempts == 2 and waits == [1.0]


def _sender(graph: GraphStandIn, url: str, *, template: str | None) -> WhatsAppSender:
    client = GraphClient(api_base=graph.base_url, phone_number_id=graph.phone_number_id,
                         access_token=graph.access_token, max_attempts=2, retry_base_seconds=0.01)
    return WhatsAppSender(database_url=url, client=client, template_name=template, template_language="de")


def _outbound(url: str) -> list[ChannelOutboundMessage]:
    with transaction(url) as session:
        return list(session.scalars(select(ChannelOutboundMessage).order_by(ChannelOutboundMessage.id)))


async def test_within_the_window_messages_go_out_free_form_and_are_recorded(
        fresh_graph: GraphStandIn, sqlite_database_url: str) -> None:
    with transaction(sqlite_database_url) as session:
        store.touch_contact(session, conversation_id=CONVERSATION, recipient=WA_ID, at=datetime.now(timezone.utc))
    sender = _sender(fresh_graph, sqlite_database_url, template=None)
    assert await sender.deliver(CONVERSATION, {"text": "Warum möchten Sie kündigen?", "buttons": REASON_BUTTONS})
    await sender.client.aclose()
    assert [b["interactive"]["type"] for b in fresh_graph.to(WA_ID)] == ["button", "list"]
    rows = _outbound(sqlite_database_url)
    assert [(r.kind, r.status) for r in rows] == [("buttons", "sent"), ("list", "sent")]
    assert all(r.provider_message_id.startswith("wamid.") for r in rows)
    assert json.loads(rows[0].body)["to"] == WA_ID


async def test_outside_the_window_the_template_is_used(fresh_graph: GraphStandIn, sqlite_database_url: str) -> None:
    with transaction(sqlite_database_url) as session:
        store.touch_contact(session, conversation_id=CONVERSATION, recipient=WA_ID,
                            at=datetime.now(timezone.utc) - timedelta(hours=25))
    sender = _sender(fresh_graph, sqlite_database_url, template="kundenservice_antwort")
    assert await sender.deliver(CONVERSATION, {"text": "Anna: Ihre Kündigung ist bestätigt."})
    await sender.client.aclose()
    [body] = fresh_graph.to(WA_ID)
    assert body["type"] == "template" and body["template"]["name"] == "kundenservice_antwort"
    assert body["template"]["components"][0]["parameters"][0]["text"] == "Anna: Ihre Kündigung ist bestätigt."


async def test_outside_the_window_without_a_template_nothing_is_sent_and_the_failure_is_recorded(
        fresh_graph: GraphStandIn, sqlite_database_url: str) -> None:
    with transaction(sqlite_database_url) as session:
        store.touch_contact(session, conversation_id=CONVERSATION, recipient=WA_ID,
                            at=datetime.now(timezone.utc) - timedelta(days=3))
    sender = _sender(fresh_graph, sqlite_database_url, template=None)
    assert not await sender.deliver(CONVERSATION, {"text": "Hallo"})
    await sender.client.aclose()
    assert fresh_graph.attempts == []
    [row] = _outbound(sqlite_database_url)
    assert row.status == "failed" and row.last_error == NO_TEMPLATE
    with transaction(sqlite_database_url) as session:
        notes = store.console_notes(session, CONVERSATION, datetime.now(timezone.utc))
    assert notes is not None and not notes.window_open and [f.error for f in notes.failed] == [NO_TEMPLATE]


async def test_when_meta_says_the_window_closed_the_template_follows(
        fresh_graph: GraphStandIn, sqlite_database_url: str) -> None:
    with transaction(sqlite_database_url) as session:
        store.touch_contact(session, conversation_id=CONVERSATION, recipient=WA_ID, at=datetime.now(timezone.utc))
    fresh_graph.close_window(WA_ID)
    sender = _sender(fresh_graph, sqlite_database_url, template="kundenservice_antwort")
    assert await sender.deliver(CONVERSATION, {"text": "Hallo"})
    await sender.client.aclose()
    assert [b["type"] for b in fresh_graph.to(WA_ID)] == ["template"]
    assert [(r.kind, r.status) for r in _outbound(sqlite_database_url)] == [("text", "failed"), ("template", "sent")]
