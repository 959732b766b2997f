//! Raw HTTP/1.1 for tests where the exact bytes on the wire are the point, and a SigV4 signer
//! written here from the AWS documentation, independently of `src/s3/auth`, so that the two
//! check each other.
//!
//! The client writes a request exactly as given and reads one response (framed by
//! Content-Length, chunked, or the connection closing). Every exchange is bounded by
//! [`IO_TIMEOUT`], so a server that never answers fails the test instead of hanging it.
//!
//! The signer covers what the tests need: header signatures for any `x-amz-content-sha256`,
//! aws-chunked bodies (signed, signed with a trailer, unsigned with a trailer) and presigned
//! query strings.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html>

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use ringvault::clock::{Clock, SystemClock};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

/// Upper bound on one whole exchange: connect, write, read the response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// Hex SHA-256 of the empty string.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// RFC 3986 unreserved characters are kept; everything else is `%XX`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// The same for paths, where `/` separates segments.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// The wall-clock time the node itself uses, for `x-amz-date`.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Base64 of the big-endian CRC32, as `x-amz-checksum-crc32` carries it.
pub fn crc32_base64(data: &[u8]) -> String {
    BASE64.encode(crc32fast::hash(data).to_be_bytes())
}

// ---------------------------------------------------------------------------------------------
// Requests and responses

/// A request to be written byte for byte: nothing is added when it is sent.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    /// Already percent-encoded, e.g. `/bucket/key`.
    pub path: String,
    /// Already percent-encoded, without the `?`; empty for none.
    pub query: String,
    /// In the order they are written; names as given.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A request with only a `Host` header.
    pub fn new(method: &str, addr: SocketAddr, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            headers: vec![("host".to_owned(), addr.to_string())],
            body: Vec::new(),
        }
    }

    /// A request for a full `http://authority/path?query` URL (as a presigner returns).
    pub fn from_url(method: &str, url: &str) -> Self {
        let rest = url.strip_prefix("http://").expect("an http:// URL");
        let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_owned(),
            path: if path.is_empty() { "/".to_owned() } else { path.to_owned() },
            query: query.to_owned(),
            headers: vec![("host".to_owned(), authority.to_owned())],
            body: Vec::new(),
        }
    }

    #[must_use]
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    /// Appends a header (a repeated name is sent twice).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces every header of that name (case-insensitive) by one with `value`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Sets the body and a matching `Content-Length`.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        let length = self.body.len().to_string();
        self.set_header("content-length", &length);
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {}", self.method, self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out.push_str(" HTTP/1.1\r\n");
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Host from the headers, for sending.
    fn addr(&self) -> SocketAddr {
        let host = self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host"));
        host.expect("a Host header").1.parse().expect("Host is ip:port")
    }

    /// Sends the request to the address in its `Host` header and reads the response.
    pub async fn send(&self) -> RawResponse {
        send(self.addr(), &self.to_bytes()).await
    }
}

/// One HTTP response, header names lower-cased.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an S3 error: the status, an XML `<Error>` document with this `Code`, a `Message`
    /// and a `RequestId` equal to the `x-amz-request-id` header. Returns the XML.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        let xml = self.text();
        assert_eq!(self.status, status, "status of {xml}");
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(content_type.contains("xml"), "content-type {content_type:?} of {xml}");
        assert!(xml.contains("<Error>"), "not an S3 error document: {xml}");
        assert_eq!(xml_element(&xml, "Code").as_deref(), Some(code), "code in {xml}");
        let message = xml_element(&xml, "Message").unwrap_or_default();
        assert!(!message.is_empty(), "no Message in {xml}");
        let request_id = xml_element(&xml, "RequestId").unwrap_or_default();
        assert!(!request_id.is_empty(), "no RequestId in {xml}");
        assert_eq!(self.header("x-amz-request-id"), Some(request_id.as_str()), "request id");
        xml
    }
}

/// The text of the first `<name>` element of `xml`, if any (no entity decoding).
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// Sends `request` and reads one response. Panics if the server closes without answering,
/// on an I/O error, or after [`IO_TIMEOUT`].
pub async fn send(addr: SocketAddr, request: &[u8]) -> RawResponse {
    exchange(addr, request, false).await.expect("the connection closed without a response")
}

/// Sends `request`, shuts down the write half (the server sees end of input), and reads one
/// response; `None` when the server closed the connection without answering.
pub async fn send_then_close(addr: SocketAddr, request: &[u8]) -> Option<RawResponse> {
    exchange(addr, request, true).await
}

