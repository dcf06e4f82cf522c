"""Activities: recording (idempotent), correcting, withdrawing, verifying, returning, reopening,
participant requests, closed months — the rules of DOMAIN.md's "Credit, verification and the life
of an activity", written once. Pages, the JSON API and the CLI all call these functions.

Every use case commits once at its end; loaders answer 404 for what the caller may not see.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session

from app.activities import photos as photo_store
from app.activities.schemas import ActivityInput, ActivityRead, ActivityValueRead
from app.audit.service import record as audit
from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal, org_for_staff
from app.catalogue.service import current_campaign, owners_seen_by
from app.clock import today_cn, yyyymm
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityPhoto,
    ActivityStatus,
    ActivityValue,
    Campaign,
    ClosedMonth,
    Indicator,
    IndicatorKind,
    Member,
    Membership,
    Organisation,
    OrgLevel,
    ParticipantStatus,
    Site,
    Task,
    UserAccount,
)
from app.models.base import utcnow
from app.models.people import serving_on
from app.orgs.service import ancestor_ids, is_within, subtree_ids, subtrees_ids
from app.rollup import service as rollup


def _core(session: Session) -> Connection:
    """The session's connection, for Core statements on the write path and in read models.

    Column queries and inserts sent here skip the ORM's compile and unit-of-work layers, which
    cost several times the statement itself (bench/submit.py); they run in the session's own
    transaction, so a use case still commits once.
    """
    return session.connection()


# --- prepared statements -----------------------------------------------------------------------
# The hot statements of recording and of the read model, built once with bind parameters: building
# a select() costs SQLAlchemy more than SQLite needs to run it (bench/README.md).

def month_closed(org_id: int | ColumnElement[int], month: int | ColumnElement[int]) -> ColumnElement[bool]:
    """SQL condition: ``month`` is closed for ``org_id`` — by itself or an ancestor (a closure covers the subtree)."""
    return exists().where(ClosedMonth.month == month, ClosedMonth.org_id.in_(ancestor_ids(org_id)))


def _facts_statement(*, with_site: bool) -> Select:
    current = select(Campaign.id).where(Campaign.is_current.is_(True)).limit(1).scalar_subquery()
    columns = [
        select(Campaign.start_year).where(Campaign.is_current.is_(True)).limit(1).scalar_subquery().label("start_year"),
        exists().where(Task.id == bindparam("task_id"), Task.campaign_id == current,
                       Task.owner_org_id.in_(owners_seen_by(bindparam("credited")))).label("task_ok"),
        select(Organisation.level).where(Organisation.id == bindparam("county_id")).scalar_subquery()
        .label("county_level"),
        month_closed(bindparam("credited"), bindparam("month")).label("closed"),
    ]
    if with_site:
        columns.append(select(Site.county_id).where(Site.id == bindparam("site_id")).scalar_subquery()
                       .label("site_county"))
    return select(*columns)


_FACTS = {False: _facts_statement(with_site=False), True: _facts_statement(with_site=True)}
_EXISTING_ID = select(Activity.id).where(Activity.recorder_user_id == bindparam("user_id"),
                                         Activity.idempotency_key == bindparam("key"))
# The task's indicators the credited organisation works with (a prefecture's own: its subtree only).
_TASK_INDICATORS = select(Indicator.id, Indicator.name, Indicator.unit, Indicator.kind).where(
    Indicator.task_id == bindparam("task_id"), Indicator.owner_org_id.in_(owners_seen_by(bindparam("org_id"))))
_INSERT_VALUES = insert(ActivityValue.__table__)
_INSERT_PARTICIPANTS = insert(ActivityParticipant.__table__)
_INSERT_ACTIVITY: dict[str, Insert] = {}  # per dialect, made on first use


def _ids(name: str):
    return bindparam(name, expanding=True)


_READ_VALUES = (
    select(ActivityValue.activity_id, ActivityValue.value, Indicator.id, Indicator.name, Indicator.unit,
           Indicator.kind)
    .join(Indicator, Indicator.id == ActivityValue.indicator_id)
    .where(ActivityValue.activity_id.in_(_ids("ids"))).order_by(Indicator.sort_order)
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


STATUS_LABELS = {
    ActivityStatus.pending: "待审核",
    ActivityStatus.verified: "已通过",
    ActivityStatus.returned: "已退回",
    ActivityStatus.withdrawn: "已撤回",
}

# The life of an activity: action → (states it may start from, state it ends in, label).
TRANSITIONS: dict[str, tuple[frozenset[ActivityStatus], ActivityStatus, str]] = {
    "verify": (frozenset({ActivityStatus.pending}), ActivityStatus.verified, "审核通过"),
    "return": (frozenset({ActivityStatus.pending}), ActivityStatus.returned, "退回"),
    "reopen": (frozenset({ActivityStatus.verified}), ActivityStatus.pending, "重新打开"),
    "withdraw": (frozenset({ActivityStatus.pending}), ActivityStatus.withdrawn, "撤回"),
    "resubmit": (frozenset({ActivityStatus.returned, ActivityStatus.pending}), ActivityStatus.pending, "修改后重新提交"),
}

MAX_COUNT = 1_000_000_000
MAX_MONEY_HUNDREDTHS = 1_000_000_000  # 1000 万万元: anything larger is a typo
_MONEY = re.compile(r"^\d+(\.\d{1,2})?$")
_COUNT = re.compile(r"^\d+$")
_FULLWIDTH = {0xFF10 + d: ord("0") + d for d in range(10)} | {0xFF0E: ord("."), 0x3002: ord("."), 0xFF0C: ord(",")}


@dataclass(frozen=True)
class RecordResult:
    activity: Activity
    created: bool  # False: a retry of an earlier request, answered with its original result


# --- values -------------------------------------------------------------------------------------

def parse_value(indicator: Indicator, raw: str | int | None) -> int | None:
    """A typed value as the stored integer (money → hundredths of 万元); None when left empty."""
    if raw is None:
        return None
    text = str(raw).translate(_FULLWIDTH).replace(",", "").replace(" ", "").strip()
    if text == "":
        return None
    if indicator.kind == IndicatorKind.count:
        if not _COUNT.match(text):
            raise Invalid(f"{indicator.name}：请填写不小于 0 的整数（单位：{indicator.unit}）")
        value = int(text)
        if value > MAX_COUNT:
            raise Invalid(f"{indicator.name}：数值过大，请核对")
        return value
    if not _MONEY.match(text):
        raise Invalid(f"{indicator.name}：请填写金额，单位万元，最多两位小数（如 8 或 12.5）")
    try:
        value = int(Decimal(text) * 100)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise Invalid(f"{indicator.name}：金额格式不正确") from exc
    if value > MAX_MONEY_HUNDREDTHS:
        raise Invalid(f"{indicator.name}：金额过大，请核对（单位是万元）")
    return value


def display_value(kind: IndicatorKind | str, value: int) -> str:
    if kind == IndicatorKind.money:
        whole, frac = divmod(value, 100)
        return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")
    return str(value)


def _parse_values(session: Session, task_id: int, raw: dict[int, str], *, org_id: int) -> dict[int, int]:
    # Plain rows (id, name, unit, kind), not entities: parse_value reads only those attributes.
    indicators = {i.id: i for i in _core(session).execute(_TASK_INDICATORS, {"task_id": task_id, "org_id": org_id})}
    unknown = set(raw) - set(indicators)
    if unknown:
        raise Invalid("有指标不属于所选实事，请刷新页面后重新填写", code="indicator_not_in_task")
    values, errors = {}, {}
    for ind_id, text in raw.items():
        try:
            parsed = parse_value(indicators[ind_id], text)
        except Invalid as exc:
            errors[f"value_{ind_id}"] = exc.message
            continue
        if parsed is not None:
            values[ind_id] = parsed
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    if not any(v > 0 for v in values.values()):
        raise Invalid("请至少填写一项指标数值", errors={"values": "请至少填写一项指标数值"})
    return values


# --- scope and loaders --------------------------------------------------------------------------

def _confirmed_activities_of(member_id: int) -> Select:
    return select(ActivityParticipant.activity_id).where(
        ActivityParticipant.member_id == member_id, ActivityParticipant.status == ParticipantStatus.confirmed.value)


def visible_to(by: Principal, *, walk: bool = False) -> ColumnElement[bool]:
    """SQL condition: the caller may read the activity (the one place this rule lives).

    ``walk``: the same condition, written so that no index serves it (``+column``): a list read by
    cursor then walks its ordering index and tests each row, instead of gathering the whole
    visible set through the scope's indexes and sorting it for every page."""
    def col(column):  # noqa: ANN001, ANN202
        return literal_column(f"+{Activity.__tablename__}.{column.key}") if walk else column

    clauses = [col(Activity.recorder_user_id) == by.user_id]
    if by.member_id is not None:
        # Confirmed participants only: asking to join must not open someone else's record.
        clauses.append(col(Activity.id).in_(_confirmed_activities_of(by.member_id)))
    if by.org_ids(*READ_ROLES):
        scope = by.scope(*READ_ROLES)
        # By organisation (credited) and by place: a county's office reads what was done there.
        clauses += [col(Activity.credited_org_id).in_(scope), col(Activity.county_id).in_(scope)]
    return or_(*clauses)


