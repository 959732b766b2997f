"""Listing: ListObjects (v1), ListObjectsV2 and ListObjectVersions.

Goal: prefixes, delimiters, page sizes, continuation, start-after, markers and URL encoding
give exactly S3's pages, including the edge cases (max-keys=0, empty buckets, common prefixes
split across pages).
Method: a small fixed key set per test, listed with explicit parameters; pages are walked by
hand so every token and marker is checked, not only the keys in the end.
"""

import pytest

from expect import quoted_md5, s3_error

KEYS = [
    "a.txt",
    "b/1.txt",
    "b/2.txt",
    "b/c/3.txt",
    "d/4.txt",
    "e.txt",
    "f/g/5.txt",
]


@pytest.fixture
def filled(s3, bucket):
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def keys_of(page):
    return [o["Key"] for o in page.get("Contents", [])]


def prefixes_of(page):
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


def test_v2_all_keys_with_details(s3, filled):
    page = s3.list_objects_v2(Bucket=filled)
    assert keys_of(page) == KEYS
    assert page["KeyCount"] == len(KEYS)
    assert page["IsTruncated"] is False
    assert page["Name"] == filled
    assert page["MaxKeys"] == 1000
    first = page["Contents"][0]
    assert first["Size"] == len(b"a.txt")
    assert first["ETag"] == quoted_md5(b"a.txt")
    assert first["StorageClass"] == "STANDARD"
    assert "Owner" not in first


def test_v2_empty_bucket(s3, bucket):
    page = s3.list_objects_v2(Bucket=bucket)
    assert page["KeyCount"] == 0
    assert "Contents" not in page
    assert page["IsTruncated"] is False


def test_v2_prefix(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, Prefix="b/")
    assert keys_of(page) == ["b/1.txt", "b/2.txt", "b/c/3.txt"]
    assert page["Prefix"] == "b/"


def test_v2_prefix_matching_nothing(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, Prefix="zzz")
    assert page["KeyCount"] == 0


def test_v2_delimiter(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert keys_of(page) == ["a.txt", "e.txt"]
    assert prefixes_of(page) == ["b/", "d/", "f/"]
    assert page["KeyCount"] == 5
    assert page["Delimiter"] == "/"


def test_v2_prefix_and_delimiter(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, Prefix="b/", Delimiter="/")
    assert keys_of(page) == ["b/1.txt", "b/2.txt"]
    assert prefixes_of(page) == ["b/c/"]


def test_v2_other_delimiter(s3, bucket):
    for key in ["x-1", "x-2", "y-1", "z"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="-")
    assert keys_of(page) == ["z"]
    assert prefixes_of(page) == ["x-", "y-"]


def test_v2_pagination(s3, filled):
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=filled, MaxKeys=3, **kwargs)
        pages += 1
        assert page["MaxKeys"] == 3
        assert page["KeyCount"] == len(keys_of(page)) <= 3
        seen += keys_of(page)
        if token:
            assert page["ContinuationToken"] == token
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
    assert seen == KEYS
    assert pages == 3


def test_v2_pagination_with_delimiter(s3, filled):
    seen_keys, seen_prefixes, token = [], [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=filled, Delimiter="/", MaxKeys=2, **kwargs)
        assert len(keys_of(page)) + len(prefixes_of(page)) <= 2
        seen_keys += keys_of(page)
        seen_prefixes += prefixes_of(page)
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen_keys == ["a.txt", "e.txt"]
    assert seen_prefixes == ["b/", "d/", "f/"]


def test_v2_paginator(s3, bucket):
    keys = [f"k{i:04d}" for i in range(25)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 10}))
    assert [len(keys_of(p)) for p in pages] == [10, 10, 5]
    assert [k for p in pages for k in keys_of(p)] == keys


def test_v2_start_after(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, StartAfter="b/2.txt")
    assert keys_of(page) == ["b/c/3.txt", "d/4.txt", "e.txt", "f/g/5.txt"]
    assert page["StartAfter"] == "b/2.txt"


def test_v2_start_after_not_a_key(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, StartAfter="c")
    assert keys_of(page) == ["d/4.txt", "e.txt", "f/g/5.txt"]


def test_v2_start_after_past_the_end(s3, filled):
    assert s3.list_objects_v2(Bucket=filled, StartAfter="zzz")["KeyCount"] == 0


def test_v2_max_keys_zero(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, MaxKeys=0)
    assert keys_of(page) == []
    assert page["KeyCount"] == 0
    assert page["IsTruncated"] is False


def test_v2_max_keys_above_limit_is_capped(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, MaxKeys=5000)
    assert keys_of(page) == KEYS


def test_v2_fetch_owner(s3, settings, filled):
    page = s3.list_objects_v2(Bucket=filled, FetchOwner=True)
    assert page["Contents"][0]["Owner"]["ID"] == settings.main.access_key_id


def test_v2_encoding_type_url(s3, bucket):
    key = "dir one/ü+%.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"")
    # Asked for explicitly, botocore leaves the encoded names as the server sent them.
    page = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert page["EncodingType"] == "url"
    assert prefixes_of(page) == ["dir%20one/"]
    page = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="dir one/")
    assert keys_of(page) == ["dir%20one/%C3%BC%2B%25.txt"]


