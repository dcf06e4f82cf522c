"""Every route that takes an id, tried by every kind of outsider: nothing is shown, nothing changes.

The per-feature tests check each rule; this sweep makes sure a route added later without its
loader cannot slip through. Routes are read from the application itself.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.service import start_session
from app.clock import today_cn
from app.main import create_app
from app.models import (
    ActivityPhoto,
    ApiToken,
    AuditLog,
    BackgroundJob,
    FrozenReport,
    LinkAssignment,
    Member,
    PlausibilityRule,
    ReminderCampaign,
    RoleGrant,
    RuleKind,
    ScreenLink,
    Site,
)
from app.models.base import utcnow
from tests import factories as f

REFUSED = {401, 403, 404, 422}
# A member may ask to join any live activity (the duplicate warning's path); the verifier decides.
MAY_ASK_TO_JOIN = {"outsider_member"}
# Paths whose parameter names no object of anyone's: the same blank import template for every staff.
NOT_SCOPED = {"/imports/templates/{kind}.xlsx"}


def _routes_with_ids() -> list[tuple[str, str]]:
    app = create_app()
    found = []
    for included in app.router.routes:
        for route in getattr(getattr(included, "original_router", None), "routes", []):
            if "{" in route.path:
                found += [(method, route.path) for method in sorted(route.methods - {"HEAD"})]
    return found


ROUTES = _routes_with_ids()


def test_the_sweep_sees_the_routes():
    paths = {p for _, p in ROUTES}
    assert any(p.startswith("/api/v1/activities/") for p in paths)
    assert any(p.startswith("/review/") for p in paths) and any(p.startswith("/admin/users/") for p in paths)


def _notify_ids(session, owner, org) -> dict[str, int]:
    """The owner's 站内消息 and the organisation's 企业微信 robot (app/notify/)."""
    from app.models import Notification, WecomRobot
    from app.notify import service as notify

    notify.notify(session, kind="activity_returned", event_key="sweep", template="activity_returned",
                  params={"date": "3月5日", "task": "产业助推", "reason": "x"},
                  to=notify.Recipient(user_id=owner.id, member_id=owner.member_id), channels=("inapp",))
    robot = WecomRobot(org_id=org.id, name="五华区办公室群", webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    session.add(robot)
    session.flush()
    message = session.scalar(select(Notification.id).where(Notification.user_id == owner.id))
    return {"message_id": message, "robot_id": robot.id}


@pytest.mark.parametrize("outsider", ["outsider_member", "outsider_staff"])
def test_outsiders_are_refused_everywhere(client, session, outsider):
    wuhua = f.org(session, "530102")
    owner = f.persona(session, "member")
    task = f.task(session, 1)
    activity = f.make_activity(session, recorder=owner, credited=wuhua, county=wuhua, task_=task,
                               values={f.indicators(session, task)[0].id: 2},
                               participants=(session.get(Member, owner.member_id),))  # as the service writes it
    session.add(ActivityPhoto(activity_id=activity.id, storage_key="ab" * 16, width=1, height=1, bytes=1))
    session.flush()
    photo = session.scalar(select(ActivityPhoto.id).where(ActivityPhoto.activity_id == activity.id))
    grant = session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == owner.id))
    link = LinkAssignment(leader_member_id=owner.member_id, county_id=wuhua.id, role="lead", start_date=f.months_ago(1))
    session.add(link)
    display = ScreenLink(token_hash="0" * 64, name="五华区大屏", org_id=wuhua.id)
    session.add(display)
    year = f.this_year()
    frozen = FrozenReport(org_id=wuhua.id, year=year, first_month=1, last_month=3, period_label=f"{year}年第一季度",
                          title="五华区报告", content="{}", docx=b"d", xlsx=b"x", sha256="0" * 64)
    session.add(frozen)
    job = BackgroundJob(user_id=owner.id, org_id=wuhua.id, kind="activities.xlsx", params="{}", status="done")
    session.add(job)
    site = session.scalar(select(Site.id).where(Site.county_id == wuhua.id).limit(1))
    api_token = ApiToken(token_hash="1" * 64, prefix="szt_x", name="五华区看板", org_id=wuhua.id, level="records",
                         expires_at=utcnow() + timedelta(days=30))
    session.add(api_token)
    owner_session, _ = start_session(session, user=owner, ip="phone", user_agent="phone")  # /account/sessions/…
    # A plausibility rule 昆明 set for its subtree (五华区 is in it).
    rule = PlausibilityRule(org_id=f.org(session, "530100").id, indicator_id=f.indicators(session, task)[0].id,
                            kind=RuleKind.bound, max_value=10, source="昆明市从严")
    session.add(rule)
    session.flush()
    campaign = ReminderCampaign(org_id=wuhua.id, segment="idle", period=str(year), body="请记录活动",
                                created_by_user_id=owner.id, submission_key="sweep")
    session.add(campaign)
    session.flush()
    from app.models.meeting import FollowUp  # 督办事项 of 五华区's meeting (app/meeting/)
    followup = FollowUp(org_id=wuhua.id, period=str(year), title="补齐进度", owner_org_id=wuhua.id,
                        due_on=f.months_ago(-1), done_criteria="达到时间进度", created_by_user_id=owner.id,
                        submission_key="sweep")
    session.add(followup)
    from app.models import ActivityGroup, TaskLead  # 牵头统筹 of 五华区 (app/leads/)
    group = ActivityGroup(org_id=wuhua.id, name="五华区产业小组")
    session.add(group)
    session.flush()
    lead = TaskLead(org_id=wuhua.id, task_id=task.id, group_id=group.id, start_date=f.months_ago(2),
                    created_by_user_id=owner.id, submission_key="sweep")
    session.add(lead)
    from app.models import MatchInvitation  # 补位匹配: 五华区 invited its member (app/matching/)
    invitation = MatchInvitation(org_id=wuhua.id, county_id=wuhua.id, task_id=task.id, member_id=owner.member_id,
                                 channel="list", created_by_user_id=owner.id, submission_key="sweep")
    session.add(invitation)
    # 典型: 五华区's office nominated its member, the province selected
    from app.models import ExemplarNomination
    nomination = ExemplarNomination(member_id=owner.member_id, org_id=wuhua.id, year=year, citation="事迹",
                                    status="selected", created_by_user_id=owner.id, submission_key="sweep")
    session.add(nomination)
    session.flush()
    ids = {"activity_id": activity.id, "photo_id": photo, "member_id": owner.member_id, "user_id": owner.id,
           "grant_id": grant, "decision": "confirm", "link_id": link.id, "display_id": display.id,
           # A display link's token is its own credential (a screen holding it is answered by design).
           "token": "no-such-display-token",
           "code": wuhua.code,  # boards: an organisation's code
           "report_id": frozen.id, "job_id": job.id, "token_id": api_token.id, "kind": "members",
           "org_id": wuhua.id, "site_id": site, "task_id": task.id, "indicator_id": f.indicators(session, task)[0].id,
           "rule_id": rule.id, "session_id": owner_session.id,
           "campaign_id": campaign.id, "followup_id": followup.id, "group_id": group.id, "lead_id": lead.id,
           "batch_id": invitation.id, "nomination_id": nomination.id,
           **_notify_ids(session, owner, wuhua)}
    version, audit_before = activity.version, session.scalar(select(func.count()).select_from(AuditLog))
    # Control: the same substituted URLs answer the owner, so the refusals below mean something.
    f.login_as(client, session, owner)
    for method, path in ROUTES:
        if method == "GET" and path.startswith(("/activities/{activity_id:int}", "/api/v1/activities/{activity_id}")) \
                and "photos" not in path:
            url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(ids[m.group(1)]), path)
            assert client.get(url).status_code == 200, url
    f.login_as(client, session, f.persona(session, outsider))
    form = {"reason": "x", "role": "admin", "org_id": str(wuhua.id), "description": "改掉", "task_id": str(task.id),
            "county_id": str(wuhua.id), "occurred_on": f.months_ago(1).isoformat(), "idempotency_key": "sweep"}
    for method, path in ROUTES:
        url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(ids[m.group(1)]), path)
        if path.endswith("/join") and outsider in MAY_ASK_TO_JOIN:
            continue
        if path in NOT_SCOPED:
            continue
        if path.startswith("/api/"):
            r = client.request(method, url, json={"reason": "x"})
        else:
            r = client.request(method, url, data=form if method == "POST" else None, follow_redirects=False)
        assert r.status_code in REFUSED, f"{outsider} {method} {url} → {r.status_code}"
        assert "服务器出错" not in r.text
    session.refresh(activity)
    assert (activity.status, activity.version) == ("pending", version)
    new_actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id).offset(audit_before)).all()
    assert [a for a in new_actions if not a.startswith("auth.")] == []
    assert session.get(RoleGrant, grant) is not None
    session.refresh(link)
    assert link.end_date is None and link.role == "lead"
    session.refresh(display)
    assert display.revoked_at is None
    session.refresh(api_token)
    assert api_token.revoked_at is None
    session.refresh(owner_session)
    assert owner_session.revoked_at is None


# --- organisations: 404 outside what the caller reads, 403 when they read it but may not act ----------------

# A route with an organisation in its path declares its loader (app.deps: OrgForRead, OrgForStaff,
# OrgForLinks, OrgIdForStaff); one that hands the id to its service names the service's rule here.
ORG_RULE_IN_SERVICE = {("POST", "/manage/orgs/{org_id}/key-county"): "staff",
                       # The two boards call the plain loader in their handler: one thread hop (app/hot_routes.py).
                       ("GET", "/boards/{code}"): "read", ("GET", "/c/{code}"): "read"}
# The meeting-room screen's token is its own principal (ScreenScope), not a user's reach.
DISPLAY_SCOPED = {"/d/{token}/slide/{code}"}
# Routes taking the organisation in the query; their handlers call the plain loaders.
ORG_IN_QUERY = [
    ("GET", "/api/v1/progress?org={code}", "read"),
    ("GET", "/api/v1/rankings?org={code}", "read"),
    ("GET", "/api/v1/orgs?under={code}", "read"),
    ("GET", "/api/v1/targets?org={code}", "read"),
    ("GET", "/reports?org={code}", "read"),
    ("GET", "/exports?org={code}", "read"),
    ("GET", "/targets?org={code}", "staff"),
]


def _loader_rules() -> dict:
    from app import deps

    return {deps._org_for_read: "read", deps._org_for_staff: "staff", deps._org_for_links: "links",
            deps._org_id_for_staff: "staff"}


def _rules_of(dependant, rules: dict) -> set[str]:  # dependant: fastapi.dependencies.models.Dependant
    found = set()
    for sub in dependant.dependencies:
        if sub.call in rules:
            found.add(rules[sub.call])
        found |= _rules_of(sub, rules)
    return found


def _org_routes() -> list[tuple[str, str, str]]:
    """(method, path, rule) of every route with an organisation's code or id in its path."""
    rules, found = _loader_rules(), []
    app = create_app()
    for included in app.router.routes:
        for route in getattr(getattr(included, "original_router", None), "routes", []):
            if not re.search(r"\{(code|org_id)\}", route.path) or route.path in DISPLAY_SCOPED:
                continue
            for method in sorted(route.methods - {"HEAD"}):
                declared = _rules_of(route.dependant, rules)
                rule = ORG_RULE_IN_SERVICE.get((method, route.path)) or (declared.pop() if len(declared) == 1 else None)
                assert rule, f"{method} {route.path} takes an organisation without one loader of app.deps"
                found.append((method, route.path, rule))
    return found


