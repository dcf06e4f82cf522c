"""补位匹配 and 带动 (app/matching/service.py): the ranking's components on a small world, the pool's scope
(outsiders 404, other prefectures left out), invitations once per submission with their notices, joins
counted, and 带动 equal to a recount from the raw rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Forbidden, Invalid, NotFound
from app.matching import service
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    AuditLog,
    Committee,
    Membership,
    Notification,
    UserAccount,
)
from app.models.exemplars import MatchInvitation
from app.orgs.service import subtree_ids
from tests import factories as f
from tests.meeting.conftest import TODAY, YEAR

pytestmark = pytest.mark.dates
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # lean: the ranking and 带动 on both


class Small:
    """医 (昆明, 医药卫生界, 行业 医疗, on a 教科文卫 committee, twice on the task in 盘龙); 老 (五华, once on
    another task in 五华); 忙 (五华, 医药卫生界, already on the task in 五华 this period); 远 (曲靖, 医药卫生界);
    省 (the province, 医药卫生界); 平 (昆明, 经济界, nothing)."""

    def __init__(self, w):
        self.w, s = w, w.s
        w.target(w.wuhua, 100)  # 五华's own figures behind pace on the task
        committee = Committee(org_id=w.kunming.id, name="教科文卫体委员会")
        s.add(committee)
        s.flush()
        self.doc = self.member(w.kunming, "测医", "医药卫生界", "医疗器械")
        s.scalar(select(Membership).where(Membership.member_id == self.doc.id)).committee_id = committee.id
        self.old = self.member(w.wuhua, "测老", "经济界")
        self.busy = self.member(w.wuhua, "测忙", "医药卫生界")
        self.far = self.member(w.qujing, "测远", "医药卫生界")
        self.prov = self.member(w.province, "测省", "医药卫生界")
        self.plain = self.member(w.kunming, "测平", "经济界")
        self.recorder = f.make_user(s)
        self.doc_user = f.make_user(s, member=self.doc)
        for on in (date(YEAR, 3, 2), date(YEAR, 4, 2)):
            self.activity(on, self.doc, county=w.panlong)
        self.activity(date(YEAR, 5, 2), self.old, task=f.task(s, 1))
        self.activity(date(YEAR, 6, 2), self.busy, status=ActivityStatus.pending)

    def member(self, org, name, sector, industry=None):
        m = f.make_member(self.w.s, org, name=name)
        m.sector, m.industry = sector, industry
        self.w.s.flush()
        return m

    def activity(self, on, *people, task=None, county=None, status=ActivityStatus.verified, recorder=None,
                 credited=None):
        task = task or self.w.task
        county = county or self.w.wuhua
        return f.make_activity(self.w.s, recorder=recorder or self.recorder, credited=credited or county,
                               county=county, task_=task, values={f.indicators(self.w.s, task)[0].id: 1},
                               occurred_on=on, status=status, participants=people)

    def gap(self, user=None):
        return service.gap(self.w.s, self.w.p(user or self.w.staff), self.w.wuhua, self.w.task.id, self.w.period())


@pytest.fixture
def small(world):
    return Small(world)


def _ranked(cands):
    return [(c.name, c.score, {x.key: x.points for x in c.components}) for c in cands]


def test_components_rank_the_pool_and_leave_out_the_busy_and_the_far(world, small):
    g = small.gap()
    assert [f_.indicator.id for f_ in g.behind] == [world.count.id]  # the board's own notion of behind
    got = _ranked(service.candidates(world.s, g, today=TODAY))
    assert got == [
        ("测医", 70, {"done": 20, "place": 10, "sector": 15, "committee": 10, "industry": 15}),
        ("测老", 20, {"place": 20}),
    ]  # 忙 already on it here, 远 in another prefecture, 省 outside 昆明's office, 平 scores nothing
    doc = service.candidates(world.s, g, today=TODAY)[0]
    assert {c.key: c.why for c in doc.components}["done"] == "参与该实事的已审核活动 2 次"
    province = service.candidates(world.s, small.gap(world.province_staff), today=TODAY)
    assert [c.name for c in province] == ["测医", "测老", "测省"]  # the province's own members too


@SQLITE
def test_scope_outsider_404_reader_reads_but_403_to_act_county_office_only_its_members(world, small):
    with pytest.raises(NotFound):
        small.gap(world.outsider)
    read = small.gap(world.kunming_viewer)
    assert not read.may_invite and [c.name for c in service.candidates(world.s, read, today=TODAY)] == ["测医", "测老"]
    with pytest.raises(Forbidden):
        service.invite(world.s, by=world.p(world.kunming_viewer), g=read, member_ids=[small.doc.id], channel="inapp",
                       note="", submission_key="r1", today=TODAY)
    with pytest.raises(Forbidden):
        service.gap(world.s, world.p(world.kunming_viewer), world.wuhua, world.task.id, world.period(), act=True)
    county = service.candidates(world.s, small.gap(world.county_staff), today=TODAY)
    assert [c.name for c in county] == ["测老"]
    with pytest.raises(NotFound):  # a county that is no key county
        service.gap(world.s, world.p(world.staff), world.panlong, world.task.id, world.period())


@SQLITE
def test_invitation_once_per_submission_with_notices_and_joins_counted(world, small):
    s, by = world.s, world.p(world.staff)
    g = small.gap()
    with pytest.raises(Invalid):  # 远 is outside the pool
        service.invite(s, by=by, g=g, member_ids=[small.far.id], channel="sms", note="", submission_key="k0",
                       today=TODAY)
    batch_id, created = service.invite(s, by=by, g=g, member_ids=[small.doc.id, small.old.id], channel="sms",
                                       note="请支援", submission_key="k1", today=TODAY)
    again, twice = service.invite(s, by=by, g=g, member_ids=[small.doc.id, small.old.id], channel="sms",
                                  note="请支援", submission_key="k1", today=TODAY)
    assert created and not twice and again == batch_id
    assert s.scalar(select(func.count()).select_from(MatchInvitation)) == 2
    assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "match.invite")) == 1
    notes = {(n.channel, n.member_id, n.kind) for n in s.scalars(select(Notification).where(
        Notification.event_key.like("match:%")))}
    # 医 has an account (站内消息 + SMS); 老 has none (SMS only); both sent as reminders (opt-out, quiet hours).
    assert notes == {("inapp", small.doc.id, "reminder"), ("sms", small.doc.id, "reminder"),
                     ("sms", small.old.id, "reminder")}
    assert "测医委员您好" in s.scalar(select(Notification.body).where(Notification.channel == "inapp"))
    # Joins: 医 on the task in 五华 on the day; 老 only the day before; another county does not count.
    small.activity(TODAY, small.doc)
    small.activity(TODAY - timedelta(days=1), small.old)
    small.activity(TODAY, small.old, county=world.panlong)
    [b] = service.batches_for(s, by, g)
    assert (b.id, b.invited, b.joined, b.rate, b.channel) == (batch_id, 2, 1, 0.5, "sms")
    assert service.batch_for(s, by, batch_id).joined == 1
    with pytest.raises(NotFound):
        service.batch_for(s, world.p(world.outsider), batch_id)
    assert service.batches_for(s, world.p(world.county_staff), small.gap(world.county_staff)) == []  # 昆明's batch


def _recount(s, org, period):
    """带动 from the raw rows, in Python: each verified activity's confirmed participants, firsts by (date, id)."""
    inside = set(s.scalars(subtree_ids(org.id)))
    verified = {a.id: a for a in s.scalars(select(Activity).where(Activity.status == ActivityStatus.verified))}
    people: dict[int, set[int]] = {}
    for p in s.scalars(select(ActivityParticipant).where(ActivityParticipant.status == "confirmed")):
        if p.activity_id in verified:
            people.setdefault(p.activity_id, set()).add(p.member_id)
    first: dict[int, tuple] = {}
    for aid, ms in people.items():
        a = verified[aid]
        for m in ms:
            first[m] = min(first.get(m, (a.occurred_on, a.id)), (a.occurred_on, a.id))
    pairs = set()
    for aid, ms in people.items():
        a = verified[aid]
        rec = s.get(UserAccount, a.recorder_user_id).member_id
        if a.credited_org_id not in inside or not (period.start <= a.occurred_on <= period.end) or rec not in ms:
            continue
        pairs |= {(rec, m) for m in ms - {rec} if first[m] == (a.occurred_on, a.id)}
    return pairs


