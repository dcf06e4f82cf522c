"""`demo`: invented people and work on top of the real divisions, labelled 演示数据 wherever shown.

``load_demo`` runs ``init`` (real organisations, sites and catalogue), then invents ~30,000 members,
their accounts, 挂联, annual targets and a year of activities with a plausible skew: busy and
lagging counties, inactive members, joint activities, pending and returned items, and linked leaders
who mostly went to their linked county lately (挂联实效), some only earlier, a few never.

Everything is drawn from one ``random.Random(seed)``, so the same seed and ``today`` give the same
rows. Rows go in through ``bulk_insert`` with ids assigned here: the ORM would take minutes for the
hundreds of thousands of rows a large demo writes.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from itertools import accumulate
from typing import TypeVar

from sqlalchemy import Connection, func, select, text, update
from sqlmodel import Session

from app.accounts.passwords import hash_password
from app.catalogue.service import current_campaign, sees
from app.clock import CN, now_utc, today_cn, yyyymm
from app.links.service import idle_since
from app.meeting.settings import settings_for
from app.models import (
    Activity,
    ActivityStatus,
    AppMeta,
    GrantRole,
    Indicator,
    IndicatorKind,
    LinkRole,
    Member,
    MemberRole,
    Organisation,
    OrgLevel,
    RoleGrant,
    Site,
    SiteKind,
    Task,
    UserAccount,
)
from app.models.meta import DEMO_KEY
from app.rollup import service as rollup
from app.seed.bulk import bulk_insert, db_date, db_datetime, indexes_deferred, next_id, sync_sequence
from app.seed.province import init_province

_T = TypeVar("_T")

DEMO_PASSWORD = "demo2026"
DEMO_PROVINCE = "53"
KEY_COUNTY_COUNT = 57
MEMBER_TARGET = 30_000
ACTIVITY_CHUNK = 50_000
COLLECTION_DAYS = 10  # days after a quarter ends before the province closes it
# 动员面 was tracked from this many months before today's month: the year's periods show
# 「自X年X月起统计」, the recent months a full 动员面. Each month a member who recorded an activity
# signed in to do it; of the others, active members sign in now and then, inactive ones rarely.
REACH_MONTHS = 3
SIGN_IN_ACTIVE, SIGN_IN_INACTIVE = 0.35, 0.06
# 挂联实效: of the (leader, county) pairs in force, most leaders went to their county within the offices' N
# months, some only earlier in the year, a few never; shares for a leader who is an active member and for
# an inactive one, who lags more often. Leaders' visits are at most this share of the activities (a
# small demo has fewer of them, so more leaders look idle).
LINK_OLDER_ONLY = (0.12, 0.25)
LINK_NEVER = (0.04, 0.14)
LINK_VISIT_SHARE = 0.2
# Meetings speak in Beijing time; timestamps are stored in UTC.


@dataclass(frozen=True)
class DemoAccount:
    """A printed demo login: its memorable phone, what it shows, and the grant it demonstrates."""

    phone: str
    label: str
    role: GrantRole


ADMIN, PROVINCE_STAFF, PREFECTURE_STAFF, COUNTY_STAFF, LEADER, COMMITTEE_HEAD, MEMBER, VIEWER = (
    DemoAccount("13900000001", "省级管理员", GrantRole.admin),
    DemoAccount("13900000002", "省政协「双助推」办公室", GrantRole.staff),
    DemoAccount("13900000003", "州市政协「双助推」办公室", GrantRole.staff),
    DemoAccount("13900000004", "重点县政协「双助推」办公室", GrantRole.staff),
    DemoAccount("13900000005", "省政协领导（挂联重点县）", GrantRole.leader),
    DemoAccount("13900000006", "州市政协专委会负责人", GrantRole.leader),
    DemoAccount("13900000007", "委员", GrantRole.member),
    DemoAccount("13900000008", "只读（会议大屏）", GrantRole.viewer),
)
DEMO_ACCOUNTS = (
    ADMIN, PROVINCE_STAFF, PREFECTURE_STAFF, COUNTY_STAFF, LEADER, COMMITTEE_HEAD, MEMBER, VIEWER,
)


@dataclass(frozen=True)
class DemoLogin:
    role: str  # shown to people, in Chinese
    login: str
    password: str
    org_name: str  # the organisation of the grant the login demonstrates


@dataclass
class DemoResult:
    """Row counts written by ``load_demo`` (organisations and sites come from ``init``)."""

    organisations: int = 0
    sites: int = 0
    key_counties: int = 0
    committees: int = 0
    terms: int = 0
    members: int = 0
    memberships: int = 0
    users: int = 0
    grants: int = 0
    link_assignments: int = 0
    activity_groups: int = 0
    task_leads: int = 0
    suggestion_states: int = 0
    targets: int = 0
    activities: int = 0
    activity_values: int = 0
    participants: int = 0
    closed_months: int = 0
    reached: int = 0
    seconds: float = 0.0

    def summary_lines(self) -> list[str]:
        """Lines for the terminal, one count per line."""
        rows = [
            ("组织（区划载入）", "organisations", self.organisations),
            ("乡镇与村（区划载入）", "sites", self.sites),
            ("重点帮扶县", "key-support counties", self.key_counties),
            ("专委会与办公室", "committees", self.committees),
            ("届", "terms", self.terms),
            ("委员", "members", self.members),
            ("任职记录", "memberships", self.memberships),
            ("账号", "user accounts", self.users),
            ("授权", "role grants", self.grants),
            ("挂联", "link assignments", self.link_assignments),
            ("委员活动小组", "activity groups", self.activity_groups),
            ("牵头统筹", "task leads", self.task_leads),
            ("意见建议跟踪", "suggestion states", self.suggestion_states),
            ("年度目标", "annual targets", self.targets),
            ("活动", "activities", self.activities),
            ("活动指标值", "activity values", self.activity_values),
            ("参与记录", "participants", self.participants),
            ("已关账月份", "closed months", self.closed_months),
            ("委员登录（月）", "member-months reached", self.reached),
        ]
        lines = [f"演示数据已载入 / demo data loaded in {self.seconds:.1f} s"]
        lines += [f"  {zh:<12}{en:<22}{n:>10,}" for zh, en, n in rows]
        return lines


def demo_logins(session: Session) -> list[DemoLogin]:
    """The demo logins found in the database, in a fixed order (empty when no demo is loaded)."""
    if session.get(AppMeta, DEMO_KEY) is None:
        return []
    stmt = (
        select(UserAccount.login, RoleGrant.role, Organisation.name)
        .join(RoleGrant, RoleGrant.user_id == UserAccount.id)
        .join(Organisation, Organisation.id == RoleGrant.org_id)
        .where(UserAccount.login.in_([a.phone for a in DEMO_ACCOUNTS]))
    )
    org_of = {(login, GrantRole(role)): name for login, role, name in session.execute(stmt)}
    return [
        DemoLogin(role=a.label, login=a.phone, password=DEMO_PASSWORD, org_name=org_of[(a.phone, a.role)])
        for a in DEMO_ACCOUNTS
        if (a.phone, a.role) in org_of
    ]


def load_demo(
    session: Session,
    *,
    activities: int = 20_000,
    seed: int = 2026,
    today: date | None = None,
    progress: Callable[[str], object] = print,
) -> DemoResult:
    """Load the province and invent a demo on it; flushes only (the caller commits)."""
    if activities < 0:
        raise ValueError("活动数量不能为负数")
    if session.get(AppMeta, DEMO_KEY) is not None:
        raise ValueError("数据库中已有演示数据，不能重复载入")
    if session.scalar(select(func.count()).select_from(Member)):
        raise ValueError("数据库中已有委员数据，演示数据只能载入没有委员的数据库")
    taken = session.scalars(
        select(UserAccount.login).where(UserAccount.login.in_([a.phone for a in DEMO_ACCOUNTS]))
    ).all()
    if taken:
        raise ValueError(f"账号 {', '.join(sorted(taken))} 已存在，与演示账号冲突，不能载入演示数据")
    started = time.perf_counter()
    progress("载入区划与指标目录 …")
    init = init_province(session, DEMO_PROVINCE)
    result = DemoResult(organisations=init.organisations, sites=init.towns + init.villages)
    builder = _DemoBuilder(session, random.Random(seed), today or today_cn(), result, progress)
    builder.build(activities)
    session.add(AppMeta(key=DEMO_KEY, value="1"))
    session.flush()
    # Objects loaded before the bulk statements must not hide the new rows.
    session.expire_all()
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------------------------
# Invented names and words (data for the demo only)

SURNAMES = (
    "李王张杨刘陈赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡"
    "贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷"
    "钱汤尹黎易常武乔贺赖龚文普刀和字者木岩施鲁罕"
)
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍梅琳云海波宁建国志文斌俊峰德成春燕"
    "晓东丹凤鹏飞雪晨曦涵宇航瑞祥光荣永福家兴松柏红艺丽萍思远绍昆滇昌润泽正清"
)
# 界别 and their weights, roughly as seats are shared out in a 政协.
SECTORS = (
    ("中共", 24), ("民革", 2), ("民盟", 3), ("民建", 3), ("民进", 2), ("农工党", 2), ("致公党", 1),
    ("九三学社", 2), ("无党派人士", 4), ("共青团", 1), ("工会", 2), ("妇联", 2), ("工商联", 5),
    ("科协", 2), ("经济界", 10), ("农业界", 7), ("教育界", 5), ("医药卫生界", 5), ("文化艺术界", 3),
    ("科学技术界", 2), ("社会福利和社会保障界", 2), ("少数民族界", 6), ("宗教界", 2), ("特邀", 3),
)
# Share of a sector's members who run an enterprise (委员企业); about a quarter overall.
ENTERPRISE_SHARE = {"经济界": 0.85, "工商联": 0.8, "民建": 0.5, "农业界": 0.45, "无党派人士": 0.25}
ENTERPRISE_SHARE_OTHER = 0.12
BRANDS = (
    "滇红", "金沙", "彩云", "高原", "苍山", "洱海", "哀牢", "乌蒙", "澜沧", "红土", "七彩", "滇池",
    "玉龙", "云岭", "南诏", "金马", "碧鸡", "普洱", "抚仙", "六诏", "三江", "万家", "丰源", "绿源",
    "恒泰", "鑫盛", "华兴", "宏达", "永昌", "瑞丰", "益农", "山花",
)
INDUSTRIES = (
    "农业科技", "茶业", "生物科技", "建设工程", "商贸", "食品", "中药材种植", "旅游开发", "咖啡",
    "花卉", "畜牧", "电子商务", "医药", "教育咨询", "物流", "农产品加工", "水果种植", "蔬菜产销",
    "新能源", "文化传媒", "建材", "餐饮管理", "林业开发", "菌业",
)
COMPANY_FORMS = (("有限公司", 85), ("股份有限公司", 10), ("集团有限公司", 5))
OFFICE = "「双助推」办公室"
GENERAL_OFFICE = "办公厅"
PROVINCE_COMMITTEES = (
    "提案委员会", "经济委员会", "农业和农村委员会", "人口资源环境委员会", "教科卫体委员会",
    "社会和法制委员会", "民族和宗教委员会", "港澳台侨和外事委员会", "文化文史和学习委员会",
)
PREFECTURE_COMMITTEES = ("提案委员会", "经济委员会", "农业农村委员会", "教科卫体委员会", "社会和法制委员会")
COUNTY_COMMITTEES = ("提案委员会", "经济和农业农村委员会", "文教卫体委员会", "社会法制和民族宗教委员会")
RETURN_REASONS = (
    "佐证照片不清晰，请补充", "活动地点与照片不符，请核实", "指标数值与描述不一致，请修改",
    "同一活动已由其他委员登记，请勿重复录入", "投入资金缺少凭证，请补充", "活动日期有误，请核实后重新提交",
    "描述过于简略，请补充活动内容",
)
DESCRIPTION_ENDINGS = (
    "得到当地干部群众好评", "委员们深入田间地头了解情况", "与村两委座谈交流", "现场解答群众咨询",
    "形成后续帮扶计划", "乡镇干部陪同开展", "活动取得良好效果", "群众参与积极", "落实了下一步对接事项",
    "现场签订帮扶意向",
)
ENDED_LINK_NOTE = "工作调整，挂联关系结束"


# ---------------------------------------------------------------------------------------------
# The in-memory world the demo is built on


@dataclass
class _Org:
    id: int
    name: str
    division: str  # 昆明市政协 → 昆明市
    level: OrgLevel
    parent_id: int | None
    ancestors: list[int] = field(default_factory=list)  # self first, then up to the root
    sites: list[int] = field(default_factory=list)  # towns and villages (counties only)
    villages: list[int] = field(default_factory=list)
    town_count: int = 0
    is_key: bool = False
    weight: float = 1.0  # activity multiplier (counties): busy > 1, lagging < 0.5
    lagging: bool = False
    term_id: int = 0
    term_start: date = date(2022, 1, 1)
    prev_term_id: int = 0
    prev_term_start: date = date(2017, 1, 1)
    committee_ids: list[int] = field(default_factory=list)  # 专委会 only
    committee_names: dict[int, str] = field(default_factory=dict)
    members: list[int] = field(default_factory=list)  # member indices
    chairs: list[int] = field(default_factory=list)  # 主席会议成员, 主席 first
    active: list[int] = field(default_factory=list)
    staff_user_id: int = 0


@dataclass
class _TaskPick:
    """What an organisation can record: tasks (cumulative weights for ``choices``) and their indicators."""

    ids: list[int]
    cum: list[float]
    # task id → (indicator id, is money) of the indicators visible to the organisation
    indicators: dict[int, list[tuple[int, bool]]]
    # task id → (indicator id, name, is money) of its outcome indicators (成效) visible to the organisation
    outcomes: dict[int, list[tuple[int, str, bool]]] = field(default_factory=dict)


@dataclass
class _Member:
    id: int
    org_id: int
    name: str
    role: MemberRole
    phone: str = ""
    user_id: int = 0
    weight: float = 0.0  # 0: inactive, never records nor takes part


@dataclass(frozen=True)
class _Link:
    """A 挂联 as written: the leader (member index), the county, the site of a site link, its span."""

    leader: int
    county: _Org
    site: int | None
    start: date
    end: date | None


@dataclass(frozen=True)
class _Visit:
    """A linked leader's own activity in the linked county (day: index into the activities' days)."""

    day: int
    leader: int
    county: _Org
    site: int | None
    verified: bool  # the visit that shows the link's 挂联实效: decided, and verified


GROUP_NOTE = "演示数据：委员自愿组成的活动小组"
LINES_OF_WORK = ("农业种植", "畜牧养殖", "农产品加工", "食品制造", "电子商务", "商贸零售", "物流运输", "建筑工程", "医疗卫生",
              "医药", "教育培训", "金融", "文化旅游", "餐饮酒店", "人力资源服务", "环保", "规划设计", "信息技术")
SUGGESTION_DEPARTMENTS = ("县乡村振兴局", "县农业农村局", "县人力资源和社会保障局", "县发展和改革局", "县教育体育局",
                          "县卫生健康局", "县商务局", "乡镇人民政府")


class _DemoBuilder:
    """Invents the demo into one open transaction; each step writes one group of tables."""

    def __init__(
        self, session: Session, rng: random.Random, today: date, result: DemoResult,
        progress: Callable[[str], object],
    ) -> None:
        self.session = session
        self.conn: Connection = session.connection()
        self.rng = rng
        self.today = today
        self.result = result
        self.progress = progress
        end_of_today = datetime.combine(today, dtime(23, 59, 59), CN).astimezone(UTC)
        # Nothing may be stamped after now (nor after the end of a ``today`` in the past).
        self.now = min(now_utc(), end_of_today)
        self.created = db_datetime(self.conn, self.now)
        self.orgs: dict[int, _Org] = {}
        self.members: list[_Member] = []
        self.reserved_phones: set[str] = {a.phone for a in DEMO_ACCOUNTS}
        self.phone_counter = 0
        self.phone_offset = rng.randrange(10**8)
        # 动员面: Beijing midnight of the first tracked month, and (member, month) -> first sign-in.
        first = today.year * 12 + today.month - 1 - REACH_MONTHS
        self.reach_from = datetime(first // 12, first % 12 + 1, 1, tzinfo=CN).astimezone(UTC)
        self.signed_in: dict[tuple[int, int], datetime] = {}

    # -- the steps ------------------------------------------------------------------------------

    def build(self, activities: int) -> None:
        """Run every step in order."""
        self._load_world()
        self._flag_key_counties()
        self._choose_demo_places()
        self._committees_and_terms()
        self._members()
        self._accounts()
        self._link_assignments()
        self._closed_months()
        totals = self._activities(activities)
        self._task_leads()  # groups of members who are active (chosen with the activities)
        self._suggestion_states()
        self._targets(totals)
        self._reach()
        for table in (
            "committee", "term", "member", "membership", "user_account", "role_grant",
            "link_assignment", "activity_group", "task_lead", "annual_target", "activity",
        ):
            sync_sequence(self.conn, table)
        self.progress("看板汇总（rollup）…")
        rollup.rebuild(self.session)

    def _load_world(self) -> None:
        """Read organisations, sites and the current catalogue into memory."""
        rows = self.conn.execute(
            select(Organisation.id, Organisation.name, Organisation.level, Organisation.parent_id)
            .order_by(Organisation.code)
        ).all()
        for org_id, name, level, parent_id in rows:
            division = name.removesuffix("政协")
            self.orgs[org_id] = _Org(org_id, name, division, OrgLevel(level), parent_id)
        for org in self.orgs.values():
            node: int | None = org.id
            while node is not None:
                org.ancestors.append(node)
                node = self.orgs[node].parent_id
        self.province = next(o for o in self.orgs.values() if o.level is OrgLevel.province)
        self.prefectures = [o for o in self.orgs.values() if o.level is OrgLevel.prefecture]
        self.counties = [o for o in self.orgs.values() if o.level is OrgLevel.county]
        self.site_names: dict[int, str] = {}
        sites = self.conn.execute(
            select(Site.id, Site.name, Site.kind, Site.county_id)
            .where(Site.kind.in_([SiteKind.town.value, SiteKind.village.value]))
            .order_by(Site.id)
        ).all()
        for site_id, name, kind, county_id in sites:
            county = self.orgs[county_id]
            county.sites.append(site_id)
            if kind == SiteKind.town.value:
                county.town_count += 1
            else:
                county.villages.append(site_id)
            # 翠湖西路社区居民委员会 → 翠湖西路社区; 石桥村民委员会 → 石桥村
            self.site_names[site_id] = name.replace("村民委员会", "村").replace("居民委员会", "")
        self._load_catalogue()

    def _load_catalogue(self) -> None:
        """The current campaign's tasks and indicators; which of them each organisation sees."""
        campaign = current_campaign(self.session)
        if campaign is None:
            raise ValueError("没有当前的「双助推」行动指标目录，无法生成演示数据")
        tasks = self.conn.execute(
            select(Task.id, Task.short_name, Task.owner_org_id)
            .where(Task.campaign_id == campaign.id).order_by(Task.sort_order, Task.id)
        ).all()
        task_ids = [t.id for t in tasks]
        indicators = self.conn.execute(
            select(Indicator.id, Indicator.task_id, Indicator.kind, Indicator.owner_org_id, Indicator.name,
                   Indicator.is_outcome)
            .where(Indicator.task_id.in_(task_ids)).order_by(Indicator.sort_order, Indicator.id)
        ).all()
        self.task_short = {t.id: t.short_name for t in tasks}
        # Some tasks simply happen more often than others.
        task_weight = {t.id: self.rng.uniform(0.4, 2.0) for t in tasks}
        # Effort figures only: outcomes (成效) have no targets and are filled in on a share of the
        # activities (``_outcome_values``), not with every one.
        self.all_indicators = [
            (ind.id, ind.task_id, IndicatorKind(ind.kind) is IndicatorKind.money, ind.owner_org_id)
            for ind in indicators if not ind.is_outcome
        ]
        outcome_indicators = [(ind.id, ind.task_id, ind.name, IndicatorKind(ind.kind) is IndicatorKind.money,
                               ind.owner_org_id) for ind in indicators if ind.is_outcome]
        self.task_pick: dict[int, _TaskPick] = {}
        cache: dict[tuple[int, ...], _TaskPick] = {}
        for org in self.orgs.values():
            # A prefecture's own tasks and indicators show only in its subtree.
            lineage = set(org.ancestors)
            task_visible = {t.id for t in tasks if sees(lineage, t.owner_org_id)}
            seen = tuple(i[0] for i in self.all_indicators if sees(lineage, i[3]) and i[1] in task_visible)
            seen_outcomes = tuple(i[0] for i in outcome_indicators if sees(lineage, i[4]) and i[1] in task_visible)
            key = (*seen, 0, *seen_outcomes)
            if key not in cache:
                by_task: dict[int, list[tuple[int, bool]]] = defaultdict(list)
                for ind_id, task_id, is_money, _owner in self.all_indicators:
                    if ind_id in seen:
                        by_task[task_id].append((ind_id, is_money))
                ids = [t.id for t in tasks if t.id in by_task]
                if not ids:
                    raise ValueError(f"{org.name} 没有可用的实事指标，无法生成演示数据")
                outcomes: dict[int, list[tuple[int, str, bool]]] = defaultdict(list)
                for ind_id, task_id, name, is_money, _owner in outcome_indicators:
                    if ind_id in seen_outcomes:
                        outcomes[task_id].append((ind_id, name, is_money))
                cache[key] = _TaskPick(ids, list(accumulate(task_weight[t] for t in ids)), dict(by_task),
                                       dict(outcomes))
            self.task_pick[org.id] = cache[key]

    def _flag_key_counties(self) -> None:
        """Flag 57 counties as key-support: rural 县 first, spread over the prefectures."""
        rng = self.rng

        def rural(org: _Org) -> float:
            # Key-support counties are overwhelmingly rural 县; a few 县级市, hardly any 区.
            return {"县": 1.0, "市": 0.25, "区": 0.05}.get(org.division[-1], 0.25)

        by_pref = {p.id: [c for c in self.counties if c.parent_id == p.id] for p in self.prefectures}
        weight = {pid: sum(rural(c) for c in cs) for pid, cs in by_pref.items()}
        total = sum(weight.values())
        quota = {pid: min(len(by_pref[pid]), int(KEY_COUNTY_COUNT * w / total)) for pid, w in weight.items()}
        # Largest remainder, so the quotas add up to exactly 57.
        order = sorted(by_pref, key=lambda pid: -(KEY_COUNTY_COUNT * weight[pid] / total - quota[pid]))
        while sum(quota.values()) < KEY_COUNTY_COUNT:
            for pid in order:
                if sum(quota.values()) < KEY_COUNTY_COUNT and quota[pid] < len(by_pref[pid]):
                    quota[pid] += 1
        key_ids = []
        for pid, counties in by_pref.items():
            # Weighted sampling without replacement (Efraimidis–Spirakis keys).
            ranked = sorted(counties, key=lambda c: -(rng.random() ** (1 / rural(c))))
            key_ids += [c.id for c in ranked[: quota[pid]]]
        for cid in key_ids:
            self.orgs[cid].is_key = True
        self.key_counties = [c for c in self.counties if c.is_key]
        self.session.execute(
            update(Organisation).where(Organisation.id.in_(key_ids)).values(is_key_county=True)
        )
        self.result.key_counties = len(key_ids)
        self.progress(f"重点帮扶县 {len(key_ids)} 个")

    def _choose_demo_places(self) -> None:
        """Pick the demo prefecture and key county, then the counties' activity skew."""
        rng = self.rng
        key_per_pref = defaultdict(int)
        for c in self.key_counties:
            key_per_pref[c.parent_id] += 1
        self.demo_prefecture = self.orgs[max(key_per_pref, key=lambda pid: (key_per_pref[pid], -pid))]
        candidates = [c for c in self.key_counties if c.parent_id == self.demo_prefecture.id]
        self.demo_county = rng.choice(candidates)
        # Busy and lagging counties: a lognormal spread, and about ten that hardly move.
        for c in self.counties:
            c.weight = rng.lognormvariate(0.0, 0.45)
        for c in rng.sample([c for c in self.counties if c is not self.demo_county], 10):
            c.weight = rng.uniform(0.2, 0.4)
            c.lagging = True

    def _committees_and_terms(self) -> None:
        """Each organisation's offices and 专委会, its current term and the one before."""
        rng, conn = self.rng, self.conn
        committee_id, term_id = next_id(conn, "committee"), next_id(conn, "term")
        committees, terms = [], []
        for org in self.orgs.values():
            if org.level is OrgLevel.province:
                names, number, start = PROVINCE_COMMITTEES, 13, date(2023, 1, 15)
            elif org.level is OrgLevel.prefecture:
                names = PREFECTURE_COMMITTEES[: rng.randint(3, 5)]
                number, start = rng.randint(8, 11), date(2022, rng.randint(1, 2), rng.randint(5, 25))
            else:
                names = COUNTY_COMMITTEES[: rng.randint(3, 4)]
                number, start = rng.randint(9, 12), date(2022, rng.randint(1, 3), rng.randint(5, 25))
            for name in (OFFICE, GENERAL_OFFICE, *names):
                committees.append((committee_id, org.id, name))
                if name not in (OFFICE, GENERAL_OFFICE):
                    org.committee_ids.append(committee_id)
                    org.committee_names[committee_id] = name
                committee_id += 1
            prev_start = start.replace(year=start.year - 5)
            prev_end = start - timedelta(days=1)
            terms.append((term_id, org.id, number - 1, db_date(conn, prev_start), db_date(conn, prev_end)))
            terms.append((term_id + 1, org.id, number, db_date(conn, start), None))
            org.prev_term_id, org.prev_term_start = term_id, prev_start
            org.term_id, org.term_start = term_id + 1, start
            term_id += 2
        self.result.committees = bulk_insert(conn, "committee", ("id", "org_id", "name"), committees)
        self.result.terms = bulk_insert(
            conn, "term", ("id", "org_id", "number", "start_date", "end_date"), terms
        )

    def _member_counts(self) -> dict[int, int]:
        """Seats per organisation: province ~800, prefectures 250–400, counties by their towns."""
        rng = self.rng
        counts = {self.province.id: 800}
        for p in self.prefectures:
            counts[p.id] = rng.randint(250, 400)
        base = 150
        spare = max(0, MEMBER_TARGET - sum(counts.values()) - base * len(self.counties))
        towns = sum(max(c.town_count, 1) for c in self.counties)
        for c in self.counties:
            counts[c.id] = min(260, base + round(spare * max(c.town_count, 1) / towns))
        return counts

    def _members(self) -> None:
        """Invent members with their current (and some archived) memberships."""
        rng, conn = self.rng, self.conn
        self.reserved_phones |= set(conn.execute(select(UserAccount.login)).scalars())
        sector_names = [s for s, _ in SECTORS]
        sector_cum = list(accumulate(w for _, w in SECTORS))
        surname_cum = list(accumulate(1 / (i + 10) ** 0.9 for i in range(len(SURNAMES))))
        member_rows, membership_rows = [], []
        member_id, membership_id = next_id(conn, "member"), next_id(conn, "membership")
        for org_id, count in self._member_counts().items():
            org = self.orgs[org_id]
            chairs = rng.randint(10, 12) if org.level is OrgLevel.province else rng.randint(5, 12)
            start = db_date(conn, org.term_start)
            for seat in range(count):
                name = _person_name(rng, surname_cum)
                sector = rng.choices(sector_names, cum_weights=sector_cum)[0]
                enterprise = None
                if rng.random() < ENTERPRISE_SHARE.get(sector, ENTERPRISE_SHARE_OTHER):
                    enterprise = _enterprise_name(rng)
                role, title, committee = MemberRole.member, None, None
                if seat < chairs:
                    role = MemberRole.chair_council
                    title = "主席" if seat == 0 else "秘书长" if seat == chairs - 1 else "副主席"
                else:
                    if rng.random() < 0.11:
                        role = MemberRole.standing
                    if rng.random() < 0.65:
                        committee = rng.choice(org.committee_ids)
                m = _Member(member_id, org_id, name, role, phone=self._new_phone())
                index = len(self.members)
                self.members.append(m)
                org.members.append(index)
                if role is MemberRole.chair_council:
                    org.chairs.append(index)
                # 行业 (补位匹配): the line of work in their enterprise's name; some others, from the common lines.
                industry = next((w for w in INDUSTRIES if w in enterprise), None) if enterprise else \
                    rng.choice(LINES_OF_WORK) if rng.random() < 0.3 else None
                member_rows.append([member_id, name, m.phone, sector, enterprise, self.created, industry])
                membership_rows.append(
                    (membership_id, member_id, org_id, org.term_id, role.value, title, committee, start, None)
                )
                member_id += 1
                membership_id += 1
        self._pick_demo_members(member_rows, membership_rows)
        # 换届 history: some of today's members also sat in the previous term.
        for index in rng.sample(range(len(self.members)), min(300, len(self.members))):
            m = self.members[index]
            org = self.orgs[m.org_id]
            role = MemberRole.standing if rng.random() < 0.15 else MemberRole.member
            membership_rows.append((
                membership_id, m.id, org.id, org.prev_term_id, role.value, None, None,
                db_date(conn, org.prev_term_start), db_date(conn, org.term_start - timedelta(days=1)),
            ))
            membership_id += 1
        self.result.members = bulk_insert(
            conn, "member", ("id", "name", "phone", "sector", "enterprise", "created_at", "industry"),
            [tuple(r) for r in member_rows],
        )
        self.result.memberships = bulk_insert(
            conn, "membership",
            ("id", "member_id", "org_id", "term_id", "role", "title", "committee_id", "start_date",
             "end_date"),
            membership_rows,
        )
        self.progress(f"委员 {self.result.members:,} 人，任职记录 {self.result.memberships:,} 条")

    def _pick_demo_members(self, member_rows: list[list], membership_rows: list[tuple]) -> None:
        """Give the leader, committee-head and member demo logins to invented members.

        Member ``index`` wrote ``member_rows[index]`` and (current seat) ``membership_rows[index]``.
        """
        rng = self.rng

        def use_phone(index: int, account: DemoAccount) -> None:
            self.members[index].phone = account.phone
            member_rows[index][2] = account.phone

        # A 副主席 of the province: linked to key counties below.
        self.demo_leader = self.province.chairs[1]
        use_phone(self.demo_leader, LEADER)
        # A standing member of the demo prefecture who heads a 专委会.
        pref = self.demo_prefecture
        head = next(i for i in pref.members if self.members[i].role is not MemberRole.chair_council)
        committee = pref.committee_ids[min(2, len(pref.committee_ids) - 1)]
        title = f"{pref.committee_names[committee]}主任"
        row = membership_rows[head]
        membership_rows[head] = (*row[:4], MemberRole.standing.value, title, committee, *row[7:])
        self.members[head].role = MemberRole.standing
        self.demo_committee_head = head
        use_phone(head, COMMITTEE_HEAD)
        # A plain member of the demo county, made one of the busiest recorders below.
        plain = [i for i in self.demo_county.members if self.members[i].role is MemberRole.member]
        self.demo_member = rng.choice(plain)
        use_phone(self.demo_member, MEMBER)

    def _new_phone(self) -> str:
        """A unique invented mobile number: a counter scrambled by a bijection on 8 digits."""
        while True:
            self.phone_counter += 1
            # 48271 is coprime to 10^8, so distinct counters give distinct suffixes.
            suffix = (self.phone_counter * 48271 + self.phone_offset) % 10**8
            phone = f"{self.rng.choice(('139', '158', '187', '135', '150', '182', '136', '151'))}{suffix:08d}"
            if phone not in self.reserved_phones:
                return phone

    def _accounts(self) -> None:
        """A user and member grant per member, a 助推办 account per organisation, the demo logins."""
        rng, conn = self.rng, self.conn
        demo_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
        users, grants = [], []
        user_id, grant_id = next_id(conn, "user_account"), next_id(conn, "role_grant")
        surname_cum = list(accumulate(1 / (i + 10) ** 0.9 for i in range(len(SURNAMES))))

        def add_user(login: str, name: str, member_id: int | None, password: str | None) -> int:
            nonlocal user_id
            users.append((user_id, login, password, name, True, member_id, self.created, None))
            user_id += 1
            return user_id - 1

        def grant(user: int, role: GrantRole, org_id: int, by: int | None) -> None:
            nonlocal grant_id
            grants.append((grant_id, user, role.value, org_id, by, self.created))
            grant_id += 1

        admin = add_user(ADMIN.phone, f"{_person_name(rng, surname_cum)}（管理员）", None, demo_hash)
        grant(admin, GrantRole.admin, self.province.id, None)
        self.admin_user_id = admin
        demo_staff = {
            self.province.id: PROVINCE_STAFF, self.demo_prefecture.id: PREFECTURE_STAFF,
            self.demo_county.id: COUNTY_STAFF,
        }
        for org in self.orgs.values():
            account = demo_staff.get(org.id)
            login = account.phone if account else self._new_phone()
            org.staff_user_id = add_user(
                login, f"{_person_name(rng, surname_cum)}（{org.division}助推办）", None,
                demo_hash if account else None,
            )
            grant(org.staff_user_id, GrantRole.staff, org.id, admin)
        viewer = add_user(VIEWER.phone, "会议大屏（演示）", None, demo_hash)
        grant(viewer, GrantRole.viewer, self.province.id, admin)
        demo_members = {self.demo_leader, self.demo_committee_head, self.demo_member}
        for index, m in enumerate(self.members):
            # Members activate their accounts with a one-time code; only demo logins get a password.
            m.user_id = add_user(m.phone, m.name, m.id, demo_hash if index in demo_members else None)
            grant(m.user_id, GrantRole.member, m.org_id, admin)
            if m.role is MemberRole.chair_council:
                grant(m.user_id, GrantRole.leader, m.org_id, admin)
        head_user = self.members[self.demo_committee_head].user_id
        grant(head_user, GrantRole.leader, self.demo_prefecture.id, admin)
        self.result.users = bulk_insert(
            conn, "user_account",
            ("id", "login", "password_hash", "display_name", "is_active", "member_id", "created_at",
             "last_login_at"),
            users,
        )
        self.result.grants = bulk_insert(
            conn, "role_grant", ("id", "user_id", "role", "org_id", "granted_by_user_id", "created_at"),
            grants,
        )
        self.progress(f"账号 {self.result.users:,} 个，授权 {self.result.grants:,} 条")

    def _link_assignments(self) -> None:
        """挂联: provincial leaders to key counties (all but four), local leaders to sites."""
        rng, conn = self.rng, self.conn
        rows = []
        self.links: list[_Link] = []
        link_id = next_id(conn, "link_assignment")

        def link(
            leader: int, county: _Org, site: int | None, role: LinkRole, start: date,
            end: date | None = None, note: str = "",
        ) -> None:
            nonlocal link_id
            self.links.append(_Link(leader, county, site, start, end))
            rows.append((
                link_id, self.members[leader].id, county.id, site, role.value, db_date(conn, start),
                db_date(conn, end) if end else None, note, self.admin_user_id, self.created,
            ))
            link_id += 1

        leaders = [i for i in self.province.chairs if i != self.province.chairs[0]]  # 主席 stays above
        start = date(2023, 3, 1)
        keys = [c for c in self.key_counties if c is not self.demo_county]
        rng.shuffle(keys)
        gaps, covered = keys[:4], [self.demo_county, *keys[4:]]
        # The demo leader takes the demo county; the rest go round the other leaders.
        rotation = [self.demo_leader] + [i for i in leaders if i != self.demo_leader]
        first_leader = {}
        for n, county in enumerate(covered):
            leader = rotation[n % len(rotation)]
            first_leader[county.id] = leader
            link(leader, county, None, LinkRole.lead, start + timedelta(days=rng.randint(0, 30)))
        for county in rng.sample(covered, 8):  # some counties have two leaders
            second = rng.choice([i for i in rotation if i != first_leader[county.id]])
            link(second, county, None, LinkRole.lead, start + timedelta(days=rng.randint(30, 200)))
        # History: ended links, two of them where a county has had no leader since.
        for county in [*gaps[:2], *rng.sample(covered, 3)]:
            earlier = rng.choice([i for i in rotation if i != first_leader.get(county.id)])
            end = max(start, self.today - timedelta(days=rng.randint(60, 500)))
            link(earlier, county, None, LinkRole.lead, start, end, ENDED_LINK_NOTE)
        # Prefecture and county leaders each take a site; the 秘书长 acts as liaison.
        for org in [*self.prefectures, *self.counties]:
            if org.level is OrgLevel.prefecture:
                counties = [c for c in self.counties if c.parent_id == org.id and c.sites]
            else:
                counties = [org] if org.sites else []
            if not counties:
                continue
            leaders_here = list(org.chairs)
            if org is self.demo_prefecture:
                leaders_here.append(self.demo_committee_head)
            keyed = [c for c in counties if c.is_key]
            for leader in leaders_here:
                # Mostly in a key county, when the prefecture has one.
                county = rng.choice(keyed if keyed and rng.random() < 0.6 else counties)
                site = rng.choice(county.villages or county.sites)
                role = LinkRole.liaison if leader == org.chairs[-1] else LinkRole.lead
                link(leader, county, site, role, org.term_start + timedelta(days=rng.randint(20, 120)))
        self.result.link_assignments = bulk_insert(
            conn, "link_assignment",
            ("id", "leader_member_id", "county_id", "site_id", "role", "start_date", "end_date", "note",
             "assigned_by_user_id", "created_at"),
            rows,
        )
        self.progress(f"挂联 {self.result.link_assignments:,} 条（{len(gaps)} 个重点县暂无挂联领导）")

    def _task_leads(self) -> None:
        """牵头统筹: the province and each prefecture have two or three 委员活动小组 of their own members and
        members of their subtree; two of their 专委会 and each group lead a 实事 since early this year."""
        rng, conn = self.rng, self.conn
        group_rows, member_rows, lead_rows = [], [], []
        group_id, lead_id = next_id(conn, "activity_group"), next_id(conn, "task_lead")
        start_of_year = date(self.today.year, 1, 1)
        for org in [self.province, *self.prefectures]:
            pool = [i for o in self.orgs.values() if org.id in o.ancestors for i in o.active
                    if self.members[i].role is not MemberRole.chair_council]
            tasks = self.task_pick[org.id].ids
            if len(pool) < 12 or len(tasks) < 3:
                continue
            picked_tasks = rng.sample(tasks, min(len(tasks), 5))
            bodies: list[tuple[int | None, int | None]] = [(c, None) for c in org.committee_ids[:2]]
            for task in picked_tasks[2:2 + rng.randint(2, 3)]:
                # A group forms around a 实事 its members keep doing; a few others join them.
                keen = [i for i in pool if self.favourites.get(i) == task]
                people = rng.sample(keen, min(len(keen), rng.randint(4, 9)))
                people += rng.sample([i for i in pool if i not in people], rng.randint(2, 3))
                group_rows.append((group_id, org.id, f"{org.division}{self.task_short[task]}小组", self.members[people[0]].id,
                                   GROUP_NOTE, org.staff_user_id, self.created, 1))
                member_rows += [(group_id, self.members[i].id) for i in people]
                bodies.append((None, group_id))
                group_id += 1
            for (committee, group), task in zip(bodies, picked_tasks, strict=False):  # groups: their own 实事
                start = min(self.today, start_of_year + timedelta(days=rng.randint(0, 45)))
                lead_rows.append((lead_id, org.id, task, committee, group, db_date(conn, start), None, "",
                                  org.staff_user_id, self.created, f"demo-{lead_id}"))
                lead_id += 1
        self.result.activity_groups = bulk_insert(
            conn, "activity_group", ("id", "org_id", "name", "leader_member_id", "note", "created_by_user_id",
                                     "created_at", "version"), group_rows)
        bulk_insert(conn, "activity_group_member", ("group_id", "member_id"), member_rows)
        self.result.task_leads = bulk_insert(
            conn, "task_lead", ("id", "org_id", "task_id", "committee_id", "group_id", "start_date", "end_date",
                                "note", "created_by_user_id", "created_at", "submission_key"), lead_rows)
        self.progress(f"委员活动小组 {self.result.activity_groups:,} 个，牵头统筹 {self.result.task_leads:,} 项")

    def _suggestion_states(self) -> None:
        """意见建议的跟踪: most verified suggestions older than a month have gone to a department; of those,
        some were adopted and some of these put into effect, a few declined (the 采纳率 has figures)."""
        rng, conn = self.rng, self.conn
        suggestion_tasks = select(Indicator.task_id).where(Indicator.is_suggestion.is_(True))
        rows = conn.execute(select(Activity.id, Activity.occurred_on).where(
            Activity.status == ActivityStatus.verified.value, Activity.task_id.in_(suggestion_tasks),
            Activity.occurred_on <= self.today - timedelta(days=30)).order_by(Activity.id)).all()
        out = []
        for activity_id, occurred_on in rows:
            if rng.random() < 0.3:
                continue  # not followed yet
            state = rng.choices(("reported", "adopted", "implemented", "declined"), (35, 30, 20, 15))[0]
            on = min(self.today, occurred_on + timedelta(days=rng.randint(10, 90)))
            out.append((activity_id, state, rng.choice(SUGGESTION_DEPARTMENTS), db_date(conn, on),
                        self.admin_user_id, self.created, 1))
        self.result.suggestion_states = bulk_insert(
            conn, "suggestion_follow_up",
            ("activity_id", "state", "department", "state_on", "updated_by_user_id", "updated_at", "version"), out)
        self.progress(f"意见建议跟踪 {self.result.suggestion_states:,} 条")

    def _closed_months(self) -> None:
        """The province has closed every month up to the last quarter collected before today."""
        conn = self.conn
        # A quarter is closed about ten days after it ends, once its collection (季度收集) is in.
        collected = self.today - timedelta(days=COLLECTION_DAYS)
        quarter_end_month = (collected.month - 1) // 3 * 3
        if _month_end(collected.year, collected.month) == collected and collected.month % 3 == 0:
            quarter_end_month = collected.month
        last = (collected.year, quarter_end_month) if quarter_end_month else (collected.year - 1, 12)
        window_start = self.today - timedelta(days=364)
        # The previous year's months in the window were closed at its year-end summary as well.
        year, month = window_start.year, window_start.month
        staff = self.province.staff_user_id
        rows = []
        self.closed: set[int] = set()
        while (year, month) <= last:
            quarter_end = _month_end(year, ((month - 1) // 3 + 1) * 3)
            closed_at = datetime.combine(quarter_end + timedelta(days=COLLECTION_DAYS), dtime(10, 0), CN)
            rows.append((self.province.id, year * 100 + month, staff,
                         db_datetime(conn, min(closed_at.astimezone(UTC), self.now))))
            self.closed.add(year * 100 + month)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        self.result.closed_months = bulk_insert(
            conn, "closed_month", ("org_id", "month", "closed_by_user_id", "closed_at"), rows
        )

    def _activities(self, count: int) -> dict[tuple[int, int], int]:
        """Insert ``count`` activities of the last 365 days; return verified totals per (org, indicator)."""
        rng, conn = self.rng, self.conn
        totals: dict[tuple[int, int], int] = defaultdict(int)
        if count == 0:
            return totals
        active = self._recorder_weights()
        place_pick = self._place_pickers()
        days = [self.today - timedelta(days=364 - d) for d in range(365)]
        visits = self._link_visits(count, days)
        regular = count - len(visits)
        # Fewer activities at weekends; ids then follow the dates, as if logged day by day.
        day_cum = list(accumulate(0.55 if d.weekday() >= 5 else 1.0 for d in days))
        day_of = sorted(bisect_right(day_cum, rng.random() * day_cum[-1]) for _ in range(regular))
        active_cum = list(accumulate(self.members[i].weight for i in active))
        recorders = rng.choices(active, cum_weights=active_cum, k=regular)
        # The leaders' visits take their place among the others by date: (day, is a visit, index).
        plan = sorted([(d, 0, n) for n, d in enumerate(day_of)] + [(v.day, 1, n) for n, v in enumerate(visits)])
        ctx = _ActivityContext(self, days)
        self.favourites = ctx.favourite  # member index -> their favourite task (the 活动小组 form around one)
        activity_id = next_id(conn, "activity")
        with indexes_deferred(conn, ("activity", "activity_value", "activity_participant")):
            self._activity_rows(count, plan, visits, recorders, ctx, place_pick, totals, activity_id)
        return totals

    def _activity_rows(self, count: int, plan: list, visits: list[_Visit], recorders: list[int],
                       ctx: _ActivityContext, place_pick: dict, totals: dict, activity_id: int) -> None:
        """The activities' rows, in chunks: one statement per table and chunk."""
        conn = self.conn
        for chunk in range(0, count, ACTIVITY_CHUNK):
            a_rows, v_rows, p_rows = [], [], []
            for day, is_visit, n in plan[chunk:chunk + ACTIVITY_CHUNK]:
                visit = visits[n] if is_visit else None
                recorder = visit.leader if visit else recorders[n]
                ctx.one(activity_id, day, recorder, place_pick, a_rows, v_rows, p_rows, totals, visit)
                activity_id += 1
            self.result.activities += bulk_insert(conn, "activity", ACTIVITY_COLUMNS, a_rows)
            self.result.activity_values += bulk_insert(
                conn, "activity_value", ("activity_id", "indicator_id", "task_id", "value"), v_rows
            )
            self.result.participants += bulk_insert(
                conn, "activity_participant", ("activity_id", "member_id"), p_rows
            )
            self.progress(f"活动 {self.result.activities:,} / {count:,} 条 …")

    def _link_visits(self, count: int, days: list[date]) -> list[_Visit]:
        """Linked leaders' own activities in their linked county, spread over each link's span in the window.

        Per (leader, county) in force today: most went within the offices' N months (挂联实效's window),
        some only before it, a few never; the demo logins' leader and committee head went lately. The ones
        that stopped going or never went are kept out of that county from then on (``self.away``: member
        index → county id → first day), so their other activities don't happen to land there. Ended links
        get a visit or two in their span. At most ``LINK_VISIT_SHARE`` of ``count``: every link's deciding
        visit first (the demo logins', then the others in random order), then the rest.
        """
        rng, first, last = self.rng, days[0], len(days) - 1
        months = settings_for(self.session, self.province.id).link_idle_months
        window = min(last, max(0, (idle_since(self.today, months) - first).days))
        self.away: dict[int, dict[int, int]] = defaultdict(dict)
        pairs: dict[tuple[int, int], _Link] = {}
        for link in self.links:
            if link.start <= self.today and (link.end is None or link.end >= self.today):
                pairs.setdefault((link.leader, link.county.id), link)
        deciding: list[_Visit] = []
        more: list[_Visit] = []

        def visits(link: _Link, lo: int, hi: int, n: int) -> None:
            more.extend(_Visit(rng.randint(lo, hi), link.leader, link.county, link.site, False) for _ in range(n))

        keep = {self.demo_leader, self.demo_committee_head}
        for (leader, county_id), link in pairs.items():
            start = max(0, (link.start - first).days)
            inactive = self.members[leader].weight == 0
            r = 1.0 if leader in keep else rng.random()
            if r < LINK_NEVER[inactive] or (r < LINK_NEVER[inactive] + LINK_OLDER_ONLY[inactive] and start >= window):
                self.away[leader][county_id] = 0
            elif r < LINK_NEVER[inactive] + LINK_OLDER_ONLY[inactive]:
                self.away[leader][county_id] = window
                deciding.append(_Visit(rng.randint(start, window - 1), leader, link.county, link.site, True))
                visits(link, start, window - 1, rng.randint(0, 1))
            else:  # lately (a few days before today at the latest, so it could be verified), now and then before
                deciding.append(_Visit(rng.randint(max(start, window), max(start, window, last - 5)), leader,
                                       link.county, link.site, True))
                visits(link, start, last, rng.randint(0, 2))
        for link in self.links:
            if link.end is not None and link.end < self.today and (link.leader, link.county.id) not in pairs:
                lo, hi = max(0, (link.start - first).days), (link.end - first).days
                if hi >= lo:
                    visits(link, lo, hi, rng.randint(1, 2))
        rng.shuffle(deciding)
        deciding.sort(key=lambda v: v.leader not in keep)  # the demo logins' first, whatever the size
        rng.shuffle(more)
        return [*deciding, *more][: int(count * LINK_VISIT_SHARE)]

    def _reach(self) -> None:
        """member_reach since tracking began: the recorders' sign-ins, and others' now and then.

        Drawn from a stream of its own, so the rest of the demo stays what the seed made it. The
        rollup's rebuild then counts them (participation_counter.reached) and sets reach_since.
        """
        rng = random.Random(self.rng.random())
        signed = dict(self.signed_in)
        start = self.reach_from
        while start < self.now:
            local = start.astimezone(CN)
            following = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=CN).astimezone(UTC)
            span = (min(following, self.now) - start).total_seconds()
            month = yyyymm(local.date())
            for m in self.members:
                if (m.id, month) not in signed and rng.random() < (SIGN_IN_ACTIVE if m.weight else SIGN_IN_INACTIVE):
                    signed[(m.id, month)] = start + timedelta(seconds=rng.random() * span)
            start = following
        rows = [(member, month, db_datetime(self.conn, at), None) for (member, month), at in sorted(signed.items())]
        self.result.reached = bulk_insert(self.conn, "member_reach",
                                          ("member_id", "month", "signed_in_at", "notified_at"), rows)
        # A member who signed in has an activated account (by SMS code, if they never set a password):
        # the inactive list's 从未激活 and 动员面 tell the same story.
        self.conn.execute(text(
            "UPDATE user_account SET last_login_at = (SELECT MAX(r.signed_in_at) FROM member_reach r"
            " WHERE r.member_id = user_account.member_id) WHERE last_login_at IS NULL AND member_id IN"
            " (SELECT member_id FROM member_reach WHERE signed_in_at IS NOT NULL)"))

    def _recorder_weights(self) -> list[int]:
        """Mark ~30% of members inactive; weight the others Pareto-like, times their county's pace."""
        rng = self.rng
        level_factor = {OrgLevel.province: 0.8, OrgLevel.prefecture: 0.9, OrgLevel.county: 1.0}
        keep_active = {self.demo_leader, self.demo_committee_head, self.demo_member}
        for index, m in enumerate(self.members):
            org = self.orgs[m.org_id]
            if rng.random() < 0.3 and index not in keep_active:
                continue
            pace = org.weight if org.level is OrgLevel.county else level_factor[org.level]
            m.weight = min(rng.paretovariate(1.3), 40.0) * pace
            org.active.append(index)
        demo = self.members[self.demo_member]
        demo.weight = max(self.members[i].weight for i in self.demo_county.active) * 1.5
        return [i for org in self.orgs.values() for i in org.active]

    def _place_pickers(self) -> dict[int, tuple[list[_Org], list[float]]]:
        """Per recorder organisation, the counties its members work in, with cumulative weights."""
        pickers = {}
        key_pull = {OrgLevel.province: 3.0, OrgLevel.prefecture: 2.0}
        for org in [self.province, *self.prefectures]:
            counties = [c for c in self.counties if c.parent_id == org.id or org.level is OrgLevel.province]
            counties = counties or self.counties
            weights = [c.weight * (key_pull[org.level] if c.is_key else 1.0) for c in counties]
            pickers[org.id] = (counties, list(accumulate(weights)))
        return pickers

    def _targets(self, totals: dict[tuple[int, int], int]) -> None:
        """Annual targets near each organisation's yearly volume, so some lead and some lag."""
        rng, conn = self.rng, self.conn
        subtree: dict[tuple[int, int], int] = defaultdict(int)
        for (org_id, indicator_id), value in totals.items():
            for ancestor in self.orgs[org_id].ancestors:
                subtree[(ancestor, indicator_id)] += value
        # The activities cover the last 365 days evenly, so their total *is* a year's volume (the
        # year-to-date total annualised, without the noise of a young year). Verified figures only,
        # as progress counts them: with factors of 0.75–1.25 about a third fall behind pace (under
        # 90%), and the lagging counties, set targets for the work expected of them, fall far behind.
        rows = []
        target_id = next_id(conn, "annual_target")
        staff = self.orgs[self.province.id].staff_user_id
        for org in self.orgs.values():
            lineage = set(org.ancestors)
            factor = rng.uniform(1.8, 2.5) if org.lagging else rng.uniform(0.75, 1.25)
            for indicator_id, _task, is_money, owner in self.all_indicators:
                volume = subtree.get((org.id, indicator_id), 0)
                if not sees(lineage, owner) or volume == 0:
                    continue
                estimate = volume * factor * rng.uniform(0.92, 1.08)
                value = _tidy(estimate / 100) * 100 if is_money else _tidy(estimate)
                rows.append((target_id, org.id, indicator_id, self.today.year, value, staff, self.created))
                target_id += 1
        self.result.targets = bulk_insert(
            conn, "annual_target",
            ("id", "org_id", "indicator_id", "year", "value", "set_by_user_id", "updated_at"), rows,
        )
        self.progress(f"年度目标 {self.result.targets:,} 项")


ACTIVITY_COLUMNS = (
    "id", "recorder_user_id", "credited_org_id", "organiser_org_id", "task_id", "county_id", "site_id",
    "occurred_on", "description", "status", "status_reason", "reviewer_user_id", "reviewed_at",
    "idempotency_key", "request_hash", "version", "submitted_at", "created_at", "updated_at",
)
VERIFIED, RETURNED, WITHDRAWN, PENDING = (s.value for s in (
    ActivityStatus.verified, ActivityStatus.returned, ActivityStatus.withdrawn, ActivityStatus.pending,
))


class _ActivityContext:
    """Per-activity generation with everything precomputed: this loop runs up to five million times.

    The draws are the ``random.Random`` methods' own, spelled out (the demo's rows are what the seed
    makes them, draw for draw): ``randint(a, b)`` is ``a + below(b - a + 1)``, ``randrange(a, b)`` is
    ``a + below(b - a)``, ``choice(s)`` is ``s[below(len(s))]`` and ``choices(p, cum_weights=c)[0]``
    is :meth:`pick`."""

    def __init__(self, builder: _DemoBuilder, days: list[date]) -> None:
        conn = builder.conn
        self.b = builder
        self.rng = builder.rng
        self.random = builder.rng.random
        self.below: Callable[[int], int] = builder.rng._randbelow  # type: ignore[attr-defined]
        self.db_days = [db_date(conn, d) for d in days]
        # Midnight in Beijing of each day of the window (and a fortnight after), in UTC.
        base = datetime.combine(days[0], dtime(0, 0), CN).astimezone(UTC)
        self.midnights = [base + timedelta(days=n) for n in range(len(days) + 20)]
        self.now_day = len(days) - 1
        self.sqlite = conn.dialect.name == "sqlite"
        self.closed = [d.year * 100 + d.month in builder.closed for d in days]
        self.favourite: dict[int, int] = {}
        # 成效 are drawn from a stream of their own, seeded from the main one's state without drawing
        # from it: the rest of the demo stays what the seed made it. The state's integers only: the
        # whole state holds None, whose hash changes from one process to the next before Python 3.12.
        self.outcome_rng = random.Random(hash(builder.rng.getstate()[1]))

    def pick(self, population: Sequence[_T], cum: Sequence[float]) -> _T:
        """``rng.choices(population, cum_weights=cum)[0]``, without building a list."""
        return population[bisect_right(cum, self.random() * (cum[-1] + 0.0), 0, len(population) - 1)]

    def stamp(self, day: int, seconds: int) -> datetime:
        """A timestamp ``seconds`` after Beijing midnight of ``day``, never after now."""
        value = self.midnights[day] + timedelta(seconds=seconds)
        return min(self.b.now, value)

    def db(self, value: datetime | None) -> datetime | str | None:
        """``db_datetime`` without its time-zone conversion: every value here is already UTC (the
        aware form's text up to its ``+00:00``)."""
        if value is None or not self.sqlite:
            return value
        return value.isoformat(" ", "microseconds")[:26]

    def away(self, member: int, county_id: int, day: int) -> bool:
        """Whether a linked leader keeps out of the county on that day (see ``_link_visits``)."""
        first = self.b.away.get(member)
        return first is not None and county_id in first and day >= first[county_id]

    def place(self, org: _Org, recorder: int, day: int, place_pick: dict) -> _Org:
        """Where: county members mostly at home; others in their prefecture or anywhere."""
        if org.level is OrgLevel.county and self.random() < 0.85:
            county = org
        else:
            counties, cum = place_pick[org.id if org.level is not OrgLevel.county else org.parent_id]
            county = self.pick(counties, cum)
        if self.away(recorder, county.id, day):
            counties, cum = place_pick[org.id if org.level is not OrgLevel.county else org.parent_id]
            for _ in range(20):
                county = self.pick(counties, cum)
                if not self.away(recorder, county.id, day):
                    break
            else:
                county = next((c for c in counties if not self.away(recorder, c.id, day)), county)
        return county

    def one(
        self, activity_id: int, day: int, recorder: int, place_pick: dict, a_rows: list, v_rows: list,
        p_rows: list, totals: dict, visit: _Visit | None = None,
    ) -> None:
        """Append the rows of one activity (of a linked leader in the linked county, for a ``visit``)."""
        rng, b, rand, below = self.rng, self.b, self.random, self.below
        member = b.members[recorder]
        org = b.orgs[member.org_id]
        others: list[int] = []
        organiser = None
        credited = org.id
        if visit is None:
            county = self.place(org, recorder, day, place_pick)
            sites = county.sites
            site = sites[below(len(sites))] if sites and rand() < 0.5 else None
            # Who: about one in seven is a joint activity organised by the recorder's organisation or its parent.
            if rand() < 0.15 and len(org.active) > 3:
                picked = rng.sample(org.active, min(2 + below(11) + 1, len(org.active)))
                others = [i for i in picked if i != recorder][: len(picked) - 1]
                organiser = org.parent_id if org.parent_id and rand() < 0.3 else org.id
                credited = organiser
        else:
            # Mostly at the linked site; a county link anywhere in the county.
            county = visit.county
            if visit.site and rand() < 0.8:
                site = visit.site
            else:
                sites = county.sites
                site = sites[below(len(sites))] if sites and rand() < 0.5 else None
            # Half the time the leader takes members of the county along, organised by the leader's own
            # organisation: the county lies in its subtree, so they may take part (as recording allows).
            if rand() < 0.5 and county.active:
                others = [i for i in rng.sample(county.active, min(1 + below(6), len(county.active)))
                          if i != recorder]
                organiser = credited = org.id
        if b.away:
            others = [i for i in others if not self.away(i, county.id, day)]
        # What: each member has a favourite task; the rest of the time any task, by popularity.
        pick = b.task_pick[credited]
        task = self.favourite.get(recorder)
        if task is None:
            task = self.favourite[recorder] = self.pick(pick.ids, pick.cum)
        if task not in pick.indicators or rand() < 0.4:
            task = self.pick(pick.ids, pick.cum)
        indicators = pick.indicators[task]
        # Logged the same day or up to three days later, in office hours or the evening.
        submitted_day = min(day + below(4), self.now_day)
        submitted = self.stamp(submitted_day, 9 * 3600 + below(12 * 3600))
        status, reason, reviewer, reviewed = self._review(
            day, submitted_day, submitted, credited, verified=visit is not None and visit.verified)
        # Usually every figure of the task; sometimes only some of them.
        if len(indicators) > 1 and rand() < 0.15:
            indicators = sorted(rng.sample(indicators, 1 + below(len(indicators) - 1)))
        counted = status == VERIFIED
        for indicator_id, is_money in indicators:
            value = _money_value(rng) if is_money else _count_value(rng)
            v_rows.append((activity_id, indicator_id, task, value))
            if counted:
                totals[(credited, indicator_id)] += value
        # 成效 (optional): filled in on a share of the activities, never counted toward the targets.
        outcomes = pick.outcomes.get(task)
        if outcomes:
            v_rows.extend((activity_id, ind, task, value) for ind, value in _outcome_values(self.outcome_rng, outcomes))
        # The recorder's account, or the 助推办's when it logged the activity for its members (代录).
        user = org.staff_user_id if rand() < 0.03 else member.user_id
        if user == member.user_id and submitted >= b.reach_from:  # signed in to record it: reached
            key = (member.id, yyyymm(submitted.astimezone(CN).date()))
            seen = b.signed_in.get(key)
            if seen is None or submitted < seen:
                b.signed_in[key] = submitted
        p_rows.append((activity_id, member.id))
        for i in others:
            p_rows.append((activity_id, b.members[i].id))
        submitted_at = self.db(submitted)
        updated = self.db(reviewed) if reviewed else submitted_at
        place = b.site_names[site] if site else ""
        who = f"{b.orgs[organiser].name}组织{len(others) + 1}名委员" if organiser else ""
        where = f"到挂联{'点' if visit.site else '县'}" if visit else "在"
        description = (
            f"{who}{where}{county.division}{place}开展{b.task_short[task]}活动，"
            f"{DESCRIPTION_ENDINGS[below(len(DESCRIPTION_ENDINGS))]}。"
        )
        a_rows.append((
            activity_id, user, credited, organiser, task, county.id, site, self.db_days[day], description,
            status, reason, reviewer, self.db(reviewed), f"{rng.getrandbits(128):032x}", None, 1,
            submitted_at, submitted_at, updated,
        ))

    def _review(  # noqa: ANN202
        self, day: int, submitted_day: int, submitted: datetime, credited: int, *, verified: bool = False,
    ):
        """Status by age: old or closed-month items are decided; recent ones are often pending."""
        rand, below, b = self.random, self.below, self.b
        r = rand()
        if verified:
            status = VERIFIED
        elif self.now_day - day > 45 or self.closed[day]:
            status = VERIFIED if r < 0.94 else RETURNED if r < 0.97 else WITHDRAWN
        else:
            status = PENDING if r < 0.55 else VERIFIED if r < 0.93 else RETURNED if r < 0.98 else WITHDRAWN
        if status in (PENDING, WITHDRAWN):
            return status, None, None, None
        # The credited organisation's 助推办 verifies, sometimes its parent's.
        org = b.orgs[credited]
        reviewer_org = org.parent_id if org.parent_id and rand() < 0.2 else credited
        reviewer = b.orgs[reviewer_org].staff_user_id
        reviewed_day = min(submitted_day + 1 + below(10), self.now_day)
        reviewed = max(submitted, self.stamp(reviewed_day, 9 * 3600 + below(9 * 3600)))
        reason = RETURN_REASONS[below(len(RETURN_REASONS))] if status == RETURNED else None
        return status, reason, reviewer, reviewed


# ---------------------------------------------------------------------------------------------
# Small helpers


def _person_name(rng: random.Random, surname_cum: Sequence[float]) -> str:
    """An invented Chinese name: a common surname and one or two given characters."""
    surname = rng.choices(SURNAMES, cum_weights=surname_cum)[0]
    given = rng.choice(GIVEN_CHARS)
    if rng.random() < 0.75:
        given += rng.choice(GIVEN_CHARS)
    return surname + given


def _enterprise_name(rng: random.Random) -> str:
    """An invented 委员企业, e.g. 云南彩云农业科技有限公司."""
    form = rng.choices([f for f, _ in COMPANY_FORMS], weights=[w for _, w in COMPANY_FORMS])[0]
    return f"云南{rng.choice(BRANDS)}{rng.choice(INDUSTRIES)}{form}"


def _count_value(rng: random.Random) -> int:
    """A count for one activity: mostly 1–5, now and then up to 30."""
    r = rng.random()
    if r < 0.5:
        return 1
    if r < 0.9:
        return rng.randint(2, 5)
    return rng.randint(6, 30)


# How often a member fills in each outcome (成效): about half say how many people benefited; fewer
# how many found work or how much income it brought.
OUTCOME_SHARE = {"受益群众": 0.5, "带动就业": 0.3, "带动增收": 0.25}


def _outcome_values(rng: random.Random, outcomes: Sequence[tuple[int, str, bool]]) -> list[tuple[int, int]]:
    """(indicator, value) of the outcomes one activity states: people mostly in tens (up to 3,000),
    jobs mostly 1–5, income lognormal around 2 万元 (hundredths of 万元); the rest left empty."""
    out = []
    for ind_id, name, is_money in outcomes:
        if rng.random() >= OUTCOME_SHARE.get(name, 0.2):
            continue
        if is_money:
            value = min(200_000, max(10, int(rng.lognormvariate(math.log(200), 1.0))))
        elif name == "带动就业":
            value = rng.randint(1, 5) if rng.random() < 0.8 else rng.randint(6, 40)
        else:
            value = min(3000, max(3, int(rng.lognormvariate(math.log(40), 0.9))))
        out.append((ind_id, value))
    return out


def _money_value(rng: random.Random) -> int:
    """Money in hundredths of 万元: lognormal around 3 万元, from 0.1 to 5,000 万元."""
    return min(500_000, max(10, int(rng.lognormvariate(math.log(300), 1.1))))


def _tidy(value: float) -> int:
    """Round a target the way people write one: two significant figures, at least 1."""
    if value < 20:
        return max(1, round(value))
    step = 10 ** (int(math.log10(value)) - 1)
    return int(round(value / step) * step)


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
