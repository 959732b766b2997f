"""Plain against SSE-S3 and SSE-C, side by side: single-stream PUT and GET of one object.

Usage: python3 encryption.py ENDPOINT
Credentials from RV_ACCESS_KEY_ID / RV_SECRET_ACCESS_KEY. Writes and reads back SIZE_MIB of
random bytes REPEATS times in each mode (the body is checked each time) and prints the median
MB/s of each and the encrypted/plain ratios.
"""
import base64
import hashlib
import os
import statistics
import sys
import time

import boto3

SIZE = int(os.environ.get("SIZE_MIB", "256")) << 20
REPEATS = int(os.environ.get("REPEATS", "3"))


def main():
    s3 = boto3.client(
        "s3",
        endpoint_url=sys.argv[1],
        region_name="us-east-1",
        aws_access_key_id=os.environ["RV_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["RV_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket="bench-encryption")
    data = os.urandom(SIZE)
    key = os.urandom(32)
    sse_c = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }
    modes = {"plain": ({}, {}), "sse-s3": ({"ServerSideEncryption": "AES256"}, {}),
             "sse-c": (sse_c, sse_c)}
    rates = {name: [] for name in modes}
    for _ in range(REPEATS):
        for name, (put_args, get_args) in modes.items():
            started = time.perf_counter()
            s3.put_object(Bucket="bench-encryption", Key=name, Body=data, **put_args)
            put = time.perf_counter() - started
            started = time.perf_counter()
            body = s3.get_object(Bucket="bench-encryption", Key=name, **get_args)["Body"].read()
            get = time.perf_counter() - started
            assert body == data, f"{name}: the body read back differs"
            rates[name].append((SIZE / put / 1e6, SIZE / get / 1e6))
    median = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
              for name, rs in rates.items()}
    for name, (put, get) in median.items():
        print(f"{name:7s} PUT {put:7.0f} MB/s   GET {get:7.0f} MB/s")
    for name in ("sse-s3", "sse-c"):
        print(f"{name} / plain: PUT {median[name][0] / median['plain'][0]:.2f}x, "
              f"GET {median[name][1] / median['plain'][1]:.2f}x")


if __name__ == "__main__":
    main()
