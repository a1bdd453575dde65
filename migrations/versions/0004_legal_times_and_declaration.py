"""timezone-aware legal times; what the customer declared with a cancellation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:00:00

1. Every point in time becomes timezone-aware UTC (`bot.records.types.UtcDateTime`): on PostgreSQL the
   columns change from `timestamp` to `timestamptz`; SQLite has no zone type and keeps the UTC wall time.

   How the old values are read: they were written with `datetime.now()`, i.e. as the wall-clock time of
   the service's machine, without a zone. The assistant serves German customers and is run in Germany,
   so they are taken as Europe/Berlin wall time (CET/CEST, so summer and winter rows each get their own
   offset) and converted to UTC. A deployment whose service ran in another zone sets
   RECORDS_LEGACY_TIMEZONE (an IANA name such as "UTC") before migrating. In the one ambiguous hour when
   the clocks go back, PostgreSQL and Python both take the first (summer time) occurrence. The downgrade
   turns them back into naive Europe/Berlin (or RECORDS_LEGACY_TIMEZONE) wall time.

2. `cancellations` gets the declaration (§ 312k Abs. 2 Satz 3 BGB): kind (ordinary | extraordinary; old
   rows are ordinary), extraordinary_reason, requested_date and extra_recipient.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from bot.settings import get_settings

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (table, column, nullable) of every point in time.
TIME_COLUMNS = (
    ("complaints", "created_at", False),
    ("offer_decisions", "decided_at", False),
    ("cancellations", "requested_at", False),
    ("handoff_requests", "created_at", False),
    ("conversation_insights", "updated_at", False),
    ("satisfaction_ratings", "created_at", False),
    ("outbox_emails", "created_at", False),
    ("outbox_emails", "sent_at", True),
)


def _legacy_zone() -> str:
    name = get_settings().records_legacy_timezone
    ZoneInfo(name)  # an unknown name fails here, before anything changes
    return name


def _convert_sqlite(to_utc: bool) -> None:
    """SQLite stores the wall time as text: rewrite each value in Python (zoneinfo knows the DST rules)."""
    zone = ZoneInfo(_legacy_zone())
    bind = op.get_bind()
    for table, column, _ in TIME_COLUMNS:
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
        for row_id, raw in rows:
            value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
            if to_utc:
                converted = value.replace(tzinfo=zone, fold=0).astimezone(timezone.utc).replace(tzinfo=None)
            else:
                converted = value.replace(tzinfo=timezone.utc).astimezone(zone).replace(tzinfo=None)
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                         {"value": converted.strftime("%Y-%m-%d %H:%M:%S.%f"), "id": row_id})  # SQLAlchemy's format


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        zone = _legacy_zone().replace("'", "")
        for table, column, _ in TIME_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE TIMESTAMP WITH TIME ZONE "
                       f"USING {column} AT TIME ZONE '{zone}'")
    else:
        # SQLite has no zone type (DATETIME either way, so no table is rebuilt): only the values change.
        _convert_sqlite(to_utc=True)

    with op.batch_alter_table('cancellations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='ordinary'))
        batch_op.add_column(sa.Column('extraordinary_reason', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('requested_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('extra_recipient', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cancellations', schema=None) as batch_op:
        batch_op.drop_column('extra_recipient')
        batch_op.drop_column('requested_date')
        batch_op.drop_column('extraordinary_reason')
        batch_op.drop_column('kind')

    if op.get_bind().dialect.name == "postgresql":
        zone = _legacy_zone().replace("'", "")
        for table, column, _ in TIME_COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE TIMESTAMP WITHOUT TIME ZONE "
                       f"USING {column} AT TIME ZONE '{zone}'")
    else:
        _convert_sqlite(to_utc=False)
