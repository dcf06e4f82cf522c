"""A prefecture's own indicators show in its subtree only: on its boards, in its reports, in the
recording form of its members, and in the API catalogue of its tokens — never in another prefecture's."""

from __future__ import annotations

import pytest

from app.activities import service as activities
from app.auth.service import build_principal
from app.boards import periods
from app.boards import service as boards
from app.clock import today_cn
from app.models import Indicator
from app.reports.service import build_report
from tests.api.conftest import bearer, make_token
from tests.factories import org, persona, task

pytestmark = pytest.mark.dates


def _own_indicator(session) -> Indicator:
    kunming = org(session, "530100")
    own = Indicator(task_id=task(session).id, name="昆明自设指标", unit="个", kind="count", owner_org_id=kunming.id,
                    narrative="完成昆明自设指标{value}个", sort_order=99)
    session.add(own)
    session.flush()
    return own


def _names(tasks) -> set[str]:
    return {i.name for t in tasks for i in t.indicators}


def test_boards_and_reports_show_it_in_its_subtree_only(session):
    own = _own_indicator(session)
    assert own.name in _names(boards.catalogue(session, org(session, "530102").id)[0])  # 五华区, under 昆明
    assert own.name not in _names(boards.catalogue(session, org(session, "530300").id)[0])  # 曲靖
    assert own.name not in _names(boards.catalogue(session, org(session, "530000").id)[0])  # the province
    period = periods.parse(str(today_cn().year))
    assert any(f.indicator.name == own.name for t in boards.overview(session, org(session, "530100"), period).tasks
               for f in t.indicators)
    assert not any(f.indicator.name == own.name for t in boards.overview(session, org(session, "530300"), period).tasks
                   for f in t.indicators)
    report = build_report(session, org(session, "530300"), period)
    assert own.name not in str(report)


def test_the_recording_form_offers_it_to_its_members_only(session):
    own = _own_indicator(session)
    member = build_principal(session, persona(session, "member"))

    def offered(code):
        return {i.name for _, inds in activities.task_choices(session, member, org(session, code).id) for i in inds}

    assert own.name in offered("530102") and own.name not in offered("530302")


def test_api_catalogue_follows_the_token_scope(client, session):
    own = _own_indicator(session)
    _, kunming = make_token(session, code="530100")
    _, qujing = make_token(session, code="530300")
    def names(raw: str) -> set[str]:
        return {i["name"] for t in client.get("/api/v1/catalogue", headers=bearer(raw)).json()["tasks"]
                for i in t["indicators"]}

    assert own.name in names(kunming) and own.name not in names(qujing)


def test_a_value_for_another_prefectures_own_indicator_is_refused(session):
    import pytest

    from app.activities.schemas import ActivityInput
    from app.errors import Invalid
    from app.models import GrantRole
    from tests.factories import make_member, make_user

    own = _own_indicator(session)
    qujing_county = org(session, "530302")
    member = make_member(session, qujing_county)
    by = build_principal(session, make_user(session, member=member, grants=((GrantRole.member, qujing_county),)))
    data = ActivityInput(task_id=task(session).id, county_id=qujing_county.id, occurred_on=today_cn().isoformat(), description="技术培训",
                         values={own.id: "2"})
    with pytest.raises(Invalid) as refused:
        activities.record_activity(session, by=by, data=data, idempotency_key="own-indicator")
    assert refused.value.code == "indicator_not_in_task", (refused.value.message, refused.value.errors)
