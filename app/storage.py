"""Stored files behind one interface: evidence photos, uploaded import files, export workbooks.

Keys are server-made paths (``photos/ab/ab12….jpg``, ``imports/jobs/….data``, ``imports/targets-…``,
``exports/12-….xlsx``), never a name a user typed. ``get_storage()`` answers the backend of
``SZT_STORAGE``:

- ``local`` (the default): files on this machine's disk, in the layout the application always had —
  photos straight under ``SZT_UPLOAD_DIR`` (``ab/ab12….jpg``), import files under
  ``SZT_UPLOAD_DIR/imports/``, export workbooks in ``exports/`` beside the upload directory. Enough
  for one machine (several processes on it share the folder).
- ``s3``: an S3-compatible bucket (``SZT_S3_ENDPOINT``, ``SZT_S3_BUCKET``, ``SZT_S3_REGION``,
  ``SZT_S3_ACCESS_KEY`` / ``SZT_S3_SECRET_KEY``), every key under ``SZT_S3_PREFIX``: what one
  machine stores, every other reads — a preview made on one is confirmed on another, a workbook
  written by a job on one downloads from another, a photo uploaded through one is served by all.

Writes are whole (a reader never sees half a file): a local file is written aside and renamed, an
S3 object appears only when its upload completes. Files are served by the application, after its
own access checks, through :func:`file_response`.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from starlette.responses import FileResponse, Response, StreamingResponse

from app.config import Settings, get_settings

_KEY = re.compile(r"^(photos|imports|exports)/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
CHUNK = 256 * 1024


class Missing(Exception):
    """No file under this key (never stored, removed, or expired)."""


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


@dataclass(frozen=True)
class Stored:
    key: str
    modified: datetime  # aware, UTC (the storage's own clock: the file's mtime, the object's LastModified)


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key``, and remove ``path``."""
        ...

    def get(self, key: str) -> bytes:
        """The whole file; :class:`Missing` when there is none."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The file in chunks; :class:`Missing` (raised at once) when there is none."""
        ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the file; nothing happens when there is none."""
        ...

    def list(self, prefix: str) -> Iterator[Stored]:
        """The files whose key starts with ``prefix``."""
        ...


class LocalStorage:
    """Files under ``root`` (SZT_UPLOAD_DIR), in the layout of the application's first versions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.exports = root.resolve().parent / "exports"

    def path(self, key: str) -> Path:
        """Where ``key`` lives on this disk."""
        area, _, rest = check_key(key).partition("/")
        if area == "photos":
            return self.root / rest
        if area == "exports":
            return self.exports / rest
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
        try:
            aside.write_bytes(data)
            aside.replace(path)  # atomic: a reader sees the old file or the whole new one
        finally:
            aside.unlink(missing_ok=True)

    def put_file(self, key: str, path: Path) -> None:
        target = self.path(key)
        if target.resolve() != path.resolve():  # an export is written where it stays
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise Missing(key) from None

    def open(self, key: str) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise Missing(key) from None

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(CHUNK):
                    yield chunk

        return chunks()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            raise Missing(key) from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def photo_files(self) -> Iterator[tuple[str, Path]]:
        """(path under ``root``, file) of every stored photo, in order — what a backup copies. Photos
        lie straight under ``root`` (``path()``), beside the transient ``imports/`` area; a file
        being written (``.<name>….part``, see ``put``) and anything not a plain file are left out."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if rel.parts[0] == "imports" or path.name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            yield rel.as_posix(), path

    def list(self, prefix: str) -> Iterator[Stored]:
        area, _, rest = prefix.partition("/")
        folder_key, _, start = f"{area}/{rest}".rpartition("/")
        folder = self.path(folder_key + "/x").parent
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.is_file() and path.name.startswith(start) and not path.name.startswith("."):
                try:
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                except FileNotFoundError:
                    continue  # another process removed it first
                yield Stored(f"{folder_key}/{path.name}", modified)


class S3Storage:
    """Objects in an S3-compatible bucket, every key under ``prefix``."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._name(key))
        path.unlink(missing_ok=True)

    def _object(self, key: str) -> Mapping[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if self._missing(exc):
                raise Missing(key) from None
            raise

    def get(self, key: str) -> bytes:
        body = self._object(key)["Body"]
        with body:
            return body.read()

    def open(self, key: str) -> Iterator[bytes]:
        body = self._object(key)["Body"]

        def chunks() -> Iterator[bytes]:
            with body:
                yield from body.iter_chunks(CHUNK)

        return chunks()

    def size(self, key: str) -> int:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._name(key))["ContentLength"])
        except ClientError as exc:
            if self._missing(exc):
                raise Missing(key) from None
            raise

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except Missing:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))  # no error when absent

    def list(self, prefix: str) -> Iterator[Stored]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        for page in pages:
            for item in page.get("Contents", []):
                yield Stored(item["Key"][len(self.prefix):], item["LastModified"])


@lru_cache(maxsize=4)
def _s3_client(endpoint: str, region: str, access_key: str, secret_key: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint or None, region_name=region or None,
        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
        # Path-style addressing works with every S3-compatible server (MinIO, Ceph, a cloud's OSS).
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                      connect_timeout=5, read_timeout=60))


def storage_for(settings: Settings) -> Storage:
    if settings.storage == "s3":
        client = _s3_client(settings.s3_endpoint, settings.s3_region, settings.s3_access_key, settings.s3_secret_key)
        return S3Storage(client, settings.s3_bucket, settings.s3_prefix)
    return LocalStorage(Path(settings.upload_dir))


def get_storage() -> Storage:
    """The storage of the settings in force (cheap: the S3 client is made once per configuration)."""
    return storage_for(get_settings())


def file_response(key: str, *, media_type: str, headers: dict[str, str] | None = None) -> Response:
    """The stored file as the answer (the caller has checked who may have it); :class:`Missing` if gone."""
    storage = get_storage()
    if isinstance(storage, LocalStorage):
        path = storage.path(key)
        if not path.is_file():
            raise Missing(key)
        return FileResponse(path, media_type=media_type, headers=headers)
    length = storage.size(key)
    return StreamingResponse(storage.open(key), media_type=media_type,
                             headers={**(headers or {}), "Content-Length": str(length)})
