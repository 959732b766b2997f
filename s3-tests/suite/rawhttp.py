"""Hand-signed HTTP requests for the cases an SDK will not send.

Goal: reach behaviour boto3 hides or refuses to produce (odd methods, skewed clocks, wrong
regions, broken bodies, error documents read as raw XML) while still passing SigV4 checks.

Method: a small SigV4 signer written from the AWS specification (canonical request, string to
sign, derived key), with the clock, region and payload hash as parameters so tests can get
each of them wrong on purpose; the request goes out through urllib3 without retries or
redirects, and the answer comes back as status, lower-cased headers and body bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import urllib3

_POOL = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def error_code(self) -> str | None:
        """The `<Code>` of an S3 error document, if the body is one."""
        return self.error_field("Code")

    def error_field(self, name: str) -> str | None:
        if not self.body:
            return None
        try:
            root = ET.fromstring(self.body)
        except ET.ParseError:
            return None
        element = root.find(name)
        return None if element is None else element.text


def _uri_encode(value: str, keep_slash: bool) -> str:
    return quote(value, safe="/~" if keep_slash else "~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign_v4(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_hash: str,
    access_key_id: str,
    secret: str,
    region: str,
    now: dt.datetime,
) -> dict[str, str]:
    """Returns `headers` plus x-amz-date, x-amz-content-sha256 and Authorization."""
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    out = {k.lower(): v for k, v in headers.items()}
    out["host"] = parts.netloc
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    pairs = []
    for item in filter(None, parts.query.split("&")):
        name, _, value = item.partition("=")
        pairs.append((name, value))
    canonical_query = "&".join(f"{n}={v}" for n, v in sorted(pairs))
    signed = sorted(out)
    canonical_headers = "".join(f"{n}:{' '.join(out[n].split())}\n" for n in signed)
    canonical_request = "\n".join(
        [
            method,
            parts.path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed),
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + secret).encode(), day)
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return out


class RawClient:
    """Signs and sends single requests as one access key."""

    def __init__(self, endpoint: str, access_key_id: str, secret: str, region: str):
        self.endpoint = endpoint.rstrip("/")
        self.access_key_id = access_key_id
        self.secret = secret
        self.region = region

    def url(self, bucket: str | None = None, key: str | None = None, query: str = "") -> str:
        path = "/"
        if bucket:
            path += _uri_encode(bucket, keep_slash=False)
            if key is not None:
                path += "/" + _uri_encode(key, keep_slash=True)
        return self.endpoint + path + (f"?{query}" if query else "")

    def request(
        self,
        method: str,
        bucket: str | None = None,
        key: str | None = None,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        region: str | None = None,
        now: dt.datetime | None = None,
        payload_hash: str | None = None,
        sign: bool = True,
    ) -> RawResponse:
        url = self.url(bucket, key, query)
        headers = dict(headers or {})
        if sign:
            headers = sign_v4(
                method,
                url,
                headers,
                payload_hash or hashlib.sha256(body).hexdigest(),
                self.access_key_id,
                self.secret,
                region or self.region,
                now or dt.datetime.now(dt.timezone.utc),
            )
        response = _POOL.request(
            method, url, body=body, headers=headers, redirect=False, preload_content=True
        )
        return RawResponse(
            status=response.status,
            headers={k.lower(): v for k, v in response.headers.items()},
            body=response.data,
        )
