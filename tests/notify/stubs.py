"""Stub servers for the SMS providers and 企业微信 robots: local HTTP servers that check requests as
the real services do and record what they accepted.

Each stub runs on 127.0.0.1 on a free port in a daemon thread. It recomputes the request's signature
with the shared secret and refuses a mismatch, a stale timestamp or a missing parameter with the
provider's own error code and answer shape; it can fail a share of good requests transiently
(``fail_rate``, with a seeded RNG so a run repeats). Used by tests/notify/ and bench/notify.py::

    with AliyunStub(fail_rate=0.05) as stub:
        settings_env(**stub.env())      # SZT_SMS_PROVIDER, SZT_SMS_ENDPOINT, keys, templates
        ...
        assert [m.phone for m in stub.accepted] == [...]

Interface (kept stable): ``AliyunStub`` / ``TencentStub`` (``key_id``, ``secret``, ``fail_rate``,
``seed``, ``max_skew`` seconds, ``clock`` — a callable giving "now" as a Unix time, e.g. the app's
frozen clock), ``WecomStub`` (``keys``, ``fail_rate``, ``seed``); ``.start()`` /
``.stop()`` or ``with``; ``.url``; ``.env()`` the settings that point the app at the stub;
``.accepted`` (list of :class:`Accepted`), ``.refused`` (list of error codes), ``.transient``
(how many good requests were failed on purpose); ``.robot_url(key)`` for a WecomStub;
``.clear()``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEMPLATE_IDS = {"login_code": "SMS_100001", "reset_code": "SMS_100002", "activity_returned": "SMS_100003",
                "join_decided": "SMS_100004", "join_requested": "SMS_100005", "reminder": "SMS_100006",
                "campaign_done": "SMS_100007"}


def templates_setting() -> str:
    """``SZT_SMS_TEMPLATES`` for the stubs' template ids."""
    return ",".join(f"{name}={code}" for name, code in TEMPLATE_IDS.items())


@dataclass
class Accepted:
    """A message a stub accepted: the phone as the app sent it, the provider's template id and variables."""

    phone: str
    template_id: str
    params: Any  # aliyun: dict; tencent: list; wecom: the text
    message_id: str
    at: float = field(default_factory=time.time)


class _Stub:
    provider = ""

    def __init__(self, *, fail_rate: float = 0.0, seed: int = 1, max_skew: int = 900,
                 clock: Callable[[], float] = time.time) -> None:
        self.fail_rate = fail_rate
        self.max_skew = max_skew
        self.clock = clock  # the stub's "now" (a test on a frozen app clock passes that clock's)
        self.accepted: list[Accepted] = []
        self.refused: list[str] = []
        self.transient = 0
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self) -> _Stub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = stub.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"{self.provider}-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> _Stub:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stub first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def clear(self) -> None:
        with self._lock:
            self.accepted.clear()
            self.refused.clear()
            self.transient = 0

    # --- helpers for subclasses ---
    def _fail_now(self) -> bool:
        with self._lock:
            if self.fail_rate and self._rng.random() < self.fail_rate:
                self.transient += 1
                return True
            return False

    def _refuse(self, code: str) -> str:
        with self._lock:
            self.refused.append(code)
        return code

    def _accept(self, phone: str, template_id: str, params: Any) -> str:
        with self._lock:
            message_id = f"{self.provider}-{next(self._ids)}"
            self.accepted.append(Accepted(phone, template_id, params, message_id))
        return message_id

    def _stale(self, moment: float) -> bool:
        return abs(self.clock() - moment) > self.max_skew

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        raise NotImplementedError


def _percent(value: str) -> str:
    return urllib.parse.quote(value, safe="~")


