"""Display links (大屏只读链接): a read-only URL for the meeting room's screen, scoped to a subtree.

Staff of an organisation create one for their subtree, see it in full exactly once (only its
SHA-256 is stored, as with sessions and activation codes), list and revoke the links of their
subtree. The meeting view resolves the token on every request: unknown, revoked and expired
tokens are refused alike, so nothing tells which of the three it was.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlmodel import Session

from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal, org_for_staff
from app.auth.service import token_hash
from app.clock import now_utc
from app.db import write_aside
from app.errors import Forbidden, Invalid, NotFound
from app.models import Organisation, ScreenLink, UserAccount

DEFAULT_DAYS = 30
MAX_DAYS = 366
NAME_MAX = 64
# A token longer than this was never issued (token_urlsafe(32) is 43 characters): refuse it unhashed.
TOKEN_MAX = 128
# A screen asks every few seconds; recording each request would be a write per poll for nothing.
TOUCH_EVERY = timedelta(minutes=1)


class ScreenStatus(StrEnum):
    active = "active"
    expired = "expired"
    revoked = "revoked"

    @property
    def label(self) -> str:
        return {"active": "有效", "expired": "已过期", "revoked": "已撤销"}[self.value]


@dataclass(frozen=True)
class ScreenRow:
    """A link as the list shows it."""

    link: ScreenLink
    org_name: str
    created_by: str
    status: ScreenStatus


def status_of(link: ScreenLink, now: datetime | None = None) -> ScreenStatus:
    now = now or now_utc()
    if link.revoked_at is not None:
        return ScreenStatus.revoked
    if link.expires_at is not None and link.expires_at <= now:
        return ScreenStatus.expired
    return ScreenStatus.active


def _require_staff(by: Principal) -> None:
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden("只有「双助推」办公室人员可以管理大屏链接", code="staff_only")


def scope_orgs(session: Session, by: Principal) -> list[Organisation]:
    """The organisations a link of ``by`` may cover, in code order (which is tree order)."""
    _require_staff(by)
    return list(session.scalars(
        select(Organisation).where(Organisation.id.in_(by.scope(*STAFF_ROLES))).order_by(Organisation.code)
    ))


def whole_number(raw: int | str | None) -> int | None:
    if raw is None or isinstance(raw, int):
        return raw
    text = raw.strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def create_screen(session: Session, by: Principal, *, name: str, org_id: int | str | None,
                days: int | str | None = DEFAULT_DAYS) -> tuple[ScreenLink, str]:
    """A new link for ``org_id``'s subtree; returns the row and the raw token (never stored). Commits."""
    _require_staff(by)
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "请填写名称，例如「省政协会议室大屏」"
    elif len(name) > NAME_MAX:
        errors["name"] = f"名称最多 {NAME_MAX} 个字"
    org_number = whole_number(org_id)
    if org_number is None:
        errors["org_id"] = "请选择大屏显示的组织范围"
    day_count = DEFAULT_DAYS if days in (None, "") else whole_number(days)
    if day_count is None or not 1 <= day_count <= MAX_DAYS:
        errors["days"] = f"有效期为 1 到 {MAX_DAYS} 天"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    org = org_for_staff(session, by, org_number)
    raw = secrets.token_urlsafe(32)
    now = now_utc()
    link = ScreenLink(token_hash=token_hash(raw), name=name, org_id=org.id, created_by_user_id=by.user_id,
                       created_at=now, expires_at=now + timedelta(days=day_count))
    session.add(link)
    session.flush()
    record(session, actor=by.actor, action="display.create", target_type="display_link", target_id=link.id,
           org_id=org.id,
           after={"name": name, "org": org.name, "days": day_count, "expires_at": link.expires_at})
    session.commit()
    return link, raw


def list_screens(session: Session, by: Principal, *, now: datetime | None = None) -> list[ScreenRow]:
    """The links of ``by``'s subtrees, newest first."""
    _require_staff(by)
    now = now or now_utc()
    rows = session.execute(
        select(ScreenLink, Organisation.name, UserAccount.display_name)
        .join(Organisation, Organisation.id == ScreenLink.org_id)
        .outerjoin(UserAccount, UserAccount.id == ScreenLink.created_by_user_id)
        .where(ScreenLink.org_id.in_(by.scope(*STAFF_ROLES)))
        .order_by(ScreenLink.created_at.desc(), ScreenLink.id.desc())
    ).all()
    return [ScreenRow(link=link, org_name=org_name, created_by=creator or "—", status=status_of(link, now))
            for link, org_name, creator in rows]


def screen_for_staff(session: Session, by: Principal, link_id: int) -> ScreenLink:
    """A link of ``by``'s subtrees, or 404 (a link elsewhere is not revealed)."""
    _require_staff(by)
    link = session.get(ScreenLink, link_id)
    if link is None or not by.can(session, link.org_id, *STAFF_ROLES):
        raise NotFound("找不到该大屏链接，或不在您的管辖范围内", code="display_link_not_found")
    return link


def revoke_screen(session: Session, by: Principal, *, link_id: int) -> ScreenLink:
    """End a link at once (a screen showing it is refused on its next request). Commits."""
    link = screen_for_staff(session, by, link_id)
    if link.revoked_at is not None:
        return link  # a repeated click: nothing changes, nothing to record
    link.revoked_at = now_utc()
    record(session, actor=by.actor, action="display.revoke", target_type="display_link", target_id=link.id,
           org_id=link.org_id, before={"name": link.name}, after={"revoked_at": link.revoked_at})
    session.commit()
    return link


def resolve(session: Session, token: str | None, *, now: datetime | None = None) -> ScreenLink | None:
    """The active link behind a raw token, or None (unknown, revoked or expired alike).

    Marks it used at most once per ``TOUCH_EVERY``, in a short write of its own.
    """
    if not token or len(token) > TOKEN_MAX:
        return None
    now = now or now_utc()
    link = session.scalar(select(ScreenLink).where(ScreenLink.token_hash == token_hash(token)))
    if link is None or status_of(link, now) is not ScreenStatus.active:
        return None
    last = link.last_used_at
    if last is None or last + TOUCH_EVERY <= now:
        _touch(session, link.id, now)
    return link


def _touch(session: Session, link_id: int, now: datetime) -> None:
    # The caller's session only reads (its transaction never takes SQLite's write lock), so the
    # stamp goes through a write transaction of its own, as auth.service does for sessions. The
    # condition makes several screens (or server processes) polling at once write it once.
    stmt = (update(ScreenLink)
            .where(ScreenLink.id == link_id,
                   or_(ScreenLink.last_used_at.is_(None), ScreenLink.last_used_at <= now - TOUCH_EVERY))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False))
    write_aside(session, stmt)
