"""Authentication and access: SigV4 headers and presigned URLs, SigV2, keys, and ownership.

Goal: correctly signed requests pass and every way of getting a signature wrong fails with
S3's code (bad secret, unknown key, anonymous, skewed clock, wrong region, expired or tampered
presigned URL); presigned GET and PUT work with a plain HTTP client; a second key gets
AccessDenied (403, never NoSuchBucket) on everything of the main key's.
Method: boto3 clients with altered credentials or signature versions, urllib for presigned
URLs, and rawhttp.py for requests boto3 cannot be made to send.
"""

import datetime as dt
import time
import urllib.request

import pytest
import urllib3
from botocore.config import Config

from conftest import Key
from expect import s3_error, status_of


def fetch(url, method="GET", data=None, headers=None):
    """A plain HTTP client for presigned URLs. urllib3 adds no Content-Type of its own (urllib
    does, which SigV2 signs), so a PUT carries exactly the headers the URL was signed for."""
    response = urllib3.request(method, url, body=data, headers=headers or {}, retries=False,
                               redirect=False, timeout=30)
    return response.status, response.data


def test_bad_secret(make_client, settings, bucket):
    client = make_client(Key(settings.main.access_key_id, "wrong-secret"))
    with s3_error(403, "SignatureDoesNotMatch"):
        client.list_objects_v2(Bucket=bucket)


def test_unknown_access_key(make_client):
    client = make_client(Key("RVNOSUCHKEY000000000", "whatever"))
    with s3_error(403, "InvalidAccessKeyId"):
        client.list_buckets()


def test_anonymous_request_denied(make_client, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    with s3_error(403, "AccessDenied"):
        make_client(unsigned=True).get_object(Bucket=bucket, Key="obj")


def test_request_time_too_skewed(raw, bucket):
    response = raw.request("GET", bucket, query="list-type=2",
                           now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    assert response.status == 403
    assert response.error_code() == "RequestTimeTooSkewed"


def test_wrong_region_in_scope(raw, bucket):
    response = raw.request("GET", bucket, query="list-type=2", region="eu-west-1")
    assert response.status == 400
    assert response.error_code() == "AuthorizationHeaderMalformed"


def test_malformed_authorization_header(settings, bucket):
    from rawhttp import RawClient

    client = RawClient(settings.endpoint, "x", "y", settings.region)
    response = client.request("GET", bucket, sign=False,
                              headers={"Authorization": "AWS4-HMAC-SHA256 nonsense",
                                       "x-amz-date": "20250101T000000Z",
                                       "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert response.status in (400, 403)
    assert response.error_code() in ("AuthorizationHeaderMalformed", "AccessDenied",
                                     "InvalidArgument")


def test_error_body_shape(raw, bucket):
    response = raw.request("GET", bucket, "missing-key")
    assert response.status == 404
    assert response.error_code() == "NoSuchKey"
    assert response.error_field("Message")
    assert response.error_field("RequestId") == response.headers["x-amz-request-id"]
    assert response.headers["content-type"].startswith("application/xml")


# --- presigned URLs, SigV4 -------------------------------------------------------------------


@pytest.fixture
def v4(make_client):
    return make_client(signature_version="s3v4")


def test_presigned_get_v4(v4, bucket):
    v4.put_object(Bucket=bucket, Key="shared file.txt", Body=b"presigned body")
    url = v4.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared file.txt"}, ExpiresIn=300
    )
    assert "X-Amz-Signature=" in url
    assert fetch(url) == (200, b"presigned body")


def test_presigned_get_v4_with_response_override(v4, bucket):
    v4.put_object(Bucket=bucket, Key="obj", Body=b"x")
    url = v4.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": "obj", "ResponseContentDisposition": "attachment"},
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.headers["Content-Disposition"] == "attachment"


def test_presigned_put_v4(v4, bucket):
    url = v4.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "upload.bin"}, ExpiresIn=300
    )
    status, _ = fetch(url, method="PUT", data=b"uploaded through a presigned URL")
    assert status == 200
    got = v4.get_object(Bucket=bucket, Key="upload.bin")["Body"].read()
    assert got == b"uploaded through a presigned URL"


def test_presigned_v4_tampered(v4, bucket):
    v4.put_object(Bucket=bucket, Key="a", Body=b"a")
    v4.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "a"})
    status, body = fetch(url.replace(f"/{bucket}/a?", f"/{bucket}/b?"))
    assert status == 403
    assert b"SignatureDoesNotMatch" in body


