//! Pure AWS Signature Version 2 primitives for S3: parsing the `AWS AccessKeyId:Signature`
//! header and the `AWSAccessKeyId`/`Expires`/`Signature` query parameters, building the string
//! to sign, signing it (base64 HMAC-SHA1) and reading the request date.
//!
//! Invariants:
//! - Nothing here does I/O or reads a clock; callers decide about skew, expiry and secrets.
//! - The Date line is `Date`, or empty when `x-amz-date` is present (which then signs among the
//!   amz headers), or `Expires` for the query form.
//! - Clients disagree on the spelling of the resource: botocore signs the path as sent and
//!   sub-resource values decoded, s3cmd signs values as sent, and botocore signs a bucket-only
//!   path-style request `/bucket` as `/bucket/`. [`strings_to_sign`] returns each distinct
//!   reading, AWS's documented one first; all name the same request, so accepting any of them
//!   cannot change what a signature authorises.
//! - SigV2 does not sign the body.
//!
//! Not here: credential lookup, clock checks (see `mod.rs`).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html>

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha1::Sha1;

use super::sigv4;
use crate::s3::error::{S3Error, S3ErrorCode};

/// Query parameters that name a sub-resource and so belong to the canonical resource: the list
/// in AWS's SigV2 page plus the later ones botocore's `HmacV1Auth` signs. Sorted.
const SUB_RESOURCES: [&str; 35] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// A parsed `Authorization: AWS AccessKeyId:Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationV2 {
    pub access_key_id: String,
    /// Base64, as sent.
    pub signature: String,
}

/// Parses `AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=`.
///
/// `InvalidArgument` (as AWS answers) when the value after `AWS ` is not `id:signature`.
pub fn parse_authorization(value: &str) -> Result<AuthorizationV2, S3Error> {
    let parsed = value
        .strip_prefix("AWS ")
        .and_then(|rest| rest.trim().split_once(':'))
        .filter(|(id, signature)| !id.is_empty() && !signature.is_empty());
    let Some((access_key_id, signature)) = parsed else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
        )
        .with("ArgumentName", "Authorization")
        .with("ArgumentValue", value));
    };
    Ok(AuthorizationV2 { access_key_id: access_key_id.to_owned(), signature: signature.to_owned() })
}

/// The authentication parameters of a SigV2 presigned (query string) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedV2 {
    pub access_key_id: String,
    pub signature: String,
    /// `Expires` as sent: it is the Date line of the string to sign.
    pub expires: String,
    /// `Expires` as epoch seconds.
    pub expires_epoch_secs: i64,
}

/// Reads `AWSAccessKeyId`, `Expires` and `Signature` from the decoded query pairs.
///
/// `Ok(None)` when none of the three is present. A partial, repeated or non-numeric set is
/// `AccessDenied`, as AWS answers it.
pub fn parse_presigned(query: &[(String, String)]) -> Result<Option<PresignedV2>, S3Error> {
    const NAMES: [&str; 3] = ["AWSAccessKeyId", "Expires", "Signature"];
    let incomplete = || {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        )
    };
    let mut found: [Option<&str>; 3] = [None; 3];
    for (name, value) in query {
        if let Some(index) = NAMES.iter().position(|n| n == name)
            && found[index].replace(value).is_some()
        {
            return Err(incomplete());
        }
    }
    let [access_key_id, expires, signature] = found;
    if found.iter().all(Option::is_none) {
        return Ok(None);
    }
    let (Some(access_key_id), Some(expires), Some(signature)) = (access_key_id, expires, signature)
    else {
        return Err(incomplete());
    };
    if access_key_id.is_empty() || signature.is_empty() {
        return Err(incomplete());
    }
    let expires_epoch_secs: i64 = expires.parse().map_err(|_| {
        S3Error::new(S3ErrorCode::AccessDenied, "Invalid date (should be seconds since epoch)")
            .with("Expires", expires)
    })?;
    Ok(Some(PresignedV2 {
        access_key_id: access_key_id.to_owned(),
        signature: signature.to_owned(),
        expires: expires.to_owned(),
        expires_epoch_secs,
    }))
}

/// Parses a SigV2 request date: RFC 2822 (`Tue, 27 Mar 2007 19:36:42 +0000`, what s3cmd sends),
/// the HTTP date forms (`... GMT`, RFC 850, asctime), or SigV4's `20130524T000000Z`.
pub fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    // S3 takes a date before the epoch for no date at all (AccessDenied, not a skew).
    parse_any_date(value.trim()).filter(|t| t.timestamp() >= 0)
}

fn parse_any_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc2822(value) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = httpdate::parse_http_date(value) {
        return Some(DateTime::<Utc>::from(t));
    }
    if let Some(t) = sigv4::parse_amz_date(value) {
        return Some(t);
    }
    // A date whose weekday is wrong (`Tue, 07 Jul 2010`, a Wednesday) is still a date: the
    // parsers above reject it, S3 reads it (and then refuses it as skewed, not as missing).
    let (_, rest) = value.split_once(", ")?;
    let rest = rest.trim_end_matches(" GMT").trim_end_matches(" +0000");
    chrono::NaiveDateTime::parse_from_str(rest, "%d %b %Y %H:%M:%S").ok().map(|t| t.and_utc())
}