def reviewable_by(by: Principal) -> ColumnElement[bool]:
    """SQL condition: the caller's 助推办 (or an ancestor's) verifies the activity."""
    if not by.org_ids(*STAFF_ROLES):
        return false()
    return Activity.credited_org_id.in_(by.scope(*STAFF_ROLES))


def activity_for_read(session: Session, by: Principal, activity_id: int) -> Activity:
    found = session.scalar(select(Activity).where(Activity.id == activity_id, visible_to(by)))
    if found is None:
        raise NotFound()
    return found


def activity_for_review(session: Session, by: Principal, activity_id: int) -> Activity:
    """The activity, locked for the transition (PostgreSQL; SQLite's writer already holds the lock)."""
    found = session.scalar(
        select(Activity).where(Activity.id == activity_id, reviewable_by(by)).with_for_update()
    )
    if found is None:
        activity_for_read(session, by, activity_id)  # 404 when not even readable
        raise Forbidden("只有计入单位（或其上级）的「双助推」办公室可以审核这条活动")
    return found


def activity_for_recorder(session: Session, by: Principal, activity_id: int, *, lock: bool = True) -> Activity:
    """The caller's own activity; locked (PostgreSQL) when a change follows, not for showing a form."""
    stmt = select(Activity).where(Activity.id == activity_id, Activity.recorder_user_id == by.user_id)
    found = session.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        activity_for_read(session, by, activity_id)
        raise Forbidden("只有记录人可以修改或撤回这条活动")
    return found


