"""``python -m app import orgs|members|targets|assignments|history FILE [--dry-run] [--as PHONE]``.

The same preview and commit as the pages (app/imports/service.py), acting as a staff or admin
account (``--as``, default the first province administrator). Prints the counts and every error in
Chinese; the exit code is 1 when the file has errors (nothing written), 2 when it cannot be read
or the account cannot import, 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from app.db import read_session, write_session
from app.errors import DomainError
from app.imports.base import Plan, get_kind
from app.models import GrantRole, RoleGrant, UserAccount

KIND_CODES = ("orgs", "members", "targets", "assignments", "history")
SHOW_ERRORS = 200


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("import", help="从 Excel/CSV 导入组织、委员、目标、挂联或历史数据（先预览，再写入）")
    s.add_argument("kind", choices=KIND_CODES, help="导入类型")
    s.add_argument("file", help=".xlsx 或 .csv 文件")
    s.add_argument("--dry-run", action="store_true", help="只检查并显示预览，不写入")
    s.add_argument("--as", dest="as_login", help="以该账号（手机号）的权限导入，默认第一个省级管理员")
    s.set_defaults(func=cmd_import)


def _acting_user(session: Session, login: str | None) -> UserAccount | None:
    if login:
        return session.scalar(select(UserAccount).where(UserAccount.login == login.strip()))
    return session.scalar(select(UserAccount).join(RoleGrant, RoleGrant.user_id == UserAccount.id)
                          .where(RoleGrant.role == GrantRole.admin).order_by(UserAccount.id).limit(1))


def _print_plan(plan: Plan, label: str) -> None:
    print(f"{label}：共 {plan.rows:,} 行；新增 {plan.created:,}，修改 {plan.updated:,}，不变 {plan.unchanged:,}，"
          f"有错误的行 {plan.error_rows:,}")
    for notice in plan.notices:
        print(f"提示：{notice}")
    for e in plan.errors[:SHOW_ERRORS]:
        print(f"错误：{e.where}：{e.message}")
    if len(plan.errors) > SHOW_ERRORS:
        print(f"……另有 {len(plan.errors) - SHOW_ERRORS:,} 处错误未列出")


def cmd_import(args: argparse.Namespace) -> int:
    from app.auth.service import build_principal
    from app.imports import service

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError:
        print(f"无法读取文件 {args.file}", file=sys.stderr)
        return 2
    label = get_kind(args.kind).label
    started = time.perf_counter()
    try:
        with (read_session() if args.dry_run else write_session()) as s:
            user = _acting_user(s, args.as_login)
            if user is None:
                print("找不到导入所用的账号：请用 --as 指定「双助推」办公室人员或管理员的手机号", file=sys.stderr)
                return 2
            by = build_principal(s, user, ip="cli")
            plan = service.preview(s, by, args.kind, data, path.name)
            _print_plan(plan, f"{label}预览")
            if plan.errors:
                print("文件有错误，没有写入任何数据。", file=sys.stderr)
                return 1
            if args.dry_run:
                print(f"（预览，未写入；用时 {time.perf_counter() - started:.1f} 秒）")
                return 0
            if not plan.changes:
                print("没有需要导入的改动，未写入任何数据。")
                return 0
            service.commit(s, by, args.kind, data, path.name, identity=plan.identity())
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(f"已导入：新增 {plan.created:,}，修改 {plan.updated:,}（用时 {time.perf_counter() - started:.1f} 秒）")
    return 0
