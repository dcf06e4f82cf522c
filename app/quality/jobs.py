"""Recomputing the flags of a subtree's pending activities after a rule change, off the request.

Measured on the demo province (1,351 pending activities, SQLite): recomputing them all in one
transaction took 6–8 s — over the request budget, and on SQLite it would hold the only write lock
that long. So a rule change queues a ``quality.recompute`` job (app/jobs/service.py) in its own
transaction, and the job recomputes in short batches, each committed on its own, so recording and
review go on in between. Recomputing is idempotent: a job that lost its worker simply runs again.
The CLI (``python -m app quality recompute``) runs the same batches in the foreground.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from app.jobs import service as jobs
from app.models import Activity, ActivityStatus, BackgroundJob
from app.quality.flags import pending_ids, recompute

KIND = "quality.recompute"
BATCH = 100  # about half a second of one writer's time per batch on the demo


def recompute_in_batches(read: Callable[[], AbstractContextManager[Session]],
                         write: Callable[[], AbstractContextManager[Session]], org_id: int, *,
                         on_batch: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Recompute the flags of the subtree's pending activities, BATCH at a time, each batch its own
    committed transaction. Returns (how many were pending, how many activities' flags changed)."""
    with read() as s:
        ids = pending_ids(s, org_id)
    changed = 0
    for start in range(0, len(ids), BATCH):
        batch: Sequence[int] = ids[start:start + BATCH]
        with write() as s:
            # An item verified or withdrawn since the list was read is no longer judged by the rules.
            still = list(s.scalars(select(Activity.id).where(Activity.id.in_(batch),
                                                             Activity.status == ActivityStatus.pending)))
            changed += recompute(s, still)
            s.commit()
        if on_batch is not None:
            on_batch(start + len(batch), len(ids))
    return len(ids), changed


def queue(session: Session, *, org_id: int, user_id: int) -> None:
    """Queue the recompute of ``org_id``'s subtree in the caller's transaction (the caller commits,
    then calls ``jobs.wake()``); a job for the same subtree still waiting in the queue covers it."""
    waiting = session.scalar(select(BackgroundJob.id).where(
        BackgroundJob.kind == KIND, BackgroundJob.status == "queued", BackgroundJob.org_id == org_id).limit(1))
    if waiting is None:
        jobs.submit(session, kind=KIND, user_id=user_id, params={"org_id": org_id}, org_id=org_id)


@dataclass(frozen=True)
class Progress:
    """How the subtree's latest recompute went (the rules page says it)."""

    status: str  # queued | running | done | failed
    done: int
    total: int | None
    pending: int  # done: how many pending activities were looked at
    changed: int  # done: how many of them had their flags changed
    error: str | None


def latest(session: Session, org_id: int) -> Progress | None:
    job = session.scalar(select(BackgroundJob).where(BackgroundJob.kind == KIND, BackgroundJob.org_id == org_id)
                         .order_by(BackgroundJob.id.desc()).limit(1))
    if job is None:
        return None
    result = jobs.result_of(job)
    return Progress(job.status, job.progress_done, job.progress_total, int(result.get("pending", 0)),
                    int(result.get("changed", 0)), job.error)


def _run(ctx: jobs.JobContext) -> None:
    def progress(done: int, total: int) -> None:
        ctx.progress(done, total)

    pending, changed = recompute_in_batches(ctx.read, ctx.write, int(ctx.params["org_id"]), on_batch=progress)
    ctx.finish(result={"pending": pending, "changed": changed})


jobs.register(KIND, _run, restartable=True, error_prefix="更新提示失败：")