def test_every_route_with_an_organisation_in_its_path_declares_its_loader():
    found = {(m, p): r for m, p, r in _org_routes()}
    assert found[("GET", "/boards/{code}")] == "read" and found[("GET", "/terms/{code}")] == "staff"
    assert found[("GET", "/api/v1/orgs/{code}")] == "read" and found[("GET", "/history/{code}")] == "staff"
    assert found[("GET", "/manage/orgs/{org_id}/key-county")] == "staff"


def test_organisations_are_404_outside_and_403_to_a_reader_who_may_not_act(client, session):
    wuhua = f.org(session, "530102")
    wuhua.is_key_county = True  # so the county board and its API answer a reader at all
    session.flush()
    # {code} is 五华区's code, {task_id} a task it works with (补位匹配), any other id 五华区's own.
    values = {"code": wuhua.code, "task_id": str(f.task(session, 1).id)}
    cases = [(m, re.sub(r"\{(\w+)\}", lambda x: values.get(x.group(1), str(wuhua.id)), p), r)
             for m, p, r in _org_routes()]
    cases += [(m, p.format(code=wuhua.code), r) for m, p, r in ORG_IN_QUERY]
    audit_before = session.scalar(select(func.count()).select_from(AuditLog))

    def ask(method: str, url: str, token: str) -> httpx.Response:
        if url.startswith("/api/"):
            return client.request(method, url, headers={"X-CSRF-Token": token})
        form = {"csrf_token": token, "start_date": today_cn().isoformat(), "value": "1", "keep_ids": ""}
        return client.request(method, url, data=form if method == "POST" else None, follow_redirects=False)

    # 曲靖's office: 五华区 lies outside everything it reads — as if it did not exist, on every route.
    token = f.login_as(client, session, f.persona(session, "outsider_staff"))
    for method, url, _ in cases:
        r = ask(method, url, token)
        assert r.status_code == 404, f"outsider_staff {method} {url} → {r.status_code}"
        assert "服务器出错" not in r.text
    # The province's viewer reads 五华区: the reading routes answer, the others say 403 (not 404).
    token = f.login_as(client, session, f.persona(session, "viewer"))
    for method, url, rule in cases:
        r = ask(method, url, token)
        if rule == "read":
            assert r.status_code == 200, f"viewer {method} {url} → {r.status_code}"
        else:
            assert r.status_code == 403, f"viewer {method} {url} → {r.status_code}"
            assert "服务器出错" not in r.text
    new_actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id).offset(audit_before)).all()
    assert [a for a in new_actions if not a.startswith("auth.")] == []
    session.refresh(wuhua)
    assert wuhua.is_key_county
