"""Retention periods: conversations and analytics facts are deleted once they are older than configured.

- Transcripts (TRANSCRIPT_RETENTION_DAYS, default 180): every event of a conversation whose latest event is
  older, in the tracker store and in the analytics pipeline's event broker table; the agents' messages, the
  not-understood messages kept for analytics, and the callback phone numbers of handoffs older than that; of the
  messaging channels (WhatsApp, Telegram): the messages sent (their bodies hold what was said), the provider
  message ids seen, and the contacts (phone number / chat id) whose customer last wrote before the cutoff.
- Analytics (ANALYTICS_RETENTION_DAYS, default 730): conversation facts that ended before (subtracted from the
  daily roll-up, bot.analytics.rollup, which holds no personal data), their processed event keys, and
  dissatisfaction insights last updated before.

Records the law requires to be kept (contracts, cancellations, invoices, offer decisions, e-mails sent)
are not touched. `purge_expired` runs from `python -m bot.cli purge-expired`; with `--every 24h` it
repeats, which is how `python -m bot.cli run` starts it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from bot.analytics.rollup import delete_facts
from bot.privacy.event_tables import EventTable
from bot.records.database import transaction
from bot.records.models import (
    AgentMessage,
    ChannelContact,
    ChannelInboundMessage,
    ChannelOutboundMessage,
    ConversationFact,
    ConversationInsight,
    FallbackMessage,
    HandoffRequest,
    ProcessedEvent,
)

logger = logging.getLogger(__name__)


def _bulk(session: Session, statement: Executable) -> int:
    """Run a bulk DELETE or UPDATE; the rows it touched (loaded objects are not synchronised: none are)."""
    return session.execute(statement, execution_options={"synchronize_session": False}).rowcount


@dataclass
class PurgeReport:
    transcripts: int = 0  # conversations deleted from the tracker store
    transcript_events: int = 0
    broker_events: int = 0
    agent_messages: int = 0
    fallback_messages: int = 0
    callback_phones: int = 0
    channel_messages: int = 0  # messaging channels: messages sent and provider message ids seen
    channel_contacts: int = 0
    facts: int = 0
    processed_events: int = 0
    insights: int = 0

    def summary(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in asdict(self).items())


def _expired_conversations(table: EventTable, cutoff: datetime) -> set[str]:
    limit = cutoff.timestamp()
    return {conversation for conversation, latest in table.last_activity().items() if latest < limit}


def purge_transcripts(*, records_url: str, event_store_urls: Sequence[str], broker_urls: Sequence[str] = (),
                      cutoff: datetime, report: PurgeReport) -> None:
    """Delete the conversations (and the agents' messages, not-understood messages, callback phones) before cutoff."""
    for url in event_store_urls:
        table = EventTable(url)
        try:
            expired = _expired_conversations(table, cutoff)
            report.transcript_events += table.delete_conversations(expired)
            report.transcripts += len(expired)
        finally:
            table.dispose()
    for url in broker_urls:
        table = EventTable(url)
        try:
            report.broker_events += table.delete_conversations(_expired_conversations(table, cutoff))
        finally:
            table.dispose()
    with transaction(records_url) as session:
        expired_agent_messages = select(AgentMessage.id).where(AgentMessage.created_at < cutoff)
        report.channel_messages += _bulk(session, delete(ChannelOutboundMessage).where(or_(
            ChannelOutboundMessage.created_at < cutoff,
            ChannelOutboundMessage.agent_message_id.in_(expired_agent_messages))))
        report.channel_messages += _bulk(session,
            delete(ChannelInboundMessage).where(ChannelInboundMessage.received_at < cutoff))
        report.channel_contacts += _bulk(session,
            delete(ChannelContact).where(ChannelContact.last_customer_message_at < cutoff))
        report.agent_messages += _bulk(session,
            delete(AgentMessage).where(AgentMessage.created_at < cutoff))
        report.fallback_messages += _bulk(session,
            delete(FallbackMessage).where(FallbackMessage.at < cutoff))
        report.callback_phones += _bulk(session,
            update(HandoffRequest).where(HandoffRequest.created_at < cutoff, HandoffRequest.callback_phone.is_not(None))
            .values(callback_phone=None))


def purge_analytics(*, records_url: str, cutoff: datetime, report: PurgeReport) -> None:
    """Delete conversation facts that ended before cutoff (and take them out of the daily roll-up, in the same
    transaction), their processed event keys, and old insights."""
    with transaction(records_url) as session:
        report.facts += delete_facts(session, ConversationFact.ended_at < cutoff)
        report.processed_events += _bulk(session,
            delete(ProcessedEvent).where(ProcessedEvent.processed_at < cutoff))
        report.insights += _bulk(session,
            delete(ConversationInsight).where(ConversationInsight.updated_at < cutoff))


def purge_expired(*, records_url: str, event_store_urls: Sequence[str], broker_urls: Sequence[str] = (),
                  transcript_days: int, analytics_days: int, now: datetime | None = None) -> PurgeReport:
    """Delete what is older than its retention period; what was deleted, counted."""
    now = now or datetime.now(timezone.utc)
    report = PurgeReport()
    purge_transcripts(records_url=records_url, event_store_urls=event_store_urls, broker_urls=broker_urls,
                      cutoff=now - timedelta(days=transcript_days), report=report)
    purge_analytics(records_url=records_url, cutoff=now - timedelta(days=analytics_days), report=report)
    logger.info("Expired data deleted: %s", report.summary())
    return report


def parse_interval(text: str) -> float:
    """Seconds in "24h", "30m", "90s", "2d" or a plain number of hours."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units:
            seconds = float(text[:-1]) * units[text[-1]]
        else:
            seconds = float(text) * 3600
    except ValueError:
        raise ValueError(f"not an interval: {text!r} (e.g. 24h, 30m, 2d)") from None
    if seconds <= 0:
        raise ValueError(f"the interval must be positive: {text!r}")
    return seconds


def run_every(interval_s: float, job: Callable[[], object], *, should_stop: Callable[[], bool],
              sleep: Callable[[float], None] = time.sleep) -> None:
    """Run `job` now and then every interval until `should_stop`; a failed run is logged and retried next time."""
    while not should_stop():
        try:
            job()
        except Exception:  # a database outage must not end the scheduled process; the next run retries
            logger.exception("Deleting expired data failed; retrying in %.0f s", interval_s)
        waited = 0.0
        while waited < interval_s and not should_stop():
            step = min(1.0, interval_s - waited)
            sleep(step)
            waited += step
