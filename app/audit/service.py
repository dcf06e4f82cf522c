"""The audit log: one entry per change, written in the change's own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, insert, select
from sqlmodel import Session

from app.clock import now_utc
from app.db import Prepared, at_commit
from app.models import AuditLog
from app.orgs.service import subtrees_ids


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where: taken from the request, handed to every service that writes."""

    user_id: int | None
    ip: str = ""


SYSTEM = Actor(user_id=None, ip="cli")


def _json(value: Any) -> str | None:
    if value is None:
        return None

    def default(o: Any) -> Any:
        if isinstance(o, (date, datetime)):
            return o.isoformat()
        if hasattr(o, "value"):
            return o.value
        return str(o)

    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=default)


def record(session: Session, *, actor: Actor, action: str, target_type: str = "", target_id: Any = "",
           org_id: int | None = None, before: Any = None, after: Any = None) -> AuditLog:
    """Append one entry (flushed with the caller's transaction, never on its own)."""
    entry = AuditLog(
        actor_user_id=actor.user_id, ip=actor.ip[:64], action=action, target_type=target_type,
        target_id=str(target_id), org_id=org_id, before=_json(before), after=_json(after),
    )
    session.add(entry)
    return entry


_INSERT = Prepared(insert(AuditLog.__table__))


def append(session: Session, *, actor: Actor, action: str, target_type: str = "", target_id: Any = "",
           org_id: int | None = None, before: Any = None, after: Any = None) -> None:
    """``record`` as one Core insert in the caller's transaction, no entity and no unit of work: for
    the write path every submission takes (bench/submit.py). Written when the use case commits
    (``db.at_commit``: in the COMMIT's round trip on PostgreSQL): nothing reads it back before."""
    at_commit(session, _INSERT, [{
        "at": now_utc(), "actor_user_id": actor.user_id, "ip": actor.ip[:64], "action": action,
        "target_type": target_type, "target_id": str(target_id), "org_id": org_id,
        "before": _json(before), "after": _json(after)}])


def entries_for(org_ids: Iterable[int], *, action: str | None = None, actor_user_id: int | None = None,
                target_type: str | None = None, target_id: str | None = None,
                since: datetime | None = None, until: datetime | None = None) -> Select:
    """Entries about the union of ``org_ids``' subtrees (each entry once), newest first, filtered."""
    stmt = select(AuditLog).where(AuditLog.org_id.in_(subtrees_ids(org_ids)))
    if action:
        stmt = stmt.where(AuditLog.action.startswith(action))
    if actor_user_id:
        stmt = stmt.where(AuditLog.actor_user_id == actor_user_id)
    if target_type:
        stmt = stmt.where(AuditLog.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditLog.target_id == target_id)
    if since:
        stmt = stmt.where(AuditLog.at >= since)
    if until:
        stmt = stmt.where(AuditLog.at < until)
    return stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
