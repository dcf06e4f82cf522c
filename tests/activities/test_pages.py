"""The member's phone flow as HTML: the form and its HTMX blocks, idempotent submission, errors beside
their fields, photo uploads (attacks included), 我的活动, an activity's page, correcting, withdrawing,
joining a likely duplicate — and outsiders, anonymous callers and CSRF (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import ExifTags, Image
from sqlalchemy import event, func, select

from app.activities import pages
from app.activities import service as svc
from app.clock import today_cn
from app.config import get_settings
from app.models import Activity, ActivityParticipant, ActivityPhoto, ActivityStatus, ParticipantStatus
from tests import factories as f

pytestmark = pytest.mark.dates

HX = {"HX-Request": "true"}
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture(autouse=True)
def uploads_in_tmp(tmp_path, monkeypatch):
    """Photos of these tests go to a throw-away folder, never data/uploads."""
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield tmp_path / "uploads"
    get_settings.cache_clear()


def _member(client, session, world, user=None):
    f.login_as(client, session, user or world.member_user)
    return user or world.member_user


def _fields(world, **overrides) -> dict:
    data = {
        "idempotency_key": "form-key-1", "task_id": str(world.task.id), "county_id": str(world.wuhua.id),
        "occurred_on": today_cn().isoformat(), "description": "在五华区开展义诊活动",
        f"value_{world.count_ind.id}": "1", f"value_{world.money_ind.id}": "8",
    }
    data.update(overrides)
    return data


def _activities_of(session, user) -> list[Activity]:
    return list(session.scalars(select(Activity).where(Activity.recorder_user_id == user.id).order_by(Activity.id)))


def _jpeg(size=(64, 48), color="red", gps: bool = False) -> bytes:
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    if gps:
        exif[ExifTags.Base.Make] = "TestCam"
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef], ifd[ExifTags.GPS.GPSLatitude] = "N", (25.0, 1.0, 2.0)
        ifd[ExifTags.GPS.GPSLongitudeRef], ifd[ExifTags.GPS.GPSLongitude] = "E", (100.0, 2.0, 3.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _post(client, world, *, files=None, headers=None, **overrides):
    return client.post("/activities", data=_fields(world, **overrides), files=files, headers=headers,
                       follow_redirects=False)


def _created_id(response) -> int:
    location = response.headers.get("location") or response.headers["HX-Redirect"]
    match = re.fullmatch(r"/activities/(\d+)\?created=1", location)
    assert match, location
    return int(match.group(1))


# --- the form -------------------------------------------------------------------------------------

def test_the_form_offers_tasks_the_members_county_and_a_hidden_idempotency_key(client, session, world):
    _member(client, session, world)
    r = client.get("/activities/new")
    assert r.status_code == 200 and "<html" in r.text and "记录活动" in r.text
    assert world.task.name in r.text
    assert len(KEY.search(r.text).group(1)) >= 20
    assert 'name="csrf_token"' in r.text and 'enctype="multipart/form-data"' in r.text
    assert 'hx-encoding="multipart/form-data"' in r.text and 'hx-disabled-elt="find .submit"' in r.text
    assert f'<option value="{world.wuhua.id}" selected>' in r.text  # pre-filled from the member's organisation
    assert f'value="{today_cn().isoformat()}"' in r.text
    # Each page view is a new submission: a new key.
    assert KEY.search(client.get("/activities/new").text).group(1) != KEY.search(r.text).group(1)


def test_recently_used_tasks_come_first(client, session, world):
    user = _member(client, session, world)
    svc.record_activity(session, by=world.p(user), data=world.form(occurred_on=today_cn()), idempotency_key="k")
    options = re.findall(r'<option value="(\d+)"', client.get("/activities/new").text.split('id="f-task"')[1])
    assert options[0] == str(world.task.id)


def test_choosing_a_task_shows_its_indicators_with_units(client, session, world):
    _member(client, session, world)
    page = client.get("/activities/new", params={"task_id": world.task.id, "reload": "1"})
    assert page.status_code == 200 and "<html" in page.text
    fragment = client.get("/activities/new", params={"task_id": world.task.id}, headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "<form" not in fragment.text
    for text in (page.text, fragment.text):
        assert f'name="value_{world.money_ind.id}"' in text and 'inputmode="decimal"' in text
        assert f'name="value_{world.count_ind.id}"' in text and 'inputmode="numeric"' in text
        assert "万元" in text and world.money_ind.name in text


def test_a_reload_without_javascript_keeps_everything_typed_and_saves_nothing(client, session, world):
    user = _member(client, session, world)
    # 选择/查找 post the form url-encoded: a chosen photo arrives as its file name only.
    r = client.post("/activities", data=_fields(
        world, reload="1", county_id=str(world.panlong.id), description="还没写完的简述", site_q="华山",
        photos="IMG_0001.JPG", participant=str(world.colleague.id),
        participant_label=f"{world.colleague.id}:同事委员 · 五华区政协",
        **{f"value_{world.money_ind.id}": "12.5"}))
    assert r.status_code == 200 and "<html" in r.text
    assert 'value="form-key-1"' in r.text and 'value="12.5"' in r.text and "还没写完的简述" in r.text
    assert f'<option value="{world.panlong.id}" selected>' in r.text
    assert f'name="participant" value="{world.colleague.id}" checked' in r.text and "同事委员 · 五华区政协" in r.text
    assert 'formenctype="application/x-www-form-urlencoded" formnovalidate name="reload" value="1"' in r.text
    assert "照片没有保存：请重新选择照片" in r.text
    assert _activities_of(session, user) == []


# --- submitting -------------------------------------------------------------------------------------

def test_a_post_records_one_activity_and_redirects_to_it(client, session, world):
    user = _member(client, session, world)
    r = _post(client, world, participant=str(world.colleague.id))
    assert r.status_code == 303
    [activity] = _activities_of(session, user)
    assert _created_id(r) == activity.id and activity.status == ActivityStatus.pending
    people = set(session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == activity.id)))
    assert people == {user.member_id, world.colleague.id}
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "已提交成功，等待「双助推」办公室审核" in page.text
    assert "医疗设备投入资金" in page.text and "同事委员" in page.text and "待审核" in page.text


def test_an_htmx_post_answers_with_hx_redirect(client, session, world):
    _member(client, session, world)
    r = _post(client, world, headers=HX)
    assert r.status_code == 204 and r.headers["HX-Redirect"].endswith("?created=1")


def test_a_retried_post_makes_no_second_row_and_lands_on_the_same_activity(client, session, world):
    user = _member(client, session, world)
    photo = _jpeg()
    first = _post(client, world, files=[("photos", ("a.jpg", photo, "image/jpeg"))])
    again = _post(client, world, files=[("photos", ("a.jpg", photo, "image/jpeg"))])
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"] + "&replayed=1"  # 已提交成功, once
    assert len(_activities_of(session, user)) == 1
    assert session.scalar(select(func.count()).select_from(ActivityPhoto)) == 1


def test_the_same_key_with_other_content_says_the_first_one_succeeded(client, session, world):
    user = _member(client, session, world)
    first = _created_id(_post(client, world))
    # Back, a change, 提交: no jargon toast — the first submission was recorded (tests/quality/test_entry_pages.py).
    r = _post(client, world, description="另一条完全不同的活动")
    assert r.status_code == 200 and "您刚才已提交成功" in r.text and f'href="/activities/{first}"' in r.text
    swapped = _post(client, world, description="另一条完全不同的活动", headers=HX)
    assert swapped.status_code == 200 and "<html" not in swapped.text and "提交编号" not in swapped.text
    assert len(_activities_of(session, user)) == 1


def test_bad_values_come_back_beside_their_field_with_everything_typed(client, session, world):
    user = _member(client, session, world)
    r = _post(client, world, files=[("photos", ("a.jpg", _jpeg(), "image/jpeg"))], **{
        f"value_{world.count_ind.id}": "1.5", f"value_{world.money_ind.id}": "8.123",
        "participant": str(world.colleague.id), "participant_label": f"{world.colleague.id}:同事委员"})
    assert r.status_code == 422 and "<html" in r.text
    assert f"{world.count_ind.name}：请填写不小于 0 的整数" in r.text
    assert f"{world.money_ind.name}：请填写金额，单位万元，最多两位小数" in r.text
    assert 'value="1.5"' in r.text and 'value="8.123"' in r.text and "在五华区开展义诊活动" in r.text
    assert 'value="form-key-1"' in r.text  # the same key: resubmitting is the same submission
    assert f'name="participant" value="{world.colleague.id}" checked' in r.text
    assert "照片没有保存：请重新选择照片" in r.text  # a browser forgets chosen files on a new page
    assert _activities_of(session, user) == []
    # With HTMX only the form comes back (422 is swapped), and its file input is preserved.
    fragment = _post(client, world, headers=HX, **{f"value_{world.count_ind.id}": "-1"})
    assert fragment.status_code == 422 and fragment.text.lstrip().startswith('<form id="activity-form"')
    assert "请填写不小于 0 的整数" in fragment.text and "照片没有保存" not in fragment.text
    assert "hx-preserve" in fragment.text


def test_missing_and_unreadable_fields_are_named_in_chinese(client, session, world):
    _member(client, session, world)
    r = _post(client, world, task_id="", county_id="", occurred_on="明天")
    assert r.status_code == 422
    assert "请选择实事" in r.text and "请选择活动所在的县（市、区）" in r.text and "请填写活动日期" in r.text
    future = _post(client, world, occurred_on=(today_cn() + timedelta(days=1)).isoformat())
    assert future.status_code == 422 and "活动日期不能晚于今天" in future.text
    empty = _post(client, world, **{f"value_{world.count_ind.id}": "", f"value_{world.money_ind.id}": ""})
    assert empty.status_code == 422 and "请至少填写一项指标数值" in empty.text
    long_text = _post(client, world, description="长" * 2001)
    assert long_text.status_code == 422 and "活动简述最多 2000 字" in long_text.text


def test_staff_record_on_behalf_and_must_name_participants(client, session, world):
    f.login_as(client, session, world.county_staff)
    assert client.get("/activities/new", follow_redirects=False).headers["location"] == "/activities/new?on_behalf=1"
    form = client.get("/activities/new?on_behalf=1")
    assert form.status_code == 200 and "代录活动" in form.text and 'name="on_behalf" value="1"' in form.text
    refused = _post(client, world, on_behalf="1")
    assert refused.status_code == 422 and "请选择参与委员" in refused.text
    ok = _post(client, world, on_behalf="1", participant=str(world.colleague.id))
    assert ok.status_code == 303
    [activity] = _activities_of(session, world.county_staff)
    assert set(session.scalars(select(ActivityParticipant.member_id).where(
        ActivityParticipant.activity_id == activity.id))) == {world.colleague.id}


def test_an_account_that_may_not_record_is_told_why(client, session):
    f.login_as(client, session, f.persona(session, "viewer"))
    r = client.get("/activities/new")
    assert r.status_code == 403 and "不能记录活动" in r.text


# --- photos -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "message"), [
    ("photo.jpg", b"<html><script>alert(1)</script></html>", "无法识别的图片"),
    ("photo.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "无法识别的图片"),
    ("huge.jpg", b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024), "照片不能超过 10 MB"),
])
def test_uploads_that_are_not_photos_are_refused_in_chinese(client, session, world, name, content, message):
    user = _member(client, session, world)
    r = _post(client, world, files=[("photos", (name, content, "image/jpeg"))])
    assert r.status_code == 422 and message in r.text and f"第 1 张（{name}）" in r.text
    assert _activities_of(session, user) == []


def test_a_path_in_the_filename_is_never_used(client, session, world, uploads_in_tmp):
    _member(client, session, world)
    r = _post(client, world, files=[("photos", ("../../etc/passwd.jpg", _jpeg(), "image/jpeg"))])
    assert r.status_code == 303
    [photo] = session.scalars(select(ActivityPhoto)).all()
    assert re.fullmatch(r"[0-9a-f]{32}", photo.storage_key)
    stored = sorted(p.relative_to(uploads_in_tmp).as_posix() for p in uploads_in_tmp.rglob("*") if p.is_file())
    assert stored == [f"{photo.storage_key[:2]}/{photo.storage_key}.jpg",
                      f"{photo.storage_key[:2]}/{photo.storage_key}.thumb.jpg"]
    assert not any("passwd" in p.name for p in uploads_in_tmp.parent.rglob("*"))


def test_a_photo_is_stored_without_exif_and_served_only_to_those_allowed(client, session, world, uploads_in_tmp):
    user = _member(client, session, world)
    original = _jpeg(size=(2400, 1200), gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test photo has GPS
    activity_id = _created_id(_post(client, world, files=[("photos", ("IMG_0001.JPG", original, "image/jpeg"))]))
    [photo] = session.scalars(select(ActivityPhoto).where(ActivityPhoto.activity_id == activity_id)).all()
    stored = Image.open(uploads_in_tmp / photo.storage_key[:2] / f"{photo.storage_key}.jpg")
    assert stored.format == "JPEG" and not stored.getexif() and max(stored.size) == 1600

    url = f"/activities/{activity_id}/photos/{photo.id}"
    detail = client.get(f"/activities/{activity_id}")
    assert f'src="{url}?thumb=1"' in detail.text
    full, thumb = client.get(url), client.get(url + "?thumb=1")
    assert full.status_code == thumb.status_code == 200
    assert full.headers["content-type"] == "image/jpeg" and full.headers["cache-control"].startswith("private")
    assert not Image.open(io.BytesIO(full.content)).getexif()
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    # A reader by place (the county's office) may see it; outsiders get the same 404 as for nothing.
    f.login_as(client, session, world.county_staff)
    assert client.get(url).status_code == 200
    for outsider in (world.outsider_member_user, world.outsider_staff):
        f.login_as(client, session, outsider)
        assert client.get(url).status_code == 404
    # A photo id of another activity is not reachable through this one.
    f.login_as(client, session, user)
    other = _created_id(_post(client, world, idempotency_key="form-key-2", description="另一次活动",
                              occurred_on=(today_cn() - timedelta(days=3)).isoformat(), files=[("photos", ("b.jpg", _jpeg(color="blue"), "image/jpeg"))]))
    assert client.get(f"/activities/{other}/photos/{photo.id}").status_code == 404


def test_heic_photos_are_accepted(client, session, world):
    import pillow_heif

    _member(client, session, world)
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (80, 60), "green")).save(buf, quality=50)
    r = _post(client, world, files=[("photos", ("IMG_0002.HEIC", buf.getvalue(), "image/heic"))])
    assert r.status_code == 303
    [photo] = session.scalars(select(ActivityPhoto)).all()
    assert (photo.width, photo.height) == (80, 60)


def test_too_many_photos_are_refused(client, session, world):
    _member(client, session, world)
    files = [("photos", (f"{n}.jpg", _jpeg(color=(n, n, n)), "image/jpeg")) for n in range(7)]
    r = _post(client, world, files=files)
    assert r.status_code == 422 and "最多上传 6 张照片" in r.text


def test_an_oversized_request_is_refused_before_it_is_read(client, session, world, monkeypatch):
    _member(client, session, world)
    monkeypatch.setattr(pages, "MAX_BODY", 50_000)
    r = _post(client, world, files=[("photos", ("a.jpg", b"\xff\xd8" + b"0" * 60_000, "image/jpeg"))])
    assert r.status_code == 413 and "上传的内容太大" in r.text
    # A body without a declared length is counted as it streams in.
    boundary = "b0undary"

    def chunks():
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n\r\n'.encode()
        for _ in range(10):
            yield b"0" * 10_000

    streamed = client.post("/activities", content=chunks(),
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert streamed.status_code == 413


# --- type-ahead and the duplicate nudge -------------------------------------------------------------

def test_sites_type_ahead_is_a_fragment_of_the_county(client, session, world):
    _member(client, session, world)
    r = client.get("/activities/sites", params={"county_id": world.wuhua.id, "q": "华山"}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert "华山街道" in r.text and 'type="radio" name="site_id"' in r.text
    elsewhere = client.get("/activities/sites", params={"county_id": world.panlong.id, "q": "华山"}, headers=HX)
    assert "华山街道" not in elsewhere.text and "没有找到" in elsewhere.text
    # Without JavaScript the same address is the whole form, with the options in it.
    page = client.get("/activities/sites", params={"county_id": world.wuhua.id, "q": "华山"})
    assert "<html" in page.text and "华山街道" in page.text and 'name="idempotency_key"' in page.text


def test_members_type_ahead_shows_name_organisation_and_only_the_last_phone_digits(client, session, world):
    f.make_member(session, world.panlong, name="同名邻县委员")
    _member(client, session, world)
    r = client.get("/activities/members", params={"q": "同"}, headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert "同事委员" in r.text and f"尾号 {world.colleague.phone[-4:]}" in r.text
    assert world.colleague.phone not in r.text  # never the whole number
    assert "同名邻县委员" not in r.text  # outside the recorder's (and organiser's) subtree
    kept = client.get("/activities/members", params={
        "q": "查无此人", "participant": world.colleague.id, "participant_label": f"{world.colleague.id}:同事委员"},
        headers=HX)
    assert f'value="{world.colleague.id}" checked' in kept.text and "没有找到" in kept.text


def test_type_ahead_and_the_form_need_a_login(client):
    for url in ("/activities/new", "/activities/members?q=张", "/activities/sites?county_id=1&q=华",
                "/activities/mine"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/activities/")
    assert client.get("/activities/members?q=张", headers=HX).headers["HX-Redirect"].startswith("/login")


def test_a_likely_duplicate_is_shown_with_a_request_to_join(client, session, world):
    other = f.make_user(session, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    existing = f.make_activity(session, recorder=other, credited=world.wuhua, county=world.wuhua, task_=world.task,
                               values={world.count_ind.id: 1}, occurred_on=today_cn())
    user = _member(client, session, world)
    params = {"county_id": world.wuhua.id, "task_id": world.task.id, "occurred_on": today_cn().isoformat()}
    fragment = client.get("/activities/duplicates", params=params, headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "申请加入" in fragment.text and f'hx-post="/activities/{existing.id}/join"' in fragment.text
    page = client.get("/activities/new", params={**params, "reload": "1"})
    assert "<html" in page.text and f'formaction="/activities/{existing.id}/join"' in page.text
    nothing = client.get("/activities/duplicates", params={**params, "occurred_on": (today_cn() - timedelta(days=40)).isoformat()}, headers=HX)
    assert "申请加入" not in nothing.text

    joined = client.post(f"/activities/{existing.id}/join", follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"] == f"/activities/{existing.id}?joined=1"
    row = session.get(ActivityParticipant, (existing.id, user.member_id))
    assert row.status == ParticipantStatus.confirmed  # they were there: added at once, the verifier may remove
    assert "已加入这次活动" in client.get(joined.headers["location"]).text
    again = client.post(f"/activities/{existing.id}/join", headers=HX)
    assert again.status_code == 409 and "已在这条活动的参与名单中" in again.text


def test_my_own_likely_duplicate_links_to_it_instead_of_offering_to_join(client, session, world):
    _member(client, session, world)
    mine = _created_id(_post(client, world))
    params = {"county_id": world.wuhua.id, "task_id": world.task.id, "occurred_on": today_cn().isoformat()}
    r = client.get("/activities/duplicates", params=params, headers=HX)
    assert "您已记录过这次活动" in r.text and f'href="/activities/{mine}"' in r.text and "/join" not in r.text
    # Correcting it does not warn about itself.
    edit = client.get("/activities/duplicates", params={**params, "exclude_id": mine}, headers=HX)
    assert "您已记录过这次活动" not in edit.text


# --- 我的活动, correcting, withdrawing -----------------------------------------------------------------

def test_my_activities_lists_what_i_recorded_and_what_i_took_part_in(client, session, world):
    user = _member(client, session, world)
    empty = client.get("/activities/mine")
    assert empty.status_code == 200 and "还没有活动" in empty.text and 'href="/activities/new"' in empty.text
    mine = _created_id(_post(client, world, description="我自己记录的义诊"))
    other = f.make_user(session, member=world.colleague, grants=((f.GrantRole.member, world.wuhua),))
    joint = f.make_activity(session, recorder=other, credited=world.wuhua, county=world.wuhua, task_=world.task,
                            values={world.count_ind.id: 2}, participants=(world.colleague,),
                            occurred_on=today_cn() - timedelta(days=1))
    session.add(ActivityParticipant(activity_id=joint.id, member_id=user.member_id))
    svc.return_activity(session, by=world.p(world.county_staff), activity_id=mine, reason="请补充服务人数")
    r = client.get("/activities/mine")
    assert f'href="/activities/{mine}"' in r.text and f'href="/activities/{joint.id}"' in r.text
    assert "已退回" in r.text and "退回理由：请补充服务人数" in r.text and "待审核" in r.text
    assert f'href="/activities/{mine}/edit"' in r.text and "参与（同事委员记录）" in r.text


def test_my_activities_page_and_the_htmx_listing(client, session, world):
    user = _member(client, session, world)
    for n in range(pages.PER_PAGE + 1):
        f.make_activity(session, recorder=user, credited=world.wuhua, county=world.wuhua, task_=world.task,
                        values={world.count_ind.id: 1}, occurred_on=today_cn() - timedelta(days=n))
    first = client.get("/activities/mine")
    assert "第 1 / 2 页" in first.text and 'href="/activities/mine?page=2"' in first.text
    second = client.get("/activities/mine?page=2", headers=HX)
    assert "<html" not in second.text and second.text.lstrip().startswith('<div id="mine-list">')
    assert second.text.count('class="activity-item"') == 1


def test_my_activities_reads_a_page_in_a_fixed_number_of_queries(client, session, world, base_engine):
    user = _member(client, session, world)

    def queries_for_page() -> int:
        statements = []
        def listener(*args) -> None:
            statements.append(args[2])

        event.listen(base_engine, "before_cursor_execute", listener)
        try:
            assert client.get("/activities/mine").status_code == 200
        finally:
            event.remove(base_engine, "before_cursor_execute", listener)
        return len(statements)

    f.make_activity(session, recorder=user, credited=world.wuhua, county=world.wuhua, task_=world.task,
                    values={world.count_ind.id: 1}, participants=(world.colleague,))
    queries_for_page()  # the caller is loaded once, then served by the principal cache
    one = queries_for_page()
    for _ in range(9):
        f.make_activity(session, recorder=user, credited=world.wuhua, county=world.wuhua, task_=world.task,
                        values={world.count_ind.id: 1, world.money_ind.id: 500}, participants=(world.colleague,))
    assert queries_for_page() == one


def test_a_returned_activity_is_corrected_and_resubmitted(client, session, world):
    user = _member(client, session, world)
    activity_id = _created_id(_post(client, world, participant=str(world.colleague.id)))
    svc.return_activity(session, by=world.p(world.county_staff), activity_id=activity_id, reason="金额有误")
    detail = client.get(f"/activities/{activity_id}")
    assert "退回理由：金额有误" in detail.text and f'href="/activities/{activity_id}/edit"' in detail.text

    form = client.get(f"/activities/{activity_id}/edit")
    assert form.status_code == 200 and "修改并重新提交" in form.text and "退回理由：金额有误" in form.text
    assert f'name="value_{world.money_ind.id}" value="8"' in form.text and "在五华区开展义诊活动" in form.text
    assert f'name="participant" value="{world.colleague.id}" checked' in form.text
    assert f'action="/activities/{activity_id}/edit"' in form.text

    bad = client.post(f"/activities/{activity_id}/edit", data=_fields(world, description="x"), follow_redirects=False)
    assert bad.status_code == 422 and "请简要描述活动内容" in bad.text
    r = client.post(f"/activities/{activity_id}/edit", follow_redirects=False, data=_fields(
        world, description="在五华区开展义诊活动（已补充）", **{f"value_{world.money_ind.id}": "12.5"}))
    assert r.status_code == 303 and r.headers["location"] == f"/activities/{activity_id}?corrected=1"
    activity = session.get(Activity, activity_id)
    session.refresh(activity)
    assert activity.status == ActivityStatus.pending and activity.description.endswith("（已补充）")
    assert "12.5" in client.get(r.headers["location"]).text
    assert len(_activities_of(session, user)) == 1


def test_a_verified_activity_offers_no_correction(client, session, world):
    _member(client, session, world)
    activity_id = _created_id(_post(client, world))
    svc.verify(session, by=world.p(world.county_staff), activity_id=activity_id)
    detail = client.get(f"/activities/{activity_id}")
    assert "已通过" in detail.text and "/edit" not in detail.text and "撤回" not in detail.text
    r = client.get(f"/activities/{activity_id}/edit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/activities/{activity_id}"


def test_a_pending_activity_is_withdrawn_after_a_confirmation(client, session, world):
    _member(client, session, world)
    activity_id = _created_id(_post(client, world))
    detail = client.get(f"/activities/{activity_id}")
    assert f'hx-post="/activities/{activity_id}/withdraw"' in detail.text and "hx-confirm=" in detail.text
    confirm = client.get(f"/activities/{activity_id}/withdraw")  # without JavaScript: a page that asks
    assert confirm.status_code == 200 and "确定撤回这条活动吗" in confirm.text
    assert f'action="/activities/{activity_id}/withdraw"' in confirm.text
    r = client.post(f"/activities/{activity_id}/withdraw", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/activities/{activity_id}?withdrawn=1"
    assert session.get(Activity, activity_id).status == ActivityStatus.withdrawn
    page = client.get(r.headers["location"])
    assert "已撤回" in page.text and "确定撤回" not in page.text
    twice = client.post(f"/activities/{activity_id}/withdraw", headers=HX)
    assert twice.status_code == 409 and "不能撤回" in twice.text


# --- outsiders, anonymous, CSRF ----------------------------------------------------------------------

def test_outsiders_get_404_on_an_activity_its_photos_and_its_form(client, session, world):
    _member(client, session, world)
    activity_id = _created_id(_post(client, world, files=[("photos", ("a.jpg", _jpeg(), "image/jpeg"))]))
    photo_id = session.scalar(select(ActivityPhoto.id).where(ActivityPhoto.activity_id == activity_id))
    for outsider in (world.outsider_member_user, world.outsider_staff):
        f.login_as(client, session, outsider)
        for url in (f"/activities/{activity_id}", f"/activities/{activity_id}/photos/{photo_id}",
                    f"/activities/{activity_id}/photos/{photo_id}?thumb=1", f"/activities/{activity_id}/edit",
                    f"/activities/{activity_id}/withdraw", f"/activities/duplicates?exclude_id={activity_id}"):
            r = client.get(url)
            assert r.status_code == 404, url
            assert "找不到该记录" in r.text
        assert client.post(f"/activities/{activity_id}/withdraw").status_code == 404
        assert client.post(f"/activities/{activity_id}/edit", data=_fields(world)).status_code == 404
    # A reader who is not the recorder may look but not change.
    f.login_as(client, session, world.county_staff)
    assert client.get(f"/activities/{activity_id}").status_code == 200
    assert client.get(f"/activities/{activity_id}/edit").status_code == 403
    assert session.get(Activity, activity_id).status == ActivityStatus.pending


def test_a_post_without_the_csrf_token_is_refused(client, session, world):
    user = _member(client, session, world)
    del client.headers["X-CSRF-Token"]
    r = client.post("/activities", data=_fields(world), follow_redirects=False)
    assert r.status_code == 403 and "页面已过期" in r.text
    assert _activities_of(session, user) == []
    # The hidden field of a plain form is accepted in its place.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/activities/new").text).group(1)
    ok = client.post("/activities", data={**_fields(world), "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303


def test_html_routes_stay_out_of_the_openapi_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/activities")]


def test_a_retried_correction_lands_once_and_shows_the_activity(client, session, world):
    _member(client, session, world)
    activity_id = _created_id(_post(client, world))
    svc.return_activity(session, by=world.p(world.county_staff), activity_id=activity_id, reason="金额有误")
    form = client.get(f"/activities/{activity_id}/edit")
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    fields = _fields(world, description="在五华区开展义诊活动（已补充）", version=version)
    first = client.post(f"/activities/{activity_id}/edit", data=fields, follow_redirects=False)
    retry = client.post(f"/activities/{activity_id}/edit", data=fields, follow_redirects=False)
    assert first.headers["location"] == f"/activities/{activity_id}?corrected=1"
    assert retry.status_code == 303 and retry.headers["location"] == f"/activities/{activity_id}?stale=1"
    assert "第一次已保存" in client.get(retry.headers["location"]).text
    activity = session.get(Activity, activity_id)
    session.refresh(activity)
    assert activity.version == int(version) + 1
