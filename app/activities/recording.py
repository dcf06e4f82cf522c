"""Recording (idempotent), correcting and withdrawing an activity, with their hot statements built once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session

from app.activities import photos as photo_store
from app.activities.common import _core
from app.activities.facts import Probe, probe
from app.activities.months import _check_month_open
from app.activities.read import new_read
from app.activities.review import TRANSITIONS, _move
from app.activities.schemas import ActivityInput, ActivityRead
from app.activities.scope import activity_for_recorder
from app.activities.values import display_value, parse_values
from app.audit.service import append as audit_append
from app.audit.service import record as audit
from app.auth.principal import STAFF_ROLES, Principal
from app.clock import now_utc, today_cn, yyyymm
from app.config import get_settings
from app.db import Prepared, at_commit
from app.errors import Conflict, Forbidden, Invalid
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityPhoto,
    ActivityStatus,
    ActivityValue,
    Indicator,
    Member,
    Membership,
    OrgLevel,
    ParticipantStatus,
)
from app.models.people import serving_on
from app.orgs.service import subtrees_ids
from app.quality import duplicates as dup
from app.quality import flags as quality
from app.rollup import service as rollup

_EXISTING_ID = select(Activity.id).where(Activity.recorder_user_id == bindparam("user_id"),
                                         Activity.idempotency_key == bindparam("key"))
# The task's indicators the credited organisation works with (a prefecture's own: its subtree only).
_INSERT_VALUES = Prepared(insert(ActivityValue.__table__))
_INSERT_PARTICIPANTS = Prepared(insert(ActivityParticipant.__table__))
_INSERT_ACTIVITY: dict[str, Prepared] = {}  # per dialect, made on first use
_ACTIVITY = sa_inspect(Activity).class_manager  # makes an entity as the ORM makes a loaded row


@dataclass(frozen=True)
class RecordResult:
    activity: Activity
    created: bool  # False: a retry of an earlier request, answered with its original result
    flags: list[quality.Flag] | None = None  # as stored with a new activity (None: read them)
    answer: ActivityRead | None = None  # a new activity's read model, built from what the write held


# --- recording ---------------------------------------------------------------------------------

def recording_org(by: Principal, on_behalf: bool) -> int:
    """The organisation the caller records for: their own as a member, their office's for 代录."""
    if on_behalf:
        staff_orgs = by.org_ids(*STAFF_ROLES)
        if not staff_orgs:
            raise Forbidden("只有「双助推」办公室工作人员可以代录")
        return staff_orgs[0]
    if by.member_org_id is None:
        raise Forbidden("您的账号没有关联在任的政协委员，不能记录活动；工作人员请选择“代录”", code="not_a_member")
    return by.member_org_id


def fingerprint(data: ActivityInput, photo_digests: Sequence[str] = ()) -> str:
    """Digest of what was submitted: the same idempotency key with other content is refused."""
    # The 「这是另一次活动」 decision is not content: confirming it after a 409 is the same submission.
    payload = data.model_dump(mode="json", exclude={"distinct_from", "distinct_note"})
    payload["values"] = {str(k): str(v).strip() for k, v in sorted(data.values.items())}
    payload["participant_member_ids"] = sorted(set(data.participant_member_ids))
    payload["photos"] = list(photo_digests)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def recorded_id(session: Session, user_id: int, key: str) -> int | None:
    """The id of the activity this user already recorded with this submission key, if any (a cheap
    probe: nearly every submission is new, and an entity query costs more)."""
    key = (key or "").strip()
    return _core(session).execute(_EXISTING_ID, {"user_id": user_id, "key": key}).scalar() if key else None


def _existing(session: Session, user_id: int, key: str) -> Activity | None:
    found = recorded_id(session, user_id, key)
    return None if found is None else session.get(Activity, found)


def _replayed(existing: Activity, request_hash: str) -> RecordResult:
    if existing.request_hash != request_hash:
        raise Conflict("这个提交编号已用于另一条不同的内容，请刷新页面后重新填写", code="idempotency_conflict")
    return RecordResult(existing, created=False)


