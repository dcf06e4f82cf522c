"""`demo`: the invented province is complete, consistent, skewed as the brief says, and repeatable."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from app.accounts.passwords import verify_password
from app.boards import periods
from app.boards import service as boards
from app.db import make_engine, migrate, write_session
from app.leads import service as leads
from app.models import (
    Activity,
    AnnualTarget,
    AppMeta,
    LinkAssignment,
    Member,
    Organisation,
    OrgLevel,
    RoleGrant,
    TaskLead,
    UserAccount,
)
from app.models.meta import DEMO_KEY
from app.seed.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_logins, load_demo
from tests.conftest import temporary_database

TODAY = date(2026, 6, 15)
ACTIVITIES = 3_000


def _quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def demo(backend, tmp_path_factory):
    """One demo database per backend for the module (loading 30,000 members takes a second or two)."""
    with temporary_database(backend, tmp_path_factory.mktemp("demo")) as url:
        migrate(url)
        engine = make_engine(url)
        with write_session(engine) as s:
            result = load_demo(s, activities=ACTIVITIES, seed=7, today=TODAY, progress=_quiet)
            s.commit()
        yield engine, result
        engine.dispose()


def _scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_counts_follow_the_flag_and_the_brief(demo):
    engine, result = demo
    assert result.activities == ACTIVITIES
    assert result.key_counties == 57
    assert 29_000 <= result.members <= 31_000
    assert result.users > result.members and result.grants > result.members
    assert result.activity_values >= ACTIVITIES and result.participants >= ACTIVITIES
    assert result.link_assignments and result.targets and result.closed_months
    assert any("演示数据" in line for line in result.summary_lines())
    with write_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Activity)) == ACTIVITIES
        assert s.scalar(select(func.count()).select_from(Member)) == result.members
        assert s.scalar(select(func.count()).where(Organisation.is_key_county.is_(True))) == 57
        assert s.get(AppMeta, DEMO_KEY) is not None
        # Key-support counties are rural: mostly 县, never more than a handful of 区.
        key_names = s.scalars(select(Organisation.name).where(Organisation.is_key_county.is_(True))).all()
        assert sum(n.endswith("县政协") for n in key_names) >= 45


def test_activity_rows_hang_together(demo):
    engine, _ = demo
    checks = {
        "value of another task": (
            "SELECT count(*) FROM activity_value v JOIN activity a ON a.id = v.activity_id "
            "WHERE a.task_id <> v.task_id"
        ),
        "in the future": f"SELECT count(*) FROM activity WHERE occurred_on > '{TODAY.isoformat()}'",
        "older than a year": ("SELECT count(*) FROM activity WHERE occurred_on < "
                              f"'{(TODAY.replace(year=TODAY.year - 1) + timedelta(days=1)).isoformat()}'"),
        "reviewed before submitted": "SELECT count(*) FROM activity WHERE reviewed_at < submitted_at",
        "returned without reason": (
            "SELECT count(*) FROM activity WHERE status = 'returned' AND status_reason IS NULL"
        ),
        "decided without reviewer": (
            "SELECT count(*) FROM activity WHERE status IN ('verified', 'returned') "
            "AND reviewer_user_id IS NULL"
        ),
        "without participant": (
            "SELECT count(*) FROM activity a WHERE NOT EXISTS "
            "(SELECT 1 FROM activity_participant p WHERE p.activity_id = a.id)"
        ),
        "recorder not taking part": (
            "SELECT count(*) FROM activity a JOIN user_account u ON u.id = a.recorder_user_id "
            "WHERE u.member_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM activity_participant p "
            "WHERE p.activity_id = a.id AND p.member_id = u.member_id)"
        ),
        "credited elsewhere than organiser": (
            "SELECT count(*) FROM activity WHERE organiser_org_id IS NOT NULL "
            "AND credited_org_id <> organiser_org_id"
        ),
        # Older items were decided; nothing in a closed month waits for review.
        "pending long ago": (
            "SELECT count(*) FROM activity WHERE status = 'pending' "
            f"AND occurred_on < '{(TODAY.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat()}'"
        ),
    }
    assert {name: _scalar(engine, sql) for name, sql in checks.items()} == dict.fromkeys(checks, 0)
    # The skew the boards need: joint, pending, returned, 代录 and inactive members all present.
    present = {
        "joint": "SELECT count(*) FROM activity WHERE organiser_org_id IS NOT NULL",
        "pending": "SELECT count(*) FROM activity WHERE status = 'pending'",
        "returned": "SELECT count(*) FROM activity WHERE status = 'returned'",
        "recorded by staff": (
            "SELECT count(*) FROM activity a JOIN user_account u ON u.id = a.recorder_user_id "
            "WHERE u.member_id IS NULL"
        ),
        "with a site": "SELECT count(*) FROM activity WHERE site_id IS NOT NULL",
        "inactive members": "SELECT count(*) FROM member m WHERE NOT EXISTS "
                            "(SELECT 1 FROM activity_participant p WHERE p.member_id = m.id)",
        "archived memberships": "SELECT count(*) FROM membership WHERE end_date IS NOT NULL",
    }
    assert all(_scalar(engine, sql) > 0 for sql in present.values()), {
        name: _scalar(engine, sql) for name, sql in present.items()
    }


def test_four_key_counties_have_no_linked_leader(demo):
    engine, _ = demo
    gaps = _scalar(engine, (
        "SELECT count(*) FROM organisation o WHERE o.is_key_county AND NOT EXISTS "
        "(SELECT 1 FROM link_assignment l WHERE l.county_id = o.id AND l.site_id IS NULL "
        "AND l.end_date IS NULL)"
    ))
    assert gaps == 4
    with write_session(engine) as s:
        ended = s.scalar(select(func.count()).where(LinkAssignment.end_date.is_not(None)))
        assert ended and ended < 20


# A participant the recording rules allow (app/activities/recording.py ``_check_participants``): serving on the
# day in the subtree of the recorder's organisation (the member's, or the office's for 代录) or of the organiser.
PARTICIPANTS_OUTSIDE_THE_RULES = """
WITH rec AS (
  SELECT a.id, a.organiser_org_id, a.occurred_on,
    COALESCE((SELECT ms.org_id FROM membership ms WHERE ms.member_id = u.member_id AND ms.end_date IS NULL),
             (SELECT g.org_id FROM role_grant g WHERE g.user_id = u.id AND g.role = 'staff')) AS recorder_org
  FROM activity a JOIN user_account u ON u.id = a.recorder_user_id)
