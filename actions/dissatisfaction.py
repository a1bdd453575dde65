"""The conversation's dissatisfaction score, updated after every user message.

Rasa 3.6 runs `action_validate_slot_mappings` (when the domain lists it) right after
`action_extract_slots` on every user message, also while a form is active, and, unlike actions
named in a custom slot mapping (whose messages `action_extract_slots` drops), delivers the messages
it sends. That makes it the one place where the score can be updated and, once per conversation,
the frustration acknowledged before the assistant answers the message itself.

Rasa runs it also while an agent owns the conversation (the tracker is paused, bot/handoff/rasa_api.py):
then it says nothing and scores nothing, except that a wish to cancel gets the cancel-now button at once
(§ 312k BGB; pressing it ends the pause, bot/channels/handoff_guard.py).
"""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import in_records, now, send, verified_customer_id
from actions.conversation import consecutive_fallbacks
from bot.assistant.dissatisfaction import (
    ACKNOWLEDGE_AT,
    VERY_DISSATISFIED_AT,
    Message,
    assess,
    merge_reasons,
)
from bot.assistant.insights import CustomerMood, customer_mood, record_insight
from bot.assistant.mixed_messages import acknowledgement as cancellation_acknowledgement
from bot.assistant.replies import CANCEL_NOW, NO_THANKS, TALK_TO_HUMAN, Button, Reply
from bot.records.database import RecordsUnavailable
from bot.retention.formatting import berlin_date
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# Requests whose repetition means the customer did not get what they wanted.
QUESTION_INTENTS = ("ask_contract", "ask_bill", "change_plan", "pause_contract", "report_problem")

ACKNOWLEDGE = Reply(
    "Ich merke, dass Sie gerade unzufrieden sind, und das tut mir leid. Wenn Sie möchten, verbinde ich Sie mit "
    "einer Mitarbeiterin oder einem Mitarbeiter. Sonst helfe ich Ihnen gern weiter.",
    (TALK_TO_HUMAN, NO_THANKS),
)
ACKNOWLEDGE_WITH_PRIORITY = Reply(
    "Ich merke, dass Sie sehr verärgert sind, und das tut mir leid. Ich kann Sie sofort an eine Mitarbeiterin "
    "oder einen Mitarbeiter weitergeben; Ihr Anliegen wird dann bevorzugt bearbeitet.",
    (Button("Bevorzugt mit einem Menschen sprechen", "/request_human"), NO_THANKS),
)
# The first angry request (a fault, a bill, ...) hears that its problem is taken seriously before the
# assistant asks the customer to identify themselves or answers it.
ACKNOWLEDGE_PROBLEM = {
    "report_problem": Reply("Das tut mir leid, eine Störung ist wirklich ärgerlich. Ich kümmere mich sofort darum."),
    "ask_bill": Reply("Das tut mir leid, dass Ihre Rechnung Ärger macht. Ich sehe sie mir gleich mit Ihnen an."),
}
ACKNOWLEDGE_PROBLEM_DEFAULT = Reply("Das tut mir leid, und ich verstehe Ihren Ärger. Ich kümmere mich gleich darum.")
# A wish to cancel while an agent owns the conversation: the one thing the assistant answers then.
CANCEL_DURING_HANDOFF = Reply(
    "Sie können jederzeit kündigen. Wenn Sie „Jetzt kündigen“ wählen, nimmt der Assistent Ihre Kündigung sofort "
    "entgegen; das Gespräch mit unserem Service-Team endet dann.",
    (CANCEL_NOW,),
)
CANCEL_INTENTS = ("cancel_contract", "cancel_now")
# How sure the sentiment must be that a request is angry.
ANGRY_AT = 0.6
# Intents whose own reply already says sorry and offers a human.
SELF_ACKNOWLEDGING_INTENTS = ("complain", "request_human")
# Values of the slot dissatisfaction_acknowledged.
HUMAN_OFFERED = "human_offered"
PRIORITY_OFFERED = "priority_offered"


def latest_message(tracker: Tracker) -> Message:
    """What the customer's latest message shows, read from the tracker only (no records)."""
    parse = tracker.latest_message or {}
    intent = (parse.get("intent") or {}).get("name")
    sentiment = parse.get("sentiment") or {}
    return Message(
        intent=intent,
        sentiment=sentiment.get("label") if isinstance(sentiment, dict) else None,
        sentiment_confidence=float(sentiment.get("score") or 0.0) if isinstance(sentiment, dict) else 0.0,
        # A form takes free text (a postcode, a reason), which the NLU often does not classify.
        consecutive_fallbacks=0 if tracker.active_loop.get("name") else consecutive_fallbacks(tracker),
        repeats_question=intent in QUESTION_INTENTS and intent in _earlier_intents(tracker),
    )


def _earlier_intents(tracker: Tracker) -> set[str]:
    """Intents of the user messages before the latest one, in the current session."""
    intents: list[str] = []
    for event in tracker.events:
        if event.get("event") == "session_started":
            intents = []
        elif event.get("event") == "user":
            intents.append(((event.get("parse_data") or {}).get("intent") or {}).get("name"))
    return set(intents[:-1])


def chose_to_cancel(intent: str | None, offer_pending: bool) -> bool:
    """Whether the message is the customer's decision to cancel: "cancel now", or no to the offer."""
    return intent == "cancel_now" or (offer_pending and intent in ("deny", "cancel_contract"))


def problem_acknowledgement(message: Message, *, already_acknowledged: bool) -> Reply | None:
    """Sorry for the problem, once, when a request (not a complaint: its reply says sorry) is angry."""
    if already_acknowledged or message.intent not in QUESTION_INTENTS:
        return None
    if message.sentiment != "negative" or message.sentiment_confidence < ANGRY_AT:
        return None
    return ACKNOWLEDGE_PROBLEM.get(message.intent, ACKNOWLEDGE_PROBLEM_DEFAULT)


