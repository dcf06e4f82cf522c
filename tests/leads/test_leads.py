"""牵头统筹 (app/leads/): 委员活动小组 (members of the subtree, a leader among them, one name per
organisation, changes by version), a 实事 led by a 专委会 or a group (scope, once per submission, no
overlap for one body, ending), and a lead's progress — equal to a recount of the raw rows — on the
service, the pages and the JSON API."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.leads import service
from app.leads.schemas import GroupInput, LeadCreate
from app.models import (
    ActivityGroup,
    ActivityStatus,
    AuditLog,
    Committee,
    Membership,
    ParticipantStatus,
    TaskLead,
)
from app.orgs.service import subtree_ids
from tests import factories as f
from tests.meeting.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # lean: PostgreSQL once, below


class Leads:
    """On the meeting's world (昆明 530100, 五华 530102, 盘龙 530103; 曲靖 530300 outside; 23 November):
    a 昆明 committee with 甲 and 乙 on it, 丙 in 五华 (no committee), 丁 in 曲靖."""

    def __init__(self, world):
        self.w, s = world, world.s
        self.committee = Committee(org_id=world.kunming.id, name="测试经济委")
        s.add(self.committee)
        s.flush()
        self.a = f.make_member(s, world.kunming, name="测甲")
        self.b = f.make_member(s, world.kunming, name="测乙")
        self.c = f.make_member(s, world.wuhua, name="测丙")
        self.d = f.make_member(s, world.qujing, name="测丁")
        for m in (self.a, self.b):
            s.scalar(select(Membership).where(Membership.member_id == m.id)).committee_id = self.committee.id
        s.flush()
        self.recorder = f.make_user(s)

    def lead(self, *, kind="committee", body=None, start=date(YEAR, 3, 1), end=None, key="k1", by=None):
        data = LeadCreate(task_id=self.w.task.id, body_kind=kind, body_id=body or self.committee.id,
                          start_date=start, end_date=end, note="")
        return service.create_lead(self.w.s, by=self.w.p(by or self.w.staff), org=self.w.kunming, data=data,
                                   submission_key=key)

    def activity(self, on: date, count: int, *people, status=ActivityStatus.verified, task=None, county=None):
        indicator = f.indicators(self.w.s, task)[0].id if task else self.w.count.id
        return f.make_activity(self.w.s, recorder=self.recorder, credited=county or self.w.wuhua,
                               county=county or self.w.wuhua, task_=task or self.w.task,
                               values={indicator: count}, occurred_on=on, status=status, participants=people)


@pytest.fixture
def leads(world):
    return Leads(world)


def _audits(s, action):
    return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


@SQLITE
def test_a_group_is_members_of_the_subtree_with_a_leader_among_them(world, leads):
    s, by = world.s, world.p(world.staff)
    with pytest.raises(Invalid) as got:
        service.create_group(s, by=by, org=world.kunming, data=GroupInput(
            name=" ", member_ids=[leads.a.id, leads.d.id], leader_member_id=leads.c.id))
    assert set(got.value.errors) == {"name", "members", "leader"}  # 丁 serves in 曲靖, 丙 is not in the group
    data = GroupInput(name="产业小组", member_ids=[leads.a.id, leads.c.id], leader_member_id=leads.c.id)
    group, created = service.create_group(s, by=by, org=world.kunming, data=data)
    assert created and [m.name for m in service.group_members(s, group.id)] == ["测丙", "测甲"]
    again, created = service.create_group(s, by=by, org=world.kunming, data=data)  # the same form sent again
    assert again.id == group.id and not created
    with pytest.raises(Conflict, match="已有名为「产业小组」"):
        service.create_group(s, by=by, org=world.kunming, data=GroupInput(name="产业小组", member_ids=[leads.a.id]))
    with pytest.raises((NotFound, Forbidden)):
        service.create_group(s, by=world.p(world.outsider), org=world.kunming, data=data)
    changed = service.change_group(s, by=by, group_id=group.id, version=1, data=GroupInput(
        name="产业帮扶小组", member_ids=[leads.a.id, leads.b.id], leader_member_id=leads.a.id))
    assert changed.version == 2 and {m.id for m in service.group_members(s, group.id)} == {leads.a.id, leads.b.id}
    with pytest.raises(Conflict, match="已被他人修改"):
        service.change_group(s, by=by, group_id=group.id, version=1, data=GroupInput(
            name="别的名字", member_ids=[leads.a.id]))
    with pytest.raises(NotFound):
        service.group_for_read(s, world.p(world.outsider), group.id)
    assert (_audits(s, "group.create"), _audits(s, "group.change")) == (1, 1)
    # Typed names and numbers, as the page takes them: a namesake asks for the number.
    f.make_member(s, world.panlong, name="测甲")
    ids, problems = service.resolve_members(s, world.kunming, f"测乙\n{leads.c.phone}，测甲、无此人")
    assert ids == [leads.b.id, leads.c.id]
    assert problems == ["有 2 位委员叫「测甲」，请改填手机号", "「无此人」不是昆明市政协（含下级）的在任委员"]


def _lead_rules(world, leads):
    s = world.s
    lead, created = leads.lead()
    assert created and lead.committee_id == leads.committee.id and lead.group_id is None
    assert leads.lead()[0].id == lead.id  # a retried POST
    assert s.scalar(select(func.count()).select_from(TaskLead)) == 1 and _audits(s, "lead.create") == 1
    with pytest.raises(Conflict, match="这段时间已牵头"):
        leads.lead(start=date(YEAR, 6, 1), key="k2")
    other = Committee(org_id=world.qujing.id, name="曲靖的委员会")
    s.add(other)
    s.flush()
    with pytest.raises(Invalid) as got:
        leads.lead(body=other.id, key="k3")  # a body of another organisation
    assert "body" in got.value.errors
    with pytest.raises(Invalid) as got:
        leads.lead(start=date(YEAR, 3, 1), end=date(YEAR, 3, 1), key="k4")
    assert "end_date" in got.value.errors
    with pytest.raises((NotFound, Forbidden)):
        leads.lead(by=world.outsider, key="k5")
    with pytest.raises(NotFound):
        leads.lead(by=world.county_staff, key="k6")  # 五华's office does not even read 昆明
    with pytest.raises(Forbidden):
        leads.lead(by=world.kunming_viewer, key="k6")  # reads 昆明, may not act for it
    ended = service.end_lead(s, by=world.p(world.staff), lead_id=lead.id, end_date=date(YEAR, 10, 1))
    assert ended.end_date == date(YEAR, 10, 1) and service.state_of(ended, TODAY) == "ended"
    assert leads.lead(start=date(YEAR, 10, 1), key="k7")[1]  # after it ended, it may lead again
    with pytest.raises(NotFound):
        service.lead_for_read(s, world.p(world.outsider), lead.id)


@SQLITE
def test_a_lead_is_made_once_never_overlaps_and_ends(world, leads):
    _lead_rules(world, leads)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_lead_rules_on_postgresql(world, leads):
    _lead_rules(world, leads)


def _recount(world, leads, lead, period):
    """The body's part from the raw rows, by the definition in the service's docstring."""
    first, last = max(period.start, lead.start_date), min(period.end, TODAY)
    body = {leads.a.id, leads.b.id}
    found = {}
    for a in world.s.scalars(select(service.Activity).where(service.Activity.task_id == world.task.id)):
        people = {p.member_id for p in world.s.scalars(select(service.ActivityParticipant).where(
            service.ActivityParticipant.activity_id == a.id,
            service.ActivityParticipant.status == ParticipantStatus.confirmed.value))} & body
        inside = a.credited_org_id in set(world.s.scalars(subtree_ids(world.kunming.id)))
        if a.status == ActivityStatus.verified.value and people and inside and first <= a.occurred_on <= last:
            found[a.id] = (people, a.occurred_on)
    value = sum(v.value for v in world.s.scalars(select(service.ActivityValue).where(
        service.ActivityValue.activity_id.in_(found), service.ActivityValue.indicator_id == world.count.id)))
    took = set().union(*(p for p, _ in found.values())) if found else set()
    return len(found), len(took), value, max((d for _, d in found.values()), default=None)


@SQLITE
def test_progress_is_the_bodys_verified_activities_once_each_in_the_span(world, leads):
    lead, _ = leads.lead(start=date(YEAR, 3, 1))
    leads.activity(date(YEAR, 2, 20), 9, leads.a)  # before the lead began
    leads.activity(date(YEAR, 4, 2), 3, leads.a)
    leads.activity(date(YEAR, 5, 6), 4, leads.a, leads.b, leads.c)  # two of the body in one activity: once
    leads.activity(date(YEAR, 6, 9), 5, leads.b, status=ActivityStatus.pending)  # not verified
    leads.activity(date(YEAR, 7, 1), 6, leads.c)  # not of the body
    leads.activity(date(YEAR, 8, 1), 7, leads.b, task=f.task(world.s, 1))  # another 实事
    leads.activity(date(YEAR, 9, 3), 2, leads.a, county=f.org(world.s, "530302"))  # credited outside 昆明
    period = world.period()
    p = service.progress(world.s, lead, period)
    assert (p.activities, p.took_part, p.values[world.count.id], p.last_on) == _recount(world, leads, lead, period)
    assert (p.activities, p.took_part, p.values[world.count.id], p.last_on) == (2, 2, 7, date(YEAR, 5, 6))
    assert p.members == 2 and p.rate == 1.0 and (p.first, p.last) == (date(YEAR, 3, 1), TODAY)
    assert [(m.name, m.activities) for m in p.parts] == [("测甲", 2), ("测乙", 1)]
    # The 实事's own figures come from the boards (the rollup): every verified one in 昆明's subtree.
    assert p.task is not None and p.task.activities[0] == 4
    # A group leads too: its members now.
    group, _ = service.create_group(world.s, by=world.p(world.staff), org=world.kunming,
                                    data=GroupInput(name="小组", member_ids=[leads.c.id]))
    g = service.progress(world.s, leads.lead(kind="group", body=group.id, key="g")[0], period)
    assert (g.members, g.took_part, g.activities, g.values[world.count.id]) == (1, 1, 2, 10)
    # A period outside the span counts nothing.
    early = service.progress(world.s, lead, world.period(f"{YEAR}-01"))
    assert early.first is None and early.activities == 0


def _key(html: str) -> str:
    return re.search(r'name="submission_key" value="([^"]+)"', html).group(1)


@SQLITE
def test_pages_set_up_a_group_and_a_lead_and_show_its_progress(client, world, leads):
    s = world.s
    f.login_as(client, s, world.staff)
    empty = client.get("/leads/530100")
    assert empty.status_code == 200 and "还没有专委会或活动小组牵头统筹的实事" in empty.text and "设置牵头统筹" in empty.text
    bad = client.post("/leads/530100/groups", data={"name": "<b>小组</b>", "members": "测甲\n无此人", "leader": ""})
    assert bad.status_code == 422 and "「无此人」不是昆明市政协（含下级）的在任委员" in bad.text
    assert "&lt;b&gt;小组&lt;/b&gt;" in bad.text  # typed text comes back as text
    made = client.post("/leads/530100/groups", data={"name": "<b>小组</b>", "members": f"测甲\n{leads.c.phone}",
                                                     "leader": "测甲"}, follow_redirects=False)
    assert made.status_code == 303
    group = s.scalar(select(ActivityGroup).where(ActivityGroup.name == "<b>小组</b>"))
    assert group.leader_member_id == leads.a.id
    shown = client.get(made.headers["location"])
    assert "已保存活动小组" in shown.text and "<b>小组</b>" not in shown.text and "&lt;b&gt;小组&lt;/b&gt;" in shown.text

    page = client.get("/leads/530100")
    form = {"task_id": str(world.task.id), "body": f"group:{group.id}", "start_date": date(YEAR, 3, 1).isoformat(),
            "submission_key": _key(page.text)}
    refused = client.post("/leads/530100", data={**form, "body": "group:999999"})
    assert refused.status_code == 422 and "请选择本组织的专委会或活动小组" in refused.text
    done = client.post("/leads/530100", data=form, follow_redirects=False)
    assert done.status_code == 303 and client.post("/leads/530100", data=form, follow_redirects=False).status_code == 303
    assert s.scalar(select(func.count()).select_from(TaskLead)) == 1
    leads.activity(date(YEAR, 5, 6), 4, leads.a, leads.c)
    view = client.get(done.headers["location"])
    assert view.status_code == 200 and "已设置牵头统筹" in view.text
    assert re.search(r'id="took-part">2 / 2<', view.text) and re.search(r'id="body-activities">1<', view.text)
    index = client.get(f"/leads/530100?period={YEAR}-ytd11")
    assert "&lt;b&gt;小组&lt;/b&gt;" in index.text and "2 / 2 人" in index.text
    assert f'<option value="{YEAR}-ytd11" selected>{YEAR}年1月至11月</option>' in index.text  # the picker shows it
    lead = s.scalar(select(TaskLead))
    unconfirmed = client.post(f"/task-leads/{lead.id}/end", data={"end_date": TODAY.isoformat()})
    assert unconfirmed.status_code == 422 and "确认结束" in unconfirmed.text
    ended = client.post(f"/task-leads/{lead.id}/end", data={"end_date": TODAY.isoformat(), "confirm": "1"},
                        follow_redirects=False)
    assert ended.status_code == 303
    s.refresh(lead)
    assert lead.end_date == TODAY
    # A reader who is not the office sees, without the forms.
    f.login_as(client, s, world.kunming_viewer)
    read_only = client.get("/leads/530100")
    assert read_only.status_code == 200 and "设置牵头统筹" not in read_only.text
    assert client.post("/leads/530100", data={**form, "submission_key": "x"}).status_code == 403


@SQLITE
def test_api_lists_creates_once_and_reads_progress_in_scope(client, world, leads):
    s = world.s
    f.login_as(client, s, world.staff)
    body = {"task_id": world.task.id, "body_kind": "committee", "body_id": leads.committee.id,
            "start_date": date(YEAR, 3, 1).isoformat()}
    assert client.post("/api/v1/orgs/530100/task-leads", json=body).status_code == 422  # no Idempotency-Key
    made = client.post("/api/v1/orgs/530100/task-leads", json=body, headers={"Idempotency-Key": "a1"})
    assert made.status_code == 201 and made.json()["body"] == "测试经济委" and made.json()["state"] == "active"
    replay = client.post("/api/v1/orgs/530100/task-leads", json=body, headers={"Idempotency-Key": "a1"})
    assert replay.status_code == 200 and replay.json()["id"] == made.json()["id"]
    leads.activity(date(YEAR, 4, 2), 3, leads.a)
    got = client.get(f"/api/v1/task-leads/{made.json()['id']}/progress?period={YEAR}-ytd11").json()
    assert (got["activities"], got["took_part"], got["members"], got["participation"]) == (1, 1, 2, 0.5)
    row = next(i for i in got["indicators"] if i["indicator_id"] == world.count.id)
    assert row["by_body"] == "3" and got["parts"][0]["member"]["name"] == "测甲"
    assert [x["id"] for x in client.get("/api/v1/orgs/530100/task-leads").json()] == [made.json()["id"]]
    group = client.post("/api/v1/orgs/530100/activity-groups",
                        json={"name": "小组", "member_ids": [leads.a.id], "leader_member_id": leads.a.id})
    assert group.status_code == 201 and group.json()["leader"]["name"] == "测甲"
    changed = client.put(f"/api/v1/activity-groups/{group.json()['id']}",
                         json={"name": "小组", "member_ids": [leads.a.id, leads.b.id], "version": 1})
    assert changed.status_code == 200 and len(changed.json()["members"]) == 2 and changed.json()["leader"] is None
    huge = client.post("/api/v1/orgs/530100/activity-groups", json={"name": "x", "member_ids": [2**70, -1]})
    assert huge.status_code == 422  # ids beyond the column are refused, not a 500 (found by schemathesis)
    f.login_as(client, s, world.outsider)
    assert client.get("/api/v1/orgs/530100/task-leads").status_code == 404
    assert client.get(f"/api/v1/task-leads/{made.json()['id']}/progress").status_code == 404
