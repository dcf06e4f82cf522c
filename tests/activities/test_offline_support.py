"""What the server does for the phone without a network (issue 18; app/offline.py): the service worker
at the site's root, the offline page, the token a queue is sent with, the reason of a refusal as a
header, every task's value inputs in the page — and the queue's retries of one submission make one row."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from app.models import Activity
from tests.activities.test_pages import HX, _fields, _member, _post

pytestmark = pytest.mark.dates


def test_the_worker_is_served_from_the_root_never_cached_with_outbox_fingerprinted(client):
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.headers["content-type"].startswith("text/javascript")
    assert sw.headers["cache-control"] == "no-cache" and sw.headers["service-worker-allowed"] == "/"
    outbox = re.search(r'importScripts\("(/static/[0-9a-f]{8}/js/outbox\.js)"\)', sw.text)
    assert outbox, "the worker loads outbox.js under its content hash"
    assert "__VERSION__" not in sw.text and re.search(r'var VERSION = "[0-9a-f]{10}"', sw.text)
    assert client.get(outbox.group(1)).status_code == 200


def test_the_offline_page_names_nobody(client, session, world):
    _member(client, session, world)
    page = client.get("/offline")
    assert page.status_code == 200 and "当前没有网络" in page.text
    assert world.member_user.display_name not in page.text and "data-user" not in page.text


def test_the_session_token_is_for_the_signed_in_user_and_never_kept(client, session, world):
    assert client.get("/session/token", headers=HX).status_code == 401  # signed out: the queue waits
    user = _member(client, session, world)
    answer = client.get("/session/token", headers=HX)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["user_id"] == user.id and body["csrf_token"]
    # The token it gives is accepted for a submission (the queue sends long after its page).
    del client.headers["X-CSRF-Token"]
    sent = _post(client, world, headers=HX | {"X-CSRF-Token": body["csrf_token"]})
    assert sent.status_code == 204 and sent.headers["HX-Redirect"].endswith("?created=1")


def test_a_refusal_carries_its_reason_as_a_header(client, session, world):
    _member(client, session, world)
    refused = _post(client, world, headers=HX, **{f"value_{world.count_ind.id}": "1.5"})
    assert refused.status_code == 422
    reason = unquote(refused.headers["X-Message"])
    assert "整数" in reason or "请修改" in reason
    assert reason in refused.text  # the same words the page shows


def test_the_same_key_with_other_content_names_the_activity_it_recorded(client, session, world):
    _member(client, session, world)
    first = _post(client, world, headers=HX)
    again = _post(client, world, headers=HX, description="改过的描述：同一个提交编号")
    activity_id = int(re.search(r"/activities/(\d+)", first.headers["HX-Redirect"]).group(1))
    assert again.status_code == 200 and again.headers["X-Recorded"] == str(activity_id)


def test_an_htmx_error_answer_carries_its_message(client, session, world):
    _member(client, session, world)
    del client.headers["X-CSRF-Token"]
    refused = client.post("/activities", data=_fields(world), headers=HX)
    assert refused.status_code == 403 and "页面已过期" in unquote(refused.headers["X-Message"])


def test_the_form_carries_every_tasks_value_inputs(client, session, world):
    _member(client, session, world)
    page = client.get("/activities/new").text
    templates = dict(re.findall(r'<template data-values-for="(\d*)">(.*?)</template>', page, flags=re.DOTALL))
    assert "选择实事后" in templates[""]
    inputs = templates[str(world.task.id)]
    assert f'name="value_{world.count_ind.id}"' in inputs and f'name="value_{world.money_ind.id}"' in inputs
    assert 'value=""' in inputs  # blank: nothing typed is copied into another task's inputs


def test_a_queue_sending_one_submission_again_and_again_makes_one_row(client, session, world):
    user = _member(client, session, world)
    answers = [_post(client, world, headers=HX) for _ in range(4)]
    assert [a.status_code for a in answers] == [204] * 4
    assert len({a.headers["HX-Redirect"].split("?")[0] for a in answers}) == 1
    assert session.scalar(select(func.count()).select_from(Activity).where(Activity.recorder_user_id == user.id)) == 1


def test_signed_in_pages_load_the_phone_scripts_and_anonymous_ones_do_not(client, session, world):
    assert "offline.js" not in client.get("/login").text
    user = _member(client, session, world)
    page = client.get("/activities/mine").text
    assert "js/outbox.js" in page and "js/offline.js" in page and f'data-user="{user.id}"' in page
    assert "data-queue-list" in page
