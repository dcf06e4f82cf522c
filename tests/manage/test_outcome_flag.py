"""The 成效 flag is catalogue data an office sets on its own indicators (/manage/catalogue), audited;
the boards then state the indicator apart from the task figures."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.boards import service as boards
from app.manage import catalogue as cat
from app.models import AuditLog, Indicator
from tests import factories as f


def test_an_office_marks_its_own_indicator_as_an_outcome(client, world):
    by = world.p(world.prefecture_staff)  # 昆明
    task = f.task(world.s, 7)
    ind = cat.create_indicator(world.s, by, task_id=task.id, owner_org_id=world.kunming.id,
                               data=cat.IndicatorForm(name="义诊受益人次", unit="人次", kind="count", outcome=True))
    assert world.s.get(Indicator, ind.id).is_outcome
    tasks, _ = boards.catalogue(world.s, world.kunming.id)
    medical = next(t for t in tasks if t.id == task.id)
    assert ind.id in {i.id for i in medical.outcomes} and ind.id not in {i.id for i in medical.indicators}
    cat.update_indicator(world.s, by, ind.id, cat.IndicatorForm(name="义诊受益人次", unit="人次", outcome=False))
    assert not world.s.get(Indicator, ind.id).is_outcome
    audited = world.s.scalars(select(AuditLog).where(AuditLog.action == "indicator.update",
                                                     AuditLog.target_id == str(ind.id))).one()
    assert json.loads(audited.before) == {"is_outcome": True} and json.loads(audited.after) == {"is_outcome": False}
    f.login_as(client, world.s, world.prefecture_staff)
    page = client.get(f"/manage/catalogue/indicators/{ind.id}")
    assert page.status_code == 200 and 'name="outcome"' in page.text and "成效指标" in page.text
    client.post(f"/manage/catalogue/indicators/{ind.id}", data={"name": "义诊受益人次", "unit": "人次", "outcome": "1"})
    world.s.expire_all()
    assert world.s.get(Indicator, ind.id).is_outcome
    assert '<span class="tag">成效</span>' in client.get("/manage/catalogue").text
