"""Decode bombs: a photo is judged by its header before any pixel is decoded, an invalid form costs no
decoding at all, and one process decodes only a few photos at once (app/activities/photos.py)."""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib

import pytest
from PIL import Image
from sqlalchemy import select

from app.activities import photos
from app.clock import today_cn
from app.config import get_settings
from app.errors import Invalid
from app.models import ActivityPhoto
from tests import factories as f

pytestmark = pytest.mark.dates

TOO_LARGE = "照片尺寸过大（最大 4000 万像素）"


@pytest.fixture(autouse=True)
def uploads_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` (what a bomb's header says; its pixels
    would inflate from a few KB to width × height × 3 bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
            + chunk(b"IEND", b""))


def _jpeg(color="red", size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def decodes(monkeypatch) -> list[int]:
    """Every decode of pixels, counted (the real decoder still runs)."""
    seen: list[int] = []
    real = photos._decode

    def spy(raw: bytes):
        seen.append(len(raw))
        return real(raw)

    monkeypatch.setattr(photos, "_decode", spy)
    return seen


@pytest.mark.parametrize(("size", "warned"), [((7745, 7745), True), ((20000, 20000), False)])
def test_a_photo_claiming_too_many_pixels_is_refused_as_too_large_from_its_header(decodes, size, warned):
    # 7745² (60 MP) is what six parallel uploads used to decode at 180 MB each; 20000² used to be
    # 「无法识别」 (Pillow's own bomb error), and is too large like any other.
    bomb = _png_claiming(*size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's bomb warning, raised, is said as too large as well
        with pytest.raises(Invalid) as refused:
            photos.prepare(bomb)
    assert refused.value.message.startswith(TOO_LARGE) and refused.value.code == "photo_too_large"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(Invalid) as again:
            photos.prepare(bomb)  # only warned: the header check refuses it
    assert again.value.message.startswith(TOO_LARGE)
    assert any(issubclass(w.category, Image.DecompressionBombWarning) for w in seen) is warned
    assert decodes == []


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_pixel_limit_is_a_setting(monkeypatch, decodes):
    monkeypatch.setenv("SZT_PHOTO_MAX_PIXELS", "1000000")
    get_settings.cache_clear()
    with pytest.raises(Invalid) as refused:
        photos.prepare(_jpeg(size=(1200, 1000)))
    assert "照片尺寸过大（最大 100 万像素）" in refused.value.message and decodes == []


def _member_posts(client, session, world, files, **overrides):
    f.login_as(client, session, world.member_user)
    data = {
        "idempotency_key": "bomb-key", "task_id": str(world.task.id), "county_id": str(world.wuhua.id),
        "occurred_on": today_cn().isoformat(), "description": "在五华区开展义诊活动",
        f"value_{world.count_ind.id}": "1", f"value_{world.money_ind.id}": "8",
    }
    data.update(overrides)
    return client.post("/activities", data=data, files=files, follow_redirects=False)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_six_bombs_are_refused_from_their_headers_each_named(client, session, world, decodes):
    bombs = [("photos", (f"{n}.png", _png_claiming(7745, 7745), "image/png")) for n in range(1, 7)]
    r = _member_posts(client, session, world, bombs)
    assert r.status_code == 422
    assert "第 1 张（1.png）：" + TOO_LARGE in r.text and "第 6 张（6.png）" in r.text
    assert decodes == []


@pytest.mark.parametrize(("overrides", "message"), [
    ({"task_id": ""}, "请选择实事"),  # the form itself
    ({"description": " "}, "请简要描述活动内容"),  # the service's rules, asked before decoding
    ({"county_id": "99999999"}, "请选择活动所在的县（市、区）"),
])
def test_an_invalid_form_decodes_none_of_its_photos(client, session, world, decodes, overrides, message):
    files = [("photos", ("a.jpg", _jpeg(), "image/jpeg")), ("photos", ("b.jpg", _jpeg("blue"), "image/jpeg"))]
    r = _member_posts(client, session, world, files, **overrides)
    assert r.status_code == 422 and message in r.text
    assert decodes == []


def test_a_valid_form_decodes_its_photos_once_each(client, session, world, decodes):
    files = [("photos", ("a.jpg", _jpeg(), "image/jpeg")), ("photos", ("b.jpg", _jpeg("blue"), "image/jpeg"))]
    r = _member_posts(client, session, world, files)
    assert r.status_code == 303 and len(decodes) == 2


def test_a_five_mb_photo_still_goes_through(client, session, world):
    # Past the global 1 MB body limit: the activities' own limit (6 × 10 MB) applies.
    noise = Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3))
    buf = io.BytesIO()
    noise.save(buf, "PNG", compress_level=1)
    assert buf.tell() > 5 * 1024 * 1024
    r = _member_posts(client, session, world, [("photos", ("big.png", buf.getvalue(), "image/png"))])
    assert r.status_code == 303, r.text[:500]
    assert session.scalar(select(ActivityPhoto.width)) == 1400


def test_decodes_are_bounded_per_process_however_many_uploads_wait(monkeypatch):
    monkeypatch.setenv("SZT_PHOTO_DECODE_CONCURRENCY", "2")
    get_settings.cache_clear()
    monkeypatch.setattr(photos, "_slots", None)  # made again from the setting
    state = threading.Condition()
    inside, most, asked = 0, 0, 0
    release = threading.Event()
    real_slot = photos.decode_slot

    def counting_slot():
        nonlocal asked
        with state:
            asked += 1
            state.notify_all()
        return real_slot()

    def blocking_decode(raw: bytes):
        nonlocal inside, most
        with state:
            inside += 1
            most = max(most, inside)
            state.notify_all()
        release.wait()
        with state:
            inside -= 1
        return Image.new("RGB", (8, 8))

    monkeypatch.setattr(photos, "decode_slot", counting_slot)
    monkeypatch.setattr(photos, "_decode", blocking_decode)
    workers = [threading.Thread(target=photos.prepare, args=(_jpeg(),)) for _ in range(6)]
    for w in workers:
        w.start()
    with state:
        # Six uploads asked for a slot; two decode, four wait (the timeout only bounds a failure).
        assert state.wait_for(lambda: asked == 6 and inside == 2, timeout=30)
        assert inside == 2
    release.set()
    for w in workers:
        w.join(timeout=30)
    assert most == 2 and not any(w.is_alive() for w in workers)


def test_uploads_wait_for_a_decode_turn_without_holding_a_worker_thread(client, session, world, monkeypatch):
    # The form's photos are decoded under the application's limiter, as many turns as decode slots:
    # a request queued behind them waits in the event loop, not in the thread pool.
    turns = []
    real = photos.decode_turns

    def spy(app):
        limiter = real(app)
        turns.append((limiter.total_tokens, limiter.borrowed_tokens))
        return limiter

    monkeypatch.setattr(photos, "decode_turns", spy)
    r = _member_posts(client, session, world, [("photos", ("a.jpg", _jpeg(), "image/jpeg"))])
    assert r.status_code == 303 and turns == [(get_settings().photo_decode_concurrency, 0)]
    assert client.app.state.szt_decode_turns.total_tokens == 2