# --- closed months -----------------------------------------------------------------------------

def is_month_closed(session: Session, org_id: int, month: int) -> bool:
    return bool(session.scalar(select(month_closed(org_id, month))))


def _check_month_open(session: Session, by: Principal, org_id: int, day: date, *, closed: bool | None = None) -> None:
    """Refuse a closed month to all but staff; ``closed`` when the caller already looked it up."""
    if closed is None:
        closed = is_month_closed(session, org_id, yyyymm(day))
    if closed and not by.can(session, org_id, *STAFF_ROLES):
        raise Invalid(f"{day.year}年{day.month}月已关账，只能由「双助推」办公室工作人员补录或修改",
                      code="month_closed", errors={"occurred_on": "该月份已关账"})


def close_month(session: Session, *, by: Principal, org_id: int, month: int) -> ClosedMonth:
    """The office closes a month of its subtree after collection. Commits."""
    org_for_staff(session, by, org_id)
    if not (month % 100 in range(1, 13)) or month > yyyymm(today_cn()):
        raise Invalid("只能关闭已经开始的月份")
    if session.get(ClosedMonth, (org_id, month)) is not None:
        raise Conflict("该月份已经关账")
    row = ClosedMonth(org_id=org_id, month=month, closed_by_user_id=by.user_id)
    session.add(row)
    audit(session, actor=by.actor, action="month.close", target_type="month", target_id=month, org_id=org_id)
    session.commit()
    return row


def reopen_month(session: Session, *, by: Principal, org_id: int, month: int) -> None:
    """Undo a closure (audited). Commits."""
    org_for_staff(session, by, org_id)
    row = session.get(ClosedMonth, (org_id, month))
    if row is None:
        raise Conflict("该月份没有关账")
    session.delete(row)
    audit(session, actor=by.actor, action="month.reopen", target_type="month", target_id=month, org_id=org_id)
    session.commit()


def closed_months(session: Session, by: Principal) -> list[tuple[ClosedMonth, Organisation]]:
    stmt = (select(ClosedMonth, Organisation).join(Organisation, Organisation.id == ClosedMonth.org_id)
            .where(ClosedMonth.org_id.in_(by.scope(*STAFF_ROLES)))
            .order_by(ClosedMonth.month.desc(), Organisation.code))
    return [(c, o) for c, o in session.execute(stmt).all()]


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
    payload = data.model_dump(mode="json")
    payload["values"] = {str(k): str(v).strip() for k, v in sorted(data.values.items())}
    payload["participant_member_ids"] = sorted(set(data.participant_member_ids))
    payload["photos"] = list(photo_digests)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _existing(session: Session, user_id: int, key: str) -> Activity | None:
    # A cheap probe first: nearly every submission is new, and an entity query costs more.
    found = _core(session).execute(_EXISTING_ID, {"user_id": user_id, "key": key}).scalar()
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


def _facts(session: Session, data: ActivityInput, *, credited: int):
    """What the content rules need from the database, in one round trip.

    (start_year of the current campaign; whether the task is the current campaign's and owned by the
    credited organisation or an ancestor; the county's level; the site's county; whether the month
    is closed for the credited organisation.) Every submission runs these, so one statement instead
    of six.
    """
    params = {"credited": credited, "task_id": data.task_id, "county_id": data.county_id,
              "month": yyyymm(data.occurred_on), "site_id": data.site_id}
    return _core(session).execute(_FACTS[data.site_id is not None], params).one()


