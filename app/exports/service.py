"""The raw export of the activities a caller may read: one scope, one query shape, two writers.

- **Scope** (:func:`parse_scope`): an organisation the caller reads (404 otherwise), counted by
  organisation (credited to its subtree) or by place (done in a county of its subtree), a period
  (or 全部期间), optional status and task — always inside ``visible_to(by)``, the one rule of who
  reads which activity.
- **Rows** (:func:`iter_rows`): keyset windows of :data:`BATCH` activity ids, each in
  its own short read transaction (a 1,000,000-row export must not hold SQLite's WAL or
  PostgreSQL's vacuum horizon for minutes), with the batch's values and participant counts read
  by two indexed ``IN`` queries and merged in Python. Plain tuples, no ORM objects: memory holds
  one batch whatever the size of the export.
- **Writers**: :func:`csv_chunks` (UTF-8 with BOM, CRLF, minimal quoting — what Excel opens) and
  :func:`write_xlsx` (openpyxl write-only mode to a temporary file, then an atomic rename).

Phone numbers never leave: no phone column is read, and mobile numbers typed into a description
are masked. Excel stops at 1,048,576 rows a sheet: a larger export continues on further sheets
(活动明细、活动明细（2）…), each with its header, rather than being refused.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, and_, bindparam, func, select
from sqlmodel import Session

from app.activities.service import STATUS_LABELS, visible_to
from app.audit.service import record as audit
from app.auth.principal import Principal, org_for_read
from app.boards import periods
from app.catalogue.service import owners_seen_within
from app.clock import to_cn
from app.errors import Invalid
from app.models import (
    Activity,
    ActivityParticipant,
    ActivityStatus,
    ActivityValue,
    BoostArea,
    Campaign,
    Indicator,
    Organisation,
    ParticipantStatus,
    Site,
    Task,
    UserAccount,
)
from app.orgs.service import subtree_ids
from app.xlsx import csv_text, text_cell

BATCH = 5_000
SHEET_ROWS = 1_048_575  # Excel's 1,048,576 rows a sheet, less the header
ALL_PERIODS = "all"
STATUS_CHOICES = [("", "全部状态")] + [(s.value, label) for s, label in STATUS_LABELS.items()]
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


# --- the scope ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportScope:
    org_id: int
    org_code: str
    org_name: str
    by_place: bool
    period: periods.Period | None  # None: 全部期间
    status: str  # "" = every state
    task_id: int | None
    task_name: str | None = None

    @property
    def period_key(self) -> str:
        return self.period.key if self.period else ALL_PERIODS

    def params(self) -> dict:
        """The scope as the form and the job store it (and as the audit log shows it)."""
        return {"org": self.org_code, "period": self.period_key, "status": self.status,
                "task": self.task_id, "by": "place" if self.by_place else "org"}

    @property
    def label(self) -> str:
        parts = [self.org_name + ("（按活动地点）" if self.by_place else "（按计入单位）"),
                 self.period.label if self.period else "全部期间",
                 dict(STATUS_CHOICES).get(self.status, self.status)]
        if self.task_name:
            parts.append(self.task_name)
        return " · ".join(parts)

    def file_name(self, ext: str) -> str:
        return f"活动明细_{self.org_name}_{self.period_key}.{ext}"


def parse_scope(session: Session, by: Principal, *, org: str | None, period: str | None, status: str | None = "",
                task: int | str | None = None, scope_by: str | None = "org") -> ExportScope:
    """The export's scope from the form, or a Chinese 422/404: the organisation must be readable."""
    if not org:
        raise Invalid("请选择组织", code="bad_org", errors={"org": "请选择组织"})
    organisation = org_for_read(session, by, org.strip())
    errors: dict[str, str] = {}
    period_obj = None
    if (period or "").strip().lower() != ALL_PERIODS:
        try:
            period_obj = periods.parse(period)
        except Invalid as exc:
            errors.update(exc.errors or {"period": exc.message})
    status = (status or "").strip()
    if status and status not in {s.value for s in ActivityStatus}:
        errors["status"] = "状态只能是待审核、已通过、已退回或已撤回"
    if scope_by not in (None, "", "org", "place"):
        errors["by"] = "统计口径只能是按计入单位或按活动地点"
    task_id, task_name = None, None
    if task not in (None, ""):
        try:
            task_id = int(task)
        except (TypeError, ValueError):
            task_id = -1
        task_name = session.scalar(select(Task.short_name).where(Task.id == task_id)) if 0 < task_id < 2**31 else None
        if task_name is None:
            errors["task"] = "没有这项实事"
    if errors:
        raise Invalid("导出条件有误：" + "；".join(errors.values()), code="bad_export_filter", errors=errors)
    return ExportScope(organisation.id, organisation.code, organisation.name, scope_by == "place", period_obj,
                       status, task_id, task_name)


