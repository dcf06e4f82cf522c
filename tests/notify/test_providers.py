"""The providers against the stub servers, which check signatures as Alibaba Cloud, Tencent Cloud and
企业微信 do: the right secret is accepted, a wrong one refused (permanently: retrying cannot help)."""

from __future__ import annotations

import pytest

from app.config import get_settings
from app.notify import providers
from tests.notify.stubs import AliyunStub, TencentStub, WecomStub

PARAMS = {"date": "3月5日", "task": "产业助推", "reason": "照片与活动不符 {x} & 100%"}


@pytest.mark.parametrize("stub_class", [AliyunStub, TencentStub])
def test_sms_signature_checked_by_the_provider(settings_env, stub_class) -> None:
    with stub_class() as stub:
        settings_env(**stub.env())
        provider = providers.sms_provider(get_settings(), write=None)  # type: ignore[arg-type]
        result = provider.send("13800000001", "activity_returned", PARAMS)
        assert result.ok and result.message_id == stub.accepted[0].message_id
        accepted = stub.accepted[0]
        assert "13800000001" in accepted.phone
        assert PARAMS["reason"] in (accepted.params.values() if isinstance(accepted.params, dict) else accepted.params)

        settings_env(SZT_SMS_ACCESS_KEY_SECRET="not-the-secret")
        refused = providers.sms_provider(get_settings(), write=None).send(  # type: ignore[arg-type]
            "13800000001", "activity_returned", PARAMS)
        assert not refused.ok and not refused.transient
        assert refused.error == providers.KEYS_REFUSED
        assert stub.refused == ["SignatureDoesNotMatch" if stub_class is AliyunStub else "AuthFailure.SignatureFailure"]
        assert len(stub.accepted) == 1


@pytest.mark.parametrize("stub_class", [AliyunStub, TencentStub])
def test_sms_failures_are_told_apart(settings_env, stub_class) -> None:
    with stub_class(fail_rate=1.0) as stub:
        settings_env(**stub.env())
        provider = providers.sms_provider(get_settings(), write=None)  # type: ignore[arg-type]
        busy = provider.send("13800000001", "activity_returned", PARAMS)
        assert not busy.ok and busy.transient
        bad = provider.send("12345", "activity_returned", PARAMS)
        assert not bad.ok and not bad.transient and bad.error == providers.BAD_NUMBER
        stub.stop()
        down = provider.send("13800000001", "activity_returned", PARAMS)
        assert not down.ok and down.transient


def test_wecom_robot_key_checked(settings_env) -> None:
    with WecomStub(keys=("good-key",)) as stub:
        settings_env(**stub.env())
        assert providers.send_robot(stub.robot_url("good-key"), "有新的参与申请").ok
        wrong = providers.send_robot(stub.robot_url("wrong-key"), "有新的参与申请")
        assert not wrong.ok and not wrong.transient
        assert [a.params for a in stub.accepted] == ["有新的参与申请"]


def test_log_provider_keeps_nothing_outside_dev(settings_env, session) -> None:
    from contextlib import contextmanager

    from sqlalchemy import func, select

    from app.models import SmsLog

    @contextmanager
    def same():
        yield session

    before = session.scalar(select(func.count()).select_from(SmsLog))
    settings_env(SZT_ENV="production", SZT_SECRET_KEY="x" * 40, SZT_SMS_PROVIDER="log")
    result = providers.sms_provider(get_settings(), write=same).send("13800000001", "login_code",
                                                                       {"code": "123456", "minutes": 5})
    assert not result.ok and not result.transient and result.error == providers.NOT_CONFIGURED
    assert session.scalar(select(func.count()).select_from(SmsLog)) == before

    settings_env(SZT_ENV="dev")
    assert providers.sms_provider(get_settings(), write=same).send(
        "13800000001", "login_code", {"code": "123456", "minutes": 5}).ok
    row = session.scalars(select(SmsLog).order_by(SmsLog.id.desc())).first()
    assert row is not None and "123456" in row.body and row.body.startswith("【")


@pytest.mark.parametrize("stub_class", [AliyunStub, TencentStub])
def test_an_sms_sent_without_an_answer_is_not_retried(settings_env, stub_class) -> None:
    """Nobody listening: the SMS never left (retry). The request read and the connection dropped
    without an answer: the provider may have sent it, so it is not retried (the member would get
    it twice) but failed 「发送结果未知」."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    with stub_class() as stub:  # its keys and template codes; the address is ours
        settings_env(**{**stub.env(), "SZT_SMS_ENDPOINT": f"http://127.0.0.1:{port}"})
        provider = providers.sms_provider(get_settings(), write=None)  # type: ignore[arg-type]
        refused = provider.send("13800000001", "activity_returned", PARAMS)  # bound, not listening
        assert not refused.ok and refused.transient and refused.error == providers.NETWORK

        listener.listen(1)

        def swallow() -> None:
            conn, _ = listener.accept()
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(65536)
            head, _, body = received.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:  # the whole request arrives …
                body += conn.recv(65536)
            conn.close()  # … and no answer goes back

        thread = threading.Thread(target=swallow)
        thread.start()
        unknown = provider.send("13800000001", "activity_returned", PARAMS)
        thread.join(5)
        assert not unknown.ok and not unknown.transient and unknown.error == providers.UNANSWERED
        assert stub.accepted == []
    listener.close()
