"""履职档案汇编: one Word file with the records of every member of an organisation's term (or of one of
its 专委会) — what an office files at 换届. Many members make a long file, so it is a background job
(app/jobs/service.py, kind :data:`KIND`) with progress per member, stored under ``exports/`` like the
activities export (app/exports/jobs.py) and downloaded only by whoever asked for it.

Who: staff of the organisation or above (``org_for_staff``), checked when the job is asked for and
again, with the owner's grants as they are then, when it runs; each record inside is read through
``service.member_for_profile`` as that owner reads it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session, col

from app import docx_style as style
from app.audit.service import record as audit
from app.auth.principal import Principal, org_for_staff
from app.clock import now_cn, now_utc
from app.errors import Invalid, NotFound
from app.exports.jobs import export_dir
from app.jobs import service as jobs
from app.models import BackgroundJob, Committee, Member, Membership, Organisation, Term, UserAccount
from app.profiles import service
from app.profiles.docx import term_label, write_profile
from app.storage import get_storage

KIND = "profiles.docx"
KEEP_HOURS = 24
MAX_OPEN_PER_USER = 2  # queued or running at once
STATUS_LABELS = {"queued": "排队中", "running": "正在生成", "done": "已完成", "failed": "失败"}


@dataclass(frozen=True)
class BatchScope:
    """Whose records: the members with a seat in ``org``'s ``term`` (in ``committee`` when given)."""

    org: Organisation
    term: Term
    committee: Committee | None

    @property
    def label(self) -> str:
        return f"{self.org.name}{term_label(self.term.number)}" + (f"{self.committee.name}" if self.committee else "")

    def params(self) -> dict:
        return {"org": self.org.code, "term_id": self.term.id,
                "committee_id": self.committee.id if self.committee else None, "label": self.label}


def terms_of(session: Session, org: Organisation) -> list[Term]:
    """The organisation's terms, the newest first (the current one, then the ones 换届 closed)."""
    return list(session.scalars(select(Term).where(Term.org_id == org.id).order_by(Term.number.desc())))


def committees_of(session: Session, org: Organisation) -> list[Committee]:
    return list(session.scalars(select(Committee).where(Committee.org_id == org.id).order_by(Committee.name)))


def batch_scope(session: Session, by: Principal, code: str, *, term_id: int | None,
                committee_id: int | None) -> BatchScope:
    """The organisation (staff over it, else 404/403), its term (default: the newest) and committee."""
    org = org_for_staff(session, by, code)
    terms = terms_of(session, org)
    term = next((t for t in terms if t.id == term_id), None) if term_id else (terms[0] if terms else None)
    if term is None:
        raise Invalid("请选择本组织的届次", code="term_invalid", errors={"term_id": "请选择本组织的届次"})
    committee = None
    if committee_id:
        committee = next((c for c in committees_of(session, org) if c.id == committee_id), None)
        if committee is None:
            raise Invalid("请选择本组织的专委会", code="committee_invalid", errors={"committee_id": "请选择本组织的专委会"})
    return BatchScope(org, term, committee)


def member_ids(session: Session, scope: BatchScope) -> list[int]:
    """The members of the scope, by name (a member with two seats in the term is listed once)."""
    stmt = (select(Member.id, Member.name).join(Membership, Membership.member_id == Member.id)
            .where(Membership.org_id == scope.org.id, Membership.term_id == scope.term.id))
    if scope.committee is not None:
        stmt = stmt.where(Membership.committee_id == scope.committee.id)
    return [member_id for member_id, _ in session.execute(stmt.distinct().order_by(Member.name, Member.id))]


# --- asking, looking, downloading -------------------------------------------------------------------

def create_job(session: Session, by: Principal, scope: BatchScope) -> BackgroundJob:
    """Queue the file and audit who asked for whose records (one use case: commits)."""
    if jobs.count_open(session, user_id=by.user_id, kinds=(KIND,)) >= MAX_OPEN_PER_USER:
        raise Invalid(f"您已有 {MAX_OPEN_PER_USER} 份档案汇编正在生成，请等它们完成后再生成", code="too_many_jobs")
    count = len(member_ids(session, scope))
    if not count:
        raise Invalid("这一届（专委会）没有委员，没有可以汇编的档案", code="no_members")
    job = jobs.submit(session, kind=KIND, user_id=by.user_id, org_id=scope.org.id, params=scope.params())
    audit(session, actor=by.actor, action="profile.export", target_type="job", target_id=job.id,
          org_id=scope.org.id, after=scope.params() | {"members": count})
    session.commit()
    jobs.wake()
    return job