def _where(by: Principal, scope: ExportScope) -> list:
    where = [visible_to(by)]
    if scope.by_place:
        where.append(Activity.county_id.in_(subtree_ids(scope.org_id)))
    else:
        where.append(Activity.credited_org_id.in_(subtree_ids(scope.org_id)))
    if scope.period is not None:
        where += [Activity.occurred_on >= scope.period.start, Activity.occurred_on <= scope.period.end]
    if scope.status:
        where.append(Activity.status == scope.status)
    if scope.task_id:
        where.append(Activity.task_id == scope.task_id)
    return where


def count(session: Session, by: Principal, scope: ExportScope) -> int:
    """How many rows the export will have (for the job's progress bar)."""
    return int(session.scalar(select(func.count()).select_from(Activity).where(*_where(by, scope))) or 0)


def task_choices(session: Session) -> list[tuple[int, str]]:
    current = select(Campaign.id).where(Campaign.is_current.is_(True)).scalar_subquery()
    return [(t.id, t.short_name) for t in session.execute(
        select(Task.id, Task.short_name).where(Task.campaign_id == current).order_by(Task.sort_order, Task.id))]


def record_request(session: Session, by: Principal, scope: ExportScope, *, kind: str,
                   job_id: int | None = None) -> None:
    """Audit who exported what (one use case: commits)."""
    audit(session, actor=by.actor, action=f"export.{kind}", target_type="export",
          target_id=job_id or "", org_id=scope.org_id, after=scope.params())
    session.commit()


# --- the columns ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    header: str
    kind: str  # int, text, date, datetime, count, money
    width: float
    indicator_id: int | None = None


FIXED_HEAD = [
    Column("编号", "int", 10), Column("活动日期", "date", 12), Column("状态", "text", 8),
    Column("助推方向", "text", 18), Column("实事", "text", 30), Column("县（市、区）", "text", 14),
    Column("乡镇/村", "text", 16), Column("计入单位", "text", 16), Column("组织单位", "text", 16),
    Column("记录人", "text", 10), Column("参与委员人数", "int", 12),
]
FIXED_TAIL = [Column("简述", "text", 50), Column("提交时间", "datetime", 18)]


def columns(session: Session, scope: ExportScope) -> list[Column]:
    """The fixed columns and one per indicator of the current campaign seen in the scope's subtree
    (the catalogue's own and those added by an ancestor or an organisation inside it)."""
    current = select(Campaign.id).where(Campaign.is_current.is_(True)).scalar_subquery()
    rows = session.execute(
        select(Indicator.id, Indicator.name, Indicator.unit, Indicator.kind, Task.short_name)
        .join(Task, Task.id == Indicator.task_id)
        .where(Task.campaign_id == current, Indicator.owner_org_id.in_(owners_seen_within([scope.org_id])))
        .order_by(Task.sort_order, Task.id, Indicator.sort_order, Indicator.id)).all()
    seen: dict[str, int] = {}
    for r in rows:
        seen[f"{r.name}（{r.unit}）"] = seen.get(f"{r.name}（{r.unit}）", 0) + 1
    out = list(FIXED_HEAD)
    for r in rows:
        header = f"{r.name}（{r.unit}）"
        if seen[header] > 1:  # 投入资金（万元） belongs to three tasks: say which
            header = f"{r.short_name}·{header}"
        kind = "money" if str(r.kind) == "money" else "count"
        out.append(Column(header, kind, max(12, len(header) * 2 + 2), r.id))
    return out + FIXED_TAIL


