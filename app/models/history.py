"""汇总录入: past figures imported from old spreadsheets, as aggregate entries.

One row per organisation × indicator × month. A quarter's figure is stored on the quarter's last
month with ``span = 3`` (so a report of that quarter, its half-year or its year shows it whole; a
single month of the quarter other than its last does not). The entries count as verified figures
in the boards' rollup (``org`` scope for the organisation and every ancestor; ``place`` scope too
when the organisation is a county) but never in 参与率: no member took part in them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.models.base import UtcDateTime, utcnow


class HistoryEntry(SQLModel, table=True):
    __tablename__ = "history_entry"
    __table_args__ = (
        # A re-import of the same sheet updates or keeps the row, never adds a second one.
        UniqueConstraint("org_id", "indicator_id", "month"),
        CheckConstraint("value >= 0", name="value_non_negative"),
        CheckConstraint("month % 100 BETWEEN 1 AND 12 AND month > 200000", name="month_yyyymm"),
        CheckConstraint("span IN (1, 3) AND (span = 1 OR month % 100 IN (3, 6, 9, 12))", name="span"),
        # The indicator must belong to the entry's task (the rollup is keyed by task).
        ForeignKeyConstraint(["indicator_id", "task_id"], ["indicator.id", "indicator.task_id"]),
        Index("ix_history_entry_indicator_id", "indicator_id"),
        Index("ix_history_entry_month", "month"),
    )

    id: int = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    task_id: int = Field(foreign_key="task.id")
    indicator_id: int = Field(sa_column=Column(Integer, nullable=False))
    month: int  # yyyymm; a quarter's last month when span = 3
    span: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))  # 1 month or 3 (quarter)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))  # money: hundredths of 万元
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
