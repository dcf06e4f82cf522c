"""Chart options (pure data), the decoded prefecture map, and the vendored assets they rely on."""

from __future__ import annotations

import hashlib
import itertools
import json
import re

import pytest

from app.boards.charts import (
    BEHIND_DECAL,
    month_labels,
    percent,
    progress_map_option,
    short_name,
    trend_option,
)
from app.config import PROJECT_ROOT

pytestmark = pytest.mark.dates

STATIC = PROJECT_ROOT / "static"
GEOJSON = STATIC / "data" / "yunnan-prefectures.geojson"
# The encoded source, copied into the repository with its attribution (app/data/yunnan/README.md).
SHARED_MAP = PROJECT_ROOT / "app" / "data" / "yunnan" / "prefectures-map.json"
PREFECTURES = {"530100": "昆明市", "530300": "曲靖市", "530400": "玉溪市", "530500": "保山市", "530600": "昭通市",
               "530700": "丽江市", "530800": "普洱市", "530900": "临沧市", "532300": "楚雄彝族自治州",
               "532500": "红河哈尼族彝族自治州", "532600": "文山壮族苗族自治州", "532800": "西双版纳傣族自治州",
               "532900": "大理白族自治州", "533100": "德宏傣族景颇族自治州", "533300": "怒江傈僳族自治州",
               "533400": "迪庆藏族自治州"}


def _round_trip(option: dict) -> dict:
    """What the page embeds and charts.js parses: strict JSON, no NaN, no functions."""
    return json.loads(json.dumps(option, ensure_ascii=False, allow_nan=False))


# --- the trend ----------------------------------------------------------------------------------

def test_trend_has_chinese_months_a_legend_and_the_values():
    option = _round_trip(trend_option([202601, 202602, 202603], {"助推乡村产业发展": [3, 0, 5], "助推脱贫群众就业": [1, 2, 0]},
                                      unit="次"))
    assert option["xAxis"]["data"] == ["1月", "2月", "3月"]
    assert option["legend"]["data"] == ["助推乡村产业发展", "助推脱贫群众就业"]
    assert [s["name"] for s in option["series"]] == ["助推乡村产业发展", "助推脱贫群众就业"]
    assert [s["data"] for s in option["series"]] == [[3, 0, 5], [1, 2, 0]]
    assert option["tooltip"]["trigger"] == "axis" and option["yAxis"]["name"] == "次"
    assert option["yAxis"]["minInterval"] == 1  # counts: no 0.5 activities on the axis


def test_trend_lines_differ_without_colour():
    option = trend_option([202601], {name: [1] for name in "ABCD"})
    symbols = [s["symbol"] for s in option["series"]]
    dashes = [s["lineStyle"]["type"] for s in option["series"]]
    assert len(set(symbols)) == 4 and len(set(dashes)) == 3


def test_trend_as_bars_and_with_money():
    option = _round_trip(trend_option([202601, 202602], {"投入资金": [12.5, 3]}, kind="bar", unit="万元", title="投入"))
    assert option["series"][0]["type"] == "bar" and option["xAxis"]["boundaryGap"] is True
    assert option["yAxis"]["minInterval"] == 0 and option["title"]["text"] == "投入"


def test_months_across_a_new_year_say_the_year():
    assert month_labels([202511, 202512, 202601, 202602]) == ["2025年11月", "12月", "2026年1月", "2月"]
    assert month_labels([]) == []


def test_trend_refuses_mismatched_input():
    with pytest.raises(ValueError):
        trend_option([202601, 202602], {"A": [1]})
    with pytest.raises(ValueError):
        trend_option([202613], {"A": [1]})
    with pytest.raises(ValueError):
        trend_option([202601], {"A": [1]}, kind="pie")


# --- the map --------------------------------------------------------------------------------------

