"""Objects: PutObject, GetObject, HeadObject, DeleteObject.

Goal: bodies of every size class come back byte for byte with S3's ETag; metadata and content
headers are stored and returned; response-content-* overrides work; awkward keys survive the
round trip through URL encoding and listing; overwrites and deletes behave as S3's do.
Method: boto3 calls with default settings; bodies are deterministic byte patterns.
"""

import datetime as dt

import pytest

from expect import header, md5_hex, pattern, quoted_md5, s3_error, status_of

# 0 and 1 byte, small (inline in the record), just above the inline limit (64 KiB),
# and several MiB (several 1 MiB blocks with a ragged tail).
SIZES = [0, 1, 1000, 64 * 1024 + 1, 3 * 1024 * 1024 + 17]


@pytest.mark.parametrize("size", SIZES)
def test_put_get_round_trip(s3, bucket, size):
    body = pattern(size, seed=size)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body)
    assert put["ETag"] == quoted_md5(body)
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == body
    assert got["ContentLength"] == size
    assert got["ETag"] == quoted_md5(body)
    assert got["AcceptRanges"] == "bytes"


@pytest.mark.parametrize("size", [0, 5000])
def test_head_object(s3, bucket, size):
    body = pattern(size)
    s3.put_object(Bucket=bucket, Key="obj", Body=body)
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == size
    assert head["ETag"] == quoted_md5(body)
    age = dt.datetime.now(dt.timezone.utc) - head["LastModified"]
    assert -5 < age.total_seconds() < 300


def test_default_content_type(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="obj")["ContentType"] == "binary/octet-stream"


def test_user_metadata_round_trip(s3, bucket):
    metadata = {"color": "blue", "multi-word-name": "value with spaces", "empty": ""}
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", Metadata=metadata)
    assert s3.head_object(Bucket=bucket, Key="obj")["Metadata"] == metadata
    assert s3.get_object(Bucket=bucket, Key="obj")["Metadata"] == metadata


def test_user_metadata_names_are_lower_case(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", Metadata={"MixedCase": "v"})
    assert s3.head_object(Bucket=bucket, Key="obj")["Metadata"] == {"mixedcase": "v"}


def test_user_metadata_too_large(s3, bucket):
    with s3_error(400, "MetadataTooLarge"):
        s3.put_object(Bucket=bucket, Key="obj", Body=b"x", Metadata={"big": "v" * 2100})


def test_content_headers_round_trip(s3, bucket):
    expires = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    s3.put_object(
        Bucket=bucket,
        Key="page.html",
        Body=b"<html></html>",
        ContentType="text/html; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="page.html"',
        ContentLanguage="en-GB",
        CacheControl="max-age=60",
        Expires=expires,
    )
    for response in (
        s3.head_object(Bucket=bucket, Key="page.html"),
        s3.get_object(Bucket=bucket, Key="page.html"),
    ):
        assert response["ContentType"] == "text/html; charset=utf-8"
        assert response["ContentEncoding"] == "identity"
        assert response["ContentDisposition"] == 'attachment; filename="page.html"'
        assert response["ContentLanguage"] == "en-GB"
        assert response["CacheControl"] == "max-age=60"
        assert response["Expires"] == expires


def test_response_content_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"data", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="obj",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
        ResponseCacheControl="no-cache",
        ResponseExpires=dt.datetime(2030, 6, 1, tzinfo=dt.timezone.utc),
    )
    assert got["Body"].read() == b"data"
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "identity"
    assert got["CacheControl"] == "no-cache"
    assert got["Expires"] == dt.datetime(2030, 6, 1, tzinfo=dt.timezone.utc)
    # The stored headers are unchanged.
    assert s3.head_object(Bucket=bucket, Key="obj")["ContentType"] == "text/plain"


AWKWARD_KEYS = {
    "spaces": "spaces in the name",
    "plus": "plus+sign",
    "percent": "percent%20literal",
    "unicode": "unicode-é-日本語-😀",
    "nested": "deep/nested/path/file.txt",
    "trailing-slash": "trailing-slash/",
    "double-slash": "double//slash",
    "question": "question?mark",
    "hash": "hash#tag",
    "query-like": "amp&and=equals;semi",
    "punctuation": "tilde~bang!star*quote'paren()",
    "more-punctuation": "comma,colon:at@dollar$",
    "brackets": "brackets[]{}<>",
    "backslash": "back\\slash",
    "leading-space": " leading-space",
    "dots": "dots.../x",
}


@pytest.mark.parametrize("key", AWKWARD_KEYS.values(), ids=AWKWARD_KEYS.keys())
def test_awkward_keys(s3, bucket, key):
    body = key.encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == [key]
    assert status_of(s3.delete_object(Bucket=bucket, Key=key)) == 204
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_of_1024_bytes(s3, bucket):
    key = "k" * 1024
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"


def test_overwrite_replaces_body_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"first", Metadata={"gen": "1"})
    second = pattern(200_000, seed=2)
    s3.put_object(Bucket=bucket, Key="obj", Body=second, ContentType="text/x-second")
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == second
    assert got["ETag"] == quoted_md5(second)
    assert got["Metadata"] == {}
    assert got["ContentType"] == "text/x-second"
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("obj", len(second))]


def test_overwrite_large_with_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=pattern(2 * 1024 * 1024))
    s3.put_object(Bucket=bucket, Key="obj", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == b""
    assert got["ETag"] == f'"{md5_hex(b"")}"'


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    assert status_of(s3.delete_object(Bucket=bucket, Key="obj")) == 204
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="obj")


def test_delete_missing_object_is_204(s3, bucket):
    assert status_of(s3.delete_object(Bucket=bucket, Key="never-existed")) == 204


def test_get_missing_object(s3, bucket):
    with s3_error(404, "NoSuchKey") as error:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error["Error"].get("Message")


def test_head_missing_object(s3, bucket):
    with s3_error(404, ("404", "NoSuchKey")):
        s3.head_object(Bucket=bucket, Key="missing")


def test_get_object_in_missing_bucket(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.get_object(Bucket="rv-no-such-bucket-0000", Key="k")


def test_get_with_null_version_id(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="obj", VersionId="null")["Body"].read() == b"v"


def test_get_with_unknown_version_id(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"v")
    with s3_error(400, ("InvalidArgument", "NoSuchVersion")):
        s3.get_object(Bucket=bucket, Key="obj", VersionId="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrH")


def test_request_id_headers(s3, bucket):
    response = s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    assert header(response, "x-amz-request-id")
    assert response["ResponseMetadata"]["RequestId"] == header(response, "x-amz-request-id")


def test_put_with_content_md5(s3, bucket):
    import base64
    import hashlib

    body = b"checked by md5"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="obj", Body=body, ContentMD5=md5)
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == body
