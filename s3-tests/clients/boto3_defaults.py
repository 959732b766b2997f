#!/usr/bin/env python3
"""boto3 with default settings: managed multipart upload, whole-object GET, presigned GET.

Goal: the code most Python users write against S3, with nothing tuned but the endpoint and
path-style addressing, works against RingVault: `upload_file` of a file above boto3's default
8 MiB multipart threshold, `get_object` of the whole object with botocore's default response
checksum validation, `download_file`, and a default presigned GET fetched with urllib.
Method: run through with-node.sh (it starts a fresh node and exports RV_*); running this file
directly re-executes it that way. Prints PASS/FAIL per step and "boto3_defaults: N passed,
M failed"; exits non-zero on any failure.
"""

import hashlib
import os
import sys
import traceback
import urllib.request


def main() -> int:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["RV_ENDPOINT"],
        region_name=os.environ["RV_REGION"],
        aws_access_key_id=os.environ["RV_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["RV_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )
    work = os.environ["RV_WORK"]
    bucket = "boto3-defaults-" + os.urandom(4).hex()
    big = os.path.join(work, "twenty.bin")
    with open(big, "wb") as f:
        block = b"seed"
        for _ in range(20 * 1024 * 1024 // 32):
            block = hashlib.sha256(block).digest()
            f.write(block)
    with open(big, "rb") as f:
        body = f.read()
    results = {"passed": 0, "failed": 0}

    def step(name, fn):
        try:
            fn()
        except Exception:  # a scenario reports every failure and carries on
            results["failed"] += 1
            print(f"FAIL  boto3_defaults: {name}")
            for line in traceback.format_exc(limit=3).splitlines():
                print(f"      | {line}")
        else:
            results["passed"] += 1
            print(f"PASS  boto3_defaults: {name}")

    def upload_file():
        s3.upload_file(big, bucket, "twenty.bin")
        etag = s3.head_object(Bucket=bucket, Key="twenty.bin")["ETag"]
        assert etag.endswith('-3"'), f"expected a 3-part multipart ETag, got {etag}"

    def get_whole():
        got = s3.get_object(Bucket=bucket, Key="twenty.bin")
        assert got["Body"].read() == body, "body differs"

    def download_file():
        out = os.path.join(work, "back.bin")
        s3.download_file(bucket, "twenty.bin", out)
        with open(out, "rb") as f:
            assert f.read() == body, "downloaded file differs"

    def put_get_small():
        s3.put_object(Bucket=bucket, Key="small.txt", Body=b"small object")
        assert s3.get_object(Bucket=bucket, Key="small.txt")["Body"].read() == b"small object"

    def presigned_get():
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "small.txt"})
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert response.read() == b"small object"

    def cleanup():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)

    step("create_bucket", lambda: s3.create_bucket(Bucket=bucket))
    step("upload_file 20 MiB (multipart at the default threshold)", upload_file)
    step("get_object of the whole object, default checksum validation", get_whole)
    step("download_file", download_file)
    step("put_object and get_object of a small object", put_get_small)
    step("default presigned GET fetched with urllib", presigned_get)
    step("empty and delete the bucket", cleanup)
    print(f"boto3_defaults: {results['passed']} passed, {results['failed']} failed")
    return 0 if results["failed"] == 0 else 1


if __name__ == "__main__":
    if "RV_ENDPOINT" not in os.environ:
        here = os.path.dirname(os.path.abspath(__file__))
        os.execvp("bash", ["bash", os.path.join(here, "with-node.sh"), "boto3_defaults",
                           "python", os.path.abspath(__file__)])
    sys.exit(main())
