"""Server-side encryption: SSE-C, SSE-S3, SSE-KMS (local keyring) and bucket default encryption.

Goal: what boto3 and its transfer manager do with encryption works end to end: an SSE-C object
reads back only with its key (its multipart upload and copies too), SSE-S3 and SSE-KMS objects
read back without one and name their scheme, a bucket's default applies to plain writes, and
a bucket policy can insist on encryption.
Method: boto3 clients and boto3.s3.transfer (multipart with SSE-C on every part and on the
completion) against the node run.sh starts with a keyring holding testkey-1 and testkey-2.
"""

import base64
import hashlib
import io
import json
import os

import boto3.s3.transfer
import pytest

from expect import s3_error

KEY = os.urandom(32)
SSE_C = {
    "SSECustomerAlgorithm": "AES256",
    "SSECustomerKey": base64.b64encode(KEY).decode(),
    "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
}
OTHER = os.urandom(32)
SSE_C_OTHER = {
    "SSECustomerAlgorithm": "AES256",
    "SSECustomerKey": base64.b64encode(OTHER).decode(),
    "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(OTHER).digest()).decode(),
}


def test_sse_c_reads_back_only_with_its_key(s3, bucket):
    body = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, **SSE_C)
    assert put["SSECustomerKeyMD5"] == SSE_C["SSECustomerKeyMD5"]
    with s3_error(400, "InvalidRequest"):
        s3.get_object(Bucket=bucket, Key="k")
    with s3_error(403, "AccessDenied"):
        s3.get_object(Bucket=bucket, Key="k", **SSE_C_OTHER)
    got = s3.get_object(Bucket=bucket, Key="k", Range="bytes=1000-1999", **SSE_C)
    assert got["Body"].read() == body[1000:2000]
    head = s3.head_object(Bucket=bucket, Key="k", **SSE_C)
    assert head["ContentLength"] == len(body)
    assert head["SSECustomerAlgorithm"] == "AES256"


def test_sse_c_multipart_through_the_transfer_manager(s3, bucket):
    body = os.urandom(12 * 1024 * 1024 + 7)
    config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                              multipart_chunksize=5 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(body), bucket, "big", ExtraArgs=dict(SSE_C), Config=config)
    head = s3.head_object(Bucket=bucket, Key="big", **SSE_C)
    assert head["ETag"].endswith('-3"')
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big", out, ExtraArgs=dict(SSE_C), Config=config)
    assert out.getvalue() == body


def test_bad_sse_c_headers_are_refused_before_anything_is_stored(s3, bucket):
    wrong_md5 = dict(SSE_C, SSECustomerKeyMD5=SSE_C_OTHER["SSECustomerKeyMD5"])
    with s3_error(400, "InvalidArgument"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", **wrong_md5)
    with s3_error(400, "InvalidArgument"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256", **SSE_C)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_sse_s3_sse_kms_and_the_bucket_default(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="s3", Body=b"managed", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    put = s3.put_object(Bucket=bucket, Key="kms", Body=b"kms", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId="testkey-1")
    assert put["SSEKMSKeyId"] == "testkey-1"
    got = s3.get_object(Bucket=bucket, Key="kms")
    assert (got["ServerSideEncryption"], got["Body"].read()) == ("aws:kms", b"kms")
    with s3_error(400, "KMS.NotFoundException"):
        s3.put_object(Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="no-such-key")

    with s3_error(404, "ServerSideEncryptionConfigurationNotFoundError"):
        s3.get_bucket_encryption(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                "KMSMasterKeyID": "testkey-2"}}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == "testkey-2"
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"defaulted")
    assert (plain["ServerSideEncryption"], plain["SSEKMSKeyId"]) == ("aws:kms", "testkey-2")
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"defaulted"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="p2", Body=b"x")


def test_copies_decrypt_with_the_source_key_and_encrypt_as_asked(s3, bucket):
    body = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="src", Body=body, **SSE_C)
    source_key = {f"CopySource{k}": v for k, v in SSE_C.items()}
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                            ServerSideEncryption="AES256", **source_key)
    assert copied["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == body
    with s3_error(400, "InvalidRequest"):
        s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"})


def test_a_policy_can_insist_on_encryption(s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/*",
                       "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}],
    }))
    with s3_error(403, "AccessDenied"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256")
    s3.delete_bucket_policy(Bucket=bucket)


@pytest.mark.parametrize("extra", [{"ServerSideEncryption": "aes:kms"},
                                   {"SSEKMSKeyId": "testkey-1"}])
def test_malformed_server_side_encryption_is_invalid_argument(s3, bucket, extra):
    with s3_error(400, "InvalidArgument"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", **extra)
