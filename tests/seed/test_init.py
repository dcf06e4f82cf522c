"""`init` loads the real province and the catalogue, and nothing invented."""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.db import make_engine, write_session
from app.models import BoostArea, Indicator, Member, Organisation, Site, Task, UserAccount
from app.seed.province import init_province


def _count(s, model, *where):
    return s.scalar(select(func.count()).select_from(model).where(*where))


def test_init_loads_divisions_and_catalogue(fresh_url):
    engine = make_engine(fresh_url)
    try:
        with write_session(engine) as s:
            result = init_province(s, "53")
            s.commit()
        assert (result.organisations, result.towns, result.villages) == (146, 1461, 14888)
        with write_session(engine) as s:
            levels = dict(s.execute(select(Organisation.level, func.count()).group_by(Organisation.level)).all())
            assert levels == {"province": 1, "prefecture": 16, "county": 129}
            assert _count(s, Site, Site.kind == "town") == 1461
            assert _count(s, Site, Site.kind == "village") == 14888
            assert (_count(s, BoostArea), _count(s, Task), _count(s, Indicator)) == (5, 10, 35)
            # 18 of them outcomes (成效): 受益群众 on every task, 带动就业 on 4, 带动增收 on 4.
            assert _count(s, Indicator, Indicator.is_outcome.is_(True)) == 18
            # Codes padded to six digits; names from the divisions.
            assert s.scalar(select(Organisation.name).where(Organisation.code == "530000")) == "云南省政协"
            assert s.scalar(select(Organisation.name).where(Organisation.code == "530100")) == "昆明市政协"
            assert _count(s, Organisation, func.length(Organisation.code) != 6) == 0
            # A village lies in the same county as its town.
            mismatched = s.execute(text(
                "SELECT count(*) FROM site v JOIN site t ON v.parent_id = t.id WHERE v.county_id <> t.county_id"
            )).scalar_one()
            assert mismatched == 0
            # Nothing invented: no people, no accounts, no key-county flags.
            assert _count(s, Member) == 0 and _count(s, UserAccount) == 0
            assert _count(s, Organisation, Organisation.is_key_county.is_(True)) == 0
            # Idempotent.
            again = init_province(s, "53")
            s.commit()
            assert again.already_loaded
            assert _count(s, Organisation) == 146 and _count(s, Indicator) == 35
    finally:
        engine.dispose()
