"""The machine's own limits, the yardsticks standard.sh divides by: hashing per core (MD5 and
SHA-256, OpenSSL through hashlib), sequential write with fdatasync and fdatasyncs per second on
the file system of DIR, and TCP loopback bandwidth. Prints one JSON object.

Usage: python3 limits.py DIR
"""

import hashlib
import json
import os
import socket
import sys
import threading
import time

MIB = 1 << 20


def hash_rate(name, total=512 * MIB):
    block = os.urandom(MIB)
    h = hashlib.new(name)
    start = time.perf_counter()
    for _ in range(total // MIB):
        h.update(block)
    return total / (time.perf_counter() - start) / 1e6


def sequential_write(directory, total=1024 * MIB):
    path = os.path.join(directory, "limits-seq.tmp")
    block = os.urandom(MIB)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(total // MIB):
            os.write(fd, block)
        os.fdatasync(fd)
        return total / (time.perf_counter() - start) / 1e6
    finally:
        os.close(fd)
        os.unlink(path)


def syncs_per_second(directory, seconds=3.0):
    path = os.path.join(directory, "limits-sync.tmp")
    block = os.urandom(4096)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            count += 1
        return count / (time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)


def loopback(total=2048 * MIB):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    received = [0]

    def receive():
        conn, _ = listener.accept()
        buf = bytearray(MIB)
        view = memoryview(buf)
        while True:
            n = conn.recv_into(view)
            if n == 0:
                break
            received[0] += n
        conn.close()

    reader = threading.Thread(target=receive)
    reader.start()
    sender = socket.create_connection(listener.getsockname())
    block = os.urandom(MIB)
    start = time.perf_counter()
    for _ in range(total // MIB):
        sender.sendall(block)
    sender.close()
    reader.join()
    elapsed = time.perf_counter() - start
    listener.close()
    return received[0] / elapsed / 1e6


def main():
    directory = sys.argv[1]
    print(json.dumps({
        "md5_mb_per_sec": hash_rate("md5"),
        "sha256_mb_per_sec": hash_rate("sha256"),
        "seq_write_fdatasync_mb_per_sec": sequential_write(directory),
        "fdatasyncs_per_sec": syncs_per_second(directory),
        "loopback_mb_per_sec": loopback(),
    }))


if __name__ == "__main__":
    main()
