"""The 意见建议 flag is catalogue data an office sets on its own indicators (/manage/catalogue), audited;
its activities then carry a follow-up state and count toward 采纳率 (app/suggestions)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.errors import Invalid
from app.manage import catalogue as cat
from app.models import AuditLog, Indicator
from app.suggestions import service as suggestions
from tests import factories as f

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@SQLITE
def test_an_office_marks_its_own_indicator_as_a_suggestion(client, world):
    by = world.p(world.prefecture_staff)  # 昆明
    task = f.task(world.s, 7)
    assert not suggestions.is_suggestion_task(world.s, task.id)
    ind = cat.create_indicator(world.s, by, task_id=task.id, owner_org_id=world.kunming.id,
                               data=cat.IndicatorForm(name="医疗建议", unit="条", kind="count", suggestion=True))
    assert world.s.get(Indicator, ind.id).is_suggestion and suggestions.is_suggestion_task(world.s, task.id)
    with pytest.raises(Invalid) as refused:
        cat.update_indicator(world.s, by, ind.id, cat.IndicatorForm(name="医疗建议", unit="条", suggestion=True,
                                                                    outcome=True))
    assert "suggestion" in refused.value.errors
    cat.update_indicator(world.s, by, ind.id, cat.IndicatorForm(name="医疗建议", unit="条", suggestion=False))
    assert not world.s.get(Indicator, ind.id).is_suggestion
    audited = world.s.scalars(select(AuditLog).where(AuditLog.action == "indicator.update",
                                                     AuditLog.target_id == str(ind.id))).one()
    assert json.loads(audited.before) == {"is_suggestion": True} and json.loads(audited.after) == {"is_suggestion": False}
    f.login_as(client, world.s, world.prefecture_staff)
    page = client.get(f"/manage/catalogue/indicators/{ind.id}")
    assert page.status_code == 200 and 'name="suggestion"' in page.text and "意见建议指标" in page.text
    client.post(f"/manage/catalogue/indicators/{ind.id}", data={"name": "医疗建议", "unit": "条", "suggestion": "1"})
    world.s.expire_all()
    assert world.s.get(Indicator, ind.id).is_suggestion
    assert '<span class="tag">意见建议</span>' in client.get("/manage/catalogue").text
