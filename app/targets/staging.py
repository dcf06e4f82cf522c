"""An uploaded targets file kept between its preview and the confirmation.

The bytes go to a file under the configured upload directory, named by their SHA-256 and the
uploader; the confirmation form carries only a ticket (``<digest>.<signature>``), signed with the
secret key for that user. The confirmation reads the file again and checks its digest, so what is
imported is byte for byte what was previewed — and nobody can confirm another user's upload or
point the ticket at a file of their choosing. Files are removed after the import and, left over
from abandoned previews, after a day.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from pathlib import Path

from app.config import get_settings
from app.errors import Invalid

MAX_AGE_SECONDS = 24 * 3600
_TICKET = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{32})$")
EXPIRED = "导入文件已过期或无效，请重新上传"


def _dir() -> Path:
    return Path(get_settings().upload_dir) / "imports"


def _signature(user_id: int, digest: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"targets-import:{user_id}:{digest}".encode(), hashlib.sha256).hexdigest()[:32]


def _path(user_id: int, digest: str) -> Path:
    return _dir() / f"targets-{user_id}-{digest}.xlsx"


def stash(data: bytes, *, user_id: int) -> str:
    """Keep ``data`` for ``user_id``'s confirmation; returns the ticket the form carries."""
    directory = _dir()
    directory.mkdir(parents=True, exist_ok=True)
    _sweep(directory)
    digest = hashlib.sha256(data).hexdigest()
    path = _path(user_id, digest)
    temporary = path.with_suffix(f".{os.getpid()}.part")
    temporary.write_bytes(data)
    temporary.replace(path)  # atomic: a confirmation never reads half a file
    return f"{digest}.{_signature(user_id, digest)}"


def fetch(ticket: str, *, user_id: int) -> bytes:
    """The bytes behind ``ticket``, if it is this user's and the file is intact; Invalid otherwise."""
    match = _TICKET.match(ticket or "")
    if not match or not hmac.compare_digest(match.group(2), _signature(user_id, match.group(1))):
        raise Invalid(EXPIRED, code="import_expired")
    try:
        data = _path(user_id, match.group(1)).read_bytes()
    except OSError:
        raise Invalid(EXPIRED, code="import_expired") from None
    if hashlib.sha256(data).hexdigest() != match.group(1):
        raise Invalid(EXPIRED, code="import_expired")
    return data


def discard(ticket: str, *, user_id: int) -> None:
    match = _TICKET.match(ticket or "")
    if match:
        _path(user_id, match.group(1)).unlink(missing_ok=True)


def _sweep(directory: Path) -> None:
    cutoff = time.time() - MAX_AGE_SECONDS
    for stale in directory.glob("targets-*"):
        try:
            if stale.stat().st_mtime < cutoff:
                stale.unlink(missing_ok=True)
        except OSError:
            pass  # another process removed it first
