//! The load generator's S3 client: hyper's pooled HTTP/1.1 client, every request signed with
//! SigV4 (aws-sigv4, payload `UNSIGNED-PAYLOAD` so the generator spends no CPU hashing bodies the
//! server hashes anyway), bodies streamed from one shared random block so a 1 GiB object costs no
//! more memory than a 4 KiB one, and answers read to their end without being kept.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use md5::{Digest as _, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::clock::SharedClock;

/// Characters escaped in a key's path: everything but RFC 3986's unreserved ones and `/`.
const KEY_PATH: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
/// Characters escaped in a query value (SigV4's canonical form: unreserved ones kept).
const QUERY_VALUE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
/// Largest answer kept in memory (a listing page or an error document); bodies of GETs are
/// counted, never kept.
const DOCUMENT_BYTES_MAX: usize = 16 << 20;

/// Why one request failed: what the report counts and shows.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Transport(String),
    #[error("timed out after {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("HTTP {status} {code}")]
    Refused { status: u16, code: String },
    #[error("{0}")]
    Unexpected(String),
}

/// Credentials and where to send requests.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

/// One page of ListObjectsV2.
#[derive(Debug, Default)]
pub struct ListPage {
    pub keys: Vec<String>,
    pub common_prefixes: usize,
    pub next_token: Option<String>,
}

/// A request body: nothing, a slice of the shared block, or the shared block repeated.
pub enum LoadBody {
    Empty,
    Once(Option<Bytes>),
    Repeat { block: Bytes, remaining: u64 },
}

impl LoadBody {
    /// `len` bytes cut from `block`, repeating it as often as needed.
    pub fn of_len(block: &Bytes, len: u64) -> Self {
        match usize::try_from(len) {
            Ok(0) => Self::Empty,
            Ok(n) if n <= block.len() => Self::Once(Some(block.slice(..n))),
            _ => Self::Repeat { block: block.clone(), remaining: len },
        }
    }
}

impl Body for LoadBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let next = match self.get_mut() {
            Self::Empty => None,
            Self::Once(bytes) => bytes.take(),
            Self::Repeat { block, remaining } => {
                let n = (*remaining).min(block.len() as u64);
                *remaining -= n;
                (n > 0).then(|| block.slice(..n as usize))
            }
        };
        Poll::Ready(next.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Once(bytes) => bytes.is_none(),
            Self::Repeat { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(match self {
            Self::Empty => 0,
            Self::Once(bytes) => bytes.as_ref().map_or(0, |b| b.len() as u64),
            Self::Repeat { remaining, .. } => *remaining,
        })
    }
}

/// A signed S3 client for one endpoint. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct S3Client {
    http: Client<HttpConnector, LoadBody>,
    target: Target,
    /// The signing identity, built once (cloning shares it).
    credentials: Credentials,
    clock: SharedClock,
    timeout: Duration,
}

/// An answer whose body was read: status, headers, and the body (kept only when asked).
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
    body_len: u64,
}

impl S3Client {
    pub fn new(target: Target, clock: SharedClock, connections: usize, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let target =
            Target { endpoint: target.endpoint.trim_end_matches('/').to_owned(), ..target };
        let credentials = Credentials::new(
            &target.access_key_id,
            &target.secret_access_key,
            None,
            None,
            "ringvault-bench",
        );
        Self { http, target, credentials, clock, timeout }
    }

    pub fn endpoint(&self) -> &str {
        &self.target.endpoint
    }

