"""Multipart upload: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
ListMultipartUploads, GetObject ?partNumber, and boto3's managed transfers.

Goal: a completed upload reads back as the concatenation of its parts with S3's "-N" ETag;
every mistake clients make at completion (small parts, unknown or reordered parts, unknown
upload ids) fails with S3's code; listings of parts and uploads paginate like S3's.
Method: parts of exactly 5 MiB (S3's minimum for every part but the last) built from
deterministic patterns; upload ids come from the node, never invented, except to test
NoSuchUpload.
"""

import pytest
from boto3.s3.transfer import TransferConfig

from expect import multipart_etag, pattern, s3_error, status_of

MIB = 1024 * 1024
PART = 5 * MIB


def upload(s3, bucket, key, parts, **create):
    """Uploads `parts` (bytes) as one multipart upload; returns (upload_id, completed parts)."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    for number, body in enumerate(parts, start=1):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                              Body=body)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    return upload_id, done


def complete(s3, bucket, key, upload_id, parts):
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def test_upload_two_parts(s3, bucket):
    parts = [pattern(PART, seed=1), pattern(1024, seed=2)]
    upload_id, done = upload(s3, bucket, "mp", parts)
    result = complete(s3, bucket, "mp", upload_id, done)
    assert result["ETag"] == multipart_etag(parts)
    assert result["Key"] == "mp"
    assert result["Bucket"] == bucket
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentLength"] == PART + 1024
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [
        ("mp", PART + 1024, multipart_etag(parts))
    ]


def test_single_small_part(s3, bucket):
    parts = [b"only part, smaller than 5 MiB is fine when it is the last"]
    upload_id, done = upload(s3, bucket, "one", parts)
    assert complete(s3, bucket, "one", upload_id, done)["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == parts[0]


def test_part_etag_is_md5(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    body = b"part body"
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1,
                          Body=body)["ETag"]
    import hashlib

    assert etag == f'"{hashlib.md5(body).hexdigest()}"'


def test_metadata_and_content_type_from_create(s3, bucket):
    parts = [b"x"]
    upload_id, done = upload(s3, bucket, "meta", parts, Metadata={"origin": "multipart"},
                             ContentType="text/x-mp")
    complete(s3, bucket, "meta", upload_id, done)
    head = s3.head_object(Bucket=bucket, Key="meta")
    assert head["Metadata"] == {"origin": "multipart"}
    assert head["ContentType"] == "text/x-mp"


def test_reupload_part_replaces_it(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"old")
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1,
                          Body=b"new")["ETag"]
    complete(s3, bucket, "k", upload_id, [{"PartNumber": 1, "ETag": etag}])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_subset_of_parts(s3, bucket):
    # Completing with parts 1 and 3 only: part 2 is discarded, numbers need not be contiguous.
    parts = [pattern(PART, seed=11), b"two", b"three"]
    upload_id, done = upload(s3, bucket, "k", parts)
    complete(s3, bucket, "k", upload_id, [done[0], done[2]])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == parts[0] + parts[2]


def test_complete_twice_is_idempotent(s3, bucket):
    # SDKs retry CompleteMultipartUpload after a timeout; S3 answers the retry of a completed
    # upload with the same result instead of NoSuchUpload.
    parts = [pattern(PART, seed=81), b"tail"]
    upload_id, done = upload(s3, bucket, "twice", parts)
    first = complete(s3, bucket, "twice", upload_id, done)
    second = complete(s3, bucket, "twice", upload_id, done)
    assert second["ETag"] == first["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="twice")["Body"].read() == b"".join(parts)


def test_abort(s3, bucket):
    upload_id, _ = upload(s3, bucket, "k", [b"part"])
    assert status_of(s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)) == 204
    with s3_error(404, "NoSuchUpload"):
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    with s3_error(404, "NoSuchUpload"):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"x")
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with s3_error(404, "NoSuchKey"):
        s3.get_object(Bucket=bucket, Key="k")


def test_abort_unknown_upload(s3, bucket):
    with s3_error(404, "NoSuchUpload"):
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="no-such-upload-id")


def test_complete_unknown_upload(s3, bucket):
    with s3_error(404, "NoSuchUpload"):
        complete(s3, bucket, "k", "no-such-upload-id", [{"PartNumber": 1, "ETag": '"abc"'}])


def test_upload_part_unknown_upload(s3, bucket):
    with s3_error(404, "NoSuchUpload"):
        s3.upload_part(Bucket=bucket, Key="k", UploadId="no-such-upload-id", PartNumber=1,
                       Body=b"x")


def test_entity_too_small(s3, bucket):
    upload_id, done = upload(s3, bucket, "k", [b"too small", b"last"])
    with s3_error(400, "EntityTooSmall"):
        complete(s3, bucket, "k", upload_id, done)


def test_invalid_part_wrong_etag(s3, bucket):
    upload_id, done = upload(s3, bucket, "k", [b"part"])
    done[0]["ETag"] = '"00000000000000000000000000000000"'
    with s3_error(400, "InvalidPart"):
        complete(s3, bucket, "k", upload_id, done)


def test_invalid_part_never_uploaded(s3, bucket):
    upload_id, done = upload(s3, bucket, "k", [pattern(PART)])
    with s3_error(400, "InvalidPart"):
        complete(s3, bucket, "k", upload_id, done + [{"PartNumber": 7, "ETag": done[0]["ETag"]}])


def test_invalid_part_order(s3, bucket):
    upload_id, done = upload(s3, bucket, "k", [pattern(PART, seed=1), pattern(PART, seed=2)])
    with s3_error(400, "InvalidPartOrder"):
        complete(s3, bucket, "k", upload_id, list(reversed(done)))


def test_complete_with_no_parts(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with s3_error(400, ("MalformedXML", "InvalidRequest")):
        complete(s3, bucket, "k", upload_id, [])


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_out_of_range(s3, bucket, number):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with s3_error(400, "InvalidArgument"):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=b"x")


def test_list_parts_pagination(s3, bucket):
    bodies = [f"part {n}".encode() for n in range(1, 6)]
    upload_id, done = upload(s3, bucket, "k", bodies)
    first = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["IsTruncated"] is True
    assert first["MaxParts"] == 2
    assert first["Parts"][0]["ETag"] == done[0]["ETag"]
    assert first["Parts"][0]["Size"] == len(bodies[0])
    second = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2,
                           PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in second["Parts"]] == [3, 4]
    third = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2,
                          PartNumberMarker=second["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in third["Parts"]] == [5]
    assert third["IsTruncated"] is False


def test_list_multipart_uploads(s3, bucket):
    ids = {}
    for key in ["a/1", "a/2", "b/1", "c"]:
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == sorted(ids.items())
    assert listed["IsTruncated"] is False
    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [u["Key"] for u in prefixed["Uploads"]] == ["a/1", "a/2"]
    delimited = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in delimited.get("Uploads", [])] == ["c"]
    assert [p["Prefix"] for p in delimited["CommonPrefixes"]] == ["a/", "b/"]


def test_list_multipart_uploads_pagination(s3, bucket):
    keys = [f"k{n}" for n in range(5)]
    for key in keys:
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    seen, kwargs = [], {}
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kwargs)
        assert len(page.get("Uploads", [])) <= 2
        seen += [u["Key"] for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == keys


def test_two_uploads_same_key(s3, bucket):
    first, first_parts = upload(s3, bucket, "k", [b"first"])
    second, second_parts = upload(s3, bucket, "k", [b"second"])
    assert first != second
    complete(s3, bucket, "k", second, second_parts)
    complete(s3, bucket, "k", first, first_parts)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_upload_part_copy_with_ranges(s3, bucket):
    source = pattern(PART + 3 * MIB, seed=21)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    parts = []
    for number, (start, end) in enumerate([(0, PART - 1), (PART, len(source) - 1)], start=1):
        result = s3.upload_part_copy(
            Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=number,
            CopySource={"Bucket": bucket, "Key": "source"},
            CopySourceRange=f"bytes={start}-{end}",
        )
        parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
    complete(s3, bucket, "dest", upload_id, parts)
    assert s3.get_object(Bucket=bucket, Key="dest")["Body"].read() == source
    assert s3.head_object(Bucket=bucket, Key="dest")["ETag"] == multipart_etag(
        [source[:PART], source[PART:]]
    )


def test_upload_part_copy_whole_object_and_upload(s3, bucket):
    first = pattern(PART, seed=31)
    s3.put_object(Bucket=bucket, Key="source", Body=first)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    copied = s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=1,
                                 CopySource={"Bucket": bucket, "Key": "source"})
    uploaded = s3.upload_part(Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=2,
                              Body=b"tail")
    complete(s3, bucket, "dest", upload_id, [
        {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": uploaded["ETag"]},
    ])
    assert s3.get_object(Bucket=bucket, Key="dest")["Body"].read() == first + b"tail"


def test_upload_part_copy_bad_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="source", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dest")["UploadId"]
    # AWS answers 400 InvalidArgument; 416 InvalidRange is the other answer clients accept.
    with s3_error((400, 416), ("InvalidArgument", "InvalidRange")):
        s3.upload_part_copy(Bucket=bucket, Key="dest", UploadId=upload_id, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "source"},
                            CopySourceRange="bytes=5-100")


def test_get_object_part_number(s3, bucket):
    parts = [pattern(PART, seed=41), pattern(2 * MIB, seed=42)]
    upload_id, done = upload(s3, bucket, "mp", parts)
    complete(s3, bucket, "mp", upload_id, done)
    for number, body in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=number)
        assert status_of(got) == 206
        assert got["PartsCount"] == 2
        assert got["ContentLength"] == len(body)
        assert got["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=2)
    start = len(parts[0])
    assert head["ContentRange"] == f"bytes {start}-{start + len(parts[1]) - 1}/{start + len(parts[1])}"


def test_get_object_part_number_of_simple_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"simple")
    got = s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert got["Body"].read() == b"simple"


def test_boto3_upload_file_multipart(s3, bucket, tmp_path):
    body = pattern(12 * MIB + 333, seed=51)
    path = tmp_path / "big.bin"
    path.write_bytes(body)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                            max_concurrency=4)
    s3.upload_file(str(path), bucket, "managed.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="managed.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"].endswith('-3"')
    # A whole-object GET with botocore's default response checksum validation.
    got = s3.get_object(Bucket=bucket, Key="managed.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "managed.bin", str(out), Config=config)
    assert out.read_bytes() == body


def test_multipart_with_checksum_algorithm(s3, bucket):
    parts = [pattern(PART, seed=61), b"tail"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k",
                                           ChecksumAlgorithm="SHA256")["UploadId"]
    done = []
    for number, body in enumerate(parts, start=1):
        result = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number,
                                Body=body, ChecksumAlgorithm="SHA256")
        done.append({"PartNumber": number, "ETag": result["ETag"],
                     "ChecksumSHA256": result["ChecksumSHA256"]})
    complete(s3, bucket, "k", upload_id, done)
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)
