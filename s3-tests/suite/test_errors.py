"""Errors: operations RingVault does not implement, methods that make no sense, bad input.

Goal: an unsupported operation is a 501 NotImplemented S3 error, never a wrong success; an
unknown method is 405; over-long keys, bad query values and broken XML are 400 with S3's codes;
every error is an XML document carrying the request id.
Method: boto3 for operations it can express, rawhttp.py for the rest.
"""

import pytest

from expect import s3_error

# Operations outside RingVault's scope for now (README: replication, event notifications).
# Each is called with the smallest valid input.
UNIMPLEMENTED = {
    "get_bucket_replication": lambda c, b: c.get_bucket_replication(Bucket=b),
    "get_bucket_notification_configuration": lambda c, b: (
        c.get_bucket_notification_configuration(Bucket=b)
    ),
}


@pytest.mark.parametrize("operation", UNIMPLEMENTED.values(), ids=UNIMPLEMENTED.keys())
def test_unimplemented_operation_is_501(s3, bucket, operation):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error(501, "NotImplemented"):
        operation(s3, bucket)


def test_unimplemented_leaves_no_trace(raw, s3, bucket):
    response = raw.request("PUT", bucket, query="notification",
                           body=b'<NotificationConfiguration></NotificationConfiguration>')
    assert response.status == 501
    assert response.error_code() == "NotImplemented"
    assert response.error_field("RequestId")


@pytest.mark.parametrize(
    "method,bucket_part,key",
    [("PATCH", True, "k"), ("PUT", False, None), ("POST", False, None), ("DELETE", False, None)],
)
def test_method_not_allowed(raw, bucket, method, bucket_part, key):
    response = raw.request(method, bucket if bucket_part else None, key)
    assert response.status == 405
    assert response.error_code() == "MethodNotAllowed"


def test_key_too_long(s3, bucket):
    with s3_error(400, "KeyTooLongError"):
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")


def test_key_too_long_multibyte(s3, bucket):
    # The limit is 1024 bytes of UTF-8, not 1024 characters.
    with s3_error(400, "KeyTooLongError"):
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")


def test_get_key_too_long(s3, bucket):
    with s3_error(400, "KeyTooLongError"):
        s3.get_object(Bucket=bucket, Key="k" * 1025)


def test_invalid_max_keys_v1(raw, bucket):
    response = raw.request("GET", bucket, query="max-keys=lots")
    assert response.status == 400
    assert response.error_code() == "InvalidArgument"


def test_invalid_version_id(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    response = raw.request("GET", bucket, "k", query="versionId=nonsense")
    assert response.status == 400
    assert response.error_code() == "InvalidArgument"


def test_error_document_for_missing_bucket(raw):
    response = raw.request("GET", "rv-no-such-bucket-0002", query="list-type=2")
    assert response.status == 404
    assert response.error_code() == "NoSuchBucket"
    assert response.error_field("Resource") == "/rv-no-such-bucket-0002"
    assert response.error_field("RequestId") == response.headers.get("x-amz-request-id")


def test_head_error_has_no_body(raw, bucket):
    response = raw.request("HEAD", bucket, "missing")
    assert response.status == 404
    assert response.body == b""


def test_anonymous_error_is_access_denied(raw, bucket):
    response = raw.request("GET", bucket, query="list-type=2", sign=False)
    assert response.status == 403
    assert response.error_code() == "AccessDenied"
