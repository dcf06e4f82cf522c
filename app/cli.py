"""Command line: ``python -m app serve | migrate | init | demo | rollup | report | createadmin | import |
backup | restore | quality recompute``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time

from sqlalchemy import func, select

from app.config import get_settings
from app.db import get_engine, migrate, read_session, write_session
from app.models import Organisation


def _is_empty() -> bool:
    with read_session() as s:
        return not s.scalar(select(func.count()).select_from(Organisation))


def cmd_migrate(_args: argparse.Namespace) -> int:
    migrate()
    print("数据库已迁移到最新版本")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from app.seed.province import init_province

    migrate()
    started = time.perf_counter()
    with write_session() as s:
        result = init_province(s, args.province)
        s.commit()
    if result.already_loaded:
        print("区划与指标目录已存在，未重复载入")
    else:
        print(f"已载入：组织 {result.organisations} 个，乡镇 {result.towns} 个，村/社区 {result.villages} 个，"
              f"用时 {time.perf_counter() - started:.1f} 秒")
    return 0


def _load_demo(activities: int, seed: int) -> None:
    from sqlmodel import Session

    from app.seed.bulk import loading_connection
    from app.seed.demo import load_demo

    # Only ever an empty database (checked by the callers): loaded in the bulk modes of app/seed/bulk.py.
    with loading_connection(get_engine()) as conn, Session(bind=conn, expire_on_commit=False) as s:
        result = load_demo(s, activities=activities, seed=seed)
        s.commit()
    for line in result.summary_lines():
        print(line)


def cmd_demo(args: argparse.Namespace) -> int:
    migrate()
    if not _is_empty():
        print("数据库不是空的：演示数据只载入空数据库（换一个 DATABASE_URL，或删除 data/ 下的数据库文件）",
              file=sys.stderr)
        return 2
    _load_demo(args.activities, args.seed)
    _print_logins()
    return 0


def _print_logins() -> None:
    from app.seed.demo import demo_logins

    with read_session() as s:
        logins = demo_logins(s)
    if not logins:
        return
    print("\n演示账号（演示数据，仅供体验）：")
    for item in logins:
        print(f"  {item.role:<10} 账号 {item.login}  密码 {item.password}  （{item.org_name}）")
    settings = get_settings()
    if settings.sms_provider == "log" and settings.env == "dev":
        print("  短信验证码登录：开发环境不真正发送短信，用 python -m app sms 查看「发出」的短信和验证码")


def cmd_createadmin(args: argparse.Namespace) -> int:
    from app.accounts.service import create_admin
    from app.orgs.service import root

    migrate()
    password = args.password or os.environ.get("SZT_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            print("请用 --password 或环境变量 SZT_ADMIN_PASSWORD 提供密码", file=sys.stderr)
            return 2
        password = getpass.getpass("密码：")
    with write_session() as s:
        province = root(s)
        if province is None:
            print("还没有组织：请先运行 python -m app init", file=sys.stderr)
            return 2
        try:
            user = create_admin(s, login=args.login, password=password, name=args.name, province=province)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        s.commit()
    print(f"已创建省级管理员 {user.login}（{province.name}）")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import shutil

    import uvicorn

    from app.ops.logs import logging_config
    from app.ops.metrics import MULTIPROCESS_ENV, prepare_multiprocess

    settings = get_settings()
    migrate()
    if _is_empty() and not args.no_demo:
        print(f"数据库为空：载入演示省（{settings.demo_activities} 条活动）…")
        _load_demo(settings.demo_activities, 2026)
    _print_logins()
    get_engine().dispose()
    host, port = args.host or settings.host, args.port or settings.port
    print(f"\n双助推行动平台：http://{host}:{port}/")
    own_metrics_dir = MULTIPROCESS_ENV not in os.environ
    metrics_dir = prepare_multiprocess(args.workers)  # /metrics sums the workers' figures (app/ops/metrics.py)
    # X-Forwarded-For/-Proto are believed from the trusted proxies only: each user keeps their own
    # address (the login throttle) and https is seen (Secure cookies, HSTS) — app/security.py.
    uvicorn.run("app.main:serving_app", factory=True, host=host, port=port, workers=args.workers,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                # One line per request is ours (app/ops/logs.py: route, user, request id), JSON or text
                # (SZT_LOG_FORMAT), in every worker process; uvicorn's access log would repeat it.
                log_config=logging_config(settings.log_style), access_log=False)
    if metrics_dir and own_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def cmd_rollup(args: argparse.Namespace) -> int:
    from app.rollup import service as rollup

    migrate()
    started = time.perf_counter()
    if args.rebuild:
        with write_session() as s:
            fresh = rollup.rebuild(s)
            s.commit()
        print(f"已重建：汇总 {len(fresh.figures):,} 行，委员月度参与 {len(fresh.months):,} 行，"
              f"参与率计数 {len(fresh.counters):,} 行（{min(fresh.years)}–{max(fresh.years)} 年），"
              f"用时 {time.perf_counter() - started:.1f} 秒")
        return 0
    with read_session() as s:
        problems = rollup.check(s)
    for line in problems[:50]:
        print(line)
    if problems:
        print(f"汇总与原始记录不一致：{len(problems)} 处（python -m app rollup --rebuild 可重建）", file=sys.stderr)
        return 1
    print(f"汇总与原始记录一致（用时 {time.perf_counter() - started:.1f} 秒）")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """The report of an organisation's subtree for months FROM..TO, as text, Word or Excel."""
    from app.boards.periods import from_months
    from app.errors import DomainError
    from app.orgs.service import get_by_code
    from app.reports.docx import to_docx
    from app.reports.service import as_text, build_report
    from app.reports.xlsx import to_xlsx

    try:
        period = from_months(args.from_month, args.to_month)
    except DomainError as exc:
        detail = "；".join(exc.errors.values())
        print(f"{exc.message}{'：' + detail if detail else ''}", file=sys.stderr)
        return 2
    if args.format != "text" and not args.out:
        print(f"--format {args.format} 需要用 --out 指定输出文件", file=sys.stderr)
        return 2
    with read_session() as s:
        try:
            org = get_by_code(s, args.org)
        except ValueError:
            org = None
        if org is None:
            print(f"没有代码为 {args.org} 的组织（应为 6 位行政区划代码，如 530000）", file=sys.stderr)
            return 2
        report = build_report(s, org, period, compare=args.compare)
    if args.format == "text":
        text = as_text(report)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
        return 0
    data = to_docx(report) if args.format == "docx" else to_xlsx(report)
    with open(args.out, "wb") as fh:
        fh.write(data)
    print(f"已写入 {args.out}（{report['title']}）")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """One archive of the database and photos (app/backup.py); its path is the last line printed."""
    from app.backup import BackupError, backup

    try:
        path = backup(args.out)
    except BackupError as exc:
        print(f"备份失败：{exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a folder we may not write: no half archive is left (app/backup.py)
        print(f"备份失败：读写文件出错（{exc.strerror or exc}）：请检查备份目录的剩余空间与写入权限后重试", file=sys.stderr)
        return 2
    print(path)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from app.backup import BackupError, restore

    try:
        result = restore(args.archive)
    except BackupError as exc:
        print(f"未恢复：{exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"恢复失败：读写文件出错（{exc.strerror or exc}）：请检查目标目录的剩余空间与写入权限；"
              f"数据库可能已写入一部分，请换一个空数据库重新恢复", file=sys.stderr)
        return 2
    for line in result.lines:
        print(line)
    if not result.ok:
        print("恢复后的检查未通过：请勿使用这个数据库，换一份备份重新恢复", file=sys.stderr)
        return 1
    print("恢复完成，检查全部通过")
    return 0


def cmd_quality_recompute(args: argparse.Namespace) -> int:
    from app.orgs.service import get_by_code, root
    from app.quality.jobs import recompute_in_batches

    with read_session() as s:
        try:
            org = get_by_code(s, args.org) if args.org else root(s)
        except ValueError:
            org = None
        org_id, name = (org.id, org.name) if org is not None else (None, "")
    if org_id is None:
        print(f"找不到组织 {args.org or '（全省）'}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    pending, changed = recompute_in_batches(read_session, write_session, org_id)
    print(f"{name}：检查待审核活动 {pending} 条，提示有变化的 {changed} 条，用时 {time.perf_counter() - started:.1f} 秒")
    return 0


def cmd_sms(args: argparse.Namespace) -> int:
    """The latest SMS the ``log`` provider kept (development only): what would have been sent."""
    from sqlalchemy import select

    from app.clock import to_cn
    from app.models import SmsLog

    settings = get_settings()
    if settings.sms_provider != "log" or settings.env != "dev":
        print("只有开发环境（SZT_ENV=dev，SZT_SMS_PROVIDER=log）保留未发送的短信", file=sys.stderr)
        return 2
    stmt = select(SmsLog).order_by(SmsLog.id.desc()).limit(args.last)
    if args.phone:
        stmt = stmt.where(SmsLog.phone == args.phone)
    with read_session() as s:
        rows = list(s.scalars(stmt))
    if not rows:
        print("还没有短信（发送线程每秒检查一次待发短信）")
    for row in reversed(rows):
        moment = to_cn(row.created_at)
        print(f"{moment:%Y-%m-%d %H:%M:%S}  {row.phone}  {row.body}" if moment else f"{row.phone}  {row.body}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app", description="双助推行动平台")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="迁移数据库（空库时载入演示省）并启动网站")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--no-demo", action="store_true", help="空库时不载入演示数据")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("migrate", help="把数据库迁移到最新版本")
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("init", help="载入真实区划与指标目录（不含任何虚构数据）")
    s.add_argument("--province", default=None, help="省级行政区划代码前两位，默认 53（云南省）")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("demo", help="在空数据库中载入演示省（虚构的委员、挂联、目标与活动）")
    s.add_argument("--activities", type=int, default=None, help="活动条数")
    s.add_argument("--seed", type=int, default=2026, help="随机种子：同一种子得到同样的数据")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("rollup", help="核对或重建看板汇总（与原始记录逐项比较）")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="与原始记录重新统计的结果比较，不一致时退出码为 1")
    g.add_argument("--rebuild", action="store_true", help="按原始记录重新生成汇总")
    s.set_defaults(func=cmd_rollup)

    s = sub.add_parser("report", help="生成报告：正文与表格（文本、Word 或 Excel）")
    s.add_argument("--org", required=True, help="组织的 6 位行政区划代码，如 530000")
    s.add_argument("--from", dest="from_month", required=True, help="起始月份 YYYY-MM（含）")
    s.add_argument("--to", dest="to_month", required=True, help="截止月份 YYYY-MM（含，与起始月份同一年）")
    s.add_argument("--format", choices=("text", "docx", "xlsx"), default="text", help="输出格式，默认 text")
    s.add_argument("--out", help="输出文件（docx、xlsx 必填；text 省略时打印到屏幕）")
    s.add_argument("--compare", action="store_true", help="正文加上环比与同比")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("createadmin", help="创建省级管理员账号")
    s.add_argument("--login", required=True, help="手机号（登录名）")
    s.add_argument("--name", default="系统管理员")
    s.add_argument("--password")
    s.set_defaults(func=cmd_createadmin)

    s = sub.add_parser("backup", help="备份数据库与照片到一个带日期的归档（在线备份，不必停机）")
    s.add_argument("--out", help="备份目录，默认 data/backups（SZT_BACKUP_DIR）")
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", help="把备份恢复到 DATABASE_URL 指向的空数据库，并检查完整性与汇总")
    s.add_argument("archive", help="备份文件 szt-backup-….tar（同目录需有它的 .sha256 校验文件）")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("quality", help="数据质量：按现行合理性规则重新计算待审核活动的提示")
    qs = s.add_subparsers(dest="quality_command", required=True)
    q = qs.add_parser("recompute", help="重新计算一个辖区（默认全省）待审核活动的提示，分批提交")
    q.add_argument("--org", help="组织的 6 位行政区划代码，默认全省")
    q.set_defaults(func=cmd_quality_recompute)

    s = sub.add_parser("sms", help="开发环境：查看本应发出的短信（含登录验证码），不真正发送")
    s.add_argument("--phone", help="只看这个手机号的")
    s.add_argument("--last", type=int, default=10, help="最近几条（默认 10）")
    s.set_defaults(func=cmd_sms)

    from app.imports.cli import add_parser as add_import
    add_import(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    if getattr(args, "province", "") is None:
        args.province = settings.province
    if getattr(args, "activities", 0) is None:
        args.activities = settings.demo_activities
    if getattr(args, "activities", 0) and args.activities < 0:
        print("--activities 不能为负数", file=sys.stderr)
        return 2
    return args.func(args)
