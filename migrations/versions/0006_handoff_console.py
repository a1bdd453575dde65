"""handoff console: staff users, login attempts, agent messages, handoff ownership and outcome

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:50:00
"""
from alembic import op
import sqlalchemy as sa

from bot.records.types import UtcDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'staff_users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=80), nullable=False),
        sa.Column('first_name', sa.String(length=80), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('last_seen_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
        sa.UniqueConstraint('username', name=op.f('uq_staff_users_username')),
    )
    op.create_table(
        'login_attempts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=80), nullable=False),
        sa.Column('client_key', sa.String(length=200), nullable=False),
        sa.Column('succeeded', sa.Boolean(), nullable=False),
        sa.Column('attempted_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts')),
    )
    op.create_index('ix_login_attempts_username_attempted_at', 'login_attempts', ['username', 'attempted_at'])
    op.create_index('ix_login_attempts_client_key_attempted_at', 'login_attempts', ['client_key', 'attempted_at'])
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='socketio', nullable=False))
        batch_op.add_column(sa.Column('assigned_agent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('taken_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('callback_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('callback_window', sa.String(length=60), nullable=True))
        batch_op.create_index(batch_op.f('ix_handoff_requests_assigned_agent_id'), ['assigned_agent_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_handoff_requests_assigned_agent_id_staff_users'), 'staff_users',
                                    ['assigned_agent_id'], ['id'])
    op.create_table(
        'agent_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=120), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('sent_at', UtcDateTime(), nullable=True),
        sa.Column('delivered_at', UtcDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['staff_users.id'], name=op.f('fk_agent_messages_agent_id_staff_users')),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoff_requests.id'],
                                name=op.f('fk_agent_messages_handoff_id_handoff_requests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_messages')),
    )
    op.create_index(op.f('ix_agent_messages_handoff_id'), 'agent_messages', ['handoff_id'])
    op.create_index(op.f('ix_agent_messages_conversation_id'), 'agent_messages', ['conversation_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_agent_messages_conversation_id'), table_name='agent_messages')
    op.drop_index(op.f('ix_agent_messages_handoff_id'), table_name='agent_messages')
    op.drop_table('agent_messages')
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_handoff_requests_assigned_agent_id_staff_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_handoff_requests_assigned_agent_id'))
        for column in ('callback_window', 'callback_phone', 'note', 'resolution', 'closed_at', 'taken_at',
                       'assigned_agent_id', 'channel'):
            batch_op.drop_column(column)
    op.drop_index('ix_login_attempts_client_key_attempted_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_username_attempted_at', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_table('staff_users')
