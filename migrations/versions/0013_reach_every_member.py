"""Reach every member: the notification outbox (站内消息, SMS, 企业微信 robots), reminder campaigns,
SMS sign-in codes, 记住我 sessions, reminder opt-out, and 动员面 (member_reach, participation_counter.reached)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 18:32:56.592908
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UtcDateTime

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sms_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_log'))
    )
    with op.batch_alter_table('sms_log', schema=None) as batch_op:
        batch_op.create_index('ix_sms_log_phone_id', ['phone', 'id'], unique=False)

    op.create_table('member_reach',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('signed_in_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('notified_at', UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('month % 100 BETWEEN 1 AND 12 AND month > 200000', name=op.f('ck_member_reach_month_yyyymm')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_member_reach_member_id_member')),
    sa.PrimaryKeyConstraint('member_id', 'month', name=op.f('pk_member_reach'))
    )
    op.create_table('reminder_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('segment', sa.String(length=16), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('committee_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('with_sms', sa.Boolean(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('queued', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('sms_parts', sa.Integer(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint("segment IN ('never_activated', 'idle', 'returned', 'pending')", name=op.f('ck_reminder_campaign_segment')),
    sa.ForeignKeyConstraint(['committee_id'], ['committee.id'], name=op.f('fk_reminder_campaign_committee_id_committee')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_reminder_campaign_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_reminder_campaign_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_campaign')),
    sa.UniqueConstraint('created_by_user_id', 'submission_key', name=op.f('uq_reminder_campaign_created_by_user_id_submission_key'))
    )
    with op.batch_alter_table('reminder_campaign', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_campaign_org_id_created_at', ['org_id', 'created_at'], unique=False)

    op.create_table('sms_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('used_at', UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('login', 'reset')", name=op.f('ck_sms_code_purpose')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sms_code_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_code'))
    )
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.create_index('ix_sms_code_ip_created_at', ['ip', 'created_at'], unique=False)
        batch_op.create_index('ix_sms_code_phone_created_at', ['phone', 'created_at'], unique=False)

    op.create_table('wecom_robot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('webhook_url', sa.String(length=300), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['user_account.id'], name=op.f('fk_wecom_robot_created_by_user_id_user_account')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_wecom_robot_org_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wecom_robot'))
    )
    with op.batch_alter_table('wecom_robot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wecom_robot_org_id'), ['org_id'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=6), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('recipient', sa.String(length=40), nullable=False),
    sa.Column('event_key', sa.String(length=80), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('robot_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('not_before', UtcDateTime(timezone=True), nullable=False),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('leased_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('provider_message_id', sa.String(length=100), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', UtcDateTime(timezone=True), nullable=True),
    sa.Column('read_at', UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('inapp', 'sms', 'wecom')", name=op.f('ck_notification_channel')),
    sa.CheckConstraint("kind IN ('activity_returned', 'join_decided', 'join_requested', 'reminder', 'campaign_done', 'login_code', 'reset_code')", name=op.f('ck_notification_kind')),
    sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'skipped')", name=op.f('ck_notification_status')),
    sa.ForeignKeyConstraint(['campaign_id'], ['reminder_campaign.id'], name=op.f('fk_notification_campaign_id_reminder_campaign')),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_notification_member_id_member')),
    sa.ForeignKeyConstraint(['robot_id'], ['wecom_robot.id'], name=op.f('fk_notification_robot_id_wecom_robot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_notification_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('channel', 'recipient', 'event_key', name=op.f('uq_notification_channel_recipient_event_key')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_campaign_id', ['campaign_id'], unique=False)
        batch_op.create_index('ix_notification_member_id_created_at', ['member_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notification_status_not_before', ['status', 'not_before'], unique=False)
        batch_op.create_index('ix_notification_user_id_channel_id', ['user_id', 'channel', 'id'], unique=False)

    with op.batch_alter_table('participation_counter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reached', sa.Integer(), nullable=False, server_default='0'))

    op.add_column('user_account', sa.Column('reminders_opt_out', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))

    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remember', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('method', sa.String(length=8), nullable=False, server_default='password'))



def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user_id_channel_id')
        batch_op.drop_index('ix_notification_status_not_before')
        batch_op.drop_index('ix_notification_member_id_created_at')
        batch_op.drop_index('ix_notification_campaign_id')

    op.drop_table('notification')
    with op.batch_alter_table('wecom_robot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wecom_robot_org_id'))

    op.drop_table('wecom_robot')
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_code_phone_created_at')
        batch_op.drop_index('ix_sms_code_ip_created_at')

    op.drop_table('sms_code')
    with op.batch_alter_table('reminder_campaign', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_campaign_org_id_created_at')

    op.drop_table('reminder_campaign')
    op.drop_table('member_reach')
    with op.batch_alter_table('sms_log', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_log_phone_id')

    op.drop_table('sms_log')

    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_column('method')
        batch_op.drop_column('remember')

    # Not a batch (table copy): other tables' rows refer to user_account, and SQLite ≥ 3.35 drops
    # a plain column in place.
    op.execute("ALTER TABLE user_account DROP COLUMN reminders_opt_out")

    with op.batch_alter_table('participation_counter', schema=None) as batch_op:
        batch_op.drop_column('reached')
