"""CORS: Put/Get/DeleteBucketCors, preflight OPTIONS and the headers on actual responses.

Goal: a browser on an allowed origin gets exactly the access the rules give, others get a 403
preflight, and configurations round-trip through boto3.
Method: boto3 for the configuration, raw OPTIONS and GET requests (no signature) for the
browser's side.
"""

from expect import s3_error


def rules(bucket_s3, bucket):
    bucket_s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
         "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag", "x-amz-version-id"],
         "MaxAgeSeconds": 120},
    ]})


def test_cors_configuration_round_trip(s3, bucket):
    with s3_error(404, "NoSuchCORSConfiguration"):
        s3.get_bucket_cors(Bucket=bucket)
    rules(s3, bucket)
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["AllowedMethods"] == ["GET", "PUT"]
    assert got[0]["ExposeHeaders"] == ["ETag", "x-amz-version-id"]
    assert got[0]["MaxAgeSeconds"] == 120
    s3.delete_bucket_cors(Bucket=bucket)
    with s3_error(404, "NoSuchCORSConfiguration"):
        s3.get_bucket_cors(Bucket=bucket)


def test_bad_cors_configuration(s3, bucket):
    with s3_error(400, "InvalidRequest"):
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]})


def test_preflight_and_actual_request(s3, raw, bucket):
    s3.put_object(Bucket=bucket, Key="page", Body=b"hi", ACL="public-read")
    rules(s3, bucket)
    ok = raw.request("OPTIONS", bucket, "page", sign=False, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type, x-amz-date"})
    assert ok.status == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert ok.headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert ok.headers["access-control-max-age"] == "120"
    refused = raw.request("OPTIONS", bucket, "page", sign=False, headers={
        "Origin": "https://elsewhere.test", "Access-Control-Request-Method": "GET"})
    assert refused.status == 403
    assert refused.error_code() == "AccessForbidden"
    got = raw.request("GET", bucket, "page", sign=False,
                      headers={"Origin": "https://app.example.com"})
    assert got.status == 200 and got.body == b"hi"
    assert got.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "ETag" in got.headers["access-control-expose-headers"]
