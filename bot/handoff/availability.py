"""When people are there to take over: service hours (Berlin wall time) and agents online.

Service hours are written as in a shop window: "Mo-Fr 08:00-20:00, Sa 09:00-16:00" (German day names
Mo Di Mi Do Fr Sa So; a day range may wrap, "Sa-Mo"; several ranges per day: "Mo-Fr 08:00-12:00 13:00-18:00";
"24:00" closes at midnight). They are read in Europe/Berlin, so the opening hour stays 08:00 local time
across the change to and from summer time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.records.models import StaffUser
from bot.retention.formatting import BERLIN, berlin_time
from bot.settings import Settings, get_settings

DAY_NAMES = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
PRESENCE_SECONDS = 90  # online = the console was seen within this many seconds
EXAMPLE = "Mo-Fr 08:00-20:00, Sa 09:00-16:00"
END_OF_DAY = time.max  # "24:00"


class InvalidServiceHours(ValueError):
    """Service hours that cannot be read; the message says what is wrong and shows the format."""


@dataclass(frozen=True)
class ServiceHours:
    """Opening ranges for each weekday (index 0 = Monday), as Berlin wall times."""

    days: tuple[tuple[tuple[time, time], ...], ...]

    def ranges_on(self, weekday: int) -> tuple[tuple[time, time], ...]:
        return self.days[weekday]

    def describe(self) -> str:
        """German summary for customers: "Mo–Sa 08:00–20:00 Uhr"."""
        groups: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
        for weekday, ranges in enumerate(self.days):
            if not ranges:
                continue
            if groups and groups[-1][1] == weekday - 1 and groups[-1][2] == ranges:
                groups[-1] = (groups[-1][0], weekday, ranges)
            else:
                groups.append((weekday, weekday, ranges))
        parts = []
        for first, last, ranges in groups:
            days = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]}–{DAY_NAMES[last]}"
            parts.append(days + " " + ", ".join(f"{_clock(start)}–{_clock(end)}" for start, end in ranges))
        return "; ".join(parts) + " Uhr"


def _clock(moment: time) -> str:
    return "24:00" if moment == END_OF_DAY else f"{moment:%H:%M}"


_DAY = "|".join(DAY_NAMES)
_PART = re.compile(rf"^(?P<days>(?:{_DAY})(?:\s*[-–]\s*(?:{_DAY}))?)\s+(?P<ranges>.+)$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?$")


def _day_index(name: str) -> int:
    return [d.lower() for d in DAY_NAMES].index(name.strip().lower())


def _time(hours: str, minutes: str | None, *, text: str, is_end: bool) -> time:
    hour, minute = int(hours), int(minutes or 0)
    if is_end and hour == 24 and minute == 0:
        return END_OF_DAY
    if hour > 23 or minute > 59:
        raise InvalidServiceHours(f"{text!r} is not a time of day (00:00 to 24:00)")
    return time(hour, minute)


def parse_service_hours(text: str) -> ServiceHours:
    """Read service hours such as "Mo-Fr 08:00-20:00, Sa 09:00-16:00"; InvalidServiceHours when unreadable."""
    if not text or not text.strip():
        raise InvalidServiceHours(f"service hours are empty; write them like {EXAMPLE!r}")
    days: list[list[tuple[time, time]]] = [[] for _ in DAY_NAMES]
    for raw_part in re.split(r"[,;]", text):
        part = raw_part.strip()
        if not part:
            continue
        match = _PART.match(part)
        if match is None:
            raise InvalidServiceHours(
                f"cannot read {part!r}: expected day names ({' '.join(DAY_NAMES)}) and times, like {EXAMPLE!r}")
        names = re.split(r"\s*[-–]\s*", match["days"])
        first, last = _day_index(names[0]), _day_index(names[-1])
        weekdays = [(first + step) % 7 for step in range((last - first) % 7 + 1)]
        ranges = []
        for raw_range in re.sub(r"\s*[-–]\s*", "-", match["ranges"]).split():
            times = _RANGE.match(raw_range)
            if times is None:
                raise InvalidServiceHours(f"cannot read the times {raw_range!r} in {part!r}; write them like 08:00-20:00")
            start = _time(times[1], times[2], text=raw_range, is_end=False)
            end = _time(times[3], times[4], text=raw_range, is_end=True)
            if end <= start:
                raise InvalidServiceHours(f"{raw_range!r} in {part!r} ends before it starts (overnight ranges are "
                                          "written as two days: 'Fr 22:00-24:00, Sa 00:00-02:00')")
            ranges.append((start, end))
        for weekday in weekdays:
            for start, end in ranges:
                for other_start, other_end in days[weekday]:
                    if start < other_end and other_start < end:
                        raise InvalidServiceHours(f"{DAY_NAMES[weekday]} is given overlapping times in {text!r}")
                days[weekday].append((start, end))
    if not any(days):
        raise InvalidServiceHours(f"no opening times in {text!r}; write them like {EXAMPLE!r}")
    return ServiceHours(tuple(tuple(sorted(ranges)) for ranges in days))


def configured_hours(settings: Settings | None = None) -> ServiceHours:
    """The service hours in SERVICE_HOURS (checked when the settings are read)."""
    return parse_service_hours((settings or get_settings()).service_hours)


def _contains(start: time, end: time, moment: time) -> bool:
    return start <= moment < end or (end == END_OF_DAY and moment >= start)


def is_open(hours: ServiceHours, now: datetime) -> bool:
    """Whether the aware time `now` is within service hours (Berlin wall time)."""
    local = berlin_time(now)
    return any(_contains(start, end, local.time()) for start, end in hours.ranges_on(local.weekday()))


def next_opening(hours: ServiceHours, now: datetime) -> datetime:
    """When service opens next, in Berlin time; `now` itself while open."""
    if is_open(hours, now):
        return berlin_time(now)
    local = berlin_time(now)
    for days_ahead in range(8):
        day = local.date() + timedelta(days=days_ahead)
        for start, _end in hours.ranges_on(day.weekday()):
            # A wall time that does not exist (02:30 on the spring change) resolves to the later hour.
            opening = datetime.combine(day, start, tzinfo=BERLIN)
            opening = opening.astimezone(BERLIN)
            if opening > local:
                return opening
    raise InvalidServiceHours("service hours have no opening in the coming week")  # parse_service_hours prevents it


def agents_online(session: Session, *, now: datetime, within_seconds: int = PRESENCE_SECONDS) -> int:
    """Active agents and supervisors whose console was seen within the last `within_seconds`."""
    return session.scalar(select(func.count()).select_from(StaffUser).where(
        StaffUser.active.is_(True), StaffUser.role.in_(("agent", "supervisor")),
        StaffUser.last_seen_at >= now - timedelta(seconds=within_seconds))) or 0


def touch_presence(session: Session, *, user_id: int, now: datetime) -> None:
    """Note that the person has the console open now."""
    session.execute(update(StaffUser).where(StaffUser.id == user_id).values(last_seen_at=now)
                    .execution_options(synchronize_session=False))