class AliyunStub(_Stub):
    """Dysmsapi SendSms: form POST, RPC signature v1 (HMAC-SHA1 with ``secret&``), Code "OK"."""

    provider = "aliyun"
    REQUIRED = ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureNonce",
                "SignatureVersion", "Timestamp", "Version", "Signature", "PhoneNumbers", "SignName",
                "TemplateCode")

    def __init__(self, *, key_id: str = "LTAIstubkey", secret: str = "stub-secret-aliyun", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_id = key_id
        self.secret = secret
        self._nonces: set[str] = set()

    def env(self) -> dict[str, str]:
        return {"SZT_SMS_PROVIDER": "aliyun", "SZT_SMS_ENDPOINT": self.url, "SZT_SMS_ACCESS_KEY_ID": self.key_id,
                "SZT_SMS_ACCESS_KEY_SECRET": self.secret, "SZT_SMS_TEMPLATES": templates_setting()}

    @staticmethod
    def _error(code: str, message: str, status: int = 400) -> tuple[int, dict]:
        return status, {"Code": code, "Message": message, "RequestId": "stub"}

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        query = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        params = {k: v[0] for k, v in query.items()}
        missing = [k for k in self.REQUIRED if not params.get(k)]
        if missing:
            return self._error(self._refuse(f"MissingParameter.{missing[0]}" if missing[0] != "PhoneNumbers"
                                            else "MissingPhoneNumbers"), f"{missing[0]} is mandatory")
        if params["AccessKeyId"] != self.key_id:
            return self._error(self._refuse("InvalidAccessKeyId.NotFound"), "Specified access key is not found.", 404)
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(unsigned.items()))
        to_sign = f"POST&{_percent('/')}&{_percent(canonical)}"
        expected = base64.b64encode(hmac.new(f"{self.secret}&".encode(), to_sign.encode(), hashlib.sha1).digest())
        if not hmac.compare_digest(expected.decode(), params["Signature"]):
            return self._error(self._refuse("SignatureDoesNotMatch"),
                               "Specified signature is not matched with our calculation.")
        try:
            moment = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return self._error(self._refuse("InvalidTimeStamp.Format"), "Specified time stamp is not valid.")
        if self._stale(moment):
            return self._error(self._refuse("InvalidTimeStamp.Expired"), "Specified time stamp or date value is expired.")
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return self._error(self._refuse("SignatureNonceUsed"), "Specified signature nonce was used already.")
            self._nonces.add(params["SignatureNonce"])
        if params["TemplateCode"] not in TEMPLATE_IDS.values():
            return 200, {"Code": self._refuse("isv.SMS_TEMPLATE_ILLEGAL"), "Message": "模板不合法", "RequestId": "stub"}
        phone = params["PhoneNumbers"]
        if not (phone.isdigit() and len(phone) == 11 and phone.startswith("1")):
            return 200, {"Code": self._refuse("isv.MOBILE_NUMBER_ILLEGAL"), "Message": "非法手机号", "RequestId": "stub"}
        if self._fail_now():
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控", "RequestId": "stub"}
        message_id = self._accept(phone, params["TemplateCode"], json.loads(params.get("TemplateParam") or "{}"))
        return 200, {"Code": "OK", "Message": "OK", "BizId": message_id, "RequestId": "stub"}


