"""analytics daily roll-up: the dashboard's additive figures per UTC day and channel (analytics_daily_figures),
filled from the existing facts; a partial index for the distinct customers of a period instead of the covering
index the figures' scan needed; the not-understood messages indexed in text order

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:00:00

bot/analytics/rollup.py keeps the table in step with conversation_facts from now on; this fills it once with
the same sums (docs/analytics_benchmark.md, "Daily roll-up"). The covering index ix_conversation_facts_dashboard
(16 columns, updated with every fact the consumer writes) served only the scans the roll-up replaces.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Keep in step with bot/analytics/rollup.py (FIGURES, contribution, FACT_SUMS).
FIGURES = ['conversations', 'cancellation_intents', 'accepted_offer_cost_cents', 'cancellations', 'handoffs',
           'handoff_waits', 'fallbacks', 'messages', 'ratings', 'rating_sum', 'dissatisfaction_micros']
BIG = ('accepted_offer_cost_cents', 'dissatisfaction_micros')
DASHBOARD_COLUMNS = ['started_at', 'channel', 'cancellation_intent', 'outcome', 'reason', 'offer_kind', 'segment',
                     'customer_id', 'offer_cost_cents', 'offer_made_at', 'cancelled_at', 'handoff_wait_seconds',
                     'fallbacks', 'messages', 'rating', 'dissatisfaction_peak']
VERIFIED = sa.text('customer_id IS NOT NULL')

FILL = """
INSERT INTO analytics_daily_figures (day, channel, {figures})
SELECT {day}, channel, count(*),
  coalesce(sum(CASE WHEN cancellation_intent THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN outcome = 'offer_accepted' THEN coalesce(offer_cost_cents, 0) ELSE 0 END), 0),
  coalesce(sum(CASE WHEN cancelled_at IS NOT NULL OR outcome = 'cancelled' THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN handoff_wait_seconds IS NOT NULL OR outcome = 'handed_off' THEN 1 ELSE 0 END), 0),
  count(handoff_wait_seconds), coalesce(sum(fallbacks), 0), coalesce(sum(messages), 0), count(rating),
  coalesce(sum(rating), 0),
  coalesce(sum(CASE WHEN dissatisfaction_peak > 0 THEN {whole} ELSE 0 END), 0)
FROM conversation_facts GROUP BY {day}, channel
"""


def upgrade() -> None:
    op.create_table(
        'analytics_daily_figures',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.BigInteger() if name in BIG else sa.Integer(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint('day', 'channel', name=op.f('pk_analytics_daily_figures')),
    )
    op.create_index('ix_conversation_facts_customers', 'conversation_facts', ['started_at', 'channel', 'customer_id'],
                    sqlite_where=VERIFIED, postgresql_where=VERIFIED)
    op.drop_index('ix_conversation_facts_dashboard', table_name='conversation_facts')
    # Texts are at most 500 characters (the projection cuts them), within PostgreSQL's B-tree entry limit.
    op.create_index('ix_analytics_fallback_messages_text_at', 'analytics_fallback_messages', ['text', 'at'])
    if op.get_bind().dialect.name == 'postgresql':
        day, whole = "CAST(started_at AT TIME ZONE 'UTC' AS DATE)", "CAST(FLOOR(dissatisfaction_peak * 1000000 + 0.5) AS BIGINT)"
    else:  # SQLite keeps UTC wall time as 'YYYY-MM-DD HH:MM:SS' text; CAST truncates (peaks are not negative)
        day, whole = "substr(started_at, 1, 10)", "CAST(dissatisfaction_peak * 1000000 + 0.5 AS INTEGER)"
    op.execute(FILL.format(figures=', '.join(FIGURES), day=day, whole=whole))


def downgrade() -> None:
    op.drop_index('ix_analytics_fallback_messages_text_at', table_name='analytics_fallback_messages')
    op.create_index('ix_conversation_facts_dashboard', 'conversation_facts', DASHBOARD_COLUMNS)
    op.drop_index('ix_conversation_facts_customers', table_name='conversation_facts')
    op.drop_table('analytics_daily_figures')