@dataclass(frozen=True)
class _Checked:
    task_id: int
    county_id: int
    site_id: int | None
    values: dict[int, int]
    participants: list[int]
    description: str
    indicators: dict[int, quality.IndicatorFacts]
    closed: bool
    history: dict[int, tuple[int, int]]  # the recorder's verified values per indicator: (how many, largest)
    probe: Probe  # what the checks read (the facts the answer names things from)
    participant_names: dict[int, str]


def _probe(session: Session, by: Principal, data: ActivityInput, *, key: str | None, recorder_user_id: int,
           exclude_id: int | None = None) -> Probe:
    """The submission's facts in one statement (app/activities/facts.py)."""
    return probe(session, user_id=recorder_user_id, key=key, county_id=data.county_id, task_id=data.task_id,
                 occurred_on=data.occurred_on, site_id=data.site_id, member_id=by.member_id, exclude_id=exclude_id)


def _check(session: Session, by: Principal, data: ActivityInput, p: Probe, *, recorder_org: int, credited: int,
           organiser: int | None, today: date) -> _Checked:
    """Every rule an activity's content must satisfy; raises Invalid with per-field messages."""
    facts = p.facts
    if not facts.task_ok(data.task_id, credited):
        raise Invalid("请选择本次行动的实事", errors={"task_id": "请选择实事"})
    if facts.org_level.get(data.county_id) != OrgLevel.county:
        raise Invalid("请选择活动所在的县（市、区）", errors={"county_id": "请选择活动地点"})
    if data.site_id is not None and p.site_county != data.county_id:
        raise Invalid("所选乡镇/村不在该县，请重新选择", errors={"site_id": "乡镇/村不在所选的县"})
    if data.occurred_on > today:
        raise Invalid("活动日期不能晚于今天", errors={"occurred_on": "活动日期不能晚于今天"})
    if facts.start_year is not None and data.occurred_on.year < facts.start_year:
        raise Invalid(f"活动日期早于本次行动开始（{facts.start_year}年）", errors={"occurred_on": "日期太早"})
    closed = facts.month_closed(credited, yyyymm(data.occurred_on))
    _check_month_open(session, by, credited, data.occurred_on, closed=closed)
    description = data.description.strip()
    if len(description) < 2:
        raise Invalid("请简要描述活动内容", errors={"description": "请简要描述活动内容"})
    indicators = facts.indicators_for(data.task_id, credited)
    values = parse_values(indicators, data.values)
    participants, names = _check_participants(session, by, data, p, recorder_org=recorder_org, organiser=organiser)
    facts_of = {i: quality.IndicatorFacts(row.name, row.unit, row.kind) for i, row in indicators.items()}
    history = {i: seen for i, seen in p.history.items() if i in indicators}
    return _Checked(data.task_id, data.county_id, data.site_id, values, participants, description, facts_of,
                    closed, history, p, names)


def _check_participants(session: Session, by: Principal, data: ActivityInput, p: Probe, *, recorder_org: int,
                        organiser: int | None) -> tuple[list[int], dict[int, str]]:
    """The participants (sorted ids) and their names."""
    wanted = set(data.participant_member_ids)
    recorder = None if data.on_behalf else by.member_id  # the recorder took part (unless 代录)
    if recorder is not None:
        wanted.add(recorder)
    if data.on_behalf and not data.participant_member_ids:
        raise Invalid("代录时请至少选择一名参与委员", errors={"participants": "请选择参与委员"})
    if not wanted:
        return [], {}
    if recorder is not None and wanted == {recorder}:
        return [recorder], {recorder: p.member_name or ""}  # a member alone: nothing to look up
    orgs = [recorder_org] + ([organiser] if organiser else [])
    names = dict(_core(session).execute(
        select(Membership.member_id, Member.name).join(Member, Member.id == Membership.member_id).where(
            Membership.member_id.in_(wanted), Membership.org_id.in_(subtrees_ids(orgs)),
            serving_on(data.occurred_on),
        )
    ).all())
    if recorder is not None:
        names.setdefault(recorder, p.member_name or "")
    missing = wanted - set(names)
    if missing:
        # A count, not names: ids from outside the caller's reach must not reveal who they are.
        raise Invalid(f"有 {len(missing)} 名参与委员不在本组织或组织单位范围内，或活动当天不在任，请重新选择",
                      errors={"participants": "有参与委员不在范围内"})
    return sorted(wanted), names


