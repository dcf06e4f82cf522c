"""API tokens: made by staff for their subtree, shown once, hashed; Bearer auth with scope, level,
expiry, revocation, write binding, rate limits, use recorded — and no phone number ever answered."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.service import build_principal, token_hash
from app.clock import today_cn
from app.errors import Forbidden, Invalid, NotFound
from app.models import ActivityStatus, ApiToken, ApiTokenUsage, AuditLog, Member
from app.models.base import utcnow
from app.tokens import service as tokens
from tests.api.conftest import bearer, make_token
from tests.factories import (
    indicators,
    login_as,
    make_activity,
    make_member,
    make_user,
    month_key,
    months_ago,
    org,
    persona,
    task,
    this_year,
)

pytestmark = pytest.mark.dates

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def _staff(session, kind="province_admin"):
    return build_principal(session, persona(session, kind))


# --- making tokens -------------------------------------------------------------------------------

def test_token_is_random_shown_once_and_stored_hashed(session):
    token_id, raw = make_token(session, code="530100", level="records")
    row = session.get(ApiToken, token_id)
    assert raw.startswith("szt_") and len(raw) == 4 + 43  # 32 random bytes: 256 bits
    assert row.token_hash == token_hash(raw) and raw not in (row.token_hash, row.prefix)
    assert row.prefix == raw[:10] and row.level == "records" and row.member_id is None
    _, other = make_token(session, code="530100")
    assert other != raw
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "api_token.create",
                                                  AuditLog.target_id == str(token_id)))
    assert entry is not None and raw not in (entry.after or "")


def test_only_staff_make_tokens_and_only_for_their_subtree(session):
    county_staff = _staff(session, "county_staff")  # 五华区
    with pytest.raises(NotFound):
        tokens.create_token(session, county_staff, name="x", org_id=org(session, "530000").id, level="aggregate")
    member = build_principal(session, persona(session, "member"))
    with pytest.raises(Forbidden) as refused:
        tokens.create_token(session, member, name="x", org_id=org(session, "530102").id, level="aggregate")
    assert refused.value.code == "staff_only"


@pytest.mark.parametrize(("field", "kwargs", "message"), [
    ("name", {"name": " "}, "请填写名称"),
    ("level", {"level": "everything"}, "请选择令牌级别"),
    ("days", {"days": "0"}, "有效期为 1 到"),
    ("rate_per_minute", {"rate_per_minute": "100000"}, "每分钟请求上限"),
    ("write_member_phone", {"write_member_phone": "12345"}, "11 位手机号"),
    ("write_member_phone", {"write_member_phone": "13000000000"}, "没有这个手机号的委员"),
])
def test_bad_token_forms_are_refused_in_chinese(session, field, kwargs, message):
    args = {"name": "看板", "org_id": org(session, "530100").id, "level": "aggregate"} | kwargs
    with pytest.raises(Invalid) as refused:
        tokens.create_token(session, _staff(session), **args)
    assert message in refused.value.errors[field]


def test_a_write_token_binds_a_member_of_its_subtree(session):
    outsider = make_member(session, org(session, "530303"))  # 曲靖
    make_user(session, member=outsider)
    with pytest.raises(Invalid) as refused:
        make_token(session, code="530100", phone=outsider.phone)
    assert "不在令牌的组织范围内" in refused.value.message


# --- using them ------------------------------------------------------------------------------------

def test_a_token_reads_only_its_subtree(client, session):
    _, raw = make_token(session, code="530100")  # 昆明
    got = client.get("/api/v1/orgs", headers=bearer(raw))
    assert got.status_code == 200
    codes = [o["code"] for o in got.json()["items"]]
    assert codes[0] == "530100" and "530000" not in codes and "530300" not in codes
    assert all(c.startswith("5301") for c in codes)
    # Outside the subtree: as if it did not exist.
    for path in ("/api/v1/orgs/530300", "/api/v1/progress?org=530300", "/api/v1/progress?org=530000",
                 "/api/v1/rankings?org=530000", "/api/v1/reports/summary?org=530300&from=2026-01&to=2026-03"):
        answer = client.get(path, headers=bearer(raw))
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "not_found"


def test_outsider_activities_are_404_and_not_listed(client, session):
    _, raw = make_token(session, code="530100", level="records")
    recorder = persona(session, "outsider_staff")
    qujing = org(session, "530300")
    t = task(session)
    theirs = make_activity(session, recorder=recorder, credited=qujing, county=org(session, "530302"), task_=t,
                           values={indicators(session, t)[0].id: 2}, status=ActivityStatus.verified)
    assert client.get(f"/api/v1/activities/{theirs.id}", headers=bearer(raw)).status_code == 404
    listed = client.get("/api/v1/activities?per_page=200", headers=bearer(raw)).json()
    assert theirs.id not in [a["id"] for a in listed["items"]]


@pytest.mark.parametrize("how", ["expired", "revoked", "unknown", "empty"])
def test_expired_revoked_or_unknown_tokens_get_401(client, session, how):
    token_id, raw = make_token(session, code="530100")
    row = session.get(ApiToken, token_id)
    headers = bearer(raw)
    if how == "expired":
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.flush()
    elif how == "revoked":
        tokens.revoke_token(session, _staff(session), token_id=token_id)
    elif how == "unknown":
        headers = bearer("szt_" + "A" * 43)
    else:
        headers = {"Authorization": "Bearer "}
    answer = client.get("/api/v1/orgs", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "API 令牌无效、已过期或已被撤销", "code": "invalid_token"}
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_authorization_schemes_are_not_tokens(client, session):
    """A proxy's Basic auth in front of the intranet site is not ours: the cookie still signs people in."""
    _, raw = make_token(session, code="530100")
    answer = client.get("/api/v1/orgs", headers={"Authorization": f"Basic {raw}"})
    assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
    login_as(client, session, persona(session, "province_admin"))
    assert client.get("/api/v1/orgs", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 200


def test_a_token_never_falls_back_to_the_cookie(client, session):
    login_as(client, session, persona(session, "province_admin"))
    assert client.get("/api/v1/activities").status_code == 200
    answer = client.get("/api/v1/activities", headers=bearer("szt_wrong"))
    assert answer.status_code == 401


def test_an_aggregate_token_cannot_read_activities_or_links(client, session):
    _, raw = make_token(session, code="530000", level="aggregate")
    for path in ("/api/v1/activities", "/api/v1/activities/1", "/api/v1/links", "/api/v1/links/coverage"):
        answer = client.get(path, headers=bearer(raw))
        assert answer.status_code == 403, path
        assert answer.json()["code"] == "token_level"
    assert client.get("/api/v1/progress?org=530000", headers=bearer(raw)).status_code == 200


def test_read_tokens_cannot_write_and_no_token_reaches_session_only_operations(client, session):
    _, raw = make_token(session, code="530000", level="records")
    post = client.post("/api/v1/activities", headers=bearer(raw) | {"Idempotency-Key": "k1"}, json={})
    assert post.status_code == 403 and post.json()["code"] == "token_read_only"
    verify = client.post("/api/v1/activities/1/verify", headers=bearer(raw))
    assert verify.status_code == 403 and verify.json()["code"] == "token_not_allowed"
    page = client.get("/boards/530000", headers=bearer(raw), follow_redirects=False)
    assert page.status_code == 403


def test_a_write_token_records_as_its_member(client, session):
    member_user = persona(session, "member")  # 五华区
    member = member_user.member_id
    _, raw = make_token(session, code="530100", level="aggregate", phone=session.get(Member, member).phone)
    t = task(session)
    body = {"task_id": t.id, "county_id": org(session, "530102").id, "occurred_on": months_ago(1, 2).isoformat(),
            "description": "技术培训", "values": {str(indicators(session, t)[0].id): "3"}}
    first = client.post("/api/v1/activities", headers=bearer(raw) | {"Idempotency-Key": "sync-001"}, json=body)
    assert first.status_code == 201, first.text
    assert first.json()["recorder_user_id"] == member_user.id and first.json()["status"] == "pending"
    again = client.post("/api/v1/activities", headers=bearer(raw) | {"Idempotency-Key": "sync-001"}, json=body)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    # Writing does not open the records: the aggregate write token still cannot list activities.
    assert client.get("/api/v1/activities", headers=bearer(raw)).status_code == 403


def test_rate_limit_answers_429_with_retry_after(client, session):
    _, raw = make_token(session, code="530100", rate=3)
    answers = [client.get("/api/v1/catalogue", headers=bearer(raw)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    refused = answers[3]
    assert refused.json()["code"] == "rate_limited" and "每分钟最多 3 次" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    # Another token has its own bucket.
    _, other = make_token(session, code="530100", rate=3)
    assert client.get("/api/v1/catalogue", headers=bearer(other)).status_code == 200


def test_the_bucket_refills_with_time():
    limiter = tokens.RateLimiter()
    assert [limiter.take(1, 60, now=0.0)[0] for _ in range(60)] == [True] * 60
    allowed, _, wait = limiter.take(1, 60, now=0.0)
    assert not allowed and wait == 1
    assert limiter.take(1, 60, now=1.01)[0]  # one a second at 60 a minute


def test_use_is_recorded_and_audited_once_a_day(client, session):
    token_id, raw = make_token(session, code="530100")
    for _ in range(3):
        assert client.get("/api/v1/catalogue", headers=bearer(raw)).status_code == 200
    row = session.get(ApiToken, token_id)
    session.refresh(row)
    assert row.last_used_at is not None and row.last_used_ip == "testclient"
    usage = session.scalar(select(ApiTokenUsage).where(ApiTokenUsage.token_id == token_id))
    assert usage.requests == 1  # the first request writes at once; the next are written a minute later
    tokens.METER._flushed.clear()  # a minute later
    client.get("/api/v1/catalogue", headers=bearer(raw))
    session.refresh(usage)
    assert usage.requests == 4
    used = session.scalars(select(AuditLog).where(AuditLog.action == "api_token.use",
                                                  AuditLog.target_id == str(token_id))).all()
    assert len(used) == 1


# --- HTTP caching -----------------------------------------------------------------------------------

def test_every_api_get_has_an_etag_and_if_none_match_gives_304(client, session):
    _, raw = make_token(session, code="530100", level="records")
    first = client.get("/api/v1/progress?org=530100", headers=bearer(raw))
    tag = first.headers["ETag"]
    # Gzipped on the way out (app/static_files.py): the tag is of the JSON, weak for the compressed copy.
    assert first.headers["Content-Encoding"] == "gzip" and tag.startswith('W/"')
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/api/v1/progress?org=530100", headers=bearer(raw) | {"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"].removeprefix("W/") == tag[2:]
    plain = client.get("/api/v1/progress?org=530100", headers=bearer(raw) | {"Accept-Encoding": "identity"})
    assert plain.headers["ETag"] == tag[2:] and "Content-Encoding" not in plain.headers  # strong: the JSON itself
    # A change moves the tag.
    t = task(session)
    make_activity(session, recorder=persona(session, "county_staff"), credited=org(session, "530102"),
                  county=org(session, "530102"), task_=t, values={indicators(session, t)[0].id: 5},
                  occurred_on=today_cn().replace(day=1), status=ActivityStatus.verified)
    changed = client.get("/api/v1/progress?org=530100", headers=bearer(raw) | {"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


# --- personal data ---------------------------------------------------------------------------------

def test_no_answer_to_any_token_contains_a_phone_number(client, session):
    wuhua = org(session, "530102")
    people = [make_member(session, wuhua) for _ in range(3)]
    recorder = make_user(session, member=people[0])
    t = task(session)
    wuhua.is_key_county = True
    session.flush()
    made = make_activity(session, recorder=recorder, credited=wuhua, county=wuhua, task_=t,
                         values={indicators(session, t)[0].id: 4}, occurred_on=today_cn().replace(day=1),
                         status=ActivityStatus.verified, participants=tuple(people[1:]))
    phones = {p.phone for p in people}
    paths = ["/api/v1/orgs", "/api/v1/key-counties", "/api/v1/catalogue", "/api/v1/progress?org=530100",
             "/api/v1/rankings?org=530100", "/api/v1/rankings?org=530100&of=key_counties",
             "/api/v1/links", "/api/v1/links/coverage", "/api/v1/activities?per_page=200",
             f"/api/v1/activities/{made.id}", f"/api/v1/activities?member={people[1].phone[:7]}",
             f"/api/v1/reports/summary?org=530100&from={this_year()}-01&to={month_key(today_cn())}", "/api/v1/targets?org=530100"]
    paths.append("/api/v1/counties/530102/progress")
    for level in ("aggregate", "records"):
        _, raw = make_token(session, code="530100", level=level)
        seen = 0
        for path in paths:
            answer = client.get(path, headers=bearer(raw))
            assert answer.status_code in (200, 403), (level, path, answer.text)
            seen += answer.status_code == 200
            assert not phones & set(PHONE.findall(answer.text)), (level, path)
        assert seen >= 9
    # The records token did see the activity, with names: the check above looked at real content.
    _, raw = make_token(session, code="530100", level="records")
    detail = client.get(f"/api/v1/activities/{made.id}", headers=bearer(raw)).json()
    assert sorted(detail["participants"]) == sorted(p.name for p in people[1:])
    by_phone = client.get(f"/api/v1/activities?member={people[1].phone[:7]}", headers=bearer(raw)).json()
    assert by_phone["items"] == []  # a token cannot probe phone numbers through the filter
