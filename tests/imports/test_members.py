"""Import kind members: good rows, each error message, re-import a no-op, rollup exact, scope."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.clock import today_cn
from app.errors import Conflict, Forbidden, Invalid
from app.models import AuditLog, Committee, Member, Membership, RoleGrant, Term, UserAccount
from app.rollup import service as rollup
from tests.imports.conftest import fill, headers, to_csv

# Memberships start on dates, participation counters are per year of the clock.
pytestmark = pytest.mark.dates

# Start dates in the files: last year's, after the first term began (2023) and past whatever today is.
YEAR = today_cn().year - 1


def _excel_serial(day: date) -> int:
    """The number Excel stores for ``day`` (days since 1899-12-30)."""
    return (day - date(1899, 12, 30)).days


def _member(session, phone):
    return session.scalar(select(Member).where(Member.phone == phone))


def _audits(session):
    return session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.members"))


GOOD = [
    ["李四", "13912340001", "530102", "经济界", "委员", "", "", "", f"{YEAR}-01-01"],
    ["王五", "13912340002", "530102", "农业界", "常委", "秘书长", "提案委员会", "滇红茶业有限公司", f"{YEAR}.3.1"],
    ["赵六", "13912340003", "530103", "中共", "主席会议成员", "副主席", "", "", ""],
]


def test_good_file_creates_members_memberships_accounts_then_second_import_is_a_no_op(session, world):
    rollup.ensure_year(session, today_cn().year)
    data = fill(session, world.prefecture_staff, "members", GOOD)
    plan = world.preview(world.prefecture_staff, "members", data)
    assert plan.errors == [] and (plan.created, plan.updated, plan.unchanged) == (3, 0, 0)
    assert "将在五华区政协新建专委会「提案委员会」" in plan.notices
    world.commit(world.prefecture_staff, "members", data)
    wang = _member(session, "13912340002")
    assert (wang.name, wang.sector, wang.enterprise) == ("王五", "农业界", "滇红茶业有限公司")
    seat = session.scalar(select(Membership).where(Membership.member_id == wang.id))
    assert (seat.org_id, seat.role, seat.title, seat.start_date) == (world.wuhua.id, "standing", "秘书长", date(YEAR, 3, 1))
    assert session.get(Committee, seat.committee_id).name == "提案委员会"
    account = session.scalar(select(UserAccount).where(UserAccount.login == "13912340002"))
    assert account.member_id == wang.id and account.password_hash is None
    zhao = _member(session, "13912340003")
    zhao_user = session.scalar(select(UserAccount).where(UserAccount.member_id == zhao.id))
    roles = set(session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == zhao_user.id)))
    assert roles == {"member", "leader"}
    assert rollup.check(session) == []
    assert _audits(session) == 1
    again = world.preview(world.prefecture_staff, "members", data)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])
    world.commit(world.prefecture_staff, "members", data)
    assert _audits(session) == 1  # nothing written, not even an audit entry
    assert rollup.check(session) == []


def test_existing_phone_updates_member_and_current_membership(session, world):
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD))
    changed = [["李四", "13912340001", "530102", "工商联", "常委", "", "", "新企业", ""]]
    plan = world.preview(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", changed))
    assert (plan.created, plan.updated, plan.unchanged) == (0, 1, 0)
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", changed))
    li = _member(session, "13912340001")
    assert (li.sector, li.enterprise) == ("工商联", "新企业")
    seat = session.scalar(select(Membership).where(Membership.member_id == li.id))
    assert seat.role == "standing" and seat.start_date == date(YEAR, 1, 1)
    assert session.scalar(select(func.count()).select_from(Membership).where(Membership.member_id == li.id)) == 1
    assert rollup.check(session) == []


def test_industry_column_by_its_aliases_kept_when_absent_and_bounded(session, world):
    rows = [["姓名", "手机号", "组织代码", "界别", "所属行业"], ["李四", "13912340001", "530102", "经济界", "电子商务"]]
    world.commit(world.prefecture_staff, "members", to_csv(rows), "名单.csv")
    assert _member(session, "13912340001").industry == "电子商务"
    # A file without the column leaves 行业 as it was; the template's own column changes it.
    world.commit(world.prefecture_staff, "members", to_csv([rows[0][:4], ["李四", "13912340001", "530102", "工商联"]]),
                 "名单.csv")
    li = _member(session, "13912340001")
    assert (li.sector, li.industry) == ("工商联", "电子商务")
    assert "行业" in headers("members")
    template_row = ["李四", "13912340001", "530102", "工商联", "", "", "", "", "", "农业"]
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", [template_row]))
    assert _member(session, "13912340001").industry == "农业"
    plan = world.preview(world.prefecture_staff, "members",
                         to_csv([rows[0], ["王五", "13912340002", "530102", "经济界", "行" * 33]]), "名单.csv")
    assert [(e.column, e.message) for e in plan.errors] == [("行业", "行业不能超过 32 个字")]


def test_every_error_has_row_column_and_message(session, world):
    bad = [
        ["", "13912340001", "530102", "经济界"],  # row 3: no name
        ["甲", "1391234", "530102", "经济界"],  # row 4: bad phone
        ["乙", "13912340005", "999999", "经济界"],  # row 5: unknown org
        ["丙", "13912340006", "530102", "", "委员"],  # row 6: no sector
        ["丁", "13912340007", "530102", "经济界", "主任"],  # row 7: bad role
        ["戊", "13912340007", "530102", "经济界"],  # row 8: phone twice
        ["己", "13912340009", "530102", "经济界", "", "", "", "", f"{YEAR}-13-45"],  # row 9: bad date
        ["庚", "13912340010", "530302", "经济界"],  # row 10: outside the subtree (曲靖)
    ]
    plan = world.preview(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", bad))
    got = {(e.row, e.column): e.message for e in plan.errors}
    assert got[(3, "姓名")] == "缺少姓名"
    assert "格式不正确" in got[(4, "手机号")]
    assert got[(5, "组织代码")] == "组织代码 999999 不存在"
    assert got[(6, "界别")] == "缺少界别"
    assert got[(7, "身份")].startswith("身份「主任」不正确，应为：委员、常委、主席会议成员")
    assert got[(8, "手机号")] == "手机号 13912340007 在文件中重复出现（第 7 行已有）"
    assert "无法识别" in got[(9, "任职开始日期")]
    assert got[(10, "组织代码")].startswith("组织不在您的管理范围内")
    assert len(plan.errors) == 8 and plan.created == 0 and plan.error_rows == 8
    with pytest.raises(Invalid):
        world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", bad))
    assert _member(session, "13912340005") is None


def test_quirks_full_width_phone_text_dates_csv_with_bom_title_row_blank_rows(session, world):
    rows = [[f"{YEAR}年五华区政协委员名单"], headers("members"),
            ["张一", "１３９ １２３４ ０１０１", "530102", "经济界", "", "", "", "", f"{YEAR}年3月1日"],
            ["张二", "139-1234-0102", "530102", "经济界", "", "", "", "", f"{YEAR}/3/2"],
            [], ["", "", ""], []]
    data = to_csv(rows)
    plan = world.preview(world.prefecture_staff, "members", data, "名单.csv")
    assert plan.errors == [] and plan.created == 2
    world.commit(world.prefecture_staff, "members", data, "名单.csv")
    one = _member(session, "13912340101")
    assert one is not None and _member(session, "13912340102") is not None
    seat = session.scalar(select(Membership).where(Membership.member_id == one.id))
    assert seat.start_date == date(YEAR, 3, 1)


def test_gbk_csv_and_excel_serial_dates(session, world):
    rows = [headers("members"), ["张三", "13912340201", "530102", "经济界", "", "", "", "", str(_excel_serial(date(YEAR, 3, 1)))]]
    plan = world.preview(world.prefecture_staff, "members", to_csv(rows, bom=False, encoding="gbk"), "a.csv")
    assert plan.errors == [] and plan.created == 1
    new = plan.payload.new_members[0]
    assert new.start == date(YEAR, 3, 1)


def test_outsider_and_non_staff(session, world):
    data = fill(session, world.prefecture_staff, "members", GOOD)
    plan = world.preview(world.outsider, "members", data)
    assert len(plan.errors) == 3 and all(e.message.startswith("组织不在您的管理范围内") for e in plan.errors)
    with pytest.raises(Forbidden):
        world.preview(world.viewer, "members", data)


def test_a_member_serving_elsewhere_is_not_moved(session, world):
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD))
    moved = [["李四", "13912340001", "530103", "经济界"]]
    plan = world.preview(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", moved))
    assert [e.message for e in plan.errors] == ["该委员目前在五华区政协任职；调动请在委员管理中办理，不能通过导入改变所在组织"]


def test_stale_preview_is_refused(session, world):
    data = fill(session, world.prefecture_staff, "members", GOOD)
    plan = world.preview(world.prefecture_staff, "members", data)
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD[:1]))
    from app.imports import service
    with pytest.raises(Conflict):
        service.commit(session, world.prefecture_staff, "members", data, "f.xlsx", identity=plan.identity())


def test_new_org_without_term_gets_term_one(session, world):
    assert session.scalar(select(Term).where(Term.org_id == world.panlong.id)) is None or True
    data = fill(session, world.prefecture_staff, "members", [["钱七", "13912340301", "530111", "经济界"]])
    plan = world.preview(world.prefecture_staff, "members", data)
    assert plan.errors == []
    world.commit(world.prefecture_staff, "members", data)
    assert session.scalar(select(Term.number).where(Term.org_id == session.scalar(
        select(Membership.org_id).where(Membership.member_id == _member(session, "13912340301").id)))) == 1


def test_an_account_already_using_the_phone_becomes_the_members(session, world):
    from app.models import GrantRole
    from tests import factories as f
    staff = f.make_user(session, grants=((GrantRole.staff, world.wuhua),))
    data = fill(session, world.prefecture_staff, "members", [["孙八", staff.login, "530102", "经济界"]])
    plan = world.preview(world.prefecture_staff, "members", data)
    assert plan.errors == [] and plan.created == 1
    world.commit(world.prefecture_staff, "members", data)
    session.refresh(staff)
    member = _member(session, staff.login)
    assert staff.member_id == member.id
    assert set(session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == staff.id))) == {"staff", "member"}
    assert session.scalar(select(func.count()).select_from(UserAccount).where(UserAccount.login == staff.login)) == 1


def test_participation_counters_follow_new_and_moved_start_dates(session, world):
    from app.models import ParticipationCounter
    year = today_cn().year
    rollup.ensure_year(session, year)

    def active(org):
        return session.scalar(select(ParticipationCounter.active).where(
            ParticipationCounter.org_id == org.id, ParticipationCounter.year == year,
            ParticipationCounter.first_month == 1, ParticipationCounter.last_month == 1)) or 0

    before = active(world.wuhua)
    rows = [["周九", "13912340401", "530102", "经济界", "", "", "", "", f"{year}-03-01"]]
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", rows))
    assert active(world.wuhua) == before  # joined in March: not active in January
    rows[0][8] = f"{year}-01-01"
    plan = world.preview(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", rows))
    assert plan.updated == 1
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", rows))
    assert active(world.wuhua) == before + 1 and active(world.kunming) >= 1
    assert rollup.check(session) == []


def test_a_clash_at_write_time_is_a_conflict_and_writes_nothing(session, world, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from app.imports.base import get_kind

    def clash(*_args):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(get_kind("members"), "commit", clash)
    with pytest.raises(Conflict, match="没有写入任何数据"):
        world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD))
    assert _audits(session) == 0 and _member(session, "13912340001") is None


def test_columns_the_file_lacks_are_kept_blank_cells_clear(session, world):
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD))
    wang = _member(session, "13912340002")
    short = to_csv([["姓名", "手机号", "组织代码", "界别"], ["王五", "13912340002", "530102", "农业界"]])
    plan = world.preview(world.prefecture_staff, "members", short, "a.csv")
    assert (plan.updated, plan.unchanged) == (0, 1)  # 身份, 职务, 专委会, 企业 not in the file: kept
    cleared = to_csv([["姓名", "手机号", "组织代码", "界别", "职务", "委员企业"],
                      ["王五", "13912340002", "530102", "农业界", "", ""]])
    plan = world.preview(world.prefecture_staff, "members", cleared, "a.csv")
    assert plan.updated == 1
    world.commit(world.prefecture_staff, "members", cleared, "a.csv")
    session.refresh(wang)
    seat = session.scalar(select(Membership).where(Membership.member_id == wang.id))
    assert wang.enterprise is None and seat.title is None and seat.role == "standing" and seat.committee_id is not None


def test_counters_exact_when_members_are_told_to_the_rollup_in_several_batches(session, world, monkeypatch):
    from app.imports import members as kind
    monkeypatch.setattr(kind, "MASK_CHUNK", 1)
    rollup.ensure_year(session, today_cn().year)
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD))
    assert rollup.check(session) == []


def test_a_member_whose_seat_ended_in_an_earlier_term_gets_a_seat_in_the_current_one(session, world):
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD[:1]))
    li = _member(session, "13912340001")
    seat = session.scalar(select(Membership).where(Membership.member_id == li.id))
    masks = rollup.member_masks(session, [li.id])
    seat.end_date = date(YEAR, 1, 31)
    session.add(Term(org_id=world.wuhua.id, number=2, start_date=date(YEAR, 2, 1)))
    session.flush()
    rollup.members_changed(session, masks, [li.id])
    data = fill(session, world.prefecture_staff, "members", [["李四", "13912340001", "530102", "经济界"]])
    plan = world.preview(world.prefecture_staff, "members", data)
    assert (plan.created, plan.updated, plan.errors) == (0, 1, [])
    world.commit(world.prefecture_staff, "members", data)
    seats = list(session.scalars(select(Membership).where(Membership.member_id == li.id).order_by(Membership.id)))
    assert len(seats) == 2 and seats[1].end_date is None and seats[1].start_date == date(YEAR, 2, 1)
    assert rollup.check(session) == []


def test_an_existing_member_made_chair_council_gets_the_leader_grant(session, world):
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", GOOD[:1]))
    li = _member(session, "13912340001")
    user = session.scalar(select(UserAccount).where(UserAccount.member_id == li.id))
    promoted = [["李四", "13912340001", "530102", "经济界", "主席会议成员", "副主席"]]
    world.commit(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", promoted))
    grants = set(session.execute(select(RoleGrant.role, RoleGrant.org_id).where(RoleGrant.user_id == user.id)).all())
    assert grants == {("member", world.wuhua.id), ("leader", world.wuhua.id)}
    again = world.preview(world.prefecture_staff, "members", fill(session, world.prefecture_staff, "members", promoted))
    assert again.unchanged == 1