def _insert_unless_retried(session: Session, row: dict) -> int | None:
    """Insert the activity row; None when (recorder, key) is already taken.

    ``ON CONFLICT … DO NOTHING`` on both databases: on PostgreSQL two copies of one request that
    raced past the check wait on each other here and the loser gets no row (no savepoint, no
    exception); SQLite's writers queue on BEGIN IMMEDIATE, so there it never happens.
    """
    conn = _core(session)
    stmt = _INSERT_ACTIVITY.get(conn.dialect.name)
    if stmt is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = _INSERT_ACTIVITY[conn.dialect.name] = Prepared(
            dialect.insert(Activity.__table__)
            .on_conflict_do_nothing(index_elements=["recorder_user_id", "idempotency_key"])
            .returning(Activity.__table__.c.id))
    found = stmt.execute(conn, row).fetchone()
    return None if found is None else found[0]


def _check_new(session: Session, by: Principal, data: ActivityInput, p: Probe, *,
               today: date) -> tuple[int | None, int, _Checked]:
    """(organiser, credited organisation, checked content) of a new activity, or Invalid / Forbidden."""
    recorder_org = recording_org(by, data.on_behalf)
    organiser = data.organiser_org_id
    if organiser is not None and not (
        p.facts.is_within(recorder_org, organiser)
        or (data.on_behalf and by.can(session, organiser, *STAFF_ROLES))
    ):
        raise Invalid("组织单位只能是本级或上级政协", errors={"organiser_org_id": "组织单位不在范围内"})
    credited = organiser or recorder_org
    return organiser, credited, _check(session, by, data, p, recorder_org=recorder_org, credited=credited,
                                       organiser=organiser, today=today)


def _distinct_from(session: Session, by: Principal, data: ActivityInput,
                   checked: _Checked) -> tuple[list[int], list[dup.Nearby]]:
    """(the likely duplicates the submission was confirmed distinct from, the near ones to flag);
    LikelyDuplicate when some match the date and the recorder has not yet decided (「申请加入」 or
    「这是另一次活动」 with a note)."""
    nearby = checked.probe.near  # read by the probe, with the figures of those dated otherwise
    near = dup.near_duplicates(nearby, checked.probe.near_figures, occurred_on=data.occurred_on,
                               recorder_user_id=by.user_id, values=checked.values)
    same_day = [a for a in nearby if a.occurred_on == data.occurred_on]
    if not same_day:
        return [], near
    found = dup.load(session, same_day)
    ids = {a.id for a in found}
    note = (data.distinct_note or "").strip()
    if ids <= set(data.distinct_from) and len(note) >= 2:
        return sorted(ids), near
    if ids <= set(data.distinct_from):
        raise Invalid("请简要说明这次活动与已有记录有何不同（至少 2 个字）",
                      errors={"distinct_note": "请说明与已有记录的不同"}, code="distinct_note_missing")
    raise dup.LikelyDuplicate(found, dup.describe(session, found))


def check_new_activity(session: Session, *, by: Principal, data: ActivityInput, today: date | None = None,
                       idempotency_key: str = "") -> None:
    """The rules ``record_activity`` holds a new activity's content to, without writing: the form asks
    them before it decodes any photo, so an invalid submission costs no image work. A retry of a
    submission already recorded passes (``record_activity`` answers it with the first result)."""
    p = _probe(session, by, data, key=(idempotency_key or "").strip() or None, recorder_user_id=by.user_id)
    if p.existing_id is not None:
        return
    _organiser, _credited, checked = _check_new(session, by, data, p, today=today or today_cn())
    if get_settings().quality_checks:
        try:
            _distinct_from(session, by, data, checked)
        except dup.LikelyDuplicate:
            if recorded_id(session, by.user_id, idempotency_key) is None:  # see record_activity
                raise


