"""Facts about this database itself (e.g. that it holds 演示数据)."""

from __future__ import annotations

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel


class AppMeta(SQLModel, table=True):
    __tablename__ = "app_meta"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(max_length=500)


DEMO_KEY = "demo"
PROVINCE_KEY = "province_code"
