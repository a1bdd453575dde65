"""Rasa's SQL event broker with one kept-open connection to a write-ahead-logged SQLite file.

Rasa 3.6's `SQLEventBroker` commits once per event, and on an SQLite file SQLAlchemy 1.4 opens a new
connection for every one of them (NullPool) with a full sync per commit: about 9 events per turn made a
turn ~2.5 times slower (docs/analytics_pipeline.md). This subclass keeps one connection open and writes
with WAL and synchronous=NORMAL: each event is still committed before Rasa goes on (an application crash
loses nothing; a power failure may lose the last commits, as with any WAL file in this mode). Other
databases (PostgreSQL) are used as Rasa builds them. The table is Rasa's `events` table, unchanged.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

BROKER_CLASS = "bot.analytics.sql_broker.WalSQLEventBroker"


class WalSQLEventBroker(SQLEventBroker):
    """`SQLEventBroker` (Rasa 3.6: `engine`, `sessionmaker`, table `events`) with a pooled WAL SQLite engine."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        if self.engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
            return
        self.engine.dispose()
        # Rasa publishes from its event loop's thread; the pool may hand the connection to another thread
        # later, which SQLite allows with check_same_thread off (never two at once: pool of one).
        self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=4,
                                       connect_args={"check_same_thread": False, "timeout": 5})

        @sa.event.listens_for(self.engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.sessionmaker = sessionmaker(bind=self.engine)
