"""conversation insights and handoff dissatisfaction

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_insights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=120), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('dissatisfaction', sa.Float(), nullable=False),
    sa.Column('peak_dissatisfaction', sa.Float(), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('acknowledged', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_conversation_insights_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_insights')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_conversation_insights_conversation_id'))
    )
    with op.batch_alter_table('conversation_insights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_insights_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dissatisfaction', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.drop_column('dissatisfaction')

    with op.batch_alter_table('conversation_insights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_insights_customer_id'))

    op.drop_table('conversation_insights')
