"""Import kind orgs: organisations and sites by code, parents first, scope, each error message."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Organisation, Site
from app.orgs.service import is_within
from app.rollup import service as rollup
from tests.imports.conftest import fill


def _site(session, code):
    return session.scalar(select(Site).where(Site.code == code))


GOOD = [
    ["530102801", "新华街道", "乡镇/街道", "530102"],
    ["530102801001", "新华社区", "村/社区", "530102801"],
    ["530102001", "华山街道", "乡镇/街道", "530102"],
    ["530102901", "五华示范点", "示范点/助推点", "530102"],
    ["530102", "五华区政协", "县级政协", "530100", "是"],
]


def test_good_file_then_no_op(session, world):
    data = fill(session, world.prefecture_staff, "orgs", GOOD)
    plan = world.preview(world.prefecture_staff, "orgs", data)
    assert plan.errors == [] and (plan.created, plan.updated, plan.unchanged) == (3, 1, 1)
    world.commit(world.prefecture_staff, "orgs", data)
    town, village = _site(session, "530102801"), _site(session, "530102801001")
    assert (town.county_id, town.kind, town.parent_id) == (world.wuhua.id, "town", None)
    assert (village.county_id, village.parent_id, village.kind) == (world.wuhua.id, town.id, "village")
    session.refresh(world.wuhua)
    assert world.wuhua.name == "五华区政协" and world.wuhua.is_key_county
    again = world.preview(world.prefecture_staff, "orgs", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert rollup.check(session) == []


def test_new_county_under_a_new_prefecture_in_the_same_file(session, world):
    rows = [["539900", "测试州政协", "州市政协", "530000"], ["539901", "测试县政协", "县级政协", "539900", "否"]]
    data = fill(session, world.admin, "orgs", rows)
    plan = world.preview(world.admin, "orgs", data)
    assert plan.errors == [] and plan.created == 2
    world.commit(world.admin, "orgs", data)
    pref = session.scalar(select(Organisation).where(Organisation.code == "539900"))
    county = session.scalar(select(Organisation).where(Organisation.code == "539901"))
    assert county.level == "county" and is_within(session, county.id, pref.id)
    assert is_within(session, county.id, world.province.id)


def test_errors(session, world):
    rows = [
        ["530102803", "某街道", "乡镇/街道", "999999"],  # 3 unknown parent
        ["530302801", "外地街道", "乡镇/街道", "530302"],  # 4 outside the subtree (曲靖)
        ["530102804", "", "乡镇/街道", "530102"],  # 5 no name
        ["530102805", "某村", "小组", "530102"],  # 6 bad type
        ["530102", "五华区政协", "州市政协"],  # 7 wrong level for an existing org
        ["530103", "盘龙区政协", "县级政协", "530300"],  # 8 moving to another parent
        ["530102802", "甲", "乡镇/街道", "530102"],  # 9
        ["530102802", "乙", "乡镇/街道", "530102"],  # 10 code twice
        ["539999", "新县政协", "县级政协", "530102"],  # 11 a county under a county
        ["530102806", "某点", "示范点/助推点", "530102", "是"],  # 12 key flag on a site
    ]
    plan = world.preview(world.prefecture_staff, "orgs", fill(session, world.prefecture_staff, "orgs", rows))
    got = {(e.row, e.column): e.message for e in plan.errors}
    assert got[(3, "上级代码")] == "上级代码 999999 不存在"
    assert got[(4, "上级代码")] == "组织不在您的管理范围内"
    assert got[(5, "名称")] == "缺少名称"
    assert got[(6, "类型")].startswith("类型「小组」不正确，应为：省政协、州市政协、县级政协")
    assert got[(7, "类型")] == "五华区政协是县级政协，与所填类型不符" or got[(7, "类型")].endswith("与所填类型不符")
    assert got[(8, "上级代码")] == "不能通过导入改变上级组织"
    assert got[(10, "代码")] == "代码 530102802 在文件中重复出现（第 9 行已有）"
    assert got[(11, "上级代码")].startswith("县级政协不能建在")
    assert got[(12, "重点帮扶县")] == "只有县级政协可以标记为重点帮扶县"
    assert len(plan.errors) == 9


def test_a_site_code_and_name_follow_the_sites_page_rules(session, world):
    import pytest

    from app.errors import Invalid
    from app.manage import service as manage

    rows = [["5301-02-77", "带连字符的示范点", "示范点/助推点", "530102"],  # 3 a dash: the page takes it too
            ["五华77", "中文代码", "示范点/助推点", "530102"],  # 4 not digits or letters
            ["530102778", "名" * 129, "示范点/助推点", "530102"]]  # 5 a name too long
    plan = world.preview(world.prefecture_staff, "orgs", fill(session, world.prefecture_staff, "orgs", rows))
    got = {(e.row, e.column): e.message for e in plan.errors}
    with pytest.raises(Invalid) as code:
        manage.add_site(session, world.prefecture_staff, world.wuhua.id, code="五华77", name="中文代码", kind="demo_site")
    with pytest.raises(Invalid) as name:
        manage.add_site(session, world.prefecture_staff, world.wuhua.id, code="530102778", name="名" * 129,
                        kind="demo_site")
    # The same refusals, in the import's words for a cell and the page's for a field.
    assert got == {(4, "代码"): "地点代码「五华77」格式不正确，应为 1–20 位数字或字母", (5, "名称"): name.value.message}
    assert code.value.errors == {"code": "代码应为 1–20 位数字或字母"} and name.value.message == "名称不能超过 128 个字"
    assert plan.created == 1
