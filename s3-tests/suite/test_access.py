"""Access control: ACLs (canned, grant headers, documents), bucket policies, ownership controls
and the public access block, as a second key and an anonymous client see them.

Goal: what a policy or ACL allows is allowed through any node, what it does not is refused with
S3's AccessDenied, right after it is written; malformed documents get S3's error codes.
Method: the main key owns the buckets; the alt key and an unsigned client try their luck.
"""

import json

import pytest

from expect import s3_error, status_of


@pytest.fixture
def anonymous(make_client):
    return make_client(unsigned=True)


def test_public_read_object_is_readable_by_everyone(s3, s3_alt, anonymous, bucket):
    s3.put_object(Bucket=bucket, Key="public", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    assert anonymous.get_object(Bucket=bucket, Key="public")["Body"].read() == b"hello"
    assert s3_alt.get_object(Bucket=bucket, Key="public")["Body"].read() == b"hello"
    with s3_error(403, "AccessDenied"):
        anonymous.get_object(Bucket=bucket, Key="private")
    with s3_error(403, "AccessDenied"):
        s3_alt.list_objects_v2(Bucket=bucket)
    with s3_error(403, "AccessDenied"):
        anonymous.put_object(Bucket=bucket, Key="new", Body=b"x")


def test_acl_documents_round_trip(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    owner = acl["Owner"]
    group = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}
    grants = acl["Grants"] + [{"Grantee": group, "Permission": "READ"}]
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": grants})
    got = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert sorted(g["Permission"] for g in got) == ["FULL_CONTROL", "READ"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in got)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert len(s3.get_bucket_acl(Bucket=bucket)["Grants"]) == 1


def test_grant_headers_give_one_key_access(s3, s3_alt, alt_key, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"shared",
                  GrantRead=f'id="{alt_key.access_key_id}"')
    assert s3_alt.get_object(Bucket=bucket, Key="k")["Body"].read() == b"shared"
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in grants] == [
        (alt_key.access_key_id, "READ")]


def test_bad_acls_are_refused(s3, bucket):
    with s3_error(400, "InvalidArgument"):
        s3.put_bucket_acl(Bucket=bucket, GrantRead='id="RVNOSUCHKEY000000000"')
    with s3_error(400, ("InvalidArgument", "InvalidRequest")):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private",
                      GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')


def test_bucket_policy_allows_and_denies(s3, s3_alt, anonymous, bucket):
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="keep/b", Body=b"b")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/public/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": f"arn:aws:s3:::{bucket}/keep/*"},
        ],
    }
    assert status_of(s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))) == 204
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert anonymous.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"a"
    with s3_error(403, "AccessDenied"):
        s3_alt.get_object(Bucket=bucket, Key="keep/b")
    with s3_error(403, "AccessDenied"):
        s3.delete_object(Bucket=bucket, Key="keep/b")
    s3.delete_bucket_policy(Bucket=bucket)
    with s3_error(404, "NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="keep/b")


def test_policy_conditions_on_listing(s3, s3_alt, alt_key, bucket):
    policy = {"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{alt_key.access_key_id}:root"},
        "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringEquals": {"s3:prefix": "shared/"}},
    }]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3_alt.list_objects_v2(Bucket=bucket, Prefix="shared/")
    with s3_error(403, "AccessDenied"):
        s3_alt.list_objects_v2(Bucket=bucket, Prefix="private/")


@pytest.mark.parametrize("document", [
    "not json",
    json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    json.dumps({"Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "s3:*",
                               "Resource": "*"}]}),
    json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                               "Resource": "*", "Condition": {"Sometimes": {"a": "b"}}}]}),
])
def test_malformed_policies(s3, bucket, document):
    with s3_error(400, "MalformedPolicy"):
        s3.put_bucket_policy(Bucket=bucket, Policy=document)


def test_public_access_block(s3, anonymous, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    with s3_error(404, "NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=bucket)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": False})
    with s3_error(403, "AccessDenied"):
        anonymous.get_object(Bucket=bucket, Key="k")
    with s3_error(403, "AccessDenied"):
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ACL="public-read")
    public = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                             "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    with s3_error(403, "AccessDenied"):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    assert status_of(s3.delete_public_access_block(Bucket=bucket)) == 204


def test_ownership_controls(s3, s3_alt, bucket):
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    s3_alt.put_object(Bucket=bucket, Key="theirs", Body=b"x")
    with s3_error(403, "AccessDenied"):
        s3.get_object(Bucket=bucket, Key="theirs")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=enforced)
    got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert got["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced"
    # With ACLs disabled, the bucket owner controls every object in the bucket.
    assert s3.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"x"
    with s3_error(400, "AccessControlListNotSupported"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with s3_error(404, "OwnershipControlsNotFoundError"):
        s3.get_bucket_ownership_controls(Bucket=bucket)


def test_expected_bucket_owner(s3, settings, bucket):
    s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=settings.main.access_key_id)
    with s3_error(403, "AccessDenied"):
        s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner="RVSOMEONEELSE0000000")
    with s3_error(403, "AccessDenied"):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="RVSOMEONEELSE0000000")
