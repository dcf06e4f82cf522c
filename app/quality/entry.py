"""What the member hears at entry (issue 16 item 5): the duplicate decision, 「请确认数值无误」 and
「您刚才已提交成功」. The rules themselves are recording's, duplicates' and flags'; this module only
asks them the questions the form puts before a submission is written, so the page repeats none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlmodel import Session

from app.activities.facts import current_facts
from app.activities.read import to_read
from app.activities.recording import _existing, recording_org
from app.activities.schemas import ActivityInput, ActivityRead
from app.activities.values import display_value, parse_values
from app.auth.principal import Principal
from app.errors import Conflict, DomainError
from app.models import Activity, ActivityParticipant, ActivityStatus, ParticipantStatus
from app.quality import duplicates as dup
from app.quality import flags as quality

# Which of the decision's answers a candidate gets: the recorder's own record, one the member is
# already named in, or one to join.
Relation = Literal["mine", "participant", "join"]
EDITABLE = (ActivityStatus.pending, ActivityStatus.returned)


class ValuesToConfirm(Conflict):
    """Some values pass the bounds of the catalogue's rules: the member confirms before submitting."""

    code = "values_to_confirm"

    def __init__(self, sentences: list[str]) -> None:
        super().__init__("请确认数值无误：" + "；".join(sentences), code="values_to_confirm")
        self.sentences = sentences


@dataclass(frozen=True)
class Candidate:
    """A likely duplicate as the decision panel shows it."""

    activity: ActivityRead
    relation: Relation

    @property
    def editable(self) -> bool:
        return self.relation == "mine" and self.activity.status in EDITABLE


def already_recorded(session: Session, by: Principal, idempotency_key: str) -> Activity | None:
    """The activity the caller already recorded with this submission key, if any."""
    return _existing(session, by.user_id, idempotency_key)


def bound_warnings(session: Session, by: Principal, data: ActivityInput, *, idempotency_key: str = "") -> list[str]:
    """The over-bound sentences of a submission (「请确认数值无误」), [] for a retry of one already
    recorded. Call it after ``check_new_activity``: values it cannot read are that check's business."""
    if already_recorded(session, by, idempotency_key) is not None:
        return []
    credited = data.organiser_org_id or recording_org(by, data.on_behalf)
    try:
        indicators = current_facts(session).indicators_for(data.task_id, credited)
        values = parse_values(indicators, data.values)
    except DomainError:
        return []
    facts = {i: quality.IndicatorFacts(row.name, row.unit, row.kind) for i, row in indicators.items()}
    return quality.would_exceed(session, credited_org_id=credited, values=values, indicators=facts)


def bound_hints(session: Session, credited_org_id: int, indicators: list) -> dict[int, tuple[str, str]]:
    """indicator id → (its bound in the unit typed, the sentence) for the values the form shows, so a
    figure over its bound is pointed out while it is typed (the bound is the rules', never the page's)."""
    bounds = quality.effective_rules(session, credited_org_id).bounds
    hints = {}
    for ind in indicators:
        bound = bounds.get(ind.id)
        if bound is not None:
            facts = quality.IndicatorFacts(ind.name, ind.unit, ind.kind)
            hints[ind.id] = (display_value(ind.kind, bound.max_value),
                             f"超过单次活动上限 {facts.show(bound.max_value)}，提交时会请您确认数值无误")
    return hints


def same_day_candidates(session: Session, data: ActivityInput) -> list[Activity]:
    """The likely duplicates recording asks about (same county, task and date; same site when both
    name one) — for re-showing the decision after a 「这是另一次活动」 without a note."""
    return dup.candidates(session, county_id=data.county_id, task_id=data.task_id, occurred_on=data.occurred_on,
                          site_id=data.site_id)


def decision(session: Session, by: Principal, found: list[Activity]) -> list[Candidate]:
    """Each likely duplicate with the answer the member gets for it: 您已记录过这次活动 (their own),
    您已在这次活动的参与名单中 (named in it), or 申请加入."""
    if not found:
        return []
    ids = [a.id for a in found]
    joined: set[int] = set()
    if by.member_id is not None:
        joined = set(session.scalars(select(ActivityParticipant.activity_id).where(
            ActivityParticipant.activity_id.in_(ids), ActivityParticipant.member_id == by.member_id,
            ActivityParticipant.status == ParticipantStatus.confirmed)))
    out = []
    for read in to_read(session, found):
        relation: Relation = ("mine" if read.recorder_user_id == by.user_id
                              else "participant" if read.id in joined else "join")
        out.append(Candidate(read, relation))
    return out
