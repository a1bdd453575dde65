"""A callback the customer asks for when nobody can take the chat: a German phone number and a time window.

The phone number is personal data: it is stored with the handoff only, shown to agents only, and never
logged. Messages of InvalidCallback are shown to the customer (German, formal).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from bot.handoff.availability import DAY_NAMES, END_OF_DAY, ServiceHours, configured_hours
from bot.handoff.queue import HandoffError
from bot.records.models import HandoffRequest
from bot.retention.formatting import BERLIN, berlin_time

MAX_DAYS_AHEAD = 14
# National numbers (after +49) that cannot be called back: short and emergency numbers (11x), mass-call and
# premium-rate services, numbers internal to a network.
_UNCALLABLE_PREFIXES = ("11", "137", "138", "19", "900", "0")


class InvalidCallback(ValueError):
    """A phone number or time window that cannot be used; the message tells the customer what to enter."""


def normalise_phone(text: str) -> str:
    """A German phone number (+49…, 0049…, 0…) as E.164 ("+4930123456"); InvalidCallback otherwise."""
    raw = (text or "").strip()
    compact = re.sub(r"\(0\)", "", raw)
    compact = re.sub(r"[\s/\-().]", "", compact)
    if not compact:
        raise InvalidCallback("Bitte geben Sie eine Telefonnummer an, unter der wir Sie zurückrufen können.")
    if compact.lstrip("+").isdigit() and len(set(compact.lstrip("+"))) == 1:
        raise InvalidCallback("Unter dieser Nummer können wir Sie nicht zurückrufen. Bitte geben Sie Ihre "
                              "Festnetz- oder Mobilnummer an.")
    if compact.startswith("+49"):
        national = compact[3:]
    elif compact.startswith("0049"):
        national = compact[4:]
    elif compact.startswith("+") or compact.startswith("00"):
        raise InvalidCallback("Wir können leider nur deutsche Telefonnummern zurückrufen (+49 …). Bitte geben Sie "
                              "eine deutsche Festnetz- oder Mobilnummer an.")
    elif compact.startswith("0"):
        national = compact[1:]
    else:
        raise InvalidCallback("Bitte geben Sie die Telefonnummer mit Vorwahl an, zum Beispiel 030 1234567 oder "
                              "0151 12345678.")
    if national.startswith("0") and not national.startswith("00"):
        national = national[1:]  # "+49 0151 …": the trunk 0 written after the country code
    if not national.isdigit():
        raise InvalidCallback("Eine Telefonnummer besteht nur aus Ziffern (Leerzeichen, / und - sind erlaubt). "
                              "Bitte geben Sie sie zum Beispiel so an: 0151 12345678.")
    if not 6 <= len(national) <= 13:
        raise InvalidCallback(f"Die Nummer hat {'zu wenige' if len(national) < 6 else 'zu viele'} Ziffern. Bitte "
                              "geben Sie Ihre vollständige Nummer mit Vorwahl an, zum Beispiel 030 1234567.")
    if national.startswith(_UNCALLABLE_PREFIXES) or len(set(national)) == 1:
        raise InvalidCallback("Unter dieser Nummer können wir Sie nicht zurückrufen. Bitte geben Sie Ihre "
                              "Festnetz- oder Mobilnummer an.")
    return "+49" + national


@dataclass(frozen=True)
class CallbackWindow:
    day: date
    start: time
    end: time

    def describe(self) -> str:
        """'Mi, 02.12.2026, 10:00–12:00 Uhr'."""
        end = "24:00" if self.end == END_OF_DAY else f"{self.end:%H:%M}"
        return f"{DAY_NAMES[self.day.weekday()]}, {self.day:%d.%m.%Y}, {self.start:%H:%M}–{end} Uhr"


_WEEKDAYS = {
    "mo": 0, "montag": 0, "di": 1, "dienstag": 1, "mi": 2, "mittwoch": 2, "do": 3, "donnerstag": 3,
    "fr": 4, "freitag": 4, "sa": 5, "samstag": 5, "sonnabend": 5, "so": 6, "sonntag": 6,
}
_DAY = r"(?P<day>heute|morgen|übermorgen|uebermorgen|" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) \
    + r"|\d{1,2}\.\d{1,2}\.(?:\d{2,4})?)"
_WINDOW = re.compile(
    rf"^(?:am\s+)?{_DAY}\.?,?\s*(?:(?:zwischen|von)\s+)?"
    r"(?:ab\s+(?P<from_h>\d{1,2})(?:[:.](?P<from_m>\d{2}))?"
    r"|(?P<start_h>\d{1,2})(?:[:.](?P<start_m>\d{2}))?(?:\s*uhr)?\s*(?:-|–|bis|und)\s*"
    r"(?P<end_h>\d{1,2})(?:[:.](?P<end_m>\d{2}))?)\s*(?:uhr)?\.?$",
    re.IGNORECASE)

_HOW = ("Bitte nennen Sie einen Tag und eine Uhrzeit, zum Beispiel „morgen 10-12 Uhr“, „heute ab 16 Uhr“ "
        "oder „Mo 9-11“.")


def _clock(hours: str, minutes: str | None) -> time:
    hour, minute = int(hours), int(minutes or 0)
    if hour == 24 and minute == 0:
        return END_OF_DAY
    if hour > 23 or minute > 59:
        raise InvalidCallback(f"{hours}:{minutes or '00'} ist keine Uhrzeit. {_HOW}")
    return time(hour, minute)


def _day(word: str, today: date) -> tuple[date, bool]:
    """The date meant, and whether it was a weekday name (then a later week may be meant)."""
    word = word.lower()
    if word == "heute":
        return today, False
    if word == "morgen":
        return today + timedelta(days=1), False
    if word in ("übermorgen", "uebermorgen"):
        return today + timedelta(days=2), False
    if word in _WEEKDAYS:
        return today + timedelta(days=(_WEEKDAYS[word] - today.weekday()) % 7), True
    day, month, year = (word.split(".") + [""])[:3]
    full_year = today.year if not year else int(year) + (2000 if len(year) == 2 else 0)
    try:
        meant = date(full_year, int(month), int(day))
    except ValueError:
        raise InvalidCallback(f"Den {word} gibt es nicht im Kalender. {_HOW}") from None
    if not year and meant < today:
        meant = date(full_year + 1, int(month), int(day))
    return meant, False


def parse_callback_window(text: str, now: datetime, *, hours: ServiceHours | None = None) -> CallbackWindow:
    """The window in `text`, which must lie in the future and inside one range of the service hours."""
    hours = hours or configured_hours()
    match = _WINDOW.match(" ".join((text or "").split()))
    if match is None:
        raise InvalidCallback(_HOW)
    local = berlin_time(now)
    day, by_weekday = _day(match["day"], local.date())
    if match["from_h"] is not None:
        start, end = _clock(match["from_h"], match["from_m"]), None
    else:
        start, end = _clock(match["start_h"], match["start_m"]), _clock(match["end_h"], match["end_m"])
        if end <= start:
            raise InvalidCallback("Das Ende des Zeitraums liegt vor seinem Anfang. " + _HOW)
    for week in range(2 if by_weekday else 1):
        candidate = day + timedelta(days=7 * week)
        window = _fit(hours, candidate, start, end)
        if window is not None and _starts_after(window, now):
            break
    else:
        window = _fit(hours, day, start, end)
        if window is None:
            raise InvalidCallback(f"Zu dieser Zeit ist unser Service-Team nicht da ({hours.describe()}). Bitte "
                                  "wählen Sie einen Zeitraum innerhalb der Servicezeiten.")
        raise InvalidCallback("Dieser Zeitraum liegt in der Vergangenheit. Bitte nennen Sie einen späteren.")
    if (window.day - local.date()).days > MAX_DAYS_AHEAD:
        raise InvalidCallback(f"Bitte wählen Sie einen Termin in den nächsten {MAX_DAYS_AHEAD} Tagen.")
    return window


def _fit(hours: ServiceHours, day: date, start: time, end: time | None) -> CallbackWindow | None:
    """The window on `day` if it lies inside one service range ("ab 16" runs to that range's end)."""
    for open_at, close_at in hours.ranges_on(day.weekday()):
        if open_at <= start < close_at and (end is None or end <= close_at):
            return CallbackWindow(day, start, end or close_at)
    return None


def _starts_after(window: CallbackWindow, now: datetime) -> bool:
    return datetime.combine(window.day, window.start, tzinfo=BERLIN) > now


def parse_window(text: str, now: datetime, *, hours: ServiceHours | None = None) -> str:
    """"morgen 10-12 Uhr", "heute ab 16 Uhr", "Mo 9-11" -> "Mi, 02.12.2026, 10:00–12:00 Uhr".

    The window must be in the future and inside the service hours (SERVICE_HOURS unless `hours` is given);
    InvalidCallback tells the customer what to enter instead.
    """
    return parse_callback_window(text, now, hours=hours).describe()


def store_callback(session: Session, *, handoff_id: int, phone: str, window: str) -> HandoffRequest:
    """Store the callback with the handoff (phone normalised again; the window as parse_window wrote it)."""
    handoff = session.get(HandoffRequest, handoff_id)
    if handoff is None:
        raise HandoffError(f"Vorgang H-{handoff_id} gibt es nicht.")
    if handoff.status == "closed":
        raise HandoffError(f"Vorgang H-{handoff_id} ist bereits abgeschlossen.")
    window = window.strip()
    if not window or len(window) > 60:
        raise InvalidCallback(_HOW)
    handoff.callback_phone = normalise_phone(phone)
    handoff.callback_window = window
    session.flush()
    return handoff
