"""A stored photo is pixels only (issue 15: a JPEG comment holding HTML survived re-encoding):
no COM segment, no EXIF, XMP or ICC text — in the re-encoded photo, its thumbnail, and the bytes served."""

from __future__ import annotations

import io
import re

from PIL import ExifTags, Image, ImageCms

from app.activities import photos
from tests.activities.test_pages import _created_id, _member, _post

SCRIPT = b"<script>window.__xss=1</script>"


def _hostile_jpeg() -> bytes:
    """A 40×20 photo that a phone held on its side (EXIF orientation 6), carrying text everywhere it can."""
    img = Image.new("RGB", (40, 20), (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, 10, 20))  # a blue stripe on the left: shows the rotation
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.ImageDescription] = SCRIPT.decode()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + SCRIPT + b"</x:xmpmeta>"
    buf = io.BytesIO()
    img.save(buf, "JPEG", comment=SCRIPT, exif=exif.tobytes(), icc_profile=icc, xmp=xmp)
    return buf.getvalue()


def _markers(jpeg: bytes) -> list[int]:
    """The markers of the JPEG's segments before its image data (0xFE = COM, 0xE1 = EXIF/XMP, 0xE2 = ICC)."""
    assert jpeg[:2] == b"\xff\xd8"
    found, at = [], 2
    while at < len(jpeg):
        assert jpeg[at] == 0xFF, "a segment starts with 0xFF"
        marker = jpeg[at + 1]
        found.append(marker)
        if marker == 0xDA:  # start of scan: the pixels follow
            return found
        at += 2 + int.from_bytes(jpeg[at + 2:at + 4], "big")
    return found


def _assert_pixels_only(jpeg: bytes) -> None:
    assert SCRIPT not in jpeg and b"<script" not in jpeg and b"xmpmeta" not in jpeg
    assert not {0xFE, 0xE1, 0xE2, 0xED} & set(_markers(jpeg)), [hex(m) for m in _markers(jpeg)]
    with Image.open(io.BytesIO(jpeg)) as img:
        assert not {"comment", "exif", "icc_profile", "xmp", "photoshop"} & set(img.info), img.info.keys()
        assert all(marker == "APP0" for marker, _ in img.applist)  # JFIF only
        assert not img.getexif()


def test_the_test_photo_does_carry_the_text():
    raw = _hostile_jpeg()
    assert {0xFE, 0xE1, 0xE2} <= set(_markers(raw))
    with Image.open(io.BytesIO(raw)) as img:
        assert img.info["comment"] == SCRIPT and "icc_profile" in img.info and "xmp" in img.info


def test_re_encoding_keeps_the_pixels_turned_upright_and_nothing_else():
    prepared = photos.prepare(_hostile_jpeg())
    for jpeg in (prepared.image, prepared.thumb):
        _assert_pixels_only(jpeg)
    with Image.open(io.BytesIO(prepared.image)) as img:
        assert img.size == (20, 40) == (prepared.width, prepared.height)  # orientation applied first
        r, _g, b = img.convert("RGB").getpixel((10, 3))
        assert b > 150 and r < 100  # the stripe that was on the left is now on top


def test_a_served_photo_carries_no_comment(client, session, world):
    _member(client, session, world)
    activity_id = _created_id(_post(client, world, files=[("photos", ("IMG_0002.JPG", _hostile_jpeg(), "image/jpeg"))]))
    detail = client.get(f"/activities/{activity_id}").text
    url = re.search(rf'src="(/activities/{activity_id}/photos/\d+)\?thumb=1"', detail).group(1)
    for served in (client.get(url), client.get(url + "?thumb=1")):
        assert served.status_code == 200
        _assert_pixels_only(served.content)
