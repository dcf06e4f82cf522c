"""The boards' rollup: figures kept in step with every change, in the change's own transaction.

``rollup``: per scope (``org``: an organisation's whole subtree, kept at every level of the tree;
``place``: a county, counting what was done there), month (yyyymm), task and indicator, the
verified and the pending sums. ``indicator_id = 0`` holds the number of activities of the task,
so one upsert maintains both figures.

``participation_month``: for each member and month, the verified activities they took part in.

``participation_counter``: for each organisation (every level), calendar year and span of months
``first_month..last_month`` inside it (the 78 spans a year has), the members active in the
subtree at some time in the span and, of them, those who took part in a verified activity in a
month of the span while a member there: 参与率 of any supported period is one row.

``rollup_stamp``: a version per (scope, unit), bumped with every change of its figures: an open
board asks "has unit X moved past version N?" — one indexed row, from any server process.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

SCOPES = ("org", "place")
COUNT = 0  # indicator_id of a task's activity count


class Rollup(SQLModel, table=True):
    __tablename__ = "rollup"
    __table_args__ = (
        CheckConstraint("scope IN ('org', 'place')", name="scope"),
        CheckConstraint("month % 100 BETWEEN 1 AND 12 AND month / 100 = year", name="month_yyyymm"),
        # Key order = a board's read: per unit, the months of each (task, indicator) side by side;
        # on SQLite the key is the table (WITHOUT ROWID), so the read is one covering range scan.
        {"sqlite_with_rowid": False},
    )

    scope: str = Field(sa_column=Column(String(5), primary_key=True))
    unit_id: int = Field(sa_column=Column(Integer, ForeignKey("organisation.id"), primary_key=True))
    year: int = Field(sa_column=Column(Integer, primary_key=True))  # month // 100: a read seeks one year
    task_id: int = Field(sa_column=Column(Integer, ForeignKey("task.id"), primary_key=True))
    indicator_id: int = Field(sa_column=Column(Integer, primary_key=True))  # 0: activity count
    month: int = Field(sa_column=Column(Integer, primary_key=True))
    verified: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    pending: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


class ParticipationMonth(SQLModel, table=True):
    __tablename__ = "participation_month"
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), primary_key=True))
    month: int = Field(sa_column=Column(Integer, primary_key=True))
    activities: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class ParticipationCounter(SQLModel, table=True):
    __tablename__ = "participation_counter"
    __table_args__ = (
        CheckConstraint("first_month BETWEEN 1 AND 12 AND last_month BETWEEN first_month AND 12",
                        name="span"),
    )

    org_id: int = Field(sa_column=Column(Integer, ForeignKey("organisation.id"), primary_key=True))
    year: int = Field(sa_column=Column(Integer, primary_key=True))
    first_month: int = Field(sa_column=Column(Integer, primary_key=True))
    last_month: int = Field(sa_column=Column(Integer, primary_key=True))
    active: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    took_part: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    # 动员面: of the active, those reached (signed in, or delivered a notice) in a month of the span
    # while a member there (member_reach, app/models/notify.py).
    reached: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))


class RollupStamp(SQLModel, table=True):
    __tablename__ = "rollup_stamp"

    scope: str = Field(sa_column=Column(String(5), primary_key=True))
    unit_id: int = Field(sa_column=Column(Integer, primary_key=True))
    version: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
