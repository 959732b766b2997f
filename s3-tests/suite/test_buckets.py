"""Buckets: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation.

Goal: the bucket life cycle and the errors clients meet around it (name rules, conflicts,
non-empty and missing buckets), as S3 reports them.
Method: boto3 calls on uniquely named buckets; raw requests only where boto3 would refuse.
"""

import datetime as dt

import pytest

from conftest import empty_and_delete, unique_bucket_name
from expect import header, s3_error, status_of


def test_create_head_list_delete(s3):
    name = unique_bucket_name()
    created = s3.create_bucket(Bucket=name)
    try:
        assert status_of(created) == 200
        assert created.get("Location") == f"/{name}"
        head = s3.head_bucket(Bucket=name)
        assert status_of(head) == 200
        assert header(head, "x-amz-bucket-region") == "us-east-1"
        listed = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
        assert name in listed
        age = dt.datetime.now(dt.timezone.utc) - listed[name]["CreationDate"]
        assert abs(age.total_seconds()) < 300
    finally:
        deleted = s3.delete_bucket(Bucket=name)
    assert status_of(deleted) == 204
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    with s3_error(404, None):
        s3.head_bucket(Bucket=name)


def test_list_buckets_owner_is_requester(s3, settings, bucket):
    response = s3.list_buckets()
    assert response["Owner"]["ID"] == settings.main.access_key_id


def test_list_buckets_prefix(s3, make_bucket):
    names = [make_bucket(), make_bucket()]
    prefix = names[0][:8]
    listed = [b["Name"] for b in s3.list_buckets(Prefix=prefix)["Buckets"]]
    assert names[0] in listed
    assert all(n.startswith(prefix) for n in listed)


def test_list_buckets_sorted(s3, make_bucket):
    make_bucket()
    make_bucket()
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == sorted(names)


def test_create_existing_owned_bucket(s3, bucket, settings):
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    if settings.region == "us-east-1":
        # S3's legacy rule there: re-creating an own bucket succeeds and changes nothing.
        s3.create_bucket(Bucket=bucket)
        assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"
    else:
        with s3_error(409, "BucketAlreadyOwnedByYou"):
            s3.create_bucket(Bucket=bucket,
                             CreateBucketConfiguration={"LocationConstraint": settings.region})


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    with s3_error(409, "BucketNotEmpty"):
        s3.delete_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)


def test_delete_bucket_after_emptying(s3):
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="a", Body=b"1")
    s3.delete_object(Bucket=name, Key="a")
    assert status_of(s3.delete_bucket(Bucket=name)) == 204


def test_recreate_deleted_bucket(s3):
    name = unique_bucket_name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="old", Body=b"1")
    empty_and_delete(s3, name)
    s3.create_bucket(Bucket=name)
    try:
        assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    finally:
        empty_and_delete(s3, name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "Upper-case",
        "under_score",
        "-leading-dash",
        "trailing-dash-",
        ".leading-dot",
        "double..dot",
        "dash-.dot",
        "dot.-dash",
        "192.168.5.4",  # an IPv4 address
        "xn--reserved-prefix",
        "reserved-suffix-s3alias",
    ],
)
def test_invalid_bucket_name(s3, name):
    with s3_error(400, "InvalidBucketName"):
        s3.create_bucket(Bucket=name)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "with.dots.ok", "0-digits-9"])
def test_valid_bucket_name_edges(s3, name):
    # A per-run suffix would break the exact edge cases, so clean up anything left first.
    empty_and_delete(s3, name)
    s3.create_bucket(Bucket=name)
    try:
        s3.head_bucket(Bucket=name)
    finally:
        empty_and_delete(s3, name)


def test_head_missing_bucket(s3):
    with s3_error(404, ("404", "NoSuchBucket")):
        s3.head_bucket(Bucket=unique_bucket_name())


def test_delete_missing_bucket(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.delete_bucket(Bucket=unique_bucket_name())


def test_list_objects_in_missing_bucket(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.list_objects_v2(Bucket=unique_bucket_name())


def test_put_object_in_missing_bucket(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.put_object(Bucket=unique_bucket_name(), Key="k", Body=b"x")


def test_get_bucket_location_default_region(s3, bucket):
    # us-east-1 is reported as an empty LocationConstraint, as AWS does.
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (None, "")


def test_get_bucket_location_missing_bucket(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.get_bucket_location(Bucket=unique_bucket_name())


def test_create_bucket_with_own_region_constraint(s3, settings):
    # Endpoints outside us-east-1 require the constraint; ours must at least accept a matching
    # one when it serves another region. In us-east-1, "US" is the legacy spelling.
    name = unique_bucket_name()
    constraint = "US" if settings.region == "us-east-1" else settings.region
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": constraint})
    empty_and_delete(s3, name)


def test_create_bucket_with_foreign_region_constraint(s3):
    with s3_error(400, ("InvalidLocationConstraint", "IllegalLocationConstraintException")):
        s3.create_bucket(
            Bucket=unique_bucket_name(),
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )


def test_create_bucket_malformed_configuration(raw):
    response = raw.request("PUT", unique_bucket_name(), body=b"<CreateBucketConfiguration><oops")
    assert response.status == 400
    assert response.error_code() == "MalformedXML"


def test_request_payment_and_acceleration_are_off(s3, bucket):
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=bucket,
                                  RequestPaymentConfiguration={"Payer": "BucketOwner"})
    with s3_error(501, "NotImplemented"):
        s3.put_bucket_request_payment(Bucket=bucket,
                                      RequestPaymentConfiguration={"Payer": "Requester"})
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    s3.put_bucket_accelerate_configuration(Bucket=bucket,
                                           AccelerateConfiguration={"Status": "Suspended"})
    with s3_error(501, "NotImplemented"):
        s3.put_bucket_accelerate_configuration(Bucket=bucket,
                                               AccelerateConfiguration={"Status": "Enabled"})
