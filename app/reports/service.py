"""Reports: the narrative and the tables of an organisation's subtree for a period, from the boards'
rollup (never recounted from raw rows); Word and Excel made from them; reports frozen as presented.

:func:`build_report` returns one plain, JSON-ready dict that the page, the API, the command line,
the .docx and the .xlsx all read — so they cannot disagree. A frozen report stores that dict with
its two files, and is served from the stored bytes ever after.

Table cells are plain values with a column kind: ``text``, ``count`` (int), ``money`` (int,
hundredths of 万元), ``rate`` (float 0–1 or None), ``rank`` (int or None).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from app.audit.service import record
from app.auth.principal import READ_ROLES, STAFF_ROLES, Principal
from app.boards import service as boards
from app.boards.periods import Period
from app.clock import CN, now_cn, to_cn
from app.errors import Forbidden, NotFound
from app.history.service import history_in
from app.models import FrozenReport, Organisation
from app.models.rollup import COUNT
from app.reports import narrative, tables
from app.suggestions import service as suggestions


def _compare(session: Session, org: Organisation, period: Period, activities: int) -> dict:
    out: dict = {"activities": activities, "previous": None, "year_earlier": None}
    for key, other in (("previous", period.previous_across_years()), ("year_earlier", period.year_earlier())):
        if other is None:
            continue
        got = boards.figures(session, "org", [org.id], other)
        out[key] = {"label": narrative.when(other), "key": other.key, "activities": tables.activities(got.get(org.id, {}))}
    return out


def build_report(session: Session, org: Organisation, period: Period, *, compare: bool = False,
                 now: datetime | None = None) -> dict:
    """The report of ``org``'s subtree for ``period``: narrative, figures, tables (a JSON-ready dict)."""
    tasks, _ = boards.catalogue(session, org.id)
    wording = narrative.phrasing(session)
    words = narrative.wording_for(session, wording.campaign_code)
    got = boards.figures(session, "org", [org.id], period).get(org.id, {})
    part = boards.participation(session, [org.id], period)[org.id]
    figures = []
    for t in tasks:
        figures.append({
            "task_id": t.id, "name": t.name, "short_name": t.short_name,
            "prefix": wording.prefixes.get(t.id, ""),
            "activities": got.get((t.id, COUNT), (0, 0))[0],
            "link": tables.link(org.code, period, task=t.id),
            "indicators": [{"id": i.id, "name": i.name, "unit": i.unit, "kind": i.kind,
                            "phrase": wording.phrases.get(i.id) or i.name + "{value}{unit}",
                            "verified": got.get((t.id, i.id), (0, 0))[0],
                            "text": narrative.amount(i.kind, got.get((t.id, i.id), (0, 0))[0])}
                           for i in t.indicators],
            # 成效: the task's outcome indicators, apart from its effort figures (no target, no score).
            "outcomes": [{"id": i.id, "name": i.name, "unit": i.unit, "kind": i.kind,
                          "verified": got.get((t.id, i.id), (0, 0))[0],
                          "text": narrative.amount(i.kind, got.get((t.id, i.id), (0, 0))[0])}
                         for i in t.outcomes],
        })
    task_figs = boards.task_figures(tasks, got, None, period)
    outcome_totals = boards.outcome_totals(task_figs)
    outcome_text = boards.outcome_sentence(outcome_totals)
    activities = tables.activities(got)
    history = history_in(session, org.id, period)
    comparison = _compare(session, org, period, activities) if compare else None
    participation = {"active": part.active, "took_part": part.took_part, "rate": part.rate}
    mobilisation = ({"active": part.reach_active, "reached": part.reached, "rate": part.mobilisation_rate,
                     "since": part.since_month} if part.tracked else None)
    paras = narrative.paragraphs(words=words, campaign_name=wording.campaign_name, org_name=org.name,
                                 period=period, tasks=figures, participation=participation, compare=comparison,
                                 mobilisation=mobilisation, outcomes=outcome_text)
    # 采纳率 and 落实 beside the number made: a direct query of the subtree's suggestions and their
    # follow-up states (app/suggestions), not the rollup; said only when some were made.
    adoption = suggestions.adoption(session, org, period)
    if adoption.made:
        paras = [*paras, [suggestions.adoption_text(adoption)]]
    generated = (now or now_cn()).astimezone(CN)
    return {
        "title": narrative.fill(words["title"], org=org.name, period=period.label, campaign=wording.campaign_name),
        "org": {"code": org.code, "name": org.name},
        "period": {"key": period.key, "label": period.label, "year": period.year, "first": period.first,
                   "last": period.last},
        "campaign": wording.campaign_name,
        "generated_at": generated.strftime("%Y-%m-%d %H:%M"),
        "scope_note": (f"数据范围：{org.name}及其下级组织（按组织统计，计入本级及下级组织的活动）；"
                       f"统计期间：{period.label}；只计已审核的活动；重点帮扶县表按活动地点统计。"
                       + (f"{history.text}（历史汇总数，计入各项指标，不计入活动次数和参与率）。" if history else "")),
        "history": history.text if history else None,
        "activities": activities,
        "figures": figures,
        "outcomes": [{"name": o.name, "unit": o.unit, "kind": o.kind, "verified": o.verified, "text": o.value_text}
                     for o in outcome_totals],
        "outcome_text": outcome_text,
        "participation": participation,
        "mobilisation": mobilisation,
        "compare": comparison,
        "suggestions": adoption.as_dict(),  # rate None when none was made
        "paragraphs": paras,
        "text": "\n".join("".join(p) for p in paras),
        "tables": [tables.units_table(session, org, period, tasks), tables.outcomes_table(org, period, task_figs),
                   tables.counties_table(session, org, period, tasks),
                   tables.ranking_table(session, org, period), tables.members_table(session, org, period),
                   tables.breakdown_table(session, org, period, "sector"),
                   # 分专委会统计 only for an organisation with committees of its own.
                   *[t for t in [tables.breakdown_table(session, org, period, "committee")] if t["rows"]]],
    }


