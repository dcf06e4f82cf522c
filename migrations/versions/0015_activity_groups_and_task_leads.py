"""牵头统筹 (issue 19): 委员活动小组 (activity_group, activity_group_member) and a 实事 led by a 专委会 or
活动小组 (task_lead)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 00:19:21.566140
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_group',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('leader_member_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_activity_group_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['leader_member_id'], ['member.id'], name=op.f('fk_activity_group_leader_member_id_member')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_activity_group_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_group')),
    sa.UniqueConstraint('id', 'org_id', name=op.f('uq_activity_group_id_org_id')),
    sa.UniqueConstraint('org_id', 'name', name=op.f('uq_activity_group_org_id_name'))
    )
    op.create_table('activity_group_member',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['activity_group.id'], name=op.f('fk_activity_group_member_group_id_activity_group')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_activity_group_member_member_id_member')),
    sa.PrimaryKeyConstraint('group_id', 'member_id', name=op.f('pk_activity_group_member'))
    )
    with op.batch_alter_table('activity_group_member', schema=None) as batch_op:
        batch_op.create_index('ix_activity_group_member_member', ['member_id'], unique=False)

    op.create_table('task_lead',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint('(committee_id IS NULL) <> (group_id IS NULL)', name=op.f('ck_task_lead_one_body')),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_task_lead_dates_ordered')),
    sa.ForeignKeyConstraint(['committee_id', 'org_id'], ['committee.id', 'committee.org_id'], name=op.f('fk_task_lead_committee_id_org_id_committee')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_task_lead_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['group_id', 'org_id'], ['activity_group.id', 'activity_group.org_id'], name=op.f('fk_task_lead_group_id_org_id_activity_group')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_task_lead_org_id_organisation')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_task_lead_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_lead'))
    )
    with op.batch_alter_table('task_lead', schema=None) as batch_op:
        batch_op.create_index('ix_task_lead_org_task', ['org_id', 'task_id'], unique=False)
        batch_op.create_index('uq_task_lead_creator_key', ['created_by_user_id', 'submission_key'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('task_lead', schema=None) as batch_op:
        batch_op.drop_index('uq_task_lead_creator_key')
        batch_op.drop_index('ix_task_lead_org_task')

    op.drop_table('task_lead')
    with op.batch_alter_table('activity_group_member', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_group_member_member')

    op.drop_table('activity_group_member')
    op.drop_table('activity_group')
