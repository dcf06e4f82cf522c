"""API tokens (API 令牌) for other systems: created and revoked by staff for their subtree.

A token is ``szt_`` + 43 URL-safe characters (256 random bits), shown in full exactly once; only its
SHA-256 is stored. It reads, as a viewer would, the subtree of the organisation it was made for —
at its level: ``aggregate`` (totals, progress, rankings, reports: no personal data) or ``records``
(also activities and 挂联 with names, never phone numbers). A token bound to a member may also
submit activities, recorded as that member. Tokens are sent as ``Authorization: Bearer …``.

Which operations a token may call is declared on each route (``token_access``, shown in the OpenAPI
document as ``x-token-access``); a route without it is for signed-in people only.

Use is recorded without a write per request: each process counts requests per token and writes
``last_used_at`` and the day's count (``api_token_usage``) at most once a minute; the first use of a
token each day is also an audit entry. Rate limits are per token (a token bucket of ``rate_per_minute``,
refilled continuously), kept in the database so that every process and machine shares them
(``SZT_RATE_LIMIT_BACKEND=memory``: per process, in memory): past it the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.audit.service import Actor, record
from app.auth.principal import STAFF_ROLES, Principal, TokenGrant, org_for_staff
from app.auth.service import build_principal, current_member_org, token_hash
from app.clock import now_utc, today_cn
from app.config import get_settings
from app.db import do_aside
from app.errors import Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from app.models import (
    ApiToken,
    ApiTokenRate,
    ApiTokenUsage,
    GrantRole,
    Member,
    Organisation,
    TokenLevel,
    UserAccount,
)
from app.orgs.service import is_within
from app.screens.service import whole_number

PREFIX = "szt_"
DEFAULT_DAYS = 365
MAX_DAYS = 3 * 366
NAME_MAX = 64
DEFAULT_RATE = 120
MAX_RATE = 6000
TOKEN_MAX = 128  # longer was never issued: refused unhashed
FLUSH_EVERY = 60.0  # seconds between a process's writes of a token's use

TOKEN_ACCESS = "x-token-access"
LEVEL_LABELS = {TokenLevel.aggregate: "汇总级（只含合计、进度、排名与报告，无个人信息）",
                TokenLevel.records: "明细级（另含活动与挂联，带姓名，不含手机号）"}
ACCESS_LABELS = {"aggregate": "汇总级及以上令牌", "records": "明细级令牌", "write": "绑定委员的可写令牌"}
BEARER = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def token_access(access: str) -> dict[str, Any]:
    """``openapi_extra`` of a route other systems may call with a token: ``aggregate`` (any token),
    ``records`` (a records-level token) or ``write`` (a token bound to a member)."""
    assert access in ACCESS_LABELS
    return {TOKEN_ACCESS: access}


class TokenStatus(StrEnum):
    active = "active"
    expired = "expired"
    revoked = "revoked"

    @property
    def label(self) -> str:
        return {"active": "有效", "expired": "已过期", "revoked": "已撤销"}[self.value]


def status_of(token: ApiToken, now: datetime | None = None) -> TokenStatus:
    now = now or now_utc()
    if token.revoked_at is not None:
        return TokenStatus.revoked
    if token.expires_at <= now:
        return TokenStatus.expired
    return TokenStatus.active


# --- staff: create, list, revoke ------------------------------------------------------------------

def _require_staff(by: Principal) -> None:
    if by.token is not None or not by.has_role(*STAFF_ROLES):
        raise Forbidden("只有「双助推」办公室人员可以管理 API 令牌", code="staff_only")


def scope_orgs(session: Session, by: Principal) -> list[Organisation]:
    _require_staff(by)
    return list(session.scalars(
        select(Organisation).where(Organisation.id.in_(by.scope(*STAFF_ROLES))).order_by(Organisation.code)))


def _bound_member(session: Session, phone: str, org: Organisation) -> tuple[Member, UserAccount] | str:
    """The member a write token records as, or the Chinese reason it cannot be."""
    member = session.scalar(select(Member).where(Member.phone == phone))
    if member is None:
        return "没有这个手机号的委员"
    member_org = current_member_org(session, member.id)
    if member_org is None or not is_within(session, member_org, org.id):
        return "该委员不在令牌的组织范围内（须为现任委员）"
    user = session.scalar(select(UserAccount).where(UserAccount.member_id == member.id))
    if user is None or not user.is_active:
        return "该委员没有可用的账号"
    return member, user


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    org_name: str
    created_by: str
    member_name: str | None
    status: TokenStatus
    requests_today: int
    requests_week: int


def create_token(session: Session, by: Principal, *, name: str, org_id: int | str | None, level: str,
                 days: int | str | None = DEFAULT_DAYS, write_member_phone: str = "",
                 rate_per_minute: int | str | None = DEFAULT_RATE) -> tuple[ApiToken, str]:
    """A new token for ``org_id``'s subtree; returns the row and the raw token (never stored). Commits."""
    _require_staff(by)
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "请填写名称，例如「州乡村振兴局数据看板」"
    elif len(name) > NAME_MAX:
        errors["name"] = f"名称最多 {NAME_MAX} 个字"
    org_number = whole_number(org_id)
    if org_number is None:
        errors["org_id"] = "请选择令牌可读取的组织范围"
    if level not in TokenLevel.__members__:
        errors["level"] = "请选择令牌级别：汇总级或明细级"
    day_count = DEFAULT_DAYS if days in (None, "") else whole_number(days)
    if day_count is None or not 1 <= day_count <= MAX_DAYS:
        errors["days"] = f"有效期为 1 到 {MAX_DAYS} 天"
    rate = DEFAULT_RATE if rate_per_minute in (None, "") else whole_number(rate_per_minute)
    if rate is None or not 1 <= rate <= MAX_RATE:
        errors["rate_per_minute"] = f"每分钟请求上限为 1 到 {MAX_RATE}"
    phone = "".join((write_member_phone or "").split())
    if phone and not (phone.isdigit() and len(phone) == 11):
        errors["write_member_phone"] = "请填写 11 位手机号，或留空（只读令牌）"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    org = org_for_staff(session, by, org_number)
    member_id = None
    if phone:
        bound = _bound_member(session, phone, org)
        if isinstance(bound, str):
            raise Invalid(bound, errors={"write_member_phone": bound})
        member_id = bound[0].id
    raw = PREFIX + secrets.token_urlsafe(32)
    now = now_utc()
    token = ApiToken(token_hash=token_hash(raw), prefix=raw[:10], name=name, org_id=org.id, level=TokenLevel(level),
                     member_id=member_id, rate_per_minute=rate, created_by_user_id=by.user_id, created_at=now,
                     expires_at=now + timedelta(days=day_count))
    session.add(token)
    session.flush()
    record(session, actor=by.actor, action="api_token.create", target_type="api_token", target_id=token.id,
           org_id=org.id, after={"name": name, "org": org.name, "level": level, "days": day_count,
                                 "write_member_id": member_id, "rate_per_minute": rate,
                                 "expires_at": token.expires_at})
    session.commit()
    return token, raw


