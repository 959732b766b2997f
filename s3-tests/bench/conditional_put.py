"""Conditional PUT (If-None-Match: *, decided by consensus) against plain PUT, side by side.

Usage: python3 conditional_put.py ENDPOINT [ENDPOINT ...]
Credentials from RV_ACCESS_KEY_ID / RV_SECRET_ACCESS_KEY. Each of THREADS threads writes
PUTS_PER_THREAD fresh 4 KiB objects, first plainly, then with If-None-Match: *, through the
endpoints in turn; prints ops/s and p50/p99 latency of each and their ratios.
"""
import os
import statistics
import sys
import threading
import time

import boto3
from botocore.config import Config

THREADS = int(os.environ.get("THREADS", "8"))
PUTS_PER_THREAD = int(os.environ.get("PUTS_PER_THREAD", "150"))
BODY = os.urandom(4096)


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ["RV_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["RV_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, max_pool_connections=THREADS),
    )


def run(endpoints, bucket, conditional):
    latencies = []
    lock = threading.Lock()

    def worker(t):
        s3 = client(endpoints[t % len(endpoints)])
        mine = []
        for i in range(PUTS_PER_THREAD):
            key = f"{'c' if conditional else 'p'}/{t}/{i}"
            extra = {"IfNoneMatch": "*"} if conditional else {}
            start = time.perf_counter()
            s3.put_object(Bucket=bucket, Key=key, Body=BODY, **extra)
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000


def main():
    endpoints = sys.argv[1:]
    bucket = f"bench-conditional-{int(time.time())}"
    client(endpoints[0]).create_bucket(Bucket=bucket)
    plain = run(endpoints, bucket, conditional=False)
    cond = run(endpoints, bucket, conditional=True)
    print(f"{THREADS} threads x {PUTS_PER_THREAD} PUTs of 4 KiB over {len(endpoints)} endpoint(s)")
    print(f"plain PUT:        {plain[0]:8.1f} ops/s  p50 {plain[1]:6.1f} ms  p99 {plain[2]:6.1f} ms")
    print(f"If-None-Match: *  {cond[0]:8.1f} ops/s  p50 {cond[1]:6.1f} ms  p99 {cond[2]:6.1f} ms")
    print(f"conditional/plain: throughput {cond[0] / plain[0]:.2f}x, p50 {cond[1] / plain[1]:.2f}x, p99 {cond[2] / plain[2]:.2f}x")


if __name__ == "__main__":
    main()
