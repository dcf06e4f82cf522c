"""履职档案 (issue 20, part 4): the read model, who sees whose record, the page, the Word file, the API."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.shared import Cm
from sqlalchemy import select

from app.auth.service import build_principal
from app.errors import NotFound
from app.models import (
    ActivityStatus,
    Committee,
    GrantRole,
    LinkAssignment,
    MemberRole,
    Membership,
    Term,
    UserAccount,
)
from app.profiles import service
from app.rollup import service as rollup
from tests import factories as f


class World:
    """五华区's member 张委员: 第1届 委员 until a year ago, then 第2届 常委 (副主任, 农业农村委); records one
    activity, joins one of a colleague's, withdrew one; leads 盘龙区 (in force) and led 官渡区 (ended)."""

    def __init__(self, s):
        self.s = s
        self.wuhua, self.panlong, self.guandu = f.org(s, "530102"), f.org(s, "530103"), f.org(s, "530111")
        self.member = f.make_member(s, self.wuhua, name="张委员")
        self.member.enterprise = "五华果业有限公司"
        self.user = f.make_user(s, member=self.member, grants=((GrantRole.member, self.wuhua),))
        term1 = f.term_for(s, self.wuhua)
        self.second_from = f.months_ago(12)
        term2 = Term(org_id=self.wuhua.id, number=term1.number + 1, start_date=self.second_from)
        self.committee = Committee(org_id=self.wuhua.id, name="农业农村委")
        s.add_all([term2, self.committee])
        s.flush()
        term1.end_date = self.second_from - timedelta(days=1)
        before = rollup.member_masks(s, [self.member.id])
        first = s.scalar(select(Membership).where(Membership.member_id == self.member.id))
        first.end_date = term1.end_date
        s.add(Membership(member_id=self.member.id, org_id=self.wuhua.id, term_id=term2.id, role=MemberRole.standing,
                         title="农业农村委副主任", committee_id=self.committee.id, start_date=self.second_from))
        s.flush()
        rollup.members_changed(s, before, [self.member.id])
        self.colleague = f.make_member(s, self.wuhua, name="李委员")
        colleague_user = f.make_user(s, member=self.colleague, grants=((GrantRole.member, self.wuhua),))
        self.task = f.task(s, 1)
        self.indicator = f.indicators(s, self.task)[0]
        self.recorded = f.make_activity(s, recorder=self.user, credited=self.wuhua, county=self.wuhua, task_=self.task,
                                        values={self.indicator.id: 1250}, occurred_on=f.months_ago(1, 5),
                                        status=ActivityStatus.verified, participants=(self.member,))
        self.joined = f.make_activity(s, recorder=colleague_user, credited=self.wuhua, county=self.panlong,
                                      task_=self.task, values={self.indicator.id: 3}, occurred_on=f.months_ago(14, 9),
                                      participants=(self.colleague, self.member))
        self.withdrawn = f.make_activity(s, recorder=self.user, credited=self.wuhua, county=self.wuhua,
                                         task_=self.task, values={self.indicator.id: 9},
                                         occurred_on=f.months_ago(1, 6), status=ActivityStatus.withdrawn)
        # Someone else's activity the member did not take part in: not theirs.
        f.make_activity(s, recorder=colleague_user, credited=self.wuhua, county=self.wuhua, task_=self.task,
                        values={self.indicator.id: 5}, participants=(self.colleague,))
        self.link = LinkAssignment(leader_member_id=self.member.id, county_id=self.panlong.id, role="lead",
                                   start_date=f.months_ago(6))
        self.old_link = LinkAssignment(leader_member_id=self.member.id, county_id=self.guandu.id, role="liaison",
                                       start_date=f.months_ago(20), end_date=f.months_ago(13))
        s.add_all([self.link, self.old_link])
        s.flush()

    def principal(self, user):
        return build_principal(self.s, user)


@pytest.fixture
def w(session) -> World:
    return World(session)


def test_the_record_holds_both_terms_the_committee_the_links_and_every_activity(session, w):
    p = service.build_profile(session, w.principal(f.persona(session, "county_staff")), w.member.id)
    assert (p.member.name, p.member.sector, p.member.enterprise, p.member.serving) == (
        "张委员", "经济界", "五华果业有限公司", True)
    # 换届 history: the current seat first, the first term's kept with its end date.
    assert [(m.term_number, m.role_label, m.title, m.committee_name, m.current) for m in p.memberships] == [
        (2, "常委", "农业农村委副主任", "农业农村委", True), (1, "委员", None, None, False)]
    assert p.memberships[1].end_date == w.second_from - timedelta(days=1)
    assert p.committee_name == "农业农村委"
    assert [(k.county_name, k.role_label, k.state_label) for k in p.links] == [
        (w.panlong.name.removesuffix("政协"), "挂联领导", "挂联中"),
        (w.guandu.name.removesuffix("政协"), "联络员", "已结束")]
    items = p.activities.items
    assert [(a.id, a.role, a.status) for a in items] == [
        (w.withdrawn.id, "recorder", "withdrawn"), (w.recorded.id, "recorder", "verified"),
        (w.joined.id, "participant", "pending")]
    assert p.activities.total == 3
    assert items[1].values[0].display == "1250" and items[2].county_name == w.panlong.name.removesuffix("政协")
    # Counts per year by the activity's date; the withdrawn one is left out.
    expected: dict[int, tuple[int, int, int, int]] = {}
    for a, verified, recorded in ((w.recorded, 1, 1), (w.joined, 0, 0)):
        t, v, r, j = expected.get(a.occurred_on.year, (0, 0, 0, 0))
        expected[a.occurred_on.year] = (t + 1, v + verified, r + recorded, j + 1 - recorded)
    assert {y.year: (y.total, y.verified, y.recorded, y.joined) for y in p.years} == expected
    assert [y.year for y in p.years] == sorted(expected, reverse=True)
    assert p.honours == []  # 典型: a hook until part 3 adds them