def list_tokens(session: Session, by: Principal, *, now: datetime | None = None) -> list[TokenRow]:
    """The tokens of ``by``'s subtrees, newest first, with their requests today and in 7 days."""
    _require_staff(by)
    now = now or now_utc()
    rows = session.execute(
        select(ApiToken, Organisation.name, UserAccount.display_name, Member.name)
        .join(Organisation, Organisation.id == ApiToken.org_id)
        .outerjoin(UserAccount, UserAccount.id == ApiToken.created_by_user_id)
        .outerjoin(Member, Member.id == ApiToken.member_id)
        .where(ApiToken.org_id.in_(by.scope(*STAFF_ROLES)))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()
    today = today_cn()
    usage: dict[int, list[int]] = {}
    ids = [t.id for t, *_ in rows]
    if ids:
        for token_id, day, requests in session.execute(
                select(ApiTokenUsage.token_id, ApiTokenUsage.day, ApiTokenUsage.requests).where(
                    ApiTokenUsage.token_id.in_(ids), ApiTokenUsage.day > today - timedelta(days=7))):
            counts = usage.setdefault(token_id, [0, 0])
            counts[1] += requests
            if day == today:
                counts[0] += requests
    return [TokenRow(t, org, creator or "—", member, status_of(t, now), *usage.get(t.id, [0, 0]))
            for t, org, creator, member in rows]


def token_for_staff(session: Session, by: Principal, token_id: int) -> ApiToken:
    _require_staff(by)
    token = session.get(ApiToken, token_id)
    if token is None or not by.can(session, token.org_id, *STAFF_ROLES):
        raise NotFound("找不到该令牌，或不在您的管辖范围内", code="api_token_not_found")
    return token


def revoke_token(session: Session, by: Principal, *, token_id: int) -> ApiToken:
    """End a token at once: its next request is a 401. Commits."""
    token = token_for_staff(session, by, token_id)
    if token.revoked_at is not None:
        return token
    token.revoked_at = now_utc()
    token.revoked_by_user_id = by.user_id
    record(session, actor=by.actor, action="api_token.revoke", target_type="api_token", target_id=token.id,
           org_id=token.org_id, before={"name": token.name}, after={"revoked_at": token.revoked_at})
    session.commit()
    return token


# --- the caller: authenticate, limit, record use ---------------------------------------------------

def bearer_of(header: str) -> str | None:
    """The token in an ``Authorization`` header value, or None when it is not a Bearer credential."""
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def authenticate(session: Session, raw: str | None, *, now: datetime | None = None) -> ApiToken:
    """The active token behind ``raw``; 401 for unknown, revoked and expired alike."""
    if not raw or len(raw) > TOKEN_MAX or not raw.startswith(PREFIX):
        raise Unauthorized("API 令牌无效、已过期或已被撤销", code="invalid_token", headers=BEARER)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))
    if token is None or status_of(token, now) is not TokenStatus.active:
        raise Unauthorized("API 令牌无效、已过期或已被撤销", code="invalid_token", headers=BEARER)
    return token


