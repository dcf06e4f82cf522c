"""Issue 21: a version of everything a signed-in caller's principal is built from (app_meta
``principal_version``), moved by triggers on exactly those columns, so each process's principal
cache (app/auth/principals.py) sees a grant change or a revoked session within a second.

Watched: role_grant (any insert or delete; user_id, role, org_id), user_session (delete; revoked_at,
user_id, expires_at, csrf_token — never last_seen_at, moved on requests), user_account (delete;
is_active, login, display_name, member_id), membership (insert, delete; member_id, org_id,
start_date, end_date). app/auth/principals.py ``WATCHED`` names the same columns for its in-process hint.
The new value is random, never a count: a change rolled back (tests roll every change back) leaves
no value that a later, different change could take again.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 03:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "principal_version"
# table → (insert watched?, columns whose UPDATE is watched); DELETE is watched on every one.
WATCHED = {
    "role_grant": (True, ("user_id", "role", "org_id")),
    "user_session": (False, ("revoked_at", "user_id", "expires_at", "csrf_token")),
    "user_account": (False, ("is_active", "login", "display_name", "member_id")),
    "membership": (True, ("member_id", "org_id", "start_date", "end_date")),
}


def upgrade() -> None:
    op.execute(f"INSERT INTO app_meta (key, value) SELECT '{KEY}', '1' "
               f"WHERE NOT EXISTS (SELECT 1 FROM app_meta WHERE key = '{KEY}')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION principal_version_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN UPDATE app_meta SET value = md5(random()::text || clock_timestamp()::text) WHERE key = '{KEY}'; "
            "RETURN NULL; END $$"
        )
        # Once per statement: a bulk import or a 换届 moves the version once, not once a row.
        for table, (insert, columns) in WATCHED.items():
            events = ("INSERT OR " if insert else "") + "DELETE OR UPDATE OF " + ", ".join(columns)
            op.execute(f"CREATE TRIGGER {table}_principal_version AFTER {events} ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION principal_version_bump()")
        return
    bump = f"BEGIN UPDATE app_meta SET value = lower(hex(randomblob(16))) WHERE key = '{KEY}'; END"
    for table, (insert, columns) in WATCHED.items():
        events = {"delete": "DELETE", "update": "UPDATE OF " + ", ".join(columns)}
        if insert:
            events["insert"] = "INSERT"
        for name, event in events.items():
            op.execute(f"CREATE TRIGGER {table}_principal_version_{name} AFTER {event} ON {table} {bump}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_principal_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS principal_version_bump()")
    else:
        for table in WATCHED:
            for name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_principal_version_{name}")
    op.execute(f"DELETE FROM app_meta WHERE key = '{KEY}'")