def test_an_office_reads_the_whole_record_of_a_member_who_served_there_and_opens_only_its_activities(session, w):
    """A record is read whole (activities and 挂联 elsewhere too); an activity's own page keeps its rule,
    so the record marks which ones the caller may open."""
    panlong_staff = f.make_user(session, grants=((GrantRole.staff, w.panlong),))
    with pytest.raises(NotFound):  # linked to 盘龙区, but never served there: not 盘龙区's member
        service.build_profile(session, w.principal(panlong_staff), w.member.id)
    term = f.term_for(session, w.panlong)
    session.add(Membership(member_id=w.member.id, org_id=w.panlong.id, term_id=term.id, role=MemberRole.member,
                           start_date=f.months_ago(0, 1), end_date=None))
    session.flush()
    p = service.build_profile(session, w.principal(panlong_staff), w.member.id)
    assert p.activities.total == 3 and len(p.links) == 2
    assert {a.id: a.openable for a in p.activities.items} == {w.joined.id: True, w.recorded.id: False,
                                                              w.withdrawn.id: False}  # done in 盘龙区, or not
    own = service.build_profile(session, w.principal(w.user), w.member.id)
    assert all(a.openable for a in own.activities.items)


@pytest.mark.parametrize(("who", "sees", "phone"), [
    ("self", True, True), ("county_staff", True, True), ("prefecture_staff", True, True),
    ("viewer", True, False), ("colleague", False, False), ("outsider_staff", False, False),
    ("outsider_member", False, False)])
def test_who_sees_whose_record(session, w, who, sees, phone):
    if who == "self":
        user = w.user
    elif who == "colleague":  # a member of the same county, with a member grant only
        user = session.scalar(select(UserAccount).where(UserAccount.member_id == w.colleague.id))
    else:
        user = f.persona(session, who)
    by = w.principal(user)
    if not sees:
        with pytest.raises(NotFound):
            service.build_profile(session, by, w.member.id)
        return
    p = service.build_profile(session, by, w.member.id)
    assert (p.member.phone == w.member.phone) is phone and (p.member.phone is None) is not phone
    assert p.activities.total == 3


def test_a_past_member_is_read_by_the_office_they_served_in_and_a_missing_one_is_404(session, w):
    for ms in session.scalars(select(Membership).where(Membership.member_id == w.member.id)):
        ms.end_date = ms.end_date or f.months_ago(0, 1)
    session.flush()
    p = service.build_profile(session, w.principal(f.persona(session, "county_staff")), w.member.id)
    assert not p.member.serving and p.memberships[0].current is False
    with pytest.raises(NotFound):
        service.build_profile(session, w.principal(f.persona(session, "county_staff")), 10**12)


def test_a_member_without_a_member_grant_does_not_read_their_own(session, w):
    other = f.make_member(session, w.wuhua)
    bare = f.make_user(session, member=other)  # an account tied to a member, but no grant
    with pytest.raises(NotFound):
        service.build_profile(session, w.principal(bare), other.id)


# --- the page ---------------------------------------------------------------------------------------

def test_the_page_for_the_office_and_for_the_member(client, session, w):
    f.login_as(client, session, f.persona(session, "county_staff"))
    r = client.get(f"/members/{w.member.id}/profile")
    assert r.status_code == 200
    assert "张委员 · 履职档案" in r.text and "农业农村委副主任" in r.text and "挂联中" in r.text
    assert w.member.phone in r.text and "第2届" in r.text and "第1届" in r.text
    assert f'href="/members/{w.member.id}/profile.docx"' in r.text
    # The office's member list links each member's record.
    assert f'href="/members/{w.member.id}/profile"' in client.get("/manage/members").text
    assert f'href="/members/{w.member.id}/profile"' in client.get(f"/manage/members/{w.member.id}").text

    f.login_as(client, session, w.user)
    mine = client.get("/me/profile")
    assert mine.status_code == 200 and "我的履职档案" in mine.text and w.member.phone in mine.text
    assert 'href="/me/profile"' in client.get("/activities/mine").text

    f.login_as(client, session, f.persona(session, "viewer"))
    viewer = client.get(f"/members/{w.member.id}/profile")
    assert viewer.status_code == 200 and w.member.phone not in viewer.text


