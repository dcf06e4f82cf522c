"""Every text a user can set, written hostile, read back through everything that shows it (issue 15).

Each field gets its own hostile string — a formula (``=HYPERLINK(…)`` or ``=1+…``), an HTML element
(``<img src=x onerror=…>`` where the column is long enough, ``<x-…>`` where not), quotes and an
ampersand — tagged so a page that shows it can be told from one that does not. Then every page,
HTMX fragment, chart option, workbook, Word file, CSV and API answer that should show it is
fetched, and:

- HTML: no hostile element appears unescaped, and each expected field appears (escaped);
- JSON: it parses, and each expected field is a string holding exactly the text;
- .xlsx: no cell is a formula, and each expected field is a text cell with exactly the text;
- .docx: each expected field is there as the literal text; CSV: formula-like fields start with '.

The values are written straight into the database (as an import or a form would leave them): the
forms' own checks are tested where they live; this sweep is about output.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from docx import Document
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import select

from app.accounts.pages import codes_workbook
from app.accounts.schemas import IssuedCode
from app.auth.service import build_principal, token_hash
from app.clock import now_utc, today_cn
from app.exports import service as exports
from app.imports.jobs import PREVIEW
from app.models import (
    ActivityGroup,
    ActivityGroupMember,
    ActivityStatus,
    ApiToken,
    AppMeta,
    BackgroundJob,
    BoostArea,
    Committee,
    ExemplarNomination,
    GrantRole,
    HistoryEntry,
    LinkAssignment,
    MatchInvitation,
    Member,
    Membership,
    ScreenLink,
    Site,
    SuggestionFollowUp,
    TaskLead,
    UserAccount,
)
from app.quality import flags as quality
from app.reports import narrative
from app.rollup import service as rollup
from tests import factories as f

# The hostile element of every string is tagged ``zq<field>``: a raw ``<img``/``<x-`` before a tag is HTML
# that escaped nobody's notice.
RAW_ELEMENT = re.compile(r"<(?:img|x-)[^>]*zq", re.IGNORECASE)
SCREEN_TOKEN = "hostile-sweep-screen-token-0123456789abcdef"


def hostile(tag: str, limit: int) -> str:
    """A hostile text for a column of ``limit`` characters, tagged ``zq<tag>``."""
    for text in (f'=HYPERLINK("http://evil","zq{tag}")<img src=x onerror=window.__xss=1>"\'&',
                 f"=1+<img src=x onerror=__xss=1 zq{tag}>'\"&",
                 f"=<x-zq{tag}>'\"&",
                 f"=<x-zq{tag}>"):
        if len(text) <= limit:
            return text
    raise AssertionError(f"no hostile text of {limit} characters for {tag}")


@dataclass
class World:
    texts: dict[str, str]  # tag → the hostile text stored
    ids: dict[str, object]
    admin: UserAccount
    member_user: UserAccount


@pytest.fixture
def world(session) -> World:
    texts: dict[str, str] = {}

    def h(tag: str, limit: int) -> str:
        texts[tag] = hostile(tag, limit)
        return texts[tag]

    province, kunming, wuhua = f.org(session, "530000"), f.org(session, "530100"), f.org(session, "530102")
    kunming.name, wuhua.name = h("prefecture", 64), h("county", 64)
    key = f.org(session, "530103")  # 盘龙区, made a key county for the 挂联 pages
    key.name, key.is_key_county = h("keycounty", 64), True
    committee = Committee(org_id=wuhua.id, name=h("committee", 64))
    site = Site(code="530102999001", name=h("site", 128), kind="village", county_id=wuhua.id)
    session.add_all([committee, site])
    session.flush()

    task = f.task(session, 1)
    task.name, task.short_name, task.narrative_prefix = h("task", 128), h("short", 32), h("prefix", 64)
    indicator = f.indicators(session, task)[0]
    indicator.name, indicator.unit = h("indicator", 64), h("u", 8)
    indicator.narrative = "开展{value}{unit}" + h("phrase", 100)
    outcome = f.outcomes(session, task)["受益群众"]  # 成效: its own sections on boards, reports, activities
    outcome.name, outcome.unit = h("outcome", 64), h("o", 8)
    outcome.narrative = "惠及{value}{unit}" + h("outcomephrase", 100)
    area = session.get(BoostArea, task.area_id)
    area.name = h("area", 64)

    member = f.make_member(session, wuhua, name=h("member", 32))
    member.sector, member.enterprise, member.industry = h("sector", 32), h("enterprise", 128), h("industry", 32)
    seat = session.scalar(select(Membership).where(Membership.member_id == member.id))
    seat.title, seat.committee_id = h("post", 32), committee.id
    member_user = f.make_user(session, member=member, grants=((GrantRole.member, wuhua),))
    member_user.display_name = h("account", 64)
    admin = f.make_user(session, grants=((GrantRole.admin, province),))
    admin.display_name = h("admin", 64)

    newcomer = f.make_member(session, wuhua, name=h("newcomer", 32))  # 带动: brought by the member's activity
    activity = f.make_activity(session, recorder=member_user, credited=wuhua, county=wuhua, task_=task,
                               values={indicator.id: 7, outcome.id: 30}, occurred_on=today_cn(),
                               participants=(member, newcomer))
    activity.description = h("description", 2000)
    activity.site_id = site.id
    # 「这是另一次活动」: the member's note, kept on the row and quoted in the stored flag's sentence.
    activity.distinct_note = h("distinct", 200)
    quality.store(session, activity.id, [quality.Flag("duplicate", f"记录人确认是另一次活动：{texts['distinct']}")])
    returned = f.make_activity(session, recorder=member_user, credited=wuhua, county=wuhua, task_=task,
                               values={indicator.id: 1}, occurred_on=today_cn())
    returned.status, returned.status_reason = ActivityStatus.returned, h("reason", 500)
    session.flush()
    before = rollup.contribution(session, activity)
    activity.status, activity.reviewer_user_id, activity.reviewed_at = ActivityStatus.verified, admin.id, now_utc()
    session.flush()
    rollup.apply(session, [(before, rollup.contribution(session, activity))])

    link = LinkAssignment(leader_member_id=member.id, county_id=key.id, role="lead",
                          start_date=today_cn() - timedelta(days=30), note=h("linknote", 500))
    token = ApiToken(token_hash="e" * 64, prefix="szt_hostile", name=h("token", 64), org_id=province.id,
                     level="aggregate", expires_at=now_utc() + timedelta(days=30))
    screen = ScreenLink(token_hash=token_hash(SCREEN_TOKEN), name=h("screen", 64), org_id=province.id)
    year = today_cn().year
    history = HistoryEntry(org_id=wuhua.id, task_id=task.id, indicator_id=indicator.id, month=(year - 1) * 100 + 12,
                           value=3, note=h("historynote", 500))
    idle = f.make_member(session, wuhua, name=h("idle", 32))  # took part in nothing: 未参与委员名单
    # An import's preview: the uploaded file's name, and an error quoting a cell of it.
    upload = BackgroundJob(kind=PREVIEW, user_id=admin.id, status="done", params=json.dumps(
        {"kind": "members", "filename": h("filename", 200), "size": 1, "upload": "none.data"}),
        result=json.dumps({"counts": {"errors": 1, "error_rows": 1},
                           "errors": [[2, "手机号", f"手机号「{h('cell', 64)}」有误，请填写 11 位手机号"]]}))
    session.add_all([link, token, screen, history, upload])
    # 牵头统筹 (app/leads/): a 委员活动小组 of 五华区 with the member in it, leading the task.
    group = ActivityGroup(org_id=wuhua.id, name=h("group", 64), leader_member_id=member.id, note=h("groupnote", 500))
    session.add(group)
    session.flush()
    session.add(ActivityGroupMember(group_id=group.id, member_id=member.id))
    lead = TaskLead(org_id=wuhua.id, task_id=task.id, group_id=group.id, start_date=today_cn() - timedelta(days=30),
                    note=h("leadnote", 500), created_by_user_id=admin.id, submission_key="hostile")
    session.add(lead)
    # 补位匹配 (app/matching/): the province invited the member to help the key county on the task.
    invitation = MatchInvitation(org_id=province.id, county_id=key.id, task_id=task.id, member_id=member.id,
                                 channel="list", note=h("matchnote", 200), created_by_user_id=admin.id,
                                 submission_key="hostile")
    session.add(invitation)
    # 典型 (app/exemplars/): 五华区's office nominated the member; the province selected them (with a note).
    nomination = ExemplarNomination(member_id=member.id, org_id=wuhua.id, year=today_cn().year,
                                    citation=h("citation", 2000), status="selected", decision_note=h("decisionnote", 500),
                                    created_by_user_id=admin.id, submission_key="hostile")
    session.add(nomination)
    # 意见建议的跟踪 (app/suggestions/): a verified 意见建议 of 五华区, reported to a department.
    ideas = f.task(session, 5)
    suggestion = f.make_activity(session, recorder=member_user, credited=wuhua, county=wuhua, task_=ideas,
                                 values={f.indicators(session, ideas)[0].id: 2}, occurred_on=today_cn(),
                                 status=ActivityStatus.verified)
    session.add(SuggestionFollowUp(activity_id=suggestion.id, state="reported", department=h("department", 100),
                                   state_on=today_cn()))
    session.add(AppMeta(key=narrative.override_key("shuang-zhutui", "opening"), value=h("wording", 400) + "{scope}："))
    session.flush()
    return World(texts, {"activity": activity.id, "returned": returned.id, "member": member.id, "site": site.id,
                         "task": task.id, "indicator": indicator.id, "link": link.id, "admin": admin.id,
                         "member_user": member_user.id, "year": year,
                         "key": key.code, "prefecture": kunming.code, "idle": idle.id, "screen": SCREEN_TOKEN,
                         "upload": upload.id, "group": group.id, "lead": lead.id, "invitation": invitation.id,
                         "nomination": nomination.id, "suggestion": suggestion.id}, admin, member_user)


# (URL, who asks, what comes back, the fields it must show). "admin" is the province's administrator
# (whose own hostile display name is on every page), "member" the hostile member (a 挂联 leader too),
# "anonymous" nobody (the meeting-room screen).
COMMON = {"county", "prefecture", "keycounty"}
ACTIVITY_ROW = {"account", "area", "county", "description", "indicator", "site", "task", "u"}  # the exports
# A member's record: identity, seats (organisation, post, 专委会), 挂联 (the key county), activities and figures.
PROFILE = {"committee", "county", "enterprise", "indicator", "keycounty", "member", "post", "sector", "site", "task",
           "u"}
# A 典型: who, the nominating office, the citation, and their verified activities with the figures.
EXEMPLAR = {"citation", "county", "indicator", "member", "sector", "short", "u"}
PAGES: list[tuple[str, str, str, set[str]]] = [
    ("/", "admin", "html", {"admin"}),
    ("/activities/{activity}", "admin", "html", {"county", "description", "indicator", "member", "account", "site",
                                                 "task", "u", "outcome", "o"}),
    ("/activities/{returned}", "admin", "html", {"reason", "account"}),
    ("/activities/new", "admin", "html", {"county", "task"}),
    ("/activities/mine", "member", "html", {"account", "task", "reason"}),
    ("/activities/{returned}", "member", "html", {"reason", "task", "indicator", "u"}),
    ("/review", "admin", "html", {"county", "short"}),
    ("/admin/users", "admin", "html", COMMON | {"committee", "member"}),
    ("/admin/users/{member_user}", "admin", "html", COMMON | {"committee", "member"}),
    ("/admin/audit", "admin", "html", {"admin"}),
    ("/boards/530000", "admin", "html", {"prefecture", "task", "indicator", "u"}),
    ("/boards/{prefecture}", "admin", "html", {"prefecture", "county", "keycounty", "task", "indicator", "u"}),
    ("/boards/530102", "admin", "html", {"county", "task", "indicator", "u", "outcome", "o", "outcomephrase"}),
    ("/boards/530102/activities", "admin", "html", {"county", "short"}),  # descriptions cut short in lists
    ("/boards/530102/inactive", "admin", "html", {"county", "idle"}),
    ("/c/{key}", "admin", "html", {"keycounty", "area", "task", "indicator", "member", "u"}),
    ("/display", "admin", "html", COMMON | {"screen"}),
    ("/d/{screen}", "anonymous", "html", set()),  # the slides come as fragments:
    ("/d/{screen}/slide/530000?part=figures-1", "anonymous", "html", {"task", "indicator"}),
    ("/d/{screen}/slide/530000?part=ranking-1", "anonymous", "html", {"prefecture"}),
    ("/d/{screen}/slide/{key}?part=place-1", "anonymous", "html", {"keycounty", "task", "indicator"}),
    ("/d/{screen}/slide/{key}?part=trend", "anonymous", "html", {"keycounty", "area"}),
    ("/d/{screen}/slide/{key}?part=county", "anonymous", "html", {"keycounty", "member"}),
    ("/boards/530000/meeting", "admin", "html", set()),
    ("/boards/530000/meeting/slide?org={key}&part=own-1", "admin", "html", {"keycounty", "indicator"}),
    ("/exports", "admin", "html", COMMON | {"short"}),
    ("/leads/530102", "admin", "html", {"county", "committee", "group", "task"}),
    ("/task-leads/{lead}", "admin", "html", {"county", "group", "leadnote", "member", "task", "indicator", "u"}),
    ("/activity-groups/{group}", "admin", "html", {"county", "group", "groupnote", "member"}),
    ("/history", "admin", "html", {"county", "historynote", "indicator", "short", "u"}),
    ("/history/530102", "admin", "html", {"county", "historynote", "indicator", "u"}),
    ("/links", "admin", "html", COMMON | {"linknote", "member", "post"}),
    ("/links/coverage", "admin", "html", COMMON | {"member", "post"}),
    ("/links/mine", "member", "html", {"keycounty", "linknote"}),
    ("/links/{link}/edit", "admin", "html", COMMON | {"linknote", "member", "post"}),
    ("/links/leaders", "admin", "html", {"county", "member", "post"}),
    ("/imports/jobs/{upload}", "admin", "html", {"filename", "cell"}),
    ("/manage", "admin", "html", COMMON | {"committee", "member", "post", "sector"}),
    ("/manage/catalogue", "admin", "html", {"area", "indicator", "phrase", "prefix", "task", "short", "u", "outcome",
                                            "outcomephrase"}),
    ("/manage/catalogue/tasks/{task}", "admin", "html", {"area", "prefix", "task", "short"}),
    ("/manage/catalogue/indicators/{indicator}", "admin", "html", {"indicator", "phrase", "task", "u"}),
    ("/manage/members/{member}", "admin", "html", COMMON | {"committee", "enterprise", "industry", "member", "post",
                                                            "sector"}),
    ("/manage/orgs", "admin", "html", COMMON),
    ("/manage/sites/{site}", "admin", "html", {"site"}),
    ("/manage/wording", "admin", "html", {"wording"}),
    ("/members/{member}/profile", "admin", "html", PROFILE),  # 履职档案 (app/profiles/)
    ("/me/profile", "member", "html", PROFILE),
    ("/matching/{key}/{task}", "admin", "html", {"committee", "industry", "keycounty", "matchnote", "member",
                                                 "prefecture", "sector", "short", "indicator", "u"}),
    ("/bringing/530102", "admin", "html", {"county", "member", "newcomer"}),
    ("/exemplars/530102", "admin", "html", {"county", "member", "newcomer", "sector"}),  # 典型 (app/exemplars/)
    ("/exemplars/530102/nominations", "admin", "html", {"county", "member", "sector"}),
    ("/exemplars/530102/nominate?member={member}", "admin", "html", {"county", "indicator", "member", "sector", "short",
                                                                     "u"}),
    ("/exemplars/nominations/{nomination}", "admin", "html", EXEMPLAR | {"decisionnote", "description"}),
    ("/suggestions/530102", "admin", "html", {"county", "department"}),  # 意见建议的跟踪 (app/suggestions/)
    ("/suggestions/activities/{suggestion}", "admin", "html", {"department"}),
    ("/activities/{suggestion}", "admin", "html", {"county", "department"}),
    ("/reports?org=530102", "admin", "html", {"county", "indicator", "member", "phrase", "prefix", "outcome",
                                              "outcomephrase",
                                              "sector", "task", "u", "wording"}),
    ("/targets", "admin", "html", COMMON | {"indicator", "short", "u"}),
    ("/terms/530102", "admin", "html", {"committee", "county", "member", "post"}),
    ("/tokens", "admin", "html", COMMON | {"token"}),
    ("/api/v1/activities", "admin", "json", {"county", "description", "indicator", "member", "reason", "site", "task"}),
    ("/api/v1/activities/{activity}", "admin", "json", {"county", "description", "member", "account", "site", "outcome",
                                                        "distinct"}),
    ("/api/v1/catalogue", "admin", "json", {"area", "indicator", "task", "short", "u", "outcome", "o"}),
    ("/api/v1/links", "admin", "json", COMMON | {"linknote", "member", "post"}),
    ("/api/v1/links/coverage", "admin", "json", COMMON | {"member", "post"}),
    ("/api/v1/orgs", "admin", "json", COMMON),
    ("/api/v1/orgs/530102/activity-groups", "admin", "json", {"county", "group", "groupnote", "member"}),
    ("/api/v1/task-leads/{lead}/progress", "admin", "json", {"county", "group", "leadnote", "member", "task",
                                                             "indicator", "u"}),
    ("/api/v1/targets", "admin", "json", {"indicator", "prefecture", "short", "u"}),
    ("/api/v1/key-counties", "admin", "json", {"keycounty"}),
    ("/api/v1/members/{member}/profile", "admin", "json", PROFILE | {"industry"}),
    ("/api/v1/counties/{key}/matching/{task}/candidates", "admin", "json", {"committee", "industry", "keycounty",
                                                                           "member", "sector", "short", "indicator",
                                                                           "u"}),
    ("/api/v1/counties/{key}/matching/{task}/invitations", "admin", "json", {"keycounty", "matchnote", "member",
                                                                            "short"}),
    ("/api/v1/orgs/530102/bringing", "admin", "json", {"county", "member", "newcomer"}),
    ("/api/v1/orgs/530102/exemplar-candidates", "admin", "json", {"county", "member", "newcomer", "sector"}),
    ("/api/v1/orgs/530102/nominations", "admin", "json", {"citation", "county", "decisionnote", "member", "sector"}),
    ("/api/v1/exemplars/{nomination}", "admin", "json", EXEMPLAR | {"decisionnote"}),
    ("/api/v1/suggestions/{suggestion}", "admin", "json", {"department"}),
    ("/api/v1/orgs/530102/suggestions", "admin", "json", {"county", "department"}),
    ("/api/v1/counties/{key}/progress", "admin", "json", {"area", "indicator", "keycounty", "task", "u"}),
    ("/reports/report.xlsx?org=530102", "admin", "xlsx", {"county", "member", "phrase", "prefix", "sector", "wording",
                                                          "outcome", "outcomephrase"}),
    ("/links/coverage.xlsx", "admin", "xlsx", COMMON | {"member", "post"}),
    ("/boards/530102/inactive.xlsx", "admin", "xlsx", {"county", "idle"}),
    ("/targets/export.xlsx", "admin", "xlsx", {"prefecture", "indicator", "short"}),
    ("/imports/templates/members.xlsx", "admin", "xlsx", set()),
    ("/imports/templates/assignments.xlsx", "admin", "xlsx", set()),
    ("/imports/templates/history.xlsx", "admin", "xlsx", {"indicator"}),
    ("/reports/report.docx?org=530102", "admin", "docx", {"county", "member", "phrase", "prefix", "wording",
                                                          "outcome", "outcomephrase"}),
    ("/members/{member}/profile.docx", "admin", "docx", PROFILE),
    ("/exemplars/nominations/{nomination}/material.docx", "admin", "docx", EXEMPLAR),
    ("/matching/batches/{invitation}.xlsx", "admin", "xlsx", {"keycounty", "member", "short"}),
    ("/exports/activities.csv?org=530102", "admin", "csv", ACTIVITY_ROW),
]


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [*node, *(s for v in node.values() for s in _strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _html(world: World, body: bytes) -> tuple[list[str], str]:
    text = body.decode()
    problems = [f"unescaped: {m.group(0)}" for m in RAW_ELEMENT.finditer(text)]
    # The charts' options: JSON in <script type="application/json">, the names strings in it.
    for raw in re.findall(r'<script type="application/json">(.*?)</script>', text, re.DOTALL):
        option = json.loads(raw)
        for tag, hostile_text in world.texts.items():
            if f"zq{tag}" in raw and not any(hostile_text in s for s in _strings(option)):
                problems.append(f"chart option: {tag} not kept as a string")
    return problems, text


def _json(world: World, body: bytes) -> tuple[list[str], str]:
    return [], "\n".join(_strings(json.loads(body)))


def _cells(world: World, body: bytes) -> tuple[list[str], str]:
    problems, texts = [], []
    for ws in load_workbook(io.BytesIO(body)).worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    problems.append(f"{ws.title}!{cell.coordinate} is a formula: {cell.value!r}")
                elif isinstance(cell.value, str):
                    texts.append(cell.value)
    return problems, "\n".join(texts)


def _docx(world: World, body: bytes) -> tuple[list[str], str]:
    doc = Document(io.BytesIO(body))
    texts = [p.text for p in doc.paragraphs]
    texts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return [], "\n".join(texts)


def _csv(world: World, body: bytes) -> tuple[list[str], str]:
    fields = [v for row in csv.reader(io.StringIO(body.decode("utf-8-sig"))) for v in row]
    problems = [f"CSV field runs as a formula: {v!r}" for v in fields if v[:1] in ("=", "+", "-", "@", "\t", "\r")
                and not v.lstrip("-").replace(".", "", 1).isdigit()]
    # A text field is shown with its guard apostrophe; what follows it is the literal text.
    return problems, "\n".join(v.removeprefix("'") for v in fields)


READERS = {"html": _html, "json": _json, "xlsx": _cells, "docx": _docx, "csv": _csv}


def test_every_output_shows_hostile_text_as_text(client, session, world):
    problems: list[str] = []
    signed_in = None
    for template, who, kind, expected in PAGES:
        url = template.format(**world.ids)
        if who != signed_in:
            client.cookies.clear()
            if who != "anonymous":
                f.login_as(client, session, world.admin if who == "admin" else world.member_user)
            signed_in = who
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{url}: HTTP {response.status_code}")
            continue
        found, text = READERS[kind](world, response.content)
        problems += [f"{url}: {p}" for p in found]
        # Each field it should show is there, as exactly the stored text (escaped once in HTML).
        for tag in sorted(expected):
            shown = world.texts[tag] if kind != "html" else str(escape(world.texts[tag]))
            if shown not in text:
                problems.append(f"{url}: {tag} missing or altered")
    assert problems == [], "\n".join(problems)


def test_the_activities_workbook_and_the_codes_workbook_keep_hostile_text_as_text(session, world, tmp_path):
    """The two workbooks not fetched above: the activities export (a background job) and the
    activation codes (made once, by a POST), written by the functions those routes call."""
    by = build_principal(session, world.admin)
    scope = exports.parse_scope(session, by, org="530102", period=None, status="", task=None, scope_by="org")
    cols = exports.columns(session, scope)
    path = tmp_path / "activities.xlsx"
    exports.write_xlsx(path, cols, exports.iter_rows(session.get_bind(), by, scope, cols))
    member = session.get(Member, world.ids["member"])
    codes = codes_workbook([IssuedCode(world.member_user, member.name, world.texts["county"], world.texts["committee"],
                                       "AB12CD34")], activate_url="http://testserver/activate", valid_until=today_cn())
    for body, expected in ((path.read_bytes(), ACTIVITY_ROW),
                           (codes, {"member", "county", "committee"})):
        problems, text = _cells(world, body)
        assert problems == []
        assert {tag for tag in expected if world.texts[tag] not in text} == set()
