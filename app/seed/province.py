"""`init`: the real starting point of a deployment — a province's divisions and the catalogue.

Nothing here is invented: organisations from the GB/T 2260 divisions (州市 and 县级 政协 are named
after their division), towns and villages as sites, and the campaign catalogue of app/data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from app.catalogue.service import load_catalogue
from app.clock import now_utc
from app.models import AppMeta, Organisation, OrgLevel, SiteKind
from app.models.meta import PROVINCE_KEY
from app.orgs.service import closure_rows, pad_code
from app.seed.bulk import bulk_insert, db_datetime, next_id, sync_sequence

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PROVINCE_DIRS = {"53": DATA_DIR / "yunnan"}


@dataclass
class InitResult:
    organisations: int = 0
    towns: int = 0
    villages: int = 0
    already_loaded: bool = False


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def init_province(session: Session, province: str = "53") -> InitResult:
    """Load the divisions of ``province`` and the catalogue; a no-op when already loaded.

    Flushes only: the caller commits, so a failure leaves nothing half-written.
    """
    if province not in PROVINCE_DIRS:
        raise ValueError(f"没有省份 {province} 的区划数据（可用：{', '.join(PROVINCE_DIRS)}）")
    data_dir = PROVINCE_DIRS[province]
    result = InitResult()
    province_code = pad_code(province)
    root = session.scalar(select(Organisation).where(Organisation.code == province_code))
    if root is not None:
        result.already_loaded = True
    else:
        _load_divisions(session, data_dir, result)
        root = session.scalar(select(Organisation).where(Organisation.code == province_code))
    load_catalogue(session, owner=root)
    if session.get(AppMeta, PROVINCE_KEY) is None:
        session.add(AppMeta(key=PROVINCE_KEY, value=province_code))
    session.flush()
    return result


def _load_divisions(session: Session, data_dir: Path, result: InitResult) -> None:
    conn = session.connection()
    divisions = _read(data_dir / "divisions.csv")
    if session.scalar(select(func.count()).select_from(Organisation)):
        raise ValueError("数据库中已有其他省份的组织，不能再载入另一个省")

    # Parents come before children in the file; assign ids up front so closure rows can be
    # computed in memory and everything goes in with three bulk statements.
    first = next_id(conn, "organisation")
    id_of: dict[str, int] = {}
    org_rows, parents = [], []
    for offset, row in enumerate(sorted(divisions, key=lambda r: (len(r["code"]), r["code"]))):
        code = pad_code(row["code"])
        org_id = first + offset
        id_of[code] = org_id
        parent_id = id_of[pad_code(row["parent_code"])] if row["parent_code"] else None
        level = OrgLevel(row["level"])
        org_rows.append((org_id, code, _org_name(row["name"], level), level.value, parent_id, False))
        parents.append((org_id, parent_id))
    created = db_datetime(conn, now_utc())
    bulk_insert(
        conn, "organisation",
        ("id", "code", "name", "level", "parent_id", "is_key_county", "created_at"),
        [(*r, created) for r in org_rows],
    )
    bulk_insert(conn, "org_closure", ("ancestor_id", "descendant_id", "depth"), closure_rows(parents))
    sync_sequence(conn, "organisation")
    result.organisations = len(org_rows)

    site_id = next_id(conn, "site")
    town_id: dict[str, tuple[int, int]] = {}
    town_rows = []
    for row in _read(data_dir / "towns.csv"):
        county = id_of[row["county_code"]]
        town_id[row["code"]] = (site_id, county)
        town_rows.append((site_id, row["code"], row["name"], SiteKind.town.value, county, None, created))
        site_id += 1
    village_rows = []
    for row in _read(data_dir / "villages.csv"):
        parent, county = town_id[row["town_code"]]
        village_rows.append((site_id, row["code"], row["name"], SiteKind.village.value, county, parent, created))
        site_id += 1
    cols = ("id", "code", "name", "kind", "county_id", "parent_id", "created_at")
    result.towns = bulk_insert(conn, "site", cols, town_rows)
    result.villages = bulk_insert(conn, "site", cols, village_rows)
    sync_sequence(conn, "site")
    # Objects loaded before the bulk statements must not hide the new rows.
    session.expire_all()


def _org_name(division: str, level: OrgLevel) -> str:
    """The 政协 of a division: 云南省 → 云南省政协, 昆明市 → 昆明市政协."""
    return f"{division}政协"