def test_the_map_colours_by_code_and_writes_each_percentage():
    values = {"530100": 1.234, "530300": 0.5, "530400": 2.0, "530500": 0.95}
    option = _round_trip(progress_map_option(values, PREFECTURES))
    series = option["series"][0]
    assert series["type"] == "map" and series["map"] == "yunnan"
    by_code = {item["name"]: item for item in series["data"]}
    assert set(by_code) == set(PREFECTURES)  # every prefecture, named by its code
    assert by_code["530100"]["value"] == 123 and by_code["530100"]["label"]["text"] == "昆明市\n123%"
    assert by_code["530400"]["value"] == 150  # capped at 150%
    assert by_code["530300"]["label"]["text"] == "曲靖市\n50%"
    assert "曲靖市" in by_code["530300"]["tooltip"]["text"] and "50%" in by_code["530300"]["tooltip"]["text"]
    # No targets: no colour from the scale, and the label says so.
    assert by_code["530600"]["value"] is None and by_code["530600"]["label"]["text"] == "昭通市\n无目标"
    # Behind pace (< 90%) is hatched as well as coloured; on pace is not.
    assert by_code["530300"]["itemStyle"]["decal"] == BEHIND_DECAL
    assert "itemStyle" not in by_code["530500"]
    assert option["aria"]["decal"] == {"show": False}  # not one pattern over the whole map
    assert "昆明市123%" in option["aria"]["label"]["description"]


def test_the_legend_covers_0_to_150_in_words():
    pieces = progress_map_option({}, PREFECTURES)["visualMap"]["pieces"]
    assert pieces[0]["gte"] == 0 and pieces[-1]["lte"] == 150
    assert all(a["lt"] == b["gte"] for a, b in itertools.pairwise(pieces))
    assert all(re.search(r"[\u4e00-\u9fff]", p["label"]) for p in pieces)


def test_percent_rounds_and_caps():
    assert (percent(None), percent(0), percent(0.899), percent(1), percent(7)) == (None, 0, 90, 100, 150)
    assert percent(-0.2) == 0


def test_the_map_writes_the_names_said_in_meetings():
    assert [short_name(PREFECTURES[c]) for c in ("530100", "532500", "532800", "533300", "533400", "532900")] == \
        ["昆明市", "红河州", "西双版纳州", "怒江州", "迪庆州", "大理州"]
    labels = {i["name"]: i["label"]["text"] for i in progress_map_option({"532500": 1}, PREFECTURES)["series"][0]["data"]}
    assert labels["532500"] == "红河州\n100%" and labels["532600"] == "文山州\n无目标"
    tooltip = progress_map_option({"532500": 1}, PREFECTURES)["series"][0]["data"][9]["tooltip"]["text"]
    assert tooltip == "红河哈尼族彝族自治州：推进进度 100%"


HOSTILE = '大理<img src=x onerror="window.__xss=1">州'


