"""JSON API of reminder campaigns (staff, signed in): preview, send, list, read. The same service as the
pages (app/notify/campaigns.py); these handlers only translate HTTP. Names only, never phone numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field, StrictBool

from app.api_docs import AUTH_ERRORS, INVALID, ORG_NOT_FOUND, PERIOD_DESCRIPTION, PERIOD_PATTERN, err
from app.boards import periods
from app.db import run_write
from app.deps import CurrentUser, Id, OrgForStaff, SessionDep, WriteSessionDep
from app.models import Organisation
from app.notify import campaigns
from app.tokens.service import token_access

router = APIRouter(prefix="/api/v1", tags=["reminders"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: err("找不到这次提醒，或不在您的范围内（code: not_found） / campaign not found or outside your scope")}
SEGMENT_DESCRIPTION = ("未参与委员中的一组：never_activated 从未激活、returned 有退回未改、pending 已记录待审核、"
                       "idle 已激活但本期无活动 / a group of the inactive list")


class CampaignDraft(BaseModel):
    """The group to remind and the message."""

    period: str | None = Field(default=None, pattern=PERIOD_PATTERN, description=PERIOD_DESCRIPTION)
    segment: Literal["never_activated", "returned", "pending", "idle"] = Field(description=SEGMENT_DESCRIPTION)
    committee_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="只提醒这个专委会的委员（可选）")
    message: str = Field(default="", max_length=500, description=(
        f"提醒内容（最多 {campaigns.MAX_MESSAGE} 字；空：该组的默认内容）。委员收到「姓名委员您好：内容」，短信带签名"))
    with_sms: StrictBool = Field(default=True, description="同时发短信（false：只发站内消息）")

    model_config = {"json_schema_extra": {"examples": [
        {"period": "2026-ytd09", "segment": "never_activated", "message": "", "with_sms": True}]}}

    def draft(self, org: Organisation) -> campaigns.Draft:
        return campaigns.Draft(org=org, period=periods.parse(self.period), segment=self.segment,
                               committee_id=self.committee_id, message=self.message, with_sms=self.with_sms)


class CampaignPreview(BaseModel):
    recipients: int = Field(description="这一组的委员人数")
    addressed: int = Field(description="将提醒的人数")
    sms: int
    inapp: int
    skipped: dict[str, int] = Field(description="跳过的人数，按原因：opted_out 已退订、reminded_today 今天已提醒、"
                                                "over_cap 短信已达当日上限、no_phone 无手机号、no_account 无账号")
    message: str = Field(description="清理后的提醒内容")
    sample: str = Field(description="委员收到的文字（第一位委员的称呼；短信含签名）")
    sms_parts: int = Field(description="计费短信条数")
    cost_fen: int
    cost_yuan: str
    quiet_until: datetime | None = Field(description="现在是免打扰时段时，短信最早的发送时刻")

    model_config = {"json_schema_extra": {"examples": [
        {"recipients": 178, "addressed": 176, "sms": 176, "inapp": 176, "skipped": {"opted_out": 2},
         "message": "请用手机号和短信验证码登录双助推行动平台，记录您参加的助推活动。",
         "sample": "【双助推】张三委员您好：请用手机号和短信验证码登录双助推行动平台，记录您参加的助推活动。",
         "sms_parts": 176, "cost_fen": 880, "cost_yuan": "8.80", "quiet_until": None}]}}


class CampaignRead(BaseModel):
    id: int
    org_code: str
    org_name: str
    segment: str
    period: str
    committee_id: int | None
    message: str
    with_sms: bool
    created_at: datetime
    sender: str
    recipients: int
    addressed: int
    skipped: int
    sms_parts: int
    delivered: int
    failed: int
    waiting: int
    inapp: int
    read: int
    recorded_7_days: int = Field(description="发出后 7 天内记录了活动（或被确认为参与者）的委员")
    recorded_30_days: int = Field(description="发出后 30 天内记录了活动（或被确认为参与者）的委员")

    model_config = {"json_schema_extra": {"examples": [
        {"id": 12, "org_code": "530102", "org_name": "五华区政协", "segment": "never_activated", "period": "2026-ytd09",
         "committee_id": None, "message": "请登录平台记录您参加的助推活动。", "with_sms": True,
         "created_at": "2026-09-28T02:00:00Z", "sender": "王芳（五华区助推办）", "recipients": 178, "addressed": 176,
         "skipped": 2, "sms_parts": 176, "delivered": 170, "failed": 1, "waiting": 5, "inapp": 176, "read": 40,
         "recorded_7_days": 31, "recorded_30_days": 58}]}}


class CampaignLineRead(BaseModel):
    id: int
    org_name: str
    segment: str
    period: str
    created_at: datetime
    sender: str
    recipients: int
    skipped: int
    delivered: int
    failed: int
    waiting: int


class CampaignPage(BaseModel):
    items: list[CampaignLineRead]
    total: int
    page: int
    per_page: int

    model_config = {"json_schema_extra": {"examples": [
        {"items": [{"id": 12, "org_name": "五华区政协", "segment": "never_activated", "period": "2026-ytd09",
                    "created_at": "2026-09-28T02:00:00Z", "sender": "王芳（五华区助推办）", "recipients": 178,
                    "skipped": 2, "delivered": 170, "failed": 1, "waiting": 5}],
         "total": 1, "page": 1, "per_page": 50}]}}


def _preview(p: campaigns.Preview) -> CampaignPreview:
    plan = p.plan
    return CampaignPreview(recipients=plan.recipients, addressed=len(plan.addressees), sms=plan.sms, inapp=plan.inapp,
                           skipped=plan.skipped, message=p.draft.message, sample=plan.sample,
                           sms_parts=plan.sms_parts, cost_fen=p.cost_fen, cost_yuan=p.cost_yuan,
                           quiet_until=plan.quiet_until)


def _read(session, campaign) -> CampaignRead:  # noqa: ANN001
    r = campaigns.results(session, campaign)
    c = r.campaign
    org = session.get(Organisation, c.org_id)
    return CampaignRead(id=c.id, org_code=org.code, org_name=org.name, segment=c.segment, period=c.period,
                        committee_id=c.committee_id, message=c.body, with_sms=c.with_sms, created_at=c.created_at,
                        sender=r.sender, recipients=c.recipients, addressed=r.addressed, skipped=r.skipped,
                        sms_parts=c.sms_parts, delivered=r.delivered, failed=r.failed, waiting=r.waiting,
                        inapp=r.inapp, read=r.read, recorded_7_days=r.recorded_7, recorded_30_days=r.recorded_30)


def _json(body: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body.model_dump_json(), status_code=status_code, media_type="application/json", headers=headers)


@router.post(
    "/orgs/{code}/campaigns/preview", response_model=CampaignPreview,
    summary="预览提醒 / Preview a reminder campaign",
    description=(
        "未参与委员中的一组（可限一个专委会）现在会收到什么：人数、跳过的人数和原因、委员读到的文字、短信计费条数和费用、"
        "是否处在免打扰时段。不写入任何东西。\n\n"
        "What a reminder to one group of the inactive list would do now: counts, skipped members by reason, the "
        "text as read, billed SMS parts and cost, quiet hours. Writes nothing."
    ),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def preview_campaign(session: SessionDep, org: OrgForStaff, data: CampaignDraft) -> Response:
    return _json(_preview(campaigns.preview(session, data.draft(org))))


@router.post(
    "/orgs/{code}/campaigns", status_code=201, response_model=CampaignRead,
    summary="发送提醒 / Send a reminder campaign",
    description=(
        "向这一组委员发送提醒（站内消息，及短信）：一次写入提醒记录和全部待发消息，记入审计日志（notify.campaign）。"
        "今天已提醒过、已退订的委员跳过。必须带 `Idempotency-Key` 请求头：同一编号的重复提交返回第一次的提醒"
        "（200，响应头 `Idempotent-Replayed: true`），不会再发一次。\n\n"
        "Sends the reminder to the group (in-app, and SMS): the campaign and every outbox row in one transaction, "
        "audited. Members reminded today or opted out are skipped. `Idempotency-Key` is required: a retry answers "
        "the first campaign (200, `Idempotent-Replayed: true`) and sends nothing again."
    ),
    responses={200: {"model": CampaignRead, "description": "重复提交 / idempotent replay"},
               201: {"description": "已发出 / sent"}, **AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
async def send_campaign(request: Request, data: CampaignDraft, by: CurrentUser, org: OrgForStaff, read: SessionDep,
                        session: WriteSessionDep,
                        idempotency_key: Annotated[str | None, Header(
                            alias="Idempotency-Key",
                            description="客户端生成的唯一提交编号（如 UUID），最长 64 个字符")] = None) -> Response:
    draft = data.draft(org)
    body, created = await run_write(
        request, read, session,
        lambda s: campaigns.send(s, by=by, draft=draft, submission_key=idempotency_key or ""),
        lambda r, sent: (_read(r, sent.campaign), sent.created))
    if created:
        return _json(body, status_code=201, headers={"Location": f"/api/v1/campaigns/{body.id}"})
    return _json(body, headers={"Idempotent-Replayed": "true"})


@router.get(
    "/orgs/{code}/campaigns", response_model=CampaignPage,
    summary="提醒记录 / List reminder campaigns",
    openapi_extra=token_access("records"),
    description=("该组织及其下级发出的提醒，新的在前，带短信送达情况。只有「双助推」办公室（staff）可读："
                 "只读的账号和 API 令牌答 403。\n\nCampaigns of the subtree, newest first; staff only (a reader or an "
                 "API token is answered 403)."),
    responses={**AUTH_ERRORS, **ORG_NOT_FOUND, **INVALID},
)
def list_campaigns(session: SessionDep, org: OrgForStaff,
                   page: Annotated[int, Query(ge=1, le=10_000, description="页码")] = 1,
                   per_page: Annotated[int, Query(ge=1, le=200, description="每页条数")] = 50) -> Response:
    lines, total = campaigns.campaigns_of(session, org, page=page, per_page=per_page)
    items = [CampaignLineRead(id=x.campaign.id, org_name=x.org_name, segment=x.campaign.segment,
                              period=x.campaign.period, created_at=x.campaign.created_at, sender=x.sender,
                              recipients=x.campaign.recipients, skipped=x.campaign.skipped, delivered=x.delivered,
                              failed=x.failed, waiting=x.waiting) for x in lines]
    return _json(CampaignPage(items=items, total=total, page=page, per_page=per_page))


@router.get(
    "/campaigns/{campaign_id}", response_model=CampaignRead,
    summary="提醒结果 / A reminder campaign's results",
    openapi_extra=token_access("records"),
    description=(
        "一次提醒的结果：短信送达、失败、等待，站内消息已读，发出后 7 天、30 天内记录了活动（或被确认为参与者）的人数。"
        "只有该组织的「双助推」办公室（staff）可读。\n\nDelivered, failed and waiting SMS, in-app messages read, and "
        "members who recorded something within 7 and 30 days after the send; staff only."
    ),
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
def get_campaign(session: SessionDep, by: CurrentUser, campaign_id: Id) -> Response:
    return _json(_read(session, campaigns.campaign_for_staff(session, by, campaign_id)))
