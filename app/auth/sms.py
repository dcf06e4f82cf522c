"""Signing in, and resetting a password, with a 6-digit code sent by SMS.

A code is asked for a phone and a purpose (login or reset). The answer never says whether the phone
belongs to an account: a registered and an unknown phone get the same words, the same status and
the same throttling, and cost the same work — the code is drawn, hashed and written for both; only
the SMS itself is queued for a real, active account. Codes live only as an HMAC (the app secret as
key, bound to the phone and purpose), for ``sms_code_minutes``; each is single use, a newer one makes
the older ones of its phone and purpose useless, and ``sms_code_max_guesses`` wrong tries spend it.
Signing in with a code fails like a wrong password (a ``LoginAttempt``), so the per-login and
per-address throttles of ``app.auth.service`` apply to guessing too.

The SMS goes through the outbox (``app.notify.service.notify``) in the same transaction as the code's
row: a rolled-back request sends nothing. Codes are exempt from quiet hours and daily caps.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlmodel import Session

from app.accounts.passwords import hash_password
from app.audit.service import Actor, record
from app.auth.service import (
    check_login_throttle,
    home_org,
    is_activated,
    normalise_login,
    password_problem,
    revoke_sessions,
    start_session,
)
from app.clock import now_utc
from app.config import get_settings
from app.errors import Invalid, TooManyRequests, Unauthorized
from app.models import LoginAttempt, SmsCode, UserAccount
from app.models.notify import CODE_PURPOSES
from app.notify.service import Recipient, notify

CODE_DIGITS = 6
BAD_CODE = "手机号或验证码不正确，或验证码已过期"
BAD_PHONE = "请输入 11 位手机号"


def code_sent_message() -> str:
    """The one answer to every accepted request, registered phone or not."""
    return f"如果该手机号已登记，验证码已发送，{get_settings().sms_code_minutes} 分钟内有效"


def mobile_number(raw: str) -> str:
    """A mainland mobile number as typed on a phone (see ``normalise_login``), or Invalid."""
    phone = normalise_login(raw)
    if len(phone) != 11 or not phone.startswith("1"):
        raise Invalid(BAD_PHONE, code="bad_phone", errors={"login": BAD_PHONE})
    return phone


def _hash(phone: str, purpose: str, code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"sms:{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _seconds(delta: timedelta) -> int:
    return max(1, int(-(-delta.total_seconds() // 1)))


def _check_code_throttle(session: Session, *, phone: str, ip: str, now: datetime) -> None:
    """Refuse a new code too soon after the last one, past the phone's hourly count or the address's.

    Counted over the codes written, which exist for unknown phones as for registered ones: the
    answer is the same for both.
    """
    s = get_settings()
    hour = timedelta(hours=1)
    count, oldest, latest = session.execute(
        select(func.count(), func.min(SmsCode.created_at), func.max(SmsCode.created_at))
        .where(SmsCode.phone == phone, SmsCode.created_at > now - hour)
    ).one()
    if latest is not None and now - latest < timedelta(seconds=s.sms_code_resend_seconds):
        wait = _seconds(latest + timedelta(seconds=s.sms_code_resend_seconds) - now)
        raise TooManyRequests(f"验证码已发送，请 {wait} 秒后再重新获取", code="sms_code_too_soon",
                              headers={"Retry-After": str(wait)})
    if count >= s.sms_code_per_phone_hour:
        wait = _seconds(oldest + hour - now)
        raise TooManyRequests(f"该手机号获取验证码次数过多，请 {-(-wait // 60)} 分钟后再试",
                              code="sms_code_phone_limit", headers={"Retry-After": str(wait)})
    count, oldest = session.execute(
        select(func.count(), func.min(SmsCode.created_at)).where(SmsCode.ip == ip[:64], SmsCode.created_at > now - hour)
    ).one()
    if count >= s.sms_code_per_ip_hour:
        wait = _seconds(oldest + hour - now)
        raise TooManyRequests("此网络获取验证码次数过多，请稍后再试", code="sms_code_ip_limit",
                              headers={"Retry-After": str(wait)})


def _account(session: Session, phone: str) -> UserAccount | None:
    return session.scalar(select(UserAccount).where(UserAccount.login == phone)) if phone else None


def request_code(session: Session, *, phone: str, purpose: str, ip: str) -> str:
    """Draw a code for ``phone`` and queue its SMS when the phone is an active account's; the same
    answer (returned) either way. Throttled per phone and per address. Commits."""
    if purpose not in CODE_PURPOSES:
        raise Invalid("未知的验证码用途", code="bad_purpose")
    phone = mobile_number(phone)
    s = get_settings()
    now = now_utc()
    _check_code_throttle(session, phone=phone, ip=ip, now=now)
    user = _account(session, phone)
    if user is not None and not user.is_active:
        user = None
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    # The SMS just sent is the one to type: earlier unused codes of this phone and purpose stop working.
    session.execute(update(SmsCode).where(SmsCode.phone == phone, SmsCode.purpose == purpose,
                                          SmsCode.used_at.is_(None)).values(used_at=now)
                    .execution_options(synchronize_session=False))
    row = SmsCode(phone=phone, purpose=purpose, user_id=user.id if user else None,
                  code_hash=_hash(phone, purpose, code), ip=ip[:64], created_at=now,
                  expires_at=now + timedelta(minutes=s.sms_code_minutes))
    session.add(row)
    session.flush()
    if user is not None:
        kind = f"{purpose}_code"  # login_code | reset_code: the template and the outbox kind alike
        notify(session, kind=kind, event_key=f"code:{row.id}", template=kind,
               params={"code": code, "minutes": s.sms_code_minutes},
               to=Recipient(user_id=user.id, member_id=user.member_id, phone=phone), channels=("sms",))
    record(session, actor=Actor(user.id if user else None, ip), action="auth.sms_code", target_type="user",
           target_id=user.id if user else "", org_id=home_org(session, user),
           after={"purpose": purpose, "sent": user is not None})
    session.commit()
    return code_sent_message()


def _spend(session: Session, *, phone: str, purpose: str, code: str, now: datetime) -> int | None:
    """Spend the phone's current code for ``purpose`` when ``code`` is it; the account it was drawn
    for (None for an unknown phone). A wrong code counts a guess, and the last allowed guess spends it."""
    row = session.execute(
        select(SmsCode.id, SmsCode.code_hash, SmsCode.user_id, SmsCode.expires_at)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose, SmsCode.used_at.is_(None))
        .order_by(SmsCode.id.desc()).limit(1)
    ).first()
    if row is None or row.expires_at <= now:
        return None
    open_code = update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None)).execution_options(
        synchronize_session=False)
    typed = normalise_login(code)  # full-width digits and spaces, as phones type them
    if len(typed) != CODE_DIGITS or not hmac.compare_digest(row.code_hash, _hash(phone, purpose, typed)):
        max_guesses = get_settings().sms_code_max_guesses
        session.execute(open_code.values(
            attempts=SmsCode.attempts + 1,
            used_at=case((SmsCode.attempts + 1 >= max_guesses, now), else_=None)))
        return None
    # Conditional on used_at still being empty: two requests with the same code, one session.
    spent = session.connection().execute(open_code.values(used_at=now)).rowcount
    return row.user_id if spent == 1 else None


@dataclass(frozen=True)
class SignedIn:
    user: UserAccount
    token: str  # the raw session cookie
    activated: bool  # this sign-in activated the account (it had never been used)


def _signed_in_user(session: Session, *, phone: str, purpose: str, code: str, ip: str,
                    now: datetime) -> UserAccount:
    """The active account the code belongs to, after the login throttles; a failure is a LoginAttempt,
    audited and committed, then 401 with the one message for every reason."""
    check_login_throttle(session, login=phone, ip=ip, now=now)
    user_id = _spend(session, phone=phone, purpose=purpose, code=code, now=now)
    user = session.get(UserAccount, user_id) if user_id is not None else None
    if user is not None and not user.is_active:
        user = None
    session.add(LoginAttempt(login=phone[:20], ip=ip[:64], at=now, succeeded=user is not None))
    if user is None:
        known = _account(session, phone)
        record(session, actor=Actor(known.id if known else None, ip), action="auth.login_failed",
               target_type="user", target_id=known.id if known else "", org_id=home_org(session, known),
               after={"login": phone, "method": "sms", "purpose": purpose})
        session.commit()
        raise Unauthorized(BAD_CODE, code="bad_code")
    return user


def login_with_code(session: Session, *, phone: str, code: str, ip: str, user_agent: str = "",
                    remember: bool = False) -> SignedIn:
    """Sign in with an SMS code; the first sign-in of a never-used account activates it. Commits."""
    phone, now = normalise_login(phone), now_utc()
    user = _signed_in_user(session, phone=phone, purpose="login", code=code, ip=ip, now=now)
    first = not is_activated(user)
    _, raw = start_session(session, user=user, ip=ip, user_agent=user_agent, method="sms", remember=remember)
    user.last_login_at = now
    record(session, actor=Actor(user.id, ip), action="auth.login", target_type="user", target_id=user.id,
           org_id=home_org(session, user), after={"method": "sms", "remember": remember, "activated": first})
    session.commit()
    return SignedIn(user, raw, first)


def reset_with_code(session: Session, *, phone: str, code: str, password: str, ip: str, user_agent: str = "",
                    remember: bool = False) -> SignedIn:
    """忘记密码: a reset code and a new password; every other session ends and this one begins. Commits."""
    problem = password_problem(password)
    if problem:
        raise Invalid(problem, errors={"password": problem})
    phone, now = normalise_login(phone), now_utc()
    user = _signed_in_user(session, phone=phone, purpose="reset", code=code, ip=ip, now=now)
    first = not is_activated(user)
    user.password_hash = hash_password(password)
    ended = revoke_sessions(session, user_id=user.id)
    _, raw = start_session(session, user=user, ip=ip, user_agent=user_agent, method="sms", remember=remember)
    user.last_login_at = now
    record(session, actor=Actor(user.id, ip), action="auth.password_reset", target_type="user", target_id=user.id,
           org_id=home_org(session, user), after={"sessions_revoked": ended, "activated": first})
    session.commit()
    return SignedIn(user, raw, first)