def acknowledgement(*, score: float, acknowledged: str | None, high_value: bool,
                    intent: str | None, offer_pending: bool = False,
                    reply_acknowledges: bool = False) -> tuple[str | None, Reply | None]:
    """The new acknowledgement state and what to say, if anything.

    The frustration is acknowledged once; a high-value customer who becomes very dissatisfied is
    offered a human with priority (once, even after a plain acknowledgement). The plain words are
    left out where the reply to the message itself acknowledges and offers a human (a complaint, a
    request for a human, a cancellation whose reply says sorry for the complaint in it:
    `reply_acknowledges`); the priority offer only where the handoff is already underway. Nothing is
    said when the customer has just chosen to cancel: the confirmation follows the choice directly
    (the acknowledgement stays due for later).
    """
    if chose_to_cancel(intent, offer_pending):
        return acknowledged, None
    if high_value and score >= VERY_DISSATISFIED_AT and acknowledged != PRIORITY_OFFERED:
        state, reply = PRIORITY_OFFERED, ACKNOWLEDGE_WITH_PRIORITY
    elif acknowledged is None and score >= ACKNOWLEDGE_AT:
        state, reply = HUMAN_OFFERED, ACKNOWLEDGE
    else:
        return acknowledged, None
    self_acknowledging = intent in SELF_ACKNOWLEDGING_INTENTS or reply_acknowledges
    if intent == "request_human" or (self_acknowledging and reply is ACKNOWLEDGE):
        return state, None
    return state, reply


class ActionUpdateDissatisfaction(Action):
    """Scores the latest message, acknowledges the frustration once, and upserts the conversation's row."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.is_paused():
            if (tracker.latest_message.get("intent") or {}).get("name") in CANCEL_INTENTS:
                send(dispatcher, CANCEL_DURING_HANDOFF)
            return []
        try:
            return await self._update(dispatcher, tracker, get_settings())
        except Exception:  # the score must never break the conversation
            logger.exception("Updating the dissatisfaction score failed")
            return []

    async def _update(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                      settings: Settings) -> list[dict[str, Any]]:
        previous = float(tracker.get_slot("dissatisfaction") or 0.0)
        events: list[dict[str, Any]] = []
        mood = CustomerMood.from_slot(tracker.get_slot("customer_history"))
        customer_id = verified_customer_id(tracker)
        if mood is None and customer_id is not None:
            # Once per conversation, on the first message after the verification.
            mood = await _load_mood(settings, customer_id)
            if mood is not None:
                events.append(SlotSet("customer_history", mood.as_slot()))
        message = latest_message(tracker)
        result = assess(previous, message, mood.history if mood else None)
        peak = max(float(tracker.get_slot("dissatisfaction_peak") or 0.0), result.score)
        reasons = merge_reasons(tracker.get_slot("dissatisfaction_reasons") or [], result.reasons)
        known = tracker.get_slot("dissatisfaction_acknowledged")
        acknowledged, reply = acknowledgement(score=result.score, acknowledged=known,
                                              high_value=bool(mood and mood.high_value), intent=message.intent,
                                              offer_pending=bool(tracker.get_slot("offer_pending")),
                                              reply_acknowledges=cancellation_acknowledgement(
                                                  tracker.latest_message) is not None)
        if reply is None:
            reply = problem_acknowledgement(message, already_acknowledged=_said_any(
                tracker, [r.text for r in (*ACKNOWLEDGE_PROBLEM.values(), ACKNOWLEDGE_PROBLEM_DEFAULT)]))
        if reply is not None:
            send(dispatcher, reply)
        updates = {"dissatisfaction": result.score, "dissatisfaction_peak": peak,
                   "dissatisfaction_reasons": reasons, "dissatisfaction_acknowledged": acknowledged}
        # Only what changed, so that calm turns add nothing to the conversation's history and write nothing;
        # a calm conversation leaves no row behind.
        events += [SlotSet(name, value) for name, value in updates.items() if _changed(tracker.get_slot(name), value)]
        if events and (peak > 0 or reasons):
            await self._record(settings, tracker, result.score, peak, reasons, acknowledged is not None)
        return events

    @staticmethod
    async def _record(settings: Settings, tracker: Tracker, score: float, peak: float, reasons: list[str],
                      acknowledged: bool) -> None:
        moment = now()
        customer_id = verified_customer_id(tracker)
        try:
            await in_records(settings, lambda s: record_insight(
                s, conversation_id=tracker.sender_id, customer_id=customer_id, score=score, peak=peak,
                reasons=reasons, acknowledged=acknowledged, now=moment))
        except RecordsUnavailable:
            pass  # already logged; the conversation goes on without the insight row


def _said_any(tracker: Tracker, texts: list[str]) -> bool:
    """Whether the assistant has sent one of these texts in the current session."""
    said = False
    for event in tracker.events:
        if event.get("event") == "session_started":
            said = False
        elif event.get("event") == "bot" and event.get("text") in texts:
            said = True
    return said


def _changed(old: Any, new: Any) -> bool:
    if isinstance(new, float):
        return old is None or abs(float(old) - new) > 1e-9
    return (old or None) != (new or None)


async def _load_mood(settings: Settings, customer_id: int) -> CustomerMood | None:
    """The verified customer's complaint history and value group (None if unreachable: tried again next time)."""
    today = berlin_date(now())
    try:
        return await in_records(settings, lambda s: customer_mood(s, customer_id=customer_id, today=today))
    except RecordsUnavailable:
        return None