def job_for_owner(session: Session, by: Principal, job_id: int) -> BackgroundJob:
    """The caller's own 档案汇编 job, else 404 (staff included: the file is theirs)."""
    job = session.scalar(select(BackgroundJob).where(
        col(BackgroundJob.id) == job_id, col(BackgroundJob.user_id) == by.user_id, col(BackgroundJob.kind) == KIND))
    if job is None:
        raise NotFound("找不到这个档案汇编任务")
    return job


def recent_jobs(session: Session, by: Principal, org: Organisation, *, limit: int = 5) -> list[BackgroundJob]:
    return list(session.scalars(select(BackgroundJob).where(
        col(BackgroundJob.user_id) == by.user_id, col(BackgroundJob.kind) == KIND, col(BackgroundJob.org_id) == org.id)
        .order_by(col(BackgroundJob.created_at).desc(), col(BackgroundJob.id).desc()).limit(limit)))


def label(job: BackgroundJob) -> str:
    if job.status == "done" and not job.file_name:
        return "已过期"
    return STATUS_LABELS.get(job.status, job.status)


def _key(name: str) -> str:
    return f"exports/{name}"


def file_key(job: BackgroundJob) -> str:
    if job.status != "done":
        raise NotFound("文件尚未生成完成")
    if not job.file_name:
        raise NotFound(f"文件已过期（保留 {KEEP_HOURS} 小时），请重新生成")
    return _key(job.file_name)


def download_name(job: BackgroundJob) -> str:
    return f"{jobs.params_of(job).get('label', '')}履职档案汇编.docx"


def cleanup(session: Session, *, now: datetime | None = None) -> int:
    """Remove files older than KEEP_HOURS (their rows stay, marked 已过期); returns how many went."""
    cutoff = (now or now_utc()) - timedelta(hours=KEEP_HOURS)
    old = session.execute(select(BackgroundJob.id, BackgroundJob.file_name).where(
        col(BackgroundJob.kind) == KIND, col(BackgroundJob.file_name).is_not(None),
        col(BackgroundJob.finished_at) < cutoff)).all()
    for _, name in old:
        get_storage().delete(_key(name))
    if old:
        session.execute(update(BackgroundJob).where(col(BackgroundJob.id).in_([i for i, _ in old]))
                        .values(file_name=None))
    return len(old)


# --- running -------------------------------------------------------------------------------------

def run(ctx: jobs.JobContext) -> None:
    """Write every record of the scope into one file, reporting progress per member."""
    from app.auth.service import build_principal

    params = ctx.params
    with ctx.read() as s:
        user = s.get(UserAccount, ctx.job.user_id)
        if user is None:
            raise NotFound("账号不存在")
        by = build_principal(s, user, ip="profiles-job")
        scope = batch_scope(s, by, params["org"], term_id=params["term_id"], committee_id=params["committee_id"])
        ids = member_ids(s, scope)
    ctx.progress(0, len(ids), stage="正在生成")
    doc = style.official_document(f"{scope.label}委员履职档案")
    doc.add_paragraph(f"{scope.label}委员履职档案", style=style.TITLE)
    doc.add_paragraph(f"共 {len(ids)} 名委员，按姓名排列。生成时间：{now_cn().strftime('%Y-%m-%d %H:%M')}（北京时间）。",
                      style=style.BODY)
    for n, member_id in enumerate(ids, start=1):
        with ctx.read() as s:  # a short read per member: a long file holds no snapshot open for minutes
            access = service.member_for_profile(s, by, member_id)
            profile = service.profile_of(s, by, access, per_page=1)
            doc.add_page_break()
            write_profile(doc, profile, service.every_activity(s, by, access))
        ctx.progress(n, stage=f"正在生成 {n} / {len(ids)}")
    name = f"{ctx.job.id}-{uuid.uuid4().hex}.docx"
    path = export_dir() / name
    doc.save(str(path))
    try:
        get_storage().put_file(_key(name), path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    try:
        ctx.finish(progress_done=len(ids), progress_total=len(ids), file_name=name)
    except jobs.LeaseLost:
        get_storage().delete(_key(name))  # another worker writes it again
        raise


jobs.register(KIND, run, restartable=True, error_prefix="档案汇编失败：", server_error="服务器出错，请稍后重新生成",
              interrupted="档案汇编中断（服务重启或失去响应），请重新生成")