async fn exchange(addr: SocketAddr, request: &[u8], close_write: bool) -> Option<RawResponse> {
    let request = request.to_vec();
    let run = async move {
        let stream = TcpStream::connect(addr).await?;
        let (mut reader, mut writer) = stream.into_split();
        // Writing in its own task lets a server that answers before reading the whole body be
        // heard. The task returns the write half, because dropping it would half-close the
        // connection.
        let write = tokio::spawn(async move {
            let written = writer.write_all(&request).await;
            if close_write {
                let _ = writer.shutdown().await;
            }
            (written, writer)
        });
        let response = read_response(&mut reader).await;
        write.abort();
        response
    };
    match tokio::time::timeout(IO_TIMEOUT, run).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => panic!("raw exchange with {addr} failed: {e}"),
        Err(_) => panic!("no response from {addr} within {IO_TIMEOUT:?}"),
    }
}

/// Buffered reading of one response.
struct Incoming<'r, R> {
    reader: &'r mut R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Incoming<'_, R> {
    /// Reads more input; `false` at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 << 10];
        let n = self.reader.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Takes bytes up to `delimiter` (which is consumed, not returned).
    async fn until(&mut self, delimiter: &[u8]) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(delimiter.len()).position(|w| w == delimiter) {
                let taken: Vec<u8> = self.buf.drain(..i + delimiter.len()).collect();
                return Ok(taken[..i].to_vec());
            }
            if !self.fill().await? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "response cut short"));
            }
        }
    }

    async fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "response body cut short",
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }
}

async fn read_response<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Option<RawResponse>> {
    let mut incoming = Incoming { reader, buf: Vec::new() };
    if !incoming.fill().await? {
        return Ok(None);
    }
    let head = String::from_utf8(incoming.until(b"\r\n\r\n").await?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.to_owned()))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut response = RawResponse { status, headers, body: Vec::new() };
    let chunked = response.header("transfer-encoding").is_some_and(|t| t.contains("chunked"));
    let length = response.header("content-length").and_then(|v| v.parse::<usize>().ok());
    response.body = if status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        let mut body = Vec::new();
        loop {
            let line = String::from_utf8_lossy(&incoming.until(b"\r\n").await?).into_owned();
            let size_hex = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, line.clone()))?;
            if size == 0 {
                // Trailer lines, if any, up to the closing empty line.
                while !incoming.until(b"\r\n").await?.is_empty() {}
                break body;
            }
            body.extend(incoming.exact(size).await?);
            incoming.exact(2).await?;
        }
    } else if let Some(length) = length {
        incoming.exact(length).await?
    } else {
        while incoming.fill().await? {}
        std::mem::take(&mut incoming.buf)
    };
    Ok(Some(response))
}

// ---------------------------------------------------------------------------------------------
// SigV4

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn uri_encode(value: &str) -> String {
    percent_encode(value.as_bytes(), UNRESERVED).to_string()
}

fn decode(value: &str) -> String {
    percent_decode_str(value).decode_utf8_lossy().into_owned()
}

/// S3's canonical URI: the path decoded once and encoded once, `/` kept.
fn canonical_uri(raw_path: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(raw_path).collect();
    percent_encode(&decoded, PATH).to_string()
}

/// Pairs decoded, re-encoded strictly, sorted, joined; a valueless name renders as `name=`.
fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(n, v)| (uri_encode(&decode(n)), uri_encode(&decode(v))))
        .collect();
    pairs.sort();
    pairs.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&")
}