def as_text(report: dict) -> str:
    """The report as plain text (the command line's default): title, narrative, tables."""
    lines = [report["title"], "", *("　　" + "".join(p) for p in report["paragraphs"]), ""]
    for table in report["tables"]:
        lines.append(f"【{table['title']}】")
        if not table["rows"]:
            lines += [table["empty"], ""]
            continue
        lines.append("\t".join(c["name"] for c in table["columns"]))
        for row in table["rows"]:
            lines.append("\t".join(tables.cell_text(c["kind"], v) for c, v in zip(table["columns"], row, strict=True)))
        lines.append("")
    lines.append(report["scope_note"])
    lines.append(f"生成时间：{report['generated_at']}（北京时间）")
    return "\n".join(lines) + "\n"


# --- frozen reports --------------------------------------------------------------------------------

def _canonical(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def freeze_report(session: Session, *, by: Principal, org: Organisation, period: Period,
                  compare: bool = False) -> FrozenReport:
    """Store the report as presented (its numbers, files and who froze it), audited; commits. Staff only."""
    from app.reports.docx import to_docx
    from app.reports.xlsx import to_xlsx

    if not by.can(session, org.id, *STAFF_ROLES):
        raise Forbidden("只有助推办工作人员可以冻结报告", code="report_freeze_forbidden")
    report = build_report(session, org, period, compare=compare)
    content = _canonical(report)
    frozen = FrozenReport(org_id=org.id, year=period.year, first_month=period.first, last_month=period.last,
                          period_label=period.label[:64], title=report["title"][:200], content=content,
                          docx=to_docx(report), xlsx=to_xlsx(report),
                          sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(), frozen_by_user_id=by.user_id)
    session.add(frozen)
    session.flush()
    record(session, actor=by.actor, action="report.freeze", target_type="frozen_report", target_id=frozen.id,
           org_id=org.id, after={"title": frozen.title, "period": period.key, "sha256": frozen.sha256})
    session.commit()
    return frozen


def list_frozen(session: Session, by: Principal, *, limit: int = 200) -> list[tuple[FrozenReport, str, str | None]]:
    """Frozen reports of the organisations the caller reads, newest first: (report, org name, frozen at)."""
    rows = session.execute(
        select(FrozenReport.id, FrozenReport.title, FrozenReport.period_label, FrozenReport.created_at,
               FrozenReport.sha256, Organisation.name.label("org"), Organisation.code.label("code"))
        .join(Organisation, Organisation.id == FrozenReport.org_id)
        .where(FrozenReport.org_id.in_(by.scope(*READ_ROLES)))
        .order_by(FrozenReport.created_at.desc(), FrozenReport.id.desc()).limit(limit)).all()
    return [(r, r.org, to_cn(r.created_at).strftime("%Y-%m-%d %H:%M")) for r in rows]


def frozen_for_download(session: Session, by: Principal, report_id: int) -> FrozenReport:
    """A frozen report the caller may read (else 404)."""
    frozen = session.get(FrozenReport, report_id)
    if frozen is None or not by.can(session, frozen.org_id, *READ_ROLES):
        raise NotFound("找不到该报告，或无权查看")
    return frozen
