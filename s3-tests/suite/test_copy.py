"""CopyObject: same and cross bucket, metadata directives, copying onto itself, and the
x-amz-copy-source-if-* preconditions.

Goal: a copy is byte-identical to its source with the metadata S3's directive says; copying an
object onto itself needs REPLACE; each failed copy precondition is 412.
Method: small and multi-MiB sources; CopySource as boto3's dict form, which encodes the key.
"""

import datetime as dt

import pytest

from expect import pattern, quoted_md5, s3_error

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def source(s3, bucket):
    body = b"copy me"
    s3.put_object(Bucket=bucket, Key="src", Body=body, Metadata={"origin": "source"},
                  ContentType="text/x-source", CacheControl="max-age=5")
    head = s3.head_object(Bucket=bucket, Key="src")
    return {"bucket": bucket, "key": "src", "body": body, "etag": head["ETag"],
            "modified": head["LastModified"]}


def copy_source(src):
    return {"Bucket": src["bucket"], "Key": src["key"]}


def test_copy_same_bucket(s3, source):
    result = s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source))
    assert result["CopyObjectResult"]["ETag"] == quoted_md5(source["body"])
    assert result["CopyObjectResult"]["LastModified"]
    got = s3.get_object(Bucket=source["bucket"], Key="dst")
    assert got["Body"].read() == source["body"]
    # The default directive is COPY: metadata and content headers come along.
    assert got["Metadata"] == {"origin": "source"}
    assert got["ContentType"] == "text/x-source"
    assert got["CacheControl"] == "max-age=5"


def test_copy_cross_bucket(s3, source, make_bucket):
    other = make_bucket()
    s3.copy_object(Bucket=other, Key="dst", CopySource=copy_source(source))
    assert s3.get_object(Bucket=other, Key="dst")["Body"].read() == source["body"]
    # The source is untouched.
    assert s3.get_object(Bucket=source["bucket"], Key="src")["Body"].read() == source["body"]


def test_copy_metadata_directive_copy_ignores_new_metadata(s3, source):
    s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source),
                   MetadataDirective="COPY", Metadata={"ignored": "yes"})
    assert s3.head_object(Bucket=source["bucket"], Key="dst")["Metadata"] == {"origin": "source"}


def test_copy_metadata_directive_replace(s3, source):
    s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source),
                   MetadataDirective="REPLACE", Metadata={"fresh": "1"},
                   ContentType="application/x-new")
    head = s3.head_object(Bucket=source["bucket"], Key="dst")
    assert head["Metadata"] == {"fresh": "1"}
    assert head["ContentType"] == "application/x-new"
    assert head.get("CacheControl") is None


def test_copy_onto_itself_without_change_is_refused(s3, source):
    with s3_error(400, "InvalidRequest"):
        s3.copy_object(Bucket=source["bucket"], Key="src", CopySource=copy_source(source))


def test_copy_onto_itself_with_replace(s3, source):
    s3.copy_object(Bucket=source["bucket"], Key="src", CopySource=copy_source(source),
                   MetadataDirective="REPLACE", Metadata={"updated": "true"})
    got = s3.get_object(Bucket=source["bucket"], Key="src")
    assert got["Body"].read() == source["body"]
    assert got["Metadata"] == {"updated": "true"}


def test_copy_large_object(s3, bucket):
    body = pattern(6 * 1024 * 1024 + 7, seed=71)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    s3.copy_object(Bucket=bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    got = s3.get_object(Bucket=bucket, Key="big-copy")
    assert got["Body"].read() == body
    assert got["ETag"] == quoted_md5(body)


def test_copy_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    s3.copy_object(Bucket=bucket, Key="empty-copy", CopySource={"Bucket": bucket, "Key": "empty"})
    assert s3.get_object(Bucket=bucket, Key="empty-copy")["Body"].read() == b""


def test_copy_awkward_key(s3, bucket):
    key = "dir with space/ünï+cødé?&.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"awkward")
    s3.copy_object(Bucket=bucket, Key=key + ".copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=key + ".copy")["Body"].read() == b"awkward"


def test_copy_overwrites_destination(s3, source):
    s3.put_object(Bucket=source["bucket"], Key="dst", Body=b"old destination")
    s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source))
    assert s3.get_object(Bucket=source["bucket"], Key="dst")["Body"].read() == source["body"]


def test_copy_missing_source_key(s3, bucket):
    with s3_error(404, "NoSuchKey"):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "missing"})


def test_copy_missing_source_bucket(s3, bucket):
    with s3_error(404, "NoSuchBucket"):
        s3.copy_object(Bucket=bucket, Key="dst",
                       CopySource={"Bucket": "rv-no-such-bucket-0003", "Key": "k"})


def test_copy_to_missing_bucket(s3, source):
    with s3_error(404, "NoSuchBucket"):
        s3.copy_object(Bucket="rv-no-such-bucket-0004", Key="dst", CopySource=copy_source(source))


def test_copy_if_match(s3, source):
    s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source),
                   CopySourceIfMatch=source["etag"])
    assert s3.get_object(Bucket=source["bucket"], Key="dst")["Body"].read() == source["body"]


@pytest.mark.parametrize(
    "condition",
    [
        lambda s: {"CopySourceIfMatch": '"00000000000000000000000000000000"'},
        lambda s: {"CopySourceIfNoneMatch": s["etag"]},
        lambda s: {"CopySourceIfModifiedSince": s["modified"] + HOUR},
        lambda s: {"CopySourceIfUnmodifiedSince": s["modified"] - HOUR},
    ],
    ids=["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"],
)
def test_copy_precondition_failed(s3, source, condition):
    with s3_error(412, "PreconditionFailed"):
        s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source),
                       **condition(source))
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=source["bucket"], Key="dst")


def test_copy_preconditions_that_hold(s3, source):
    s3.copy_object(Bucket=source["bucket"], Key="dst", CopySource=copy_source(source),
                   CopySourceIfNoneMatch='"other"',
                   CopySourceIfModifiedSince=source["modified"] - HOUR)
    s3.copy_object(Bucket=source["bucket"], Key="dst2", CopySource=copy_source(source),
                   CopySourceIfUnmodifiedSince=source["modified"] + HOUR)


def test_copy_source_version_null(s3, source):
    s3.copy_object(Bucket=source["bucket"], Key="dst",
                   CopySource={**copy_source(source), "VersionId": "null"})
    assert s3.get_object(Bucket=source["bucket"], Key="dst")["Body"].read() == source["body"]


def test_alt_cannot_copy_from_main(s3_alt, make_bucket, source):
    alt_bucket = make_bucket(s3_alt)
    with s3_error(403, "AccessDenied"):
        s3_alt.copy_object(Bucket=alt_bucket, Key="stolen", CopySource=copy_source(source))


def test_alt_cannot_copy_into_main(s3, s3_alt, make_bucket, source):
    alt_bucket = make_bucket(s3_alt)
    s3_alt.put_object(Bucket=alt_bucket, Key="alt", Body=b"alt")
    with s3_error(403, "AccessDenied"):
        s3_alt.copy_object(Bucket=source["bucket"], Key="pushed",
                           CopySource={"Bucket": alt_bucket, "Key": "alt"})