# --- the rows -------------------------------------------------------------------------------------

def _mask_phones(text: str) -> str:
    return _MOBILE.sub(r"\1****\3", text) if text else ""


def iter_rows(bind: Engine | object, by: Principal, scope: ExportScope, cols: list[Column], *,
              batch: int = BATCH) -> Iterator[tuple]:
    """Row tuples in id order, one keyset batch per short read transaction.

    ``bind``: an Engine (each batch takes a pooled connection) or, in tests, the test's Connection.
    Indicator values are the stored integers (money in hundredths of 万元); writers format them.
    """
    ids = bindparam("ids", expanding=True)
    # The walk: the next ``batch`` ids of the table, each with whether it is in scope — the
    # conditions computed as a column, not filtered on, so that nothing but the primary key can
    # drive the query. Offered them in WHERE, planners take an index of visible_to's OR or of
    # credited_org_id and read the whole scope (then sort it) for every batch: quadratic at
    # 1,000,000 rows. Then the rows in scope, fetched by their ids. A sparse scope costs more
    # windows, never more than one pass over the ids.
    in_scope = and_(*_where(by, scope)).label("in_scope")
    window = (select(Activity.id, in_scope).where(Activity.id > bindparam("after"))
              .order_by(Activity.id).limit(batch))
    statement = (
        select(Activity.id, Activity.occurred_on, Activity.status, Activity.task_id, Activity.county_id,
               Site.name.label("site"), Activity.credited_org_id, Activity.organiser_org_id,
               UserAccount.display_name, Activity.description, Activity.submitted_at)
        .join(UserAccount, UserAccount.id == Activity.recorder_user_id)
        .outerjoin(Site, Site.id == Activity.site_id)
        .where(Activity.id.in_(ids))
        .order_by(Activity.id))
    values_of = select(ActivityValue.activity_id, ActivityValue.indicator_id, ActivityValue.value).where(
        ActivityValue.activity_id.in_(ids))
    people_of = (select(ActivityParticipant.activity_id, func.count()).where(
        ActivityParticipant.activity_id.in_(ids),
        ActivityParticipant.status == ParticipantStatus.confirmed.value).group_by(ActivityParticipant.activity_id))
    positions = {c.indicator_id: n for n, c in enumerate(cols) if c.indicator_id is not None}
    first_value, width = len(FIXED_HEAD), len(cols) - len(FIXED_HEAD) - len(FIXED_TAIL)
    labels = {s.value: label for s, label in STATUS_LABELS.items()}
    with Session(bind) as s:
        org_names = dict(s.execute(select(Organisation.id, Organisation.name)).all())
        tasks = {r.id: (r.name, r.area) for r in s.execute(
            select(Task.id, Task.name, BoostArea.name.label("area")).join(BoostArea, BoostArea.id == Task.area_id))}
    after = 0
    while True:
        with Session(bind) as s:
            conn = s.connection()
            scanned = conn.execute(window, {"after": after}).all()
            if not scanned:
                return
            wanted = [activity_id for activity_id, ok in scanned if ok]
            found = conn.execute(statement, {"ids": wanted}).all() if wanted else []
            batch_ids = [r.id for r in found]
            values: dict[int, dict[int, int]] = {}
            people: dict[int, int] = {}
            if batch_ids:
                for activity_id, indicator_id, value in conn.execute(values_of, {"ids": batch_ids}):
                    values.setdefault(activity_id, {})[indicator_id] = value
                people = dict(conn.execute(people_of, {"ids": batch_ids}).all())
            s.commit()  # ends the read: the next batch takes a fresh snapshot
        for r in found:
            figures: list = [None] * width
            for indicator_id, value in values.get(r.id, {}).items():
                pos = positions.get(indicator_id)
                if pos is not None:
                    figures[pos - first_value] = value
            task_name, area = tasks.get(r.task_id, ("", ""))
            submitted = to_cn(r.submitted_at)
            yield (r.id, r.occurred_on, labels.get(r.status, r.status), area, task_name,
                   org_names.get(r.county_id, ""), r.site or "", org_names.get(r.credited_org_id, ""),
                   org_names.get(r.organiser_org_id, "") if r.organiser_org_id else "", r.display_name,
                   people.get(r.id, 0), *figures, _mask_phones(r.description or ""),
                   submitted.replace(tzinfo=None, microsecond=0) if submitted else None)
        after = scanned[-1][0]
        if len(scanned) < batch:
            return


