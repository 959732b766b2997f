//! The S3 front end's hot pure paths, reachable from the criterion benchmarks
//! (`benches/hot_paths.rs`) in test builds only: thin entry points into the very functions a
//! request runs through, so a benchmark measures the product's code, not a copy of it.

use bytes::Bytes;

use super::auth::chunked::{ChunkEvent, ChunkLimits, ChunkedDecoder};
use super::auth::sigv4;
use super::xml::{self, CommonPrefix, ListObjectsV2Result, ObjectEntry, XmlResponse};

/// A header-signed SigV4 request, as the verifier sees it.
pub struct SignedRequest {
    pub method: String,
    pub raw_path: String,
    pub query: Vec<(String, String)>,
    /// Lower-case names, trimmed values, `host` and `x-amz-date` among them.
    pub headers: Vec<(String, String)>,
    pub payload_hash: String,
    pub amz_date: String,
}

/// The Authorization header for `request`, signed over every header it has.
pub fn sign_sigv4(request: &SignedRequest, access_key_id: &str, secret: &str) -> String {
    let signed: Vec<String> = request.headers.iter().map(|(n, _)| n.clone()).collect();
    let date = &request.amz_date[..8];
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let signature = signature_of(request, &signed, &scope, date, secret).unwrap_or_default();
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    )
}

/// Whether `authorization` is a valid signature of `request` under `secret`: the parse, the
/// canonical request, the string to sign, the signing key and the comparison.
pub fn verify_sigv4(request: &SignedRequest, authorization: &str, secret: &str) -> bool {
    let Ok(auth) = sigv4::parse_authorization(authorization) else { return false };
    let scope = auth.credential.scope();
    let expected =
        signature_of(request, &auth.signed_headers, &scope, &auth.credential.date, secret);
    expected.is_some_and(|s| sigv4::signatures_match(&s, &auth.signature))
}

fn signature_of(
    request: &SignedRequest,
    signed_headers: &[String],
    scope: &str,
    date: &str,
    secret: &str,
) -> Option<String> {
    let canonical = sigv4::canonical_request(
        &request.method,
        &sigv4::canonical_uri(&request.raw_path),
        &sigv4::canonical_query(&request.query, &[]),
        &request.headers,
        signed_headers,
        &request.payload_hash,
    )
    .ok()?;
    let to_sign = sigv4::string_to_sign(&request.amz_date, scope, &canonical);
    let key = sigv4::signing_key(secret, date, "us-east-1", "s3").ok()?;
    Some(sigv4::signature(&key, &to_sign))
}

/// Decodes an `aws-chunked` body fed in `pieces` (as the network delivers it) and returns the
/// payload bytes; `None` if it does not decode.
pub fn decode_aws_chunked(pieces: &[Bytes]) -> Option<u64> {
    let mut decoder = ChunkedDecoder::new(ChunkLimits::default());
    let mut payload = 0;
    for piece in pieces {
        decoder.push(piece.clone());
        while let Some(event) = decoder.next_event().ok()? {
            if let ChunkEvent::Data(data) = event {
                payload += data.len() as u64;
            }
        }
    }
    decoder.finish();
    while let Some(event) = decoder.next_event().ok()? {
        if let ChunkEvent::End = event {
            return Some(payload);
        }
    }
    decoder.is_done().then_some(payload)
}

/// The XML of a ListObjectsV2 page of `keys` objects and `prefixes` common prefixes.
pub fn render_list_v2(keys: usize, prefixes: usize) -> String {
    let modified = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    let page = ListObjectsV2Result {
        name: "bucket".into(),
        prefix: "photos/".into(),
        continuation_token: None,
        next_continuation_token: Some("cGhvdG9zLzAwMDk5OQ".into()),
        start_after: None,
        key_count: (keys + prefixes) as u32,
        max_keys: 1000,
        delimiter: Some("/".into()),
        encoding_type: None,
        is_truncated: true,
        contents: (0..keys)
            .map(|i| ObjectEntry {
                key: format!("photos/2024/img_{i:06}.jpg"),
                last_modified: modified,
                etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
                checksum_algorithm: None,
                checksum_type: None,
                size: 1_234_567,
                owner: None,
                storage_class: "STANDARD".into(),
            })
            .collect(),
        common_prefixes: (0..prefixes)
            .map(|i| CommonPrefix { prefix: format!("photos/dir{i:05}/") })
            .collect(),
    };
    xml::to_xml(ListObjectsV2Result::ROOT, &page)
}
