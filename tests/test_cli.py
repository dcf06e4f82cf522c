"""`python -m app …` commands against a fresh database."""

from __future__ import annotations

from sqlalchemy import func, select

from app.accounts.passwords import verify_password
from app.cli import main
from app.db import make_engine, read_session
from app.models import GrantRole, Organisation, RoleGrant, UserAccount


def test_init_then_createadmin(fresh_url, use_database, capsys):
    use_database(fresh_url)
    assert main(["createadmin", "--login", "13800000000", "--password", "s3cret-pass"]) == 2
    assert "请先运行" in capsys.readouterr().err
    assert main(["init"]) == 0
    assert "组织 146 个" in capsys.readouterr().out
    assert main(["init"]) == 0
    assert "未重复载入" in capsys.readouterr().out
    assert main(["createadmin", "--login", "13800000000", "--password", "short"]) == 2
    assert main(["createadmin", "--login", "13800000000", "--password", "s3cret-pass"]) == 0
    assert main(["createadmin", "--login", "13800000000", "--password", "s3cret-pass"]) == 2
    assert "已存在" in capsys.readouterr().err
    engine = make_engine(fresh_url)
    try:
        with read_session(engine) as s:
            user = s.scalar(select(UserAccount).where(UserAccount.login == "13800000000"))
            assert verify_password(user.password_hash, "s3cret-pass")
            assert not verify_password(user.password_hash, "wrong")
            grant = s.scalar(select(RoleGrant).where(RoleGrant.user_id == user.id))
            province = s.scalar(select(Organisation).where(Organisation.parent_id.is_(None)))
            assert (grant.role, grant.org_id) == (GrantRole.admin, province.id)
            assert s.scalar(select(func.count()).select_from(Organisation)) == 146
    finally:
        engine.dispose()


def test_sms_shows_what_the_log_provider_kept_in_development_only(fresh_url, use_database, settings_env, capsys):
    from app.db import write_session
    from app.models import SmsLog

    use_database(fresh_url)
    assert main(["migrate"]) == 0
    assert main(["sms"]) == 0 and "还没有短信" in capsys.readouterr().out
    engine = make_engine(fresh_url)
    try:
        with write_session(engine) as s:
            for phone, code in (("13800000001", "123456"), ("13800000002", "654321")):
                s.add(SmsLog(phone=phone, template="login_code", params="{}",
                             body=f"【双助推】您的登录验证码为{code}，5分钟内有效。"))
            s.commit()
    finally:
        engine.dispose()
    assert main(["sms", "--phone", "13800000002"]) == 0
    out = capsys.readouterr().out
    assert "654321" in out and "123456" not in out
    settings_env(SZT_ENV="production", SZT_SECRET_KEY="a-real-secret-for-this-test")
    assert main(["sms"]) == 2 and "开发环境" in capsys.readouterr().err
