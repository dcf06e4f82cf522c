"""The 合理性规则 pages (/manage/catalogue/rules): the rules in force with who set them and why, the
office's own to add, change and delete (post/redirect/get, a confirmation before deleting), errors
beside their fields, and who may: a county reads only, outsiders 404."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.models import Indicator, PlausibilityRule, RuleKind, Task
from app.quality import manage as rules
from tests import factories as f

pytestmark = pytest.mark.dates


class World:
    def __init__(self, session):
        self.s = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.prefecture_staff = f.persona(session, "prefecture_staff")  # 昆明
        self.county_staff = f.persona(session, "county_staff")  # 五华区
        self.outsider_staff = f.persona(session, "outsider_staff")  # 曲靖
        self.task = session.scalar(select(Task).where(Task.short_name == "资助学子"))
        inds = {i.name: i for i in session.scalars(select(Indicator).where(Indicator.task_id == self.task.id))}
        self.students, self.money = inds["资助学子"], inds["投入资金"]

    def kunming_rule(self, max_value: str = "100") -> PlausibilityRule:
        from app.auth.service import build_principal

        return rules.create_rule(self.s, build_principal(self.s, self.prefecture_staff, ip="test"),
                                 org_id=self.kunming.id, data=rules.RuleForm(
                                     kind="bound", indicator_id=self.students.id, max_value=max_value,
                                     source="昆明市按台账核定")).rule


@pytest.fixture
def w(session) -> World:
    return World(session)


def _login(client, w: World, user) -> dict:
    client.cookies.clear()
    return {"csrf_token": f.login_as(client, w.s, user)}


def _task_section(html: str, task_id: int) -> str:
    found = re.search(rf'<section class="catalogue-task" id="task-{task_id}">(.*?)</section>', html, re.DOTALL)
    assert found, "no section for the task"
    return found.group(1)


def test_the_catalogue_links_to_the_rules(client, w):
    _login(client, w, w.prefecture_staff)
    html = client.get("/manage/catalogue").text
    assert 'href="/manage/catalogue/rules"' in html
    assert f'href="/manage/catalogue/rules#task-{w.task.id}"' in html


def test_the_page_shows_inherited_rules_read_only_with_who_set_them(client, w):
    _login(client, w, w.prefecture_staff)
    r = client.get("/manage/catalogue/rules")
    assert r.status_code == 200 and f"合理性规则：{w.kunming.name}" in r.text
    section = _task_section(r.text, w.task.id)
    assert "每次不超过 200 人" in section and "每次不超过 500 万元" in section and "0.05 至 20 万元/人" in section
    assert w.province.name in section and "上级设置" in section and "国家助学金" in section  # the default's source
    assert "/delete" not in section  # the province's rules are not 昆明's to delete
    assert f"/manage/catalogue/rules/new?org_id={w.kunming.id}&amp;task_id={w.task.id}&amp;kind=bound" in section


def test_add_change_and_delete_a_rule_without_javascript(client, w):
    csrf = _login(client, w, w.prefecture_staff)
    r = client.get("/manage/catalogue/rules/new", params={"org_id": w.kunming.id, "task_id": w.task.id,
                                                          "kind": "ratio"})
    assert r.status_code == 200 and "分母指标" in r.text and 'name="min_ratio"' in r.text
    r = client.post("/manage/catalogue/rules", follow_redirects=False, data=csrf | {
        "org_id": w.kunming.id, "task_id": w.task.id, "kind": "bound", "indicator_id": w.students.id,
        "max_value": "120", "source": "昆明市按台账核定"})
    assert r.status_code == 303
    assert r.headers["location"] == f"/manage/catalogue/rules?org={w.kunming.code}&done=rule_saved#task-{w.task.id}"
    rule = w.s.scalar(select(PlausibilityRule).where(PlausibilityRule.org_id == w.kunming.id))
    assert (rule.kind, rule.max_value) == (RuleKind.bound, 120)
    html = client.get(r.headers["location"]).text
    assert "已保存。本辖区目前没有待审核活动。" in html
    assert "正在按新规则更新待审核活动的提示" in html  # the recompute job waits for a worker
    row = re.search(rf'<tr id="rule-{rule.id}">(.*?)</tr>', html, re.DOTALL).group(1)
    assert "每次不超过 120 人" in row and "昆明市按台账核定" in row and 'data-confirm="删除这条规则' in row

    assert 'value="120"' in client.get(f"/manage/catalogue/rules/{rule.id}").text
    r = client.post(f"/manage/catalogue/rules/{rule.id}", follow_redirects=False,
                    data=csrf | {"max_value": "300", "source": "放宽"})
    assert r.status_code == 303 and w.s.get(PlausibilityRule, rule.id).max_value == 300
    html = client.get(r.headers["location"]).text
    assert "省级上限为 200 人，州市只能收紧，此条不会放宽" in html

    r = client.post(f"/manage/catalogue/rules/{rule.id}/delete", follow_redirects=False, data=csrf)
    assert r.status_code == 303 and "done=rule_deleted" in r.headers["location"]
    assert w.s.get(PlausibilityRule, rule.id) is None


def test_a_bad_form_comes_back_with_the_message_beside_its_field(client, w):
    csrf = _login(client, w, w.prefecture_staff)
    r = client.post("/manage/catalogue/rules", data=csrf | {
        "org_id": w.kunming.id, "task_id": w.task.id, "kind": "ratio", "indicator_id": w.money.id,
        "per_indicator_id": w.students.id, "min_ratio": "3", "max_ratio": "1", "source": "x"})
    assert r.status_code == 422
    assert '<p class="field-error">下限不能大于上限</p>' in r.text and 'value="3"' in r.text
    assert not w.s.scalar(select(PlausibilityRule.id).where(PlausibilityRule.org_id == w.kunming.id))


def test_a_county_office_reads_the_rules_and_changes_none(client, w):
    rule = w.kunming_rule()
    csrf = _login(client, w, w.county_staff)
    r = client.get("/manage/catalogue/rules")
    assert r.status_code == 200 and "您可以查看，不能修改" in r.text and "每次不超过 100 人" in r.text
    assert "/manage/catalogue/rules/new" not in r.text and "/delete" not in r.text
    assert client.get(f"/manage/catalogue/rules/{rule.id}").status_code == 403
    assert client.post(f"/manage/catalogue/rules/{rule.id}/delete", data=csrf).status_code == 403
    r = client.post("/manage/catalogue/rules", data=csrf | {
        "org_id": w.kunming.id, "task_id": w.task.id, "kind": "bound", "indicator_id": w.students.id,
        "max_value": "1", "source": "x"})
    assert r.status_code == 404  # 昆明 lies above 五华区's office: not an organisation it sets rules for
    assert w.s.get(PlausibilityRule, rule.id).max_value == 100


def test_outsiders_never_reach_another_prefectures_rules(client, w):
    rule = w.kunming_rule()
    csrf = _login(client, w, w.outsider_staff)
    assert client.get(f"/manage/catalogue/rules/{rule.id}").status_code == 404
    assert client.post(f"/manage/catalogue/rules/{rule.id}/delete", data=csrf).status_code == 404
    assert client.get("/manage/catalogue/rules", params={"org": w.kunming.code}).status_code == 404
    assert "每次不超过 100 人" not in client.get("/manage/catalogue/rules").text  # 曲靖's own page
    assert w.s.get(PlausibilityRule, rule.id) is not None
