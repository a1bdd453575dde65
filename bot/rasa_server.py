"""Start Rasa with two additions, so that every message gets an answer.

- When the action server cannot be reached: Rasa 3.6 logs a failed custom action and sends nothing,
  so the customer would wait forever. Here a failed call becomes a polite German message. Form
  rejections pass through unchanged.
- An empty or whitespace-only message: the intent classifier raises on it (HTTP 500 on /model/parse,
  no answer on the webhook). Here it is treated as not understood.

Usage: python -m bot.rasa_server run --enable-api ...   (the same arguments as `rasa`)
"""
from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)

ACTION_SERVER_DOWN = (
    "Entschuldigung, ich habe gerade eine technische Störung und kann Ihr Anliegen im Moment nicht bearbeiten. "
    "Bitte versuchen Sie es in ein paar Minuten noch einmal oder rufen Sie unseren Kundenservice an."
)


def install_action_server_fallback() -> None:
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.shared.core.events import BotUttered
    from rasa.shared.exceptions import RasaException

    if getattr(RemoteAction.run, "_polite_fallback", False):
        return
    original = RemoteAction.run

    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> list:
        try:
            return await original(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except RasaException as error:
            logger.error("Custom action %s failed, answering politely instead: %s", self.name(), error)
            return [BotUttered(text=ACTION_SERVER_DOWN, metadata={"action_server_unavailable": True})]

    run._polite_fallback = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]


def install_featureless_message_guard() -> None:
    """An empty or whitespace-only message becomes `nlu_fallback` instead of an HTTP 500.

    Such a message has no tokens, hence no features, and LogisticRegressionClassifier raises on a
    feature matrix without columns. Here it gets no intent (confidence 0), which the FallbackClassifier
    after it turns into `nlu_fallback`, so the customer is asked to rephrase.
    """
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    if getattr(LogisticRegressionClassifier.process, "_featureless_guard", False):
        return
    original = LogisticRegressionClassifier.process

    def has_features(message: Message) -> bool:
        return (message.get_sparse_features(TEXT)[1] is not None
                or message.get_dense_features(TEXT)[1] is not None)

    def process(self: LogisticRegressionClassifier, messages: list[Message]) -> list[Message]:
        featureless = [m for m in messages if not has_features(m)]
        for message in featureless:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        if len(featureless) < len(messages):
            original(self, [m for m in messages if has_features(m)])
        return messages

    process._featureless_guard = True  # type: ignore[attr-defined]
    LogisticRegressionClassifier.process = process  # type: ignore[method-assign]


def main() -> None:
    install_action_server_fallback()
    install_featureless_message_guard()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
