"""Issue 21: a version of the facts every activity write checks against (app_meta
``write_facts_version``), moved by triggers on the tables they come from, so each process's cached
copy (app/activities/facts.py) is checked inside the write's own transaction at no extra statement.

Watched (any insert, update or delete): organisation, org_closure, campaign, task, indicator,
closed_month. The new value is random, never a count: a change rolled back (the tests roll every
change back) leaves no value a later, different change could take again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "write_facts_version"
WATCHED = ("organisation", "org_closure", "campaign", "task", "indicator", "closed_month")


def upgrade() -> None:
    op.execute(f"INSERT INTO app_meta (key, value) SELECT '{KEY}', '1' "
               f"WHERE NOT EXISTS (SELECT 1 FROM app_meta WHERE key = '{KEY}')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION write_facts_version_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN UPDATE app_meta SET value = md5(random()::text || clock_timestamp()::text) "
            f"WHERE key = '{KEY}'; RETURN NULL; END $$")
        for table in WATCHED:
            op.execute(f"CREATE TRIGGER {table}_write_facts_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION write_facts_version_bump()")
        return
    bump = f"BEGIN UPDATE app_meta SET value = lower(hex(randomblob(16))) WHERE key = '{KEY}'; END"
    for table in WATCHED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_write_facts_version_{event.lower()} AFTER {event} ON {table} {bump}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_write_facts_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS write_facts_version_bump()")
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_write_facts_version_{event}")
    op.execute(f"DELETE FROM app_meta WHERE key = '{KEY}'")