def test_bringing_equals_a_recount(world, small):
    s = world.s
    lead = small.member(world.kunming, "测带", "经济界")
    lead_user = f.make_user(s, member=lead)
    new1, new2, seen, later = (small.member(world.kunming, n, "经济界") for n in ("测新一", "测新二", "测旧", "测后"))
    small.activity(date(YEAR, 2, 1), seen)  # 旧 had one before
    small.activity(date(YEAR, 7, 1), lead, new1, new2, seen, recorder=lead_user)  # brings 新一, 新二
    small.activity(date(YEAR, 7, 1), later, recorder=f.make_user(s), status=ActivityStatus.pending)
    small.activity(date(YEAR, 8, 1), later)  # 代录 by an account without a member: brings nobody
    small.activity(date(YEAR, 9, 1), small.doc, later, recorder=small.doc_user)  # not 后's first any more
    outside = small.member(world.qujing, "测曲", "经济界")
    small.activity(date(YEAR, 7, 1), lead, outside, recorder=lead_user, county=world.qujing)  # credited in 曲靖
    report = service.bringing(s, world.kunming, world.period())
    assert [(b.name, b.brought, b.newcomers) for b in report.members] == [("测带", 2, ["测新一", "测新二"])]
    assert report.total == 2
    assert service.brought_pairs(s, world.kunming, world.period()) == _recount(s, world.kunming, world.period())
    assert service.brought_pairs(s, world.province, world.period()) == _recount(s, world.province, world.period())
    assert len(_recount(s, world.province, world.period())) == 3  # 曲 brought in 曲靖
