"""action_serve_request: answer a request from the records, identifying the customer first if needed and
asking which contract it is about when the customer has several (bot/assistant/contract_choice.py)."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    RecordsAction,
    in_records,
    now,
    offer_cancellation_if_in_doubt,
    send,
    verified_customer_id,
)
from actions.declaration import (
    clear_declaration,
    declaration_events,
    declaration_from_slots,
    send_download_link,
    tracker_with,
)
from actions.verification_lock import when_not_verified
from bot.assistant import service_answers
from bot.assistant.cancellation import cancel_contract, cancel_contracts, propose_offer
from bot.assistant.contract_choice import CONTRACT_REQUESTS, ContractsInQuestion, contracts_in_question
from bot.assistant.mail import deliver
from bot.assistant.mixed_messages import acknowledgement
from bot.assistant.replies import Reply
from bot.assistant.verification import MAX_ATTEMPTS
from bot.records.models import Customer
from bot.retention.formatting import berlin_date
from bot.settings import Settings

# The request each intent stands for.
REQUEST_OF_INTENT = {
    "ask_contract": "ask_contract",
    "ask_bill": "ask_bill",
    "change_plan": "change_plan",
    "pause_contract": "pause_contract",
    "report_problem": "report_problem",
    "identify": "identify",
    "cancel_contract": "cancellation",
    "cancel_now": "cancel_now",
}
FORMS = ("verification_form", "cancellation_form", "contract_choice_form")

IDENTIFY_FOR_CANCELLATION = Reply(
    "Für die Kündigung brauche ich nur Ihre Kundennummer und zur Sicherheit Ihre Postleitzahl oder Ihr Geburtsdatum."
)

HOW_CAN_I_HELP = Reply("Wie kann ich Ihnen helfen?")
ALREADY_IDENTIFIED = Reply("Sie sind bereits identifiziert. Wie kann ich Ihnen helfen?")


def current_request(tracker: Tracker) -> str | None:
    """The request of the message that triggered this action, or, after a form, the one that was waiting."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if tracker.latest_action_name not in FORMS and intent in REQUEST_OF_INTENT:
        return REQUEST_OF_INTENT[intent]
    return tracker.get_slot("pending_request")


class ActionServeRequest(RecordsAction):
    def name(self) -> str:
        return "action_serve_request"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        request = current_request(tracker)
        customer_id = verified_customer_id(tracker)
        reason = tracker.get_slot("cancellation_reason")

        if request == "cancellation" and tracker.get_slot("offer_pending"):
            request = "cancel_now"  # asking to cancel again after the offer: no second offer, no "are you sure"
        if request == "cancellation" and reason is None:
            # The optional reason question, shown with the button to cancel right away.
            return [SlotSet("pending_request", request), ActiveLoop("cancellation_form")]
        if customer_id is None:
            if tracker.get_slot("verification_locked") or (
                    tracker.get_slot("verification_failures") or 0) >= MAX_ATTEMPTS:
                # No more attempts here; a human is offered, and a cancellation can still be submitted.
                reply, events = when_not_verified(tracker, request)
                if reply is not None:
                    send(dispatcher, reply)
                return events
            if request in ("cancellation", "cancel_now"):
                send(dispatcher, IDENTIFY_FOR_CANCELLATION)
            return [SlotSet("pending_request", request), ActiveLoop("verification_form")]
        return await self._serve(dispatcher, tracker, settings, request, customer_id, reason)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        # Options stated in the cancellation message itself ("zum 30.06. kündigen") are kept first, so
        # that every path below (reason question, identification, offer, cancel) sees them.
        stated: list[dict[str, Any]] = []
        if current_request(tracker) in ("cancellation", "cancel_now") and tracker.latest_action_name not in FORMS:
            # A complaint in the cancellation message itself ("ich kündige, keiner ruft zurück") is its
            # reason, and is acknowledged in one sentence before the cancellation step.
            sorry = acknowledgement(tracker.latest_message)
            if sorry is not None:
                dispatcher.utter_message(text=sorry)
            stated = declaration_events(tracker, tracker.latest_message.get("text"))
            if stated:
                tracker = tracker_with(tracker, stated)
        events = stated + await super().run(dispatcher, tracker, domain)
        if tracker.latest_action_name not in FORMS:
            offer_cancellation_if_in_doubt(dispatcher, tracker.latest_message)
        return events

    async def _serve(self, dispatcher: CollectingDispatcher, tracker: Tracker, settings: Settings,
                     request: str | None, customer_id: int, reason: str | None) -> list[dict[str, Any]]:
        moment = now()
        today = berlin_date(moment)
        events: list[dict[str, Any]] = [SlotSet("pending_request", None)]
        target = ContractsInQuestion()
        if request in CONTRACT_REQUESTS:
            target = await which_contracts(settings, tracker, customer_id, request)
            if target.ask:
                return ask_which_contract(request)
            if not target.contract_ids:
                send(dispatcher, service_answers.NO_CONTRACT)
                return events + [SlotSet("contract_number", None)]
        if request == "cancellation" and len(target.contract_ids) == 1:
            contract_id = target.contract_ids[0]
            proposal = await in_records(settings, lambda s: propose_offer(
                s, customer_id=customer_id, contract_id=contract_id, reason=reason, today=today))
            if proposal is not None:
                send(dispatcher, proposal.reply)
                # The contract stays chosen: accepting or declining acts on exactly this one.
                return events + [SlotSet("offer_code", proposal.offer_code), SlotSet("offer_pending", True),
                                 SlotSet("contract_number", target.contract_numbers[0])]
        if request in ("cancellation", "cancel_now"):  # nothing fits, or several contracts: cancel at once
            return events + await cancel_and_confirm(dispatcher, tracker, settings, customer_id, reason,
                                                     target.contract_ids)

        answers = {
            "ask_contract": service_answers.contract_answer,
            "ask_bill": service_answers.bill_answer,
            "change_plan": service_answers.plan_change_answer,
            "pause_contract": service_answers.pause_answer,
        }
        if request in answers:
            contract_id = target.contract_ids[0]
            reply = await in_records(settings, lambda s: answers[request](
                s, customer_id=customer_id, contract_id=contract_id, today=today))
            if not tracker.get_slot("offer_pending"):  # an open offer keeps its contract
                events.append(SlotSet("contract_number", None))
        elif request == "report_problem":
            text = _triggering_text(tracker)
            reply = await in_records(settings, lambda s: service_answers.report_problem(
                s, customer=s.get(Customer, customer_id), conversation_id=tracker.sender_id,
                description=text, now=moment))
        elif tracker.latest_action_name in FORMS:
            reply = HOW_CAN_I_HELP  # the form has just said "Sie sind identifiziert"
        else:
            reply = ALREADY_IDENTIFIED
        send(dispatcher, reply)
        return events


