"""Background jobs: work taken off the request (exports, import checks and commits), run by any
process's worker, with its inputs, progress, lease and outcome in one row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, in_list, utcnow

JOB_STATES = ("queued", "running", "done", "failed")


class BackgroundJob(SQLModel, table=True):
    """One job: what to do (``kind`` + ``params``), for whom, how far, who holds it, how it ended.

    Everything a worker needs is in the row — the process that accepted the job need not be the
    one that runs it. ``lease_owner`` names the worker holding a running job and ``heartbeat_at``
    says when it last proved alive; a lease silent for a minute is taken back (app/jobs/service.py).
    """

    __tablename__ = "background_job"
    __table_args__ = (
        CheckConstraint(in_list("status", JOB_STATES), name="status"),
        CheckConstraint("progress_done >= 0", name="progress_done_non_negative"),
        Index("ix_background_job_status_id", "status", "id"),  # the workers' claim and the stale sweep
        Index("ix_background_job_user_id_created_at", "user_id", "created_at"),  # "my recent jobs"
        # Finished import jobs are deleted after a day; SQLite would hand the highest id out again,
        # and an old link would show its owner a newer job.
        {"sqlite_autoincrement": True},
    )

    id: int = Field(default=None, primary_key=True)
    # The handler's name (e.g. "activities.xlsx", "import.preview"); no CHECK: handlers register in code.
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    user_id: int = Field(foreign_key="user_account.id")  # the owner: the only one who sees the job
    org_id: int | None = Field(default=None, foreign_key="organisation.id")  # the scope, when it has one
    status: str = Field(default="queued", sa_column=Column(String(8), nullable=False, default="queued"))
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # JSON: the inputs
    progress_done: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    progress_total: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    stage: str | None = Field(default=None, max_length=64)  # a short Chinese word on what it is doing
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON: what it found
    file_name: str | None = Field(default=None, max_length=200)  # an output file, under its feature's folder
    error: str | None = Field(default=None, max_length=500)  # in Chinese, for the owner
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    lease_owner: str | None = Field(default=None, max_length=80)  # host:pid:token of the worker running it
    heartbeat_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
