"""ECharts options for the boards, built as plain data (no database, no HTML).

A page embeds an option as JSON in a ``[data-chart]`` element and static/js/charts.js draws it:

    <div data-chart id="trend">
      <script type="application/json">{{ option|tojson }}</script>
    </div>

(``tojson`` escapes ``<``, ``>`` and ``&``, so a name can never close the script element.)
charts.js adds what every chart shares — the SVG renderer, the Chinese locale, ARIA with decal
patterns, the page's font — so the options here carry only what differs per chart, and they
must stay JSON: no JavaScript functions, which is why per-item texts are template strings.

Names are text, never HTML. ECharts draws labels, legends and axes as SVG text, but it inserts a
tooltip ``formatter`` string into the page as HTML; so no option here carries a tooltip formatter
string: an item's tooltip is ``{"text": …}`` and charts.js turns it into a formatter that
HTML-encodes it (``escapeHtml``).

Every chart is readable without colour alone: line series differ by symbol and dash, bars by
decal pattern (charts.js), and the map writes each prefecture's percentage on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Shapes and dashes cycle through the series so that lines differ in print and for colour-blind eyes.
SYMBOLS = ("circle", "rect", "triangle", "diamond", "pin", "arrow", "roundRect")
LINE_TYPES = ("solid", "dashed", "dotted")

SCORE_CAP = 1.5  # a progress score counts at most 150% (DOMAIN.md, "Pace and lag")
BEHIND_PACE = 0.9  # under 90% of the pro-rated target is behind pace
NO_DATA_COLOUR = "#eaecf0"
# (from %, to %, label, colour): the map's legend, in the meeting's words.
PROGRESS_PIECES = (
    (0, 60, "明显滞后（低于60%）", "#f97066"),
    (60, 90, "滞后（60%–90%）", "#fdb022"),
    (90, 100, "接近进度（90%–100%）", "#a6ef67"),
    (100, 150, "达到进度（100%及以上）", "#3ccb7f"),
)
# Hatching on the regions behind pace: the second way, besides the number, to see them in grey.
BEHIND_DECAL = {"symbol": "rect", "symbolSize": 1, "dashArrayX": [1, 0], "dashArrayY": [2, 4],
                "rotation": -0.7854, "color": "rgba(0, 0, 0, 0.35)"}


def month_label(yyyymm: int, *, with_year: bool = False) -> str:
    """202603 → "3月" (or "2026年3月")."""
    year, month = divmod(int(yyyymm), 100)
    if not 1 <= month <= 12:
        raise ValueError(f"not a yyyymm month: {yyyymm!r}")
    return f"{year}年{month}月" if with_year else f"{month}月"


def month_labels(months: Sequence[int]) -> list[str]:
    """Chinese axis labels; when the months span years, the first and each January say the year."""
    spans_years = len({m // 100 for m in months}) > 1
    return [month_label(m, with_year=spans_years and (i == 0 or m % 100 == 1)) for i, m in enumerate(months)]


def trend_option(months: Sequence[int], series: Mapping[str, Sequence[int | float]], *,
                 kind: str = "line", unit: str = "", title: str = "") -> dict:
    """A monthly trend, one line (or bar group) per series, e.g. per boost area.

    ``months`` are yyyymm in order; ``series`` maps a label to one value per month (display
    units: a money figure arrives already in 万元). ``unit`` names the value axis (次, 万元 …).
    """
    if kind not in ("line", "bar"):
        raise ValueError(f"kind must be 'line' or 'bar', not {kind!r}")
    for label, values in series.items():
        if len(values) != len(months):
            raise ValueError(f"series {label!r} has {len(values)} values for {len(months)} months")
    whole = all(isinstance(v, int) for values in series.values() for v in values)
    items = []
    for i, (label, values) in enumerate(series.items()):
        item: dict = {"name": label, "type": kind, "data": list(values), "emphasis": {"focus": "series"}}
        if kind == "line":
            item |= {"symbol": SYMBOLS[i % len(SYMBOLS)], "symbolSize": 8,
                     "lineStyle": {"width": 2, "type": LINE_TYPES[i % len(LINE_TYPES)]}}
        else:
            item["barMaxWidth"] = 28
        items.append(item)
    option: dict = {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 0, "data": list(series)},
        "grid": {"left": 8, "right": 16, "top": 48 if not title else 72, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": month_labels(months), "boundaryGap": kind == "bar"},
        "yAxis": {"type": "value", "name": unit, "minInterval": 1 if whole else 0},
        "series": items,
    }
    if title:
        option["title"] = {"text": title, "left": "center", "top": 0}
        option["legend"]["top"] = 32
    return option


# The peoples named in the 州's official names: 红河哈尼族彝族自治州 is called 红河州 in speech.
_AUTONOMOUS = re.compile(
    r"^(.+?)(?:(?:哈尼|彝|壮|苗|傣|景颇|白|傈僳|藏|纳西|拉祜|佤|布朗|独龙|普米|怒|阿昌|基诺|德昂|瑶|回|蒙古|布依|水|侗|土家)族)+自治州$"
)


def short_name(name: str) -> str:
    """The name said in meetings and short enough to write on a map: 红河哈尼族彝族自治州 → 红河州."""
    found = _AUTONOMOUS.match(name)
    return f"{found.group(1)}州" if found else name


def percent(score: float | None) -> int | None:
    """A progress score (1.0 = on pace) as a whole percentage, capped at 150."""
    if score is None:
        return None
    return round(min(max(float(score), 0.0), SCORE_CAP) * 100)


def progress_label(score: float | None) -> str:
    value = percent(score)
    return "无目标" if value is None else f"{value}%"


def progress_map_option(values: Mapping[str, float | None], names: Mapping[str, str], *,
                        title: str = "", map_name: str = "yunnan") -> dict:
    """The 州市 coloured by progress score, each with its name and percentage written on it.

    ``values`` maps a prefecture's six-digit code to its progress score as a ratio (1.0 = on
    pace; capped at 150%), or None when it has no targets; ``names`` maps codes to their names
    (shortened on the map itself, in full in the tooltip). The map's regions are named by code
    (static/data/yunnan-prefectures.geojson).
    """
    data = []
    described = []
    for code in sorted(names):
        name, score = names[code], values.get(code)
        value, label = percent(score), progress_label(score)
        item: dict = {
            "name": code,
            "value": value,
            # Text too, not a label template: ECharts would read ``{b}`` or ``{c}`` in a name as its own.
            "label": {"show": True, "text": f"{short_name(name)}\n{label}"},
            # Plain text, never an HTML template: charts.js encodes it into the tooltip (an
            # organisation's name is whatever an import said, ``<img onerror=…>`` included).
            "tooltip": {"text": f"{name}：{'推进进度 ' + label if value is not None else label}"},
        }
        if value is None:
            item["itemStyle"] = {"areaColor": NO_DATA_COLOUR}
        elif score is not None and score < BEHIND_PACE:
            item["itemStyle"] = {"decal": BEHIND_DECAL}
        data.append(item)
        described.append(f"{name}{label}")
    option: dict = {
        "tooltip": {"trigger": "item"},
        "visualMap": {
            "type": "piecewise", "left": 0, "bottom": 0, "orient": "vertical", "itemGap": 6,
            "pieces": [{"gte": lo, "lt": hi, "label": text, "color": colour} if hi < 150 else
                       {"gte": lo, "lte": hi, "label": text, "color": colour}
                       for lo, hi, text, colour in PROGRESS_PIECES],
            "textStyle": {"fontSize": 12},
        },
        "series": [{
            "type": "map", "map": map_name, "roam": False, "selectedMode": False,
            "layoutCenter": ["55%", "50%"], "layoutSize": "95%",
            # A white halo keeps the names legible on the hatching and on every colour.
            "label": {"show": False, "fontSize": 11, "lineHeight": 14, "color": "#1f2328",
                      "textBorderColor": "#ffffff", "textBorderWidth": 2},
            "emphasis": {"label": {"show": True}},
            "itemStyle": {"areaColor": NO_DATA_COLOUR, "borderColor": "#ffffff", "borderWidth": 1},
            "data": data,
        }],
        # ARIA's automatic decals would hatch the whole map alike (one series): only the regions
        # behind pace carry a pattern, set above.
        "aria": {"decal": {"show": False},
                 "label": {"description": "各州市推进进度（按进度得分，达到进度为100%）：" + "，".join(described) + "。"}},
    }
    if title:
        option["title"] = {"text": title, "left": "center", "top": 0}
    # On a phone (static/css: a taller box) the map goes on top and the legend under it.
    option["media"] = [{"query": {"maxWidth": 560}, "option": {
        "visualMap": {"left": 0, "bottom": 0, "itemWidth": 14, "itemHeight": 10,
                      "textStyle": {"fontSize": 11}},
        "series": [{"layoutCenter": ["50%", "40%"], "layoutSize": "100%",
                    "label": {"fontSize": 10, "lineHeight": 12}}],
    }}]
    return option
