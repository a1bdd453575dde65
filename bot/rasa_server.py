"""Start Rasa with one addition: when the action server cannot be reached, the customer still gets an answer.

Rasa 3.6 logs a failed custom action and sends nothing, so the customer would wait forever. Here a
failed call becomes a polite German message. Form rejections pass through unchanged.

Usage: python -m bot.rasa_server run --enable-api ...   (the same arguments as `rasa`)
"""
from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger(__name__)

# Bookkeeping Rasa runs on every user message besides the answer (the dissatisfaction score): a
# failure there stays silent, since the answer to the message itself tells the customer, once.
BACKGROUND_ACTIONS = ("action_validate_slot_mappings",)

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
            if self.name() in BACKGROUND_ACTIONS:
                logger.error("Custom action %s failed: %s", self.name(), error)
                return []
            logger.error("Custom action %s failed, answering politely instead: %s", self.name(), error)
            return [BotUttered(text=ACTION_SERVER_DOWN, metadata={"action_server_unavailable": True})]

    run._polite_fallback = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]


def main() -> None:
    install_action_server_fallback()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
