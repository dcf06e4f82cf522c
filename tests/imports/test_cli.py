"""`python -m app import …`: dry run writes nothing, commit writes, errors exit 1, a repeat is a no-op."""

from __future__ import annotations

from sqlalchemy import func, select

from app.cli import main
from app.db import make_engine, read_session
from app.models import AuditLog, Member
from app.rollup import service as rollup
from tests.imports.conftest import headers, to_csv


def _count(url, model, *where) -> int:
    engine = make_engine(url)
    try:
        with read_session(engine) as s:
            return s.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        engine.dispose()


def test_cli_dry_run_commit_errors_and_repeat(fresh_url, use_database, capsys, tmp_path):
    use_database(fresh_url)
    assert main(["init"]) == 0
    assert main(["createadmin", "--login", "13800000000", "--password", "s3cret-pass"]) == 0
    capsys.readouterr()
    good = tmp_path / "名单.csv"
    good.write_bytes(to_csv([headers("members"), ["李四", "13912340001", "530102", "经济界"],
                             ["王五", "13912340002", "530103", "农业界", "常委"]]))
    assert main(["import", "members", str(good), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "委员名单预览：共 2 行；新增 2，修改 0，不变 0，有错误的行 0" in out and "未写入" in out
    assert _count(fresh_url, Member) == 0
    assert main(["import", "members", str(good)]) == 0
    assert "已导入：新增 2，修改 0" in capsys.readouterr().out
    assert _count(fresh_url, Member) == 2
    assert main(["import", "members", str(good)]) == 0
    assert "没有需要导入的改动" in capsys.readouterr().out
    assert _count(fresh_url, AuditLog, AuditLog.action == "import.members") == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(to_csv([headers("members"), ["赵六", "1391234", "530102", "经济界"]]))
    assert main(["import", "members", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "错误：第 2 行「手机号」：手机号「1391234」格式不正确" in captured.out
    assert "没有写入任何数据" in captured.err
    assert main(["import", "members", str(good), "--as", "13999999999"]) == 2
    engine = make_engine(fresh_url)
    try:
        with read_session(engine) as s:
            assert rollup.check(s) == []
    finally:
        engine.dispose()
