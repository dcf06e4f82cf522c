"""Read models, batch-loaded: one query per kind, never per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import (
    literal,
    select,
    union_all,
)
from sqlmodel import Session

from app.activities.common import _core, _ids
from app.activities.review import STATUS_LABELS
from app.activities.schemas import ActivityRead, ActivityValueRead, FlagRead
from app.activities.values import display_value
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityPhoto,
    ActivityStatus,
    ActivityValue,
    Indicator,
    Member,
    Organisation,
    ParticipantStatus,
    Site,
    Task,
    UserAccount,
)
from app.quality.flags import Flag, flags_of

if TYPE_CHECKING:
    from app.activities.facts import WriteFacts

_READ_VALUES = (
    select(ActivityValue.activity_id, ActivityValue.value, Indicator.id, Indicator.name, Indicator.unit,
           Indicator.kind, Indicator.is_outcome)
    .join(Indicator, Indicator.id == ActivityValue.indicator_id)
    .where(ActivityValue.activity_id.in_(_ids("ids"))).order_by(Indicator.is_outcome, Indicator.sort_order)
)
_READ_PEOPLE = (
    select(ActivityParticipant.activity_id, Member.id, Member.name)
    .join(Member, Member.id == ActivityParticipant.member_id)
    .where(ActivityParticipant.activity_id.in_(_ids("ids")),
           ActivityParticipant.status == ParticipantStatus.confirmed.value)
    .order_by(Member.name, Member.id)
)
_READ_PHOTOS = (select(ActivityPhoto.activity_id, ActivityPhoto.id).where(ActivityPhoto.activity_id.in_(_ids("ids")))
                .order_by(ActivityPhoto.activity_id, ActivityPhoto.sort_order, ActivityPhoto.id))
# Every name a read model shows, in one round trip: (kind, id, name).
_READ_NAMES = union_all(
    select(literal("task"), Task.id, Task.name).where(Task.id.in_(_ids("task_ids"))),
    select(literal("org"), Organisation.id, Organisation.name).where(Organisation.id.in_(_ids("org_ids"))),
    select(literal("user"), UserAccount.id, UserAccount.display_name).where(UserAccount.id.in_(_ids("user_ids"))),
    select(literal("site"), Site.id, Site.name).where(Site.id.in_(_ids("site_ids"))),
)


# --- read models (batch-loaded: one query per kind, never per row) -----------------------------

def to_read(session: Session, activities: Sequence[Activity], *,
            flags: dict[int, list[Flag]] | None = None) -> list[ActivityRead]:
    """The read models; ``flags`` when the caller holds them already (a submission just computed its
    own: the 201 needs no query for them)."""
    if not activities:
        return []
    # Column rows on the connection (no entities to build), and every name in one round trip:
    # the API answers each submission with this, so it is on the write path too.
    conn = _core(session)
    ids = {"ids": [a.id for a in activities]}
    values: dict[int, list[ActivityValueRead]] = defaultdict(list)
    for activity_id, value, ind_id, name, unit, kind, outcome in conn.execute(_READ_VALUES, ids):
        values[activity_id].append(ActivityValueRead(
            indicator_id=ind_id, name=name, unit=unit, kind=kind, value=value, display=display_value(kind, value),
            is_outcome=bool(outcome)))
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for activity_id, member_id, name in conn.execute(_READ_PEOPLE, ids):
        people[activity_id].append((member_id, name))
    photos: dict[int, list[int]] = defaultdict(list)
    for activity_id, photo_id in conn.execute(_READ_PHOTOS, ids):
        photos[activity_id].append(photo_id)
    names: dict[str, dict[int, str]] = defaultdict(dict)
    for kind, key, name in conn.execute(_READ_NAMES, {
        "task_ids": list({a.task_id for a in activities}),
        "org_ids": list({a.county_id for a in activities} | {a.credited_org_id for a in activities}),
        "user_ids": list({a.recorder_user_id for a in activities}),
        "site_ids": list({a.site_id for a in activities if a.site_id}),
    }):
        names[kind][key] = name
    task_names, org_names, site_names, recorders = names["task"], names["org"], names["site"], names["user"]
    if flags is None:
        flags = flags_of(session, ids["ids"])
    return [
        ActivityRead(
            id=a.id, status=a.status, status_label=STATUS_LABELS[ActivityStatus(a.status)],
            status_reason=a.status_reason, task_id=a.task_id, task_name=task_names.get(a.task_id, ""),
            county_id=a.county_id, county_name=org_names.get(a.county_id, "").removesuffix("政协"),
            site_id=a.site_id, site_name=site_names.get(a.site_id) if a.site_id else None,
            occurred_on=a.occurred_on, description=a.description, credited_org_id=a.credited_org_id,
            credited_org_name=org_names.get(a.credited_org_id, ""), organiser_org_id=a.organiser_org_id,
            recorder_user_id=a.recorder_user_id, recorder_name=recorders.get(a.recorder_user_id, ""),
            participants=[name for _, name in people.get(a.id, [])],
            participant_ids=[member_id for member_id, _ in people.get(a.id, [])], values=values.get(a.id, []),
            photo_ids=photos.get(a.id, []), photo_count=len(photos.get(a.id, [])),
            version=a.version, submitted_at=a.submitted_at, reviewed_at=a.reviewed_at,
            flags=[FlagRead(code=f.code, message=f.message) for f in flags.get(a.id, [])],
            distinct_note=a.distinct_note, merged_into_id=a.merged_into_id,
        )
        for a in activities
    ]


def new_read(activity: Activity, *, facts: WriteFacts, values: Mapping[int, int], participants: Mapping[int, str],
             site_name: str | None, recorder_name: str, flags: Sequence[Flag]) -> ActivityRead:
    """The read model of an activity just recorded, from what its write held — no query: the same
    fields as ``to_read`` gives (tests/activities/test_api.py compares the two), names from the
    write's facts (app/activities/facts.py). A new activity has no photos here (a form with photos
    reads its answer with ``to_read``)."""
    indicators = {i.id: i for i in facts.indicators.get(activity.task_id, ())}
    order = {i: n for n, i in enumerate(indicators)}  # the facts keep the read model's order
    people = sorted(participants.items(), key=lambda item: (item[1], item[0]))
    org_names = facts.org_name
    task = facts.tasks.get(activity.task_id)
    return ActivityRead(
        id=activity.id, status=activity.status, status_label=STATUS_LABELS[ActivityStatus(activity.status)],
        status_reason=activity.status_reason, task_id=activity.task_id, task_name=task[2] if task else "",
        county_id=activity.county_id, county_name=org_names.get(activity.county_id, "").removesuffix("政协"),
        site_id=activity.site_id, site_name=site_name if activity.site_id else None,
        occurred_on=activity.occurred_on, description=activity.description,
        credited_org_id=activity.credited_org_id, credited_org_name=org_names.get(activity.credited_org_id, ""),
        organiser_org_id=activity.organiser_org_id, recorder_user_id=activity.recorder_user_id,
        recorder_name=recorder_name, participants=[name for _, name in people],
        participant_ids=[member_id for member_id, _ in people],
        values=[ActivityValueRead(indicator_id=i, name=indicators[i].name, unit=indicators[i].unit,
                                  kind=indicators[i].kind, value=v, display=display_value(indicators[i].kind, v),
                                  is_outcome=indicators[i].is_outcome)
                for i, v in sorted(values.items(), key=lambda item: order.get(item[0], len(order)))],
        photo_ids=[], photo_count=0, version=activity.version, submitted_at=activity.submitted_at,
        reviewed_at=activity.reviewed_at, flags=[FlagRead(code=f.code, message=f.message) for f in flags],
        distinct_note=activity.distinct_note, merged_into_id=activity.merged_into_id,
    )
