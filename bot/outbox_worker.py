"""The e-mail delivery worker: retries confirmation e-mails that could not be sent at once.

    python -m bot.outbox_worker      (started and supervised by `python -m bot.cli run`)

Every OUTBOX_POLL_SECONDS it sends the queued e-mails whose next try is due (bot.assistant.mail).
A database or SMTP outage is logged and tried again on the next round; nothing is dropped.
Without SMTP_HOST there is nothing to deliver to, and e-mails stay in the outbox table.
"""
from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone

from sqlalchemy.exc import SQLAlchemyError

from bot.assistant.mail import deliver_waiting
from bot.settings import Settings, get_settings

logger = logging.getLogger("bot.outbox_worker")


def run(settings: Settings, stop: threading.Event) -> None:
    """Deliver due e-mails until `stop` is set."""
    if not settings.smtp_host:
        logger.info("SMTP_HOST is not set: confirmation e-mails stay in the outbox table (python -m bot.cli outbox).")
        stop.wait()
        return
    logger.info("Delivering queued e-mails to %s:%s every %.0f s", settings.smtp_host, settings.smtp_port,
                settings.outbox_poll_seconds)
    while not stop.is_set():
        try:
            result = deliver_waiting(settings, now=datetime.now(timezone.utc))
            if result.sent or result.failed:
                logger.info("Outbox: %d sent, %d still waiting after a failed try", result.sent, result.failed)
        except SQLAlchemyError as error:
            logger.warning("Outbox: the database is unavailable (%s); trying again in %.0f s",
                           error.__class__.__name__, settings.outbox_poll_seconds)
        stop.wait(settings.outbox_poll_seconds)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    run(get_settings(), stop)


if __name__ == "__main__":
    main()