class TencentStub(_Stub):
    """SMS API 3.0 SendSms (2021-01-11): JSON POST with TC3-HMAC-SHA256; SendStatusSet[0].Code "Ok"."""

    provider = "tencent"
    SERVICE = "sms"

    def __init__(self, *, key_id: str = "AKIDstubkey", secret: str = "stub-secret-tencent",
                 app_id: str = "1400000001", max_skew: int = 300, **kwargs: Any) -> None:
        super().__init__(max_skew=max_skew, **kwargs)
        self.key_id = key_id
        self.secret = secret
        self.app_id = app_id

    def env(self) -> dict[str, str]:
        return {"SZT_SMS_PROVIDER": "tencent", "SZT_SMS_ENDPOINT": self.url, "SZT_SMS_ACCESS_KEY_ID": self.key_id,
                "SZT_SMS_ACCESS_KEY_SECRET": self.secret, "SZT_SMS_APP_ID": self.app_id,
                "SZT_SMS_TEMPLATES": templates_setting()}

    def _error(self, code: str, message: str) -> tuple[int, dict]:
        self._refuse(code)
        return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "stub"}}

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        if not auth.startswith("TC3-HMAC-SHA256 ") or "x-tc-timestamp" not in h:
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if h.get("x-tc-action") != "SendSms" or h.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidAction", "The action is not found.")
        fields = dict(part.strip().split("=", 1) for part in auth[len("TC3-HMAC-SHA256 "):].split(","))
        key_id, _, scope = fields.get("Credential", "").partition("/")
        if key_id != self.key_id:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        timestamp = int(h["x-tc-timestamp"])
        if self._stale(timestamp):
            return self._error("AuthFailure.SignatureExpire", "The signature expired.")
        date = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
        signed = fields.get("SignedHeaders", "")
        canonical_headers = "".join(f"{name}:{h.get(name, '').strip().lower()}\n" for name in signed.split(";"))
        canonical = "\n".join(["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()])
        expected_scope = f"{date}/{self.SERVICE}/tc3_request"
        to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), expected_scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])

        def _h(key: bytes, msg: str) -> bytes:
            return hmac.new(key, msg.encode(), hashlib.sha256).digest()

        signing = _h(_h(_h(f"TC3{self.secret}".encode(), date), self.SERVICE), "tc3_request")
        expected = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
        if scope != expected_scope or "host" not in signed.split(";") \
                or not hmac.compare_digest(expected, fields.get("Signature", "")):
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        try:
            data = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "The request body is not JSON.")
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId", "SignName"):
            if not data.get(name):
                return self._error("MissingParameter", f"The parameter `{name}` is missing.")
        if data["SmsSdkAppId"] != self.app_id:
            return self._error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId does not exist.")
        phone = data["PhoneNumberSet"][0]
        if data["TemplateId"] not in TEMPLATE_IDS.values():
            return 200, self._status(phone, self._refuse("FailedOperation.TemplateIncorrectOrUnapproved"))
        if not (phone.startswith("+861") and len(phone) == 14 and phone[1:].isdigit()):
            return 200, self._status(phone, self._refuse("InvalidParameterValue.IncorrectPhoneNumber"))
        if self._fail_now():
            return 200, self._status(phone, "LimitExceeded.PhoneNumberThirtySecondLimit")
        message_id = self._accept(phone, data["TemplateId"], list(data.get("TemplateParamSet") or []))
        return 200, self._status(phone, "Ok", message_id)

    @staticmethod
    def _status(phone: str, code: str, serial: str = "") -> dict:
        return {"Response": {"SendStatusSet": [{"SerialNo": serial, "PhoneNumber": phone, "Fee": 1 if serial else 0,
                                                "SessionContext": "", "Code": code,
                                                "Message": "send success" if serial else code, "IsoCode": "CN"}],
                             "RequestId": "stub"}}


class WecomStub(_Stub):
    """企业微信 group robots: ``POST /cgi-bin/webhook/send?key=KEY`` with a text message; the key in
    the address is the robot's only secret, so an unknown key is refused (errcode 93000)."""

    provider = "wecom"

    def __init__(self, *, keys: tuple[str, ...] = ("stub-robot-key",), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = set(keys)

    def env(self) -> dict[str, str]:
        return {"SZT_WECOM_ENDPOINT": self.url}

    @staticmethod
    def robot_url(key: str) -> str:
        """The webhook address an office pastes (the app sends it to the stub when SZT_WECOM_ENDPOINT is set)."""
        return f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        parts = urllib.parse.urlsplit(path)
        key = (urllib.parse.parse_qs(parts.query).get("key") or [""])[0]
        if parts.path != "/cgi-bin/webhook/send" or key not in self.keys:
            return 200, {"errcode": 93000, "errmsg": self._refuse("invalid webhook url")}
        try:
            data = json.loads(body)
            text = data["text"]["content"] if data.get("msgtype") == "text" else None
        except (ValueError, KeyError, TypeError):
            text = None
        if not text:
            return 200, {"errcode": 40008, "errmsg": self._refuse("invalid message type")}
        if self._fail_now():
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        self._accept(key, "text", text)
        return 200, {"errcode": 0, "errmsg": "ok"}