def _check(session: Session, by: Principal, data: ActivityInput, *, recorder_org: int, credited: int,
           organiser: int | None, today: date) -> _Checked:
    """Every rule an activity's content must satisfy; raises Invalid with per-field messages."""
    facts = _facts(session, data, credited=credited)
    if not facts.task_ok:
        raise Invalid("请选择本次行动的实事", errors={"task_id": "请选择实事"})
    if facts.county_level != OrgLevel.county:
        raise Invalid("请选择活动所在的县（市、区）", errors={"county_id": "请选择活动地点"})
    if data.site_id is not None and facts.site_county != data.county_id:
        raise Invalid("所选乡镇/村不在该县，请重新选择", errors={"site_id": "乡镇/村不在所选的县"})
    if data.occurred_on > today:
        raise Invalid("活动日期不能晚于今天", errors={"occurred_on": "活动日期不能晚于今天"})
    if facts.start_year is not None and data.occurred_on.year < facts.start_year:
        raise Invalid(f"活动日期早于本次行动开始（{facts.start_year}年）", errors={"occurred_on": "日期太早"})
    _check_month_open(session, by, credited, data.occurred_on, closed=bool(facts.closed))
    description = data.description.strip()
    if len(description) < 2:
        raise Invalid("请简要描述活动内容", errors={"description": "请简要描述活动内容"})
    values = _parse_values(session, data.task_id, data.values, org_id=credited)
    participants = _check_participants(session, by, data, recorder_org=recorder_org, organiser=organiser)
    return _Checked(data.task_id, data.county_id, data.site_id, values, participants, description)


def _check_participants(session: Session, by: Principal, data: ActivityInput, *, recorder_org: int,
                        organiser: int | None) -> list[int]:
    wanted = set(data.participant_member_ids)
    recorder_took_part = by.member_id is not None and not data.on_behalf
    if recorder_took_part:
        wanted.add(by.member_id)  # the recorder took part
    if data.on_behalf and not data.participant_member_ids:
        raise Invalid("代录时请至少选择一名参与委员", errors={"participants": "请选择参与委员"})
    if not wanted:
        return []
    if recorder_took_part and wanted == {by.member_id}:
        return [by.member_id]  # a member alone: the recorder always counts, nothing to look up
    orgs = [recorder_org] + ([organiser] if organiser else [])
    allowed = set(_core(session).execute(
        select(Membership.member_id).where(
            Membership.member_id.in_(wanted), Membership.org_id.in_(subtrees_ids(orgs)),
            serving_on(data.occurred_on),
        )
    ).scalars())
    if recorder_took_part:
        allowed.add(by.member_id)
    missing = wanted - allowed
    if missing:
        # A count, not names: ids from outside the caller's reach must not reveal who they are.
        raise Invalid(f"有 {len(missing)} 名参与委员不在本组织或组织单位范围内，或活动当天不在任，请重新选择",
                      errors={"participants": "有参与委员不在范围内"})
    return sorted(wanted)


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
        stmt = _INSERT_ACTIVITY[conn.dialect.name] = (
            dialect.insert(Activity.__table__)
            .on_conflict_do_nothing(index_elements=["recorder_user_id", "idempotency_key"])
            .returning(Activity.__table__.c.id))
    return conn.execute(stmt, row).scalar()


