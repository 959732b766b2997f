"""Conditional GET and HEAD: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since.

Goal: each condition alone, and the combinations RFC 9110 orders (If-Match before
If-Unmodified-Since, If-None-Match before If-Modified-Since), give 200, 304 or 412 as S3 does.
Method: one object; dates an hour before and after its Last-Modified.
"""

import datetime as dt

import pytest

from expect import s3_error, status_of

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"conditional")
    head = s3.head_object(Bucket=bucket, Key="obj")
    return bucket, head["ETag"], head["LastModified"]


@pytest.fixture(params=["get", "head"])
def fetch(request, s3):
    """get_object or head_object: conditions behave the same on both."""
    return getattr(s3, f"{request.param}_object")


def test_if_match_true(fetch, obj):
    bucket, etag, _ = obj
    assert status_of(fetch(Bucket=bucket, Key="obj", IfMatch=etag)) == 200


def test_if_match_star(fetch, obj):
    bucket, _, _ = obj
    assert status_of(fetch(Bucket=bucket, Key="obj", IfMatch="*")) == 200


def test_if_match_false(fetch, obj):
    bucket, _, _ = obj
    with s3_error(412, ("PreconditionFailed", "412")):
        fetch(Bucket=bucket, Key="obj", IfMatch='"00000000000000000000000000000000"')


def test_if_match_list(fetch, obj):
    bucket, etag, _ = obj
    assert status_of(fetch(Bucket=bucket, Key="obj", IfMatch=f'"abc", {etag}')) == 200


def test_if_none_match_true(fetch, obj):
    bucket, etag, _ = obj
    with s3_error(304, "304"):
        fetch(Bucket=bucket, Key="obj", IfNoneMatch=etag)


def test_if_none_match_false(fetch, obj):
    bucket, _, _ = obj
    assert status_of(fetch(Bucket=bucket, Key="obj", IfNoneMatch='"other"')) == 200


def test_if_modified_since_past(fetch, obj):
    bucket, _, modified = obj
    assert status_of(fetch(Bucket=bucket, Key="obj", IfModifiedSince=modified - HOUR)) == 200


def test_if_modified_since_future(fetch, obj):
    bucket, _, modified = obj
    with s3_error(304, "304"):
        fetch(Bucket=bucket, Key="obj", IfModifiedSince=modified + HOUR)


def test_if_modified_since_exact(fetch, obj):
    bucket, _, modified = obj
    with s3_error(304, "304"):
        fetch(Bucket=bucket, Key="obj", IfModifiedSince=modified)


def test_if_unmodified_since_future(fetch, obj):
    bucket, _, modified = obj
    assert status_of(fetch(Bucket=bucket, Key="obj", IfUnmodifiedSince=modified + HOUR)) == 200


def test_if_unmodified_since_past(fetch, obj):
    bucket, _, modified = obj
    with s3_error(412, ("PreconditionFailed", "412")):
        fetch(Bucket=bucket, Key="obj", IfUnmodifiedSince=modified - HOUR)


def test_if_match_wins_over_if_unmodified_since(fetch, obj):
    bucket, etag, modified = obj
    response = fetch(Bucket=bucket, Key="obj", IfMatch=etag, IfUnmodifiedSince=modified - HOUR)
    assert status_of(response) == 200


def test_if_none_match_wins_over_if_modified_since(fetch, obj):
    bucket, etag, modified = obj
    with s3_error(304, "304"):
        fetch(Bucket=bucket, Key="obj", IfNoneMatch=etag, IfModifiedSince=modified - HOUR)


def test_if_none_match_false_ignores_if_modified_since(fetch, obj):
    bucket, _, modified = obj
    response = fetch(Bucket=bucket, Key="obj", IfNoneMatch='"other"',
                     IfModifiedSince=modified + HOUR)
    assert status_of(response) == 200


def test_not_modified_carries_etag(s3, obj):
    bucket, etag, _ = obj
    with s3_error(304, "304") as error:
        s3.get_object(Bucket=bucket, Key="obj", IfNoneMatch=etag)
    assert error["ResponseMetadata"]["HTTPHeaders"].get("etag") == etag


def test_conditional_on_missing_key(s3, bucket):
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="missing", IfMatch='"abc"')