/// Who signs, for which region, at which time. Fields are public so tests can sign wrongly.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub time: DateTime<Utc>,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    /// The test node's credentials and region, signing now.
    pub fn new() -> Self {
        Self {
            access_key_id: ACCESS_KEY_ID.to_owned(),
            secret_access_key: SECRET_ACCESS_KEY.to_owned(),
            region: REGION.to_owned(),
            time: now(),
        }
    }

    pub fn amz_date(&self) -> String {
        self.time.format("%Y%m%dT%H%M%SZ").to_string()
    }

    pub fn scope(&self) -> String {
        format!("{}/{}/s3/aws4_request", self.time.format("%Y%m%d"), self.region)
    }

    fn signing_key(&self) -> Vec<u8> {
        let date = self.time.format("%Y%m%d").to_string();
        let k_date = hmac(format!("AWS4{}", self.secret_access_key).as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, b"s3");
        hmac(&k_service, b"aws4_request")
    }

    /// The SigV4 signature of a browser form's base64 policy (`x-amz-signature`).
    pub fn sign_post_policy(&self, policy_base64: &str) -> String {
        self.sign_string(policy_base64)
    }

    /// Hex signature of a string to sign.
    fn sign_string(&self, string_to_sign: &str) -> String {
        hex::encode(hmac(&self.signing_key(), string_to_sign.as_bytes()))
    }

    fn request_signature(&self, canonical_request: &str) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            self.amz_date(),
            self.scope(),
            sha256_hex(canonical_request.as_bytes())
        );
        self.sign_string(&string_to_sign)
    }

    /// Sets `x-amz-date` and `x-amz-content-sha256`, signs every header then present (except
    /// `connection`) and adds `Authorization`. Returns the signature: the seed of an aws-chunked
    /// body. Headers added afterwards are unsigned.
    pub fn sign(&self, request: &mut RawRequest, content_sha256: &str) -> String {
        request.remove_header("authorization");
        request.set_header("x-amz-date", &self.amz_date());
        request.set_header("x-amz-content-sha256", content_sha256);
        let mut signed: Vec<(String, String)> = Vec::new();
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            if name == "connection" {
                continue;
            }
            let value = value.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
            match signed.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(&value);
                }
                None => signed.push((name, value)),
            }
        }
        signed.sort();
        let names = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
        let headers: String = signed.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
        let canonical = format!(
            "{}\n{}\n{}\n{headers}\n{names}\n{content_sha256}",
            request.method,
            canonical_uri(&request.path),
            canonical_query(&request.query),
        );
        let signature = self.request_signature(&canonical);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={names},Signature={signature}",
            self.access_key_id,
            self.scope()
        );
        request.headers.push(("authorization".to_owned(), authorization));
        signature
    }

    /// The query string of a presigned URL for `method` on `path`, signing only `host`.
    pub fn presigned_query(
        &self,
        method: &str,
        host: &str,
        path: &str,
        expires_secs: u64,
    ) -> String {
        let credential = format!("{}/{}", self.access_key_id, self.scope());
        let query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={expires_secs}&X-Amz-SignedHeaders=host",
            uri_encode(&credential),
            self.amz_date()
        );
        let canonical = format!(
            "{method}\n{}\n{}\nhost:{host}\n\nhost\n{UNSIGNED_PAYLOAD}",
            canonical_uri(path),
            canonical_query(&query)
        );
        format!("{query}&X-Amz-Signature={}", self.request_signature(&canonical))
    }

    /// Signature of one aws-chunked chunk, chained from `previous`.
    fn chunk_signature(&self, previous: &str, data: &[u8]) -> String {
        self.sign_string(&format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{}",
            self.amz_date(),
            self.scope(),
            sha256_hex(data)
        ))
    }

    /// Signature of the trailer section, chained from the final chunk's signature.
    fn trailer_signature(&self, previous: &str, name: &str, value: &str) -> String {
        let canonical = format!("{name}:{value}\n");
        self.sign_string(&format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
            self.amz_date(),
            self.scope(),
            sha256_hex(canonical.as_bytes())
        ))
    }
}

/// An aws-chunked body: `payload` cut into `chunk_bytes` pieces, then the zero-length final
/// chunk, an optional trailer field, and the closing empty line.
///
/// With `signing` (signer, seed signature from the `Authorization` header) every chunk carries
/// its chained `chunk-signature` and the trailer an `x-amz-trailer-signature`, as in
/// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`; without, the body is what
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` sends.
pub fn aws_chunked(
    payload: &[u8],
    chunk_bytes: usize,
    signing: Option<(&Signer, &str)>,
    trailer: Option<(&str, &str)>,
) -> Vec<u8> {
    let mut previous = signing.map(|(_, seed)| seed.to_owned());
    let mut out = Vec::new();
    for piece in payload.chunks(chunk_bytes).chain([&[][..]]) {
        out.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
        if let (Some((signer, _)), Some(prev)) = (signing, previous.as_mut()) {
            *prev = signer.chunk_signature(prev, piece);
            out.extend_from_slice(format!(";chunk-signature={prev}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if !piece.is_empty() {
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some((name, value)) = trailer {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        if let (Some((signer, _)), Some(prev)) = (signing, &previous) {
            let signature = signer.trailer_signature(prev, name, value);
            out.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

// ---------------------------------------------------------------------------------------------
// Checks through the SDK

/// Asserts that `bucket/key` does not exist: HEAD answers 404.
pub async fn assert_no_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    let err = s3.head_object().bucket(bucket).key(key).send().await.unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(404), "{bucket}/{key} should not exist: {err:?}");
}

/// The object's bytes, read through the SDK.
pub async fn get_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}
