"""The report's narrative sentence by sentence and its tables cell by cell, from known verified data."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.boards import periods
from app.exemplars import service as ex
from app.models import AppMeta, ExemplarNomination, Indicator, NominationStatus
from app.reports import narrative
from app.reports.service import as_text, build_report
from tests.reports.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates

IDLE = ("“帮助脱贫群众开展就业技能培训”、“帮助有劳动能力的低收入人口寻找就业岗位”、“帮助脱贫村壮大集体经济出主意想办法”、"
        "“帮助脱贫乡村领办创办或协办产业项目”、“帮助低收入家庭学子完成学业”、“为脱贫村人居环境建设短板弱项出资出力”、"
        "“为脱贫地区美丽宜居乡村建设建言献策”本期暂无已审核的数据。")


def test_narrative_sentence_by_sentence(world, q3):
    world.standard()
    report = build_report(world.s, world.wuhua, q3)
    first, second = report["paragraphs"]
    assert first == [
        f"据统计，自{YEAR}年初截至第三季度末，全区政协组织和委员持续开展办“10件实事”活动：帮助脱贫地区发展产业项目2个，提供技术服务5次。",
        "帮助脱贫地区开展农产品线上线下销售活动3次，销售金额112.5万元。",
        "帮助脱贫地区县乡医疗机构提高诊疗水平，开展义医义诊1次。",
        IDLE,
    ]
    # Two members serve in 五华区; one took part in a verified activity. Nobody has been reached (signed
    # in, or delivered a notice) yet: 动员面 is not tracked, never 0%.
    assert second == ["全区政协委员动员面未统计，参与率达到50%，共有1名委员参与。"]
    assert "0万元" not in report["text"] and "培训讲座" not in report["text"]
    assert report["text"] == "".join(first) + "\n" + "".join(second)
    assert report["title"] == f"五华区政协「双助推」行动工作情况（{YEAR}年初至第三季度末）"


def test_narrative_at_province_level_and_for_a_quiet_period(world):
    world.standard()
    province = build_report(world.s, world.province, periods.parse(f"{YEAR}-q3", TODAY))
    assert province["paragraphs"][0][:2] == [
        f"据统计，{YEAR}年第三季度，全省政协组织和委员持续开展办“10件实事”活动：帮助脱贫地区开展农产品线上线下销售活动3次，销售金额112.5万元。",
        "帮助脱贫地区县乡医疗机构提高诊疗水平，开展义医义诊1次。",
    ]
    quiet = build_report(world.s, world.kunming, periods.parse(f"{YEAR}-10", TODAY))
    assert quiet["paragraphs"][0] == [f"据统计，{YEAR}年10月，全市政协组织和委员开展办“10件实事”活动暂无已审核的数据。"]
    assert quiet["paragraphs"][1][0].startswith("全市政协委员动员面未统计，本期暂无参与已审核活动的记录（在任委员")


def test_compare_with_the_previous_period_and_a_year_earlier(world):
    world.standard()
    q3 = build_report(world.s, world.wuhua, periods.parse(f"{YEAR}-q3", TODAY), compare=True)
    # Q3: 3 verified activities (Aug, Sep, Jul); Q2: 1 (May); 2025 Q3: 1 (Sep 2025).
    assert q3["compare"]["previous"]["activities"] == 1 and q3["compare"]["year_earlier"]["activities"] == 1
    assert q3["paragraphs"][2] == [
        f"本期共开展已审核活动3次，较上一期（{YEAR}年第二季度）增加2次、增长200%；较上年同期（{YEAR - 1}年第三季度）增加2次、增长200%。"]
    q1 = build_report(world.s, world.wuhua, periods.parse(f"{YEAR}-q1", TODAY), compare=True)
    assert q1["paragraphs"][2] == [f"本期共开展已审核活动0次，与上一期（{YEAR - 1}年第四季度）持平；与上年同期（{YEAR - 1}年第一季度）持平。"]
    assert "compare" in q1 and build_report(world.s, world.wuhua, periods.parse(f"{YEAR}-q1", TODAY))["compare"] is None


@pytest.mark.parametrize(("key", "said"), [
    (f"{YEAR}", f"{YEAR}年"), (f"{YEAR}-h1", f"{YEAR}年上半年"), (f"{YEAR}-h2", f"{YEAR}年下半年"), (f"{YEAR}-ytdq3", f"自{YEAR}年初截至第三季度末"),
    (f"{YEAR}-ytd08", f"自{YEAR}年初截至8月末"), (f"{YEAR}-09", f"{YEAR}年9月"), (f"{YEAR}-q2", f"{YEAR}年第二季度"),
    (f"{YEAR}-05~08", f"{YEAR}年5月至8月"), (f"{YEAR}-01~01", f"{YEAR}年1月"),
])
def test_periods_as_the_speech_names_them(key, said):
    assert narrative.when(periods.parse(key, TODAY)) == said


def test_small_words():
    assert [narrative.amount("money", v) for v in (15230600, 1250, 1, 0)] == ["152306", "12.5", "0.01", "0"]
    assert narrative.percent(0.834) == "83.4%" and narrative.percent(1) == "100%" and narrative.percent(0.5) == "50%"
    assert [narrative.scope_word(n) for n in ("云南省政协", "昆明市政协", "红河哈尼族彝族自治州政协", "五华区政协", "禄劝彝族苗族自治县政协")] \
        == ["全省", "全市", "全州", "全区", "全县"]
    assert narrative.task_sentence("帮助脱贫地区", [("发展产业项目{value}{unit}", "个", "count", 0),
                                               ("投入资金{value}{unit}", "万元", "money", 0)]) is None


def test_wording_is_data_keyed_by_campaign():
    own = narrative.wording("shuang-zhutui")
    assert "10件实事" in own["opening"]
    other = narrative.wording("another-campaign")
    assert "{campaign}" in other["opening"] and "10件实事" not in other["opening"]


def test_fill_replaces_only_bare_placeholders():
    assert narrative.fill("开展{value}{unit}，{{不变}}", value=3, unit="次") == "开展3次，{不变}"
    for kept in ("{value:>20000000}", "{value!r}", "{value.__class__}", "{value[0]}", "{other}", "{", "}"):
        assert narrative.fill(f"开展{kept}", value=3) == f"开展{kept}"


def test_a_stored_template_with_a_format_spec_cannot_blow_up_the_report(world, q3):
    """A phrase or sentence stored before the check (or written into the database) stays text."""
    world.standard()
    phrase = world.s.execute(select(Indicator).where(Indicator.narrative.startswith("发展产业项目"))).scalars().first()
    phrase.narrative = "发展产业项目{value:>20000000}{unit}"
    world.s.add(AppMeta(key=narrative.override_key("shuang-zhutui", "opening"), value="{scope:>99999999}：{when.year}"))
    world.s.flush()
    report = build_report(world.s, world.wuhua, q3)
    assert len(report["text"]) < 5_000
    assert "发展产业项目{value:>20000000}个" in report["text"]  # the rest of the sentence is filled
    assert report["text"].startswith("{scope:>99999999}：{when.year}")


def _table(report, key):
    return next(t for t in report["tables"] if t["key"] == key)


def test_tables_cell_by_cell(world, q3):
    world.standard()
    report = build_report(world.s, world.kunming, q3)
    units = _table(report, "units")
    names = [c["name"] for c in units["columns"]]
    assert names[:4] == ["组织", "已审核活动（次）", "特色产业与技术服务·发展产业项目（个）", "特色产业与技术服务·提供技术服务（次）"]
    assert names[-1] == "参与率"
    rows = {r[0]: dict(zip(names, r, strict=True)) for r in units["rows"]}
    wuhua = rows["五华区政协"]
    assert wuhua["已审核活动（次）"] == 4
    assert wuhua["特色产业与技术服务·发展产业项目（个）"] == 2
    assert wuhua["农产品销售·销售金额（万元）"] == 11250  # hundredths of 万元
    assert wuhua["医疗帮扶·义医义诊（次）"] == 1 and wuhua["医疗帮扶·培训讲座（次）"] == 0
    assert wuhua["参与率"] == pytest.approx(0.5)
    assert rows["盘龙区政协"]["已审核活动（次）"] == 0  # the clinic there is credited to 五华区
    assert rows["合计"]["已审核活动（次）"] == 4 and list(rows)[-1] == "合计"
    link_row = units["links"][[r[0] for r in units["rows"]].index("五华区政协")]
    assert link_row[1] == f"/boards/530102/activities?period={YEAR}-ytdq3"
    assert link_row[2] == f"/boards/530102/activities?period={YEAR}-ytdq3&task={world.t1.id}"

    counties = _table(report, "counties")  # by place: only 五华区 is a key county here
    assert [r[:3] for r in counties["rows"]] == [["五华区政协", 1, 3]]
    assert counties["links"][0][2] == f"/boards/530102/activities?period={YEAR}-ytdq3&scope=place"

    members = _table(report, "members")  # no 典型 selected: the candidates ranked on evidence, so labelled
    assert len(members["rows"]) == 1 and members["title"].startswith("典型候选")
    n, name, org, sector, score, count, evidence = members["rows"][0]
    name_of_member = world.s.get(type(world.idle), world.member.member_id).name
    assert (n, name, org, sector, count) == (1, name_of_member, "五华区政协", "经济界", 4)
    # Two places (五华区, 盘龙区), three tasks, four activities; alone, and no outcome indicator filled.
    assert score == 2 * ex.COUNTY_WEIGHT + 3 * ex.TASK_WEIGHT + 4 * ex.ACTIVITY_WEIGHT
    assert evidence == "到过的县2个，参与的实事3项，已审核活动4次"
    # Once the province selects them, the section lists the 典型 of the year instead.
    world.s.add(ExemplarNomination(member_id=world.member.member_id, org_id=world.kunming.id, year=YEAR,
                                   citation="扎根五华区果园。", status=NominationStatus.selected,
                                   created_by_user_id=world.staff.id, submission_key="r1"))
    world.s.flush()
    members = _table(build_report(world.s, world.kunming, q3), "members")
    assert members["title"] == f"典型：{YEAR}年选树的典型（1 名）"
    assert members["rows"] == [[1, name_of_member, "五华区政协", "经济界", score, 4, "昆明市政协推荐：扎根五华区果园。"]]


def test_ranking_lists_units_behind_pace(world, q3):
    from app.models import AnnualTarget

    world.standard()
    for org, value in ((world.wuhua, 4), (world.panlong, 12)):
        world.s.add(AnnualTarget(org_id=org.id, indicator_id=world.projects.id, year=YEAR, value=value))
    world.s.flush()
    ranking = _table(build_report(world.s, world.kunming, q3), "ranking")
    rows = {r[1]: r for r in ranking["rows"]}
    # 五华区: 2 of a pace of 3 (4 × 9/12) → 66.7 %, behind; 盘龙区: 0 of 9.
    assert rows["五华区政协"][0] == 1 and rows["五华区政协"][2] == pytest.approx(2 / 3)
    assert rows["五华区政协"][3] == "未统计"  # 动员面: nobody reached yet
    assert rows["五华区政协"][6] == "工作推进不平衡" and rows["五华区政协"][7] == "特色产业与技术服务·发展产业项目"
    assert rows["盘龙区政协"][0] == 2 and rows["盘龙区政协"][2] == 0


def test_empty_states_and_text(world, q3):
    report = build_report(world.s, world.panlong, q3)
    assert all(t["rows"] == [] for t in report["tables"] if t["key"] in ("units", "counties", "ranking", "members"))
    text = as_text(report)
    assert "本组织没有下级组织。" in text and "生成时间：" in text and "北京时间" in text
    assert report["tables"][0]["empty"] in text


def test_pending_and_other_years_stay_out(world):
    world.standard()
    report = build_report(world.s, world.wuhua, periods.parse(f"{YEAR}", TODAY))
    projects = next(i for t in report["figures"] for i in t["indicators"] if i["id"] == world.projects.id)
    assert projects["verified"] == 2
    last_year = build_report(world.s, world.wuhua, periods.parse(f"{YEAR - 1}", date(YEAR, 1, 5)))
    assert next(i for t in last_year["figures"] for i in t["indicators"] if i["id"] == world.projects.id)["verified"] == 1


@pytest.mark.parametrize(("first", "last", "key"), [
    (f"{YEAR}-01", f"{YEAR}-09", f"{YEAR}-ytdq3"), (f"{YEAR}-01", f"{YEAR}-12", f"{YEAR}"), (f"{YEAR}-07", f"{YEAR}-09", f"{YEAR}-q3"),
    (f"{YEAR}-01", f"{YEAR}-06", f"{YEAR}-h1"), (f"{YEAR}-09", f"{YEAR}-09", f"{YEAR}-09"), (f"{YEAR}-01", f"{YEAR}-08", f"{YEAR}-ytd08"),
    (f"{YEAR}-02", f"{YEAR}-04", f"{YEAR}-02~04"), (f"{YEAR - 1}-07", f"{YEAR - 1}-12", f"{YEAR - 1}-h2"),
])
def test_months_from_the_command_line_are_the_periods_people_pick(first, last, key):
    assert periods.from_months(first, last, TODAY).key == key