def test_outsiders_get_404_on_the_page_the_file_and_the_api(client, session, w):
    f.login_as(client, session, f.persona(session, "outsider_staff"))
    for url in (f"/members/{w.member.id}/profile", f"/members/{w.member.id}/profile.docx",
                f"/api/v1/members/{w.member.id}/profile", f"/api/v1/members/{w.member.id}/activities"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert "张委员" not in r.text
    staff = f.persona(session, "county_staff")
    f.login_as(client, session, staff)
    assert client.get("/me/profile").status_code == 404  # staff without a member: no record of their own
    assert client.get("/members/0/profile").status_code == 422


def test_activities_page_fifty_at_a_time_and_an_empty_record_says_so(client, session, w):
    for n in range(50):
        f.make_activity(session, recorder=w.user, credited=w.wuhua, county=w.wuhua, task_=w.task,
                        values={w.indicator.id: 1}, occurred_on=f.months_ago(2, 1 + n % 28))
    f.login_as(client, session, w.user)
    first = client.get("/me/profile")
    assert first.text.count('class="activity-item"') == 50 and "共 53 条，第 1 / 2 页" in first.text
    second = client.get("/me/profile?page=2", headers={"HX-Request": "true"})
    assert second.text.count('class="activity-item"') == 3 and "<html" not in second.text  # the block only
    assert "这一页没有活动" in client.get("/me/profile?page=3").text

    lone = f.make_member(session, w.wuhua, name="王委员")
    f.login_as(client, session, f.make_user(session, member=lone, grants=((GrantRole.member, w.wuhua),)))
    empty = client.get("/me/profile")
    assert "还没有活动" in empty.text and "没有挂联" in empty.text and "暂无" in empty.text


# --- the Word file -----------------------------------------------------------------------------------

def test_the_word_file_shows_the_page_s_figures(client, session, w):
    f.login_as(client, session, f.persona(session, "county_staff"))
    r = client.get(f"/members/{w.member.id}/profile.docx")
    assert r.status_code == 200 and r.headers["content-type"].endswith("wordprocessingml.document")
    doc = Document(io.BytesIO(r.content))
    section = doc.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT and abs(section.page_width - Cm(21)) < Cm(0.01)
    assert doc.paragraphs[0].text == "张委员履职档案" and doc.paragraphs[0].style.name == "公文标题"
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [[c.text for c in row.cells] for t in doc.tables for row in t.rows]
    assert "现任" in text and "农业农村委副主任" in text and w.member.phone not in text + str(cells)
    page = service.build_profile(session, w.principal(f.persona(session, "county_staff")), w.member.id)
    for y in page.years:  # the year table: the page's figures
        assert [f"{y.year}年", str(y.total), str(y.verified), str(y.recorded), str(y.joined), str(y.counties)] in cells
    flat = "\n".join(c for row in cells for c in row)
    for a in page.activities.items:
        assert a.occurred_on.isoformat() in flat
        assert f"{a.values[0].name} {a.values[0].display}{a.values[0].unit}" in flat
    assert "挂联中" in flat and "已结束" in flat and "暂无。" in text


# --- the API -----------------------------------------------------------------------------------------

def test_the_api_answers_the_record_and_pages_the_activities(client, session, w):
    f.login_as(client, session, f.persona(session, "viewer"))
    body = client.get(f"/api/v1/members/{w.member.id}/profile").json()
    assert body["member"]["name"] == "张委员" and body["member"]["phone"] is None
    assert [m["term_number"] for m in body["memberships"]] == [2, 1] and body["honours"] == []
    assert body["activities"]["total"] == 3 and body["links"][0]["state"] == "active"
    page = client.get(f"/api/v1/members/{w.member.id}/activities?per_page=2&page=2").json()
    assert page["total"] == 3 and [a["id"] for a in page["items"]] == [w.joined.id]
    assert page["items"][0]["role"] == "participant" and page["items"][0]["values"][0]["display"] == "3"
    assert client.get(f"/api/v1/members/{w.member.id}/activities?per_page=500").status_code == 422


def test_api_tokens_read_a_record_as_a_viewer_of_their_subtree_never_with_the_phone(client, session, w):
    from tests.api.conftest import bearer, make_token

    url = f"/api/v1/members/{w.member.id}/profile"
    _, records = make_token(session, code="530100", level="records")
    body = client.get(url, headers=bearer(records)).json()
    assert body["member"]["name"] == "张委员" and body["member"]["phone"] is None
    _, aggregate = make_token(session, code="530100")
    assert client.get(url, headers=bearer(aggregate)).status_code == 403  # details need a records token
    _, elsewhere = make_token(session, code="530300", level="records")
    assert client.get(url, headers=bearer(elsewhere)).status_code == 404
    # A write token bound to the member acts for them, but is not them signed in: still no phone.
    _, bound = make_token(session, code="530102", level="records", phone=w.member.phone)
    assert client.get(url, headers=bearer(bound)).json()["member"]["phone"] is None