def record_activity(session: Session, *, by: Principal, data: ActivityInput, idempotency_key: str,
                    photos: Sequence[photo_store.PreparedPhoto] = (), today: date | None = None) -> RecordResult:
    """Record an activity once per idempotency key (a retry returns the original). Commits."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise Invalid("缺少提交编号（Idempotency-Key），请刷新页面后重试", code="idempotency_key_missing")
    if len(photos) > photo_store.MAX_PHOTOS:
        raise Invalid(f"最多上传 {photo_store.MAX_PHOTOS} 张照片", errors={"photos": "照片太多"})
    request_hash = fingerprint(data, [p.digest for p in photos])
    existing = _existing(session, by.user_id, key)
    if existing is not None:
        return _replayed(existing, request_hash)

    today = today or today_cn()
    recorder_org = recording_org(by, data.on_behalf)
    organiser = data.organiser_org_id
    if organiser is not None and not (
        is_within(session, recorder_org, organiser)
        or (data.on_behalf and by.can(session, organiser, *STAFF_ROLES))
    ):
        raise Invalid("组织单位只能是本级或上级政协", errors={"organiser_org_id": "组织单位不在范围内"})
    credited = organiser or recorder_org
    checked = _check(session, by, data, recorder_org=recorder_org, credited=credited, organiser=organiser,
                     today=today)

    now = utcnow()
    row = {
        "recorder_user_id": by.user_id, "credited_org_id": credited, "organiser_org_id": organiser,
        "task_id": checked.task_id, "county_id": checked.county_id, "site_id": checked.site_id,
        "occurred_on": data.occurred_on, "description": checked.description, "status": ActivityStatus.pending,
        "status_reason": None, "reviewer_user_id": None, "reviewed_at": None, "idempotency_key": key,
        "request_hash": request_hash, "version": 1, "submitted_at": now, "created_at": now, "updated_at": now,
    }
    new_id = _insert_unless_retried(session, row)
    if new_id is None:
        # Two copies of one request raced past the check (PostgreSQL): answer with the winner's row.
        existing = _existing(session, by.user_id, key)
        if existing is None:  # pragma: no cover - the winner committed before our insert returned
            raise Conflict("同一内容正在提交，请稍后刷新查看", code="idempotency_conflict")
        return _replayed(existing, request_hash)
    # The row is written; hand back an entity for it without reading it again (as if loaded).
    activity = Activity(id=new_id, **row)
    make_transient_to_detached(activity)
    session.add(activity)
    _write_details(session, activity, checked.values, checked.participants, photos)
    rollup.apply(session, [(None, rollup.Contribution(
        status=ActivityStatus.pending.value, credited_org_id=credited, county_id=checked.county_id,
        task_id=checked.task_id, month=yyyymm(data.occurred_on), values=checked.values,
        members=frozenset(checked.participants)))])
    audit(session, actor=by.actor, action="activity.create", target_type="activity", target_id=activity.id,
          org_id=credited, after=_snapshot(activity, checked.values, checked.participants))
    session.commit()
    return RecordResult(activity, created=True)


def _write_details(session: Session, activity: Activity, values: dict[int, int], participants: list[int],
                   photos: Sequence[photo_store.PreparedPhoto], first_photo_order: int = 0) -> None:
    """Values and participants as Core inserts (executemany); photos through the ORM (rare)."""
    if values:
        _core(session).execute(_INSERT_VALUES, [
            {"activity_id": activity.id, "indicator_id": i, "task_id": activity.task_id, "value": v}
            for i, v in values.items()])
    if participants:
        _core(session).execute(_INSERT_PARTICIPANTS, [
            {"activity_id": activity.id, "member_id": m, "status": ParticipantStatus.confirmed}
            for m in participants])
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

def _move(session: Session, activity: Activity, action: str, *, by: Principal, reason: str | None = None,
          audited: bool = True, figures: list | None = None, was: rollup.Contribution | None = None) -> dict:
    """Apply one transition of TRANSITIONS to a loaded activity, its figures and its audit (no commit).

    ``audited=False`` when the caller writes one fuller entry itself (a correction's before/after).
    ``figures``: a list to collect the rollup change in (the caller applies a batch at once), with
    ``was``, the activity's contribution read for the whole batch beforehand.
    """
    allowed_from, target, label = TRANSITIONS[action]
    if activity.status not in allowed_from:
        raise Conflict(f"这条活动当前为「{STATUS_LABELS[ActivityStatus(activity.status)]}」，不能{label}",
                       code="bad_transition")
    was = was or rollup.contribution(session, activity)
    change = (was, was.with_status(ActivityStatus(target).value))
    if figures is None:
        rollup.apply(session, [change])
    else:
        figures.append(change)
    before = {"status": activity.status, "status_reason": activity.status_reason, "version": activity.version}
    now = utcnow()
    activity.status = target
    activity.status_reason = reason
    activity.version += 1
    activity.updated_at = now
    if action in ("verify", "return"):
        activity.reviewer_user_id, activity.reviewed_at = by.user_id, now
    if audited:
        audit(session, actor=by.actor, action=f"activity.{action}", target_type="activity", target_id=activity.id,
              org_id=activity.credited_org_id, before=before,
              after={"status": target, "status_reason": reason, "version": activity.version})
    return before


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
    checked = _check(session, by, data, recorder_org=recorder_org, credited=activity.credited_org_id,
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
    activity.submitted_at = utcnow()
    session.execute(delete(ActivityValue).where(ActivityValue.activity_id == activity.id))
    session.execute(delete(ActivityParticipant).where(ActivityParticipant.activity_id == activity.id,
                                                      ActivityParticipant.status == ParticipantStatus.confirmed))
    session.flush()
    # Requested participants who are now named directly become confirmed rows.
    session.execute(delete(ActivityParticipant).where(ActivityParticipant.activity_id == activity.id,
                                                      ActivityParticipant.member_id.in_(checked.participants)))
    _write_details(session, activity, checked.values, checked.participants, photos, existing_photos)
    rollup.apply(session, [(resubmitted, rollup.contribution(session, activity))])
    audit(session, actor=by.actor, action="activity.correct", target_type="activity", target_id=activity.id,
          org_id=activity.credited_org_id, before=before,
          after=_snapshot(activity, checked.values, checked.participants))
    session.commit()
    return activity


def withdraw(session: Session, *, by: Principal, activity_id: int) -> Activity:
    """The recorder withdraws a pending activity. Commits."""
    activity = activity_for_recorder(session, by, activity_id)
    _check_month_open(session, by, activity.credited_org_id, activity.occurred_on)
    _move(session, activity, "withdraw", by=by)
    session.commit()
    return activity


# --- verification ------------------------------------------------------------------------------

def verify(session: Session, *, by: Principal, activity_id: int) -> Activity:
    """审核通过. Commits."""
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "verify", by=by)
    session.commit()
    return activity


def return_activity(session: Session, *, by: Principal, activity_id: int, reason: str) -> Activity:
    """退回 with a reason the member sees. Commits."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写退回理由", errors={"reason": "请填写退回理由"})
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "return", by=by, reason=reason[:500])
    session.commit()
    return activity


