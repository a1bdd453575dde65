"""The analytics consumers' periodic step: close quiet conversations and pick up handoff times that agents
recorded after the conversation's last event (bot.analytics.projection)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.analytics.projection import close_quiet_conversations, refresh_unfinished_handoffs
from bot.records.database import transaction
from bot.settings import Settings

logger = logging.getLogger(__name__)

EVERY = timedelta(seconds=30)
_last_run: dict[str, datetime] = {}


def run_maintenance(settings: Settings, *, now: datetime) -> None:
    with transaction(settings.database_url) as session:
        closed = close_quiet_conversations(session, now=now, idle_minutes=settings.analytics_idle_minutes)
        refresh_unfinished_handoffs(session)
    if closed:
        logger.info("Analytics: %d quiet conversation(s) closed", closed)


def run_maintenance_if_due(settings: Settings, *, now: datetime) -> None:
    """`run_maintenance` at most every 30 s per records database."""
    last = _last_run.get(settings.database_url)
    if last is not None and now - last < EVERY:
        return
    run_maintenance(settings, now=now)
    _last_run[settings.database_url] = now
