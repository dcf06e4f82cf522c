"""Message templates: a name, a Chinese text with ``{variables}``, and where it may go.

Chinese SMS providers send only templates approved in advance, identified by a code and filled with
variables; the text here is what the provider's approved template says (the code per template comes
from ``SZT_SMS_TEMPLATES``). The same text is shown in 站内消息 and kept by the ``log`` provider.
Variables are substituted as plain text (never ``str.format``: a member's name may hold braces).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    name: str
    title: str  # 站内消息's title
    text: str  # with {variables}
    variables: tuple[str, ...]


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("login_code", "登录验证码", "您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。",
             ("code", "minutes")),
    Template("reset_code", "重设密码验证码", "您正在重设密码，验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。",
             ("code", "minutes")),
    Template("activity_returned", "活动被退回",
             "您{date}记录的「{task}」活动被退回：{reason}。请登录双助推平台修改后重新提交。",
             ("date", "task", "reason")),
    Template("join_decided", "参与申请已处理", "您申请加入{date}「{task}」活动的参与名单：{decision}。",
             ("date", "task", "decision")),
    Template("join_requested", "有新的参与申请", "{name}申请加入{date}「{task}」活动的参与名单，请审核。",
             ("name", "date", "task")),
    Template("reminder", "双助推提醒", "{name}委员您好：{message}", ("name", "message")),
    Template("match_invitation", "补位邀请", "{name}委员您好：{org}邀请您到{county}参与「{task}」，欢迎报名参加。",
             ("name", "org", "county", "task")),
    Template("campaign_done", "提醒已发出", "{org}向{count}名委员发出「双助推」提醒：{message}",
             ("org", "count", "message")),
)}

_VARIABLE = re.compile(r"\{([a-z_]+)\}")


def render(name: str, params: dict[str, object]) -> str:
    """The template's text with each ``{variable}`` replaced by its value as plain text."""
    template = TEMPLATES[name]
    missing = set(template.variables) - params.keys()
    if missing:
        raise KeyError(f"template {name} needs {sorted(missing)}")
    return _VARIABLE.sub(lambda m: str(params.get(m.group(1), m.group(0))), template.text)


def sms_parts(text: str) -> int:
    """Billed SMS parts: 70 characters in one message, 67 per part when longer (签名 included by the caller)."""
    n = len(text)
    return 1 if n <= 70 else -(-n // 67)
