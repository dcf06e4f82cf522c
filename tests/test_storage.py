"""One storage interface for every stored file: the same contract on the local disk (today's layout)
and on an S3-compatible server (moto's server mode, standing in for MinIO, Ceph or a cloud's OSS)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.storage import LocalStorage, Missing, S3Storage, check_key, storage_for
from tests.s3 import make_bucket, moto_server, s3_env


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, monkeypatch):
    if request.param == "local":
        return storage_for(Settings(upload_dir=str(tmp_path / "uploads")))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"szt-{uuid.uuid4().hex[:12]}"
    make_bucket(endpoint, bucket)
    for name, value in s3_env(endpoint, bucket).items():
        monkeypatch.setenv(name, value)
    return storage_for(Settings())


def test_put_get_exists_delete(storage):
    key = "photos/ab/ab12.jpg"
    assert not storage.exists(key)
    storage.put(key, b"\xff\xd8 first")
    storage.put(key, b"\xff\xd8 second")  # replaced whole
    assert storage.exists(key) and storage.get(key) == b"\xff\xd8 second" and storage.size(key) == 9
    assert b"".join(storage.open(key)) == b"\xff\xd8 second"
    storage.delete(key)
    storage.delete(key)  # gone already: no error
    assert not storage.exists(key)


def test_a_missing_file_says_so(storage):
    for read in (storage.get, storage.open, storage.size):
        with pytest.raises(Missing):
            read("imports/jobs/nothing.data")


def test_a_large_file_is_read_in_chunks(storage, tmp_path):
    data = bytes(range(256)) * 8192  # 2 MB
    path = tmp_path / "export.xlsx"
    path.write_bytes(data)
    storage.put_file("exports/7-abc.xlsx", path)
    assert not path.exists()  # moved into the storage
    chunks = list(storage.open("exports/7-abc.xlsx"))
    assert len(chunks) > 1 and b"".join(chunks) == data


def test_listing_by_prefix_with_the_files_age(storage):
    storage.put("imports/targets-1-aa.xlsx", b"1")
    storage.put("imports/targets-2-bb.xlsx", b"2")
    storage.put("imports/jobs/x.data", b"3")
    listed = {s.key: s.modified for s in storage.list("imports/targets-")}
    assert set(listed) == {"imports/targets-1-aa.xlsx", "imports/targets-2-bb.xlsx"}
    real_now = datetime.now(UTC)  # the storage's own clock, which the sweeps compare with
    assert all(abs(m - real_now) < timedelta(minutes=5) for m in listed.values())


@pytest.mark.parametrize("key", ["../etc/passwd", "photos/../../x", "/photos/a.jpg", "other/a", "photos/a b.jpg",
                                 "photos/"])
def test_only_server_made_keys(key):
    with pytest.raises(ValueError):
        check_key(key)


def test_local_storage_keeps_the_old_layout(tmp_path):
    local = LocalStorage(tmp_path / "uploads")
    assert local.path("photos/ab/ab12.jpg") == tmp_path / "uploads" / "ab" / "ab12.jpg"
    assert local.path("imports/jobs/x.data") == tmp_path / "uploads" / "imports" / "jobs" / "x.data"
    assert local.path("exports/7-a.xlsx") == (tmp_path / "exports" / "7-a.xlsx").resolve()


def test_keys_go_under_the_prefix(s3_endpoint, monkeypatch):
    bucket = f"szt-{uuid.uuid4().hex[:12]}"
    make_bucket(s3_endpoint, bucket)
    for name, value in s3_env(s3_endpoint, bucket, prefix="province/53").items():
        monkeypatch.setenv(name, value)
    storage = storage_for(Settings())
    assert isinstance(storage, S3Storage)
    storage.put("photos/ab/ab12.jpg", b"x")
    names = [o["Key"] for o in storage.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert names == ["province/53/photos/ab/ab12.jpg"]
    assert [s.key for s in storage.list("photos/")] == ["photos/ab/ab12.jpg"]


def test_s3_without_a_bucket_is_refused(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("SZT_STORAGE", "s3")
    monkeypatch.delenv("SZT_S3_BUCKET", raising=False)
    with pytest.raises(ValidationError, match="SZT_S3_BUCKET"):
        Settings()
