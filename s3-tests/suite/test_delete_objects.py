"""DeleteObjects: the batch delete, verbose and quiet.

Goal: every requested key is reported Deleted (including keys that never existed, as S3 does),
quiet mode reports only errors, 1000 keys go in one request and 1001 are refused, and keys that
need XML escaping survive the round trip.
Method: objects written concurrently to keep the 1000-key case fast; listings confirm the
effect, not only the response.
"""

from concurrent.futures import ThreadPoolExecutor

from expect import s3_error


def put_all(s3, bucket, keys):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))


def remaining(s3, bucket):
    paginator = s3.get_paginator("list_objects_v2")
    return [o["Key"] for p in paginator.paginate(Bucket=bucket) for o in p.get("Contents", [])]


def objects(keys):
    return {"Objects": [{"Key": k} for k in keys]}


def test_verbose_reports_every_key(s3, bucket):
    put_all(s3, bucket, ["a", "b", "c", "keep"])
    result = s3.delete_objects(Bucket=bucket, Delete=objects(["a", "b", "c", "never-existed"]))
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "c", "never-existed"]
    assert result.get("Errors", []) == []
    assert remaining(s3, bucket) == ["keep"]


def test_quiet_reports_nothing_on_success(s3, bucket):
    put_all(s3, bucket, ["a", "b"])
    result = s3.delete_objects(Bucket=bucket, Delete={**objects(["a", "b", "nope"]), "Quiet": True})
    assert result.get("Deleted", []) == []
    assert result.get("Errors", []) == []
    assert remaining(s3, bucket) == []


def test_thousand_keys(s3, bucket):
    keys = [f"batch/{i:04d}" for i in range(1000)]
    put_all(s3, bucket, keys)
    result = s3.delete_objects(Bucket=bucket, Delete=objects(keys))
    assert len(result["Deleted"]) == 1000
    assert remaining(s3, bucket) == []


def test_thousand_missing_keys(s3, bucket):
    keys = [f"ghost/{i:04d}" for i in range(1000)]
    result = s3.delete_objects(Bucket=bucket, Delete=objects(keys))
    assert sorted(d["Key"] for d in result["Deleted"]) == keys


def test_more_than_thousand_keys_refused(s3, bucket):
    with s3_error(400, "MalformedXML"):
        s3.delete_objects(Bucket=bucket, Delete=objects([f"k{i}" for i in range(1001)]))


def test_empty_key_list_refused(s3, bucket):
    with s3_error(400, "MalformedXML"):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": []})


def test_keys_needing_xml_escapes(s3, bucket):
    keys = ["a&b", "<tag>", "quote\"'", "ünïcode", "sp ace", "tab\tkey"]
    put_all(s3, bucket, keys)
    result = s3.delete_objects(Bucket=bucket, Delete=objects(keys))
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted(keys)
    assert remaining(s3, bucket) == []


def test_duplicate_keys(s3, bucket):
    put_all(s3, bucket, ["dup"])
    result = s3.delete_objects(Bucket=bucket, Delete=objects(["dup", "dup"]))
    assert {d["Key"] for d in result["Deleted"]} == {"dup"}
    assert remaining(s3, bucket) == []


def test_missing_bucket(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.delete_objects(Bucket="rv-no-such-bucket-0005", Delete=objects(["a"]))


def test_malformed_body(raw, bucket):
    import base64
    import hashlib

    body = b"<Delete><Object><Key>a</Key></Object"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    response = raw.request("POST", bucket, query="delete", body=body,
                           headers={"content-md5": md5})
    assert response.status == 400
    assert response.error_code() == "MalformedXML"


def test_alt_cannot_batch_delete(s3, s3_alt, bucket):
    put_all(s3, bucket, ["a"])
    try:
        result = s3_alt.delete_objects(Bucket=bucket, Delete=objects(["a"]))
    except Exception as e:  # a 403 for the whole request is what S3 sends
        assert getattr(e, "response", {}).get("Error", {}).get("Code") == "AccessDenied"
    else:  # per-key errors are also acceptable, as long as nothing was deleted
        assert [err["Code"] for err in result.get("Errors", [])] == ["AccessDenied"]
    assert remaining(s3, bucket) == ["a"]
