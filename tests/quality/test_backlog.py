"""积压 and 报送 (app/quality/backlog.py): counts per queue, ages in Beijing days, the service level
and its inheritance, overdue items, the reporting rate, and who may set and confirm what."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.auth.service import build_principal
from app.clock import CN, today_cn, yyyymm
from app.errors import Forbidden, Invalid, NotFound
from app.models import ActivityStatus, GrantRole
from app.models.audit import AuditLog
from app.models.quality import ReportConfirmation
from app.quality import backlog as bl
from tests import factories as f

pytestmark = pytest.mark.dates


class World:
    def __init__(self, session):
        self.session = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong = f.org(session, "530102"), f.org(session, "530103")
        self.qujing = f.org(session, "530300")
        self.recorder = f.persona(session, "member")
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.prefecture_staff = f.persona(session, "prefecture_staff")  # 昆明
        self.province_staff = f.persona(session, "province_staff")
        self.outsider_staff = f.persona(session, "outsider_staff")  # 曲靖
        self.viewer = f.make_user(session, grants=((GrantRole.viewer, self.kunming),))
        self.task = f.task(session, 7)
        self.indicator = f.indicators(session, self.task)[0]

    def p(self, user):
        return build_principal(self.session, user, ip="test")

    def activity(self, credited, *, submitted: datetime | None = None, status=ActivityStatus.pending,
                 occurred_on=None):
        a = f.make_activity(self.session, recorder=self.recorder, credited=credited,
                            county=credited if credited.level == "county" else self.wuhua, task_=self.task,
                            values={self.indicator.id: 1}, status=status, occurred_on=occurred_on)
        if submitted is not None:
            a.submitted_at = submitted
            self.session.flush()
        return a


@pytest.fixture
def w(session) -> World:
    return World(session)


def _cn(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), CN)


def _rows(rows) -> dict[str, bl.BacklogRow]:
    return {r.org.code: r for r in rows}


# --- 积压 -------------------------------------------------------------------------------------------

def test_backlog_counts_the_own_queue_and_each_childs_subtree(w):
    for _ in range(2):
        w.activity(w.wuhua)
    w.activity(w.panlong)
    w.activity(w.kunming)
    w.activity(w.wuhua, status=ActivityStatus.verified)
    w.activity(w.wuhua, status=ActivityStatus.withdrawn)
    w.activity(w.qujing)  # another prefecture: not in 昆明's backlog
    rows = bl.backlog(w.session, w.p(w.prefecture_staff), w.kunming.id)
    assert rows[0].org.id == w.kunming.id and rows[0].own and not any(r.own for r in rows[1:])
    by = _rows(rows)
    assert by["530100"].pending == 1 and by["530102"].pending == 2 and by["530103"].pending == 1
    assert {r.org.parent_id for r in rows[1:]} == {w.kunming.id}  # direct children only
    assert sum(r.pending for r in rows) == 4 == bl.backlog_total(rows).pending
    top = _rows(bl.backlog(w.session, w.p(w.province_staff), w.province.id))
    assert top["530100"].pending == 4 and top["530300"].pending == 1 and top["530000"].pending == 0


def test_ages_are_beijing_days_and_overdue_is_past_the_service_level(w, clock):
    today = today_cn()
    clock.freeze(_cn(today, 0, 5))  # five past midnight in Beijing: still yesterday in UTC
    # 8 Beijing days old (though only 7 by UTC dates): overdue at the default 7 days.
    w.activity(w.wuhua, submitted=_cn(today - timedelta(days=8), 23, 59))
    # Exactly 7 days old: due, not overdue.
    w.activity(w.wuhua, submitted=_cn(today - timedelta(days=7), 0, 1))
    w.activity(w.wuhua, submitted=_cn(today, 0, 1))
    row = bl.backlog(w.session, w.p(w.county_staff), w.wuhua.id)[0]
    assert row.pending == 3 and row.sla_days == bl.DEFAULT_SLA_DAYS == 7
    assert row.oldest_submitted_on == today - timedelta(days=8) and row.oldest_age_days == 8
    assert row.overdue == 1
    clock.freeze(_cn(today, 23, 59))  # the same Beijing day, later: nothing changes
    assert bl.backlog(w.session, w.p(w.county_staff), w.wuhua.id)[0].overdue == 1
    clock.freeze(_cn(today + timedelta(days=1), 0, 0))  # midnight: the second one turns 8 days old
    row = bl.backlog(w.session, w.p(w.county_staff), w.wuhua.id)[0]
    assert row.overdue == 2 and row.oldest_age_days == 9


def test_empty_queue_has_no_age(w):
    row = bl.backlog(w.session, w.p(w.county_staff), w.wuhua.id)[0]
    assert (row.pending, row.oldest_age_days, row.oldest_submitted_on, row.overdue) == (0, None, None, 0)
    assert bl.backlog_total([row]).oldest_age_days is None


def test_service_level_is_inherited_and_each_queue_is_judged_by_its_own(w, clock):
    today = today_cn()
    clock.freeze(_cn(today, 12))
    bl.set_sla_days(w.session, w.p(w.prefecture_staff), w.kunming.id, 3)
    five_days = _cn(today - timedelta(days=5), 12)
    w.activity(w.kunming, submitted=five_days)  # 昆明's own queue, 3 days: overdue
    w.activity(w.panlong, submitted=five_days)  # 盘龙 inherits 昆明's 3 days: overdue
    w.activity(w.wuhua, submitted=five_days)  # 五华 sets 10 days of its own: not overdue
    bl.set_sla_days(w.session, w.p(w.county_staff), w.wuhua.id, 10)
    rows = _rows(bl.backlog(w.session, w.p(w.prefecture_staff), w.kunming.id))
    assert (rows["530100"].sla_days, rows["530102"].sla_days, rows["530103"].sla_days) == (3, 10, 3)
    assert (rows["530100"].overdue, rows["530102"].overdue, rows["530103"].overdue) == (1, 0, 1)
    top = _rows(bl.backlog(w.session, w.p(w.province_staff), w.province.id))
    assert top["530000"].sla_days == 7 and top["530100"].sla_days == 3
    assert top["530100"].pending == 3 and top["530100"].overdue == 2  # 五华's item by 五华's 10 days
    assert bl.effective_sla_days(w.session, w.panlong) == 3 and bl.sla_days(w.panlong) == 7
    bl.set_sla_days(w.session, w.p(w.county_staff), w.wuhua.id, None)  # back to the inherited level
    assert bl.effective_sla_days(w.session, w.wuhua) == 3


def test_setting_the_service_level_is_the_own_offices_audited_and_bounded(w):
    bl.set_sla_days(w.session, w.p(w.county_staff), w.wuhua.id, 5)
    entry = w.session.scalar(select(AuditLog).where(AuditLog.action == "org.review_sla"))
    assert entry is not None and entry.org_id == w.wuhua.id and "5" in entry.after
    for days in (0, 91, -1):
        with pytest.raises(Invalid) as refused:
            bl.set_sla_days(w.session, w.p(w.county_staff), w.wuhua.id, days)
        assert refused.value.code == "sla_out_of_range" and "1–90" in refused.value.message
    with pytest.raises(Forbidden):  # an office above speaks for itself, not for the county
        bl.set_sla_days(w.session, w.p(w.prefecture_staff), w.wuhua.id, 3)
    with pytest.raises(Forbidden):
        bl.set_sla_days(w.session, w.p(w.viewer), w.wuhua.id, 3)
    with pytest.raises(NotFound):
        bl.set_sla_days(w.session, w.p(w.outsider_staff), w.wuhua.id, 3)
    with pytest.raises(NotFound):
        bl.set_sla_days(w.session, w.p(w.recorder), w.wuhua.id, 3)
    w.session.expire_all()
    assert w.session.get(type(w.wuhua), w.wuhua.id).review_sla_days == 5


def test_backlog_is_read_within_the_callers_subtree(w):
    assert bl.backlog(w.session, w.p(w.viewer), w.kunming.id)[0].org.id == w.kunming.id
    with pytest.raises(NotFound):
        bl.backlog(w.session, w.p(w.outsider_staff), w.kunming.id)
    with pytest.raises(NotFound):
        bl.backlog(w.session, w.p(w.county_staff), w.kunming.id)  # above the caller
    with pytest.raises(NotFound):
        bl.reporting_status(w.session, w.p(w.outsider_staff), w.kunming.id, [yyyymm(today_cn())])


# --- 报送 -------------------------------------------------------------------------------------------

def test_reporting_status_per_child_and_the_reporting_rate(w):
    month = f.months_ago(1, 10)
    other = f.months_ago(2, 10)
    key = yyyymm(month)
    w.activity(w.wuhua, occurred_on=month)
    w.activity(w.wuhua, occurred_on=month, status=ActivityStatus.verified)
    w.activity(w.wuhua, occurred_on=month, status=ActivityStatus.withdrawn)  # not recorded
    w.activity(w.wuhua, occurred_on=other)  # another month
    w.activity(w.kunming, occurred_on=month)
    bl.confirm_reporting(w.session, w.p(w.county_staff), w.wuhua.id, key)
    rows = bl.reporting_status(w.session, w.p(w.prefecture_staff), w.kunming.id, [key])
    by = {r.org.code: r for r in rows}
    assert rows[0].own and rows[0].org.id == w.kunming.id
    assert (by["530102"].recorded, by["530102"].pending, by["530102"].confirmed) == (2, 1, True)
    assert (by["530103"].recorded, by["530103"].pending, by["530103"].confirmed) == (0, 0, False)
    assert (by["530100"].recorded, by["530100"].pending, by["530100"].confirmed) == (1, 1, False)
    rate = bl.reporting_rate(rows)
    assert rate.children == len(rows) - 1 >= 2 and rate.confirmed == 1
    assert rate.percent == round(100 / rate.children)
    # A quarter-like span: confirmed only when every month is.
    both = {r.org.code: r for r in bl.reporting_status(w.session, w.p(w.prefecture_staff), w.kunming.id,
                                                        [key, yyyymm(other)])}
    assert both["530102"].recorded == 3 and not both["530102"].confirmed
    assert both["530102"].confirmed_months == {key}
    leaf = bl.reporting_status(w.session, w.p(w.county_staff), w.wuhua.id, [key])
    assert len(leaf) == 1 and bl.reporting_rate(leaf).percent is None


def test_confirming_is_idempotent_audited_and_never_for_a_future_month(w):
    by = w.p(w.county_staff)
    key = yyyymm(f.months_ago(1))
    bl.confirm_reporting(w.session, by, w.wuhua.id, key)
    bl.confirm_reporting(w.session, by, w.wuhua.id, key)  # again: fine, nothing new

    def count(model, *where):
        return w.session.scalar(select(func.count()).select_from(model).where(*where))

    assert count(ReportConfirmation, ReportConfirmation.org_id == w.wuhua.id) == 1
    assert count(AuditLog, AuditLog.action == "report.confirm", AuditLog.org_id == w.wuhua.id) == 1
    bl.confirm_reporting(w.session, by, w.wuhua.id, yyyymm(today_cn()))  # this month: allowed
    with pytest.raises(Invalid) as future:
        bl.confirm_reporting(w.session, by, w.wuhua.id, yyyymm(f.months_ago(-1)))
    assert future.value.code == "month_future"
    with pytest.raises(Invalid):
        bl.confirm_reporting(w.session, by, w.wuhua.id, key // 100 * 100 + 13)
    with pytest.raises(Forbidden):
        bl.confirm_reporting(w.session, w.p(w.prefecture_staff), w.wuhua.id, key)
    with pytest.raises(NotFound):
        bl.confirm_reporting(w.session, w.p(w.outsider_staff), w.wuhua.id, key)
    bl.unconfirm_reporting(w.session, by, w.wuhua.id, key)
    bl.unconfirm_reporting(w.session, by, w.wuhua.id, key)
    assert w.session.get(ReportConfirmation, (w.wuhua.id, key)) is None
    assert count(AuditLog, AuditLog.action == "report.unconfirm", AuditLog.org_id == w.wuhua.id) == 1
