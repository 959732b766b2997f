"""Tagging: object tags (Put/Get/DeleteObjectTagging, x-amz-tagging on PUT, TagCount on GET)
and bucket tags (Put/Get/DeleteBucketTagging).

Goal: tags round-trip exactly, replace rather than merge, and the limits S3 enforces (key and
value length, duplicates, count) are refused with S3's codes.
Method: boto3 calls on fresh objects; tag sets are compared as sorted lists.
"""

import pytest

from expect import s3_error, status_of


def tagset(pairs):
    return [{"Key": k, "Value": v} for k, v in pairs]


def sorted_tags(response):
    return sorted((t["Key"], t["Value"]) for t in response["TagSet"])


@pytest.fixture
def obj(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"tagged")
    return bucket


def test_object_tagging_round_trip(s3, obj):
    tags = [("project", "ringvault"), ("stage", "test run"), ("empty", "")]
    s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset(tags)})
    assert sorted_tags(s3.get_object_tagging(Bucket=obj, Key="obj")) == sorted(tags)
    assert s3.get_object(Bucket=obj, Key="obj")["TagCount"] == 3
    assert status_of(s3.delete_object_tagging(Bucket=obj, Key="obj")) == 204
    assert s3.get_object_tagging(Bucket=obj, Key="obj")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=obj, Key="obj")


def test_untagged_object_has_empty_tag_set(s3, obj):
    assert s3.get_object_tagging(Bucket=obj, Key="obj")["TagSet"] == []


def test_put_tagging_replaces(s3, obj):
    s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset([("a", "1")])})
    s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset([("b", "2")])})
    assert sorted_tags(s3.get_object_tagging(Bucket=obj, Key="obj")) == [("b", "2")]


def test_tagging_header_on_put(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", Tagging="colour=blue&size=large%20one")
    assert sorted_tags(s3.get_object_tagging(Bucket=bucket, Key="obj")) == [
        ("colour", "blue"), ("size", "large one")]
    assert s3.head_object(Bucket=bucket, Key="obj").get("TagCount", 2) == 2
    assert s3.get_object(Bucket=bucket, Key="obj")["TagCount"] == 2


def test_overwrite_drops_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="obj", Body=b"y")
    assert s3.get_object_tagging(Bucket=bucket, Key="obj")["TagSet"] == []


def test_ten_tags_allowed(s3, obj):
    tags = [(f"k{i}", f"v{i}") for i in range(10)]
    s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset(tags)})
    assert len(s3.get_object_tagging(Bucket=obj, Key="obj")["TagSet"]) == 10


def test_eleven_tags_refused(s3, obj):
    tags = [(f"k{i}", "v") for i in range(11)]
    with s3_error(400, ("BadRequest", "InvalidTag")):
        s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset(tags)})


@pytest.mark.parametrize(
    "pairs",
    [[("k" * 129, "v")], [("k", "v" * 257)], [("dup", "1"), ("dup", "2")]],
    ids=["key-too-long", "value-too-long", "duplicate-key"],
)
def test_invalid_object_tag(s3, obj, pairs):
    with s3_error(400, "InvalidTag"):
        s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset(pairs)})


def test_longest_tag_key_and_value(s3, obj):
    tags = [("k" * 128, "v" * 256)]
    s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset(tags)})
    assert sorted_tags(s3.get_object_tagging(Bucket=obj, Key="obj")) == tags


def test_invalid_tagging_header(s3, bucket):
    with s3_error(400, "InvalidTag"):
        s3.put_object(Bucket=bucket, Key="obj", Body=b"x", Tagging=f"{'k' * 129}=v")


def test_tagging_missing_object(s3, bucket):
    with s3_error(404, "NoSuchKey"):
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    with s3_error(404, "NoSuchKey"):
        s3.put_object_tagging(Bucket=bucket, Key="missing",
                              Tagging={"TagSet": tagset([("a", "b")])})


def test_bucket_tagging_round_trip(s3, bucket):
    tags = [("team", "storage"), ("cost-centre", "42")]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tagset(tags)})
    assert sorted_tags(s3.get_bucket_tagging(Bucket=bucket)) == sorted(tags)
    assert status_of(s3.delete_bucket_tagging(Bucket=bucket)) == 204
    with s3_error(404, "NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket=bucket)


def test_bucket_without_tags(s3, bucket):
    with s3_error(404, "NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket=bucket)


def test_invalid_bucket_tag(s3, bucket):
    with s3_error(400, "InvalidTag"):
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tagset([("k" * 129, "v")])})


def test_alt_cannot_read_tags(s3, s3_alt, obj):
    s3.put_object_tagging(Bucket=obj, Key="obj", Tagging={"TagSet": tagset([("a", "b")])})
    with s3_error(403, "AccessDenied"):
        s3_alt.get_object_tagging(Bucket=obj, Key="obj")
    with s3_error(403, "AccessDenied"):
        s3_alt.get_bucket_tagging(Bucket=obj)
