"""The campaign catalogue: loading it from data, and which indicators an organisation sees.

Who sees what is written once here: an organisation works with the tasks and indicators owned by
itself or by one of its ancestors (the province's catalogue, and a prefecture's own indicators only
inside that prefecture). Everything that lists, checks or exports indicators asks these functions.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from pathlib import Path

from sqlalchemy import ColumnElement, Select, select, union
from sqlmodel import Session

from app.models import BoostArea, Campaign, Indicator, IndicatorKind, Organisation, Task
from app.orgs.service import ancestor_ids, ancestors_of_ids, subtrees_ids
from app.quality.rules import load_defaults

CATALOGUE_FILE = Path(__file__).resolve().parent.parent / "data" / "catalogue.json"


def load_catalogue(session: Session, *, owner: Organisation, path: Path = CATALOGUE_FILE) -> Campaign:
    """Create the campaign described by ``path`` unless it is already there (flushes only)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    existing = session.scalar(select(Campaign).where(Campaign.code == data["code"]))
    if existing is not None:
        return existing
    has_current = session.scalar(select(Campaign.id).where(Campaign.is_current.is_(True)))
    campaign = Campaign(
        code=data["code"], name=data["name"], start_year=data["start_year"],
        end_year=data.get("end_year"), is_current=has_current is None,
    )
    session.add(campaign)
    session.flush()
    areas = {}
    for order, name in enumerate(data["areas"], start=1):
        areas[name] = BoostArea(campaign_id=campaign.id, name=name, sort_order=order)
        session.add(areas[name])
    session.flush()
    for t_order, t in enumerate(data["tasks"], start=1):
        task = Task(
            campaign_id=campaign.id, area_id=areas[t["area"]].id, name=t["name"],
            short_name=t["short_name"], narrative_prefix=t["narrative_prefix"],
            owner_org_id=owner.id, sort_order=t_order,
        )
        session.add(task)
        session.flush()
        for i_order, ind in enumerate(t["indicators"], start=1):
            session.add(Indicator(
                task_id=task.id, name=ind["name"], unit=ind["unit"], kind=IndicatorKind(ind["kind"]),
                owner_org_id=owner.id, narrative=ind["narrative"], sort_order=i_order,
                is_suggestion=bool(ind.get("suggestion", False)), is_outcome=bool(ind.get("outcome", False)),
            ))
    session.flush()
    # The default plausibility rules come with the catalogue (app/data/plausibility.json).
    load_defaults(session, owner_org_id=owner.id, campaign_id=campaign.id)
    return campaign


def current_campaign(session: Session) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.is_current.is_(True)))


def owners_seen_by(org_id: int | ColumnElement[int]) -> Select:
    """A subquery of the owners whose tasks and indicators ``org_id`` sees: itself and its ancestors
    (``org_id`` may be a bind parameter). Use as ``Indicator.owner_org_id.in_(owners_seen_by(org))``."""
    return ancestor_ids(org_id)


def owners_seen_within(org_ids: Iterable[int]) -> Select:
    """A subquery of the owners whose indicators someone in the subtrees of ``org_ids`` sees: the
    organisations above them and those inside them (an export or a staff list of a whole subtree)."""
    ids = list(org_ids)
    return union(ancestors_of_ids(ids), subtrees_ids(ids))


def sees(lineage: Collection[int], owner_id: int) -> bool:
    """In Python, for bulk loaders that hold the tree in memory: an organisation whose ``lineage`` (its
    id and its ancestors' ids) holds ``owner_id`` sees what that owner owns — ``owners_seen_by``'s rule."""
    return owner_id in lineage


def tasks_for(session: Session, org_id: int, campaign_id: int) -> list[Task]:
    """The tasks an organisation works with: those owned by it or by one of its ancestors."""
    stmt = (
        select(Task)
        .where(Task.campaign_id == campaign_id, Task.owner_org_id.in_(owners_seen_by(org_id)))
        .order_by(Task.sort_order, Task.id)
    )
    return list(session.scalars(stmt))


def indicators_for(session: Session, org_id: int, campaign_id: int) -> list[Indicator]:
    """Indicators visible to ``org_id`` (a prefecture's own show only in its subtree), in order."""
    stmt = (
        select(Indicator)
        .join(Task, Task.id == Indicator.task_id)
        .where(Task.campaign_id == campaign_id, Indicator.owner_org_id.in_(owners_seen_by(org_id)))
        .order_by(Task.sort_order, Task.id, Indicator.sort_order, Indicator.id)
    )
    return list(session.scalars(stmt))
