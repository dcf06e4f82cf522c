"""A local S3-compatible server (moto's server mode) for the storage tests and the two-process test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

ACCESS_KEY, SECRET_KEY, REGION = "test-access", "test-secret", "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh in-memory S3 on a free port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                 aws_secret_access_key=SECRET_KEY).create_bucket(Bucket=bucket)


def s3_env(endpoint: str, bucket: str, prefix: str = "szt/") -> dict[str, str]:
    """The settings (environment) that put the application's files in ``bucket``."""
    return {"SZT_STORAGE": "s3", "SZT_S3_ENDPOINT": endpoint, "SZT_S3_BUCKET": bucket, "SZT_S3_REGION": REGION,
            "SZT_S3_ACCESS_KEY": ACCESS_KEY, "SZT_S3_SECRET_KEY": SECRET_KEY, "SZT_S3_PREFIX": prefix}
