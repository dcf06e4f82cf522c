"""JSON API of 站内消息 under /api/v1/messages: the signed-in user's own messages (session users
only — no API token reads anyone's inbox). The rules are app/notify/inbox.py's, as the pages'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.api_docs import AUTH_ERRORS, err
from app.api_types import IsoDateTime
from app.deps import CurrentUser, Id, SessionDep, WriteSessionDep
from app.notify import inbox

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: err("找不到这条消息（不是本人的消息也答 404；code: message_not_found） / not one of your messages")}


class MessageRead(BaseModel):
    id: int
    kind: str  # activity_returned | join_decided | reminder | campaign_done …
    title: str
    body: str
    link: str | None  # a page of this site the message points to
    created_at: IsoDateTime
    read: bool


class MessagePage(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{
        "items": [{"id": 812, "kind": "activity_returned", "title": "活动被退回",
                   "body": "您3月5日记录的「产业助推」活动被退回：照片不清晰。请登录双助推平台修改后重新提交。",
                   "link": "/activities/1234", "created_at": "2026-03-06T09:12:00+08:00", "read": False}],
        "total": 1, "unread": 1, "page": 1, "per_page": 20}]}}

    items: list[MessageRead]
    total: int
    unread: int
    page: int
    per_page: int


class Unread(BaseModel):
    model_config = {"json_schema_extra": {"examples": [{"unread": 0, "marked": 1}]}}

    unread: int
    marked: int = 0  # messages this request marked read


def _read(m: inbox.Message) -> MessageRead:
    return MessageRead(id=m.id, kind=m.kind, title=m.title, body=m.body, link=m.link, created_at=m.created_at,
                       read=m.read_at is not None)


@router.get("", response_model=MessagePage, summary="我的消息 / My messages", responses={**AUTH_ERRORS},
            description="登录用户本人的站内消息，新的在前，带未读数。\n\nThe signed-in user's messages, newest first, "
                        "with the unread count.")
def list_messages(session: SessionDep, by: CurrentUser,
                  page: Annotated[int, Query(ge=1, le=100000, description="页码，从 1 开始 / page number")] = 1,
                  per_page: Annotated[int, Query(ge=1, le=inbox.MAX_PER_PAGE,
                                                 description="每页条数 / messages per page")] = inbox.PER_PAGE,
                  ) -> MessagePage:
    items, total = inbox.messages(session, by, page=page, per_page=per_page)
    return MessagePage(items=[_read(m) for m in items], total=total, unread=inbox.unread_count(session, by),
                       page=page, per_page=per_page)


@router.post("/read-all", response_model=Unread, summary="全部标为已读 / Mark all read", responses={**AUTH_ERRORS},
             description="把本人所有未读的站内消息标为已读，返回标记的条数。\n\nMarks every unread message of the "
                         "signed-in user read; says how many it marked.")
def read_all(session: WriteSessionDep, by: CurrentUser) -> Unread:
    return Unread(unread=0, marked=inbox.mark_all_read(session, by))


@router.post("/{message_id}/read", response_model=Unread, summary="标为已读 / Mark read",
             responses={**AUTH_ERRORS, **NOT_FOUND},
             description="把本人的一条站内消息标为已读（已读的不变）。\n\nMarks one of the signed-in user's "
                         "messages read (a read one stays read).")
def read_one(session: WriteSessionDep, by: CurrentUser, message_id: Id) -> Unread:
    _, was_unread = inbox.mark_read(session, by, message_id)
    return Unread(unread=inbox.unread_count(session, by), marked=int(was_unread))