def test_presigned_v4_expired(v4, bucket):
    v4.put_object(Bucket=bucket, Key="obj", Body=b"x")
    url = v4.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=1
    )
    time.sleep(2.1)
    status, body = fetch(url)
    assert status == 403
    assert b"AccessDenied" in body
    assert b"expired" in body.lower()


def test_presigned_v4_expiry_over_seven_days(v4, bucket):
    url = v4.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "obj"}, ExpiresIn=7 * 24 * 3600 + 1
    )
    status, body = fetch(url)
    assert status == 400
    assert b"AuthorizationQueryParametersError" in body


def test_presigned_v4_wrong_secret(make_client, settings, bucket, s3):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    client = make_client(Key(settings.main.access_key_id, "not-the-secret"),
                         signature_version="s3v4")
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj"})
    status, body = fetch(url)
    assert status == 403
    assert b"SignatureDoesNotMatch" in body


# --- SigV2 (header and presigned) ------------------------------------------------------------


@pytest.fixture
def v2(make_client):
    return make_client(signature_version="s3")


def test_sigv2_header_auth(v2, s3, bucket):
    v2.put_object(Bucket=bucket, Key="v2", Body=b"signed with v2")
    assert v2.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"signed with v2"
    assert [o["Key"] for o in v2.list_objects(Bucket=bucket)["Contents"]] == ["v2"]


def test_sigv2_bad_secret(make_client, settings, bucket):
    client = make_client(Key(settings.main.access_key_id, "wrong"), signature_version="s3")
    with s3_error(403, "SignatureDoesNotMatch"):
        client.list_objects(Bucket=bucket)


def test_presigned_get_v2(v2, s3, bucket):
    s3.put_object(Bucket=bucket, Key="v2 file", Body=b"v2 presigned")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v2 file"})
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    assert fetch(url) == (200, b"v2 presigned")


def test_presigned_put_v2(v2, s3, bucket):
    url = v2.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2put"})
    status, _ = fetch(url, method="PUT", data=b"v2 upload")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="v2put")["Body"].read() == b"v2 upload"


def test_presigned_v2_expired(v2, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj"},
                                    ExpiresIn=1)
    time.sleep(2.1)
    status, body = fetch(url)
    assert status == 403
    assert b"AccessDenied" in body


# --- a second key ----------------------------------------------------------------------------


def test_alt_does_not_see_main_buckets(s3_alt, bucket):
    assert bucket not in [b["Name"] for b in s3_alt.list_buckets()["Buckets"]]


def test_alt_head_bucket_denied(s3_alt, bucket):
    with s3_error(403, None):
        s3_alt.head_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "operation",
    [
        "list_objects_v2",
        "list_objects",
        "list_object_versions",
        "get_bucket_location",
        "delete_bucket",
    ],
)
def test_alt_bucket_operations_denied(s3_alt, bucket, operation):
    with s3_error(403, "AccessDenied"):
        getattr(s3_alt, operation)(Bucket=bucket)


def test_alt_object_operations_denied(s3, s3_alt, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    with s3_error(403, "AccessDenied"):
        s3_alt.get_object(Bucket=bucket, Key="private")
    with s3_error(403, None):
        s3_alt.head_object(Bucket=bucket, Key="private")
    with s3_error(403, "AccessDenied"):
        s3_alt.put_object(Bucket=bucket, Key="intruder", Body=b"x")
    with s3_error(403, "AccessDenied"):
        s3_alt.delete_object(Bucket=bucket, Key="private")
    # Missing keys are no different: the bucket is simply not the alt key's.
    with s3_error(403, "AccessDenied"):
        s3_alt.get_object(Bucket=bucket, Key="missing")
    assert s3.get_object(Bucket=bucket, Key="private")["Body"].read() == b"secret"


def test_alt_cannot_recreate_main_bucket(s3_alt, bucket):
    with s3_error(409, "BucketAlreadyExists"):
        s3_alt.create_bucket(Bucket=bucket)


def test_alt_presigned_url_denied(make_client, alt_key, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    alt_v4 = make_client(alt_key, signature_version="s3v4")
    url = alt_v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "obj"})
    status, body = fetch(url)
    assert status == 403
    assert b"AccessDenied" in body


def test_alt_own_bucket_is_private_to_alt(s3, s3_alt, make_bucket):
    name = make_bucket(s3_alt)
    s3_alt.put_object(Bucket=name, Key="alt-object", Body=b"alt")
    assert status_of(s3_alt.head_bucket(Bucket=name)) == 200
    with s3_error(403, "AccessDenied"):
        s3.get_object(Bucket=name, Key="alt-object")