# --- CSV --------------------------------------------------------------------------------------------

def _money(hundredths: int) -> str:
    whole, frac = divmod(int(hundredths), 100)
    return f"{whole}.{frac:02d}"


_CSV_FORMAT: dict[str, Callable] = {
    "money": _money, "date": date.isoformat, "datetime": lambda v: v.strftime("%Y-%m-%d %H:%M:%S"),
    "text": csv_text, "int": str, "count": str,
}


def csv_chunks(cols: list[Column], rows: Iterator[tuple], *, rows_per_chunk: int = 2_000) -> Iterator[bytes]:
    """The CSV as UTF-8 byte chunks: a BOM (so Excel reads UTF-8), CRLF lines, minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([csv_text(c.header) for c in cols])  # a header names an indicator: text too
    formats = [_CSV_FORMAT[c.kind] for c in cols]
    yield "\ufeff".encode() + buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(rows, start=1):
        writer.writerow(["" if v is None else f(v) for f, v in zip(formats, row, strict=True)])
        if n % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


# --- XLSX -------------------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def write_xlsx(path: Path, cols: list[Column], rows: Iterator[tuple], *, progress: Callable[[int], None] | None = None,
               every: int = 10_000, sheet_rows: int = SHEET_ROWS) -> int:
    """Write the rows to ``path`` in constant memory; returns the row count.

    openpyxl's write-only mode streams each sheet to a temporary file; the workbook is saved
    next to ``path`` and renamed over it, so a reader never sees half a file. Numbers are
    numbers (money in 万元 with two decimals shown), dates are dates, the header is frozen.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def new_sheet(number: int):  # noqa: ANN202
        ws = wb.create_sheet("活动明细" if number == 1 else f"活动明细（{number}）")
        for index, col in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(index)].width = col.width
        ws.freeze_panes = "A2"
        header = []
        for col in cols:
            header.append(text_cell(ws, col.header, font=bold))  # a header names an indicator: text too
        ws.append(header)
        return ws

    money_at = [n for n, c in enumerate(cols) if c.kind == "money"]
    text_at = [n for n, c in enumerate(cols) if c.kind == "text"]
    sheets = 1
    ws = new_sheet(sheets)
    in_sheet = total = 0
    for row in rows:
        if in_sheet == sheet_rows:
            sheets += 1
            ws = new_sheet(sheets)
            in_sheet = 0
        values = list(row)  # dates and times: openpyxl gives them a date format itself
        for n in money_at:
            if values[n] is not None:
                cell = WriteOnlyCell(ws, value=values[n] / 100)
                cell.number_format = "0.00"
                values[n] = cell
        for n in text_at:
            values[n] = text_cell(ws, values[n])  # text, never a formula
        ws.append(values)
        in_sheet += 1
        total += 1
        if progress is not None and total % every == 0:
            progress(total)
    temporary = path.with_name(path.name + ".part")
    wb.save(temporary)
    os.replace(temporary, path)
    return total

