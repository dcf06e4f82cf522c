"""The organisation tree: the one module that knows how subtree, ancestors and is_within work.

Backed by a closure table (``org_closure``): every question below is one indexed query, with the
same answer on SQLite and PostgreSQL. Everything else asks here instead of walking ``parent_id``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BindParameter, ColumnElement, Select, exists, select
from sqlmodel import Session

from app.models import Organisation, OrgClosure, OrgLevel


def pad_code(raw: str) -> str:
    """A GB/T 2260 code as six digits: the data files' ``53`` and ``5301`` → 530000, 530100."""
    raw = raw.strip()
    if not raw.isdigit() or len(raw) not in (2, 4, 6):
        raise ValueError(f"不是有效的行政区划代码：{raw!r}")
    return raw.ljust(6, "0")


def subtree_ids(org_id: int) -> Select:
    """A subquery of the ids of ``org_id`` and everything below it (use with ``.in_()``)."""
    return select(OrgClosure.descendant_id).where(OrgClosure.ancestor_id == org_id)


def ancestor_ids(org_id: int | ColumnElement[int]) -> Select:
    """A subquery of ``org_id`` and the ids above it (``org_id`` may be a bind parameter)."""
    return select(OrgClosure.ancestor_id).where(OrgClosure.descendant_id == org_id)


def ancestors_of_ids(org_ids: Iterable[int]) -> Select:
    """A subquery of the ids of several organisations and of everything above them."""
    return select(OrgClosure.ancestor_id).where(OrgClosure.descendant_id.in_(list(org_ids))).distinct()


def ancestor_pairs(org_ids: Iterable[int] | BindParameter | None = None) -> Select:
    """(org_id, ancestor_id) rows — an organisation with itself and each one above it — of ``org_ids``
    (a list or an expanding bind parameter), or of the whole tree when None. Join a table's organisation
    column to ``org_id`` and group by ``ancestor_id`` to count its rows at every level above."""
    stmt = select(OrgClosure.descendant_id.label("org_id"), OrgClosure.ancestor_id.label("ancestor_id"))
    if org_ids is None:
        return stmt
    return stmt.where(OrgClosure.descendant_id.in_(org_ids if isinstance(org_ids, BindParameter) else list(org_ids)))


def subtree_pairs(root_ids: Iterable[int]) -> Select:
    """(root_id, org_id) rows: each of ``root_ids`` with every organisation of its subtree (itself
    included). Join a table's organisation column to ``org_id`` and group by ``root_id`` to sum a
    subtree per root in one query."""
    return select(OrgClosure.ancestor_id.label("root_id"), OrgClosure.descendant_id.label("org_id")).where(
        OrgClosure.ancestor_id.in_(list(root_ids)))


def subtree(session: Session, org_id: int) -> list[Organisation]:
    """``org_id`` and all organisations below it, by level then code."""
    stmt = (
        select(Organisation)
        .join(OrgClosure, OrgClosure.descendant_id == Organisation.id)
        .where(OrgClosure.ancestor_id == org_id)
        .order_by(OrgClosure.depth, Organisation.code)
    )
    return list(session.scalars(stmt))


def ancestors(session: Session, org_id: int, *, include_self: bool = False) -> list[Organisation]:
    """The chain from the root down to ``org_id``'s parent (or to ``org_id`` itself)."""
    stmt = (
        select(Organisation)
        .join(OrgClosure, OrgClosure.ancestor_id == Organisation.id)
        .where(OrgClosure.descendant_id == org_id)
        .order_by(OrgClosure.depth.desc())
    )
    if not include_self:
        stmt = stmt.where(OrgClosure.depth > 0)
    return list(session.scalars(stmt))


def is_within(session: Session, org_id: int, ancestor_id: int) -> bool:
    """True when ``org_id`` is ``ancestor_id`` or lies below it."""
    stmt = select(
        exists().where(OrgClosure.ancestor_id == ancestor_id, OrgClosure.descendant_id == org_id)
    )
    return bool(session.scalar(stmt))


def counties_of(session: Session, org_id: int, *, key_only: bool = False) -> list[Organisation]:
    """The county-level organisations in ``org_id``'s subtree (itself, if it is a county)."""
    stmt = (
        select(Organisation)
        .where(Organisation.id.in_(subtree_ids(org_id)), Organisation.level == OrgLevel.county)
        .order_by(Organisation.code)
    )
    if key_only:
        stmt = stmt.where(Organisation.is_key_county.is_(True))
    return list(session.scalars(stmt))


def key_counties(session: Session, org_id: int) -> list[Organisation]:
    """The 重点帮扶县 in ``org_id``'s subtree."""
    return counties_of(session, org_id, key_only=True)


def children(session: Session, org_id: int) -> list[Organisation]:
    stmt = select(Organisation).where(Organisation.parent_id == org_id).order_by(Organisation.code)
    return list(session.scalars(stmt))


def get_by_code(session: Session, code: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.code == pad_code(code)))


def root(session: Session) -> Organisation | None:
    """The province (the one organisation without a parent), if loaded."""
    return session.scalar(select(Organisation).where(Organisation.parent_id.is_(None)))


def add_org(
    session: Session,
    *,
    code: str,
    name: str,
    level: OrgLevel,
    parent: Organisation | None,
    is_key_county: bool = False,
) -> Organisation:
    """Insert one organisation and its closure rows (flushes; the caller commits)."""
    org = Organisation(
        code=pad_code(code), name=name, level=level, is_key_county=is_key_county,
        parent_id=parent.id if parent else None,
    )
    session.add(org)
    session.flush()
    session.add(OrgClosure(ancestor_id=org.id, descendant_id=org.id, depth=0))
    if parent is not None:
        for row in session.scalars(select(OrgClosure).where(OrgClosure.descendant_id == parent.id)).all():
            session.add(OrgClosure(ancestor_id=row.ancestor_id, descendant_id=org.id, depth=row.depth + 1))
    session.flush()
    return org


def closure_rows(parents: Iterable[tuple[int, int | None]]) -> list[tuple[int, int, int]]:
    """(ancestor, descendant, depth) for every pair of a forest given as (id, parent_id) pairs.

    Used by bulk loads, which insert thousands of organisations without going through add_org.
    """
    parent_of = dict(parents)
    rows = []
    for node in parent_of:
        depth, current = 0, node
        while current is not None:
            rows.append((current, node, depth))
            current = parent_of.get(current)
            depth += 1
    return rows


def subtrees_ids(org_ids: Iterable[int]) -> Select:
    """A subquery of the ids in the union of several subtrees (e.g. of all of a user's grants)."""
    return select(OrgClosure.descendant_id).where(OrgClosure.ancestor_id.in_(list(org_ids))).distinct()