    /// Creates the bucket unless the caller already owns it.
    pub async fn ensure_bucket(&self, bucket: &str) -> Result<(), RequestError> {
        match self.send(Method::PUT, bucket, "", &[], LoadBody::Empty, true).await {
            Ok(_) => Ok(()),
            Err(RequestError::Refused { code, .. }) if code == "BucketAlreadyOwnedByYou" => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn put(&self, bucket: &str, key: &str, body: LoadBody) -> Result<(), RequestError> {
        self.send(Method::PUT, &object_path(bucket, key), "", &[], body, false).await.map(drop)
    }

    /// Reads the object to its end and returns its length.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<u64, RequestError> {
        let answer = self
            .send(Method::GET, &object_path(bucket, key), "", &[], LoadBody::Empty, false)
            .await?;
        Ok(answer.body_len)
    }

    /// The object's Content-Length.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<u64, RequestError> {
        let answer = self
            .send(Method::HEAD, &object_path(bucket, key), "", &[], LoadBody::Empty, false)
            .await?;
        answer
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .ok_or_else(|| RequestError::Unexpected("HEAD without a Content-Length".into()))
    }

    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), RequestError> {
        self.send(Method::DELETE, &object_path(bucket, key), "", &[], LoadBody::Empty, false)
            .await
            .map(drop)
    }

    /// Deletes up to 1,000 keys in one DeleteObjects request (quiet mode); returns how many the
    /// server reported as not deleted.
    pub async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<usize, RequestError> {
        let mut xml = String::from("<Delete><Quiet>true</Quiet>");
        for key in keys {
            xml.push_str("<Object><Key>");
            xml.push_str(&quick_xml::escape::escape(key.as_str()));
            xml.push_str("</Key></Object>");
        }
        xml.push_str("</Delete>");
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(xml.as_bytes()));
        let headers = [("content-md5", md5.as_str())];
        let body = LoadBody::Once(Some(Bytes::from(xml)));
        let answer = self.send(Method::POST, bucket, "delete=", &headers, body, true).await?;
        Ok(parse::<DeleteResult>(&answer.body, "DeleteObjects answer")?.errors.len())
    }

    /// One page of ListObjectsV2 under `prefix`, with `delimiter` if given.
    pub async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<ListPage, RequestError> {
        // Parameters in SigV4's canonical order (sorted by name).
        let mut query = String::new();
        if let Some(token) = token {
            query.push_str(&format!("continuation-token={}&", encode_query(token)));
        }
        if let Some(delimiter) = delimiter {
            query.push_str(&format!("delimiter={}&", encode_query(delimiter)));
        }
        query.push_str(&format!("list-type=2&max-keys=1000&prefix={}", encode_query(prefix)));
        let answer = self.send(Method::GET, bucket, &query, &[], LoadBody::Empty, true).await?;
        parse_list_page(&answer.body)
    }

    /// CreateMultipartUpload, `parts` UploadParts of `part_size` (the last one shorter), and
    /// CompleteMultipartUpload.
    pub async fn multipart(
        &self,
        bucket: &str,
        key: &str,
        block: &Bytes,
        size: u64,
        part_size: u64,
    ) -> Result<(), RequestError> {
        let path = object_path(bucket, key);
        let created =
            self.send(Method::POST, &path, "uploads=", &[], LoadBody::Empty, true).await?;
        let upload_id =
            parse::<Initiated>(&created.body, "CreateMultipartUpload answer")?.upload_id;
        let mut complete = String::from("<CompleteMultipartUpload>");
        let mut offset = 0;
        let mut number = 1;
        while offset < size.max(1) {
            let len = part_size.min(size - offset);
            let query = format!("partNumber={number}&uploadId={}", encode_query(&upload_id));
            let body = LoadBody::of_len(block, len);
            let answer = self.send(Method::PUT, &path, &query, &[], body, false).await?;
            let etag = answer
                .headers
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| RequestError::Unexpected("UploadPart without an ETag".into()))?;
            complete.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                quick_xml::escape::escape(etag)
            ));
            offset += len.max(1);
            number += 1;
        }
        complete.push_str("</CompleteMultipartUpload>");
        let query = format!("uploadId={}", encode_query(&upload_id));
        let body = LoadBody::Once(Some(Bytes::from(complete)));
        let answer = self.send(Method::POST, &path, &query, &[], body, true).await?;
        // CompleteMultipartUpload may fail after a 200 status line: the error is in the body.
        match error_code(&answer.body) {
            Some(code) => Err(RequestError::Refused { status: 200, code }),
            None => Ok(()),
        }
    }

    /// Signs and sends one request; a status outside 2xx is an error carrying the S3 code. The
    /// body is kept when `keep_body` (documents), otherwise only counted.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        extra_headers: &[(&str, &str)],
        body: LoadBody,
        keep_body: bool,
    ) -> Result<Answer, RequestError> {
        let uri = match query {
            "" => format!("{}/{path}", self.target.endpoint),
            q => format!("{}/{path}?{q}", self.target.endpoint),
        };
        let length = body.size_hint().exact().unwrap_or(0).to_string();
        let host = uri_host(&self.target.endpoint);
        let mut headers: Vec<(&str, &str)> = vec![("host", host), ("content-length", &length)];
        headers.extend_from_slice(extra_headers);
        let signed = self.sign(method.as_str(), &uri, &headers)?;
        let mut request = Request::builder().method(method).uri(&uri);
        for (name, value) in headers.iter().filter(|(n, _)| *n != "host") {
            request = request.header(*name, *value);
        }
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let request =
            request.body(body).map_err(|e| RequestError::Unexpected(format!("request: {e}")))?;
        let exchange = async {
            let response =
                self.http.request(request).await.map_err(|e| RequestError::Transport(chain(&e)))?;
            let (parts, mut body) = response.into_parts();
            let keep = keep_body || !parts.status.is_success();
            let mut kept = Vec::new();
            let mut body_len = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| RequestError::Transport(chain(&e)))?;
                if let Ok(data) = frame.into_data() {
                    body_len += data.len() as u64;
                    if keep && kept.len() + data.len() <= DOCUMENT_BYTES_MAX {
                        kept.extend_from_slice(&data);
                    }
                }
            }
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body: Bytes::from(kept),
                body_len,
            })
        };
        let answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RequestError::Timeout(self.timeout))??;
        if answer.status.is_success() {
            return Ok(answer);
        }
        let code = error_code(&answer.body)
            .unwrap_or_else(|| answer.status.canonical_reason().unwrap_or("").to_owned());
        Err(RequestError::Refused { status: answer.status.as_u16(), code })
    }

    /// The headers SigV4 adds: x-amz-date, x-amz-content-sha256 and Authorization.
    fn sign(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<(String, HeaderValue)>, RequestError> {
        let failed = |e: &dyn std::fmt::Display| RequestError::Unexpected(format!("signing: {e}"));
        let identity = self.credentials.clone().into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.target.region)
            .name("s3")
            .time(SystemTime::from(self.clock.now()))
            .settings(settings)
            .build()
            .map_err(|e| failed(&e))?
            .into();
        let signable = SignableRequest::new(
            method,
            uri,
            headers.iter().copied(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| failed(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| failed(&e))?.into_parts();
        let (signed, _) = instructions.into_parts();
        signed
            .into_iter()
            .map(|h| {
                let value = HeaderValue::from_str(h.value()).map_err(|e| failed(&e))?;
                Ok((h.name().to_owned(), value))
            })
            .collect()
    }
}

fn object_path(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", utf8_percent_encode(key, KEY_PATH))
}

fn encode_query(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// `host[:port]` of an endpoint URL.
fn uri_host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// An error and its sources on one line (hyper's own message alone is often "client error").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// An S3 error document.
#[derive(Deserialize)]
struct ErrorDocument {
    #[serde(rename = "Code")]
    code: String,
}

/// The answer of CreateMultipartUpload.
#[derive(Deserialize)]
struct Initiated {
    #[serde(rename = "UploadId")]
    upload_id: String,
}

/// The answer of DeleteObjects in quiet mode: only what failed.
#[derive(Deserialize)]
struct DeleteResult {
    #[serde(rename = "Error", default)]
    errors: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct ListResult {
    #[serde(rename = "Contents", default)]
    contents: Vec<ListedKey>,
    #[serde(rename = "CommonPrefixes", default)]
    common_prefixes: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "IsTruncated", default)]
    is_truncated: bool,
    #[serde(rename = "NextContinuationToken")]
    next_continuation_token: Option<String>,
}

#[derive(Deserialize)]
struct ListedKey {
    #[serde(rename = "Key")]
    key: String,
}

fn parse<T: serde::de::DeserializeOwned>(xml: &[u8], what: &str) -> Result<T, RequestError> {
    let text = std::str::from_utf8(xml)
        .map_err(|e| RequestError::Unexpected(format!("{what} is not UTF-8: {e}")))?;
    quick_xml::de::from_str(text)
        .map_err(|e| RequestError::Unexpected(format!("{what} is not what S3 answers: {e}")))
}

/// The S3 code of an error answer, if its body is an error document.
fn error_code(xml: &[u8]) -> Option<String> {
    parse::<ErrorDocument>(xml, "error").ok().map(|doc| doc.code)
}

/// Keys, the number of common prefixes and the continuation token of a ListObjectsV2 answer.
fn parse_list_page(xml: &[u8]) -> Result<ListPage, RequestError> {
    let result: ListResult = parse(xml, "listing")?;
    let next_token = match (result.is_truncated, result.next_continuation_token) {
        (false, _) => None,
        (true, Some(token)) => Some(token),
        (true, None) => {
            return Err(RequestError::Unexpected("truncated listing without a token".into()));
        }
    };
    Ok(ListPage {
        keys: result.contents.into_iter().map(|c| c.key).collect(),
        common_prefixes: result.common_prefixes.len(),
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_yields_keys_prefixes_and_the_token_only_when_truncated() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key>a&amp;b</Key><Size>3</Size></Contents><Contents><Key>c</Key></Contents>
<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok</NextContinuationToken></ListBucketResult>"#;
        let page = parse_list_page(xml).unwrap();
        assert_eq!(page.keys, ["a&b", "c"]);
        assert_eq!(page.common_prefixes, 1);
        assert_eq!(page.next_token.as_deref(), Some("tok"));

        let last = b"<ListBucketResult><IsTruncated>false</IsTruncated>\
            <NextContinuationToken>stale</NextContinuationToken></ListBucketResult>";
        assert_eq!(parse_list_page(last).unwrap().next_token, None);
        let broken = b"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
        assert!(parse_list_page(broken).is_err());
    }

    #[test]
    fn error_documents_give_their_code_and_delete_results_their_failures() {
        let error = b"<Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        assert_eq!(error_code(error).as_deref(), Some("NoSuchKey"));
        assert_eq!(error_code(b"<CompleteMultipartUploadResult/>"), None);
        let deleted = b"<DeleteResult><Error><Key>a</Key></Error><Error><Key>b</Key></Error>\
            </DeleteResult>";
        assert_eq!(parse::<DeleteResult>(deleted, "d").unwrap().errors.len(), 2);
        assert!(parse::<DeleteResult>(b"<DeleteResult/>", "d").unwrap().errors.is_empty());
    }

    #[tokio::test]
    async fn a_repeating_body_yields_exactly_its_length_from_a_smaller_block() {
        let block = Bytes::from_static(b"0123456789");
        let body = LoadBody::of_len(&block, 25);
        assert_eq!(body.size_hint().exact(), Some(25));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"0123456789012345678901234");
        let small = LoadBody::of_len(&block, 4).collect().await.unwrap().to_bytes();
        assert_eq!(&small[..], b"0123");
        assert!(LoadBody::of_len(&block, 0).is_end_stream());
    }

    #[test]
    fn keys_are_escaped_in_paths_but_keep_their_slashes() {
        assert_eq!(object_path("b", "d 1/ä+x"), "b/d%201/%C3%A4%2Bx");
        assert_eq!(uri_host("http://127.0.0.1:9000/"), "127.0.0.1:9000");
    }
}