/// Which reading of the resource a string to sign uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ResourceForm {
    /// The path decoded and re-encoded as SigV4 does, instead of as sent.
    reencode_path: bool,
    /// Sub-resource values percent-decoded (AWS, botocore) instead of as sent (s3cmd).
    decode_values: bool,
    /// A resource naming only a bucket (`/bucket`) gets the trailing `/` botocore signs.
    bucket_slash: bool,
}

/// The request parts a SigV2 string to sign is made of.
#[derive(Debug, Clone, Copy)]
pub struct SigningInput<'a> {
    pub method: &'a str,
    /// The path as sent, still percent-encoded.
    pub raw_path: &'a str,
    /// The query as sent, without `?`; empty for none.
    pub raw_query: &'a str,
    /// The decoded query pairs (for the query form's `content-type`, `x-amz-*` parameters).
    pub query: &'a [(String, String)],
    /// `(name, value)` as received; names in any case, possibly repeated.
    pub headers: &'a [(String, String)],
    /// The bucket taken from the host (virtual-hosted style), which prefixes the resource.
    pub vhost_bucket: Option<&'a str>,
    /// `Some(Expires)` for the query form; `None` for the header form.
    pub expires: Option<&'a str>,
}

impl SigningInput<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A header, or for the query form also a query parameter of that (lower-case) name:
    /// presigners move the headers they signed into the query.
    fn signed_field(&self, name: &str) -> &str {
        let from_query = || {
            self.expires.and(self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()))
        };
        self.header(name).or_else(from_query).unwrap_or_default().trim_matches([' ', '\t'])
    }

    /// The `x-amz-*` fields: headers, plus (query form) `x-amz-*` query parameters whose name
    /// no header carries.
    fn amz_fields(&self) -> Vec<(String, &str)> {
        let mut fields: Vec<(String, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .filter(|(n, _)| n.starts_with("x-amz-"))
            .collect();
        if self.expires.is_some() {
            for (name, value) in self.query {
                let name = name.to_ascii_lowercase();
                if name.starts_with("x-amz-") && self.header(&name).is_none() {
                    fields.push((name, value.as_str()));
                }
            }
        }
        fields
    }

    fn string_to_sign(&self, form: ResourceForm) -> String {
        let date = match self.expires {
            Some(expires) => expires,
            None if self.header("x-amz-date").is_some() => "",
            None => self.signed_field("date"),
        };
        let mut out = String::with_capacity(128);
        for line in
            [self.method, self.signed_field("content-md5"), self.signed_field("content-type"), date]
        {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&canonical_amz_headers(&self.amz_fields()));
        out.push_str(&canonical_resource(self.vhost_bucket, self.raw_path, self.raw_query, form));
        out
    }
}

/// Every distinct string to sign the request may have been signed with, AWS's documented
/// reading (path as sent, sub-resource values decoded) first.
pub fn strings_to_sign(input: &SigningInput<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(8);
    for bucket_slash in [false, true] {
        for reencode_path in [false, true] {
            for decode_values in [true, false] {
                let form = ResourceForm { reencode_path, decode_values, bucket_slash };
                let s = input.string_to_sign(form);
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// `name:value\n` for each `x-amz-*` field: names lower-cased and sorted, values trimmed,
/// repeated names joined with `,` in the order received. HTTP/1.1 folding cannot reach us
/// (the parser rejects obs-fold), so there is no line folding left to undo.
fn canonical_amz_headers(fields: &[(String, &str)]) -> String {
    let mut merged: Vec<(&str, String)> = Vec::new();
    for (name, value) in fields {
        let value = value.trim_matches([' ', '\t']);
        match merged.iter_mut().find(|(n, _)| n == name) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            None => merged.push((name, value.to_owned())),
        }
    }
    merged.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (name, value) in merged {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{name}:{value}");
    }
    out
}

/// `[/vhost-bucket]` + path + `?sub&sub=value` for the sub-resources present, sorted by name
/// (a stable sort, so repeated names keep their order).
fn canonical_resource(
    vhost_bucket: Option<&str>,
    raw_path: &str,
    raw_query: &str,
    form: ResourceForm,
) -> String {
    let mut out = String::new();
    if let Some(bucket) = vhost_bucket {
        out.push('/');
        out.push_str(bucket);
    }
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    if form.reencode_path {
        out.push_str(&sigv4::canonical_uri(path));
    } else {
        out.push_str(path);
    }
    if form.bucket_slash && out.len() > 1 && !out[1..].contains('/') {
        out.push('/');
    }
    let mut subs: Vec<(&str, Option<String>)> = raw_query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (pair, None),
        })
        .filter(|(name, _)| SUB_RESOURCES.binary_search(name).is_ok())
        .map(|(name, value)| {
            let value = value.map(|v| {
                if form.decode_values {
                    percent_decode_str(v).decode_utf8_lossy().into_owned()
                } else {
                    v.to_owned()
                }
            });
            (name, value)
        })
        .collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in subs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// Base64 HMAC-SHA1 of `string_to_sign` under the secret key.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

/// Compares two signatures in constant time for equal lengths (see `sigv4::signatures_match`).
pub fn signatures_match(computed: &str, provided: &str) -> bool {
    sigv4::signatures_match(computed, provided)
}

/// The string to sign as AWS's `StringToSignBytes` shows it: lower-case hex bytes, space
/// separated.
pub fn string_to_sign_bytes(string_to_sign: &str) -> String {
    let mut out = String::with_capacity(string_to_sign.len() * 3);
    for (i, byte) in string_to_sign.bytes().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests;