def reopen(session: Session, *, by: Principal, activity_id: int, reason: str) -> Activity:
    """Take a verified activity back to 待审核 (it leaves the verified totals). Commits."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写重新打开的理由", errors={"reason": "请填写理由"})
    activity = activity_for_review(session, by, activity_id)
    _move(session, activity, "reopen", by=by, reason=reason[:500])
    session.commit()
    return activity


def bulk_verify(session: Session, *, by: Principal, activity_ids: Sequence[int]) -> tuple[int, int]:
    """Verify the pending ones among ``activity_ids`` that the caller reviews; (verified, skipped). Commits."""
    ids = sorted(set(activity_ids))[:1000]
    rows = list(session.scalars(select(Activity).where(
        Activity.id.in_(ids), reviewable_by(by), Activity.status == ActivityStatus.pending).with_for_update()))
    figures: list = []
    before = rollup.contributions(session, rows)
    for activity in rows:
        _move(session, activity, "verify", by=by, figures=figures, was=before[activity.id])
    rollup.apply(session, figures)
    session.commit()
    return len(rows), len(set(activity_ids)) - len(rows)


# --- participant requests ----------------------------------------------------------------------

def request_to_join(session: Session, *, by: Principal, activity_id: int) -> ActivityParticipant:
    """A member asks to be added to an existing activity instead of recording it again. Commits."""
    if by.member_id is None or by.member_org_id is None:
        raise Forbidden("只有在任委员可以申请加入活动")
    activity = session.get(Activity, activity_id)
    if activity is None or activity.status not in (ActivityStatus.pending, ActivityStatus.verified):
        raise NotFound()
    if session.get(ActivityParticipant, (activity.id, by.member_id)) is not None:
        raise Conflict("您已在这条活动的参与名单中（或已申请）", code="already_participant")
    row = ActivityParticipant(activity_id=activity.id, member_id=by.member_id, status=ParticipantStatus.requested)
    session.add(row)
    audit(session, actor=by.actor, action="activity.join_request", target_type="activity", target_id=activity.id,
          org_id=activity.credited_org_id, after={"member_id": by.member_id})
    session.commit()
    return row


def decide_participant(session: Session, *, by: Principal, activity_id: int, member_id: int, accept: bool) -> None:
    """The verifier confirms or refuses a participant request. Commits."""
    activity = activity_for_review(session, by, activity_id)
    row = session.get(ActivityParticipant, (activity.id, member_id))
    if row is None or row.status != ParticipantStatus.requested:
        raise Conflict("没有待确认的参与申请", code="no_request")
    if accept:
        was = rollup.contribution(session, activity)
        row.status = ParticipantStatus.confirmed
        rollup.apply(session, [(was, replace(was, members=was.members | {member_id}))])
        activity.updated_at = utcnow()  # its participants changed: incremental sync must see it
    else:
        session.delete(row)
    audit(session, actor=by.actor, action="activity.join_" + ("confirm" if accept else "refuse"),
          target_type="activity", target_id=activity.id, org_id=activity.credited_org_id,
          after={"member_id": member_id})
    session.commit()


def pending_requests(session: Session, by: Principal, *, limit: int = 200) -> list[tuple[Activity, Member]]:
    stmt = (select(Activity, Member)
            .join(ActivityParticipant, ActivityParticipant.activity_id == Activity.id)
            .join(Member, Member.id == ActivityParticipant.member_id)
            .where(ActivityParticipant.status == ParticipantStatus.requested, reviewable_by(by))
            .order_by(Activity.occurred_on.desc()).limit(limit))
    return [(a, m) for a, m in session.execute(stmt).all()]


# --- lists ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ActivityFilters:
    status: ActivityStatus | None = None
    county_id: int | None = None
    task_id: int | None = None
    member: str | None = None  # name, or phone as typed
    date_from: date | None = None
    date_to: date | None = None
    site_id: int | None = None
    org_id: int | None = None  # credited to this organisation or below
    updated_since: datetime | None = None  # changed at or after (incremental sync)
    by_name_only: bool = False  # ``member`` never matches phone numbers (API tokens)


def _filtered(stmt, f: ActivityFilters):
    if f.status:
        stmt = stmt.where(Activity.status == f.status)
    if f.county_id:
        stmt = stmt.where(Activity.county_id == f.county_id)
    if f.task_id:
        stmt = stmt.where(Activity.task_id == f.task_id)
    if f.date_from:
        stmt = stmt.where(Activity.occurred_on >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Activity.occurred_on <= f.date_to)
    if f.site_id:
        stmt = stmt.where(Activity.site_id == f.site_id)
    if f.org_id:
        stmt = stmt.where(Activity.credited_org_id.in_(subtree_ids(f.org_id)))
    if f.updated_since:
        stmt = stmt.where(Activity.updated_at >= f.updated_since)
    if f.member:
        q = f.member.strip()
        matches = Member.name.contains(q) if f.by_name_only else or_(Member.name.contains(q), Member.phone.startswith(q))
        people = select(Member.id).where(matches)
        stmt = stmt.where(or_(
            Activity.id.in_(select(ActivityParticipant.activity_id).where(ActivityParticipant.member_id.in_(people))),
            Activity.recorder_user_id.in_(select(UserAccount.id).where(UserAccount.member_id.in_(people))),
        ))
    return stmt


def _page(session: Session, stmt, page: int, per_page: int) -> tuple[list[Activity], int]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = max(1, page)
    rows = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return rows, total


def my_activities(session: Session, by: Principal, *, page: int = 1, per_page: int = 20) -> tuple[list[Activity], int]:
    """我的活动: recorded by me or taken part in (once confirmed), newest first."""
    mine = [Activity.recorder_user_id == by.user_id]
    if by.member_id is not None:
        mine.append(Activity.id.in_(_confirmed_activities_of(by.member_id)))
    stmt = select(Activity).where(or_(*mine)).order_by(Activity.occurred_on.desc(), Activity.id.desc())
    return _page(session, stmt, page, per_page)


def review_queue(session: Session, by: Principal, filters: ActivityFilters, *, page: int = 1,
                 per_page: int = 50) -> tuple[list[Activity], int]:
    """Activities the caller verifies, filtered; oldest first so nothing waits forever."""
    stmt = _filtered(select(Activity).where(reviewable_by(by)), filters)
    return _page(session, stmt.order_by(Activity.occurred_on, Activity.id), page, per_page)


def list_visible(session: Session, by: Principal, filters: ActivityFilters, *, page: int = 1,
                 per_page: int = 50) -> tuple[list[Activity], int]:
    stmt = _filtered(select(Activity).where(visible_to(by)), filters)
    return _page(session, stmt.order_by(Activity.occurred_on.desc(), Activity.id.desc()), page, per_page)


# Orders of a list walked by cursor: the key columns and their direction.
CURSOR_ORDERS = {"occurred": ((Activity.occurred_on, Activity.id), "desc"),
                 "updated": ((Activity.updated_at, Activity.id), "asc")}


def list_by_cursor(session: Session, by: Principal, filters: ActivityFilters, *, order: str = "occurred",
                   after: tuple | None = None, limit: int = 50, with_total: bool = True,
                   ) -> tuple[list[Activity], bool, int | None]:
    """A page of the visible activities after the key ``after`` (None: from the start) in ``order``:
    ``occurred`` newest activity date first, ``updated`` oldest change first (incremental sync).
    Returns the rows, whether more follow, and the total (first page only, when asked)."""
    (first, second), direction = CURSOR_ORDERS[order]
    total = None
    if with_total:
        # Changed since a time: few rows, found by the updated_at index; otherwise the scope's indexes.
        counted = _filtered(select(Activity.id).where(visible_to(by, walk=filters.updated_since is not None)), filters)
        total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    # The page walks the (key, id) index of its order and keeps the visible rows (bench/api.py).
    stmt = _filtered(select(Activity).where(visible_to(by, walk=True)), filters)
    if after is not None:
        key, last_id = after
        if direction == "desc":
            stmt = stmt.where(or_(first < key, and_(first == key, second < last_id)))
        else:
            stmt = stmt.where(or_(first > key, and_(first == key, second > last_id)))
    ordering = (first.desc(), second.desc()) if direction == "desc" else (first.asc(), second.asc())
    rows = list(session.scalars(stmt.order_by(*ordering).limit(limit + 1)))
    return rows[:limit], len(rows) > limit, total


def likely_duplicates(session: Session, *, county_id: int, task_id: int, occurred_on: date,
                      exclude_id: int | None = None, limit: int = 5) -> list[Activity]:
    """Activities already recorded for the same place, date and task (the joint-activity nudge)."""
    stmt = select(Activity).where(
        Activity.county_id == county_id, Activity.task_id == task_id, Activity.occurred_on == occurred_on,
        Activity.status.in_([ActivityStatus.pending, ActivityStatus.verified]),
    )
    if exclude_id:
        stmt = stmt.where(Activity.id != exclude_id)
    return list(session.scalars(stmt.order_by(Activity.id).limit(limit)))


# --- read models (batch-loaded: one query per kind, never per row) -----------------------------

def to_read(session: Session, activities: Sequence[Activity]) -> list[ActivityRead]:
    if not activities:
        return []
    # Column rows on the connection (no entities to build), and every name in one round trip:
    # the API answers each submission with this, so it is on the write path too.
    conn = _core(session)
    ids = {"ids": [a.id for a in activities]}
    values: dict[int, list[ActivityValueRead]] = defaultdict(list)
    for activity_id, value, ind_id, name, unit, kind in conn.execute(_READ_VALUES, ids):
        values[activity_id].append(ActivityValueRead(
            indicator_id=ind_id, name=name, unit=unit, kind=kind, value=value, display=display_value(kind, value)))
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
        )
        for a in activities
    ]


# --- pickers for the form ----------------------------------------------------------------------

def task_choices(session: Session, by: Principal, org_id: int) -> list[tuple[Task, list[Indicator]]]:
    """The tasks an organisation works with, the caller's recently used first, with their indicators."""
    from app.catalogue.service import tasks_for

    campaign = current_campaign(session)
    if campaign is None:
        return []
    tasks = tasks_for(session, org_id, campaign.id)
    recent = session.execute(
        select(Activity.task_id, func.max(Activity.id)).where(Activity.recorder_user_id == by.user_id)
        .group_by(Activity.task_id)
    ).all()
    last_used = {task_id: last for task_id, last in recent}
    tasks.sort(key=lambda t: (-(last_used.get(t.id) or 0), t.sort_order))
    by_task: dict[int, list[Indicator]] = defaultdict(list)
    for ind in session.scalars(select(Indicator).where(Indicator.task_id.in_([t.id for t in tasks]),
                                                       Indicator.owner_org_id.in_(owners_seen_by(org_id)))
                               .order_by(Indicator.sort_order)):
        by_task[ind.task_id].append(ind)
    return [(t, by_task[t.id]) for t in tasks]


