"""Truth at the door: plausibility rules, flags stored with activities, history baselines, 报送
confirmations, the 「这是另一次活动」 note and merges, each office's review service level

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:00:00

Nothing is carried over: existing activities have no flags until the rules are first applied
(``python -m app quality recompute``, or any change of a rule), and the default rules are loaded
with the catalogue.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_confirmation',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('confirmed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('month % 100 BETWEEN 1 AND 12 AND month > 200000', name=op.f('ck_report_confirmation_month_yyyymm')),
    sa.ForeignKeyConstraint(['confirmed_by_user_id'], ['user_account.id'], name=op.f('fk_report_confirmation_confirmed_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_report_confirmation_org_id_organisation')),
    sa.PrimaryKeyConstraint('org_id', 'month', name=op.f('pk_report_confirmation'))
    )
    op.create_table('activity_flag',
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("code IN ('duplicate', 'over_bound', 'ratio', 'outlier_history', 'outlier_member', 'money_no_photo', 'late_entry', 'closed_month')", name=op.f('ck_activity_flag_code')),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_flag_activity_id_activity'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('activity_id', 'code', name=op.f('pk_activity_flag'))
    )
    with op.batch_alter_table('activity_flag', schema=None) as batch_op:
        batch_op.create_index('ix_activity_flag_code_activity_id', ['code', 'activity_id'], unique=False)

    op.create_table('indicator_baseline',
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('median', sa.Float(), nullable=False),
    sa.Column('mad', sa.Float(), nullable=False),
    sa.Column('computed_at', UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_indicator_baseline_indicator_id_indicator'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('indicator_id', name=op.f('pk_indicator_baseline'))
    )
    op.create_table('plausibility_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('max_value', sa.BigInteger(), nullable=True),
    sa.Column('per_indicator_id', sa.Integer(), nullable=True),
    sa.Column('min_ratio', sa.Float(), nullable=True),
    sa.Column('max_ratio', sa.Float(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('updated_by_user_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind <> 'bound' OR (max_value IS NOT NULL AND max_value >= 0)", name=op.f('ck_plausibility_rule_bound_has_max')),
    sa.CheckConstraint("kind <> 'ratio' OR (per_indicator_id IS NOT NULL AND per_indicator_id <> indicator_id AND (min_ratio IS NOT NULL OR max_ratio IS NOT NULL))", name=op.f('ck_plausibility_rule_ratio_has_terms')),
    sa.CheckConstraint("kind IN ('bound', 'ratio')", name=op.f('ck_plausibility_rule_kind')),
    sa.CheckConstraint('min_ratio IS NULL OR max_ratio IS NULL OR min_ratio <= max_ratio', name=op.f('ck_plausibility_rule_ratio_ordered')),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], name=op.f('fk_plausibility_rule_indicator_id_indicator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_plausibility_rule_org_id_organisation')),
    sa.ForeignKeyConstraint(['per_indicator_id'], ['indicator.id'], name=op.f('fk_plausibility_rule_per_indicator_id_indicator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['user_account.id'], name=op.f('fk_plausibility_rule_updated_by_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plausibility_rule'))
    )
    with op.batch_alter_table('plausibility_rule', schema=None) as batch_op:
        batch_op.create_index('ix_plausibility_rule_indicator_id', ['indicator_id'], unique=False)
        batch_op.create_index('ix_plausibility_rule_org_id', ['org_id'], unique=False)

    # Plain ADD COLUMNs, no table rebuild: activity is the largest table, and SQLite would have to
    # drop it under its own foreign keys. (So merged_into_id is a pointer the merge writes, no FK.)
    op.add_column('activity', sa.Column('distinct_note', sa.Text(), nullable=True))
    op.add_column('activity', sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                        nullable=True))

    op.add_column('organisation', sa.Column('review_sla_days', sa.Integer(), nullable=True))
    # A member's own verified history, asked at every write (the outlier_member flag).
    op.create_index('ix_activity_recorder_user_id_status', 'activity', ['recorder_user_id', 'status'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_activity_recorder_user_id_status', table_name='activity')
    op.drop_column('organisation', 'review_sla_days')

    op.drop_column('activity', 'merged_into_id')
    op.drop_column('activity', 'distinct_note')

    with op.batch_alter_table('plausibility_rule', schema=None) as batch_op:
        batch_op.drop_index('ix_plausibility_rule_org_id')
        batch_op.drop_index('ix_plausibility_rule_indicator_id')

    op.drop_table('plausibility_rule')
    op.drop_table('indicator_baseline')
    with op.batch_alter_table('activity_flag', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_flag_code_activity_id')

    op.drop_table('activity_flag')
    op.drop_table('report_confirmation')
