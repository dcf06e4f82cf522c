"""Test data for account administration: members with accounts, committees, the tree's codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from app.auth.service import build_principal
from app.models import Committee, GrantRole, Membership, Organisation, UserAccount
from tests import factories as f

PROVINCE, KUNMING, WUHUA, PANLONG, QUJING = "530000", "530100", "530102", "530103", "530300"


def committee(session: Session, organisation: Organisation, name: str = "农业农村委") -> Committee:
    found = Committee(org_id=organisation.id, name=name)
    session.add(found)
    session.flush()
    return found


def member_account(session: Session, code: str = WUHUA, *, name: str | None = None,
                   committee_: Committee | None = None, activated: bool = False,
                   grants: tuple[tuple[GrantRole, Organisation], ...] | None = None) -> UserAccount:
    """A member of organisation ``code`` with an account (by default a member grant on it)."""
    organisation = f.org(session, code)
    member = f.make_member(session, organisation, name=name)
    if committee_ is not None:
        seat = session.scalar(select(Membership).where(Membership.member_id == member.id))
        seat.committee_id = committee_.id
    user = f.make_user(session, member=member,
                       grants=((GrantRole.member, organisation),) if grants is None else grants)
    if activated:
        f.with_password(session, user)
    return user


def as_principal(session: Session, user: UserAccount):
    return build_principal(session, user, ip="10.1.2.3")


def who(session: Session, kind: str):
    """A persona of tests/factories.py as the Principal the services take."""
    return as_principal(session, f.persona(session, kind))
