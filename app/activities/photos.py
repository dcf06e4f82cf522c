"""Evidence photos: accepted by content (not by name), re-encoded, thumbnailed, stored privately.

Re-encoding drops everything but the pixels (EXIF, GPS, embedded scripts); files get random
server-made names in the storage (app/storage.py: under settings.upload_dir, outside static/, or in
the S3 bucket) and are served only through a route that checks the caller may see the activity.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import Invalid
from app.storage import get_storage

MAX_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 6
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF"}
LONG_EDGE = 1600  # plenty for evidence on any screen; keeps phones' 12-MP photos small
THUMB_EDGE = 320
# Refuse decompression bombs well before Pillow's own limit (a 10 MB PNG can claim 500 MP).
MAX_PIXELS = 60_000_000

_heif_registered = False


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


def prepare(raw: bytes) -> PreparedPhoto:
    """Check and re-encode one upload; raise Invalid with a Chinese message when it is not a photo."""
    if len(raw) > MAX_BYTES:
        raise Invalid("照片不能超过 10 MB", code="photo_too_large")
    if not raw:
        raise Invalid("照片文件是空的", code="photo_empty")
    _register_heif()
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt = probe.format
            if fmt not in ACCEPTED_FORMATS:
                raise Invalid("只接受 JPEG、PNG、WebP 或 HEIC 格式的照片", code="photo_type")
            if probe.width * probe.height > MAX_PIXELS:
                raise Invalid("照片尺寸过大", code="photo_too_large")
            probe.load()
            img = ImageOps.exif_transpose(probe)  # keep what the phone showed, then forget the EXIF
            img = img.convert("RGB")
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Invalid("无法识别的图片：请上传 JPEG、PNG、WebP 或 HEIC 格式的照片", code="photo_type") from exc
    img.thumbnail((LONG_EDGE, LONG_EDGE))
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
