"""Logging in and out, server-side sessions, throttling, one-time activation codes, passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlmodel import Session

from app.accounts.passwords import hash_password, verify_password
from app.audit.service import Actor, record
from app.auth.principal import Principal
from app.auth.principals import Entry, PrincipalCache
from app.clock import CN, now_utc, today_cn
from app.config import get_settings
from app.errors import Invalid, NotFound, TooManyRequests, Unauthorized
from app.models import (
    ActivationCode,
    GrantRole,
    LoginAttempt,
    Membership,
    RoleGrant,
    UserAccount,
    UserSession,
)
from app.models.people import serving_on

# A fixed hash to verify against when the login is unknown, so timing does not reveal accounts.
_DUMMY_HASH = hash_password("timing-equaliser-not-a-password")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed on phones
CODE_LENGTH = 8
# Refresh last_seen_at only this often: a write per page view would cost more than it tells.
TOUCH_EVERY = timedelta(minutes=5)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def normalise_login(raw: str) -> str:
    """Phones as typed on phones: full-width digits, spaces, dashes, a +86 prefix."""
    text = raw.translate({0xFF10 + d: ord("0") + d for d in range(10)})
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def is_activated(user: UserAccount) -> bool:
    """The account has been used: a password set (activation code, reset) or a sign-in (an SMS code
    activates an account without a password). ``activated_clause`` is the same rule in SQL."""
    return user.password_hash is not None or user.last_login_at is not None


def activated_clause() -> ColumnElement[bool]:
    return or_(UserAccount.password_hash.is_not(None), UserAccount.last_login_at.is_not(None))


def password_problem(password: str) -> str | None:
    if len(password) < 8:
        return "密码至少 8 位"
    if len(password) > 128:
        return "密码太长"
    return None


# --- throttling -----------------------------------------------------------------------------

def check_login_throttle(session: Session, *, login: str, ip: str, now: datetime) -> None:
    """Refuse while there are too many recent failures for this login or from this address.

    Per login the lock is short and expires on its own (an attacker cannot keep a real member out
    for long); per address it is longer (one address guessing many logins).
    """
    s = get_settings()
    window = now - timedelta(seconds=s.login_account_window_seconds)
    account_failures = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.login == login, LoginAttempt.at >= window, LoginAttempt.succeeded.is_(False)
        )
    )
    if account_failures >= s.login_account_max_failures:
        minutes = max(1, s.login_account_window_seconds // 60)
        raise TooManyRequests(f"该账号尝试次数过多，请 {minutes} 分钟后再试",
                              headers={"Retry-After": str(s.login_account_window_seconds)})
    ip_window = now - timedelta(seconds=s.login_ip_window_seconds)
    ip_failures = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.ip == ip, LoginAttempt.at >= ip_window, LoginAttempt.succeeded.is_(False)
        )
    )
    if ip_failures >= s.login_ip_max_failures:
        raise TooManyRequests("此网络的登录尝试过多，请稍后再试",
                              headers={"Retry-After": str(s.login_ip_window_seconds)})


# --- sessions -------------------------------------------------------------------------------

SESSION_METHODS = ("password", "sms", "code")


def session_timeouts(remember: bool) -> tuple[timedelta, timedelta]:
    """(idle, absolute) timeouts of a session: 记住我 keeps one for weeks on the member's own phone."""
    s = get_settings()
    if remember:
        return timedelta(days=s.remember_idle_days), timedelta(days=s.remember_absolute_days)
    return timedelta(minutes=s.session_idle_minutes), timedelta(minutes=s.session_absolute_minutes)


def start_session(session: Session, *, user: UserAccount, ip: str, user_agent: str, method: str = "password",
                  remember: bool = False) -> tuple[UserSession, str]:
    """A new session (always a fresh id) for ``user``; returns the row and the raw cookie token."""
    if method not in SESSION_METHODS:
        raise ValueError(method)
    raw = secrets.token_urlsafe(32)
    now = now_utc()
    row = UserSession(
        id=token_hash(raw), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
        created_at=now, last_seen_at=now, expires_at=now + session_timeouts(remember)[1],
        ip=ip[:64], user_agent=user_agent[:255], method=method, remember=remember,
    )
    session.add(row)
    from app.rollup import reach  # 动员面: signing in is a request made while signed in, this month

    reach.mark_login(session, user.member_id, now)
    return row, raw


