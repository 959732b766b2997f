"""Checksums: x-amz-checksum-* on PutObject and x-amz-checksum-mode on GET/HEAD; Content-MD5.

Goal: every algorithm S3 offers (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) is verified on
upload, stored, returned when asked for and validated by botocore on download; a wrong
Content-MD5 or checksum value is refused with S3's code and leaves no object behind.
Method: boto3's own flexible-checksum support (CRC32C and CRC64NVME need awscrt, pinned in
requirements.txt); values for CRC32/SHA1/SHA256 are cross-checked against Python's hashlib
and zlib so a server and client that agree on a wrong value would still be caught.
"""

import base64
import hashlib

import pytest

from expect import crc32_b64, pattern, s3_error, sha1_b64, sha256_b64

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
LOCAL = {"CRC32": crc32_b64, "SHA1": sha1_b64, "SHA256": sha256_b64}
BODY_SIZES = [0, 1234, 2 * 1024 * 1024 + 3]


@pytest.mark.parametrize("size", BODY_SIZES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_with_checksum_algorithm(s3, bucket, algorithm, size):
    body = pattern(size, seed=size + 1)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    if algorithm in LOCAL:
        assert value == LOCAL[algorithm](body)
    got = s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    # botocore validates the body against the returned checksum while reading it.
    assert got["Body"].read() == body
    assert got[f"Checksum{algorithm}"] == value
    assert got.get("ChecksumType") == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value


def test_default_put_stores_crc32(s3, bucket):
    # boto3's default (request_checksum_calculation=when_supported) sends CRC32.
    body = b"default client"
    s3.put_object(Bucket=bucket, Key="obj", Body=body)
    head = s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == crc32_b64(body)


def test_checksum_not_returned_without_mode(make_client, s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", ChecksumAlgorithm="SHA256")
    # boto3's default client asks for checksums on every GET; this one does not.
    quiet = make_client(response_checksum_validation="when_required")
    got = quiet.get_object(Bucket=bucket, Key="obj")
    assert "ChecksumSHA256" not in got


def test_checksum_not_returned_for_ranges(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"0123456789", ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-3", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"0123"
    assert "ChecksumSHA256" not in got


def test_listing_reports_checksum_algorithm(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", ChecksumAlgorithm="SHA1")
    item = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert item.get("ChecksumAlgorithm") == ["SHA1"]


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_explicit_checksum_value_accepted(s3, bucket, algorithm):
    body = b"explicit value"
    s3.put_object(Bucket=bucket, Key="obj", Body=body, **{f"Checksum{algorithm}": LOCAL[algorithm](body)})
    got = s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == LOCAL[algorithm](body)


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_wrong_checksum_value_is_bad_digest(s3, bucket, algorithm):
    wrong = LOCAL[algorithm](b"some other body")
    with s3_error(400, ("BadDigest", "XAmzContentChecksumMismatch")):
        s3.put_object(Bucket=bucket, Key="obj", Body=b"the real body", **{f"Checksum{algorithm}": wrong})
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="obj")


def test_malformed_checksum_value(s3, bucket):
    with s3_error(400, "InvalidRequest"):
        s3.put_object(Bucket=bucket, Key="obj", Body=b"x", ChecksumCRC32="not-base64!")


def test_content_md5_mismatch_is_bad_digest(s3, bucket):
    wrong = base64.b64encode(hashlib.md5(b"another body").digest()).decode()
    with s3_error(400, "BadDigest"):
        s3.put_object(Bucket=bucket, Key="obj", Body=b"the body", ContentMD5=wrong)
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="obj")


@pytest.mark.parametrize("value", ["not base64 at all", base64.b64encode(b"short").decode()])
def test_content_md5_malformed_is_invalid_digest(s3, bucket, value):
    with s3_error(400, "InvalidDigest"):
        s3.put_object(Bucket=bucket, Key="obj", Body=b"the body", ContentMD5=value)


def test_bad_digest_on_large_body_leaves_old_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"original")
    body = pattern(3 * 1024 * 1024, seed=3)
    wrong = base64.b64encode(hashlib.md5(b"nope").digest()).decode()
    with s3_error(400, "BadDigest"):
        s3.put_object(Bucket=bucket, Key="obj", Body=body, ContentMD5=wrong)
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"original"


def test_payload_hash_mismatch(raw, bucket):
    response = raw.request("PUT", bucket, "obj", body=b"abc",
                           payload_hash=hashlib.sha256(b"xyz").hexdigest())
    assert response.status == 400
    assert response.error_code() == "XAmzContentSHA256Mismatch"


def test_unsigned_payload_accepted(raw, s3, bucket):
    response = raw.request("PUT", bucket, "obj", body=b"unsigned", payload_hash="UNSIGNED-PAYLOAD")
    assert response.status == 200, response.body
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"unsigned"


def test_completion_checks_the_whole_object_checksum(s3, bucket):
    """A CompleteMultipartUpload that names the object's checksum is refused with BadDigest
    unless it matches (composite: the checksum of the part checksums, then -N)."""
    part = pattern(5 * 1024 * 1024, 3)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")
    uploaded = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                              Body=part, ChecksumAlgorithm="SHA256")
    parts = {"Parts": [{"ETag": uploaded["ETag"], "PartNumber": 1,
                        "ChecksumSHA256": uploaded["ChecksumSHA256"]}]}
    composite = base64.b64encode(hashlib.sha256(
        base64.b64decode(uploaded["ChecksumSHA256"])).digest()).decode() + "-1"
    with s3_error(400, "BadDigest"):
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                     MultipartUpload=parts, ChecksumSHA256=sha256_b64(b"other") + "-1")
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="mp")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                        MultipartUpload=parts, ChecksumSHA256=composite)
    assert done["ChecksumSHA256"] == composite
