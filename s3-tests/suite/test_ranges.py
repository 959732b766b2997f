"""Range GET: first-last, open-ended and suffix ranges, 206 answers and 416 errors.

Goal: every range form HTTP defines for one byte range gives S3's status, Content-Range and
bytes, including ranges that cross the node's 1 MiB block boundaries and unsatisfiable ones.
Method: one deterministic object per test, fetched with explicit Range headers.
"""

import pytest

from expect import header, pattern, s3_error, status_of

SIZE = 1000


@pytest.fixture
def obj(s3, bucket):
    body = pattern(SIZE, seed=7)
    s3.put_object(Bucket=bucket, Key="obj", Body=body)
    return bucket, body


@pytest.mark.parametrize(
    "spec,start,end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-9", 0, 9),
        ("bytes=100-199", 100, 199),
        ("bytes=990-", 990, 999),  # open-ended
        ("bytes=-10", 990, 999),  # suffix
        ("bytes=-5000", 0, 999),  # suffix longer than the object: all of it
        ("bytes=900-5000", 900, 999),  # last byte past the end: clipped
        ("bytes=999-999", 999, 999),
    ],
)
def test_satisfiable_ranges(s3, obj, spec, start, end):
    bucket, body = obj
    got = s3.get_object(Bucket=bucket, Key="obj", Range=spec)
    assert status_of(got) == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/{SIZE}"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == body[start : end + 1]


def test_head_with_range(s3, obj):
    bucket, _ = obj
    head = s3.head_object(Bucket=bucket, Key="obj", Range="bytes=10-19")
    assert status_of(head) == 206
    assert head["ContentLength"] == 10
    assert head["ContentRange"] == f"bytes 10-19/{SIZE}"


@pytest.mark.parametrize("spec", ["bytes=1000-", "bytes=5000-6000", "bytes=1000-1000"])
def test_unsatisfiable_range(s3, obj, spec):
    bucket, _ = obj
    with s3_error(416, "InvalidRange") as error:
        s3.get_object(Bucket=bucket, Key="obj", Range=spec)
    assert header(error, "content-range") == f"bytes */{SIZE}"


def test_range_on_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with s3_error(416, "InvalidRange"):
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-10")


@pytest.mark.parametrize("spec", ["bytes=abc", "bytes=9-3", "items=0-1", "bytes="])
def test_malformed_range_is_ignored(s3, obj, spec):
    # S3 ignores a Range it cannot parse and sends the whole object.
    bucket, body = obj
    got = s3.get_object(Bucket=bucket, Key="obj", Range=spec)
    assert status_of(got) == 200
    assert got["Body"].read() == body


def test_range_across_block_boundaries(s3, bucket):
    mib = 1024 * 1024
    body = pattern(3 * mib + 5, seed=9)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    for start, end in [(mib - 10, mib + 10), (mib - 1, 2 * mib), (0, 3 * mib + 4), (2 * mib, 3 * mib + 4)]:
        got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")
        assert got["Body"].read() == body[start : end + 1], (start, end)


def test_range_with_conditional(s3, obj):
    bucket, body = obj
    etag = s3.head_object(Bucket=bucket, Key="obj")["ETag"]
    got = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-3", IfMatch=etag)
    assert got["Body"].read() == body[:4]
    with s3_error(412, "PreconditionFailed"):
        s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-3", IfMatch='"0000"')