def login(session: Session, *, login: str, password: str, ip: str, user_agent: str = "",
          remember: bool = False) -> tuple[UserAccount, str]:
    """Check the password (throttled), open a session and commit; returns the user and raw token."""
    login = normalise_login(login)
    now = now_utc()
    check_login_throttle(session, login=login, ip=ip, now=now)
    user = session.scalar(select(UserAccount).where(UserAccount.login == login)) if login else None
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    if ok and not user.is_active:
        ok = False
    session.add(LoginAttempt(login=login[:20], ip=ip[:64], at=now, succeeded=ok))
    actor = Actor(user_id=user.id if user else None, ip=ip)
    if not ok:
        record(session, actor=actor, action="auth.login_failed", target_type="user",
               target_id=user.id if user else "", org_id=home_org(session, user), after={"login": login})
        session.commit()
        raise Unauthorized("手机号或密码不正确", code="bad_credentials")
    _, raw = start_session(session, user=user, ip=ip, user_agent=user_agent, remember=remember)
    user.last_login_at = now
    record(session, actor=actor, action="auth.login", target_type="user", target_id=user.id,
           org_id=home_org(session, user), after={"method": "password", "remember": remember})
    session.commit()
    return user, raw


def logout(session: Session, *, principal: Principal) -> None:
    """End this session (the cookie stops working at once)."""
    if principal.session_id:
        session.execute(update(UserSession).where(UserSession.id == principal.session_id)
                        .values(revoked_at=now_utc()))
    record(session, actor=principal.actor, action="auth.logout", target_type="user", target_id=principal.user_id,
           org_id=home_org(session, session.get(UserAccount, principal.user_id)))
    session.commit()


def revoke_sessions(session: Session, *, user_id: int, keep: str | None = None) -> int:
    """End every open session of a user (password change, account disabled); flushes only."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep:
        stmt = stmt.where(UserSession.id != keep)
    return session.execute(stmt.values(revoked_at=now_utc())).rowcount or 0


@dataclass(frozen=True)
class OpenSession:
    """One of a user's open sessions, as the account page lists it."""

    id: str
    device: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    method: str
    remember: bool
    current: bool

    @property
    def method_label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)


METHOD_LABELS = {"password": "密码", "sms": "短信验证码", "code": "激活码"}


# The first that matches names the device (a phone's browser says "Linux" too: phones come first).
_DEVICES = ((("iphone",), "iPhone"), (("ipad",), "iPad"), (("harmonyos", "openharmony"), "鸿蒙手机"),
            (("android",), "安卓手机"), (("windows",), "Windows 电脑"), (("macintosh", "mac os"), "Mac 电脑"),
            (("linux",), "Linux 电脑"))


def describe_device(user_agent: str) -> str:
    """A device as its owner would name it, from the User-Agent: 「iPhone · 微信」, 「Windows 电脑 · Edge」."""
    ua = user_agent.lower()
    device = next((name for marks, name in _DEVICES if any(m in ua for m in marks)), "未知设备")
    for mark, app in (("micromessenger", "微信"), ("dingtalk", "钉钉"), ("edg/", "Edge"), ("firefox/", "Firefox"),
                      ("chrome/", "Chrome"), ("chromium/", "Chromium"), ("safari/", "Safari")):
        if mark in ua:
            return f"{device} · {app}"
    return device


def session_open(now: datetime) -> ColumnElement[bool]:
    """Sessions whose cookie still lets its holder in at ``now``: principal_for's timeouts in SQL."""
    idle, _ = session_timeouts(False)
    remembered_idle, _ = session_timeouts(True)
    return and_(
        UserSession.revoked_at.is_(None), UserSession.expires_at > now,
        UserSession.last_seen_at > case((UserSession.remember.is_(True), now - remembered_idle), else_=now - idle),
    )


