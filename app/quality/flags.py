"""Flags: why an activity deserves a second look, computed when it is written and stored with it.

Every flag is a code (FlagCode) and a Chinese sentence saying why, with the figures. They are
computed at recording and at each correction, and again for the pending activities of a subtree when
its rules change (app/quality/jobs.py, over :func:`pending_ids`). None of them refuses anything: the recorder is asked to
confirm at entry, and the reviewer sees them in the queue (where 批量通过 leaves flagged items alone).

- ``duplicate``: the recorder confirmed 「这是另一次活动」 although others match (kept as they said it).
- ``over_bound`` / ``ratio``: the plausibility rules of the catalogue (app/quality/rules.py).
- ``outlier_history``: far beyond the indicator's values over the province's last 12 months, on a
  log scale: ln(value) > median + K × 1.4826 × MAD (a robust z-score; baselines in
  ``indicator_baseline``, computed at most once a day per indicator).
- ``outlier_member``: more than MEMBER_FACTOR times the recorder's own largest verified value, once
  they have MEMBER_MIN_HISTORY of them.
- ``money_no_photo``: MONEY_PHOTO_THRESHOLD 万元 or more with no photo.
- ``late_entry``: recorded more than LATE_DAYS days after the activity.
- ``closed_month``: back-filled into a month already closed.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.activities.months import is_month_closed
from app.activities.values import display_value
from app.clock import now_utc, to_cn, today_cn, yyyymm
from app.db import Prepared, at_commit, database_key
from app.models import (
    Activity,
    ActivityFlag,
    ActivityPhoto,
    ActivityStatus,
    ActivityValue,
    FlagCode,
    Indicator,
    IndicatorBaseline,
    IndicatorKind,
)
from app.orgs.service import subtree_ids
from app.quality.rules import Rules, effective_rules

FLAG_LABELS = {
    FlagCode.duplicate: "疑似重复",
    FlagCode.over_bound: "超出上限",
    FlagCode.ratio: "比例异常",
    FlagCode.outlier_history: "远超常见值",
    FlagCode.outlier_member: "远超本人记录",
    FlagCode.money_no_photo: "大额无照片",
    FlagCode.late_entry: "补录较晚",
    FlagCode.closed_month: "关账后补录",
}
# Tuned on bench/quality.py (bench/README.md): K 4 with a floor of 0.35 flagged 55 % of the demo's
# 99th-percentile counts (where over half the values are 1 the MAD is 0 and the floor alone sets the
# limit, about 8); K 3.5 with a floor of ln 2 keeps ×100 values caught and typical ones quiet.
K = 3.5  # robust z-score on the log scale: about 1 in 4,000 of a log-normal spread goes beyond
MIN_SAMPLES = 30  # fewer values than this in 12 months: no baseline, no outlier flag
MAD_FLOOR = 0.7  # ln units (≈ ln 2): when most values are equal (MAD 0), still allow a spread of ×2
MEMBER_MIN_HISTORY = 3
MEMBER_FACTOR = 10
MONEY_PHOTO_THRESHOLD = 5_000  # hundredths of 万元: 50 万元
LATE_DAYS = 30


@dataclass(frozen=True)
class Flag:
    code: str
    message: str

    @property
    def label(self) -> str:
        return FLAG_LABELS[FlagCode(self.code)]


@dataclass(frozen=True)
class IndicatorFacts:
    name: str
    unit: str
    kind: str

    def show(self, value: int) -> str:
        return f"{display_value(self.kind, value)} {self.unit}"

    def display(self, value: int) -> float:
        return value / 100 if self.kind == IndicatorKind.money else float(value)


@dataclass
class Submitted:
    """What the flags look at: an activity as written (or about to be)."""

    task_id: int
    county_id: int
    occurred_on: date
    values: dict[int, int]
    indicators: dict[int, IndicatorFacts]
    photo_count: int
    recorder_user_id: int
    credited_org_id: int
    submitted_on: date
    closed: bool = False
    distinct_from: Sequence[int] = ()
    distinct_note: str | None = None
    near_duplicates: Sequence[tuple[int, date]] = ()  # (id, date) of look-alikes a day or so apart
    # The recorder's verified values per indicator, (how many, largest), when the caller read them
    # already (recording asks them with the task's indicators); None: asked here.
    member_history: dict[int, tuple[int, int]] | None = None
    activity_id: int | None = None
    rules: Rules | None = field(default=None, repr=False)


# --- baselines ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    as_of: date
    samples: int
    median: float  # of ln(value)
    mad: float

    def limit(self) -> float:
        """ln of the largest value still ordinary."""
        return self.median + K * 1.4826 * max(self.mad, MAD_FLOOR)


_lock = threading.Lock()
_baselines: dict[tuple[str, int], Baseline] = {}  # (database, indicator) → today's baseline


def _compute_baseline(session: Session, indicator_id: int, today: date) -> Baseline:
    values = session.scalars(
        select(ActivityValue.value).join(Activity, Activity.id == ActivityValue.activity_id).where(
            ActivityValue.indicator_id == indicator_id, ActivityValue.value > 0,
            Activity.status == ActivityStatus.verified,
            Activity.occurred_on > today - timedelta(days=365), Activity.occurred_on <= today)).all()
    logs = [math.log(v) for v in values]
    if not logs:
        return Baseline(today, 0, 0.0, 0.0)
    mid = median(logs)
    return Baseline(today, len(logs), mid, median(abs(x - mid) for x in logs))


def baseline(session: Session, indicator_id: int, today: date) -> Baseline:
    """The indicator's baseline as of today: from this process's cache, else the table, else computed
    (and stored for every process) — at most once a day per indicator."""
    key = (database_key(session), indicator_id)
    with _lock:
        found = _baselines.get(key)
    if found is not None and found.as_of == today:
        return found
    row = session.get(IndicatorBaseline, indicator_id)
    if row is not None and row.as_of == today:
        found = Baseline(row.as_of, row.samples, row.median, row.mad)
    else:
        found = _compute_baseline(session, indicator_id, today)
        conn = session.connection()
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        values = {"indicator_id": indicator_id, "as_of": today, "samples": found.samples, "median": found.median,
                  "mad": found.mad, "computed_at": now_utc()}
        stmt = dialect.insert(IndicatorBaseline.__table__).values(**values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["indicator_id"],
                                                set_={k: v for k, v in values.items() if k != "indicator_id"}))
    with _lock:
        _baselines[key] = found
    return found


def forget_baselines() -> None:
    """Drop this process's cached baselines (tests that rewrite history use it)."""
    with _lock:
        _baselines.clear()


