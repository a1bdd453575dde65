"""A message for the customer: German text and optional buttons of equal weight."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)


CANCEL_NOW = Button("Jetzt kündigen", "/cancel_now")
TALK_TO_HUMAN = Button("Mit einem Menschen sprechen", "/request_human")
NO_THANKS = Button("Nein, danke", "/deny")

