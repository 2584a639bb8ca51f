"""Live clocks (``bookings.retry_at``) and helpline caller records (origin, claims, codes, outbox).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('otp_codes',
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('citizen_id')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_phone'), ['phone'], unique=False)

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_at', sa.Float(), nullable=True))
        batch_op.create_index('ix_bookings_status_retry', ['status', 'retry_at'], unique=False)

    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=10), server_default='app', nullable=False))
        batch_op.add_column(sa.Column('claimed_by', sa.Integer(), nullable=True))



def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('origin')

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_bookings_status_retry')
        batch_op.drop_column('retry_at')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_phone'))

    op.drop_table('outbox')
    op.drop_table('otp_codes')
