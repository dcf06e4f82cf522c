"""Display links: creation (token shown once, stored hashed), scope, revocation, resolving."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.errors import Forbidden, Invalid, NotFound
from app.models import AuditLog, ScreenLink
from app.models.base import utcnow
from app.screens import service
from tests import factories as f
from tests.accounts.helpers import KUNMING, PANLONG, PROVINCE, QUJING, WUHUA, who

pytestmark = pytest.mark.dates


def _create(session, kind: str = "county_staff", code: str = WUHUA, **kw):
    by = who(session, kind)
    link, raw = service.create_screen(session, by, name=kw.pop("name", "会议室大屏"),
                                    org_id=f.org(session, code).id, **kw)
    return by, link, raw


def _audit(session, action: str, link: ScreenLink) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(
        AuditLog.action == action, AuditLog.target_type == "display_link", AuditLog.target_id == str(link.id))))


# --- creating ---------------------------------------------------------------------------------

def test_a_link_is_stored_as_the_hash_of_its_token_only(session):
    by, link, raw = _create(session)
    assert len(raw) >= 40
    stored = session.get(ScreenLink, link.id)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {stored.token_hash, stored.name}
    assert stored.org_id == f.org(session, WUHUA).id and stored.created_by_user_id == by.user_id
    assert stored.revoked_at is None and stored.last_used_at is None


def test_the_default_expiry_is_thirty_days_and_the_longest_a_year(session):
    _, link, _ = _create(session)
    left = link.expires_at - utcnow()
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    _, longest, _ = _create(session, days="366")
    assert longest.expires_at - utcnow() > timedelta(days=365)


@pytest.mark.parametrize(("field", "values"), [
    ("days", {"days": "0"}), ("days", {"days": "367"}), ("days", {"days": "abc"}), ("days", {"days": "-5"}),
    ("name", {"name": "   "}), ("name", {"name": "长" * 65}), ("org_id", {"org_id": None}), ("org_id", {"org_id": "x"}),
])
def test_bad_input_is_refused_field_by_field_in_chinese(session, field, values):
    by = who(session, "county_staff")
    args = {"name": "大屏", "org_id": f.org(session, WUHUA).id, "days": "30", **values}
    with pytest.raises(Invalid) as caught:
        service.create_screen(session, by, **args)
    assert field in caught.value.errors
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.errors[field])
    assert session.scalar(select(ScreenLink).where(ScreenLink.name == args["name"])) is None


def test_creation_is_audited_without_the_token(session):
    _, link, raw = _create(session, name="三楼会议室")
    [entry] = _audit(session, "display.create", link)
    assert entry.org_id == f.org(session, WUHUA).id
    assert "三楼会议室" in entry.after and raw not in (entry.after or "") and link.token_hash not in entry.after


@pytest.mark.parametrize(("kind", "code", "error"), [
    ("outsider_staff", WUHUA, NotFound),     # a sibling prefecture's staff
    ("county_staff", KUNMING, NotFound),     # above one's own subtree
    ("county_staff", PANLONG, NotFound),     # a sibling county
    ("member", WUHUA, Forbidden),
    ("viewer", PROVINCE, Forbidden),
])
def test_only_staff_create_and_only_inside_their_subtree(session, kind, code, error):
    by = who(session, kind)
    with pytest.raises(error):
        service.create_screen(session, by, name="越权", org_id=f.org(session, code).id)
    assert session.scalar(select(ScreenLink).where(ScreenLink.name == "越权")) is None


def test_staff_above_may_create_for_a_county_below(session):
    _, link, _ = _create(session, "prefecture_staff", WUHUA)
    assert link.org_id == f.org(session, WUHUA).id


# --- listing ----------------------------------------------------------------------------------

def test_the_list_is_the_callers_subtree(session):
    _, county_link, _ = _create(session, "county_staff", WUHUA, name="五华区大屏")
    _create(session, "prefecture_staff", KUNMING, name="昆明市大屏")
    _create(session, "outsider_staff", QUJING, name="曲靖市大屏")

    def names(kind):
        return {row.link.name for row in service.list_screens(session, who(session, kind))}

    assert {"五华区大屏", "昆明市大屏"} <= names("prefecture_staff") and "曲靖市大屏" not in names("prefecture_staff")
    assert "五华区大屏" in names("county_staff") and not {"昆明市大屏", "曲靖市大屏"} & names("county_staff")
    assert {"五华区大屏", "昆明市大屏", "曲靖市大屏"} <= names("province_admin")
    row = next(r for r in service.list_screens(session, who(session, "prefecture_staff")) if r.link.id == county_link.id)
    assert row.org_name == f.org(session, WUHUA).name
    assert row.created_by.startswith("测试用户") and row.status is service.ScreenStatus.active


def test_members_and_viewers_see_no_list(session):
    for kind in ("member", "viewer"):
        with pytest.raises(Forbidden):
            service.list_screens(session, who(session, kind))


# --- revoking ---------------------------------------------------------------------------------

def test_revoking_ends_the_link_once_and_is_audited(session):
    by, link, raw = _create(session)
    service.revoke_screen(session, by, link_id=link.id)
    assert link.revoked_at is not None and service.status_of(link) is service.ScreenStatus.revoked
    service.revoke_screen(session, by, link_id=link.id)  # a repeated click changes nothing
    assert len(_audit(session, "display.revoke", link)) == 1
    assert service.resolve(session, raw) is None


@pytest.mark.parametrize("kind", ["outsider_staff", "member", "viewer"])
def test_outsiders_cannot_revoke(session, kind):
    _, link, raw = _create(session)
    with pytest.raises((NotFound, Forbidden)):
        service.revoke_screen(session, who(session, kind), link_id=link.id)
    assert link.revoked_at is None and service.resolve(session, raw) is not None
    assert _audit(session, "display.revoke", link) == []


def test_a_county_cannot_revoke_its_prefectures_link(session):
    _, link, _ = _create(session, "prefecture_staff", KUNMING)
    with pytest.raises(NotFound):
        service.revoke_screen(session, who(session, "county_staff"), link_id=link.id)


def test_an_unknown_link_is_not_found(session):
    with pytest.raises(NotFound):
        service.revoke_screen(session, who(session, "province_admin"), link_id=987654321)


# --- resolving --------------------------------------------------------------------------------

def test_resolve_finds_an_active_link_and_refuses_the_rest(session):
    _, link, raw = _create(session)
    assert service.resolve(session, raw).id == link.id
    for bad in ("", None, raw + "x", raw[:-1], "x" * 5000, link.token_hash):
        assert service.resolve(session, bad) is None
    assert service.resolve(session, raw, now=link.expires_at + timedelta(seconds=1)) is None
    assert service.status_of(link, link.expires_at) is service.ScreenStatus.expired


def test_resolve_marks_use_at_most_once_a_minute(session):
    _, link, raw = _create(session)
    start = utcnow()

    def last_used():
        session.expire_all()
        return session.get(ScreenLink, link.id).last_used_at

    service.resolve(session, raw, now=start)
    assert last_used() == start
    service.resolve(session, raw, now=start + timedelta(seconds=59))
    assert last_used() == start
    later = start + timedelta(seconds=61)
    service.resolve(session, raw, now=later)
    assert last_used() == later