# --- computing ---------------------------------------------------------------------------------------

def _ratio_text(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 0.01:
        return f"{x:.2f}".rstrip("0").rstrip(".")
    return "不足 0.01" if x > 0 else "0"


# Driven from the recorder's own verified activities (ix_activity_recorder_user_id_status), never from
# all the values of an indicator: a member has tens of activities, an indicator tens of thousands.
# Built once: it runs at every write.
_MEMBER_HISTORY = (
    select(ActivityValue.indicator_id, func.count(), func.max(ActivityValue.value))
    .where(ActivityValue.activity_id.in_(select(Activity.id).where(
        Activity.recorder_user_id == bindparam("user_id"), Activity.status == ActivityStatus.verified.value,
        Activity.id != bindparam("exclude_id"))),
        ActivityValue.indicator_id.in_(bindparam("indicator_ids", expanding=True)))
    .group_by(ActivityValue.indicator_id))
_FLAGS_OF = select(ActivityFlag.activity_id, ActivityFlag.code, ActivityFlag.message).where(
    ActivityFlag.activity_id.in_(bindparam("ids", expanding=True)))


def _member_history(session: Session, recorder_user_id: int, indicator_ids: Iterable[int],
                    exclude_id: int | None) -> dict[int, tuple[int, int]]:
    """indicator → (how many verified values the recorder has, the largest)."""
    return {ind: (n, top) for ind, n, top in session.connection().execute(_MEMBER_HISTORY, {
        "user_id": recorder_user_id, "exclude_id": exclude_id or 0, "indicator_ids": list(indicator_ids)})}


def compute(session: Session, s: Submitted, *, today: date | None = None) -> list[Flag]:
    """The flags of an activity as submitted (nothing written)."""
    today = today or today_cn()
    rules = s.rules or effective_rules(session, s.credited_org_id)
    flags: list[Flag] = []
    said = []
    if s.distinct_from:
        ids = "、".join(f"#{i}" for i in sorted(s.distinct_from))
        said.append(f"与 {ids} 同县、同日、同实事；记录人确认是另一次活动：{(s.distinct_note or '').strip()}")
    if s.near_duplicates:
        said.append("与 " + "、".join(f"#{i}（{d.month} 月 {d.day} 日）" for i, d in s.near_duplicates)
                    + " 同县、同实事、日期相邻，且记录人或数值相同，可能是重复记录")
    if said:
        flags.append(Flag(FlagCode.duplicate, "；".join(said)))
    over = _over_bound(rules, s.values, s.indicators)
    ratio, outliers, mine = [], [], []
    for rule in rules.ratios:
        top, per = s.values.get(rule.indicator_id), s.values.get(rule.per_indicator_id)
        f_top, f_per = s.indicators.get(rule.indicator_id), s.indicators.get(rule.per_indicator_id)
        if not top or not per or f_top is None or f_per is None:
            continue
        x = f_top.display(top) / f_per.display(per)
        unit = f"{f_top.unit}/{f_per.unit}"
        if rule.min_ratio is not None and x < rule.min_ratio:
            ratio.append(f"每{f_per.unit}{f_top.name} {_ratio_text(x)} {unit}，低于合理下限 {_ratio_text(rule.min_ratio)} {unit}")
        elif rule.max_ratio is not None and x > rule.max_ratio:
            ratio.append(f"每{f_per.unit}{f_top.name} {_ratio_text(x)} {unit}，高于合理上限 {_ratio_text(rule.max_ratio)} {unit}")
    positive = {i: v for i, v in s.values.items() if v > 0 and i in s.indicators}
    for ind_id, value in positive.items():
        facts = s.indicators[ind_id]
        base = baseline(session, ind_id, today)
        if base.samples >= MIN_SAMPLES and math.log(value) > base.limit():
            typical = facts.show(max(1, round(math.exp(base.median))))
            usual = facts.show(max(1, int(math.exp(base.limit()))))
            outliers.append(f"{facts.name} {facts.show(value)}远高于近 12 个月全省同类记录"
                            f"（中位数约 {typical}，通常不超过 {usual}）")
    if positive:
        history = (s.member_history if s.member_history is not None
                   else _member_history(session, s.recorder_user_id, positive, s.activity_id))
        for ind_id, value in positive.items():
            n, top = history.get(ind_id, (0, 0))
            if n >= MEMBER_MIN_HISTORY and top and value > MEMBER_FACTOR * top:
                facts = s.indicators[ind_id]
                mine.append(f"{facts.name} {facts.show(value)}是记录人以往 {n} 条已审核记录最高值（{facts.show(top)}）的 "
                            f"{value // top} 倍以上")
    if over:
        flags.append(Flag(FlagCode.over_bound, "；".join(over) + "，请核实"))
    if ratio:
        flags.append(Flag(FlagCode.ratio, "；".join(ratio)))
    if outliers:
        flags.append(Flag(FlagCode.outlier_history, "；".join(outliers)))
    if mine:
        flags.append(Flag(FlagCode.outlier_member, "；".join(mine)))
    if s.photo_count == 0:
        big = [(i, v) for i, v in s.values.items()
               if i in s.indicators and s.indicators[i].kind == IndicatorKind.money and v >= MONEY_PHOTO_THRESHOLD]
        if big:
            text = "、".join(f"{s.indicators[i].name} {s.indicators[i].show(v)}" for i, v in big)
            flags.append(Flag(FlagCode.money_no_photo, f"{text}，金额较大但没有照片"))
    late = (s.submitted_on - s.occurred_on).days
    if late > LATE_DAYS:
        flags.append(Flag(FlagCode.late_entry, f"活动日期 {s.occurred_on.isoformat()}，{late} 天后才记录"))
    if s.closed:
        flags.append(Flag(FlagCode.closed_month, f"补录到已关账的 {s.occurred_on.year} 年 {s.occurred_on.month} 月"))
    return flags


def _over_bound(rules: Rules, values: dict[int, int], indicators: dict[int, IndicatorFacts]) -> list[str]:
    return [f"{indicators[i].name} {indicators[i].show(v)}超过单次活动上限 {indicators[i].show(rules.bounds[i].max_value)}"
            for i, v in values.items() if i in rules.bounds and i in indicators and v > rules.bounds[i].max_value]


def would_exceed(session: Session, *, credited_org_id: int, values: dict[int, int],
                 indicators: dict[int, IndicatorFacts]) -> list[str]:
    """The over-bound sentences alone (the form's 「请确认数值无误」 before submitting)."""
    return _over_bound(effective_rules(session, credited_org_id), values, indicators)


# --- storing and reading -----------------------------------------------------------------------------

_INSERT_FLAGS = Prepared(insert(ActivityFlag.__table__))


def store(session: Session, activity_id: int, flags: Sequence[Flag], *, new: bool = False) -> None:
    """Replace the activity's flags with ``flags`` (``new``: a new activity's, which has none yet and
    whose flags nothing reads before the COMMIT: written with its batch's, ``db.at_commit``)."""
    if not new:
        session.connection().execute(
            delete(ActivityFlag.__table__).where(ActivityFlag.__table__.c.activity_id == activity_id))
    if flags:
        now = now_utc()
        at_commit(session, _INSERT_FLAGS, [
            {"activity_id": activity_id, "code": f.code, "message": f.message[:2000], "created_at": now}
            for f in flags], at_once=not new)


def flags_of(session: Session, activity_ids: Iterable[int]) -> dict[int, list[Flag]]:
    ids = list(activity_ids)
    if not ids:
        return {}
    order = {c.value: n for n, c in enumerate(FlagCode)}
    found: dict[int, list[Flag]] = {}
    for activity_id, code, message in session.connection().execute(_FLAGS_OF, {"ids": ids}):
        found.setdefault(activity_id, []).append(Flag(code, message))
    for items in found.values():
        items.sort(key=lambda f: order.get(f.code, 99))
    return found


def _indicator_facts(session: Session, ids: Iterable[int]) -> dict[int, IndicatorFacts]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {i: IndicatorFacts(n, u, k) for i, n, u, k in session.execute(
        select(Indicator.id, Indicator.name, Indicator.unit, Indicator.kind).where(Indicator.id.in_(ids)))}


def recompute(session: Session, activity_ids: Sequence[int], *, today: date | None = None) -> int:
    """Recompute and store the flags of these activities (a 「duplicate」 flag the recorder's own
    confirmation set is kept as it is). Returns how many changed. No commit."""
    today = today or today_cn()
    activities = list(session.scalars(select(Activity).where(Activity.id.in_(list(activity_ids)))))
    if not activities:
        return 0
    ids = [a.id for a in activities]
    values: dict[int, dict[int, int]] = {}
    for aid, ind, v in session.execute(select(ActivityValue.activity_id, ActivityValue.indicator_id,
                                              ActivityValue.value).where(ActivityValue.activity_id.in_(ids))):
        values.setdefault(aid, {})[ind] = v
    facts = _indicator_facts(session, {i for vs in values.values() for i in vs})
    photos = dict(session.execute(select(ActivityPhoto.activity_id, func.count()).where(
        ActivityPhoto.activity_id.in_(ids)).group_by(ActivityPhoto.activity_id)).all())
    old = flags_of(session, ids)
    # The recorders' verified values of these indicators, once for the batch (not a query per row).
    theirs: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)  # (user, indicator) → [(id, value)]
    for user, ind, aid, v in session.execute(
            select(Activity.recorder_user_id, ActivityValue.indicator_id, Activity.id, ActivityValue.value)
            .join(ActivityValue, ActivityValue.activity_id == Activity.id)
            .where(Activity.recorder_user_id.in_({a.recorder_user_id for a in activities}),
                   Activity.status == ActivityStatus.verified, ActivityValue.indicator_id.in_(list(facts)))):
        theirs[(user, ind)].append((aid, v))
    closed: dict[tuple[int, int], bool] = {}
    changed = 0
    for a in activities:
        month = (a.credited_org_id, yyyymm(a.occurred_on))
        if month not in closed:
            closed[month] = is_month_closed(session, *month)
        kept = [f for f in old.get(a.id, []) if f.code == FlagCode.duplicate]
        history = {}
        for ind in values.get(a.id, {}):
            others = [v for aid, v in theirs.get((a.recorder_user_id, ind), ()) if aid != a.id]
            if others:
                history[ind] = (len(others), max(others))
        submitted = to_cn(a.submitted_at)
        new = kept + compute(session, Submitted(
            task_id=a.task_id, county_id=a.county_id, occurred_on=a.occurred_on, values=values.get(a.id, {}),
            indicators=facts, photo_count=photos.get(a.id, 0), recorder_user_id=a.recorder_user_id,
            credited_org_id=a.credited_org_id, submitted_on=submitted.date() if submitted else today,
            closed=closed[month], activity_id=a.id, member_history=history), today=today)
        if sorted(new, key=lambda f: f.code) != sorted(old.get(a.id, []), key=lambda f: f.code):
            store(session, a.id, new)
            changed += 1
    return changed


def _pending_in(org_id: int) -> list:
    return [Activity.status == ActivityStatus.pending, Activity.credited_org_id.in_(subtree_ids(org_id))]


def pending_ids(session: Session, org_id: int) -> list[int]:
    """The pending activities credited in ``org_id``'s subtree: those the subtree's rules judge."""
    return list(session.scalars(select(Activity.id).where(*_pending_in(org_id)).order_by(Activity.id)))


def pending_count(session: Session, org_id: int) -> int:
    """How many :func:`pending_ids` there are (counted, not listed)."""
    return session.scalar(select(func.count()).select_from(Activity).where(*_pending_in(org_id))) or 0