SELECT count(*) FROM activity_participant p JOIN rec ON rec.id = p.activity_id
WHERE NOT EXISTS (
  SELECT 1 FROM membership ms JOIN org_closure c ON c.descendant_id = ms.org_id
  WHERE ms.member_id = p.member_id AND ms.start_date <= rec.occurred_on
    AND (ms.end_date IS NULL OR ms.end_date >= rec.occurred_on)
    AND (c.ancestor_id = rec.recorder_org OR c.ancestor_id = rec.organiser_org_id))
"""


def test_participants_are_those_recording_allows(demo):
    engine, _ = demo
    assert _scalar(engine, PARTICIPANTS_OUTSIDE_THE_RULES) == 0
    # The check can fail: leaders' visits take members of the county below along, who are in the subtree of
    # the leader's organisation but not of its own members.
    own_organisation_only = PARTICIPANTS_OUTSIDE_THE_RULES.replace(
        "c.descendant_id = ms.org_id", "c.descendant_id = ms.org_id AND c.depth = 0")
    assert _scalar(engine, own_organisation_only) > 0


def test_linked_leaders_visit_their_linked_county(demo):
    """Leaders' visits (「到挂联县/点」): a leader linked to the county that day takes part, and whoever else
    came was allowed to (above); the demo leader's one is verified lately."""
    engine, _ = demo
    visits = _scalar(engine, "SELECT count(*) FROM activity WHERE description LIKE '%到挂联%'")
    assert visits > 0
    without_leader = _scalar(engine, (
        "SELECT count(*) FROM activity a WHERE a.description LIKE '%到挂联%' AND NOT EXISTS ("
        "SELECT 1 FROM activity_participant p JOIN link_assignment l ON l.leader_member_id = p.member_id "
        "AND l.county_id = a.county_id AND l.start_date <= a.occurred_on "
        "AND (l.end_date IS NULL OR l.end_date >= a.occurred_on) WHERE p.activity_id = a.id)"
    ))
    assert without_leader == 0
    demo_leader_lately = _scalar(engine, (
        "SELECT count(*) FROM activity a JOIN activity_participant p ON p.activity_id = a.id "
        "JOIN member m ON m.id = p.member_id JOIN link_assignment l ON l.leader_member_id = m.id "
        "AND l.county_id = a.county_id "
        f"WHERE m.phone = '13900000005' AND a.status = 'verified' AND a.occurred_on >= '{TODAY - timedelta(days=90)}'"
    ))
    assert demo_leader_lately >= 1


