"""POST object: browser form uploads built by boto3's generate_presigned_post (SigV4).

Goal: what boto3 generates for web apps works as-is; the policy's conditions hold.
Method: boto3 makes the form, urllib3 posts it as multipart/form-data (the file last, as
browsers send it), boto3 reads the object back.
"""

import urllib3

_HTTP = urllib3.PoolManager()


def post_form(presigned, data, extra=None):
    fields = dict(presigned["fields"])
    fields.update(extra or {})
    fields["file"] = ("upload.bin", data)
    return _HTTP.request("POST", presigned["url"], fields=fields, redirect=False)


def test_presigned_post_uploads(s3, bucket):
    presigned = s3.generate_presigned_post(
        Bucket=bucket, Key="uploads/${filename}",
        Fields={"Content-Type": "text/plain", "x-amz-meta-source": "browser"},
        Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-source": "browser"},
                    ["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1 << 20]],
        ExpiresIn=600)
    response = post_form(presigned, b"hello from a form")
    assert response.status == 204, response.data
    got = s3.get_object(Bucket=bucket, Key="uploads/upload.bin")
    assert got["Body"].read() == b"hello from a form"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"source": "browser"}


def test_presigned_post_conditions_hold(s3, bucket):
    presigned = s3.generate_presigned_post(
        Bucket=bucket, Key="small", Conditions=[["content-length-range", 1, 4]], ExpiresIn=600)
    too_big = post_form(presigned, b"too large")
    assert too_big.status == 400 and b"EntityTooLarge" in too_big.data
    extra = post_form(presigned, b"ok", {"x-amz-meta-sneaky": "1"})
    assert extra.status == 403 and b"AccessDenied" in extra.data
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    ok = post_form(presigned, b"ok", {"success_action_status": "201"})
    assert ok.status == 403  # success_action_status was not in the policy
    presigned = s3.generate_presigned_post(
        Bucket=bucket, Key="small", Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}], ExpiresIn=600)
    ok = post_form(presigned, b"ok")
    assert ok.status == 201 and b"<Key>small</Key>" in ok.data
