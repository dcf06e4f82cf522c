"""An uploaded targets file kept between its preview and the confirmation.

The bytes go to the storage (app/storage.py: ``imports/`` under the upload directory, or the S3
bucket, so the confirmation may reach another machine than the preview), named by their SHA-256
and the uploader; the confirmation form carries only a ticket (``<digest>.<signature>``), signed with the
secret key for that user. The confirmation reads the file again and checks its digest, so what is
imported is byte for byte what was previewed — and nobody can confirm another user's upload or
point the ticket at a file of their choosing. Files are removed after the import and, left over
from abandoned previews, after a day.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime

from app.config import get_settings
from app.errors import Invalid
from app.storage import Missing, get_storage

MAX_AGE_SECONDS = 24 * 3600
_TICKET = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{32})$")
EXPIRED = "导入文件已过期或无效，请重新上传"


def _signature(user_id: int, digest: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"targets-import:{user_id}:{digest}".encode(), hashlib.sha256).hexdigest()[:32]


def _key(user_id: int, digest: str) -> str:
    return f"imports/targets-{user_id}-{digest}.xlsx"


def stash(data: bytes, *, user_id: int) -> str:
    """Keep ``data`` for ``user_id``'s confirmation; returns the ticket the form carries."""
    _sweep()
    digest = hashlib.sha256(data).hexdigest()
    get_storage().put(_key(user_id, digest), data)  # whole: a confirmation never reads half a file
    return f"{digest}.{_signature(user_id, digest)}"


def fetch(ticket: str, *, user_id: int) -> bytes:
    """The bytes behind ``ticket``, if it is this user's and the file is intact; Invalid otherwise."""
    match = _TICKET.match(ticket or "")
    if not match or not hmac.compare_digest(match.group(2), _signature(user_id, match.group(1))):
        raise Invalid(EXPIRED, code="import_expired")
    try:
        data = get_storage().get(_key(user_id, match.group(1)))
    except Missing:
        raise Invalid(EXPIRED, code="import_expired") from None
    if hashlib.sha256(data).hexdigest() != match.group(1):
        raise Invalid(EXPIRED, code="import_expired")
    return data


def discard(ticket: str, *, user_id: int) -> None:
    match = _TICKET.match(ticket or "")
    if match:
        get_storage().delete(_key(user_id, match.group(1)))


def _sweep() -> None:
    # Ages by the storage's own clock (a file's mtime, an object's LastModified), not app.clock's.
    cutoff = datetime.fromtimestamp(time.time() - MAX_AGE_SECONDS, UTC)
    storage = get_storage()
    for stale in storage.list("imports/targets-"):
        if stale.modified < cutoff:
            storage.delete(stale.key)
