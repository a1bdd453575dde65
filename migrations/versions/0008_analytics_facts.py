"""analytics: conversation facts, processed event keys, fallback messages, consumer offsets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:10:00
"""
from alembic import op
import sqlalchemy as sa

from bot.records.types import UtcDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'conversation_facts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('started_at', UtcDateTime(), nullable=False),
        sa.Column('ended_at', UtcDateTime(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('segment', sa.String(length=20), nullable=True),
        sa.Column('contract_id', sa.Integer(), nullable=True),
        sa.Column('messages', sa.Integer(), nullable=False),
        sa.Column('intents', sa.Text(), nullable=False),
        sa.Column('dissatisfaction_peak', sa.Float(), nullable=False),
        sa.Column('cancellation_intent', sa.Boolean(), nullable=False),
        sa.Column('cancellation_intent_at', UtcDateTime(), nullable=True),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('offer_code', sa.String(length=40), nullable=True),
        sa.Column('offer_kind', sa.String(length=20), nullable=True),
        sa.Column('offer_value_cents', sa.Integer(), nullable=True),
        sa.Column('offer_cost_cents', sa.Integer(), nullable=True),
        sa.Column('offer_made_at', UtcDateTime(), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('cancelled_at', UtcDateTime(), nullable=True),
        sa.Column('handoff_wait_seconds', sa.Integer(), nullable=True),
        sa.Column('handoff_handling_seconds', sa.Integer(), nullable=True),
        sa.Column('fallbacks', sa.Integer(), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_conversation_facts_customer_id_customers')),
        sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_conversation_facts_contract_id_contracts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_facts')),
        sa.UniqueConstraint('conversation_id', name=op.f('uq_conversation_facts_conversation_id')),
    )
    op.create_index(op.f('ix_conversation_facts_started_at'), 'conversation_facts', ['started_at'])
    op.create_index(op.f('ix_conversation_facts_customer_id'), 'conversation_facts', ['customer_id'])
    op.create_index('ix_conversation_facts_channel_started_at', 'conversation_facts', ['channel', 'started_at'])
    op.create_index('ix_conversation_facts_outcome_started_at', 'conversation_facts', ['outcome', 'started_at'])
    op.create_index('ix_conversation_facts_reason_started_at', 'conversation_facts', ['reason', 'started_at'])
    op.create_table(
        'analytics_processed_events',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('processed_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_analytics_processed_events')),
    )
    op.create_index(op.f('ix_analytics_processed_events_conversation_id'), 'analytics_processed_events',
                    ['conversation_id'])
    op.create_table(
        'analytics_fallback_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_fallback_messages')),
    )
    op.create_index(op.f('ix_analytics_fallback_messages_conversation_id'), 'analytics_fallback_messages',
                    ['conversation_id'])
    op.create_index(op.f('ix_analytics_fallback_messages_at'), 'analytics_fallback_messages', ['at'])
    op.create_table(
        'analytics_consumer_offsets',
        sa.Column('source', sa.String(length=60), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('source', name=op.f('pk_analytics_consumer_offsets')),
    )


def downgrade() -> None:
    op.drop_table('analytics_consumer_offsets')
    op.drop_index(op.f('ix_analytics_fallback_messages_at'), table_name='analytics_fallback_messages')
    op.drop_index(op.f('ix_analytics_fallback_messages_conversation_id'), table_name='analytics_fallback_messages')
    op.drop_table('analytics_fallback_messages')
    op.drop_index(op.f('ix_analytics_processed_events_conversation_id'), table_name='analytics_processed_events')
    op.drop_table('analytics_processed_events')
    for name in ('ix_conversation_facts_reason_started_at', 'ix_conversation_facts_outcome_started_at',
                 'ix_conversation_facts_channel_started_at'):
        op.drop_index(name, table_name='conversation_facts')
    op.drop_index(op.f('ix_conversation_facts_customer_id'), table_name='conversation_facts')
    op.drop_index(op.f('ix_conversation_facts_started_at'), table_name='conversation_facts')
    op.drop_table('conversation_facts')