def search_sites(session: Session, *, county_id: int, q: str, limit: int = 20) -> list[Site]:
    q = q.strip()
    stmt = select(Site).where(Site.county_id == county_id)
    if q:
        stmt = stmt.where(Site.name.contains(q))
    return list(session.scalars(stmt.order_by(Site.kind, Site.code).limit(limit)))


def search_members(session: Session, by: Principal, *, q: str, organiser_org_id: int | None = None,
                   on_behalf: bool = False, limit: int = 20) -> list[tuple[Member, Organisation]]:
    """Type-ahead over current members of the recorder's and the organiser's subtrees."""
    q = q.strip()
    if not q:
        return []
    try:
        recorder_org = recording_org(by, on_behalf)
    except Forbidden:
        return []
    orgs = [recorder_org] + ([organiser_org_id] if organiser_org_id else [])
    today = today_cn()
    stmt = (
        select(Member, Organisation)
        .join(Membership, Membership.member_id == Member.id)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.org_id.in_(subtrees_ids(orgs)), serving_on(today),
               or_(Member.name.contains(q), Member.phone.startswith(q)))
        .order_by(Member.name).limit(limit)
    )
    return [(m, o) for m, o in session.execute(stmt).all()]


def org_options(session: Session, by: Principal, *, on_behalf: bool = False) -> list[Organisation]:
    """Organisations that may be named as organiser: the recorder's own and its ancestors."""
    try:
        recorder_org = recording_org(by, on_behalf)
    except Forbidden:
        return []
    ancestors = ancestor_ids(recorder_org)
    return list(session.scalars(select(Organisation).where(Organisation.id.in_(ancestors))
                                .order_by(Organisation.code)))


def default_county(session: Session, by: Principal) -> Organisation | None:
    """The member's own county (a county member's organisation); None above county level."""
    org_id = by.member_org_id or next(iter(by.org_ids(*STAFF_ROLES)), None)
    if org_id is None:
        return None
    org = session.get(Organisation, org_id)
    return org if org and org.level == OrgLevel.county else None


def counties_for(session: Session) -> list[Organisation]:
    """All counties (members help anywhere in the province), key-support counties first."""
    return list(session.scalars(select(Organisation).where(Organisation.level == OrgLevel.county)
                                .order_by(Organisation.is_key_county.desc(), Organisation.code)))

