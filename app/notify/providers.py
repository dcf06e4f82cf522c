"""Where messages leave the system: SMS providers (log, aliyun, tencent) and 企业微信 group robots.

Each provider answers a :class:`Result`: sent (with the provider's message id), a transient failure
the sender retries later (throttling, the provider's own errors, the network), or a permanent one
with a Chinese reason (a bad number, a template not approved, keys refused). Nothing here writes a
message, a code or a phone number to the application log: a failure is logged by its code only.

The HTTP calls use the standard library with a timeout; ``SZT_SMS_ENDPOINT`` / ``SZT_WECOM_ENDPOINT``
point them at the tests' stub servers (tests/notify/stubs.py), which check the signatures as the
providers do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import ssl
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

from sqlmodel import Session

from app.clock import now_utc
from app.config import Settings, get_settings
from app.models import SmsLog
from app.notify.templates import TEMPLATES, render

log = logging.getLogger("app.notify")

TIMEOUT_SECONDS = 10
ALIYUN_HOST = "https://dysmsapi.aliyuncs.com"
TENCENT_HOST = "https://sms.tencentcloudapi.com"
WECOM_HOST = "https://qyapi.weixin.qq.com"

NOT_CONFIGURED = "未配置短信服务商"
KEYS_REFUSED = "短信服务商拒绝了密钥，请检查 SZT_SMS_ACCESS_KEY_ID / SZT_SMS_ACCESS_KEY_SECRET"
BAD_NUMBER = "手机号码格式不正确"
TEMPLATE_REFUSED = "短信模板不存在或未审核通过"
SIGN_REFUSED = "短信签名不存在或未审核通过"
NO_BALANCE = "短信账户余额不足"
NETWORK = "无法连接短信服务商"
UNANSWERED = "已发出但服务商未答复，发送结果未知，为避免重复发送未重试"


@dataclass(frozen=True)
class Result:
    """What a provider said: ``ok``; else ``transient`` (try again later) or not, with ``error``."""

    ok: bool
    transient: bool = False
    message_id: str | None = None
    error: str | None = None


def sent(message_id: str | None) -> Result:
    return Result(ok=True, message_id=(message_id or "")[:100] or None)


def retry(error: str) -> Result:
    return Result(ok=False, transient=True, error=error[:500])


def refuse(error: str) -> Result:
    return Result(ok=False, transient=False, error=error[:500])


class SmsProvider(Protocol):
    name: str

    def send(self, phone: str, template_name: str, params: dict[str, object]) -> Result: ...


def template_codes(settings: Settings) -> dict[str, str]:
    """``SZT_SMS_TEMPLATES`` ("login_code=SMS_1,reminder=SMS_2") as a dict: our template → the provider's id."""
    codes = {}
    for part in settings.sms_templates.split(","):
        name, _, code = part.partition("=")
        if name.strip() and code.strip():
            codes[name.strip()] = code.strip()
    return codes


def sms_text(settings: Settings, template_name: str, params: dict[str, object]) -> str:
    """The SMS as the member reads it: 【签名】 and the template's text."""
    return f"【{settings.sms_sign_name}】{render(template_name, params)}"


# --- HTTP ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (network)
    body: dict


# One kept-alive connection per host and sending thread: a TLS handshake per SMS would cost the
# server more than the sending. A connection idle longer than IDLE_REUSE_SECONDS is not reused
# (providers close idle ones), so a request is never sent down a socket the other end has dropped.
IDLE_REUSE_SECONDS = 4.0
_held = threading.local()


def _connection(parts: SplitResult) -> http.client.HTTPConnection:
    pool: dict[tuple[str, str, int | None], tuple[http.client.HTTPConnection, float]] = getattr(_held, "pool", None) or {}
    _held.pool = pool
    key = (parts.scheme, parts.hostname or "", parts.port)
    held = pool.pop(key, None)
    if held is not None:
        if time.monotonic() - held[1] < IDLE_REUSE_SECONDS and held[0].sock is not None:
            return held[0]
        held[0].close()
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS,
                                           context=ssl.create_default_context())
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS)


