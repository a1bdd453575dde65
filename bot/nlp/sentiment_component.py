"""The Rasa NLU component that adds a `sentiment` object to every parse result.

A thin wrapper around `bot.nlp.sentiment`: it trains the model on the project's labelled examples
(`training_data` in config.yml, a `text<TAB>label` file relative to the project root), keeps it in Rasa's model storage and sets
`{"label": "negative" | "neutral" | "positive", "score": 0..1}` on each message, so it shows up in
`/model/parse` and in the tracker's `latest_message`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.sentiment import SentimentConfig, SentimentModel, train_model
from bot.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

SENTIMENT = "sentiment"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SentimentAnalyzer(GraphComponent):
    """Message-level sentiment (negative / neutral / positive) with the model's confidence."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"training_data": "data/sentiment/train.tsv", **SentimentConfig().as_dict()}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: SentimentModel | None = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> SentimentAnalyzer:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit on the sentiment examples (Rasa's intent examples are not used)."""
        path = Path(self._config["training_data"])
        if not path.is_absolute():
            path = PROJECT_ROOT / path  # config.yml paths are relative to the project, wherever Rasa runs
        self._model = train_model(path, SentimentConfig.from_dict(self._config))
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(directory)
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> SentimentAnalyzer:
        with model_storage.read_from(resource) as directory:
            model = SentimentModel.load(directory)
        # The decision rule comes from config.yml, so it can be re-tuned without refitting.
        model.config = SentimentConfig.from_dict(config)
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            raise RuntimeError("SentimentAnalyzer was not trained; run `python -m bot.cli train`")
        texts = [message.get(TEXT) or "" for message in messages]
        for message, sentiment in zip(messages, self._model.predict_many(texts), strict=True):
            message.set(SENTIMENT, sentiment.as_dict(), add_to_output=True)
        return messages
