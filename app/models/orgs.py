"""The organisation tree (政协组织), its closure table, committees and sites."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow


class OrgLevel(StrEnum):
    province = "province"  # 省政协
    prefecture = "prefecture"  # 州市政协
    county = "county"  # 县级政协 (县/市/区)


class SiteKind(StrEnum):
    town = "town"  # 乡镇/街道
    village = "village"  # 村/社区
    demo_site = "demo_site"  # 示范点/助推点
    studio = "studio"  # 委员工作室


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(in_list("level", OrgLevel), name="level"),
        CheckConstraint("length(code) = 6", name="code_six_digits"),
        # Exactly the province is a root.
        CheckConstraint("(level = 'province') = (parent_id IS NULL)", name="root_is_province"),
        CheckConstraint("NOT is_key_county OR level = 'county'", name="key_county_is_county"),
    )

    id: int = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(6), nullable=False, unique=True))
    name: str = Field(max_length=64)
    level: OrgLevel = Field(sa_column=Column(String(12), nullable=False))
    parent_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    is_key_county: bool = Field(default=False)  # 重点帮扶县
    # How many days an activity may wait for verification here before it counts as overdue (None: 7).
    review_sla_days: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class OrgClosure(SQLModel, table=True):
    """Every (ancestor, descendant) pair of the tree, itself included at depth 0.

    Subtree, ancestors and is_within are then one indexed lookup each, identical on SQLite and
    PostgreSQL (a materialised path needs byte-order collation, which PostgreSQL's locales break).
    """

    __tablename__ = "org_closure"
    __table_args__ = (
        CheckConstraint("depth >= 0", name="depth_non_negative"),
        Index("ix_org_closure_descendant_id", "descendant_id", "depth"),
    )

    ancestor_id: int = Field(
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    )
    descendant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)
    )
    depth: int


class Committee(SQLModel, table=True):
    """A body inside one organisation: 专门委员会, 办公厅, 「双助推」办公室."""

    __tablename__ = "committee"
    __table_args__ = (
        UniqueConstraint("org_id", "name"),
        # Target of composite foreign keys that keep a membership's committee in its organisation.
        UniqueConstraint("id", "org_id"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    name: str = Field(max_length=64)


class Site(SQLModel, table=True):
    """A place under a county: 乡镇, 村, 示范点, 委员工作室."""

    __tablename__ = "site"
    __table_args__ = (
        CheckConstraint(in_list("kind", SiteKind), name="kind"),
        UniqueConstraint("id", "county_id"),
        Index("ix_site_county_id_kind", "county_id", "kind"),
    )

    id: int = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    name: str = Field(max_length=128)
    kind: SiteKind = Field(sa_column=Column(String(12), nullable=False))
    county_id: int = Field(foreign_key="organisation.id")
    parent_id: int | None = Field(default=None, foreign_key="site.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
