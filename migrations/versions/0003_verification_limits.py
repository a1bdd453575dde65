"""verification attempts and locks, cancellation requests without verification

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('verification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_number', sa.String(length=7), nullable=False),
    sa.Column('client_key', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('conversation_id', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_attempts'))
    )
    op.create_index('ix_verification_attempts_customer_number_attempted_at', 'verification_attempts',
                    ['customer_number', 'attempted_at'], unique=False)
    op.create_index('ix_verification_attempts_client_key_attempted_at', 'verification_attempts',
                    ['client_key', 'attempted_at'], unique=False)

    op.create_table('verification_locks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_number', sa.String(length=7), nullable=True),
    sa.Column('client_key', sa.String(length=200), nullable=True),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=120), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_locks'))
    )
    op.create_index(op.f('ix_verification_locks_customer_number'), 'verification_locks', ['customer_number'],
                    unique=False)
    op.create_index(op.f('ix_verification_locks_client_key'), 'verification_locks', ['client_key'], unique=False)

    op.create_table('cancellation_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('customer_number', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('postal_address', sa.Text(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('conversation_id', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_cancellation_requests_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cancellation_requests')),
    sa.UniqueConstraint('reference', name=op.f('uq_cancellation_requests_reference'))
    )
    op.create_index(op.f('ix_cancellation_requests_customer_id'), 'cancellation_requests', ['customer_id'],
                    unique=False)
    op.create_index(op.f('ix_cancellation_requests_conversation_id'), 'cancellation_requests',
                    ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_table('cancellation_requests')
    op.drop_table('verification_locks')
    op.drop_table('verification_attempts')
