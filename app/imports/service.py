"""导入 (import with a preview): the use cases every kind shares — preview, then commit as previewed.

``preview`` reads the file and asks the kind for its plan (writes nothing). ``commit`` plans again
inside the write transaction — what is written is what the data says *now* — and refuses when the
file has errors or the plan differs from the one previewed (a colleague changed something
meanwhile). A plan without changes writes nothing at all, not even an audit entry: importing the
same file twice is a no-op the second time. Otherwise the kind writes its bulk statements and one
audit entry (``import.<kind>``) records the counts, the file's name and SHA-256, all in one
transaction.

The pages run both through ``app/imports/jobs.py`` (background jobs, progress polled); the CLI
calls them directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal
from app.errors import Conflict, Forbidden, Invalid
from app.imports.base import (
    KINDS,
    ImportKind,
    Plan,
    Progress,
    blank_stop_notice,
    get_kind,
    no_progress,
    read_rows,
)

STAFF_ONLY = "只有「双助推」办公室人员可以导入数据"


def require_staff(by: Principal) -> None:
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden(STAFF_ONLY, code="staff_only")


def kinds() -> list[ImportKind]:
    from app.imports.registry import ORDER

    return sorted(KINDS.values(), key=lambda k: (ORDER.index(k.code) if k.code in ORDER else len(ORDER), k.code))


def preview(session: Session, by: Principal, kind: str, data: bytes, filename: str,
            progress: Progress = no_progress, *, total: Progress = no_progress) -> Plan:
    """What importing ``data`` would do: counts, errors, notices. Writes nothing.

    ``total`` hears the number of data rows once the file is read; ``progress`` the rows planned.
    """
    require_staff(by)
    found = get_kind(kind)
    rows = read_rows(data, filename, found.columns)
    if not rows:
        raise Invalid("文件中没有数据行（表头下方是空的）", code="import_empty")
    total(len(rows))
    plan = found.plan(session, by, rows, progress)
    notice = blank_stop_notice(rows)
    if notice:
        plan.notices.append(notice)
    return plan


def commit(session: Session, by: Principal, kind: str, data: bytes, filename: str, *,
           identity: str | None = None, progress: Progress = no_progress, total: Progress = no_progress,
           before_commit: Callable[[Session, Plan], None] | None = None) -> Plan:
    """Import ``data`` all or nothing, as previewed (``identity``: the preview's ``Plan.identity()``). Commits.

    ``before_commit`` writes in the same transaction, just before it commits (the import job marks
    itself done there, so data and outcome cannot part); it is not called when nothing changes.
    """
    plan = preview(session, by, kind, data, filename, progress, total=total)
    if not plan.ok:
        raise Invalid(f"文件有 {len(plan.errors)} 处错误，没有导入任何数据；请修改后重新上传", code="import_invalid")
    if identity is not None and plan.identity() != identity:
        raise Conflict("预览之后数据已有变化，请重新上传文件查看新的预览", code="import_stale")
    if not plan.changes:
        return plan
    found = get_kind(kind)
    orgs = by.grant_orgs(session, *STAFF_ROLES)
    record(session, actor=by.actor, action=f"import.{found.code}", target_type="import",
           target_id=hashlib.sha256(data).hexdigest()[:16], org_id=orgs[0].id if orgs else None,
           after={"kind": found.label, "file": filename[:200], "sha256": hashlib.sha256(data).hexdigest(),
                  **plan.counts()})
    try:
        found.commit(session, by, plan)
        if before_commit is not None:
            before_commit(session, plan)
        session.commit()
    except IntegrityError:
        # A concurrent writer made the same row between our plan and our write (PostgreSQL; on
        # SQLite the write transaction began IMMEDIATE): nothing is written, the file can be retried.
        session.rollback()
        raise Conflict("导入时数据刚被他人修改，没有写入任何数据；请重新上传文件查看新的预览", code="import_conflict") from None
    return plan
