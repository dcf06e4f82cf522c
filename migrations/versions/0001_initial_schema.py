"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 20:09:27.050230
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_app_meta'))
    )
    op.create_table('campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('start_year', sa.Integer(), nullable=False),
    sa.Column('end_year', sa.Integer(), nullable=True),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.CheckConstraint('end_year IS NULL OR end_year >= start_year', name=op.f('ck_campaign_years_ordered')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('code', name=op.f('uq_campaign_code'))
    )
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.create_index('uq_campaign_current', ['is_current'], unique=True, sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))

    op.create_table('member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('sector', sa.String(length=32), nullable=False),
    sa.Column('enterprise', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member')),
    sa.UniqueConstraint('phone', name=op.f('uq_member_phone'))
    )
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('is_key_county', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(level = 'province') = (parent_id IS NULL)", name=op.f('ck_organisation_root_is_province')),
    sa.CheckConstraint("NOT is_key_county OR level = 'county'", name=op.f('ck_organisation_key_county_is_county')),
    sa.CheckConstraint("level IN ('province', 'prefecture', 'county')", name=op.f('ck_organisation_level')),
    sa.CheckConstraint('length(code) = 6', name=op.f('ck_organisation_code_six_digits')),
    sa.ForeignKeyConstraint(['parent_id'], ['organisation.id'], name=op.f('fk_organisation_parent_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('code', name=op.f('uq_organisation_code'))
    )
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_parent_id'), ['parent_id'], unique=False)

    op.create_table('boost_area',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_boost_area_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boost_area')),
    sa.UniqueConstraint('campaign_id', 'name', name=op.f('uq_boost_area_campaign_id_name')),
    sa.UniqueConstraint('id', 'campaign_id', name=op.f('uq_boost_area_id_campaign_id'))
    )
    op.create_table('committee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_committee_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_committee')),
    sa.UniqueConstraint('id', 'org_id', name=op.f('uq_committee_id_org_id')),
    sa.UniqueConstraint('org_id', 'name', name=op.f('uq_committee_org_id_name'))
    )
    op.create_table('org_closure',
    sa.Column('ancestor_id', sa.Integer(), nullable=False),
    sa.Column('descendant_id', sa.Integer(), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.CheckConstraint('depth >= 0', name=op.f('ck_org_closure_depth_non_negative')),
    sa.ForeignKeyConstraint(['ancestor_id'], ['organisation.id'], name=op.f('fk_org_closure_ancestor_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['descendant_id'], ['organisation.id'], name=op.f('fk_org_closure_descendant_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ancestor_id', 'descendant_id', name=op.f('pk_org_closure'))
    )
    with op.batch_alter_table('org_closure', schema=None) as batch_op:
        batch_op.create_index('ix_org_closure_descendant_id', ['descendant_id', 'depth'], unique=False)

    op.create_table('site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('town', 'village', 'demo_site', 'studio')", name=op.f('ck_site_kind')),
    sa.ForeignKeyConstraint(['county_id'], ['organisation.id'], name=op.f('fk_site_county_id_organisation')),
    sa.ForeignKeyConstraint(['parent_id'], ['site.id'], name=op.f('fk_site_parent_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site')),
    sa.UniqueConstraint('code', name=op.f('uq_site_code')),
    sa.UniqueConstraint('id', 'county_id', name=op.f('uq_site_id_county_id'))
    )
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.create_index('ix_site_county_id_kind', ['county_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_site_parent_id'), ['parent_id'], unique=False)

    op.create_table('term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_term_dates_ordered')),
    sa.CheckConstraint('number > 0', name=op.f('ck_term_number_positive')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_term_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_term')),
    sa.UniqueConstraint('id', 'org_id', name=op.f('uq_term_id_org_id')),
    sa.UniqueConstraint('org_id', 'number', name=op.f('uq_term_org_id_number'))
    )
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('login', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_user_account_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('login', name=op.f('uq_user_account_login')),
    sa.UniqueConstraint('member_id', name=op.f('uq_user_account_member_id'))
    )
    op.create_table('closed_month',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('closed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('month % 100 BETWEEN 1 AND 12 AND month > 200000', name=op.f('ck_closed_month_month_yyyymm')),
    sa.ForeignKeyConstraint(['closed_by_user_id'], ['user_account.id'], name=op.f('fk_closed_month_closed_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_closed_month_org_id_organisation')),
    sa.PrimaryKeyConstraint('org_id', 'month', name=op.f('pk_closed_month'))
    )
    op.create_table('link_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('leader_member_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('assigned_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('lead', 'liaison')", name=op.f('ck_link_assignment_role')),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_link_assignment_dates_ordered')),
    sa.ForeignKeyConstraint(['assigned_by_user_id'], ['user_account.id'], name=op.f('fk_link_assignment_assigned_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['county_id'], ['organisation.id'], name=op.f('fk_link_assignment_county_id_organisation')),
    sa.ForeignKeyConstraint(['leader_member_id'], ['member.id'], name=op.f('fk_link_assignment_leader_member_id_member')),
    sa.ForeignKeyConstraint(['site_id', 'county_id'], ['site.id', 'site.county_id'], name=op.f('fk_link_assignment_site_id_county_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_assignment'))
    )
    with op.batch_alter_table('link_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_link_assignment_county_id_end_date', ['county_id', 'end_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_assignment_leader_member_id'), ['leader_member_id'], unique=False)

    op.create_table('membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('term_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=32), nullable=True),
    sa.Column('committee_id', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.CheckConstraint("role IN ('member', 'standing', 'chair_council')", name=op.f('ck_membership_role')),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_membership_dates_ordered')),
    sa.ForeignKeyConstraint(['committee_id', 'org_id'], ['committee.id', 'committee.org_id'], name=op.f('fk_membership_committee_id_org_id_committee')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_membership_member_id_member')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_membership_org_id_organisation')),
    sa.ForeignKeyConstraint(['term_id', 'org_id'], ['term.id', 'term.org_id'], name=op.f('fk_membership_term_id_org_id_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership')),
    sa.UniqueConstraint('member_id', 'term_id', name=op.f('uq_membership_member_id_term_id'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_membership_org_id_end_date', ['org_id', 'end_date'], unique=False)

    op.create_table('role_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('granted_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('member', 'staff', 'leader', 'admin', 'viewer')", name=op.f('ck_role_grant_role')),
    sa.ForeignKeyConstraint(['granted_by_user_id'], ['user_account.id'], name=op.f('fk_role_grant_granted_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_role_grant_org_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_role_grant_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_grant')),
    sa.UniqueConstraint('user_id', 'role', 'org_id', name=op.f('uq_role_grant_user_id_role_org_id'))
    )
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_grant_org_id'), ['org_id'], unique=False)

    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('short_name', sa.String(length=32), nullable=False),
    sa.Column('narrative_prefix', sa.String(length=64), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id', 'campaign_id'], ['boost_area.id', 'boost_area.campaign_id'], name=op.f('fk_task_area_id_campaign_id_boost_area')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_task_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organisation.id'], name=op.f('fk_task_owner_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task')),
    sa.UniqueConstraint('campaign_id', 'owner_org_id', 'name', name=op.f('uq_task_campaign_id_owner_org_id_name'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('activity',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorder_user_id', sa.Integer(), nullable=False),
    sa.Column('credited_org_id', sa.Integer(), nullable=False),
    sa.Column('organiser_org_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('reviewer_user_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status <> 'returned' OR status_reason IS NOT NULL", name=op.f('ck_activity_returned_has_reason')),
    sa.CheckConstraint("status IN ('pending', 'verified', 'returned', 'withdrawn')", name=op.f('ck_activity_status')),
    sa.CheckConstraint('version > 0', name=op.f('ck_activity_version_positive')),
    sa.ForeignKeyConstraint(['county_id'], ['organisation.id'], name=op.f('fk_activity_county_id_organisation')),
    sa.ForeignKeyConstraint(['credited_org_id'], ['organisation.id'], name=op.f('fk_activity_credited_org_id_organisation')),
    sa.ForeignKeyConstraint(['organiser_org_id'], ['organisation.id'], name=op.f('fk_activity_organiser_org_id_organisation')),
    sa.ForeignKeyConstraint(['recorder_user_id'], ['user_account.id'], name=op.f('fk_activity_recorder_user_id_user_account')),
    sa.ForeignKeyConstraint(['reviewer_user_id'], ['user_account.id'], name=op.f('fk_activity_reviewer_user_id_user_account')),
    sa.ForeignKeyConstraint(['site_id', 'county_id'], ['site.id', 'site.county_id'], name=op.f('fk_activity_site_id_county_id_site')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_activity_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity')),
    sa.UniqueConstraint('id', 'task_id', name=op.f('uq_activity_id_task_id')),
    sa.UniqueConstraint('recorder_user_id', 'idempotency_key', name=op.f('uq_activity_recorder_user_id_idempotency_key'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_county_id_occurred_on', ['county_id', 'occurred_on'], unique=False)
        batch_op.create_index('ix_activity_county_id_task_id_occurred_on', ['county_id', 'task_id', 'occurred_on'], unique=False)
        batch_op.create_index('ix_activity_credited_org_id_occurred_on', ['credited_org_id', 'occurred_on'], unique=False)
        batch_op.create_index('ix_activity_status_credited_org_id', ['status', 'credited_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_task_id'), ['task_id'], unique=False)

    op.create_table('indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('narrative', sa.String(length=128), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('count', 'money')", name=op.f('ck_indicator_kind')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organisation.id'], name=op.f('fk_indicator_owner_org_id_organisation')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_indicator_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicator')),
    sa.UniqueConstraint('id', 'task_id', name=op.f('uq_indicator_id_task_id')),
    sa.UniqueConstraint('task_id', 'name', name=op.f('uq_indicator_task_id_name'))
    )
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_indicator_owner_org_id'), ['owner_org_id'], unique=False)

    op.create_table('activity_participant',
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_participant_activity_id_activity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_activity_participant_member_id_member')),
    sa.PrimaryKeyConstraint('activity_id', 'member_id', name=op.f('pk_activity_participant'))
    )
    with op.batch_alter_table('activity_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_participant_member_id'), ['member_id'], unique=False)

    op.create_table('activity_value',
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('value >= 0', name=op.f('ck_activity_value_value_non_negative')),
    sa.ForeignKeyConstraint(['activity_id', 'task_id'], ['activity.id', 'activity.task_id'], name=op.f('fk_activity_value_activity_id_task_id_activity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['indicator_id', 'task_id'], ['indicator.id', 'indicator.task_id'], name=op.f('fk_activity_value_indicator_id_task_id_indicator')),
    sa.PrimaryKeyConstraint('activity_id', 'indicator_id', name=op.f('pk_activity_value'))
    )
    with op.batch_alter_table('activity_value', schema=None) as batch_op:
        batch_op.create_index('ix_activity_value_indicator_id', ['indicator_id'], unique=False)

    op.create_table('annual_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('set_by_user_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('value >= 0', name=op.f('ck_annual_target_value_non_negative')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_annual_target_indicator_id_indicator')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_annual_target_org_id_organisation')),
    sa.ForeignKeyConstraint(['set_by_user_id'], ['user_account.id'], name=op.f('fk_annual_target_set_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annual_target')),
    sa.UniqueConstraint('org_id', 'indicator_id', 'year', name=op.f('uq_annual_target_org_id_indicator_id_year'))
    )
    with op.batch_alter_table('annual_target', schema=None) as batch_op:
        batch_op.create_index('ix_annual_target_indicator_id', ['indicator_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('annual_target', schema=None) as batch_op:
        batch_op.drop_index('ix_annual_target_indicator_id')

    op.drop_table('annual_target')
    with op.batch_alter_table('activity_value', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_value_indicator_id')

    op.drop_table('activity_value')
    with op.batch_alter_table('activity_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_participant_member_id'))

    op.drop_table('activity_participant')
    with op.batch_alter_table('indicator', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_indicator_owner_org_id'))

    op.drop_table('indicator')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_task_id'))
        batch_op.drop_index('ix_activity_status_credited_org_id')
        batch_op.drop_index('ix_activity_credited_org_id_occurred_on')
        batch_op.drop_index('ix_activity_county_id_task_id_occurred_on')
        batch_op.drop_index('ix_activity_county_id_occurred_on')

    op.drop_table('activity')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_campaign_id'))

    op.drop_table('task')
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_grant_org_id'))

    op.drop_table('role_grant')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index('ix_membership_org_id_end_date')
        batch_op.drop_index(batch_op.f('ix_membership_member_id'))

    op.drop_table('membership')
    with op.batch_alter_table('link_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_assignment_leader_member_id'))
        batch_op.drop_index('ix_link_assignment_county_id_end_date')

    op.drop_table('link_assignment')
    op.drop_table('closed_month')
    op.drop_table('user_account')
    op.drop_table('term')
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_parent_id'))
        batch_op.drop_index('ix_site_county_id_kind')

    op.drop_table('site')
    with op.batch_alter_table('org_closure', schema=None) as batch_op:
        batch_op.drop_index('ix_org_closure_descendant_id')

    op.drop_table('org_closure')
    op.drop_table('committee')
    op.drop_table('boost_area')
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_parent_id'))

    op.drop_table('organisation')
    op.drop_table('member')
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_index('uq_campaign_current', sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))

    op.drop_table('campaign')
    op.drop_table('app_meta')
