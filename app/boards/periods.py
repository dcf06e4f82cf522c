"""Periods as people speak of them, all whole months inside one calendar year (DOMAIN.md).

A period is written in URLs as a short key:

    2026          the year                    2026-h1 / 2026-h2   上半年 / 下半年
    2026-q3       a quarter                   2026-09             a month
    2026-ytd09    自年初截至9月末 (year to date through a month; the default is through this month)
    2026-ytdq3    自年初截至第三季度末
    2026-05~07    any span of months inside the year (reports: ``--from 2026-05 --to 2026-07``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from app.clock import today_cn
from app.errors import Invalid

CN_QUARTER = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
_KEY = re.compile(r"^(\d{4})(?:-(h[12]|q[1-4]|\d{2}|ytd\d{2}|ytdq[1-4]|\d{2}~\d{2}))?$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    year: int
    first: int  # month 1..12
    last: int
    key: str
    label: str

    @property
    def months(self) -> int:
        return self.last - self.first + 1

    @property
    def month_from(self) -> int:
        return self.year * 100 + self.first

    @property
    def month_to(self) -> int:
        return self.year * 100 + self.last

    @property
    def start(self) -> date:
        return date(self.year, self.first, 1)

    @property
    def end(self) -> date:
        following = date(self.year + 1, 1, 1) if self.last == 12 else date(self.year, self.last + 1, 1)
        return following - timedelta(days=1)

    def previous_month(self) -> Period | None:
        """The same period one month earlier (for the change in rank), None in January."""
        if self.last == 1:
            return None
        first = self.first if self.first < self.last else self.last - 1
        return Period(self.year, first, self.last - 1, f"{self.key}~prev", f"{self.label}（上月）")

    def previous(self) -> Period | None:
        """环比: the period of the same length just before, when it lies in the same year."""
        if self.first - self.months < 1:
            return None
        return span(self.year, self.first - self.months, self.first - 1)

    def previous_across_years(self) -> Period | None:
        """环比 for reports: like :meth:`previous`, and a period starting in January compares with
        the end of the year before (第一季度 → the previous year's 第四季度); None when the period
        before would straddle two years."""
        if (same_year := self.previous()) is not None:
            return same_year
        if self.first == 1:
            return span(self.year - 1, 13 - self.months, 12)
        return None

    def year_earlier(self) -> Period:
        """同比: the same months a year earlier."""
        return span(self.year - 1, self.first, self.last)


def span(year: int, first: int, last: int) -> Period:
    return Period(year, first, last, f"{year}-{first:02d}~{last:02d}", f"{year}年{first}月至{last}月")


def parse(key: str | None, today: date | None = None) -> Period:
    """The period of ``key``; a missing key is this year to date. Bad keys are refused in Chinese."""
    today = today or today_cn()
    if not key:
        return parse(f"{today.year}-ytd{today.month:02d}", today)
    m = _KEY.match(key.strip().lower())
    if not m:
        raise Invalid("统计期间格式不正确", code="bad_period", errors={"period": "请从列表中选择统计期间"})
    year, part = int(m.group(1)), m.group(2)
    if not 2000 <= year <= today.year:
        raise Invalid("统计期间超出范围", code="bad_period", errors={"period": f"年份应在 2000–{today.year} 之间"})
    if part is None:
        first, last, label = 1, 12, f"{year}年"
    elif part in ("h1", "h2"):
        first, last = (1, 6) if part == "h1" else (7, 12)
        label = f"{year}年{'上' if part == 'h1' else '下'}半年"
    elif part.startswith("q"):
        q = int(part[1])
        first, last, label = 3 * q - 2, 3 * q, f"{year}年{CN_QUARTER[q]}"
    elif part.startswith("ytdq"):
        q = int(part[4])
        first, last, label = 1, 3 * q, f"{year}年初至{CN_QUARTER[q]}末"
    elif part.startswith("ytd"):
        last = int(part[3:])
        if not 1 <= last <= 12:
            raise Invalid("统计期间的月份不正确", code="bad_period", errors={"period": "月份应在 1–12 之间"})
        first, label = 1, f"{year}年1月至{last}月"
    elif "~" in part:
        first, last = int(part[:2]), int(part[3:])
        if not 1 <= first <= last <= 12:
            raise Invalid("统计期间的月份不正确", code="bad_period", errors={"period": "起止月份应在 1–12 之间且起不晚于止"})
        label = f"{year}年{first}月" if first == last else span(year, first, last).label
    else:
        first = last = int(part)
        if not 1 <= first <= 12:
            raise Invalid("统计期间的月份不正确", code="bad_period", errors={"period": "月份应在 1–12 之间"})
        label = f"{year}年{first}月"
    if year == today.year and first > today.month:
        raise Invalid("统计期间尚未开始", code="bad_period", errors={"period": "请选择已经开始的期间"})
    return Period(year, first, last, key.strip().lower(), label)


def from_months(first: str, last: str, today: date | None = None) -> Period:
    """The period of the months ``first``..``last`` (YYYY-MM, inclusive), inside one calendar year."""
    a, b = _MONTH.match((first or "").strip()), _MONTH.match((last or "").strip())
    if not a or not b:
        raise Invalid("月份格式应为 YYYY-MM，例如 2026-09", code="bad_period",
                      errors={"from" if not a else "to": "月份格式应为 YYYY-MM"})
    if a.group(1) != b.group(1):
        raise Invalid("起止月份须在同一年内（统计期间不跨年度）", code="bad_period",
                      errors={"to": "请选择与起始月份同一年的月份"})
    return parse(_usual_key(a.group(1), int(a.group(2)), int(b.group(2))), today)


def _usual_key(year: str, first: int, last: int) -> str:
    """The key people pick for these months (2026-01..2026-09 is 2026-ytdq3), else a plain span."""
    if not (1 <= first <= last <= 12):
        return f"{year}-{first:02d}~{last:02d}"  # parse() explains what is wrong
    if first == 1 and last == 12:
        return year
    if first == last:
        return f"{year}-{first:02d}"
    if first % 3 == 1 and last == first + 2:
        return f"{year}-q{last // 3}"
    if (first, last) in ((1, 6), (7, 12)):
        return f"{year}-h{1 if first == 1 else 2}"
    if first == 1:
        return f"{year}-ytdq{last // 3}" if last % 3 == 0 else f"{year}-ytd{last:02d}"
    return f"{year}-{first:02d}~{last:02d}"


def choices(today: date | None = None) -> list[tuple[str, str]]:
    """(key, label) for the period picker: this year's periods first, then last year's."""
    today = today or today_cn()
    out: list[tuple[str, str]] = []
    for year in (today.year, today.year - 1):
        last_month = today.month if year == today.year else 12
        keys = [f"{year}-ytd{last_month:02d}"] if year == today.year else [str(year)]
        keys += [f"{year}-ytdq{q}" for q in range(1, 5) if 3 * q <= last_month and (year < today.year or 3 * q < 12)]
        keys += [f"{year}-q{q}" for q in range(1, 5) if 3 * q - 2 <= last_month]
        keys += [f"{year}-h{h}" for h in (1, 2) if 6 * h - 5 <= last_month]
        keys += [f"{year}-{m:02d}" for m in range(last_month, 0, -1)]
        if year == today.year:
            keys.append(str(year))
        for k in keys:
            p = parse(k, today)
            out.append((p.key, p.label))
    return list(dict.fromkeys(out))
