"""One table of background jobs for exports and imports (export_job moves into it)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00

The export jobs keep their ids, owners, parameters, progress, files and outcomes; a job queued or
running at the upgrade goes back to the queue (an export is restartable: the new workers write it
again). Downgrade copies the export jobs back (import jobs did not live in the database before).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXPORT_KIND = 'activities.xlsx'


def _reset_sequence(table: str) -> None:
    # Rows were copied with their ids: PostgreSQL's sequence must start after them.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")


def upgrade() -> None:
    op.create_table('background_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('progress_done', sa.Integer(), nullable=False),
    sa.Column('progress_total', sa.Integer(), nullable=True),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_background_job_status')),
    sa.CheckConstraint('progress_done >= 0', name=op.f('ck_background_job_progress_done_non_negative')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_background_job_org_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_background_job_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_background_job')),
    sqlite_autoincrement=True,  # ids never reused after the day-old import jobs are deleted
    )
    with op.batch_alter_table('background_job', schema=None) as batch_op:
        batch_op.create_index('ix_background_job_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_background_job_user_id_created_at', ['user_id', 'created_at'], unique=False)

    op.execute(
        "INSERT INTO background_job (id, kind, user_id, org_id, status, params, progress_done, progress_total, "
        "file_name, error, attempts, created_at, started_at, finished_at) "
        "SELECT id, kind, user_id, org_id, "
        "CASE WHEN status IN ('queued', 'running') THEN 'queued' ELSE status END, params, "
        "CASE WHEN status IN ('queued', 'running') THEN 0 ELSE rows_done END, rows_total, "
        "file_name, error, 0, created_at, "
        "CASE WHEN status IN ('queued', 'running') THEN NULL ELSE started_at END, finished_at FROM export_job")
    _reset_sequence('background_job')

    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.drop_index('ix_export_job_user_id_created_at')
    op.drop_table('export_job')


def downgrade() -> None:
    op.create_table('export_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_export_job_status')),
    sa.CheckConstraint('rows_done >= 0', name=op.f('ck_export_job_rows_done_non_negative')),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], name=op.f('fk_export_job_org_id_organisation')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_export_job_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_job'))
    )
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.create_index('ix_export_job_user_id_created_at', ['user_id', 'created_at'], unique=False)

    # The old code ran a job only in the process that accepted it: one still open cannot be resumed.
    op.execute(
        "INSERT INTO export_job (id, user_id, org_id, kind, params, status, rows_total, rows_done, file_name, "
        "error, created_at, started_at, finished_at) "
        "SELECT id, user_id, org_id, kind, params, "
        "CASE WHEN status IN ('queued', 'running') THEN 'failed' ELSE status END, progress_total, progress_done, "
        "file_name, CASE WHEN status IN ('queued', 'running') THEN '服务已重启，导出中断，请重新生成' ELSE error END, "
        "created_at, started_at, finished_at "
        f"FROM background_job WHERE kind = '{EXPORT_KIND}' AND org_id IS NOT NULL")
    _reset_sequence('export_job')

    with op.batch_alter_table('background_job', schema=None) as batch_op:
        batch_op.drop_index('ix_background_job_user_id_created_at')
        batch_op.drop_index('ix_background_job_status_id')
    op.drop_table('background_job')
