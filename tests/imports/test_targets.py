"""Import kind targets: org × indicator × year through the targets module's own rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.clock import today_cn
from app.models import AnnualTarget, AuditLog
from tests import factories as f
from tests.imports.conftest import fill

pytestmark = pytest.mark.dates

YEAR = today_cn().year



def _value(session, org, indicator):
    return session.scalar(select(AnnualTarget.value).where(
        AnnualTarget.org_id == org.id, AnnualTarget.indicator_id == indicator.id, AnnualTarget.year == YEAR))


def test_targets_good_then_no_op_then_clear(session, world):
    medical = f.indicators(session, f.task(session, 7))
    count, money = medical[1], medical[2]  # 义医义诊 (次), 医疗设备投入资金 (万元)
    rows = [["530100", YEAR, "医疗帮扶·义医义诊", "12"], ["530102", YEAR, "医疗帮扶·医疗设备投入资金", "3.5"],
            ["530103", YEAR, "义医义诊", ""]]
    data = fill(session, world.prefecture_staff, "targets", rows)
    plan = world.preview(world.prefecture_staff, "targets", data)
    assert plan.errors == [] and (plan.created, plan.updated, plan.unchanged) == (2, 0, 1)
    world.commit(world.prefecture_staff, "targets", data)
    assert _value(session, world.kunming, count) == 12 and _value(session, world.wuhua, money) == 350
    audits = session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.targets"))
    again = world.preview(world.prefecture_staff, "targets", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    world.commit(world.prefecture_staff, "targets", data)
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.targets")) == audits == 1
    cleared = fill(session, world.prefecture_staff, "targets", [["530100", YEAR, "医疗帮扶·义医义诊", ""]])
    plan = world.preview(world.prefecture_staff, "targets", cleared)
    assert plan.updated == 1 and plan.notices == ["将清除 1 项已有目标（文件中目标值为空白）"]
    world.commit(world.prefecture_staff, "targets", cleared)
    assert _value(session, world.kunming, count) is None


def test_targets_errors(session, world):
    rows = [
        ["530100", YEAR, "医疗帮扶·义医义诊", "1.5"],  # 3 a fraction of a count
        ["530100", YEAR, "医疗帮扶·医疗设备投入资金", "-3"],  # 4 negative
        ["530100", YEAR, "不存在的指标", "3"],  # 5
        ["530300", YEAR, "医疗帮扶·义医义诊", "3"],  # 6 outside (曲靖)
        ["530100", YEAR + 1, "医疗帮扶·培训讲座", "3"],  # 7 another year
        ["530102", YEAR, "医疗帮扶·义医义诊", "3"],  # 8
        ["530102", YEAR, "医疗帮扶·义医义诊", "4"],  # 9 twice
        ["530102", "明年", "医疗帮扶·培训讲座", "3"],  # 10
    ]
    plan = world.preview(world.prefecture_staff, "targets", fill(session, world.prefecture_staff, "targets", rows))
    got = {(e.row, e.column): e.message for e in plan.errors}
    assert got[(3, "目标值")] == "义医义诊：请填写整数（单位：次），不能有小数"
    assert got[(4, "目标值")] == "医疗设备投入资金：目标不能为负数"
    assert got[(5, "指标")].startswith("指标「不存在的指标」不在当前活动目录中")
    assert got[(6, "组织代码")].startswith("组织不在您的管理范围内")
    assert got[(7, "年份")] == f"一个文件只能包含一个年份的目标（第 3 行是 {YEAR} 年）"
    assert got[(9, "指标")] == "五华区政协的「医疗帮扶·义医义诊」在文件中重复出现（第 8 行已有）" or "重复出现" in got[(9, "指标")]
    assert got[(10, "年份")] == "年份「明年」不是整数"
    assert len(plan.errors) == 7