def test_most_linked_leaders_went_to_their_county_lately(tmp_path):
    """挂联实效 on a demo of serve's default size (SQLite only, as the determinism test): most links in force
    have the leader's own verified activity in the county within N months, some only earlier, a few none;
    the flag counts exactly the last two."""
    from app.auth.service import build_principal
    from app.boards import periods
    from app.links import service as links

    with temporary_database("sqlite", tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        with write_session(engine) as s:
            load_demo(s, activities=20_000, seed=2026, today=TODAY, progress=_quiet)
            s.commit()
        with write_session(engine) as s:
            staff = s.scalar(select(UserAccount).where(UserAccount.login == "13900000002"))
            province = s.scalar(select(Organisation).where(Organisation.level == OrgLevel.province))
            report = links.effect_report(s, build_principal(s, staff, today=TODAY), province,
                                         periods.parse(str(TODAY.year), TODAY), today=TODAY)
        engine.dispose()
    window = links.idle_since(TODAY, report.idle_months)
    lately = sum(1 for e in report.rows if e.last_activity_on and e.last_activity_on >= window)
    earlier = sum(1 for e in report.rows if e.last_activity_on and e.last_activity_on < window)
    never = sum(1 for e in report.rows if e.last_activity_on is None)
    assert report.total > 1_000
    assert 0.70 <= lately / report.total <= 0.85, (lately, earlier, never, report.total)
    assert earlier / report.total >= 0.05 and 0.03 <= never / report.total <= 0.10, (lately, earlier, never)
    assert report.idle == earlier + never


def test_groups_and_leads_hang_together(demo):
    """牵头统筹: each 委员活动小组's leader is one of its members, every member serves in the group's subtree
    today, and most leads show activity of their body (groups form around the 实事 they lead)."""
    engine, result = demo
    assert result.activity_groups >= 2 * 17 and result.task_leads > result.activity_groups
    assert _scalar(engine, "SELECT count(*) FROM activity_group g WHERE NOT EXISTS (SELECT 1 FROM "
                           "activity_group_member m WHERE m.group_id = g.id AND m.member_id = g.leader_member_id)") == 0
    outside = ("SELECT count(*) FROM activity_group_member gm JOIN activity_group g ON g.id = gm.group_id "
               "WHERE NOT EXISTS (SELECT 1 FROM membership ms JOIN org_closure c ON c.descendant_id = ms.org_id "
               "WHERE ms.member_id = gm.member_id AND c.ancestor_id = g.org_id AND ms.end_date IS NULL)")
    assert _scalar(engine, outside) == 0
    assert _scalar(engine, outside.replace("c.descendant_id = ms.org_id", "c.descendant_id = ms.org_id AND c.depth = 0")) > 0
    with write_session(engine) as s:
        period = periods.parse(None, TODAY)
        shown = [leads.progress(s, lead, period) for lead in s.scalars(select(TaskLead).where(TaskLead.group_id.is_not(None)))]
    assert sum(p.activities > 0 for p in shown) >= 0.6 * len(shown)  # 3,000 activities here; 96% at 20,000


def test_some_suggestions_were_followed(demo):
    """意见建议的跟踪: the demo's 采纳率 has figures — states only on verified suggestions, none in the last month."""
    engine, result = demo
    assert result.suggestion_states > 0
    assert _scalar(engine, "SELECT count(*) FROM suggestion_follow_up f JOIN activity a ON a.id = f.activity_id "
                           "WHERE a.status <> 'verified' OR f.state_on < a.occurred_on") == 0
    assert _scalar(engine, "SELECT count(DISTINCT state) FROM suggestion_follow_up") == 4


def test_a_share_of_activities_state_their_outcomes(demo):
    """成效: filled in on part of the activities (never alone: each keeps an effort figure), no targets;
    the province's board states them."""
    engine, _ = demo
    total = _scalar(engine, "SELECT count(*) FROM activity")
    stating = _scalar(engine, "SELECT count(DISTINCT v.activity_id) FROM activity_value v "
                              "JOIN indicator i ON i.id = v.indicator_id WHERE i.is_outcome = true")
    assert 0.3 * total < stating < 0.8 * total
    assert _scalar(engine, "SELECT count(*) FROM activity a WHERE NOT EXISTS (SELECT 1 FROM activity_value v "
                           "JOIN indicator i ON i.id = v.indicator_id WHERE v.activity_id = a.id "
                           "AND i.is_outcome = false)") == 0
    assert _scalar(engine, "SELECT count(*) FROM annual_target t JOIN indicator i ON i.id = t.indicator_id "
                           "WHERE i.is_outcome = true") == 0
    with write_session(engine) as s:
        province = s.scalar(select(Organisation).where(Organisation.code == "530000"))
        ov = boards.overview(s, province, periods.parse(str(TODAY.year), TODAY))
        said = {o.name: o.verified for o in ov.outcomes}
    assert said["受益群众"] > 0 and said["带动就业"] > 0 and said["带动增收"] > 0
    assert ov.outcome_text.startswith("惠及群众")


def test_targets_cover_every_organisation_and_some_lag(demo):
    engine, _ = demo
    with write_session(engine) as s:
        orgs_with_targets = s.scalar(
            select(func.count(func.distinct(AnnualTarget.org_id))).where(AnnualTarget.year == TODAY.year)
        )
        levels = dict(s.execute(select(Organisation.level, func.count()).group_by(Organisation.level)).all())
        assert orgs_with_targets >= 1 + levels[OrgLevel.prefecture.value] + levels[OrgLevel.county.value] - 5
        assert s.scalar(select(func.min(AnnualTarget.value))) > 0
    # Verified year-to-date against the pace (target × months elapsed ÷ 12), per organisation and indicator.
    ratio_sql = (
        f"SELECT t.org_id, t.indicator_id, COALESCE(SUM(v.value), 0) * 12.0 / ({TODAY.month} * t.value) AS ratio "
        "FROM annual_target t JOIN org_closure c ON c.ancestor_id = t.org_id "
        "LEFT JOIN activity a ON a.credited_org_id = c.descendant_id AND a.status = 'verified' "
        f"AND a.occurred_on >= '{TODAY.year}-01-01' "
        "LEFT JOIN activity_value v ON v.activity_id = a.id AND v.indicator_id = t.indicator_id "
        f"WHERE t.year = {TODAY.year} GROUP BY t.org_id, t.indicator_id, t.value"
    )
    with engine.connect() as conn:
        ratios = [r.ratio for r in conn.execute(text(ratio_sql))]
    assert any(r >= 1.0 for r in ratios) and any(r < 0.9 for r in ratios)


def test_demo_logins_sign_in_with_their_grant(demo):
    engine, _ = demo
    with write_session(engine) as s:
        logins = demo_logins(s)
        assert [item.login for item in logins] == [a.phone for a in DEMO_ACCOUNTS]
        for item, account in zip(logins, DEMO_ACCOUNTS, strict=True):
            user = s.scalar(select(UserAccount).where(UserAccount.login == item.login))
            assert item.password == DEMO_PASSWORD and verify_password(user.password_hash, DEMO_PASSWORD)
            assert s.scalar(select(func.count()).where(
                RoleGrant.user_id == user.id, RoleGrant.role == account.role.value
            )) == 1
            assert item.role and item.org_name.endswith("政协")
        linked = {u.login for u in s.scalars(select(UserAccount).where(
            UserAccount.login.in_([a.phone for a in DEMO_ACCOUNTS]), UserAccount.member_id.is_not(None)
        ))}
        assert {"13900000005", "13900000006", "13900000007"} <= linked
        # Everyone else activates with a one-time code: no other account has a password.
        with_password = s.scalar(select(func.count()).where(UserAccount.password_hash.is_not(None)))
        assert with_password == len(DEMO_ACCOUNTS)


def test_members_reached_since_tracking_began(demo):
    """动员面 in the demo: whoever recorded an activity themselves since tracking began signed in that
    month, others now and then; the rollup counts it exactly and the boards show a real rate."""
    from app.boards import periods
    from app.boards import service as boards
    from app.clock import CN, yyyymm
    from app.models import MemberReach
    from app.rollup import service as rollup
    from app.seed.demo import REACH_MONTHS

    engine, result = demo
    with write_session(engine) as s:
        reached = set(s.execute(select(MemberReach.member_id, MemberReach.month)).all())
        assert result.reached == len(reached) > 0
        first = TODAY.year * 12 + TODAY.month - 1 - REACH_MONTHS
        since = (first // 12) * 100 + first % 12 + 1
        assert rollup.reach_since(s.connection()) == since == min(m for _, m in reached)
        assert {m for _, m in reached} == {since + n for n in range(REACH_MONTHS + 1)}
        recorded = s.execute(select(UserAccount.member_id, Activity.submitted_at).join(
            UserAccount, UserAccount.id == Activity.recorder_user_id).where(UserAccount.member_id.is_not(None))).all()
        signed_in = {(m, yyyymm(at.astimezone(CN).date())) for m, at in recorded}
        assert {k for k in signed_in if k[1] >= since} <= reached
        assert rollup.check(s) == []
        province = s.scalar(select(Organisation).where(Organisation.level == OrgLevel.province))
        month = boards.participation(s, [province.id], periods.parse(f"{TODAY:%Y-%m}", TODAY))[province.id]
        assert month.reach_active == month.active and 0 < month.mobilisation_rate < 1
        year = boards.participation(s, [province.id], periods.parse(str(TODAY.year), TODAY))[province.id]
        assert year.reach_since == since and year.reach_note == f"自{TODAY.year}年{since % 100}月起统计"


def test_a_second_load_is_refused(demo):
    engine, _ = demo
    with write_session(engine) as s, pytest.raises(ValueError, match="演示数据"):
        load_demo(s, activities=10, today=TODAY, progress=_quiet)


def test_demo_logins_are_empty_without_a_demo(session):
    assert demo_logins(session) == []


DETERMINISM_QUERIES = (
    "SELECT id, name, phone, sector, enterprise FROM member ORDER BY id",
    ("SELECT id, recorder_user_id, credited_org_id, task_id, county_id, site_id, occurred_on, description, "
     "status, reviewed_at, idempotency_key FROM activity ORDER BY id"),
    "SELECT * FROM activity_value ORDER BY 1, 2",
    "SELECT org_id, indicator_id, value FROM annual_target ORDER BY 1, 2",
    ("SELECT leader_member_id, county_id, site_id, role, start_date, end_date FROM link_assignment "
     "ORDER BY id"),
    "SELECT * FROM member_reach ORDER BY 1, 2",
    "SELECT * FROM activity_participant ORDER BY 1, 2",
)


def test_same_seed_gives_the_same_rows(tmp_path):
    """On SQLite only: determinism is the generator's property, not the database's."""
    digests = []
    for run in range(2):
        with temporary_database("sqlite", tmp_path / str(run)) as url:
            migrate(url)
            engine = make_engine(url)
            with write_session(engine) as s:
                load_demo(s, activities=500, seed=11, today=TODAY, progress=_quiet)
                s.commit()
            with engine.connect() as conn:
                digests.append([conn.execute(text(sql)).all() for sql in DETERMINISM_QUERIES])
            engine.dispose()
    assert digests[0] == digests[1]
