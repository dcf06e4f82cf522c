"""Photos kept in an S3-compatible bucket (SZT_STORAGE=s3): uploaded through the form, stored in the
bucket (nothing on this machine's disk), served back by the application with the same checks and
headers as from the local folder."""

from __future__ import annotations

import io
import uuid

import boto3
import pytest
from PIL import Image
from sqlalchemy import select

from app.config import get_settings
from app.models import ActivityPhoto
from tests import factories as f
from tests.activities.test_pages import _created_id, _jpeg, _post
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, make_bucket, moto_server, s3_env


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    with moto_server() as endpoint:
        name = f"szt-{uuid.uuid4().hex[:12]}"
        make_bucket(endpoint, name)
        for key, value in s3_env(endpoint, name).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SZT_UPLOAD_DIR", str(tmp_path / "uploads"))
        get_settings.cache_clear()
        yield boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                           aws_secret_access_key=SECRET_KEY), name
        get_settings.cache_clear()


def test_a_photo_uploaded_with_s3_storage_is_read_back_through_the_app(client, session, world, bucket, tmp_path):
    s3, name = bucket
    f.login_as(client, session, world.member_user)
    activity_id = _created_id(_post(client, world, files=[("photos", ("IMG_0001.JPG", _jpeg(), "image/jpeg"))]))
    [photo] = session.scalars(select(ActivityPhoto).where(ActivityPhoto.activity_id == activity_id)).all()
    key = photo.storage_key
    stored = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"])
    assert stored == [f"szt/photos/{key[:2]}/{key}.jpg", f"szt/photos/{key[:2]}/{key}.thumb.jpg"]
    assert not (tmp_path / "uploads").exists()  # nothing on this machine's disk

    url = f"/activities/{activity_id}/photos/{photo.id}"
    full = client.get(url)
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert full.headers["cache-control"].startswith("private") and full.headers["x-content-type-options"] == "nosniff"
    body = s3.get_object(Bucket=name, Key=f"szt/photos/{key[:2]}/{key}.jpg")["Body"].read()
    assert full.content == body and int(full.headers["content-length"]) == len(body)
    assert Image.open(io.BytesIO(client.get(url + "?thumb=1").content)).size[0] <= 320
    f.login_as(client, session, world.outsider_member_user)
    assert client.get(url).status_code == 404  # the same check as for a local file

    s3.delete_object(Bucket=name, Key=f"szt/photos/{key[:2]}/{key}.jpg")  # lost from the bucket
    f.login_as(client, session, world.member_user)
    assert client.get(url).status_code == 404
