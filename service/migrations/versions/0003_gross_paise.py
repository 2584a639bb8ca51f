"""Workers' ``earned_paise`` (price − commission) becomes ``gross_paise`` (prices of completed jobs).

The twin's meaning (``sim.worker_index.WorkerState.gross_paise``), which the ``fair`` policy ranks on.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply: rename, then recompute from the completed bookings."""
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.alter_column('earned_paise', new_column_name='gross_paise')
    op.execute("UPDATE workers SET gross_paise = (SELECT COALESCE(SUM(b.price_paise), 0) FROM bookings b"
               " WHERE b.worker_id = workers.id AND b.status = 'completed')")


def downgrade() -> None:
    """Revert the name (values stay gross)."""
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.alter_column('gross_paise', new_column_name='earned_paise')
