"""Issue 20: outcome indicators (indicator.is_outcome), 行业 (member.industry), 典型 nominations
(exemplar_nomination) and 补位 invitations (match_invitation)


Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 00:27:26.468413
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exemplar_nomination',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('nominated', 'selected', 'returned', 'withdrawn')", name=op.f('ck_exemplar_nomination_status')),
    sa.CheckConstraint('version > 0', name=op.f('ck_exemplar_nomination_version_positive')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_exemplar_nomination_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['user_account.id'], name=op.f('fk_exemplar_nomination_decided_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_exemplar_nomination_member_id_member')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_exemplar_nomination_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exemplar_nomination')),
    sa.UniqueConstraint('org_id', 'member_id', 'year', name=op.f('uq_exemplar_nomination_org_id_member_id_year'))
    )
    with op.batch_alter_table('exemplar_nomination', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exemplar_nomination_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_exemplar_nomination_status_year', ['status', 'year'], unique=False)
        batch_op.create_index('uq_exemplar_nomination_creator_key', ['created_by_user_id', 'submission_key'], unique=True)

    op.create_table('match_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint("channel IN ('inapp', 'sms', 'list')", name=op.f('ck_match_invitation_channel')),
    sa.ForeignKeyConstraint(['county_id'], ['organisation.id'], name=op.f('fk_match_invitation_county_id_organisation')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_match_invitation_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_match_invitation_member_id_member')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_match_invitation_org_id_organisation')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_match_invitation_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_invitation'))
    )
    with op.batch_alter_table('match_invitation', schema=None) as batch_op:
        batch_op.create_index('ix_match_invitation_county_task', ['county_id', 'task_id'], unique=False)
        batch_op.create_index('ix_match_invitation_member', ['member_id'], unique=False)
        batch_op.create_index('uq_match_invitation_creator_key', ['created_by_user_id', 'submission_key', 'member_id'], unique=True)

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_outcome', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('industry', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('industry')

    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_column('is_outcome')

    with op.batch_alter_table('match_invitation', schema=None) as batch_op:
        batch_op.drop_index('uq_match_invitation_creator_key')
        batch_op.drop_index('ix_match_invitation_member')
        batch_op.drop_index('ix_match_invitation_county_task')

    op.drop_table('match_invitation')
    with op.batch_alter_table('exemplar_nomination', schema=None) as batch_op:
        batch_op.drop_index('uq_exemplar_nomination_creator_key')
        batch_op.drop_index('ix_exemplar_nomination_status_year')
        batch_op.drop_index(batch_op.f('ix_exemplar_nomination_member_id'))

    op.drop_table('exemplar_nomination')
