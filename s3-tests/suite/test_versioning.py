"""Bucket versioning: the configuration document, versions and delete markers, the null version,
DeleteObjects with version ids, and a versioned bucket that empties only when every version is
gone.

Goal: what backup tools and boto3 scripts rely on in a versioned bucket behaves as S3 does, on
one node and through any node of a ring.
Method: boto3 with default settings against the node run.sh started (one node or a ring).
"""

import pytest

from expect import s3_error


@pytest.fixture
def versioned(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def listing(s3, bucket):
    """(key, version id, is latest, is a marker), newest first within a key."""
    page = s3.list_object_versions(Bucket=bucket)
    entries = [(v["Key"], v["VersionId"], v["IsLatest"], False, v["LastModified"])
               for v in page.get("Versions", [])]
    entries += [(m["Key"], m["VersionId"], m["IsLatest"], True, m["LastModified"])
                for m in page.get("DeleteMarkers", [])]
    entries.sort(key=lambda e: (e[0], -e[4].timestamp()))
    return [e[:4] for e in entries]


def test_configuration_states(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    for status in ("Enabled", "Suspended", "Enabled"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == status


def test_mfa_delete_is_not_implemented_and_bad_status_is_refused(raw, s3, bucket):
    with s3_error(501, "NotImplemented"):
        s3.put_bucket_versioning(
            Bucket=bucket,
            VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"},
        )
    response = raw.request("PUT", bucket, query="versioning",
                           body=b"<VersioningConfiguration><Status>Sometimes</Status>"
                                b"</VersioningConfiguration>")
    assert response.status == 400
    assert response.error_code() == "IllegalVersioningConfigurationException"
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket), "nothing changed"


def test_versions_markers_and_reads_by_id(s3, versioned):
    first = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=versioned, Key="k", Body=b"two")["VersionId"]
    assert first != second
    assert s3.get_object(Bucket=versioned, Key="k", VersionId=first)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=versioned, Key="k")
    assert marker["DeleteMarker"] is True
    with s3_error(404, "NoSuchKey") as err:
        s3.get_object(Bucket=versioned, Key="k")
    headers = err["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker["VersionId"]
    assert listing(s3, versioned) == [
        ("k", marker["VersionId"], True, True),
        ("k", second, False, False),
        ("k", first, False, False),
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket=versioned)
    s3.delete_object(Bucket=versioned, Key="k", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"two"


def test_null_version_and_suspension(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    newer = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"plain"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"suspended")
    assert "VersionId" not in put
    assert listing(s3, bucket) == [("k", "null", True, False), ("k", newer, False, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"suspended"


def test_delete_objects_with_version_ids(s3, versioned):
    ids = [s3.put_object(Bucket=versioned, Key="k", Body=b"%d" % i)["VersionId"] for i in range(3)]
    result = s3.delete_objects(Bucket=versioned, Delete={"Objects": [
        {"Key": "k", "VersionId": ids[0]},
        {"Key": "k", "VersionId": "not-a-version"},
        {"Key": "other"},
    ]})
    deleted = {(d["Key"], d.get("VersionId")): d for d in result["Deleted"]}
    assert ("k", ids[0]) in deleted
    assert deleted[("other", None)]["DeleteMarker"] is True
    assert deleted[("other", None)]["DeleteMarkerVersionId"]
    assert [e["Code"] for e in result["Errors"]] == ["NoSuchVersion"]
    assert [v[1] for v in listing(s3, versioned) if v[0] == "k"] == [ids[2], ids[1]]


def test_a_versioned_bucket_is_empty_only_without_versions(s3, make_bucket):
    name = make_bucket()
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=name, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=name, Key="k")["VersionId"]
    with s3_error(409, "BucketNotEmpty"):
        s3.delete_bucket(Bucket=name)
    for v in (version, marker):
        s3.delete_object(Bucket=name, Key="k", VersionId=v)
    s3.delete_bucket(Bucket=name)
    with s3_error(404, None):  # HEAD: no body, no code
        s3.head_bucket(Bucket=name)