def principal_for(session: Session, token: ApiToken, *, ip: str = "") -> Principal:
    """The caller as the services see it: a viewer of the token's subtree; with a write token, also
    the bound member (their own records and submissions)."""
    grant = TokenGrant(id=token.id, name=token.name, level=str(token.level), may_write=token.member_id is not None,
                       rate_per_minute=token.rate_per_minute)
    grants = ((GrantRole.viewer, token.org_id),)
    if token.member_id is not None:
        user = session.scalar(select(UserAccount).where(UserAccount.member_id == token.member_id,
                                                        UserAccount.is_active.is_(True)))
        if user is None:
            raise Unauthorized("该令牌绑定的委员账号已停用", code="invalid_token", headers=BEARER)
        member = build_principal(session, user, ip=ip)
        return Principal(user_id=member.user_id, login=member.login, display_name=member.display_name,
                         member_id=member.member_id, grants=grants, ip=ip, member_org_id=member.member_org_id,
                         roles=frozenset({GrantRole.viewer}), token=grant)
    # No account: user id 0 matches no activity's recorder.
    return Principal(user_id=0, login="", display_name=f"API 令牌「{token.name}」", member_id=None, grants=grants,
                     ip=ip, roles=frozenset({GrantRole.viewer}), token=grant)


def check_access(grant: TokenGrant, access: str | None) -> None:
    """403 unless the route admits tokens of this kind (``token_access`` on the route)."""
    if access is None:
        raise Forbidden("API 令牌不能用于此操作（仅限登录用户）", code="token_not_allowed")
    if access == "records" and grant.level != TokenLevel.records:
        raise Forbidden("此令牌为汇总级，不能读取活动、挂联等明细数据", code="token_level")
    if access == "write" and not grant.may_write:
        raise Forbidden("此令牌为只读令牌，不能提交活动", code="token_read_only")


class RateLimiter:
    """A token bucket per API token in this process: ``rate`` requests a minute, bursts up to ``rate``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}  # token id -> (tokens left, at)

    def take(self, token_id: int, rate: int, now: float | None = None) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until one more request is allowed)."""
        now = time.monotonic() if now is None else now
        per_second = rate / 60.0
        with self._lock:
            left, at = self._buckets.get(token_id, (float(rate), now))
            left = min(float(rate), left + (now - at) * per_second)
            if left >= 1.0:
                self._buckets[token_id] = (left - 1.0, now)
                return True, int(left - 1.0), 0
            self._buckets[token_id] = (left, now)
            return False, 0, max(1, math.ceil((1.0 - left) / per_second))

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class DatabaseRateLimiter:
    """The same token bucket kept in the database (``api_token_rate``), shared by every process and
    machine: GCRA — the bucket is one moment, the theoretical arrival time ``tat``; a request is
    admitted when pushing ``tat`` on by one interval (60 s / rate) leaves it at most a minute ahead
    of now, in one conditional upsert (``ON CONFLICT … DO UPDATE … WHERE … RETURNING``) that the
    database serialises per token. A refusal writes nothing and reads the row once for Retry-After.

    "Now" is the database's clock (an interval measured on one clock, as ``time.monotonic`` is in a
    process), so machines whose clocks disagree still share one bucket exactly; ``now`` (tests) overrides it.
    """

    MINUTE_US = 60_000_000

    def take(self, session: Session, token_id: int, rate: int, now: datetime | None = None) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until one more request is allowed), as :meth:`RateLimiter.take`."""
        interval = self.MINUTE_US / rate
        step = round(interval)
        found: list[tuple[bool, int, int]] = []

        def work(s: Session) -> None:
            table = ApiTokenRate.__table__
            postgres = s.get_bind().dialect.name == "postgresql"
            clock: Any = literal(_micros(now), BigInteger) if now is not None else _database_micros(postgres)
            start = case((table.c.tat_us > clock, table.c.tat_us), else_=clock)
            stmt = (postgresql if postgres else sqlite).insert(table).values(token_id=token_id, tat_us=clock + step)
            stmt = stmt.on_conflict_do_update(
                index_elements=["token_id"], set_={"tat_us": start + step},
                where=start + step - clock <= self.MINUTE_US).returning(table.c.tat_us, clock)
            row = s.execute(stmt).first()
            if row is not None:
                found.append((True, *row))
            else:  # refused: nothing written
                tat, at = s.execute(select(table.c.tat_us, clock).where(table.c.token_id == token_id)).one()
                found.append((False, tat, at))

        do_aside(session, work)
        allowed, tat, at = found[0]
        if not allowed:
            ahead = max(tat, at) + interval - at - self.MINUTE_US
            return False, 0, max(1, math.ceil(ahead / 1_000_000))
        return True, max(0, int((at + self.MINUTE_US - tat) // interval)), 0


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _database_micros(postgres: bool) -> Any:
    """The database's clock in microseconds since the Unix epoch, as an SQL expression."""
    if postgres:
        return cast(func.extract("epoch", func.clock_timestamp()) * 1_000_000, BigInteger)
    return cast((func.julianday("now") - 2440587.5) * 86_400_000_000, BigInteger)


