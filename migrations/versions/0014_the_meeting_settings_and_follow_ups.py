"""The 研判 meeting (issue 19): each office's meeting settings (the big screen's playlist and theme,
the 挂联实效 idle months) and 督办事项 (follow_up)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:09:47.049814
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('follow_up',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('source_kind', sa.String(length=32), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('figure_then', sa.Text(), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('done_criteria', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('closed_note', sa.Text(), nullable=True),
    sa.Column('closed_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status = 'open' OR (closed_note IS NOT NULL AND closed_at IS NOT NULL)", name=op.f('ck_follow_up_closed_has_note')),
    sa.CheckConstraint("status IN ('open', 'done')", name=op.f('ck_follow_up_status')),
    sa.ForeignKeyConstraint(['closed_by_user_id'], ['user_account.id'], name=op.f('fk_follow_up_closed_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_follow_up_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_follow_up_org_id_organisation')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organisation.id'], name=op.f('fk_follow_up_owner_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up'))
    )
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.create_index('ix_follow_up_org_status_due', ['org_id', 'status', 'due_on'], unique=False)
        batch_op.create_index('ix_follow_up_owner', ['owner_org_id'], unique=False)
        batch_op.create_index('uq_follow_up_creator_key', ['created_by_user_id', 'submission_key'], unique=True)

    op.create_table('meeting_setting',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('playlist', sa.String(length=200), nullable=False),
    sa.Column('theme', sa.String(length=8), nullable=False),
    sa.Column('link_idle_months', sa.Integer(), nullable=False),
    sa.Column('updated_by_user_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("theme IN ('light', 'dark')", name=op.f('ck_meeting_setting_theme')),
    sa.CheckConstraint('link_idle_months BETWEEN 1 AND 24', name=op.f('ck_meeting_setting_link_idle_months_range')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_meeting_setting_org_id_organisation')),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['user_account.id'], name=op.f('fk_meeting_setting_updated_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_meeting_setting'))
    )


def downgrade() -> None:
    op.drop_table('meeting_setting')
    with op.batch_alter_table('follow_up', schema=None) as batch_op:
        batch_op.drop_index('uq_follow_up_creator_key')
        batch_op.drop_index('ix_follow_up_owner')
        batch_op.drop_index('ix_follow_up_org_status_due')

    op.drop_table('follow_up')