def record_activity(session: Session, *, by: Principal, data: ActivityInput, idempotency_key: str,
                    photos: Sequence[photo_store.PreparedPhoto] = (), today: date | None = None) -> RecordResult:
    """Record an activity once per idempotency key (a retry returns the original). Commits.

    A new submission makes seven statements in its transaction (bench/submit.py counts them): the
    probe (the key's earlier use, the duplicate check, the recorder's history and the cached facts'
    version, app/activities/facts.py), the activity (``INSERT … ON CONFLICT DO NOTHING RETURNING``),
    its values, its participants, the audit row, and the rollup's figures and stamps; one more for its
    flags when it has any, and the duplicate look-ups only when something of its county and 实事 lies
    within a day. Its answer is built from what the write holds (``RecordResult.answer``)."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise Invalid("缺少提交编号（Idempotency-Key），请刷新页面后重试", code="idempotency_key_missing")
    if len(photos) > photo_store.MAX_PHOTOS:
        raise Invalid(f"最多上传 {photo_store.MAX_PHOTOS} 张照片", errors={"photos": "照片太多"})
    request_hash = fingerprint(data, [p.digest for p in photos])
    p = _probe(session, by, data, key=key, recorder_user_id=by.user_id)
    earlier = None if p.existing_id is None else session.get(Activity, p.existing_id)
    if earlier is not None:
        return _replayed(earlier, request_hash)

    today = today or today_cn()
    organiser, credited, checked = _check_new(session, by, data, p, today=today)
    checks = get_settings().quality_checks
    try:
        distinct, near = _distinct_from(session, by, data, checked) if checks else ([], [])
    except dup.LikelyDuplicate:
        # A copy of this very submission may have committed since the probe above (PostgreSQL runs
        # writers at once): that row is no duplicate of it but its answer.
        existing = _existing(session, by.user_id, key)
        if existing is not None:
            return _replayed(existing, request_hash)
        raise

    now = now_utc()
    row: dict[str, Any] = {
        "recorder_user_id": by.user_id, "credited_org_id": credited, "organiser_org_id": organiser,
        "task_id": checked.task_id, "county_id": checked.county_id, "site_id": checked.site_id,
        "occurred_on": data.occurred_on, "description": checked.description, "status": ActivityStatus.pending.value,
        "status_reason": None, "reviewer_user_id": None, "reviewed_at": None, "idempotency_key": key,
        "request_hash": request_hash, "version": 1, "submitted_at": now, "created_at": now, "updated_at": now,
        "distinct_note": (data.distinct_note or "").strip()[:200] if distinct else None, "merged_into_id": None,
    }
    new_id = _insert_unless_retried(session, row)
    if new_id is None:
        # Two copies of one request raced past the check (PostgreSQL): answer with the winner's row.
        existing = _existing(session, by.user_id, key)
        if existing is None:  # pragma: no cover - the winner committed before our insert returned
            raise Conflict("同一内容正在提交，请稍后刷新查看", code="idempotency_conflict")
        return _replayed(existing, request_hash)
    # The row is written; hand back an entity for it without reading it again, made as the ORM makes
    # a loaded row (SQLModel's validating constructor costs a twentieth of a submission).
    activity = _ACTIVITY.new_instance()
    activity.__dict__.update(row, id=new_id)
    make_transient_to_detached(activity)
    session.add(activity)
    _write_details(session, activity, checked.values, checked.participants, photos, new=True)
    flags: list[quality.Flag] = []
    if checks:
        flags = quality.compute(session, quality.Submitted(
            task_id=checked.task_id, county_id=checked.county_id, occurred_on=data.occurred_on,
            values=checked.values, indicators=checked.indicators, photo_count=len(photos),
            recorder_user_id=by.user_id, credited_org_id=credited, submitted_on=today, closed=checked.closed,
            member_history=checked.history,
            distinct_from=distinct, distinct_note=data.distinct_note,
            near_duplicates=[(a.id, a.occurred_on) for a in near]), today=today)
        quality.store(session, new_id, flags, new=True)
    audit_append(session, actor=by.actor, action="activity.create", target_type="activity", target_id=activity.id,
                 org_id=credited, after=_snapshot(activity, checked.values, checked.participants))
    # Last before the COMMIT: the rollup's rows of the province and its prefectures, and their stamps,
    # are the rows every submission updates — on PostgreSQL their locks are held from here to the end.
    rollup.apply(session, [(None, rollup.Contribution(
        status=ActivityStatus.pending.value, credited_org_id=credited, county_id=checked.county_id,
        task_id=checked.task_id, month=yyyymm(data.occurred_on), values=checked.values,
        members=frozenset(checked.participants)))], lineage=p.facts.lineage)
    session.commit()
    answer = None if photos else new_read(activity, facts=p.facts, values=checked.values,
                                          participants=checked.participant_names, site_name=p.site_name,
                                          recorder_name=by.display_name, flags=flags)
    return RecordResult(activity, created=True, flags=flags, answer=answer)


def _write_details(session: Session, activity: Activity, values: dict[int, int], participants: list[int],
                   photos: Sequence[photo_store.PreparedPhoto], first_photo_order: int = 0, *,
                   new: bool = False) -> None:
    """Values and participants as Core inserts (executemany); photos through the ORM (rare). ``new``: a
    new activity's, which nothing reads back before the COMMIT — written when the use case commits
    (``db.at_commit``: in the COMMIT's round trip on PostgreSQL); a correction's at once (its rollup
    contribution is read back from them)."""
    if values:  # the next submission's probe reads them for its near-duplicate check (facts.py)
        at_commit(session, _INSERT_VALUES, [
            {"activity_id": activity.id, "indicator_id": i, "task_id": activity.task_id, "value": v}
            for i, v in values.items()], read_by_siblings=True, at_once=not new)
    if participants:
        at_commit(session, _INSERT_PARTICIPANTS, [
            {"activity_id": activity.id, "member_id": m, "status": ParticipantStatus.confirmed.value}
            for m in participants], at_once=not new)
    for n, photo in enumerate(photos, start=first_photo_order):
        key = photo_store.store(photo)
        session.add(ActivityPhoto(activity_id=activity.id, storage_key=key, width=photo.width,
                                  height=photo.height, bytes=len(photo.image), sort_order=n))
    if photos:
        session.flush()


def _snapshot(activity: Activity, values: dict[int, int], participants: list[int]) -> dict:
    return {
        "status": activity.status, "task_id": activity.task_id, "county_id": activity.county_id,
        "site_id": activity.site_id, "occurred_on": activity.occurred_on, "description": activity.description,
        "credited_org_id": activity.credited_org_id, "values": {str(k): v for k, v in sorted(values.items())},
        "participants": sorted(participants),
    }


def _current_details(session: Session, activity: Activity) -> tuple[dict[int, int], list[int]]:
    values = dict(session.execute(select(ActivityValue.indicator_id, ActivityValue.value)
                                  .where(ActivityValue.activity_id == activity.id)).all())
    people = list(session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == activity.id, ActivityParticipant.status == ParticipantStatus.confirmed)))
    return values, sorted(people)


# --- correcting, withdrawing -------------------------------------------------------------------

def correct_activity(session: Session, *, by: Principal, activity_id: int, data: ActivityInput,
                     photos: Sequence[photo_store.PreparedPhoto] = (), today: date | None = None,
                     expected_version: int | None = None) -> Activity:
    """The recorder corrects a returned (or still pending) activity; it goes back to 待审核. Commits.

    The credited organisation stays what it was at recording (DOMAIN.md): organiser cannot change.
    ``expected_version`` is the version the form was filled from: a retried correction (or one
    racing a change made elsewhere) is refused instead of being applied twice.
    """
    activity = activity_for_recorder(session, by, activity_id)
    if expected_version is not None and activity.version != expected_version:
        raise Conflict("这条活动在您提交前已经更新（可能是重复提交），请查看最新内容", code="stale_version")
    if data.organiser_org_id != activity.organiser_org_id:
        raise Invalid("组织单位在记录时已确定，不能修改", errors={"organiser_org_id": "不能修改组织单位"})
    today = today or today_cn()
    _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    recorder_org = by.member_org_id if not data.on_behalf else recording_org(by, True)
    if recorder_org is None:
        recorder_org = activity.credited_org_id
    p = _probe(session, by, data, key=None, recorder_user_id=activity.recorder_user_id, exclude_id=activity.id)
    checked = _check(session, by, data, p, recorder_org=recorder_org, credited=activity.credited_org_id,
                     organiser=activity.organiser_org_id, today=today)
    existing_photos = session.scalar(select(func.count()).select_from(ActivityPhoto)
                                     .where(ActivityPhoto.activity_id == activity.id)) or 0
    if existing_photos + len(photos) > photo_store.MAX_PHOTOS:
        raise Invalid(f"最多上传 {photo_store.MAX_PHOTOS} 张照片", errors={"photos": "照片太多"})
    old_values, old_people = _current_details(session, activity)
    before = _snapshot(activity, old_values, old_people)
    _move(session, activity, "resubmit", by=by, audited=False)
    resubmitted = rollup.contribution(session, activity)
    activity.task_id, activity.county_id = checked.task_id, checked.county_id
    activity.site_id = checked.site_id
    activity.occurred_on, activity.description = data.occurred_on, checked.description
    activity.submitted_at = now_utc()
    session.execute(delete(ActivityValue).where(ActivityValue.activity_id == activity.id))
    session.execute(delete(ActivityParticipant).where(ActivityParticipant.activity_id == activity.id,
                                                      ActivityParticipant.status == ParticipantStatus.confirmed))
    session.flush()
    # Requested participants who are now named directly become confirmed rows.
    session.execute(delete(ActivityParticipant).where(ActivityParticipant.activity_id == activity.id,
                                                      ActivityParticipant.member_id.in_(checked.participants)))
    _write_details(session, activity, checked.values, checked.participants, photos, existing_photos)
    if get_settings().quality_checks:
        kept = [f for f in quality.flags_of(session, [activity.id]).get(activity.id, []) if f.code == "duplicate"]
        quality.store(session, activity.id, kept + quality.compute(session, quality.Submitted(
            task_id=checked.task_id, county_id=checked.county_id, occurred_on=data.occurred_on,
            values=checked.values, indicators=checked.indicators, photo_count=existing_photos + len(photos),
            recorder_user_id=activity.recorder_user_id, credited_org_id=activity.credited_org_id,
            submitted_on=today, closed=checked.closed, member_history=checked.history, activity_id=activity.id), today=today))
    rollup.apply(session, [(resubmitted, rollup.contribution(session, activity))])
    audit(session, actor=by.actor, action="activity.correct", target_type="activity", target_id=activity.id,
          org_id=activity.credited_org_id, before=before,
          after=_snapshot(activity, checked.values, checked.participants))
    session.commit()
    return activity


def add_outcomes(session: Session, *, by: Principal, activity_id: int, values: dict[int, str],
                 expected_version: int | None = None, today: date | None = None) -> Activity:
    """The recorder adds or changes the outcome values (成效) of their activity while it is not yet
    verified: a correction (``correct_activity``, so the same rules, flags, figures and audit) that
    keeps everything else as stored. ``values``: outcome indicator → text; empty text clears one. Commits."""
    activity = activity_for_recorder(session, by, activity_id, lock=False)
    if activity.status not in TRANSITIONS["resubmit"][0]:
        raise Conflict("这条活动已审核通过（或已撤回），不能再补填成效；如需更正，请联系审核的「双助推」办公室",
                       code="bad_transition")
    kinds = {i: (kind, outcome) for i, kind, outcome in session.execute(
        select(Indicator.id, Indicator.kind, Indicator.is_outcome).where(Indicator.task_id == activity.task_id))}
    if any(i not in kinds or not kinds[i][1] for i in values):
        raise Invalid("只能补填这项实事的成效指标", code="not_an_outcome", errors={"values": "不是本实事的成效指标"})
    stored, people = _current_details(session, activity)
    merged = {i: display_value(kinds[i][0], v) for i, v in stored.items() if i in kinds}
    merged.update({i: str(v) for i, v in values.items()})
    # 代录 (the recorder took no part) stays 代录: the form's rule (app/activities/pages.py _form_of).
    on_behalf = by.member_id is None or by.member_id not in people
    data = ActivityInput(
        task_id=activity.task_id, county_id=activity.county_id, site_id=activity.site_id,
        occurred_on=activity.occurred_on, description=activity.description, values=merged,
        organiser_org_id=activity.organiser_org_id, on_behalf=on_behalf,
        participant_member_ids=[m for m in people if m != by.member_id or on_behalf])
    return correct_activity(session, by=by, activity_id=activity_id, data=data, today=today,
                            expected_version=expected_version)


def withdraw(session: Session, *, by: Principal, activity_id: int) -> Activity:
    """The recorder withdraws a pending activity. Commits."""
    activity = activity_for_recorder(session, by, activity_id)
    _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    _move(session, activity, "withdraw", by=by)
    session.commit()
    return activity