def open_sessions(session: Session, *, principal: Principal) -> list[OpenSession]:
    """The caller's open sessions, the most recently used first."""
    now = now_utc()
    rows = session.scalars(select(UserSession).where(UserSession.user_id == principal.user_id, session_open(now))
                           .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc()))
    return [
        OpenSession(id=r.id, device=describe_device(r.user_agent), ip=r.ip, created_at=r.created_at,
                    last_seen_at=r.last_seen_at, method=r.method, remember=r.remember,
                    current=r.id == principal.session_id)
        for r in rows
    ]


def end_sessions(session: Session, *, principal: Principal, session_id: str | None = None) -> int:
    """退出: one of the caller's own open sessions (``session_id``; NotFound for any other id), or every
    one but this (None). Commits."""
    stmt = update(UserSession).where(UserSession.user_id == principal.user_id, UserSession.revoked_at.is_(None))
    if session_id is None:
        stmt = stmt.where(UserSession.id != (principal.session_id or ""))
    else:
        stmt = stmt.where(UserSession.id == session_id)
    ended = session.connection().execute(stmt.values(revoked_at=now_utc())).rowcount
    if session_id is not None and not ended:
        raise NotFound("找不到该设备的登录，可能已经退出", code="session_not_found")
    if ended:
        record(session, actor=principal.actor, action="auth.sessions_end", target_type="user",
               target_id=principal.user_id, org_id=home_org(session, session.get(UserAccount, principal.user_id)),
               after={"ended": ended, "others": session_id is None})
    session.commit()
    return ended


# The session and its account in one round trip, built once: it runs on every request. Plain
# columns, not entities — the principal is a snapshot, nothing here is changed through the ORM.
_SESSION_AND_USER = (
    select(UserSession.id, UserSession.csrf_token, UserSession.last_seen_at, UserSession.expires_at,
           UserSession.remember, UserSession.user_id, UserAccount.login, UserAccount.display_name, UserAccount.member_id)
    .join(UserAccount, UserAccount.id == UserSession.user_id)
    .where(UserSession.id == bindparam("sid"), UserSession.revoked_at.is_(None), UserAccount.is_active.is_(True))
)


def principal_for(session: Session, raw_token: str | None, *, ip: str = "", now: datetime | None = None,
                  cache: PrincipalCache | None = None) -> Principal | None:
    """The principal behind a session cookie, or None when it is unknown, revoked or timed out.

    With ``cache`` (the application's, app/auth/principals.py) an unchanged principal is served without
    a statement; the timeouts, the last-seen touch and 动员面's mark still apply on every request."""
    if not raw_token:
        return None
    now = now or now_utc()
    sid = token_hash(raw_token)
    version = today = None
    if cache is not None:
        # The version before the rows: a change landing in between leaves an entry that the next
        # version read drops, never one that outlives its change.
        version, today = cache.version(session, now), now.astimezone(CN).date()
        entry = cache.get(sid, version, now, today)
        if entry is not None and entry.open_at(now):
            entry.last_seen_at = _signed_in(session, entry.principal, now, entry.last_seen_at)
            return entry.principal if entry.principal.ip == ip else replace(entry.principal, ip=ip)
    row = session.connection().execute(_SESSION_AND_USER, {"sid": sid}).first()
    if row is None:
        return None
    user = UserAccount(id=row.user_id, login=row.login, display_name=row.display_name, member_id=row.member_id)
    idle, _ = session_timeouts(bool(row.remember))
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        return None
    principal = build_principal(session, user, session_id=row.id, csrf_token=row.csrf_token, ip=ip, today=today)
    seen = _signed_in(session, principal, now, row.last_seen_at)
    if cache is not None and today is not None:
        cache.put(sid, Entry(principal=principal, version=version, loaded_at=now, day=today, last_seen_at=seen,
                             expires_at=row.expires_at, idle=idle))
    return principal


