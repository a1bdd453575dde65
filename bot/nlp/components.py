"""Custom Rasa NLU components (registered in config.yml by their dotted path)."""
from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlp.cues import (
    CANCEL,
    RankedIntent,
    alternative_to_cancelling,
    confirmed_cancellation,
    fault_over_complaint,
    foreign_cancellation,
    should_cancel,
    unworded_cancellation,
)
from bot.nlp.reasons import detect_reason

ENTITY = "cancellation_reason"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class CancellationReasonExtractor(GraphComponent, EntityExtractorMixin):
    """Adds a `cancellation_reason` entity (canonical value) to every message that states a reason."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CancellationReasonExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue  # button payloads carry their entities already
            reason = detect_reason(text)
            if reason is None:
                continue
            entity = {"entity": ENTITY, "value": reason, "start": 0, "end": len(text),
                      "confidence": 1.0, "extractor": self.__class__.__name__}
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CancellationCueBooster(GraphComponent, IntentClassifier):
    """Puts `cancel_contract` first when a declared cancellation or a strong cancellation cue overrules
    the classifier (`bot.nlp.cues.should_cancel`; the intent it overrules stays second in the ranking,
    as the secondary information the actions read), `out_of_scope` first when the cancellation is of
    something not the company's (`bot.nlp.cues.foreign_cancellation`), and a pause, plan change or accepted offer first instead of a
    cancellation the customer says they do not want (`bot.nlp.cues.alternative_to_cancelling`).
    The cue counts as evidence on top of the classifier's: the new confidence is the former top
    confidence plus the one the classifier gave the chosen intent, so a later FallbackClassifier
    sees the message as at least as certain as before."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_gap": 0.5, "min_declared": 0.0}

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_gap = float(config["max_gap"])
        self.min_declared = float(config.get("min_declared", 0.0))

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CancellationCueBooster:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            ranking = message.get(INTENT_RANKING_KEY) or []
            if not text or text.startswith("/") or not ranking:
                continue
            ranked = [RankedIntent(r[INTENT_NAME_KEY], float(r[PREDICTED_CONFIDENCE_KEY])) for r in ranking]
            if should_cancel(text, ranked, max_gap=self.max_gap, min_declared=self.min_declared):
                self._put_first(message, ranking, CANCEL)
            elif foreign_cancellation(text, ranked):
                self._put_first(message, ranking, "out_of_scope")
            elif (alternative := alternative_to_cancelling(text, ranked, max_gap=self.max_gap)) is not None:
                self._put_first(message, ranking, alternative)
            elif (instead := unworded_cancellation(text, ranked, max_gap=self.max_gap)) is not None:
                self._put_first(message, ranking, instead)
            elif fault_over_complaint(text, ranked):
                self._put_first(message, ranking, "report_problem")
            elif len(ranked) > 1 and ({ranked[0].name, ranked[1].name} == {CANCEL, "cancel_now"}
                                      or confirmed_cancellation(text, ranked)):
                # The two cancellation intents share the evidence ("ich will kein Angebot, ich will kündigen"):
                # the message is a cancellation as surely as both together, not a fallback. Likewise a top
                # cancellation that its words confirm: the cue is evidence on top of the classifier's.
                self._merge_first_two(message, ranking)
        return messages

    @staticmethod
    def _merge_first_two(message: Message, ranking: list[dict[str, Any]]) -> None:
        merged = min(1.0, ranking[0][PREDICTED_CONFIDENCE_KEY] + ranking[1][PREDICTED_CONFIDENCE_KEY])
        new_ranking = [{**ranking[0], PREDICTED_CONFIDENCE_KEY: merged}, *ranking[1:]]
        message.set(INTENT_RANKING_KEY, new_ranking, add_to_output=True)
        message.set(INTENT, dict(new_ranking[0]), add_to_output=True)

    @staticmethod
    def _put_first(message: Message, ranking: list[dict[str, Any]], name: str) -> None:
        top = ranking[0]
        chosen = next((r for r in ranking if r[INTENT_NAME_KEY] == name), None)
        chosen_confidence = chosen[PREDICTED_CONFIDENCE_KEY] if chosen else 0.0
        rest = [r for r in ranking[1:] if r is not chosen]
        boosted = min(1.0, top[PREDICTED_CONFIDENCE_KEY] + chosen_confidence)
        new_ranking = [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: boosted},
                       {**top, PREDICTED_CONFIDENCE_KEY: chosen_confidence}, *rest]
        message.set(INTENT_RANKING_KEY, new_ranking, add_to_output=True)
        message.set(INTENT, dict(new_ranking[0]), add_to_output=True)
