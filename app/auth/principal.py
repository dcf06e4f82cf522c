"""Who is asking: a snapshot of the logged-in user and their grants, and what they may reach.

Every scope question ("which organisations may this user verify in?") is answered here, from the
grants, through the org tree module. Loaders and list queries call these; nothing else re-derives
permissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlmodel import Session

from app.audit.service import Actor
from app.errors import Forbidden, NotFound
from app.models import GrantRole, Organisation
from app.models.base import MAX_BIGINT
from app.orgs.service import ancestor_ids, get_by_code, subtrees_ids

# Roles that may read an organisation subtree's figures and activities.
READ_ROLES = (GrantRole.viewer, GrantRole.leader, GrantRole.staff, GrantRole.admin)
# Roles of the 助推办: members, verification, closing months, targets.
STAFF_ROLES = (GrantRole.staff, GrantRole.admin)
# Roles that make and change 挂联.
LINK_ROLES = (GrantRole.leader, GrantRole.staff, GrantRole.admin)
# Granting: nobody grants a role above their own.
ROLE_RANK = {GrantRole.member: 1, GrantRole.viewer: 1, GrantRole.leader: 2, GrantRole.staff: 3, GrantRole.admin: 4}


@dataclass(frozen=True)
class TokenGrant:
    """What an API token (app/tokens) allows, beside its subtree: the caller is another system."""

    id: int
    name: str
    level: str  # "aggregate" | "records"
    may_write: bool  # bound to a member: may submit activities as that member
    rate_per_minute: int


@dataclass(frozen=True)
class Principal:
    user_id: int
    login: str
    display_name: str
    member_id: int | None
    grants: tuple[tuple[GrantRole, int], ...]
    session_id: str | None = None
    csrf_token: str = ""
    ip: str = ""
    # The member's current organisation (None for accounts without a current membership).
    member_org_id: int | None = None
    roles: frozenset[GrantRole] = field(default=frozenset())
    # Set when the caller is another system with an API token (no session, no CSRF).
    token: TokenGrant | None = None

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id or None, ip=self.ip)  # 0: an API token without an account

    def has_role(self, *roles: GrantRole) -> bool:
        return any(role in self.roles for role in roles)

    def org_ids(self, *roles: GrantRole) -> list[int]:
        """The organisations of this user's grants of ``roles``."""
        return sorted({org for role, org in self.grants if role in roles})

    def scope(self, *roles: GrantRole) -> Select:
        """Ids of every organisation inside a subtree granted with one of ``roles`` (may be empty)."""
        return subtrees_ids(self.org_ids(*roles))

    def can(self, session: Session, org_id: int, *roles: GrantRole) -> bool:
        """True when ``org_id`` lies inside a subtree this user holds one of ``roles`` on."""
        if not self.org_ids(*roles):
            return False  # no such grant anywhere: nothing to look up
        return not self.roles_over(session, org_id).isdisjoint(roles)

    def roles_over(self, session: Session, org_id: int) -> frozenset[GrantRole]:
        """Every role this user holds over ``org_id`` (through a grant on it or on an ancestor); one query."""
        if not self.grants:
            return frozenset()
        above = set(session.scalars(ancestor_ids(org_id)))
        return frozenset(role for role, top in self.grants if top in above)

    def top_rank_over(self, session: Session, org_id: int) -> int:
        """The highest role rank this user holds over ``org_id`` (0 when none)."""
        return max((ROLE_RANK[r] for r in self.roles_over(session, org_id)), default=0)

    def grant_orgs(self, session: Session, *roles: GrantRole) -> list[Organisation]:
        ids = self.org_ids(*roles)
        if not ids:
            return []
        return list(session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.code)))


# --- "this organisation, for this caller": the one rule every loader applies ----------------------------

ORG_NOT_FOUND = "找不到该组织，或不在您的管辖范围内"
NO_STAFF_OVER = "没有权限：只有本级或上级「双助推」办公室人员可以办理"
NO_LINKS_OVER = "没有权限：只有本级或上级的领导或「双助推」办公室人员可以安排挂联"


def _find_org(session: Session, ref: int | str | None) -> Organisation | None:
    if isinstance(ref, int):
        return session.get(Organisation, ref) if 0 < ref <= MAX_BIGINT else None
    try:
        return get_by_code(session, ref or "")
    except ValueError:  # not a 行政区划代码: no such organisation
        return None


def org_in_scope(session: Session, by: Principal, ref: int | str | None, *, roles: Sequence[GrantRole] = (),
                 refused: str = NO_STAFF_OVER, refused_code: str = "staff_only") -> Organisation:
    """The organisation ``ref`` (an id, or a code) for ``by``: 404 when it does not exist or lies outside
    every subtree ``by`` reads (its existence is not revealed); 403 when ``by`` reads it but holds none
    of ``roles`` over it. The one rule behind ``org_for_read`` / ``org_for_staff`` / ``org_for_links``."""
    org = _find_org(session, ref)
    held = by.roles_over(session, org.id) if org is not None else frozenset()
    if org is None or not held.intersection(READ_ROLES):
        raise NotFound(ORG_NOT_FOUND, code="not_found")
    if roles and not held.intersection(roles):
        raise Forbidden(refused, code=refused_code)
    return org


def org_for_read(session: Session, by: Principal, ref: int | str | None) -> Organisation:
    """The organisation if ``by`` may read it (boards, reports, exports); 404 otherwise."""
    return org_in_scope(session, by, ref)


def org_for_staff(session: Session, by: Principal, ref: int | str | None, *, refused: str = NO_STAFF_OVER,
                  refused_code: str = "staff_only") -> Organisation:
    """The organisation if ``by`` holds a staff/admin grant over it; 403 when only reading it, else 404."""
    return org_in_scope(session, by, ref, roles=STAFF_ROLES, refused=refused, refused_code=refused_code)


def org_for_links(session: Session, by: Principal, ref: int | str | None, *, refused: str = NO_LINKS_OVER,
                  refused_code: str = "links_forbidden") -> Organisation:
    """The organisation if ``by`` may make 挂联 in it (leader/staff/admin); 403 when only reading it, else 404."""
    return org_in_scope(session, by, ref, roles=LINK_ROLES, refused=refused, refused_code=refused_code)
