"""The account-administration and audit pages: status codes, Chinese texts, fragments, the code
sheet and Excel list, and outsiders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.accounts import service
from app.auth import service as auth
from app.clock import CN, today_cn
from app.models import ActivationCode, AuditLog, GrantRole, RoleGrant
from tests import factories as f
from tests.accounts.helpers import KUNMING, PANLONG, PROVINCE, WUHUA, committee, member_account

CODE = re.compile(r'class="slip-code">([2-9A-Z]{8})<')


def _staff(client, session, kind: str = "county_staff"):
    user = f.persona(session, kind)
    f.login_as(client, session, user)
    return user


def _codes_in_db(session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(ActivationCode).where(ActivationCode.user_id == user_id))


# --- the list ---------------------------------------------------------------------------------

def test_the_list_shows_the_subtree_in_chinese(client, session):
    member_account(session, WUHUA, name="钱多多")
    member_account(session, PANLONG, name="孙不见")
    _staff(client, session)
    r = client.get("/admin/users")
    assert r.status_code == 200 and "<html" in r.text
    assert "账号管理" in r.text and "钱多多" in r.text and "孙不见" not in r.text
    assert "未激活" in r.text and 'name="user_ids"' in r.text and 'name="csrf_token"' in r.text
    assert 'data-label="手机号"' in r.text  # the cells name themselves for the phone layout


def test_filtering_with_htmx_answers_only_the_listing(client, session):
    member_account(session, WUHUA, name="钱多多")
    _staff(client, session)
    r = client.get("/admin/users", params={"q": "钱多"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.lstrip().startswith('<div id="admin-users">') and "钱多多" in r.text
    empty = client.get("/admin/users", params={"q": "查无此人", "status": ""}, headers={"HX-Request": "true"})
    assert "没有符合条件的账号" in empty.text and "清除筛选条件" in empty.text


def test_empty_filter_fields_from_a_plain_form_are_accepted(client, session):
    _staff(client, session)
    r = client.get("/admin/users?org_id=&committee_id=&status=&q=")
    assert r.status_code == 200


def test_choosing_an_organisation_offers_its_committees_and_codes(client, session):
    wuhua = f.org(session, WUHUA)
    agri = committee(session, wuhua, "农业农村委")
    member_account(session, WUHUA, name="周在委", committee_=agri)
    _staff(client, session, "prefecture_staff")
    r = client.get("/admin/users", params={"org_id": wuhua.id, "committee_id": agri.id})
    assert r.status_code == 200 and "周在委" in r.text
    assert "农业农村委" in r.text and f"/admin/users/codes/confirm?org_id={wuhua.id}&amp;committee_id={agri.id}" in r.text
    # A committee left over from another organisation is dropped, not an empty list.
    panlong = f.org(session, PANLONG)
    other = client.get("/admin/users", params={"org_id": panlong.id, "committee_id": agri.id})
    assert other.status_code == 200 and "没有符合条件的账号" in other.text


def test_the_list_pages(client, session):
    wuhua = f.org(session, WUHUA)
    for _ in range(51):
        member_account(session, WUHUA)
    _staff(client, session)
    first = client.get("/admin/users", params={"org_id": wuhua.id, "status": "unactivated"})
    assert "第 1 / 2 页" in first.text and "下一页" in first.text and "上一页" not in first.text
    next_url = f"/admin/users?org_id={wuhua.id}&amp;status=unactivated&amp;page=2"
    assert f'href="{next_url}" hx-get="{next_url}"' in first.text
    second = client.get("/admin/users", params={"org_id": wuhua.id, "status": "unactivated", "page": 2})
    assert "第 2 / 2 页" in second.text and "上一页" in second.text and "下一页" not in second.text


def test_a_member_gets_403_and_a_stranger_the_login(client, session):
    member = f.persona(session, "member")
    assert client.get("/admin/users", follow_redirects=False).headers["location"].startswith("/login")
    f.login_as(client, session, member)
    for url in ("/admin/users", "/admin/audit", f"/admin/users/{member.id}"):
        r = client.get(url)
        assert r.status_code == 403 and "双助推" in r.text, url
    r = client.post(f"/admin/users/{member.id}/disable")
    assert r.status_code == 403


def test_an_organisation_outside_scope_is_404(client, session):
    _staff(client, session)
    r = client.get("/admin/users", params={"org_id": f.org(session, PANLONG).id})
    assert r.status_code == 404 and "不在您的管辖范围" in r.text


# --- codes: the printable sheet and the Excel list -------------------------------------------

def test_codes_for_chosen_accounts_print_once_and_activate(client, session):
    target = member_account(session, WUHUA, name="吴激活")
    _staff(client, session)
    r = client.post("/admin/users/codes", data={"user_ids": [target.id], "format": "html"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "吴激活" in r.text and target.login in r.text and f.org(session, WUHUA).name in r.text
    assert "http://testserver/activate" in r.text and "输入手机号和激活码设置密码" in r.text
    assert "@media print" not in r.text and "app.css" in r.text  # the print rules live in the stylesheet
    [code] = CODE.findall(r.text)
    user, _ = auth.activate(session, login=target.login, code=code, password="first-pass-1", ip="x")
    assert user.id == target.id


def test_the_print_stylesheet_hides_the_navigation():
    from app.config import PROJECT_ROOT

    css = (PROJECT_ROOT / "static" / "css" / "app.css").read_text()
    rules = css[css.index("/* accounts admin */"):]
    printing = rules[rules.index("@media print"):]
    assert ".topbar" in printing and ".no-print" in printing and "display: none" in printing
    assert "break-inside: avoid" in rules


def test_the_excel_list_reads_back_cell_by_cell(client, session):
    agri = committee(session, f.org(session, WUHUA), "农业农村委")
    target = member_account(session, WUHUA, name="郑表格", committee_=agri)
    _staff(client, session)
    r = client.post("/admin/users/codes", data={"user_ids": [target.id], "format": "xlsx"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert r.headers["cache-control"] == "no-store" and "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = load_workbook(BytesIO(r.content))
    ws = wb["激活码"]
    assert [c.value for c in ws[1]] == ["姓名", "组织", "专委会", "手机号", "激活码", "有效期至"]
    assert ws.freeze_panes == "A2" and ws.max_row == 2
    name, org, com, phone, code, until = (c.value for c in ws[2])
    assert (name, org, com, phone) == ("郑表格", f.org(session, WUHUA).name, "农业农村委", target.login)
    assert until == service.code_valid_until().isoformat()
    assert isinstance(code, str) and len(code) == auth.CODE_LENGTH and ws["E2"].number_format == "@"
    assert isinstance(phone, str) and ws["D2"].number_format == "@"
    assert ws.column_dimensions["B"].width >= 20 and ws.column_dimensions["E"].width >= 10
    assert "/activate" in wb["使用说明"]["A2"].value
    user, _ = auth.activate(session, login=phone, code=code, password="first-pass-1", ip="x")
    assert user.id == target.id


def test_a_whole_organisation_is_confirmed_first_even_without_javascript(client, session):
    wuhua = f.org(session, WUHUA)
    targets = [member_account(session, WUHUA) for _ in range(2)]
    _staff(client, session)
    expected = _count_unactivated_members_of_wuhua(session)
    page = client.get("/admin/users/codes/confirm", params={"org_id": wuhua.id})
    assert page.status_code == 200 and f"将为 {expected} 名委员生成新激活码，旧激活码作废" in page.text
    assert 'name="confirmed" value="1"' in page.text
    # Posting the organisation without the confirmation shows the same question and issues nothing.
    unconfirmed = client.post("/admin/users/codes", data={"org_id": wuhua.id, "format": "html"})
    assert unconfirmed.status_code == 200 and "旧激活码作废" in unconfirmed.text
    assert sum(_codes_in_db(session, t.id) for t in targets) == 0
    done = client.post("/admin/users/codes", data={"org_id": wuhua.id, "confirmed": "1", "only_unactivated": "1",
                                                     "format": "html"})
    assert done.status_code == 200 and len(CODE.findall(done.text)) == expected
    assert all(_codes_in_db(session, t.id) == 1 for t in targets)


def _count_unactivated_members_of_wuhua(session) -> int:
    from tests.accounts.helpers import as_principal

    return service.codes_preview(session, as_principal(session, f.persona(session, "county_staff")),
                                 org_id=f.org(session, WUHUA).id)[0]


def test_the_confirmation_offers_activated_members_too(client, session):
    wuhua = f.org(session, WUHUA)
    member_account(session, WUHUA, activated=True)
    _staff(client, session)
    page = client.get("/admin/users/codes/confirm", params={"org_id": wuhua.id, "only_unactivated": "0"})
    assert page.status_code == 200 and "包括已激活的委员" in page.text and 'value="0"' in page.text


def test_codes_without_a_choice_are_refused(client, session):
    _staff(client, session)
    r = client.post("/admin/users/codes", data={"format": "html"})
    assert r.status_code == 422 and "请先勾选" in r.text


def test_outsiders_cannot_issue_codes(client, session):
    target = member_account(session, PANLONG)
    _staff(client, session)
    assert client.post("/admin/users/codes", data={"user_ids": [target.id]}).status_code == 404
    assert client.post("/admin/users/codes", data={"org_id": f.org(session, PANLONG).id, "confirmed": "1"}
                       ).status_code == 404
    assert client.get("/admin/users/codes/confirm", params={"org_id": f.org(session, PANLONG).id}).status_code == 404
    assert _codes_in_db(session, target.id) == 0


# --- an account's page -------------------------------------------------------------------------

def test_the_account_page(client, session):
    target = member_account(session, WUHUA, name="冯详情")
    staff = _staff(client, session)
    client.post(f"/admin/users/{target.id}/disable")
    r = client.get(f"/admin/users/{target.id}")
    assert r.status_code == 200 and "冯详情" in r.text and "已停用" in r.text and "启用账号" in r.text
    assert "停用账号" in r.text  # the entry in the recent log
    assert "委员" in r.text and "授予权限" in r.text and "最近操作记录" in r.text
    assert staff.display_name in r.text


def test_a_grant_made_just_after_midnight_shows_the_beijing_day(client, session, clock):
    new_year = date(today_cn().year + 1, 1, 1)
    clock.freeze(datetime.combine(new_year, time(0, 30), CN))  # still 16:30 UTC of 31 December
    target = member_account(session, WUHUA, name="褚新年")
    _staff(client, session)
    r = client.get(f"/admin/users/{target.id}")
    assert f'<td data-label="授予时间">{new_year.isoformat()}</td>' in r.text


def test_a_sibling_prefectures_staff_get_404_on_an_account(client, session):
    target = member_account(session, WUHUA)
    _staff(client, session, "outsider_staff")
    assert client.get(f"/admin/users/{target.id}").status_code == 404
    assert client.post(f"/admin/users/{target.id}/disable").status_code == 404
    grant = client.post(f"/admin/users/{target.id}/grants", data={"role": "member", "org_id": f.org(session, "530300").id})
    assert grant.status_code == 404
    assert target.is_active


def test_a_county_staff_gets_404_on_another_county(client, session):
    target = member_account(session, PANLONG)
    grant = session.scalar(select(RoleGrant).where(RoleGrant.user_id == target.id))
    _staff(client, session, "county_staff")
    assert client.get(f"/admin/users/{target.id}").status_code == 404
    assert client.post(f"/admin/users/{target.id}/disable").status_code == 404
    assert client.post(f"/admin/users/{target.id}/enable").status_code == 404
    assert client.post(f"/admin/grants/{grant.id}/revoke").status_code == 404
    assert target.is_active and session.get(RoleGrant, grant.id) is not None


def test_disable_and_enable_redirect_back(client, session):
    target = member_account(session, WUHUA, activated=True)
    _, raw = auth.start_session(session, user=target, ip="phone", user_agent="x")
    _staff(client, session)
    r = client.post(f"/admin/users/{target.id}/disable", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/users/{target.id}?done=disabled"
    assert not target.is_active and auth.principal_for(session, raw) is None
    assert "所有登录已退出" in client.get(r.headers["location"]).text
    r = client.post(f"/admin/users/{target.id}/enable", headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["hx-redirect"] == f"/admin/users/{target.id}?done=enabled"
    assert target.is_active


def test_one_cannot_disable_oneself(client, session):
    staff = _staff(client, session)
    r = client.post(f"/admin/users/{staff.id}/disable")
    assert r.status_code == 409 and "不能停用自己的账号" in r.text
    assert staff.is_active


def test_granting_from_the_page(client, session):
    target = member_account(session, WUHUA)
    wuhua = f.org(session, WUHUA)
    _staff(client, session)
    page = client.get(f"/admin/users/{target.id}")
    assert 'value="admin"' not in page.text  # the picker offers no role above the caller's
    assert f'value="{f.org(session, PANLONG).id}"' not in page.text  # nor organisations outside scope
    r = client.post(f"/admin/users/{target.id}/grants", data={"role": "leader", "org_id": wuhua.id},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=granted")
    assert session.scalar(select(RoleGrant).where(RoleGrant.user_id == target.id, RoleGrant.role == "leader"))
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "grant.create",
                                                  AuditLog.target_id == str(target.id)))
    assert entry.org_id == wuhua.id
    again = client.post(f"/admin/users/{target.id}/grants", data={"role": "leader", "org_id": wuhua.id})
    assert again.status_code == 409 and "已有「领导/专委会负责人」权限" in again.text and "授予权限" in again.text


def test_a_county_staff_cannot_grant_admin_or_on_the_province(client, session):
    target = member_account(session, WUHUA)
    _staff(client, session)
    admin = client.post(f"/admin/users/{target.id}/grants", data={"role": "admin", "org_id": f.org(session, WUHUA).id})
    assert admin.status_code == 403 and "不能授予高于您自己的权限" in admin.text
    for code in (PROVINCE, KUNMING):
        r = client.post(f"/admin/users/{target.id}/grants", data={"role": "member", "org_id": f.org(session, code).id})
        assert r.status_code == 403 and "管辖的组织范围" in r.text
    missing = client.post(f"/admin/users/{target.id}/grants", data={"role": "", "org_id": ""})
    assert missing.status_code == 422 and "请选择权限类型" in missing.text
    roles = {g.role for g in session.scalars(select(RoleGrant).where(RoleGrant.user_id == target.id))}
    assert roles == {GrantRole.member}


def test_revoking_from_the_page(client, session):
    wuhua = f.org(session, WUHUA)
    target = member_account(session, WUHUA, grants=((GrantRole.member, wuhua), (GrantRole.leader, wuhua)))
    leader = session.scalar(select(RoleGrant).where(RoleGrant.user_id == target.id, RoleGrant.role == "leader"))
    _staff(client, session)
    assert f"/admin/grants/{leader.id}/revoke" in client.get(f"/admin/users/{target.id}").text
    r = client.post(f"/admin/grants/{leader.id}/revoke", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/admin/users/{target.id}?done=revoked"
    assert session.get(RoleGrant, leader.id) is None
    assert client.post(f"/admin/grants/{leader.id}/revoke").status_code == 404


def test_posts_without_the_csrf_token_are_refused(client, session):
    target = member_account(session, WUHUA)
    _staff(client, session)
    del client.headers["X-CSRF-Token"]
    r = client.post(f"/admin/users/{target.id}/disable", follow_redirects=False)
    assert r.status_code == 403 and "刷新页面" in r.text
    assert client.post("/admin/users/codes", data={"user_ids": [target.id]}).status_code == 403
    assert target.is_active and _codes_in_db(session, target.id) == 0


def test_the_hidden_field_works_without_javascript(client, session):
    target = member_account(session, WUHUA)
    _staff(client, session)
    token = client.headers.pop("X-CSRF-Token")
    r = client.post(f"/admin/users/{target.id}/disable", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and not target.is_active


# --- the audit log --------------------------------------------------------------------------------

def test_the_log_page_in_beijing_time(client, session):
    from datetime import datetime

    from app.audit.service import Actor, record

    staff = _staff(client, session)
    entry = record(session, actor=Actor(staff.id, "8.8.8.8"), action="grant.create", target_type="user",
                   target_id="42", org_id=f.org(session, WUHUA).id, after={"role": "leader", "org": "五华区政协"})
    entry.at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    hidden = record(session, actor=Actor(None), action="grant.create", target_type="user", target_id="43",
                    org_id=f.org(session, PANLONG).id)
    session.flush()
    r = client.get("/admin/audit", params={"action": "grant."})
    assert r.status_code == 200 and "操作日志" in r.text and "<html" in r.text
    assert "2026-03-02 00:30:00" in r.text and "2026-03-01 16:30:00 UTC" in r.text
    assert "授予权限" in r.text and "<details>" in r.text and "五华区政协" in r.text and "8.8.8.8" in r.text
    assert 'href="/admin/users/42"' in r.text and 'href="/admin/users/43"' not in r.text
    frag = client.get("/admin/audit", params={"action": "grant.", "since": "2026-03-02", "until": "2026-03-02"},
                      headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text and frag.text.lstrip().startswith('<div id="audit-results">')
    assert "2026-03-02 00:30:00" in frag.text
    none = client.get("/admin/audit", params={"action": "grant.", "since": "2026-03-03", "until": ""})
    assert "没有符合条件的记录" in none.text
    assert hidden.id


def test_the_log_refuses_a_bad_date(client, session):
    _staff(client, session)
    assert client.get("/admin/audit", params={"since": "yesterday"}).status_code == 422


def test_a_sibling_prefectures_staff_do_not_see_the_countys_log(client, session):
    from app.audit.service import Actor, record

    record(session, actor=Actor(None), action="secret.thing", target_type="user", target_id="7",
           org_id=f.org(session, WUHUA).id)
    session.flush()
    _staff(client, session, "outsider_staff")
    r = client.get("/admin/audit", params={"action": "secret."})
    assert r.status_code == 200 and "没有符合条件的记录" in r.text


def test_an_id_beyond_the_database_is_a_clear_refusal_not_a_server_error(client, session):
    from tests import factories as f

    f.login_as(client, session, f.persona(session, "province_staff"))
    answer = client.get("/admin/users?org_id=" + "9" * 23)
    assert answer.status_code == 422