def _tooltips(node):
    """Every ``tooltip`` object anywhere in an option."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "tooltip" and isinstance(value, dict):
                yield value
            yield from _tooltips(value)
    elif isinstance(node, list):
        for value in node:
            yield from _tooltips(value)


def test_a_hostile_name_reaches_the_charts_as_text_never_as_a_tooltip_html_template():
    """ECharts puts a tooltip formatter string into the page as HTML: no option may carry one with a
    name in it (issue 15: an organisation renamed ``<img onerror=…>`` ran script on hover)."""
    names = dict(PREFECTURES, **{"532900": HOSTILE})
    options = [progress_map_option({"532900": 0.5}, names),
               trend_option([202601, 202602], {HOSTILE: [1, 2]}, kind="bar")]
    for option in options:
        assert all("formatter" not in tip for tip in _tooltips(option)), "a tooltip formatter string is HTML"
    item = next(i for i in options[0]["series"][0]["data"] if i["name"] == "532900")
    assert item["tooltip"] == {"text": f"{HOSTILE}：推进进度 50%"}  # plain text, encoded by charts.js
    assert "function escapeHtml" in (PROJECT_ROOT / "static/js/charts.js").read_text()


def test_a_name_holding_label_template_markers_is_label_text_not_a_template():
    """A label ``formatter`` string is an ECharts template ({b} the region, {c} the value): a name
    holding those would show something else. Labels go as text; charts.js returns it as it is."""
    option = progress_map_option({"532900": 0.5}, dict(PREFECTURES, **{"532900": "大理{b}{c}州"}))
    item = next(i for i in option["series"][0]["data"] if i["name"] == "532900")
    assert item["label"] == {"show": True, "text": "大理{b}{c}州\n50%"} and "formatter" not in item["label"]


# --- the map data ---------------------------------------------------------------------------------

def _points(feature: dict):
    geometry = feature["geometry"]
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    for polygon in polygons:
        for ring in polygon:
            yield from ring


def test_the_decoded_map_has_the_16_prefectures_by_code():
    collection = json.loads(GEOJSON.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection" and "UTF8Encoding" not in collection
    features = {f["id"]: f for f in collection["features"]}
    assert set(features) == set(PREFECTURES)
    for code, feature in features.items():
        assert feature["properties"]["name"] == code and feature["properties"]["fullname"] == PREFECTURES[code]
        points = list(_points(feature))
        assert len(points) > 50
        assert all(97.3 < x < 106.3 and 21.0 < y < 29.4 for x, y in points)  # inside 云南
        assert all(len(str(x).split(".")[-1]) <= 4 for x, _ in points[:200])
        lng, lat = feature["properties"]["cp"]
        assert 97.3 < lng < 106.3 and 21.0 < lat < 29.4


def test_the_decoder_reverses_echarts_encoding():
    from scripts.decode_echarts_geo import decode

    def encode(points, scale=1024):
        # ECharts' encoder: quantise, delta from the previous point, zig-zag, +64 as a character.
        quantised = [(round(x * scale), round(y * scale)) for x, y in points]
        prev, chars = quantised[0], []
        for x, y in quantised:
            for delta in (x - prev[0], y - prev[1]):
                chars.append(chr(((delta << 1) ^ (delta >> 31)) + 64))
            prev = (x, y)
        return "".join(chars), list(quantised[0])

    ring = [(102.5, 25.0), (102.75, 25.125), (102.5, 25.25), (102.5, 25.0)]
    text, offset = encode(ring)
    source = {"type": "FeatureCollection", "UTF8Encoding": True, "features": [
        {"id": "5301", "type": "Feature", "properties": {"name": "昆明市", "cp": [102.7, 25.0]},
         "geometry": {"type": "Polygon", "coordinates": [text], "encodeOffsets": [offset]}}]}
    [feature] = decode(source)["features"]
    assert feature["id"] == "530100" and feature["properties"]["fullname"] == "昆明市"
    assert feature["geometry"]["coordinates"] == [[list(p) for p in ring]]


def test_the_committed_map_is_the_decoded_source():
    from scripts.decode_echarts_geo import decode

    decoded = decode(json.loads(SHARED_MAP.read_text(encoding="utf-8")))
    assert decoded == json.loads(GEOJSON.read_text(encoding="utf-8"))


# --- vendored, pinned, offline ----------------------------------------------------------------------

def _recorded_hashes() -> dict[str, str]:
    """file → sha256 from every table of static/VENDORED.md (the hash is a row's last cell)."""
    found = {}
    for line in (STATIC / "VENDORED.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[0-9a-f]{64}", cells[-1]):
            found[cells[0]] = cells[-1]
    return found


def test_every_vendored_file_matches_its_recorded_sha256():
    recorded = _recorded_hashes()
    assert {"vendor/echarts-6.1.0.min.js", "data/yunnan-prefectures.geojson", "js/htmx-2.0.11.min.js"} <= set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    assert (STATIC / "vendor" / "echarts-LICENSE.txt").read_text().startswith("\n                                 Apache License")


def test_pages_load_nothing_from_outside():
    base = (PROJECT_ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", base), "base.html must not reference an outside asset"
    charts_js = (STATIC / "js" / "charts.js").read_text(encoding="utf-8")
    assert not re.search(r"https?://", charts_js)
    # The tag charts.js reads its assets from names the pinned files.
    assert "path='vendor/echarts-6.1.0.min.js'" in base and "path='data/yunnan-prefectures.geojson'" in base
    assert "path='js/charts.js'" in base


def test_a_page_names_the_assets_on_this_server(client):
    page = client.get("/login").text
    assets = re.findall(r'(?:src|href|data-echarts|data-map-yunnan)="([^"]+)"', page)
    outside = [a for a in assets if re.match(r"https?://", a) and not a.startswith("http://testserver/")]
    assert outside == [] and any(re.search(r"/static/([0-9a-f]{8}/)?vendor/echarts-6\.1\.0\.min\.js$", a) for a in assets)
