"""messaging channels: provider message ids seen (webhook retries processed once), contacts with the customer's
last message (WhatsApp's 24-hour window), outbound messages with their delivery status

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 18:40:00
"""
import sqlalchemy as sa
from alembic import op

from bot.records.types import UtcDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'channel_inbound_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('provider_message_id', sa.String(length=200), nullable=False),
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('received_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_inbound_messages')),
        sa.UniqueConstraint('channel', 'provider_message_id',
                            name='uq_channel_inbound_messages_channel_provider_message_id'),
    )
    op.create_index(op.f('ix_channel_inbound_messages_conversation_id'), 'channel_inbound_messages',
                    ['conversation_id'])
    op.create_index(op.f('ix_channel_inbound_messages_received_at'), 'channel_inbound_messages', ['received_at'])
    op.create_table(
        'channel_contacts',
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=120), nullable=False),
        sa.Column('last_customer_message_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_channel_contacts')),
    )
    op.create_table(
        'channel_outbound_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('provider_message_id', sa.String(length=200), nullable=True),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('status_at', UtcDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('agent_message_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['agent_message_id'], ['agent_messages.id'],
                                name=op.f('fk_channel_outbound_messages_agent_message_id_agent_messages')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_outbound_messages')),
    )
    for column in ('conversation_id', 'provider_message_id', 'agent_message_id', 'created_at'):
        op.create_index(op.f(f'ix_channel_outbound_messages_{column}'), 'channel_outbound_messages', [column])


def downgrade() -> None:
    op.drop_table('channel_outbound_messages')
    op.drop_table('channel_contacts')
    op.drop_table('channel_inbound_messages')
