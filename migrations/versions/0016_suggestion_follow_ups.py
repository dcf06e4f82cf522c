"""意见建议的跟踪 (issue 20): indicator.is_suggestion (catalogue data) and suggestion_follow_up — an
activity's 已报送 / 已采纳 / 已落实 / 未采纳 state with the receiving department and date

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 00:20:46.843441
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('suggestion_follow_up',
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('department', sa.String(length=100), nullable=False),
    sa.Column('state_on', sa.Date(), nullable=False),
    sa.Column('updated_by_user_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('reported', 'adopted', 'implemented', 'declined')", name=op.f('ck_suggestion_follow_up_state')),
    sa.CheckConstraint('version > 0', name=op.f('ck_suggestion_follow_up_version_positive')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_suggestion_follow_up_activity_id_activity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['user_account.id'], name=op.f('fk_suggestion_follow_up_updated_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('activity_id', name=op.f('pk_suggestion_follow_up'))
    )
    # A plain ADD COLUMN (no batch rebuild of a table others refer to).
    op.add_column('indicator', sa.Column('is_suggestion', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Catalogues loaded before the flag existed: the campaign's two suggestion indicators (unit 条).
    op.execute(sa.text("UPDATE indicator SET is_suggestion = :yes WHERE unit = '条' AND name IN ('意见建议', '建言献策')")
               .bindparams(yes=True))


def downgrade() -> None:
    op.execute("ALTER TABLE indicator DROP COLUMN is_suggestion")
    op.drop_table('suggestion_follow_up')
