"""analytics speed: a covering index for the dashboard's scans, one in the cancellation breakdown's group order,
a partial index for the median handoff wait

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:10:00

On SQLite the dashboard's grouped scans read every fact of the period; with the plain started_at index each
row costs an index entry plus a table lookup (a fact row is wide: conversation id, intents, times as text).
The covering index holds what the figures and the days read, so a scan of the period never touches the table;
the breakdown index delivers the cancellation conversations in the order of the breakdown's GROUP BY, so
SQLite (which aggregates by sorting) has nothing to sort (docs/analytics_benchmark.md). PostgreSQL gets the
same indexes (index-only scans where the visibility map allows).
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Keep in step with bot/records/models.py (end of file).
DASHBOARD_COLUMNS = ['started_at', 'channel', 'cancellation_intent', 'outcome', 'reason', 'offer_kind', 'segment',
                     'customer_id', 'offer_cost_cents', 'offer_made_at', 'cancelled_at', 'handoff_wait_seconds',
                     'fallbacks', 'messages', 'rating', 'dissatisfaction_peak']
BREAKDOWN_COLUMNS = ['cancellation_intent', 'reason', 'offer_kind', 'segment', 'outcome', 'started_at', 'channel',
                     'offer_made_at']
WAITED = sa.text('handoff_wait_seconds IS NOT NULL')


def upgrade() -> None:
    op.create_index('ix_conversation_facts_dashboard', 'conversation_facts', DASHBOARD_COLUMNS)
    op.create_index('ix_conversation_facts_breakdown', 'conversation_facts', BREAKDOWN_COLUMNS)
    op.create_index('ix_conversation_facts_handoff_wait', 'conversation_facts',
                    ['started_at', 'channel', 'handoff_wait_seconds'], sqlite_where=WAITED, postgresql_where=WAITED)


def downgrade() -> None:
    op.drop_index('ix_conversation_facts_handoff_wait', table_name='conversation_facts')
    op.drop_index('ix_conversation_facts_breakdown', table_name='conversation_facts')
    op.drop_index('ix_conversation_facts_dashboard', table_name='conversation_facts')
