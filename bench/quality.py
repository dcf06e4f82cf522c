"""Benchmark: how well the quality flags catch known anomalies, and how rarely they hit legitimate entries.

    .venv/bin/python bench/quality.py [--activities 20000] [--per-kind 200] [--seed 16] \
        [--database sqlite|postgresql]

1. A throw-away database (an SQLite file in a temporary folder, or a PostgreSQL database next to
   ``TEST_POSTGRES_URL``, dropped at the end), migrated, with the demo province and ``--activities``
   activities of the last 365 days (the default plausibility rules come with the catalogue).
2. Through the service the pages and the API call (``record_activity``, as demo members' own
   principals, the settings' ``quality_checks`` on), submissions of known kinds, ``--per-kind`` of
   each anomaly and more of the legitimate ones:

   anomalies (what counts as caught)
   - ``exact_other`` / ``exact_self``: an existing pending or verified activity entered again (same
     county, task, date, site and figures) by a colleague / by its own recorder — caught when
     ``LikelyDuplicate`` is raised or the stored flags hold ``duplicate``;
   - ``near_self``: the same recorder, a day before or after, one figure changed by one unit;
     ``near_figures``: a colleague, a day apart, the very same figures — caught by ``duplicate``;
   - ``x10`` / ``x100``: a legitimate activity (the figures of a verified demo activity) with one of
     its values typed ten or a hundred times too large — caught by ``over_bound``, ``ratio``,
     ``outlier_history`` or ``outlier_member``;
   - ``ratio_break``: each value ordinary on its own, their ratio impossible (资助学子 with 0.01 万元
     per student or 30 万元 for one; 领办产业项目 with 0.01 万元 for several projects; one 销售活动
     of 600–1,500 万元; the issue's 5000 人 / 0.01 万元) — caught by ``ratio``;
   - ``money_no_photo``: 50–300 万元 (ratio rules respected) and no photo — caught by that flag.

   legitimate (any flag or refusal on them is a false positive)
   - ``legit``: the task, county, recorder and figures of a random verified demo activity, on a fresh
     recent date of an open month where that county has no activity of the task (an exact match
     would ask the recorder to decide: such confirmed-distinct entries are left out); a third of
     them, and every one with 50 万元 or more, carry a photo;
   - ``legit_p99``: the same with one value set to its indicator's 99th percentile among the demo's
     verified values (rare but real);
   - ``legit_big_money``: 50–150 万元 in a money indicator with a photo, counts set to keep the ratio
     rules (e.g. 2 万元 per student).

   Submissions never land within a day of one another in the same county and task, so they are
   judged against the demo alone, not against each other.
3. Prints per kind: injected, caught, recall (and the flags seen); the flags on legitimate entries;
   precision = flagged anomalies ÷ all flagged submissions, overall and per flag code; what the
   missed ``x10``/``x100`` values were. The precision depends on the mix (printed). Goal (issue 16):
   recall ≥ 95 % for duplicates and ×100 values, precision ≥ 80 % overall; exits 1 when missed.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from databases import throwaway  # bench/ is not a package

ANOMALIES = ("exact_other", "exact_self", "near_self", "near_figures", "x10", "x100", "ratio_break",
             "money_no_photo")
LEGIT = ("legit", "legit_p99", "legit_big_money")
VALUE_FLAGS = {"over_bound", "ratio", "outlier_history", "outlier_member"}
CAUGHT_BY = {
    "exact_other": {"likely_duplicate", "duplicate"}, "exact_self": {"likely_duplicate", "duplicate"},
    "near_self": {"duplicate"}, "near_figures": {"duplicate"},
    "x10": VALUE_FLAGS, "x100": VALUE_FLAGS, "ratio_break": {"ratio"}, "money_no_photo": {"money_no_photo"},
}
GOALS = {"recall_duplicates": 0.95, "recall_x100": 0.95, "precision": 0.80}
MONEY_PHOTO = 5_000  # hundredths of 万元 (app/quality/flags.py MONEY_PHOTO_THRESHOLD): legit ones carry a photo


@dataclass
class Outcome:
    kind: str
    codes: set[str]  # stored flag codes, or {"likely_duplicate"} when the service asked for a decision
    note: str = ""  # what was injected (indicator, base value) for the misses' table
    messages: list[str] = field(default_factory=list)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--activities", type=int, default=20_000, help="demo activities of the last 365 days")
    p.add_argument("--per-kind", type=int, default=200, help="submissions of each anomaly kind")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--k", type=float, help="an experiment: app/quality/flags.py K for this run")
    p.add_argument("--mad-floor", type=float, help="an experiment: flags.MAD_FLOOR (ln units) for this run")
    p.add_argument("--member-factor", type=int, help="an experiment: flags.MEMBER_FACTOR for this run")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="szt-quality-"))
    # Before anything reads the settings: photos go to the temporary folder, the checks are on.
    os.environ["SZT_UPLOAD_DIR"] = str(tmp / "uploads")
    os.environ.pop("SZT_QUALITY_CHECKS", None)
    databases = throwaway(args.database, "quality")
    try:
        label, url = next(databases, ("", ""))
        if not url:
            raise SystemExit("PostgreSQL is needed for --database postgresql (TEST_POSTGRES_URL)")
        os.environ["DATABASE_URL"] = url
        return run(args, label, url)
    finally:
        databases.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, label: str, url: str) -> int:
    from app.config import get_settings
    from app.db import make_engine, migrate, write_session
    from app.quality import flags
    from app.seed.demo import load_demo

    get_settings.cache_clear()
    assert get_settings().quality_checks, "quality_checks must be on"
    for name, value in (("K", args.k), ("MAD_FLOOR", args.mad_floor), ("MEMBER_FACTOR", args.member_factor)):
        if value is not None:  # read when each flag is computed: patching the module is enough
            setattr(flags, name, value)
    print(f"flags: K {flags.K}, MAD_FLOOR {flags.MAD_FLOOR}, MEMBER_FACTOR {flags.MEMBER_FACTOR}, "
          f"MIN_SAMPLES {flags.MIN_SAMPLES}" + (" (changed for this run)" if args.k or args.mad_floor
                                                or args.member_factor else ""))
    started = time.perf_counter()
    migrate(url)
    engine = make_engine(url)
    try:
        with write_session(engine) as s:
            load_demo(s, activities=args.activities, seed=args.seed, progress=lambda _: None)
            s.commit()
        print(f"{label}: demo province with {args.activities:,} activities in {time.perf_counter() - started:.1f} s",
              flush=True)
        bench = Injector(engine, random.Random(args.seed))
        started = time.perf_counter()
        outcomes = bench.run(args.per_kind)
        took = time.perf_counter() - started
        print(f"{len(outcomes):,} submissions through record_activity in {took:.1f} s "
              f"({took / max(1, len(outcomes)) * 1000:.1f} ms each)\n")
        baselines(engine, bench)
        return report(outcomes, bench)
    finally:
        engine.dispose()


# --- the injections ----------------------------------------------------------------------------------

class Injector:
    def __init__(self, engine, rng: random.Random) -> None:
        from app.activities.photos import prepare
        from app.clock import today_cn

        self.engine = engine
        self.rng = rng
        self.today = today_cn()
        self.reserved: set[tuple[int, int, date]] = set()  # (county, task, day) of a submission or its original
        self.serial = 0
        self.photo = prepare(_jpeg())
        self._load()

    def _load(self) -> None:
        """What the injections draw on: verified demo activities with their figures, the members' accounts
        by organisation, the indicators and rules, the open recent days."""
        from sqlalchemy import select

        from app.activities.months import is_month_closed
        from app.clock import yyyymm
        from app.db import read_session
        from app.models import Activity, ActivityStatus, ActivityValue, Indicator, Membership, UserAccount
        from app.quality.rules import effective_rules
        from app.seed.demo import PROVINCE_STAFF

        with read_session(self.engine) as s:
            self.indicators = {i.id: i for i in s.scalars(select(Indicator))}
            self.by_task: dict[int, list[int]] = defaultdict(list)
            for i in sorted(self.indicators.values(), key=lambda i: (i.task_id, i.sort_order)):
                self.by_task[i.task_id].append(i.id)
            member_users = {u.id: u for u in s.scalars(select(UserAccount).where(
                UserAccount.member_id.is_not(None), UserAccount.is_active,
                UserAccount.login.not_like("139000000%")))}
            self.org_of_user: dict[int, int] = {}
            self.users_of_org: dict[int, list[int]] = defaultdict(list)
            for user_id, org_id in s.execute(select(UserAccount.id, Membership.org_id).join(
                    Membership, (Membership.member_id == UserAccount.member_id) & Membership.end_date.is_(None))):
                if user_id in member_users:
                    self.org_of_user[user_id] = org_id
                    self.users_of_org[org_id].append(user_id)
            values: dict[int, dict[int, int]] = defaultdict(dict)
            for aid, ind, v in s.execute(select(ActivityValue.activity_id, ActivityValue.indicator_id,
                                                ActivityValue.value)):
                values[aid][ind] = v
            self.verified = []  # templates: verified activities recorded by a member for themselves
            self.recent = []  # originals to re-enter: pending or verified, in an open month, recent
            closed: dict[int, bool] = {}
            province = s.scalar(select(UserAccount.id).where(UserAccount.login == PROVINCE_STAFF.phone))
            for a in s.scalars(select(Activity).where(
                    Activity.status.in_((ActivityStatus.verified, ActivityStatus.pending)))):
                if a.recorder_user_id not in self.org_of_user or not values.get(a.id):
                    continue
                row = (a.id, a.recorder_user_id, a.county_id, a.task_id, a.site_id, a.occurred_on, values[a.id])
                if a.status == ActivityStatus.verified:
                    self.verified.append(row)
                month = yyyymm(a.occurred_on)
                if month not in closed:
                    closed[month] = is_month_closed(s, a.credited_org_id, month)
                if not closed[month] and (self.today - a.occurred_on).days <= 25:
                    self.recent.append(row)
            some_org = self.org_of_user[self.verified[0][1]]
            # Recent days of open months (members may not write into a closed one), late_entry not due.
            self.open_days = [d for d in (self.today - timedelta(days=n) for n in range(26))
                              if not is_month_closed(s, some_org, yyyymm(d))]
            self.rules = effective_rules(s, some_org)
            self.province_staff = province
        # Each indicator's 99th percentile among the verified values: rare but real.
        per_indicator: dict[int, list[int]] = defaultdict(list)
        for row in self.verified:
            for ind, v in row[6].items():
                per_indicator[ind].append(v)
        self.p99 = {ind: sorted(vs)[int(0.99 * (len(vs) - 1))] for ind, vs in per_indicator.items() if vs}
        self.rng.shuffle(self.verified)
        self.rng.shuffle(self.recent)

    # -- submitting ---------------------------------------------------------------------------------

    def submit(self, kind: str, user_id: int, *, county_id: int, task_id: int, day: date, values: dict[int, int],
               site_id: int | None = None, photo: bool = False, note: str = "") -> Outcome | None:
        """One submission through record_activity; its outcome (None when the service refused it for a
        reason unrelated to quality, e.g. an indicator the recorder's organisation does not see)."""
        from sqlalchemy import select

        from app.activities.schemas import ActivityInput
        from app.activities.service import record_activity
        from app.auth.service import build_principal
        from app.db import write_session
        from app.errors import Invalid
        from app.models import ActivityFlag, UserAccount
        from app.quality.duplicates import LikelyDuplicate

        self.serial += 1
        data = ActivityInput(task_id=task_id, county_id=county_id, site_id=site_id, occurred_on=day,
                             description=f"质量基准：{kind} 第 {self.serial} 条",
                             values={i: self._typed(i, v) for i, v in values.items()})
        with write_session(self.engine) as s:
            by = build_principal(s, s.get(UserAccount, user_id), ip="bench")
            try:
                result = record_activity(s, by=by, data=data, idempotency_key=f"quality-{self.serial}",
                                         photos=[self.photo] if photo else [])
            except LikelyDuplicate:
                s.rollback()
                return Outcome(kind, {"likely_duplicate"}, note, ["已有同一天同一实事的记录：需要决定"])
            except Invalid as exc:
                s.rollback()
                print(f"  refused ({kind}): {exc}", file=sys.stderr)
                return None
            rows = s.execute(select(ActivityFlag.code, ActivityFlag.message).where(
                ActivityFlag.activity_id == result.activity.id)).all()
        return Outcome(kind, {str(c) for c, _ in rows}, note, [m for _, m in rows])

    def _typed(self, indicator_id: int, value: int) -> str:
        if self.indicators[indicator_id].kind == "money":
            return f"{value // 100}.{value % 100:02d}"
        return str(value)

    def _free(self, county_id: int, task_id: int, day: date, site_id: int | None = None) -> bool:
        """No submission of this run within a day, and no live activity on that very day (which would
        be a duplicate decision, not what the kind is about)."""
        from app.db import read_session
        from app.quality.duplicates import candidates

        if any((county_id, task_id, day + timedelta(days=d)) in self.reserved for d in (-1, 0, 1)):
            return False
        with read_session(self.engine) as s:
            return not candidates(s, county_id=county_id, task_id=task_id, occurred_on=day, site_id=site_id)

    def _reserve(self, county_id: int, task_id: int, day: date) -> None:
        self.reserved.add((county_id, task_id, day))

    def _fresh_day(self, county_id: int, task_id: int) -> date | None:
        days = list(self.open_days)
        self.rng.shuffle(days)
        return next((d for d in days if self._free(county_id, task_id, d)), None)

    def _colleague(self, user_id: int) -> int:
        """Another member of the same organisation (any other member when alone)."""
        mates = [u for u in self.users_of_org[self.org_of_user[user_id]] if u != user_id]
        return self.rng.choice(mates) if mates else self.rng.choice(list(self.org_of_user))

    def _templates(self):
        while True:
            yield from self.verified

    # -- the kinds ------------------------------------------------------------------------------------

    def run(self, per_kind: int) -> list[Outcome]:
        out: list[Outcome] = []
        originals = iter(self.recent)
        templates = self._templates()

        def add(outcome: Outcome | None) -> None:
            if outcome is not None:
                out.append(outcome)

        # Re-entries of recent live activities.
        for kind in ("exact_other", "exact_self", "near_self", "near_figures"):
            done = 0
            for aid, recorder, county, task, site, day, values in originals:
                if done == per_kind:
                    break
                if any((county, task, day + timedelta(days=d)) in self.reserved for d in (-1, 0, 1)):
                    continue
                if kind.startswith("exact"):
                    who = recorder if kind == "exact_self" else self._colleague(recorder)
                    self._reserve(county, task, day)
                    add(self.submit(kind, who, county_id=county, task_id=task, day=day, values=values, site_id=site,
                                    note=f"#{aid}"))
                    done += 1
                    continue
                shifts = [d for d in (1, -1) if day + timedelta(days=d) in self.open_days]
                self.rng.shuffle(shifts)
                when = next((day + timedelta(days=d) for d in shifts
                             if self._free(county, task, day + timedelta(days=d), site)), None)
                if when is None:
                    continue
                self._reserve(county, task, day)
                self._reserve(county, task, when)
                if kind == "near_self":
                    changed = dict(values)
                    ind = self.rng.choice(sorted(changed))
                    changed[ind] += 1
                    add(self.submit(kind, recorder, county_id=county, task_id=task, day=when, values=changed,
                                    site_id=site, note=f"#{aid}"))
                else:
                    add(self.submit(kind, self._colleague(recorder), county_id=county, task_id=task, day=when,
                                    values=values, site_id=site, note=f"#{aid}"))
                done += 1

        def fresh(kind: str, make, count: int) -> None:
            """``count`` submissions on fresh days; make(template) -> (task, values, photo, note) or None."""
            done = tries = 0
            for _aid, recorder, county, task, _site, _day, values in templates:
                tries += 1
                if done == count or tries > 20 * count + 1000:
                    return
                made = make(task, dict(values))
                if made is None:
                    continue
                task_id, new_values, photo, note = made
                day = self._fresh_day(county, task_id)
                if day is None:
                    continue
                self._reserve(county, task_id, day)
                add(self.submit(kind, recorder, county_id=county, task_id=task_id, day=day, values=new_values,
                                photo=photo, note=note))
                done += 1

        def times(factor: int):
            def make(task, values):
                ind = self.rng.choice(sorted(values))
                note = f"{self.indicators[ind].name}（{task}） {self._typed(ind, values[ind])} → ×{factor}"
                values[ind] *= factor
                return task, values, False, note
            return make

        fresh("x10", times(10), per_kind)
        fresh("x100", times(100), per_kind)
        fresh("ratio_break", self._ratio_break, per_kind)
        fresh("money_no_photo", lambda task, values: self._big_money(photo=False), per_kind)

        def legit(task, values):
            photo = self.rng.random() < 1 / 3 or any(
                self.indicators[i].kind == "money" and v >= MONEY_PHOTO for i, v in values.items())
            return task, values, photo, ""

        def p99(task, values):
            ind = self.rng.choice(sorted(values))
            values[ind] = max(values[ind], self.p99.get(ind, values[ind]))
            photo = any(self.indicators[i].kind == "money" and v >= MONEY_PHOTO for i, v in values.items())
            return task, values, photo, f"{self.indicators[ind].name} p99 {self._typed(ind, values[ind])}"

        fresh("legit", legit, per_kind * 4)
        fresh("legit_p99", p99, per_kind * 2)
        fresh("legit_big_money", lambda task, values: self._big_money(photo=True), per_kind)
        return out

    def _task_of(self, name: str) -> tuple[int, dict[str, int]]:
        """A task by one of its indicators' names: (task id, indicator name → id)."""
        task = next(i.task_id for i in self.indicators.values() if i.name == name)
        return task, {self.indicators[i].name: i for i in self.by_task[task]}

    def _ratio_break(self, _task, _values):
        r = self.rng
        kind = r.randrange(5)
        if kind == 0:  # 资助学子: 0.01 万元 (100 元) per student
            task, ind = self._task_of("资助学子")
            n = r.randint(20, 150)
            return task, {ind["资助学子"]: n, ind["投入资金"]: n}, False, f"资助学子 {n} 人 / {n / 100} 万元"
        if kind == 1:  # 资助学子: one student, 30–45 万元
            task, ind = self._task_of("资助学子")
            money = r.randint(3000, 4500)
            return task, {ind["资助学子"]: 1, ind["投入资金"]: money}, False, f"资助学子 1 人 / {money / 100} 万元"
        if kind == 2:  # 领办产业项目: 0.01 万元 for several projects
            task, ind = self._task_of("领办产业项目")
            n = r.randint(2, 10)
            return task, {ind["领办产业项目"]: n, ind["投入资金"]: 1}, False, f"领办产业项目 {n} 个 / 0.01 万元"
        if kind == 3:  # one 销售活动 of 600–1,500 万元
            task, ind = self._task_of("销售活动")
            money = r.randint(60_000, 150_000)
            return task, {ind["销售活动"]: 1, ind["销售金额"]: money}, True, f"销售活动 1 次 / {money / 100} 万元"
        task, ind = self._task_of("资助学子")  # the issue's own example
        return task, {ind["资助学子"]: 5000, ind["投入资金"]: 1}, False, "资助学子 5000 人 / 0.01 万元"

    def _big_money(self, *, photo: bool):
        """50–300 万元 (50–150 with a photo, as legitimate) in a money indicator, counts set so that every
        ratio rule holds; None when the rules leave no room."""
        r = self.rng
        money_ids = [i for i in self.indicators.values() if i.kind == "money"]
        ind = r.choice(money_ids)
        money = r.randint(5_000, 15_000 if photo else 30_000)
        values = {ind.id: money}
        for other in self.by_task[ind.task_id]:
            if other == ind.id:
                continue
            ratio = next((x for x in self.rules.ratios if x.indicator_id == ind.id and x.per_indicator_id == other), None)
            if ratio is None:
                values[other] = r.randint(1, 5)
                continue
            hi = ratio.max_ratio or math.inf
            lo = ratio.min_ratio or 0.0
            typical = 5.0 if hi <= 20 else 100.0  # 5 万元 per student, 100 万元 per project or sale
            count = max(1, math.ceil(money / 100 / typical))
            if not lo <= money / 100 / count <= hi:
                return None
            values[other] = count
        return ind.task_id, values, photo, f"{ind.name} {money / 100} 万元" + ("（有照片）" if photo else "（无照片）")


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(buf, "JPEG")
    return buf.getvalue()


# --- the report -------------------------------------------------------------------------------------

def baselines(engine, bench: Injector) -> None:
    """Each indicator's history baseline as outlier_history used it: where \"far beyond\" starts."""
    from app.db import read_session
    from app.quality import flags

    print("Baselines (verified values of the last 12 months, log scale): median → outlier above, p99")
    with read_session(engine) as s:
        for ind_id, ind in sorted(bench.indicators.items()):
            b = flags.baseline(s, ind_id, bench.today)
            if b.samples < flags.MIN_SAMPLES:
                continue
            def show(v: float, money: bool = ind.kind == "money") -> str:
                return f"{v / 100:,.2f} 万元" if money else f"{v:,.0f}"
            print(f"  {ind.name:<10}({ind.task_id:>2}) n={b.samples:<5} median {show(math.exp(b.median)):>12}"
                  f"  MAD {b.mad:.2f}  limit {show(math.exp(b.limit())):>13}  p99 {show(bench.p99.get(ind_id, 0)):>12}")
    print()


def caught(o: Outcome) -> bool:
    return bool(o.codes & CAUGHT_BY[o.kind])


def report(outcomes: list[Outcome], bench: Injector) -> int:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(o)

    print("Anomalies: caught = the flag(s) that kind is about")
    print(f"  {'kind':<16}{'injected':>9}{'caught':>8}{'recall':>9}{'any flag':>10}   flags seen (submissions)")
    recall = {}
    for kind in ANOMALIES:
        items = by_kind.get(kind, [])
        hit = sum(caught(o) for o in items)
        recall[kind] = hit / len(items) if items else 0.0
        seen = Counter(c for o in items for c in o.codes)
        anyflag = sum(bool(o.codes) for o in items) / max(1, len(items))
        print(f"  {kind:<16}{len(items):>9}{hit:>8}{recall[kind]:>8.1%}{anyflag:>9.1%}   "
              + ", ".join(f"{c} {n}" for c, n in seen.most_common()))
    print("\nLegitimate: any flag is a false positive")
    print(f"  {'kind':<16}{'submitted':>9}{'flagged':>8}{'rate':>9}   flags (submissions)")
    for kind in LEGIT:
        items = by_kind.get(kind, [])
        flagged = [o for o in items if o.codes]
        seen = Counter(c for o in flagged for c in o.codes)
        rate = len(flagged) / len(items) if items else 0.0
        print(f"  {kind:<16}{len(items):>9}{len(flagged):>8}{rate:>8.1%}   "
              + ", ".join(f"{c} {n}" for c, n in seen.most_common()))

    anomalies = [o for o in outcomes if o.kind in ANOMALIES]
    legit = [o for o in outcomes if o.kind in LEGIT]
    flagged_anomalies = sum(bool(o.codes) for o in anomalies)
    flagged_legit = sum(bool(o.codes) for o in legit)
    precision = flagged_anomalies / max(1, flagged_anomalies + flagged_legit)
    print(f"\nMix: {len(anomalies)} anomalies, {len(legit)} legitimate submissions")
    print(f"Precision overall: {flagged_anomalies} flagged anomalies ÷ {flagged_anomalies + flagged_legit} "
          f"flagged submissions = {precision:.1%}")
    print(f"  {'flag code':<18}{'on anomalies':>13}{'on legit':>10}{'precision':>11}")
    codes = sorted({c for o in outcomes for c in o.codes})
    for code in codes:
        a = sum(code in o.codes for o in anomalies)
        lg = sum(code in o.codes for o in legit)
        print(f"  {code:<18}{a:>13}{lg:>10}{a / (a + lg):>10.1%}")

    dup_items = [o for k in ("exact_other", "exact_self", "near_self", "near_figures") for o in by_kind.get(k, [])]
    recall_dup = sum(caught(o) for o in dup_items) / max(1, len(dup_items))
    misses = [o for k in ("x100", "x10") for o in by_kind.get(k, []) if not caught(o)]
    if misses:
        print("\nMissed ×10 / ×100 values, by indicator (task id): count, e.g.")
        groups: dict[str, list[str]] = defaultdict(list)
        for o in misses:
            groups[f"{o.kind} {o.note.split(' ')[0]}"].append(o.note.split(" ", 1)[1])
        for key, notes in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print(f"  {key:<28}{len(notes):>4}   {'; '.join(notes[:4])}")
    fp = [o for o in legit if o.codes]
    if fp:
        print("\nFalse positives, by flag and sentence (first words):")
        groups = Counter()
        for o in fp:
            for m in o.messages:
                groups[m.split("，")[0][:40]] += 1
        for text_, n in groups.most_common(12):
            print(f"  {n:>4}  {text_}")

    ok = recall_dup >= GOALS["recall_duplicates"] and recall.get("x100", 0) >= GOALS["recall_x100"] \
        and precision >= GOALS["precision"]
    print(f"\nGoals: duplicates recall {recall_dup:.1%} (≥ 95 %), ×100 recall {recall.get('x100', 0):.1%} (≥ 95 %), "
          f"precision {precision:.1%} (≥ 80 %): " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
