"""Indexes the API's activity lists walk by cursor: by activity date, and by last change (sync)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 01:05:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_occurred_on_id', ['occurred_on', 'id'], unique=False)
        batch_op.create_index('ix_activity_updated_at_id', ['updated_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_updated_at_id')
        batch_op.drop_index('ix_activity_occurred_on_id')
