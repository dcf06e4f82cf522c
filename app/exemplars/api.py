"""JSON API of 典型 under /api/v1: a subtree's ranked candidates, its nominations (list, draft, create),
one nomination (read, decide, withdraw, resubmit) and a 典型. The same service as the pages
(app/exemplars/service.py); reading is scoped like the boards (404 outside), acting is for signed-in
staff (403 when they only read; no API token for writes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, err
from app.api_http import json_answer
from app.clock import today_cn
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForRead, OrgForStaff, SessionDep, WriteSessionDep
from app.exemplars import service
from app.exemplars.schemas import (
    CandidatePage,
    CandidateRead,
    Component,
    Draft,
    EvidenceActivityRead,
    ExemplarRead,
    NominationCreate,
    NominationDecision,
    NominationPage,
    NominationRead,
    NominationResubmit,
    NominationVersion,
    Outcome,
)
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["exemplars"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: err("找不到该推荐或不在您的范围内（code: not_found），或尚未选树（code: not_selected） / not found")}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: err("已被他人处理（stale_version）、已推荐过（already_nominated）或状态不允许（not_waiting） / conflict")}
YearQ = Annotated[int | None, Query(ge=2000, le=2100, description="年度，默认今年")]


def _components(c: service.Candidate) -> list[Component]:
    return [Component(label=label, count=n, weight=w, points=p) for label, n, w, _unit, p in c.parts]


def _outcomes(c: service.Candidate) -> list[Outcome]:
    return [Outcome(name=n, total=t) for n, t in c.outcomes]


def _nomination(r: service.NominationRow) -> NominationRead:
    n = r.n
    return NominationRead(id=n.id, member_id=n.member_id, member_name=r.member_name, sector=r.sector,
                          org_code=r.org_code, org_name=r.org_name, year=n.year, citation=n.citation, status=n.status,
                          status_label=r.status_label, decision_note=n.decision_note, decided_at=n.decided_at,
                          created_at=n.created_at, version=n.version)


def _read_one(session: Session, by, nomination_id: int) -> NominationRead:  # noqa: ANN001 - a Principal
    n = service.nomination_for_read(session, by, nomination_id)
    return _nomination(service.rows_of(session, [n])[0])


@router.get("/orgs/{code}/exemplar-candidates", response_model=CandidatePage,
            summary="典型候选 / Candidates ranked on evidence", openapi_extra=token_access("records"),
            description="本组织及下级在任委员按已审核证据排名（成效、到过的县、实事、牵头联合活动、带动新人；活动次数最多计 10 次）。",
            responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID})
def list_candidates(session: SessionDep, org: OrgForRead, year: YearQ = None,
                    page: Annotated[int, Query(ge=1, le=10_000, description="页码")] = 1,
                    per_page: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50) -> Response:
    y = service.check_year(year or today_cn().year)
    rows, total = service.candidates(session, org, service.year_period(y), page=page, per_page=per_page)
    items = [CandidateRead(rank=(page - 1) * per_page + i, member_id=c.member_id, name=c.name, sector=c.sector,
                           org_name=c.org_name, score=c.score, activities=c.activities,
                           outcome_activities=c.outcome_activities, counties=c.counties, tasks=c.tasks,
                           joint_led=c.joint_led, newcomers=c.newcomers, components=_components(c),
                           outcomes=_outcomes(c)) for i, c in enumerate(rows, start=1)]
    return json_answer(CandidatePage(year=y, explained=service.SCORE_EXPLAINED, items=items, total=total, page=page,
                               per_page=per_page))


@router.get("/orgs/{code}/nominations", response_model=NominationPage,
            summary="典型推荐 / A subtree's nominations", openapi_extra=token_access("records"),
            description="本组织及下级推荐的典型，最新在前，可按年度、状态筛选。",
            responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID})
def list_nominations(session: SessionDep, org: OrgForRead, year: YearQ = None,
                     status: Annotated[str, Query(pattern="^(all|nominated|selected|returned|withdrawn)$",
                                                  description="状态：all 全部、nominated 待审定、selected 已选树、"
                                                              "returned 已退回、withdrawn 已撤回")] = "all",
                     page: Annotated[int, Query(ge=1, le=10_000, description="页码")] = 1,
                     per_page: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50) -> Response:
    rows, total = service.list_nominations(session, org, year=year, status=status, page=page, per_page=per_page)
    return json_answer(NominationPage(items=[_nomination(r) for r in rows], total=total, page=page, per_page=per_page))


@router.get("/orgs/{code}/nominations/draft", response_model=Draft,
            summary="起草推荐事迹 / Draft a citation", openapi_extra=token_access("records"),
            description="按委员当年已审核的活动起草推荐事迹（本级或上级「双助推」办公室；委员须在本组织及下级任职；"
                        "只读的 API 令牌得到 403）。\n\nDrafts a citation from the member's verified activities of the "
                        "year; staff only (a token is refused with 403).",
            responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID})
def draft(session: SessionDep, by: CurrentUser, org: OrgForStaff,
          member_id: Annotated[int, Query(ge=1, le=2**31 - 1, description="委员 id")], year: YearQ = None) -> Response:
    y = year or today_cn().year
    _, member, text = service.draft_for(session, by, org.id, member_id, y)
    return json_answer(Draft(member_id=member.id, year=y, citation=text))


@router.post("/orgs/{code}/nominations", response_model=NominationRead, status_code=201,
             summary="推荐典型 / Nominate a member",
             description="本级或上级「双助推」办公室推荐本组织及下级的在任委员为某年度典型；同一 submission_key 只推荐一次"
                         "（重复提交返回第一次的推荐：200，`Idempotent-Replayed: true`）；记入审计日志（exemplar.nominate）。\n\n"
                         "Nominates a serving member of the subtree for a year; staff only; once per submission_key.",
             responses={200: {"model": NominationRead, "description": "重复提交 / idempotent replay"},
                        **AUTH_ERRORS, **ORG_NOT_FOUND, **CONFLICT, **INVALID})
async def create_nomination(request: Request, data: NominationCreate, by: CurrentUser, org: OrgForStaff,
                            read: SessionDep, session: WriteSessionDep) -> Response:
    body, created = await run_write(request, read, session, lambda s: (lambda made: (made[0].id, made[1]))(
        service.nominate(s, by=by, org_ref=org.id, member_id=data.member_id, year=data.year,
                         citation=data.citation, submission_key=data.submission_key)),
        lambda r, made: (_read_one(r, by, made[0]), made[1]))
    if created:
        return json_answer(body, status_code=201)
    return json_answer(body, headers={"Idempotent-Replayed": "true"})


@router.get("/nominations/{nomination_id}", response_model=NominationRead, summary="一条推荐 / A nomination",
            openapi_extra=token_access("records"),
            description="一条推荐：推荐单位、年度、推荐事迹、状态和审定意见（推荐单位及其上级、委员本人可查看）。\n\n"
                        "One nomination, for readers of the nominating organisation and the member.",
            responses={**AUTH_ERRORS, **NOT_FOUND, **INVALID})
def read_nomination(session: SessionDep, by: CurrentUser, nomination_id: Id) -> Response:
    return json_answer(_read_one(session, by, nomination_id))


@router.post("/nominations/{nomination_id}/decision", response_model=NominationRead,
             summary="审定推荐 / Select or return",
             description="根组织或推荐单位上级的「双助推」办公室选树（select）或退回（return，须填理由）；回传读到的 version。",
             responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT, **INVALID})
async def decide(request: Request, nomination_id: Id, data: NominationDecision, by: CurrentUser, read: SessionDep,
                 session: WriteSessionDep) -> Response:
    return json_answer(await run_write(request, read, session, lambda s: service.decide(
        s, by=by, nomination_id=nomination_id, decision=data.decision, note=data.note, version=data.version)[0].id,
        lambda r, i: _read_one(r, by, i)))


@router.post("/nominations/{nomination_id}/withdraw", response_model=NominationRead,
             summary="撤回推荐 / Withdraw", description="推荐单位的「双助推」办公室在审定前撤回。",
             responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT, **INVALID})
async def withdraw(request: Request, nomination_id: Id, data: NominationVersion, by: CurrentUser, read: SessionDep,
                   session: WriteSessionDep) -> Response:
    return json_answer(await run_write(request, read, session, lambda s: service.withdraw(
        s, by=by, nomination_id=nomination_id, version=data.version)[0].id, lambda r, i: _read_one(r, by, i)))


@router.post("/nominations/{nomination_id}/resubmit", response_model=NominationRead,
             summary="修改后重新报送 / Edit and send again",
             description="推荐单位修改退回或撤回的推荐（或待审定推荐的事迹）并重新报送。",
             responses={**AUTH_ERRORS, **NOT_FOUND, **CONFLICT, **INVALID})
async def resubmit(request: Request, nomination_id: Id, data: NominationResubmit, by: CurrentUser,
                   read: SessionDep, session: WriteSessionDep) -> Response:
    return json_answer(await run_write(request, read, session, lambda s: service.resubmit(
        s, by=by, nomination_id=nomination_id, citation=data.citation, version=data.version)[0].id,
        lambda r, i: _read_one(r, by, i)))


@router.get("/exemplars/{nomination_id}", response_model=ExemplarRead, summary="典型 / A selected exemplar",
            openapi_extra=token_access("records"),
            description="已选树的典型：推荐事迹、当年的履职证据与得分、您可查看的已审核活动及照片地址。",
            responses={**AUTH_ERRORS, **NOT_FOUND, **INVALID})
def read_exemplar(session: SessionDep, by: CurrentUser, nomination_id: Id) -> Response:
    ex = service.exemplar(session, by, nomination_id)
    acts = [EvidenceActivityRead(id=a.id, occurred_on=a.occurred_on, task=a.task, county=a.county, figures=a.figures,
                                 photo_urls=[f"/activities/{a.id}/photos/{p}" for p in a.photo_ids]) for a in ex.acts]
    base = f"/exemplars/nominations/{nomination_id}"
    return json_answer(ExemplarRead(nomination=_nomination(ex.row), score=ex.candidate.score,
                              components=_components(ex.candidate), outcomes=_outcomes(ex.candidate),
                              activities=acts, material_url=f"{base}/material.docx",
                              photo_pack_url=f"{base}/photos.zip"))
