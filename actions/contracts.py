"""contract_choice_form: which of several contracts the request is about (see bot/assistant/contract_choice.py)."""
from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import RECORDS_UNAVAILABLE, RecordsAction, in_records, send, verified_customer_id
from bot.assistant.contract_choice import (
    CANCELLATION_REQUESTS,
    NOT_UNDERSTOOD,
    contract_options,
    match_contract,
    which_contract_question,
)
from bot.records.database import RecordsUnavailable
from bot.settings import Settings, get_settings


class AskContractNumber(RecordsAction):
    """The form's question: the customer's running contracts as buttons (plus "Alle kündigen" to cancel)."""

    def name(self) -> str:
        return "action_ask_contract_number"

    async def act(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                  settings: Settings) -> list[dict[str, Any]]:
        customer_id = verified_customer_id(tracker)
        if customer_id is None:
            return []
        options = await in_records(settings, lambda s: contract_options(s, customer_id=customer_id))
        send(dispatcher, which_contract_question(options, request=tracker.get_slot("pending_request")))
        return []


class ValidateContractChoiceForm(FormValidationAction):
    """A button's contract number, or free text matched to exactly one of the customer's contracts."""

    def name(self) -> str:
        return "validate_contract_choice_form"

    async def validate_contract_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: dict[str, Any]) -> dict[str, Any]:
        customer_id = verified_customer_id(tracker)
        if customer_id is None:
            return {"contract_number": None}
        try:
            options = await in_records(get_settings(), lambda s: contract_options(s, customer_id=customer_id))
        except RecordsUnavailable:
            send(dispatcher, RECORDS_UNAVAILABLE)
            return {"contract_number": None}
        allow_all = tracker.get_slot("pending_request") in CANCELLATION_REQUESTS
        chosen = match_contract(str(value or ""), options, allow_all=allow_all)
        if chosen is None:
            send(dispatcher, NOT_UNDERSTOOD)  # the form then asks again, with the buttons
        return {"contract_number": chosen}
