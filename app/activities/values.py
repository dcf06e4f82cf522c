"""Indicator values: typed text to stored integers (money in hundredths of 万元) and back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from app.errors import Invalid
from app.models import (
    Indicator,
    IndicatorKind,
)

MAX_COUNT = 1_000_000_000
MAX_MONEY_HUNDREDTHS = 1_000_000_000  # 1000 万万元: anything larger is a typo
_MONEY = re.compile(r"^\d+(\.\d{1,2})?$")
_COUNT = re.compile(r"^\d+$")
_FULLWIDTH = {0xFF10 + d: ord("0") + d for d in range(10)} | {0xFF0E: ord("."), 0x3002: ord("."), 0xFF0C: ord(",")}


# --- values -------------------------------------------------------------------------------------

def parse_value(indicator: Indicator, raw: str | int | None) -> int | None:
    """A typed value as the stored integer (money → hundredths of 万元); None when left empty."""
    if raw is None:
        return None
    text = str(raw).translate(_FULLWIDTH).replace(",", "").replace(" ", "").strip()
    if text == "":
        return None
    if indicator.kind == IndicatorKind.count:
        if not _COUNT.match(text):
            raise Invalid(f"{indicator.name}：请填写不小于 0 的整数（单位：{indicator.unit}）")
        value = int(text)
        if value > MAX_COUNT:
            raise Invalid(f"{indicator.name}：数值过大，请核对")
        return value
    if not _MONEY.match(text):
        raise Invalid(f"{indicator.name}：请填写金额，单位万元，最多两位小数（如 8 或 12.5）")
    try:
        value = int(Decimal(text) * 100)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes these
        raise Invalid(f"{indicator.name}：金额格式不正确") from exc
    if value > MAX_MONEY_HUNDREDTHS:
        raise Invalid(f"{indicator.name}：金额过大，请核对（单位是万元）")
    return value


def display_value(kind: IndicatorKind | str, value: int) -> str:
    if kind == IndicatorKind.money:
        whole, frac = divmod(value, 100)
        return f"{whole}" if frac == 0 else f"{whole}.{frac:02d}".rstrip("0")
    return str(value)


def parse_values(indicators: Mapping[int, Any], raw: dict[int, str]) -> dict[int, int]:
    """The stored values of ``raw`` (indicator → typed text) for a 实事 whose indicators the
    organisation works with are ``indicators`` (anything with id, name, unit, kind, is_outcome).

    At least one effort figure must be above zero; outcomes (成效) are optional and never make up for
    one (a task with outcome indicators only needs any value)."""
    unknown = set(raw) - set(indicators)
    if unknown:
        raise Invalid("有指标不属于所选实事，请刷新页面后重新填写", code="indicator_not_in_task")
    values, errors = {}, {}
    for ind_id, text in raw.items():
        try:
            parsed = parse_value(indicators[ind_id], text)
        except Invalid as exc:
            errors[f"value_{ind_id}"] = exc.message
            continue
        if parsed is not None:
            values[ind_id] = parsed
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    effort = {i for i, row in indicators.items() if not row.is_outcome} or set(indicators)
    if not any(v > 0 for i, v in values.items() if i in effort):
        raise Invalid("请至少填写一项指标数值（成效为选填，不能代替工作指标）",
                      errors={"values": "请至少填写一项工作指标数值"})
    return values
