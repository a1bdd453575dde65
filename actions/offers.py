"""Accepting or declining the retention offer that was made."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import RecordsAction, in_records, now, send, verified_customer_id
from actions.requests import ask_which_contract, cancel_and_confirm, which_contracts
from bot.assistant.cancellation import accept_offer
from bot.assistant.replies import Reply
from bot.settings import Settings

NO_OPEN_OFFER = Reply("Im Moment liegt kein Angebot für Sie vor. Kann ich sonst etwas für Sie tun?")


class ActionAcceptOffer(RecordsAction):
    def name(self) -> str:
        return "action_accept_offer"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker)
        code = tracker.get_slot("offer_code")
        if customer_id is None or not code or not tracker.get_slot("offer_pending"):
            send(dispatcher, NO_OPEN_OFFER)
            return []
        target = await which_contracts(settings, tracker, customer_id, "cancellation")
        if len(target.contract_ids) != 1:  # the offer was made for one chosen contract; never guess which
            send(dispatcher, NO_OPEN_OFFER)
            return [SlotSet("offer_pending", False), SlotSet("offer_code", None)]
        contract_id = target.contract_ids[0]
        moment = now()
        reply = await in_records(settings, lambda s: accept_offer(
            s, customer_id=customer_id, contract_id=contract_id, offer_code=code,
            reason=tracker.get_slot("cancellation_reason"), conversation_id=tracker.sender_id, now=moment))
        send(dispatcher, reply)
        return [SlotSet("offer_pending", False), SlotSet("offer_code", None), SlotSet("pending_request", None),
                SlotSet("contract_number", None)]


class ActionDeclineOffer(RecordsAction):
    """"No" to the offer: cancel at once, without asking again."""

    def name(self) -> str:
        return "action_decline_offer"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker)
        if customer_id is None:
            send(dispatcher, NO_OPEN_OFFER)
            return [SlotSet("offer_pending", False)]
        target = await which_contracts(settings, tracker, customer_id, "cancel_now")
        if target.ask:
            return ask_which_contract("cancel_now")
        return await cancel_and_confirm(dispatcher, tracker, settings, customer_id,
                                        tracker.get_slot("cancellation_reason"), target.contract_ids)
