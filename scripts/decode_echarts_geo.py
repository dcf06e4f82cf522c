"""Decode ECharts' old compressed GeoJSON ("UTF8Encoding") into plain GeoJSON, once.

    python scripts/decode_echarts_geo.py app/data/yunnan/prefectures-map.json \
        static/data/yunnan-prefectures.geojson

The source (echarts 4.9.0's map/json/province/yunnan.json, Apache-2.0) stores each ring as a
string: every coordinate pair is two characters whose code point minus 64 is a zig-zag encoded
delta from the previous point, starting from the ring's ``encodeOffsets``, in 1/``UTF8Scale``
degrees (default 1024). This is the algorithm of ECharts' own ``parseGeoJson`` decoder. Decoding
here, instead of letting ECharts do it in the browser, gives a file that any GeoJSON tool reads
and that the tests can check.

Each feature leaves with ``id`` and ``properties.name`` set to the six-digit GB/T 2260 code
(530100 …) — ECharts matches a map's regions by ``properties.name``, so the server colours a
prefecture by its code — and keeps its Chinese name in ``properties.fullname`` and its label
anchor in ``properties.cp``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_SCALE = 1024
DECIMALS = 4  # ~11 m: far finer than a prefecture outline drawn on a screen needs


def decode_ring(encoded: str, offset: list[int], scale: float) -> list[list[float]]:
    """One ring: pairs of characters → [lng, lat] points."""
    if len(encoded) % 2:
        raise ValueError("an encoded ring has an odd number of characters")
    prev_x, prev_y = offset
    points = []
    for i in range(0, len(encoded), 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        # zig-zag: 0, -1, 1, -2, 2 … are stored as 0, 1, 2, 3, 4 …
        x = (x >> 1) ^ -(x & 1)
        y = (y >> 1) ^ -(y & 1)
        prev_x, prev_y = prev_x + x, prev_y + y
        points.append([round(prev_x / scale, DECIMALS), round(prev_y / scale, DECIMALS)])
    if points and points[0] != points[-1]:
        points.append(list(points[0]))  # GeoJSON rings are closed
    return points


def _code(raw: object) -> str:
    text = str(raw).strip()
    if not text.isdigit() or len(text) not in (2, 4, 6):
        raise ValueError(f"feature id is not a division code: {raw!r}")
    return text.ljust(6, "0")


def decode(collection: dict) -> dict:
    """A plain GeoJSON FeatureCollection from an encoded (or already plain) one."""
    scale = collection.get("UTF8Scale") or DEFAULT_SCALE
    encoded = bool(collection.get("UTF8Encoding"))
    features = []
    for feature in collection["features"]:
        geometry = feature["geometry"]
        kind, coords = geometry["type"], geometry["coordinates"]
        if encoded:
            offsets = geometry["encodeOffsets"]
            if kind == "Polygon":
                coords = [decode_ring(ring, offsets[i], scale) for i, ring in enumerate(coords)]
            elif kind == "MultiPolygon":
                coords = [[decode_ring(ring, offsets[p][r], scale) for r, ring in enumerate(polygon)]
                          for p, polygon in enumerate(coords)]
            else:
                raise ValueError(f"unexpected geometry {kind}")
        props = feature.get("properties") or {}
        code = _code(feature.get("id") or props.get("code"))
        features.append({
            "type": "Feature",
            "id": code,
            "properties": {"name": code, "fullname": props.get("name", ""), "cp": props.get("cp")},
            "geometry": {"type": kind, "coordinates": coords},
        })
    features.sort(key=lambda f: f["id"])
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[1]), Path(argv[2])
    result = decode(json.loads(source.read_text(encoding="utf-8")))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{target}: {len(result['features'])} features, {target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