def cached_principal(cache: PrincipalCache, raw_token: str | None, *, ip: str = "",
                     now: datetime | None = None) -> Principal | None:
    """``principal_for``'s answer when the cache gives it with no statement at all — the version read
    less than a second ago, the session's entry open, no last-seen touch due, the member already
    marked reached this month — else None (then ``principal_for`` decides, in a worker thread). Safe
    on the event loop: it touches no database (app/deps.py ``get_principal``)."""
    if not raw_token:
        return None
    now = now or now_utc()
    fresh, version = cache.fresh_version(now)
    if not fresh:
        return None
    entry = cache.get(token_hash(raw_token), version, now, now.astimezone(CN).date())
    if entry is None or not entry.open_at(now) or now - entry.last_seen_at >= TOUCH_EVERY:
        return None
    principal = entry.principal
    if principal.member_id is not None:
        from app.rollup import reach

        if not reach.remembered(principal.member_id, now):
            return None
    return principal if principal.ip == ip else replace(principal, ip=ip)


def _signed_in(session: Session, principal: Principal, now: datetime, last_seen_at: datetime) -> datetime:
    """A request made in this session: last seen moved (at most every ``TOUCH_EVERY``), the member
    marked reached this month (once per process). Returns the session's last-seen time now."""
    from app.rollup import reach

    seen = last_seen_at
    touch = bool(now - last_seen_at >= TOUCH_EVERY and principal.session_id)
    mark = principal.member_id is not None and not reach.remembered(principal.member_id, now)
    if (touch or mark) and isinstance(session.get_bind(), Engine):
        # The asides below take a pooled connection of their own: give the read's back first. A thread
        # holding one connection while it waits for another starves the pool when a cold process meets
        # many callers at once (bench/submit.py: 32 at a new server's first second hung on QueuePool).
        session.commit()
    if touch and principal.session_id:
        _touch(session, principal.session_id, now)
        seen = now
    if mark and principal.member_id is not None:  # 动员面: any request made while signed in, marked once a month
        reach.mark_signed_in(session, principal.member_id, now)
    return seen


def _touch(session: Session, session_id: str, now: datetime) -> None:
    """Move last_seen_at in a short write transaction of its own (reads never take the write lock)."""
    from app.db import write_aside

    write_aside(session, update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))


# Grants and the current membership in one round trip, built once (it runs on every request).
_GRANTS_AND_MEMBERSHIP = union_all(
    select(RoleGrant.role.label("kind"), RoleGrant.org_id, literal(None).label("start_date"),
           literal(None).label("mid")).where(RoleGrant.user_id == bindparam("user_id")),
    select(literal("membership").label("kind"), Membership.org_id, Membership.start_date, Membership.id)
    .where(Membership.member_id == bindparam("member_id"), serving_on(bindparam("today"))),
)


def build_principal(session: Session, user: UserAccount, *, session_id: str | None = None,
                    csrf_token: str = "", ip: str = "", today: date | None = None) -> Principal:
    rows = session.connection().execute(_GRANTS_AND_MEMBERSHIP, {
        "user_id": user.id, "member_id": user.member_id if user.member_id is not None else -1,
        "today": today or today_cn(),
    }).all()
    grants = tuple((GrantRole(kind), org) for kind, org, _, _ in rows if kind != "membership")
    memberships = sorted(((start, mid, org) for kind, org, start, mid in rows if kind == "membership"), reverse=True)
    # The most recent open membership, as current_member_org() decides.
    member_org = memberships[0][2] if memberships else None
    return Principal(
        user_id=user.id, login=user.login, display_name=user.display_name, member_id=user.member_id,
        grants=grants, session_id=session_id, csrf_token=csrf_token, ip=ip, member_org_id=member_org,
        roles=frozenset(role for role, _ in grants),
    )


