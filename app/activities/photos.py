"""Evidence photos: accepted by content (not by name), re-encoded, thumbnailed, stored privately.

Re-encoding drops everything but the pixels (EXIF, GPS, embedded scripts); files get random
server-made names in the storage (app/storage.py: under settings.upload_dir, outside static/, or in
the S3 bucket) and are served only through a route that checks the caller may see the activity.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from app.config import get_settings
from app.errors import Invalid
from app.storage import get_storage

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 6
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF"}
LONG_EDGE = 1600  # plenty for evidence on any screen; keeps phones' 12-MP photos small
THUMB_EDGE = 320
UNREADABLE = "无法识别的图片：请上传 JPEG、PNG、WebP 或 HEIC 格式的照片"

_heif_registered = False
_slots: threading.BoundedSemaphore | None = None
_slots_made = threading.Lock()


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


@dataclass(frozen=True)
class PreparedPhoto:
    image: bytes  # re-encoded JPEG
    thumb: bytes
    width: int
    height: int
    digest: str  # SHA-256 of the upload as received: part of the idempotency fingerprint


def check(raw: bytes) -> None:
    """Refuse an upload from its size and header alone, decoding no pixels: empty, over 10 MB, not a
    format we take, or claiming more pixels than ``settings.photo_max_pixels`` (a 72 KB PNG can claim
    7745 × 7745 and take 180 MB to decode)."""
    if len(raw) > MAX_BYTES:
        raise Invalid("照片不能超过 10 MB", code="photo_too_large")
    if not raw:
        raise Invalid("照片文件是空的", code="photo_empty")
    _register_heif()
    max_pixels = get_settings().photo_max_pixels
    too_large = Invalid(f"照片尺寸过大（最大 {max_pixels // 10_000} 万像素），请缩小后重新上传", code="photo_too_large")
    # Pillow's own guard, set to ours: above it Image.open warns, above twice it refuses
    # (DecompressionBombError). Either means too large — never "unreadable" (a 20000 × 20000 PNG).
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(raw)) as probe:  # reads the header only
            fmt, pixels = probe.format, probe.width * probe.height
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # the warning, when raised as an error
        raise too_large from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise Invalid(UNREADABLE, code="photo_type") from exc
    if fmt not in ACCEPTED_FORMATS:
        raise Invalid("只接受 JPEG、PNG、WebP 或 HEIC 格式的照片", code="photo_type")
    if pixels > max_pixels:
        raise too_large


@contextmanager
def decode_slot() -> Iterator[None]:
    """One of this process's ``settings.photo_decode_concurrency`` decode slots, waited for.

    A decode holds its full-size pixels until they are shrunk (up to ~120 MB at the pixel limit):
    however many uploads arrive together, only this many are in memory at once; the others wait
    (in their worker threads, before any write transaction starts).
    """
    global _slots
    with _slots_made:
        if _slots is None:
            _slots = threading.BoundedSemaphore(max(1, get_settings().photo_decode_concurrency))
        slots = _slots
    with slots:
        yield


def decode_turns(app: Any) -> anyio.CapacityLimiter:
    """The application's turns to decode photos (made on its event loop, one per application), as
    many as its decode slots: a request waits for one here, in the event loop, so uploads queued
    behind the slots hold none of the worker threads every other request needs."""
    turns = getattr(app.state, "szt_decode_turns", None)
    if turns is None:
        turns = app.state.szt_decode_turns = anyio.CapacityLimiter(max(1, get_settings().photo_decode_concurrency))
    return turns


def _decode(raw: bytes) -> Image.Image:
    """The upright RGB pixels of an upload that passed :func:`check`."""
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            probe.draft("RGB", (LONG_EDGE, LONG_EDGE))  # a JPEG decodes at a reduced scale: less memory
            probe.load()
            img = ImageOps.exif_transpose(probe)  # keep what the phone showed, then forget the EXIF
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise Invalid(UNREADABLE, code="photo_type") from exc


def prepare(raw: bytes) -> PreparedPhoto:
    """Check and re-encode one upload; raise Invalid with a Chinese message when it is not a photo."""
    check(raw)
    with decode_slot():
        img = _decode(raw)
        img.thumbnail((LONG_EDGE, LONG_EDGE))  # from here on the pixels are small
    # Pixels only: a new image from the (already upright) pixel data, with no info to carry over.
    # Pillow writes a JPEG comment (COM), ICC profile or XMP kept in ``img.info`` back into the file.
    img = Image.frombytes("RGB", img.size, img.tobytes())
    full = io.BytesIO()
    img.save(full, "JPEG", quality=85, optimize=True)
    thumb_img = img.copy()
    thumb_img.thumbnail((THUMB_EDGE, THUMB_EDGE))
    thumb = io.BytesIO()
    thumb_img.save(thumb, "JPEG", quality=75)
    return PreparedPhoto(full.getvalue(), thumb.getvalue(), img.width, img.height, hashlib.sha256(raw).hexdigest())


def store(photo: PreparedPhoto) -> str:
    """Store the photo and its thumbnail (app/storage.py) under a new random name; return that name."""
    key = secrets.token_hex(16)
    storage = get_storage()
    storage.put(key_of(key), photo.image)
    storage.put(key_of(key, thumb=True), photo.thumb)
    return key


def key_of(storage_key: str, *, thumb: bool = False) -> str:
    """The storage key of a stored photo (``photos/ab/ab….jpg``); the name is ours (hex), never typed by a user."""
    if not storage_key.isalnum():
        raise Invalid("无效的照片编号")
    return f"photos/{storage_key[:2]}/{storage_key}" + (".thumb.jpg" if thumb else ".jpg")
