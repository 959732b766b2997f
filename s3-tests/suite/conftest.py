"""Fixtures for RingVault's own S3 conformance suite.

Goal: check, with the client most S3 users script against (boto3 with its default settings,
integrity checks included), that every operation RingVault supports behaves as S3 does, and
that the failures clients meet carry S3's status and error code.

Method: s3-tests/run.sh starts a fresh node and passes it in through environment variables:

  RV_SUITE_ENDPOINT            http://127.0.0.1:<port>
  RV_SUITE_REGION              region the node serves (us-east-1)
  RV_SUITE_MAIN_KEY_ID / RV_SUITE_MAIN_SECRET    the node's root key
  RV_SUITE_ALT_KEY_ID / RV_SUITE_ALT_SECRET      a second, unrelated key (optional)
  RV_SUITE_ALT_SKIP_REASON     why there is no alt key, shown on the tests that need one

Every test gets its own uniquely named bucket (`bucket`) or makes more (`make_bucket`);
teardown empties and deletes them, so tests are independent and can run in any order.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Callable, Iterator

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rawhttp import RawClient


@dataclass(frozen=True)
class Key:
    access_key_id: str
    secret: str


@dataclass(frozen=True)
class Settings:
    endpoint: str
    region: str
    main: Key
    alt: Key | None
    alt_skip_reason: str


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through s3-tests/run.sh", returncode=4)
    return value


@pytest.fixture(scope="session")
def settings() -> Settings:
    alt_id = os.environ.get("RV_SUITE_ALT_KEY_ID", "")
    alt_secret = os.environ.get("RV_SUITE_ALT_SECRET", "")
    return Settings(
        endpoint=_required("RV_SUITE_ENDPOINT"),
        region=os.environ.get("RV_SUITE_REGION", "us-east-1"),
        main=Key(_required("RV_SUITE_MAIN_KEY_ID"), _required("RV_SUITE_MAIN_SECRET")),
        alt=Key(alt_id, alt_secret) if alt_id and alt_secret else None,
        alt_skip_reason=os.environ.get("RV_SUITE_ALT_SKIP_REASON", "no alt key configured"),
    )


@pytest.fixture(scope="session")
def make_client(settings: Settings) -> Callable[..., object]:
    """make_client(key=None, **config): an S3 client for `key` (main by default).

    Only path-style addressing is set (the node has no root domain); everything else, including
    request and response checksums and retries, stays at boto3's defaults unless a test asks.
    """

    def make(key: Key | None = None, *, unsigned: bool = False, **config):
        key = key or settings.main
        s3_config = {"addressing_style": "path", **config.pop("s3", {})}
        if unsigned:
            config["signature_version"] = UNSIGNED
        return boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint,
            region_name=config.pop("region_name", settings.region),
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret,
            config=Config(s3=s3_config, **config),
        )

    return make


@pytest.fixture(scope="session")
def s3(make_client):
    """The main key's client with boto3 defaults."""
    return make_client()


@pytest.fixture(scope="session")
def alt_key(settings: Settings) -> Key:
    if settings.alt is None:
        pytest.skip(f"alt key unavailable: {settings.alt_skip_reason}")
    return settings.alt


@pytest.fixture(scope="session")
def s3_alt(make_client, alt_key: Key):
    """A client for a second key that owns nothing of the main key's."""
    return make_client(alt_key)


@pytest.fixture(scope="session")
def raw(settings: Settings) -> RawClient:
    """Hand-signed HTTP as the main key (see rawhttp.py)."""
    return RawClient(settings.endpoint, settings.main.access_key_id, settings.main.secret,
                     settings.region)


def unique_bucket_name(prefix: str = "rv") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def empty_and_delete(client, name: str) -> None:
    """Best effort: abort uploads, delete every object, delete the bucket."""
    try:
        uploads = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        for upload in uploads:
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
    except ClientError:
        pass  # NoSuchBucket, or multipart not implemented yet
    try:
        # Every version and delete marker (an unversioned bucket lists its objects as null
        # versions), so that versioned buckets empty too.
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=name):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                client.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
        client.delete_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("NoSuchBucket", "404"):
            raise


@pytest.fixture
def make_bucket(s3) -> Iterator[Callable[..., str]]:
    """make_bucket(client=s3): creates a uniquely named bucket, removed after the test."""
    created: list[tuple[object, str]] = []

    def make(client=None) -> str:
        client = client or s3
        name = unique_bucket_name()
        client.create_bucket(Bucket=name)
        created.append((client, name))
        return name

    yield make
    for client, name in reversed(created):
        empty_and_delete(client, name)


@pytest.fixture
def bucket(make_bucket) -> str:
    """A fresh, empty bucket owned by the main key."""
    return make_bucket()
