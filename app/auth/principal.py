"""Who is asking: a snapshot of the logged-in user and their grants, and what they may reach.

Every scope question ("which organisations may this user verify in?") is answered here, from the
grants, through the org tree module. Loaders and list queries call these; nothing else re-derives
permissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlmodel import Session

from app.audit.service import Actor
from app.models import GrantRole, Organisation
from app.orgs.service import is_within, subtrees_ids

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
        return any(is_within(session, org_id, top) for top in self.org_ids(*roles))

    def top_rank_over(self, session: Session, org_id: int) -> int:
        """The highest role rank this user holds over ``org_id`` (0 when none)."""
        return max((ROLE_RANK[r] for r, top in self.grants if is_within(session, org_id, top)), default=0)

    def grant_orgs(self, session: Session, *roles: GrantRole) -> list[Organisation]:
        ids = self.org_ids(*roles)
        if not ids:
            return []
        return list(session.scalars(select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.code)))
