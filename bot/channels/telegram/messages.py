"""What the assistant sends on Telegram, shaped to the Bot API's limits (plain logic).

- Texts go out as plain text (no parse_mode: nothing a customer or agent wrote is interpreted); the Markdown
  links the assistant writes for the website widget ("[Datenschutzhinweise](https://...)") become
  "Datenschutzhinweise: https://..." (`plain_links`), which Telegram shows as a link.
- A message's text has at most 4,096 characters: longer text is split at a paragraph, line or word boundary.
- Buttons become an inline keyboard, one button per row (Telegram cuts long titles in a row of several).
  A button's callback_data has at most 64 bytes: a longer payload (e.g. `/cancel_now{"cancellation_kind":
  "extraordinary",...}`) is sent as a short key (`callback_key`) and the payload is kept with the sent message,
  so that the press is taken as the payload (bot/channels/telegram/records.py). No button is ever dropped, so
  the cancel-now button (§ 312k BGB) is always there.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
# A callback key never looks like a payload the assistant uses (those start with "/" or are plain words).
CALLBACK_KEY_PREFIX = "#k:"


_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")


def plain_links(text: str) -> str:
    """Markdown links `[label](https://...)` as "label: https://..." (other text unchanged)."""
    return _MARKDOWN_LINK.sub(lambda match: f"{match.group(1)}: {match.group(2)}", text)


def split_text(text: str, limit: int = MAX_TEXT_LENGTH) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at a paragraph, line or word boundary where possible."""
    text = text.strip()
    if not text:
        return []
    parts = []
    while len(text) > limit:
        window = text[:limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator, 0, limit + 1)
            if cut > limit // 2:
                break
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def callback_key(payload: str) -> str:
    """A short, stable key for a payload too long for callback_data (within 64 bytes)."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return CALLBACK_KEY_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def is_callback_key(data: str) -> bool:
    return data.startswith(CALLBACK_KEY_PREFIX)


@dataclass(frozen=True)
class Keyboard:
    """An inline keyboard (`reply_markup`) and the payloads sent as keys (key -> payload)."""

    reply_markup: dict[str, Any]
    long_payloads: dict[str, str]


def _title(button: Mapping[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or "").strip()


def inline_keyboard(buttons: Iterable[Mapping[str, Any]]) -> Keyboard:
    """Rasa buttons ({"title", "payload"}) as an inline keyboard, one per row; a payload over 64 bytes as a key.

    A button with a URL ("url" in the button) becomes a link button.
    """
    rows: list[list[dict[str, str]]] = []
    long_payloads: dict[str, str] = {}
    for button in buttons:
        title = _title(button)
        if not title:
            continue
        if button.get("url"):
            rows.append([{"text": title, "url": str(button["url"])}])
            continue
        payload = str(button.get("payload") or title)
        data = payload
        if len(payload.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES or is_callback_key(payload):
            data = callback_key(payload)
            long_payloads[data] = payload
        rows.append([{"text": title, "callback_data": data}])
    return Keyboard(reply_markup={"inline_keyboard": rows}, long_payloads=long_payloads)