async def which_contracts(settings: Settings, tracker: Tracker, customer_id: int,
                          request: str) -> ContractsInQuestion:
    """The contract(s) the request is about, as chosen in this request (slot contract_number)."""
    chosen = tracker.get_slot("contract_number")
    return await in_records(settings, lambda s: contracts_in_question(
        s, customer_id=customer_id, request=request, chosen=chosen))


def ask_which_contract(request: str) -> list[dict[str, Any]]:
    """Open the form that asks which contract is meant; the request waits in pending_request."""
    return [SlotSet("pending_request", request), SlotSet("contract_number", None),
            ActiveLoop("contract_choice_form")]


def _triggering_text(tracker: Tracker) -> str:
    """The text of the latest user message that stated a request (not the postcode typed afterwards)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent in REQUEST_OF_INTENT:
                return event.get("text") or ""
    return ""


async def cancel_and_confirm(dispatcher: CollectingDispatcher, tracker: Tracker, settings: Settings,
                             customer_id: int, reason: str | None,
                             contract_ids: tuple[int, ...]) -> list[dict[str, Any]]:
    """Cancel the chosen contract(s) (recording a declined offer if one was open), commit, then send the e-mails.

    What the customer declared (kind, date, extra address; slots set by the buttons and by
    `declaration_events`) goes with it; the customer is verified here, so an extra address is honoured.
    """
    moment = now()
    declined = tracker.get_slot("offer_code") if tracker.get_slot("offer_pending") else None
    declaration = declaration_from_slots(tracker, today=berlin_date(moment))
    if len(contract_ids) == 1:
        done = await in_records(settings, lambda s: cancel_contract(
            s, customer_id=customer_id, contract_id=contract_ids[0], reason=reason,
            conversation_id=tracker.sender_id, declined_offer_code=declined, now=moment,
            company=settings.company_name, declaration=declaration, identity_verified=True))
    else:
        done = await in_records(settings, lambda s: cancel_contracts(
            s, customer_id=customer_id, contract_ids=contract_ids, reason=reason,
            conversation_id=tracker.sender_id, now=moment, company=settings.company_name,
            declaration=declaration, identity_verified=True))
    # The cancellation is committed at this point; only now does the confirmation go out.
    for email_id in ((done.outbox_email_id,) if done.outbox_email_id is not None else ()) + \
            done.extra_outbox_email_ids:
        await _deliver_quietly(settings, email_id)
    send(dispatcher, done.reply)
    if done.confirmation_number:
        send_download_link(dispatcher, settings, done.confirmation_number, moment)
    return [SlotSet("offer_pending", False), SlotSet("offer_code", None), SlotSet("pending_request", None),
            SlotSet("contract_number", None), *clear_declaration(tracker)]


async def _deliver_quietly(settings: Settings, outbox_email_id: int) -> None:
    """Try to send at once; if that fails, the e-mail stays queued and the delivery worker retries it."""
    import asyncio

    await asyncio.to_thread(deliver, settings, outbox_email_id=outbox_email_id, now=now())