def _http(url: str, *, data: bytes, headers: dict[str, str]) -> Answer:
    """POST ``data``; ``Answer(0)`` when the request never reached the provider whole (safe to try
    again), ``Answer(-1)`` when it was sent and no answer came (it may have been delivered: never
    retried, or the member could get it twice)."""
    parts = urlsplit(url)
    conn = _connection(parts)
    try:
        if conn.sock is None:
            conn.connect()
        conn.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), body=data, headers=headers)
    except (OSError, http.client.HTTPException, ValueError):  # refused, DNS, reset while sending
        conn.close()
        return Answer(0, {})
    try:
        response = conn.getresponse()
        raw, status = response.read(), response.status
    except (OSError, http.client.HTTPException):  # timed out or dropped after the request went
        conn.close()
        return Answer(-1, {})
    if response.will_close:
        conn.close()
    else:
        _held.pool[(parts.scheme, parts.hostname or "", parts.port)] = (conn, time.monotonic())
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    return Answer(status, body if isinstance(body, dict) else {})


def _endpoint(settings: Settings, default: str) -> str:
    return (settings.sms_endpoint or default).rstrip("/")


# --- log (dev) ---------------------------------------------------------------------------------------

class LogProvider:
    """Keeps the message in ``sms_log`` (SZT_ENV=dev only) and sends nothing; elsewhere refuses."""

    name = "log"

    def __init__(self, settings: Settings, write: Callable[[], AbstractContextManager[Session]]) -> None:
        self.settings = settings
        self.write = write

    def send(self, phone: str, template_name: str, params: dict[str, object]) -> Result:
        if self.settings.env != "dev":
            # A server that forgot to configure a provider must not keep codes in a table either.
            return refuse(NOT_CONFIGURED)
        with self.write() as session:
            row = SmsLog(phone=phone, template=template_name, params=json.dumps(params, ensure_ascii=False),
                         body=sms_text(self.settings, template_name, params), created_at=now_utc())
            session.add(row)
            session.flush()
            message_id = f"log-{row.id}"
            session.commit()
        return sent(message_id)


# --- aliyun ------------------------------------------------------------------------------------------

ALIYUN_TRANSIENT = ("isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "ServiceUnavailable", "InternalError",
                    "Throttling")
ALIYUN_REASONS = {
    "isv.MOBILE_NUMBER_ILLEGAL": BAD_NUMBER,
    "isv.SMS_TEMPLATE_ILLEGAL": TEMPLATE_REFUSED,
    "isv.SMS_SIGNATURE_ILLEGAL": SIGN_REFUSED,
    "isv.AMOUNT_NOT_ENOUGH": NO_BALANCE,
    "SignatureDoesNotMatch": KEYS_REFUSED,
    "InvalidAccessKeyId.NotFound": KEYS_REFUSED,
    "isv.PARAM_LENGTH_LIMIT": "短信变量超出长度限制",
}


def percent(value: str) -> str:
    """RFC 3986 percent-encoding as Alibaba Cloud signs it (space → %20, * → %2A, ~ kept)."""
    return urllib.parse.quote(value, safe="~")


def aliyun_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Alibaba Cloud's RPC signature v1: HMAC-SHA1 (key ``secret&``) of ``METHOD&%2F&`` and the
    percent-encoded, key-sorted query string; base64."""
    canonical = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent('/')}&{percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class _ApiProvider:
    """What the providers' APIs share: the settings they were made with."""

    name = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def unapproved(template_name: str) -> Result:
    """No approved template code for this message: nothing the provider could send."""
    return refuse(f"短信模板未配置：{template_name}（SZT_SMS_TEMPLATES）")


