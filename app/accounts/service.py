"""User accounts and their role grants."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from app.accounts.passwords import hash_password
from app.models import GrantRole, Organisation, RoleGrant, UserAccount


def create_admin(session: Session, *, login: str, password: str, name: str, province: Organisation) -> UserAccount:
    """A province administrator (admin grant on the root); refuses a login that exists."""
    if len(password) < 8:
        raise ValueError("密码至少 8 位")
    if session.scalar(select(UserAccount.id).where(UserAccount.login == login)) is not None:
        raise ValueError(f"账号 {login} 已存在")
    user = UserAccount(login=login, password_hash=hash_password(password), display_name=name)
    session.add(user)
    session.flush()
    session.add(RoleGrant(user_id=user.id, role=GrantRole.admin, org_id=province.id))
    session.flush()
    return user
