"""API tokens' rate limits kept in the database, shared by every process and machine

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 13:30:00

One row per token: its bucket as one moment (GCRA's theoretical arrival time, microseconds since
the Unix epoch), pushed on by each admitted request in one upsert. Nothing to carry over: the old
limits lived in each process's memory.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_token_rate',
    sa.Column('token_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tat_us', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], name=op.f('fk_api_token_rate_token_id_api_token'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_id', name=op.f('pk_api_token_rate'))
    )


def downgrade() -> None:
    op.drop_table('api_token_rate')