def aliyun_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunProvider(_ApiProvider):
    """Alibaba Cloud SMS (Dysmsapi 2017-05-25, SendSms), a signed form POST."""

    name = "aliyun"

    def send(self, phone: str, template_name: str, params: dict[str, object]) -> Result:
        s = self.settings
        code = template_codes(s).get(template_name)
        if not code:
            return unapproved(template_name)
        template = TEMPLATES[template_name]
        query = {
            "AccessKeyId": s.sms_access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": aliyun_timestamp(now_utc()), "Version": "2017-05-25",
            "PhoneNumbers": phone, "SignName": s.sms_sign_name, "TemplateCode": code,
            "TemplateParam": json.dumps({v: str(params[v]) for v in template.variables}, ensure_ascii=False),
        }
        query["Signature"] = aliyun_signature("POST", query, s.sms_access_key_secret)
        answer = _http(_endpoint(s, ALIYUN_HOST) + "/", data=urllib.parse.urlencode(query).encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        return self.result(answer)

    @staticmethod
    def result(answer: Answer) -> Result:
        code = str(answer.body.get("Code") or "")
        if answer.status == 200 and code == "OK":
            return sent(answer.body.get("BizId"))
        if answer.status < 0:
            return refuse(UNANSWERED)
        if answer.status == 0:
            return retry(NETWORK)
        log.warning("aliyun SMS refused: HTTP %s %s", answer.status, code or "-")
        if answer.status >= 500 or any(code.startswith(t) for t in ALIYUN_TRANSIENT):
            return retry(f"短信服务商暂时无法发送（{code or answer.status}）")
        return refuse(ALIYUN_REASONS.get(code, f"短信服务商拒绝发送（{code or answer.status}）"))


# --- tencent -----------------------------------------------------------------------------------------

TENCENT_SERVICE = "sms"
TENCENT_VERSION = "2021-01-11"
TENCENT_TRANSIENT = ("LimitExceeded", "InternalError", "RequestLimitExceeded", "ResourceUnavailable")
TENCENT_REASONS = {
    "InvalidParameterValue.IncorrectPhoneNumber": BAD_NUMBER,
    "FailedOperation.PhoneNumberInBlacklist": "该号码已退订或被列入黑名单",
    "FailedOperation.TemplateIncorrectOrUnapproved": TEMPLATE_REFUSED,
    "FailedOperation.SignatureIncorrectOrUnapproved": SIGN_REFUSED,
    "FailedOperation.InsufficientBalanceInSmsPackage": NO_BALANCE,
}


def tc3_signature(*, secret_key: str, service: str, timestamp: int, host: str, payload: bytes,
                  content_type: str = "application/json; charset=utf-8") -> tuple[str, str]:
    """Tencent Cloud's TC3-HMAC-SHA256 of a POST to ``/`` signing content-type and host: the
    credential scope (date/service/tc3_request) and the hex signature."""
    date = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(["POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
                           hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return scope, hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()


def e164(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{phone}"


class TencentProvider(_ApiProvider):
    """Tencent Cloud SMS (API 3.0, SendSms 2021-01-11), JSON signed with TC3-HMAC-SHA256."""

    name = "tencent"

    def send(self, phone: str, template_name: str, params: dict[str, object]) -> Result:
        s = self.settings
        code = template_codes(s).get(template_name)
        if not code:
            return unapproved(template_name)
        template = TEMPLATES[template_name]
        payload = json.dumps({
            "PhoneNumberSet": [e164(phone)], "SmsSdkAppId": s.sms_app_id, "SignName": s.sms_sign_name,
            "TemplateId": code, "TemplateParamSet": [str(params[v]) for v in template.variables],
        }, ensure_ascii=False).encode()
        url = _endpoint(s, TENCENT_HOST)
        host = urllib.parse.urlsplit(url).netloc
        timestamp = int(now_utc().timestamp())
        scope, signature = tc3_signature(secret_key=s.sms_access_key_secret, service=TENCENT_SERVICE,
                                         timestamp=timestamp, host=host, payload=payload)
        headers = {
            "Authorization": f"TC3-HMAC-SHA256 Credential={s.sms_access_key_id}/{scope}, "
                             f"SignedHeaders=content-type;host, Signature={signature}",
            "Content-Type": "application/json; charset=utf-8", "Host": host,
            "X-TC-Action": "SendSms", "X-TC-Version": TENCENT_VERSION, "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": s.sms_region,
        }
        return self.result(_http(url + "/", data=payload, headers=headers))

    @staticmethod
    def result(answer: Answer) -> Result:
        if answer.status < 0:
            return refuse(UNANSWERED)
        if answer.status == 0:
            return retry(NETWORK)
        response = answer.body.get("Response") or {}
        error = (response.get("Error") or {}).get("Code")
        if error is None and answer.status == 200:
            statuses = response.get("SendStatusSet") or [{}]
            code = str(statuses[0].get("Code") or "")
            if code == "Ok":
                return sent(statuses[0].get("SerialNo"))
        else:
            code = str(error or answer.status)
        log.warning("tencent SMS refused: HTTP %s %s", answer.status, code or "-")
        if answer.status >= 500 or any(code.startswith(t) for t in TENCENT_TRANSIENT):
            return retry(f"短信服务商暂时无法发送（{code}）")
        if code.startswith("AuthFailure"):
            return refuse(KEYS_REFUSED)
        return refuse(TENCENT_REASONS.get(code, f"短信服务商拒绝发送（{code}）"))


# --- choosing ----------------------------------------------------------------------------------------

def sms_provider(settings: Settings | None = None, *,
                 write: Callable[[], AbstractContextManager[Session]]) -> SmsProvider:
    """The provider ``SZT_SMS_PROVIDER`` names; ``write`` opens the log provider's transaction."""
    settings = settings or get_settings()
    if settings.sms_provider == "aliyun":
        return AliyunProvider(settings)
    if settings.sms_provider == "tencent":
        return TencentProvider(settings)
    return LogProvider(settings, write)


# --- 企业微信 group robots ----------------------------------------------------------------------------

WECOM_TRANSIENT = (-1, 45009, 45033)  # system busy, over the rate (20 a minute per robot), too many at once
WECOM_REASONS = {93000: "企业微信机器人地址无效（机器人已被移除？）", 93008: "企业微信机器人不在群里", 40008: "消息格式不被接受"}


def robot_url(settings: Settings, webhook_url: str) -> str:
    """The robot's webhook address, sent to ``SZT_WECOM_ENDPOINT`` instead of 企业微信 when set (tests)."""
    if not settings.wecom_endpoint:
        return webhook_url
    parts = urllib.parse.urlsplit(webhook_url)
    return settings.wecom_endpoint.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def send_robot(webhook_url: str, text: str, settings: Settings | None = None) -> Result:
    """Post ``text`` to a 企业微信 group robot."""
    settings = settings or get_settings()
    payload = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode()
    answer = _http(robot_url(settings, webhook_url), data=payload,
                   headers={"Content-Type": "application/json; charset=utf-8"})
    if answer.status < 0:
        return refuse("已发出但企业微信未答复，发送结果未知，为避免重复发送未重试")
    if answer.status == 0:
        return retry("无法连接企业微信")
    code = answer.body.get("errcode")
    if answer.status == 200 and code == 0:
        return sent(None)
    log.warning("wecom robot refused: HTTP %s errcode %s", answer.status, code)
    if answer.status >= 500 or code in WECOM_TRANSIENT:
        return retry(f"企业微信暂时无法发送（{code if code is not None else answer.status}）")
    return refuse(WECOM_REASONS.get(code, f"企业微信拒绝发送（{code if code is not None else answer.status}）")
                  if isinstance(code, int) else f"企业微信拒绝发送（{answer.status}）")
