"""挂联: at most one open-ended link per leader and place (partial unique indexes)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_COUNTY = "end_date IS NULL AND site_id IS NULL"
OPEN_SITE = "end_date IS NULL AND site_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table('link_assignment', schema=None) as batch_op:
        batch_op.create_index('uq_link_assignment_open_county', ['leader_member_id', 'county_id'], unique=True,
                              sqlite_where=sa.text(OPEN_COUNTY), postgresql_where=sa.text(OPEN_COUNTY))
        batch_op.create_index('uq_link_assignment_open_site', ['leader_member_id', 'site_id'], unique=True,
                              sqlite_where=sa.text(OPEN_SITE), postgresql_where=sa.text(OPEN_SITE))


def downgrade() -> None:
    with op.batch_alter_table('link_assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_link_assignment_open_site', sqlite_where=sa.text(OPEN_SITE),
                            postgresql_where=sa.text(OPEN_SITE))
        batch_op.drop_index('uq_link_assignment_open_county', sqlite_where=sa.text(OPEN_COUNTY),
                            postgresql_where=sa.text(OPEN_COUNTY))
