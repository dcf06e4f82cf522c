"""典型's pages, files and API: the candidates page explains the score, the office nominates, the province
selects, outsiders get 404 and the wrong level 403, the .docx shows the page's figures, the zip holds the photos."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from docx import Document
from PIL import Image

from app.activities import photos
from app.config import get_settings
from app.exemplars import files, service
from app.models import ActivityPhoto
from tests import factories as f
from tests.exemplars.conftest import YEAR


@pytest.fixture(autouse=True)
def uploads_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _photo(world, activity, color="red") -> ActivityPhoto:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "JPEG")
    prepared = photos.prepare(buf.getvalue())
    row = ActivityPhoto(activity_id=activity.id, storage_key=photos.store(prepared), width=64, height=48,
                        bytes=len(prepared.image))
    world.s.add(row)
    world.s.flush()
    return row


def _text(html: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", html))


def test_office_nominates_province_selects_and_the_files_show_the_page(client, world):
    _photo(world, world.a1)
    _photo(world, world.a3, "blue")
    f.login_as(client, world.s, world.staff)
    page = client.get(f"/exemplars/530100?year={YEAR}")
    assert page.status_code == 200 and "得分怎么算" in page.text and "明星委员" in page.text
    assert f"最多计 {service.ACTIVITY_CAP} 次" in page.text
    form = client.get(f"/exemplars/530100/nominate?member={world.star.id}&year={YEAR}")
    assert form.status_code == 200 and "3月2日在五华区" in form.text
    body = {"member_id": world.star.id, "year": YEAR, "citation": "扎根基层<script>x</script>。", "submission_key": "a1"}
    made = client.post("/api/v1/orgs/530100/nominations", json=body)
    assert made.status_code == 201, made.text
    again = client.post("/api/v1/orgs/530100/nominations", json=body)  # a retried POST: the first row, 200
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    nid = made.json()["id"]
    assert again.json()["id"] == nid and made.json()["status"] == "nominated"
    # The nominating office cannot select its own nomination.
    assert client.post(f"/api/v1/nominations/{nid}/decision",
                       json={"decision": "select", "version": 1}).status_code == 403
    assert client.get(f"/api/v1/exemplars/{nid}").status_code == 404  # not selected yet
    f.login_as(client, world.s, world.outsider)
    assert client.get(f"/exemplars/nominations/{nid}").status_code == 404
    assert client.post(f"/api/v1/nominations/{nid}/decision",
                       json={"decision": "select", "version": 1}).status_code == 404
    assert client.post("/api/v1/orgs/530100/nominations", json={**body, "submission_key": "z"}).status_code == 404
    f.login_as(client, world.s, world.province_staff)
    done = client.post(f"/api/v1/nominations/{nid}/decision", json={"decision": "select", "version": 1})
    assert done.status_code == 200 and done.json()["status"] == "selected"
    page = client.get(f"/exemplars/nominations/{nid}")
    assert page.status_code == 200 and "年度「双助推」典型" in page.text
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text
    assert f"/activities/{world.a1.id}/photos/" in page.text
    api = client.get(f"/api/v1/exemplars/{nid}").json()
    shown = _text(page.text)
    for c in api["components"]:
        assert f"{c['count']:,}" in shown and str(c["points"]) in shown
    # The Word file shows the page's figures.
    doc = Document(io.BytesIO(client.get(f"/exemplars/nominations/{nid}/material.docx").content))
    table = next(t for t in doc.tables if t.rows[0].cells[0].text == "项目")
    got = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert got == files.figures(service.exemplar(world.s, world.p(world.province_staff), nid))
    assert got[-1][3] == str(api["score"]) and any("扎根基层" in p.text for p in doc.paragraphs)
    # The photo pack: the originals, named in UTF-8, with the note.
    pack = client.get(f"/exemplars/nominations/{nid}/photos.zip")
    with zipfile.ZipFile(io.BytesIO(pack.content)) as z:
        names = z.namelist()
        assert len([n for n in names if n.endswith(".jpg")]) == 2 and "说明.txt" in names
        assert any("五华区" in n for n in names) and Image.open(z.open(names[0])).size == (64, 48)
        assert all(info.flag_bits & 0x800 for info in z.infolist())  # the UTF-8 name flag: Chinese names survive
    # The report's 典型 section lists the selected 典型, and the 履职档案 carries the honour.
    assert client.get(f"/api/v1/members/{world.star.id}/profile").json()["honours"][0]["year"] == YEAR


def test_the_pack_is_capped_with_a_message(world):
    for color in ("red", "blue", "green"):
        _photo(world, world.a1, color)
    n, _ = world.nominate()
    n.status = "selected"
    world.s.flush()
    ex = service.exemplar(world.s, world.p(world.province_staff), n.id)
    one = world.s.get(ActivityPhoto, ex.acts[0].photo_ids[0]).bytes
    plan = files.plan_pack(world.s, ex, cap=one)
    assert len(plan.files) == 1 and len(plan.left_out) == 2
    assert "另有 2 张未打包" in files.pack_message(plan, cap=one)
