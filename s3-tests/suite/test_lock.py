"""Object lock: a bucket created with it, default retention, GOVERNANCE with the bypass,
COMPLIANCE without one, legal holds, and buckets without object lock refusing lock requests.

Goal: what backup tools (restic, Veeam-style immutability) rely on holds through any node.
Method: boto3 with default settings against the node run.sh started (one node or a ring).
"""

import datetime

import time

import pytest

from conftest import unique_bucket_name
from expect import s3_error

FAR = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def locked(s3):
    name = unique_bucket_name("rv-lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    # Lift the holds the test left, then remove every version (GOVERNANCE with the bypass;
    # the tests' COMPLIANCE retentions have ended by now).
    page = s3.list_object_versions(Bucket=name)
    for v in page.get("Versions", []):
        s3.put_object_legal_hold(Bucket=name, Key=v["Key"], VersionId=v["VersionId"],
                                 LegalHold={"Status": "OFF"})
    for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
        s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"],
                         BypassGovernanceRetention=True)
    s3.delete_bucket(Bucket=name)


def test_default_retention_and_governance_bypass(s3, locked):
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    })
    version = s3.put_object(Bucket=locked, Key="k", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=locked, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    with s3_error(403, "AccessDenied"):
        s3.delete_object(Bucket=locked, Key="k", VersionId=version)
    s3.delete_object(Bucket=locked, Key="k", VersionId=version, BypassGovernanceRetention=True)


def test_compliance_cannot_be_shortened_and_a_legal_hold_has_no_bypass(s3, locked):
    version = s3.put_object(Bucket=locked, Key="c", Body=b"x", ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=datetime.datetime.now(
                                datetime.timezone.utc) + datetime.timedelta(seconds=3))["VersionId"]
    with s3_error(403, "AccessDenied"):
        s3.put_object_retention(Bucket=locked, Key="c", BypassGovernanceRetention=True,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
    with s3_error(403, "AccessDenied"):
        s3.delete_object(Bucket=locked, Key="c", VersionId=version, BypassGovernanceRetention=True)
    held = s3.put_object(Bucket=locked, Key="h", Body=b"x")["VersionId"]
    s3.put_object_legal_hold(Bucket=locked, Key="h", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="h")["LegalHold"]["Status"] == "ON"
    with s3_error(403, "AccessDenied"):
        s3.delete_object(Bucket=locked, Key="h", VersionId=held, BypassGovernanceRetention=True)
    # The COMPLIANCE retention ends (3 s): the version can go then.
    time.sleep(3.5)
    s3.delete_object(Bucket=locked, Key="c", VersionId=version)


def test_buckets_without_object_lock(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with s3_error(404, "ObjectLockConfigurationNotFoundError"):
        s3.get_object_lock_configuration(Bucket=bucket)
    with s3_error(400, "InvalidRequest"):
        s3.put_object_retention(Bucket=bucket, Key="k",
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
    with s3_error(409, "InvalidBucketState"):
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled"})
