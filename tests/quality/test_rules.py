"""Plausibility rules (issue 16 item 2): the defaults that come with the catalogue, which rules apply
where (a prefecture only tightens), the cache seeing a change at once, and managing them
(app/quality/manage.py): Chinese validation, who may, audit, and the pending flags recomputed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.activities.schemas import ActivityInput
from app.activities.service import record_activity
from app.auth.service import build_principal
from app.clock import today_cn
from app.errors import Forbidden, Invalid, NotFound
from app.jobs import service as jobs
from app.models import AuditLog, BackgroundJob, Indicator, PlausibilityRule, RuleKind, Task
from app.quality import jobs as recompute_jobs
from app.quality import manage as rules
from app.quality.flags import flags_of
from app.quality.rules import effective_rules
from tests import factories as f

pytestmark = pytest.mark.dates


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming, self.qujing = (f.org(session, c) for c in ("530000", "530100", "530300"))
        self.wuhua, self.qilin = f.org(session, "530102"), f.org(session, "530302")
        self.province_admin = f.persona(session, "province_admin")
        self.province_staff = f.persona(session, "province_staff")
        self.prefecture_staff = f.persona(session, "prefecture_staff")  # 昆明
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.outsider_staff = f.persona(session, "outsider_staff")  # 曲靖
        self.member_user = f.persona(session, "member")  # 五华区
        self.qilin_user = f.make_user(session, member=f.make_member(session, self.qilin),
                                      grants=((f.GrantRole.member, self.qilin),))
        self.task = session.scalar(select(Task).where(Task.short_name == "资助学子"))
        inds = {i.name: i for i in session.scalars(select(Indicator).where(Indicator.task_id == self.task.id))}
        self.students, self.money = inds["资助学子"], inds["投入资金"]
        self.other_task_ind = session.scalar(select(Indicator).join(Task).where(Task.short_name == "人居环境",
                                                                                 Indicator.kind == "count"))
        self._n = 0

    def p(self, user):
        return build_principal(self.s, user, ip="test")

    def record(self, user, county, students: str, money: str):
        """A pending activity through the recording service; each on its own day (no look-alikes)."""
        self._n += 1
        data = ActivityInput(task_id=self.task.id, county_id=county.id, occurred_on=today_cn() - timedelta(days=self._n),
                             description="资助低收入家庭学生", values={self.students.id: students, self.money.id: money})
        return record_activity(self.s, by=self.p(user), data=data, idempotency_key=f"rules-{self._n}").activity

    def bound(self, user, org, indicator, max_value: str, source: str = "按本州市台账核定"):
        return rules.create_rule(self.s, self.p(user), org_id=org.id, data=rules.RuleForm(
            kind="bound", indicator_id=indicator.id, max_value=max_value, source=source))

    def codes(self, activity) -> set[str]:
        return {fl.code for fl in flags_of(self.s, [activity.id]).get(activity.id, [])}

    def run_jobs(self) -> None:
        jobs.run_pending(jobs.SameSession(session=self.s))


@pytest.fixture
def w(session) -> World:
    return World(session)


def _province_rules(w: World) -> list[PlausibilityRule]:
    return list(w.s.scalars(select(PlausibilityRule).where(PlausibilityRule.org_id == w.province.id)))


# --- the defaults ---------------------------------------------------------------------------------------

def test_the_defaults_come_with_the_catalogue_each_with_its_source(w):
    found = _province_rules(w)
    assert len(found) >= 15
    assert all(r.source.strip() for r in found)
    bound = next(r for r in found if r.kind == RuleKind.bound and r.indicator_id == w.students.id)
    assert bound.max_value == 200
    money_bound = next(r for r in found if r.kind == RuleKind.bound and r.indicator_id == w.money.id)
    assert money_bound.max_value == 500 * 100  # 500 万元, stored in hundredths
    ratio = next(r for r in found if r.kind == RuleKind.ratio and r.indicator_id == w.money.id)
    assert (ratio.per_indicator_id, ratio.min_ratio, ratio.max_ratio) == (w.students.id, 0.05, 20)


# --- which rules apply ------------------------------------------------------------------------------------

def test_a_prefectures_tighter_bound_applies_in_its_subtree_only(w):
    w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    assert effective_rules(w.s, w.wuhua.id).bounds[w.students.id].max_value == 100
    assert effective_rules(w.s, w.kunming.id).bounds[w.students.id].max_value == 100
    assert effective_rules(w.s, w.qilin.id).bounds[w.students.id].max_value == 200  # 曲靖: the province's
    assert effective_rules(w.s, w.province.id).bounds[w.students.id].max_value == 200


def test_a_looser_prefecture_bound_changes_nothing_and_says_so(w):
    saved = w.bound(w.prefecture_staff, w.kunming, w.students, "300")
    assert effective_rules(w.s, w.wuhua.id).bounds[w.students.id].max_value == 200
    assert saved.note == "省级上限为 200 人，州市只能收紧，此条不会放宽"
    page = rules.rules_page(w.s, w.p(w.prefecture_staff), w.kunming.code)
    view = next(v for t in page.tasks for v in t.rules if v.rule.id == saved.rule.id)
    assert view.note == saved.note and view.editable


def test_a_looser_ratio_side_is_named(w):
    saved = rules.create_rule(w.s, w.p(w.prefecture_staff), org_id=w.kunming.id, data=rules.RuleForm(
        kind="ratio", indicator_id=w.money.id, per_indicator_id=w.students.id, min_ratio="0.1", max_ratio="30",
        source="州市标准"))
    assert saved.note == "省级上限为 20 万元/人，州市只能收紧，此条不会放宽"  # the raised minimum does tighten
    ratios = [r for r in effective_rules(w.s, w.wuhua.id).ratios if r.indicator_id == w.money.id]
    assert {(r.min_ratio, r.max_ratio) for r in ratios} == {(0.05, 20), (0.1, 30)}  # every ratio must hold


def test_the_cache_sees_a_change_through_the_service_at_once(w):
    assert effective_rules(w.s, w.wuhua.id).bounds[w.students.id].max_value == 200  # cached now
    saved = w.bound(w.prefecture_staff, w.kunming, w.students, "120")
    assert effective_rules(w.s, w.wuhua.id).bounds[w.students.id].max_value == 120
    rules.update_rule(w.s, w.p(w.prefecture_staff), saved.rule.id, rules.RuleForm(max_value="80", source="更严"))
    assert effective_rules(w.s, w.wuhua.id).bounds[w.students.id].max_value == 80
    rules.delete_rule(w.s, w.p(w.prefecture_staff), saved.rule.id)
    assert effective_rules(w.s, w.wuhua.id).bounds[w.students.id].max_value == 200


# --- managing: validation ---------------------------------------------------------------------------------

def _invalid(w: World, user, org, **form) -> Invalid:
    with pytest.raises(Invalid) as caught:
        rules.create_rule(w.s, w.p(user), org_id=org.id, data=rules.RuleForm(**({"source": "依据"} | form)))
    return caught.value


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"kind": "bound", "max_value": "十"}, "max_value", "资助学子：请填写不小于 0 的整数（单位：人）"),
    ({"kind": "bound", "max_value": "0"}, "max_value", "上限须大于 0"),
    ({"kind": "bound", "max_value": ""}, "max_value", "请填写资助学子的单次上限（单位：人）"),
    ({"kind": "bound", "max_value": "50", "source": "  "}, "source", "请说明数字的来源或依据（如标准、台账、业务常识）"),
    ({"kind": "bound", "max_value": "50", "source": "字" * 301}, "source", "来源不能超过 300 个字"),
    ({"kind": "ratio", "per": "students"}, "per_indicator_id", "分子和分母不能是同一个指标"),
    ({"kind": "ratio", "per": "other"}, "per_indicator_id", "分子和分母须是同一件实事的指标"),
    ({"kind": "ratio", "per": "money", "min_ratio": "2", "max_ratio": "1"}, "min_ratio", "下限不能大于上限"),
    ({"kind": "ratio", "per": "money"}, "max_ratio", "请至少填写下限或上限"),
    ({"kind": "ratio", "per": "money", "min_ratio": "-1"}, "min_ratio",
     "下限：请填写不小于 0 的数，最多四位小数（如 0.05 或 20）"),
    ({"kind": "ratio", "per": "money", "max_ratio": "0.00001"}, "max_ratio",
     "上限：请填写不小于 0 的数，最多四位小数（如 0.05 或 20）"),
])
def test_a_bad_rule_is_refused_in_chinese_beside_its_field(w, form, field, message):
    form = dict(form)  # the parameters are shared by both databases' runs: never pop from them
    per = {"students": w.students, "other": w.other_task_ind, "money": w.money}.get(form.pop("per", ""))
    failure = _invalid(w, w.prefecture_staff, w.kunming, indicator_id=w.students.id,
                       per_indicator_id=per.id if per else None, **form)
    assert failure.errors[field] == message and failure.message == message and failure.code == "rule_invalid"
    assert not w.s.scalar(select(PlausibilityRule.id).where(PlausibilityRule.org_id == w.kunming.id))


def test_a_money_bound_is_typed_in_wan_yuan_and_stored_in_hundredths(w):
    saved = w.bound(w.prefecture_staff, w.kunming, w.money, "12.5")
    assert saved.rule.max_value == 1250
    assert rules.limit_text(saved.rule, w.money, None) == "每次不超过 12.5 万元"
    failure = _invalid(w, w.prefecture_staff, w.kunming, kind="bound", indicator_id=w.money.id, max_value="1.234")
    assert failure.errors["max_value"] == "投入资金：请填写金额，单位万元，最多两位小数（如 8 或 12.5）"


def test_the_same_rule_twice_is_refused(w):
    w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    failure = _invalid(w, w.prefecture_staff, w.kunming, kind="bound", indicator_id=w.students.id, max_value="90")
    assert failure.code == "rule_exists" and "请修改原有规则" in failure.message


# --- managing: who may ------------------------------------------------------------------------------------

def test_who_may_set_which_rules(w):
    with pytest.raises(Forbidden) as caught:  # a county reads its rules but sets none
        w.bound(w.county_staff, w.wuhua, w.students, "100")
    assert caught.value.message == rules.NOT_YOURS
    with pytest.raises(Forbidden):  # province rules: its administrators
        w.bound(w.province_staff, w.province, w.students, "100")
    for org in (w.province, w.kunming):  # 曲靖's staff: the province above them and a sibling lie outside
        with pytest.raises(NotFound):
            w.bound(w.outsider_staff, org, w.students, "100")
    with pytest.raises(Forbidden):
        w.bound(w.member_user, w.wuhua, w.students, "100")
    province_bound = next(r for r in _province_rules(w) if r.kind == RuleKind.bound and r.indicator_id == w.money.id)
    rules.update_rule(w.s, w.p(w.province_admin), province_bound.id, rules.RuleForm(max_value="400", source="省定"))
    assert province_bound.max_value == 40000
    assert w.bound(w.province_admin, w.qujing, w.students, "150").rule.org_id == w.qujing.id  # above 曲靖


def test_an_outsider_never_reaches_another_prefectures_rule(w):
    saved = w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    with pytest.raises(NotFound):
        rules.update_rule(w.s, w.p(w.outsider_staff), saved.rule.id, rules.RuleForm(max_value="1", source="x"))
    with pytest.raises(NotFound):
        rules.delete_rule(w.s, w.p(w.outsider_staff), saved.rule.id)
    with pytest.raises(Forbidden):  # 五华区's office sees it (it applies there) but may not change it
        rules.delete_rule(w.s, w.p(w.county_staff), saved.rule.id)
    province_rule = _province_rules(w)[0]
    with pytest.raises(Forbidden):
        rules.delete_rule(w.s, w.p(w.prefecture_staff), province_rule.id)
    assert w.s.get(PlausibilityRule, saved.rule.id) is not None


def test_a_county_office_sees_the_rules_in_force_read_only(w):
    w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    page = rules.rules_page(w.s, w.p(w.county_staff))
    assert page.org.id == w.wuhua.id and not page.may_edit
    task = next(t for t in page.tasks if t.task.id == w.task.id)
    bounds = {v.org.id: v for v in task.rules if v.rule.kind == RuleKind.bound and v.indicator.id == w.students.id}
    assert set(bounds) == {w.province.id, w.kunming.id} and not any(v.editable for v in task.rules)
    assert bounds[w.province.id].note == "另有更严的上限，此条不起作用" and bounds[w.kunming.id].note is None


# --- audit and recompute ----------------------------------------------------------------------------------

def test_every_change_is_audited(w):
    saved = w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    rules.update_rule(w.s, w.p(w.prefecture_staff), saved.rule.id, rules.RuleForm(max_value="90", source="新依据"))
    rules.delete_rule(w.s, w.p(w.prefecture_staff), saved.rule.id)
    entries = list(w.s.scalars(select(AuditLog).where(AuditLog.target_type == "plausibility_rule",
                                                      AuditLog.target_id == str(saved.rule.id)).order_by(AuditLog.id)))
    assert [e.action for e in entries] == ["quality.rule_create", "quality.rule_update", "quality.rule_delete"]
    assert all(e.org_id == w.kunming.id for e in entries)
    assert '"max_value": 9000' not in entries[1].after and '"max_value": 90' in entries[1].after
    assert '"source": "新依据"' in entries[1].after and '"max_value": 100' in entries[1].before


def test_a_rule_change_flags_pending_activities_and_relaxing_it_unflags_them(w):
    mine = w.record(w.member_user, w.wuhua, "150", "100")
    elsewhere = w.record(w.qilin_user, w.qilin, "150", "100")
    assert "over_bound" not in w.codes(mine) | w.codes(elsewhere)  # under the province's 200
    saved = w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    assert saved.pending == 1
    assert w.s.scalar(select(BackgroundJob.status).where(BackgroundJob.kind == recompute_jobs.KIND)) == "queued"
    w.run_jobs()
    assert "over_bound" in w.codes(mine) and "over_bound" not in w.codes(elsewhere)
    assert "超过单次活动上限 100 人" in next(fl.message for fl in flags_of(w.s, [mine.id])[mine.id]
                                           if fl.code == "over_bound")
    progress = recompute_jobs.latest(w.s, w.kunming.id)
    assert (progress.status, progress.pending, progress.changed) == ("done", 1, 1)

    rules.update_rule(w.s, w.p(w.prefecture_staff), saved.rule.id, rules.RuleForm(max_value="300", source="放宽"))
    w.run_jobs()
    assert "over_bound" not in w.codes(mine)


def test_a_new_activity_is_judged_by_the_new_rule_at_once(w):
    w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    assert "over_bound" in w.codes(w.record(w.member_user, w.wuhua, "150", "100"))


def test_changes_in_a_row_queue_one_recompute_while_it_waits(w):
    saved = w.bound(w.prefecture_staff, w.kunming, w.students, "100")
    rules.update_rule(w.s, w.p(w.prefecture_staff), saved.rule.id, rules.RuleForm(max_value="90", source="x"))
    assert w.s.scalar(select(BackgroundJob.id).where(BackgroundJob.kind == recompute_jobs.KIND)
                      .order_by(BackgroundJob.id.desc()).offset(1).limit(1)) is None


def test_recompute_in_batches_skips_what_is_no_longer_pending(w, monkeypatch):
    a, b = w.record(w.member_user, w.wuhua, "150", "100"), w.record(w.member_user, w.wuhua, "150", "100")
    w.s.add(PlausibilityRule(org_id=w.kunming.id, indicator_id=w.students.id, kind=RuleKind.bound, max_value=100,
                             source="x"))
    from app.quality.rules import bump_version
    bump_version(w.s)
    monkeypatch.setattr(recompute_jobs, "BATCH", 1)
    seen = []
    db = jobs.SameSession(session=w.s)

    def withdraw_b(done: int, total: int) -> None:
        seen.append((done, total))
        b.status = "withdrawn"
        w.s.flush()

    assert recompute_jobs.recompute_in_batches(db.read, db.write, w.kunming.id, on_batch=withdraw_b) == (2, 1)
    assert seen == [(1, 2), (2, 2)] and "over_bound" in w.codes(a) and "over_bound" not in w.codes(b)


# --- the command line -------------------------------------------------------------------------------------

def test_the_cli_recomputes_a_subtrees_pending_flags(fresh_url, use_database, capsys):
    from app.cli import main
    from app.db import write_session

    use_database(fresh_url)
    assert main(["init"]) == 0
    with write_session() as s:
        task = s.scalar(select(Task).where(Task.short_name == "资助学子"))
        students = s.scalar(select(Indicator).where(Indicator.task_id == task.id, Indicator.name == "资助学子"))
        wuhua = f.org(s, "530102")
        activity = f.make_activity(s, recorder=f.persona(s, "member"), credited=wuhua, county=wuhua, task_=task,
                                   values={students.id: 500}, occurred_on=today_cn() - timedelta(days=2))
        s.commit()
        activity_id = activity.id
    capsys.readouterr()
    assert main(["quality", "recompute", "--org", "530300"]) == 0  # 曲靖: not where it is credited
    assert "检查待审核活动 0 条，提示有变化的 0 条" in capsys.readouterr().out
    assert main(["quality", "recompute"]) == 0  # the whole province
    assert "检查待审核活动 1 条，提示有变化的 1 条" in capsys.readouterr().out
    with write_session() as s:
        assert "over_bound" in {fl.code for fl in flags_of(s, [activity_id])[activity_id]}
    assert main(["quality", "recompute", "--org", "999999"]) == 2
    assert "找不到组织 999999" in capsys.readouterr().err
