"""Helpers for import tests: templates filled like a person would, the personas' principals."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pytest
from openpyxl import load_workbook

from app.auth.service import build_principal
from app.config import get_settings
from app.imports import service
from app.imports.base import SHEET_TITLE, get_kind, template
from tests import factories as f


def fill(session, by, kind: str, rows: Sequence[Sequence], *, keep_example: bool = True) -> bytes:
    """The kind's own template with ``rows`` typed under the example row (cells in template order)."""
    wb = load_workbook(io.BytesIO(template(get_kind(kind), session, by)))
    ws = wb[SHEET_TITLE]
    first = 3 if keep_example else 2
    if not keep_example:
        for cell in ws[2]:
            cell.value = None
    for r, values in enumerate(rows, start=first):
        for c, value in enumerate(values, start=1):
            ws.cell(row=r, column=c, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_csv(rows: Sequence[Sequence], *, bom: bool = True, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def headers(kind: str) -> list[str]:
    return [c.header for c in get_kind(kind).columns]


class World:
    def __init__(self, session):
        self.session = session
        self.province, self.kunming = f.org(session, "530000"), f.org(session, "530100")
        self.wuhua, self.panlong, self.qujing = f.org(session, "530102"), f.org(session, "530103"), f.org(session, "530300")
        self.admin = build_principal(session, f.persona(session, "province_admin"), ip="test")
        self.prefecture_staff = build_principal(session, f.persona(session, "prefecture_staff"), ip="test")
        self.county_staff = build_principal(session, f.persona(session, "county_staff"), ip="test")
        self.outsider = build_principal(session, f.persona(session, "outsider_staff"), ip="test")
        self.viewer = build_principal(session, f.persona(session, "viewer"), ip="test")

    def preview(self, by, kind, data, name="f.xlsx"):
        return service.preview(self.session, by, kind, data, name)

    def commit(self, by, kind, data, name="f.xlsx"):
        plan = self.preview(by, kind, data, name)
        return service.commit(self.session, by, kind, data, name, identity=plan.identity())


@pytest.fixture
def world(session) -> World:
    return World(session)


@pytest.fixture(autouse=True)
def uploads_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield tmp_path / "uploads"
    get_settings.cache_clear()