def current_member_org(session: Session, member_id: int, *, today: date | None = None) -> int | None:
    """The organisation of the member's open membership (the most recent if several)."""
    today = today or today_cn()
    return session.scalar(
        select(Membership.org_id)
        .where(Membership.member_id == member_id, serving_on(today))
        .order_by(Membership.start_date.desc(), Membership.id.desc())
        .limit(1)
    )


def home_org(session: Session, user: UserAccount | None) -> int | None:
    """The organisation whose staff see this user's account events in the audit log."""
    if user is None:
        return None
    if user.member_id is not None:
        org = current_member_org(session, user.member_id)
        if org is not None:
            return org
    return session.scalar(select(RoleGrant.org_id).where(RoleGrant.user_id == user.id)
                          .order_by(RoleGrant.id).limit(1))


# --- passwords and activation codes ---------------------------------------------------------

def change_password(session: Session, *, principal: Principal, current: str, new: str) -> None:
    """Change one's own password — or set the first one, without a current password, for a member who
    has signed in only by SMS code; every other session of the account ends. Commits."""
    user = session.get(UserAccount, principal.user_id)
    assert user is not None  # the principal's own account: a disabled or deleted one has no session
    first = user.password_hash is None
    if not first and not verify_password(user.password_hash, current):
        raise Invalid("当前密码不正确", errors={"current": "当前密码不正确"})
    problem = password_problem(new)
    if problem:
        raise Invalid(problem, errors={"new": problem})
    user.password_hash = hash_password(new)
    revoke_sessions(session, user_id=user.id, keep=principal.session_id)
    record(session, actor=principal.actor, action="auth.password_set" if first else "auth.password_change",
           target_type="user", target_id=user.id, org_id=home_org(session, user))
    session.commit()


def _code_hash(code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, code.upper().encode(), hashlib.sha256).hexdigest()


def new_activation_code(session: Session, *, user: UserAccount, actor: Actor, org_id: int | None) -> str:
    """A fresh one-time code for ``user`` (earlier unused ones stop working). Flushes only."""
    session.execute(update(ActivationCode).where(ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None))
                    .values(used_at=now_utc()))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(ActivationCode(
        user_id=user.id, code_hash=_code_hash(code), issued_by_user_id=actor.user_id,
        expires_at=now_utc() + timedelta(days=get_settings().activation_code_days),
    ))
    record(session, actor=actor, action="auth.code_issued", target_type="user", target_id=user.id, org_id=org_id)
    return code


def activate(session: Session, *, login: str, code: str, password: str, ip: str,
             user_agent: str = "") -> tuple[UserAccount, str]:
    """Set a password with a one-time code (throttled like login), log in, commit."""
    login = normalise_login(login)
    code = "".join(code.split()).upper()
    now = now_utc()
    problem = password_problem(password)
    if problem:
        raise Invalid(problem, errors={"password": problem})
    check_login_throttle(session, login=login, ip=ip, now=now)
    user = session.scalar(select(UserAccount).where(UserAccount.login == login)) if login else None
    row = None
    if user is not None and user.is_active:
        row = session.scalar(
            select(ActivationCode).where(
                ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None),
                ActivationCode.code_hash == _code_hash(code),
            )
        )
        if row is not None and row.expires_at <= now:
            row = None
    session.add(LoginAttempt(login=login[:20], ip=ip[:64], at=now, succeeded=row is not None))
    if row is None:
        record(session, actor=Actor(user.id if user else None, ip), action="auth.activation_failed",
               target_type="user", target_id=user.id if user else "", org_id=home_org(session, user))
        session.commit()
        raise Invalid("手机号或激活码不正确，或激活码已过期", code="bad_code", errors={"code": "激活码不正确或已过期"})
    row.used_at = now
    user.password_hash = hash_password(password)
    revoke_sessions(session, user_id=user.id)
    _, raw = start_session(session, user=user, ip=ip, user_agent=user_agent, method="code")
    user.last_login_at = now
    record(session, actor=Actor(user.id, ip), action="auth.activate", target_type="user", target_id=user.id,
           org_id=home_org(session, user))
    session.commit()
    return user, raw
