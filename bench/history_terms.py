"""Benchmark: 汇总录入 (a province's year of monthly history) and 换届 of the largest organisation.

    .venv/bin/python bench/history_terms.py [--activities 100000] [--backend sqlite|postgresql|both]

For each backend: a throw-away database (SQLite in a temporary folder; PostgreSQL beside
``TEST_POSTGRES_URL``, skipped when unreachable) with the demo province (its members, 挂联 and
``--activities`` activities, rollup built). Then, as the province office, through the same service
calls as the pages and the CLI:

1. **history preview** — a CSV of every county × the first 10 indicators × the 12 months of last
   year but one (15,480 rows), read and planned;
2. **history commit** — planned again and written in one transaction (entries, rollup, audit);
3. **history again** — the same file: all 不变, nothing written;
4. ``rollup.check()``;
5. **term plan / change** — 换届 of the organisation with the most serving members, 70 % continuing;
6. ``rollup.check()`` again.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from databases import throwaway
from sqlalchemy import func, select

from app.auth.service import build_principal
from app.catalogue.service import current_campaign, indicators_for
from app.clock import today_cn
from app.db import make_engine, migrate, write_session
from app.imports import service as imports
from app.models import Membership, Organisation, UserAccount
from app.rollup import service as rollup
from app.seed.demo import PROVINCE_STAFF, load_demo
from app.terms import service as terms


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 2)


def run(url: str, label: str, activities: int) -> dict:
    migrate(url)
    engine = make_engine(url)
    try:
        with write_session(engine) as s:
            load_demo(s, activities=activities, progress=lambda _: None)
            s.commit()
        with write_session(engine) as s:
            by = build_principal(s, s.scalar(select(UserAccount).where(UserAccount.login == PROVINCE_STAFF.phone)),
                                 ip="bench")
            counties = list(s.scalars(select(Organisation).where(Organisation.level == "county")
                                      .order_by(Organisation.code)))
            inds = indicators_for(s, counties[0].id, current_campaign(s).id)[:10]
            year = today_cn().year - 2
            rng = random.Random(8)
            lines = ["组织代码,年份,月份或季度,指标,数值,备注"] + [
                f"{c.code},{year},{m},{i.id},{rng.randint(0, 50)}," for c in counties for i in inds for m in range(1, 13)]
            data = ("\n".join(lines) + "\n").encode()
            plan, preview_s = timed(lambda: imports.preview(s, by, "history", data, "history.csv"))
            assert plan.ok, plan.errors[:3]
            _, commit_s = timed(lambda: imports.commit(s, by, "history", data, "history.csv"))
            again, again_s = timed(lambda: imports.commit(s, by, "history", data, "history.csv"))
            assert again.changes == 0
            problems, check_s = timed(lambda: rollup.check(s))

            def serving(o: Organisation) -> int:
                return s.scalar(select(func.count()).select_from(Membership).where(
                    Membership.org_id == o.id, Membership.end_date.is_(None))) or 0

            biggest = max(s.scalars(select(Organisation)), key=serving)
            seats = terms.open_seats(s, biggest.id, today_cn(), started=True)
            keep = [x.member.id for x in seats][: int(len(seats) * 0.7)]
            tplan, plan_s = timed(lambda: terms.plan_change(s, by, biggest, start_date=today_cn(), keep_member_ids=keep))
            assert tplan.ok, tplan.errors
            _, change_s = timed(lambda: terms.change_term(s, by, tplan))
            after, check2_s = timed(lambda: rollup.check(s))
    finally:
        engine.dispose()
    result = {"backend": label, "rows": plan.rows, "preview_s": preview_s, "commit_s": commit_s, "again_s": again_s,
              "check": "ok" if not problems else f"{len(problems)} differences", "check_s": check_s,
              "org": biggest.name, "seats": len(seats), "continuing": len(tplan.continuing), "plan_s": plan_s,
              "change_s": change_s, "check_after_term": "ok" if not after else f"{len(after)} differences",
              "check2_s": check2_s}
    print(result)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--activities", type=int, default=100_000)
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = p.parse_args()
    results = []
    for label, url in throwaway(args.backend, "history"):
        results.append(run(url, label, args.activities))
    print("\n| backend | history rows | preview | commit | again (no-op) | check | 换届: members (continuing) | plan | change | check |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['backend']} | {r['rows']:,} | {r['preview_s']} s | {r['commit_s']} s | {r['again_s']} s | "
              f"{r['check']} ({r['check_s']} s) | {r['org']} {r['seats']} ({r['continuing']}) | {r['plan_s']} s | "
              f"{r['change_s']} s | {r['check_after_term']} ({r['check2_s']} s) |")
    return 0 if all(r["check"] == r["check_after_term"] == "ok" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