class UsageMeter:
    """Counts each token's requests in this process; written at most once per ``FLUSH_EVERY``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, list[int]] = {}  # token id -> [requests, refused]
        self._flushed: dict[int, float] = {}
        self._audited: set[tuple[int, date]] = set()

    def note(self, token_id: int, *, refused: bool = False, now: float | None = None) -> tuple[int, int] | None:
        """Count one request; returns the counts to write now (and forgets them), or None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            counts = self._pending.setdefault(token_id, [0, 0])
            counts[0] += 1
            counts[1] += int(refused)
            last = self._flushed.get(token_id)
            if last is not None and now - last < FLUSH_EVERY:
                return None
            self._flushed[token_id] = now
            del self._pending[token_id]
            return counts[0], counts[1]

    def first_today(self, token_id: int, day: date) -> bool:
        with self._lock:
            if (token_id, day) in self._audited:
                return False
            self._audited.add((token_id, day))
            return True

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self._flushed.clear()
            self._audited.clear()


LIMITER = RateLimiter()
SHARED_LIMITER = DatabaseRateLimiter()
METER = UsageMeter()


def take(session: Session, token_id: int, rate: int) -> tuple[bool, int, int]:
    """The rate limit of ``SZT_RATE_LIMIT_BACKEND``: shared through the database, or this process's."""
    if get_settings().rate_limit_backend == "memory":
        return LIMITER.take(token_id, rate)
    return SHARED_LIMITER.take(session, token_id, rate)


def _upsert_usage(session: Session, token_id: int, day: date, requests: int, refused: int) -> bool:
    """Add to the day's counts; True when this created the day's row (the first use that day).

    One statement: a row that existed held at least one request, so the total it returns equals
    this write's own count only when the row is new — exact however many processes write at once."""
    table = ApiTokenUsage.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(token_id=token_id, day=day, requests=requests, refused=refused)
    total = session.execute(stmt.on_conflict_do_update(index_elements=["token_id", "day"], set_={
        "requests": table.c.requests + stmt.excluded.requests, "refused": table.c.refused + stmt.excluded.refused})
        .returning(table.c.requests)).scalar_one()
    return total == requests


def note_use(session: Session, token: ApiToken, *, ip: str, refused: bool = False) -> None:
    """Count a request of ``token``; at most once a minute per process, write the counts and the last
    use (and, the first time a day, an audit entry) in a short write of their own."""
    counts = METER.note(token.id, refused=refused)
    if counts is None:
        return
    day, now = today_cn(), now_utc()

    def work(s: Session) -> None:
        s.execute(update(ApiToken).where(ApiToken.id == token.id)
                  .values(last_used_at=now, last_used_ip=ip[:64]).execution_options(synchronize_session=False))
        created = _upsert_usage(s, token.id, day, *counts)
        if created and METER.first_today(token.id, day):
            record(s, actor=Actor(user_id=None, ip=ip), action="api_token.use", target_type="api_token",
                   target_id=token.id, org_id=token.org_id, after={"name": token.name, "day": day.isoformat()})

    do_aside(session, work)


def admit(session: Session, token: ApiToken, *, ip: str) -> tuple[int, int]:
    """Count the request and apply the rate limit: (limit, remaining), or 429 with Retry-After."""
    allowed, remaining, wait = take(session, token.id, token.rate_per_minute)
    note_use(session, token, ip=ip, refused=not allowed)
    if not allowed:
        raise TooManyRequests(f"请求过于频繁：此令牌每分钟最多 {token.rate_per_minute} 次，请 {wait} 秒后再试",
                              code="rate_limited", headers={"Retry-After": str(wait)})
    return token.rate_per_minute, remaining