def test_v2_default_client_round_trips_awkward_keys(s3, bucket):
    keys = sorted(["a b", "a+b", "a%b", "ä/ö", "x\ty"])
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == keys


def test_v2_invalid_encoding_type(raw, s3, bucket):
    response = raw.request("GET", bucket, query="encoding-type=base64&list-type=2")
    assert response.status == 400
    assert response.error_code() == "InvalidArgument"


def test_v2_negative_max_keys(raw, bucket):
    response = raw.request("GET", bucket, query="list-type=2&max-keys=-1")
    assert response.status == 400
    assert response.error_code() == "InvalidArgument"


def test_v2_bad_continuation_token(raw, bucket):
    response = raw.request("GET", bucket, query="continuation-token=%21%21garbage&list-type=2")
    assert response.status == 400
    assert response.error_code() == "InvalidArgument"


def test_v1_all_keys(s3, filled):
    page = s3.list_objects(Bucket=filled)
    assert keys_of(page) == KEYS
    assert page["IsTruncated"] is False
    assert page["MaxKeys"] == 1000
    assert page["Marker"] == ""
    assert page["Contents"][0]["Owner"]["ID"]


def test_v1_marker_pagination(s3, filled):
    seen, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=filled, MaxKeys=2, Marker=marker)
        assert page["Marker"] == marker
        seen += keys_of(page)
        if not page["IsTruncated"]:
            break
        # Without a delimiter S3 sends no NextMarker: the last key is the next marker.
        marker = page.get("NextMarker", keys_of(page)[-1])
    assert seen == KEYS


def test_v1_next_marker_with_delimiter(s3, filled):
    page = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=3)
    assert keys_of(page) == ["a.txt"]
    assert prefixes_of(page) == ["b/", "d/"]
    assert page["IsTruncated"] is True
    assert page["NextMarker"] == "d/"
    rest = s3.list_objects(Bucket=filled, Delimiter="/", Marker=page["NextMarker"])
    assert keys_of(rest) == ["e.txt"]
    assert prefixes_of(rest) == ["f/"]
    assert rest["IsTruncated"] is False


def test_v1_prefix_delimiter(s3, filled):
    page = s3.list_objects(Bucket=filled, Prefix="f/", Delimiter="/")
    assert keys_of(page) == []
    assert prefixes_of(page) == ["f/g/"]


def test_v1_max_keys_zero(s3, filled):
    page = s3.list_objects(Bucket=filled, MaxKeys=0)
    assert keys_of(page) == []
    assert page["IsTruncated"] is False


def test_v1_encoding_type_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="sp ace", Body=b"")
    page = s3.list_objects(Bucket=bucket, EncodingType="url")
    assert keys_of(page) == ["sp%20ace"]


def test_versions_unversioned_bucket(s3, filled):
    page = s3.list_object_versions(Bucket=filled)
    versions = page["Versions"]
    assert [v["Key"] for v in versions] == KEYS
    assert all(v["VersionId"] == "null" and v["IsLatest"] for v in versions)
    assert versions[0]["ETag"] == quoted_md5(b"a.txt")
    assert versions[0]["Size"] == len(b"a.txt")
    assert "DeleteMarkers" not in page
    assert page["IsTruncated"] is False


def test_versions_prefix_and_delimiter(s3, filled):
    page = s3.list_object_versions(Bucket=filled, Prefix="b/", Delimiter="/")
    assert [v["Key"] for v in page["Versions"]] == ["b/1.txt", "b/2.txt"]
    assert prefixes_of(page) == ["b/c/"]


def test_versions_pagination(s3, filled):
    seen, key_marker = [], None
    while True:
        kwargs = {"KeyMarker": key_marker} if key_marker else {}
        page = s3.list_object_versions(Bucket=filled, MaxKeys=3, **kwargs)
        seen += [v["Key"] for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        key_marker = page["NextKeyMarker"]
        assert page["NextVersionIdMarker"] == "null"
    assert seen == KEYS


def test_versions_after_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone")
    page = s3.list_object_versions(Bucket=bucket)
    assert "Versions" not in page


def test_listing_after_delete(s3, filled):
    s3.delete_object(Bucket=filled, Key="b/2.txt")
    assert "b/2.txt" not in keys_of(s3.list_objects_v2(Bucket=filled))


def test_list_more_than_one_page_of_1000(s3, bucket):
    from concurrent.futures import ThreadPoolExecutor

    keys = [f"many/{i:05d}" for i in range(1010)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), keys))
    first = s3.list_objects_v2(Bucket=bucket)
    assert first["KeyCount"] == 1000
    assert first["IsTruncated"] is True
    second = s3.list_objects_v2(Bucket=bucket, ContinuationToken=first["NextContinuationToken"])
    assert keys_of(first) + keys_of(second) == keys


def test_list_missing_bucket_v1(s3):
    with s3_error(404, "NoSuchBucket"):
        s3.list_objects(Bucket="rv-no-such-bucket-0001")
