"""企业微信 group robots: an office's group chat gets a line when something waits for the office.

A robot is a webhook address (its ``key`` is the only secret: anyone holding it can post to the
group), so staff see it masked and only staff of the organisation (or above) add or disable one.
Notices go through the outbox like SMS: channel ``wecom``, recipient ``robot:{id}``, sent by the
sender (app/notify/worker.py).
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session, col

from app.audit.service import record
from app.auth.principal import STAFF_ROLES, Principal, org_for_staff
from app.clock import now_utc
from app.errors import Forbidden, Invalid, NotFound
from app.models import Organisation, WecomRobot
from app.notify.service import write
from app.notify.templates import TEMPLATES, render

WEBHOOK_PREFIX = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="


def masked(url: str) -> str:
    """The address as staff see it after saving: the key's first and last four characters."""
    key = (urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("key") or [""])[0]
    return f"{WEBHOOK_PREFIX}{key[:4]}…{key[-4:]}" if len(key) > 8 else f"{WEBHOOK_PREFIX}…"


def check_webhook(url: str) -> str:
    """A 企业微信 group robot's webhook address as pasted, or a Chinese refusal."""
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    key = (urllib.parse.parse_qs(parts.query).get("key") or [""])[0]
    if parts.scheme != "https" or parts.netloc != "qyapi.weixin.qq.com" or parts.path != "/cgi-bin/webhook/send" \
            or not key or len(url) > 300:
        raise Invalid("请粘贴企业微信群机器人的 Webhook 地址（https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…）",
                      errors={"webhook_url": "地址格式不正确"})
    return url


@dataclass(frozen=True)
class RobotRow:
    robot: WecomRobot
    org_name: str
    address: str  # masked


def _require_staff(by: Principal) -> None:
    if not by.has_role(*STAFF_ROLES):
        raise Forbidden("只有「双助推」办公室人员可以管理企业微信机器人", code="staff_only")


def scope_orgs(session: Session, by: Principal) -> list[Organisation]:
    """The organisations ``by`` may add a robot to, in code order (tree order)."""
    _require_staff(by)
    return list(session.scalars(select(Organisation).where(
        col(Organisation.id).in_(by.scope(*STAFF_ROLES))).order_by(col(Organisation.code))))


def list_robots(session: Session, by: Principal) -> list[RobotRow]:
    """The robots of ``by``'s subtrees, active first; addresses masked."""
    _require_staff(by)
    rows = session.execute(select(WecomRobot, Organisation.name).join(
        Organisation, col(Organisation.id) == WecomRobot.org_id).where(
        col(WecomRobot.org_id).in_(by.scope(*STAFF_ROLES))).order_by(
        col(WecomRobot.is_active).desc(), col(Organisation.code), col(WecomRobot.id))).all()
    return [RobotRow(robot, org_name, masked(robot.webhook_url)) for robot, org_name in rows]


def add_robot(session: Session, by: Principal, *, org_id: int | str | None, name: str, webhook_url: str) -> WecomRobot:
    """Add a robot to an organisation ``by`` is staff of. Audited (without the address). Commits."""
    _require_staff(by)
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name or len(name) > 40:
        errors["name"] = "请填写机器人名称（不超过 40 字），例如「五华区政协办公室群」"
    try:
        url = check_webhook(webhook_url or "")
    except Invalid as exc:
        errors.update(exc.errors or {})
    if not str(org_id or "").strip().isdigit():
        errors["org_id"] = "请选择机器人所属的组织"
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    org = org_for_staff(session, by, int(str(org_id).strip()))
    robot = WecomRobot(org_id=org.id, name=name, webhook_url=url, created_by_user_id=by.user_id, created_at=now_utc())
    session.add(robot)
    session.flush()
    record(session, actor=by.actor, action="wecom_robot.add", target_type="wecom_robot", target_id=robot.id,
           org_id=org.id, after={"name": name})
    session.commit()
    return robot


def robot_for_staff(session: Session, by: Principal, robot_id: int) -> WecomRobot:
    """A robot of an organisation ``by`` is staff of; 404 for any other, as for none."""
    _require_staff(by)
    robot = session.get(WecomRobot, robot_id)
    if robot is None or not by.can(session, robot.org_id, *STAFF_ROLES):
        raise NotFound("找不到该机器人")
    return robot


def disable_robot(session: Session, by: Principal, *, robot_id: int) -> WecomRobot:
    """Stop posting to a robot (the row stays for the outbox's history). Audited. Commits."""
    robot = robot_for_staff(session, by, robot_id)
    if robot.is_active:
        robot.is_active = False
        record(session, actor=by.actor, action="wecom_robot.disable", target_type="wecom_robot", target_id=robot.id,
               org_id=robot.org_id, before={"name": robot.name})
        session.commit()
    return robot


def notify_robots(session: Session, org_id: int, *, kind: str, event_key: str, template: str,
                  params: dict[str, object], link: str | None = None) -> int:
    """One notice to each active robot of the organisation, in the caller's transaction (idempotent
    per robot and event). Returns how many rows were written."""
    robots = session.scalars(select(WecomRobot.id).where(
        col(WecomRobot.org_id) == org_id, col(WecomRobot.is_active).is_(True))).all()
    if not robots:
        return 0
    now = now_utc()
    rows = [{"channel": "wecom", "kind": kind, "recipient": f"robot:{robot_id}", "event_key": event_key[:80],
             "user_id": None, "member_id": None, "robot_id": robot_id, "campaign_id": None, "template": template,
             "params": json.dumps(params, ensure_ascii=False), "title": TEMPLATES[template].title,
             "body": render(template, params), "link": link, "status": "queued", "attempts": 0, "not_before": now,
             "lease_owner": None, "leased_at": None, "provider": None, "provider_message_id": None, "error": None,
             "created_at": now, "sent_at": None, "read_at": None} for robot_id in robots]
    written = write(session, rows)
    if written:
        from app.notify import worker

        worker.wake()
    return written
