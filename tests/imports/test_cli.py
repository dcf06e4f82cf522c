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


def test_cli_assignments_dry_run_writes_nothing_then_commit_audits_each_link(fresh_url, use_database, capsys, tmp_path):
    from app.clock import today_cn
    from app.models import LinkAssignment

    use_database(fresh_url)
    assert main(["init"]) == 0
    assert main(["createadmin", "--login", "13800000000", "--password", "s3cret-pass"]) == 0
    leaders = tmp_path / "领导.csv"
    leaders.write_bytes(to_csv([headers("members"), ["钱主席", "13912340011", "530100", "中共", "主席会议成员"]]))
    assert main(["import", "members", str(leaders)]) == 0
    capsys.readouterr()
    start = today_cn().replace(day=1).isoformat()
    links = tmp_path / "挂联.csv"
    links.write_bytes(to_csv([headers("assignments"), ["13912340011", "钱主席", "530102", "挂联领导", start],
                              ["13912340011", "钱主席", "530103", "联络员", start]]))
    assert main(["import", "assignments", str(links), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "挂联安排预览：共 2 行；新增 2，修改 0，不变 0，有错误的行 0" in out and "未写入" in out
    assert _count(fresh_url, LinkAssignment) == 0 and _count(fresh_url, AuditLog, AuditLog.action.like("link.%")) == 0
    assert main(["import", "assignments", str(links)]) == 0
    assert _count(fresh_url, LinkAssignment) == 2
    assert _count(fresh_url, AuditLog, AuditLog.action == "link.create") == 2
    assert _count(fresh_url, AuditLog, AuditLog.action == "import.assignments") == 1
