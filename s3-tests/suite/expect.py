"""Assertions shared by the suite's test files.

`s3_error` is how every test checks a failure: the call must raise botocore's ClientError with
the expected HTTP status and, where S3 sends a body, the expected error Code. HEAD answers carry
no body, so botocore reports the status number as the code; pass `code=None` (or the number as
a string) for those.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from contextlib import contextmanager
from typing import Iterator

import pytest
from botocore.exceptions import ClientError


@contextmanager
def s3_error(status: int | tuple[int, ...], code: str | tuple[str, ...] | None) -> Iterator[dict]:
    """Expects the block to raise ClientError(status, code); yields the parsed error response.

    `status` and `code` may be tuples where S3 implementations legitimately differ.
    """
    holder: dict = {}
    with pytest.raises(ClientError) as info:
        yield holder
    response = info.value.response
    holder.update(response)
    got_status = response["ResponseMetadata"]["HTTPStatusCode"]
    got_code = response.get("Error", {}).get("Code")
    statuses = status if isinstance(status, tuple) else (status,)
    assert got_status in statuses, f"status {got_status} (code {got_code}), expected {status}"
    if code is not None:
        allowed = code if isinstance(code, tuple) else (code,)
        assert got_code in allowed, f"code {got_code!r}, expected one of {allowed!r}"


def status_of(response: dict) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


def header(response: dict, name: str) -> str | None:
    return response["ResponseMetadata"]["HTTPHeaders"].get(name.lower())


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def quoted_md5(data: bytes) -> str:
    return f'"{md5_hex(data)}"'


def multipart_etag(parts: list[bytes]) -> str:
    """The ETag S3 gives a completed multipart upload: MD5 of the parts' MD5s, then -N."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32_b64(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def sha1_b64(data: bytes) -> str:
    return b64(hashlib.sha1(data).digest())


def sha256_b64(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking bytes: a block cipher is overkill, SHA-256 chains do."""
    out = bytearray()
    block = seed.to_bytes(8, "big")
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])
