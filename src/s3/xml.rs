//! S3 XML bodies: the typed documents we send and parse, and the two helpers that
//! turn them into bytes (`to_xml`) and back (`from_xml`).
//!
//! Invariants:
//! - Every response starts with [`XML_DECLARATION`] and carries [`S3_XMLNS`] on its root,
//!   except `<Error>`, which AWS sends without a namespace.
//! - Field order in each struct is the element order AWS puts on the wire; serde serializes
//!   fields in declaration order, so reordering fields changes the output (golden tests in
//!   `fixtures/xml/` catch it).
//! - Absent optional elements are omitted, never sent empty; empty strings are sent as
//!   `<Prefix></Prefix>`, the way S3 does.
//! - Any parse failure of a request body is `MalformedXML`; the body size limit is the caller's.
//!
//! This module does not percent-encode keys for `encoding-type=url`; handlers do that before
//! filling the structs. Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::se::{QuoteLevel, Serializer};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3ErrorCode};

/// The namespace AWS puts on the root element of every S3 response document.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The prolog S3 sends before the root element, newline included.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// A document that is sent as a whole response body under a fixed root element.
pub trait XmlResponse: Serialize {
    /// The root element name, e.g. `ListBucketResult`.
    const ROOT: &'static str;

    /// The complete body: declaration, namespaced root, content.
    fn to_xml(&self) -> String {
        to_xml(Self::ROOT, self)
    }
}

/// Serializes `value` under `root_name` with the XML declaration and the S3 namespace.
///
/// # Panics
/// If `T` has a shape XML cannot represent (a map with non-string keys, a bare sequence at
/// the root). That is a bug in the type, not in the data, and the golden tests exercise
/// every type defined here.
pub fn to_xml<T: Serialize + ?Sized>(root_name: &str, value: &T) -> String {
    let mut body = String::new();
    let written = Serializer::with_root(&mut body, Some(root_name)).and_then(|mut ser| {
        // AWS escapes quotes too (`<ETag>&quot;...&quot;</ETag>`) and never self-closes.
        ser.set_quote_level(QuoteLevel::Full);
        ser.expand_empty_elements(true);
        value.serialize(ser)
    });
    if let Err(err) = written {
        panic!("type serialized under <{root_name}> is not representable as XML: {err}");
    }
    let open = format!("<{root_name}");
    // The serializer always opens with the root tag; the namespace goes right after its name.
    assert!(body.starts_with(&open), "serializer output does not start with <{root_name}");
    let mut out = String::with_capacity(XML_DECLARATION.len() + body.len() + S3_XMLNS.len() + 9);
    out.push_str(XML_DECLARATION);
    out.push_str(&open);
    out.push_str(" xmlns=\"");
    out.push_str(S3_XMLNS);
    out.push('"');
    push_escaping_line_ends(&mut out, &body[open.len()..]);
    out
}

/// Appends `text`, writing the characters XML parsers normalise to a line feed (`\r`, U+0085,
/// U+2028) as character references, so that a key containing them comes back unchanged.
fn push_escaping_line_ends(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\r' => out.push_str("&#13;"),
            '\u{85}' => out.push_str("&#133;"),
            '\u{2028}' => out.push_str("&#8232;"),
            c => out.push(c),
        }
    }
}

/// Parses a request body.
///
/// # Errors
/// `MalformedXML`, the code S3 answers with, for bad UTF-8, bad XML, content after the
/// root element, and a document that does not fit `T`.
#[cfg(test)]
pub fn from_xml<T: DeserializeOwned>(body: &[u8]) -> Result<T, S3Error> {
    parse(body, None)
}

/// Like [`from_xml`], but also requires the root element to be named `root` (the serde
/// deserializer itself ignores the root name).
///
/// # Errors
/// `MalformedXML`, as for [`from_xml`], also when the root element has another name.
pub fn from_xml_with_root<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<T, S3Error> {
    parse(body, Some(root))
}

fn parse<T: DeserializeOwned>(body: &[u8], root: Option<&str>) -> Result<T, S3Error> {
    let malformed = || S3Error::from(S3ErrorCode::MalformedXML);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    // serde stops reading at the end of the root element, so the document as a whole is
    // checked here: one root, matching end tags, nothing but whitespace around it.
    if !is_single_rooted_document(text, root) {
        return Err(malformed());
    }
    quick_xml::de::from_str(text).map_err(|err| {
        tracing::debug!(%err, "request body is not the expected XML");
        malformed()
    })
}

fn is_single_rooted_document(text: &str, root: Option<&str>) -> bool {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let Ok(event) = reader.read_event() else { return false };
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) if depth == 0 => {
                roots += 1;
                if roots > 1 || root.is_some_and(|r| tag.local_name().as_ref() != r.as_bytes()) {
                    return false;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) => {
                return false;
            }
            Event::CData(_) if depth == 0 => return false,
            Event::Eof => return depth == 0 && roots == 1,
            _ => {}
        }
    }
}

/// Timestamps in listings: ISO 8601, UTC, always three fractional digits
/// (`2009-10-12T17:50:30.000Z`).
#[must_use]
pub fn iso8601(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `<Error>` body. `extra` elements follow `RequestId`, in the given order.
///
/// Written by hand rather than through serde because the element set is open-ended.
#[must_use]
pub fn error_xml(
    code: &str,
    message: &str,
    resource: Option<&str>,
    request_id: &str,
    extra: &[(&str, String)],
) -> String {
    let mut out = String::from(XML_DECLARATION);
    out.push_str("<Error>");
    push_element(&mut out, "Code", code);
    push_element(&mut out, "Message", message);
    if let Some(resource) = resource {
        push_element(&mut out, "Resource", resource);
    }
    push_element(&mut out, "RequestId", request_id);
    for (name, value) in extra {
        push_element(&mut out, name, value);
    }
    out.push_str("</Error>");
    out
}

/// [`error_xml`] for an [`S3Error`].
#[must_use]
pub fn s3_error_xml(err: &S3Error, request_id: &str) -> String {
    error_xml(err.code.as_str(), &err.message, err.resource.as_deref(), request_id, &err.extra)
}

fn push_element(out: &mut String, name: &str, value: &str) {
    // Element names come from our own code, never from a request.
    debug_assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "invalid element name {name:?}"
    );
    // Writing to a String cannot fail.
    let _ = write!(out, "<{name}>");
    push_escaping_line_ends(out, &escape(value));
    let _ = write!(out, "</{name}>");
}

/// The body of a `GetBucketLocation` response. AWS sends an empty element for `us-east-1`.
#[must_use]
pub fn location_constraint_xml(region: &str) -> String {
    let region = if region == "us-east-1" { "" } else { region };
    LocationConstraint { region: region.to_owned() }.to_xml()
}

/// `<LocationConstraint>region</LocationConstraint>`; see [`location_constraint_xml`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationConstraint {
    #[serde(rename = "$text", default)]
    pub region: String,
}

impl XmlResponse for LocationConstraint {
    const ROOT: &'static str = "LocationConstraint";
}

/// The body of `CreateBucket`. `Location` and `Bucket` (directory buckets) are accepted and
/// ignored. An empty body means "default region" and is handled by the caller, not parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CreateBucketConfiguration {
    #[serde(rename = "LocationConstraint")]
    pub location_constraint: Option<String>,
}

impl CreateBucketConfiguration {
    pub const ROOT: &'static str = "CreateBucketConfiguration";

    /// Parses a non-empty `CreateBucket` body.
    ///
    /// # Errors
    /// `MalformedXML` for anything but a `CreateBucketConfiguration` document.
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        from_xml_with_root(body, Self::ROOT)
    }
}

/// The owner of a bucket or an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "DisplayName")]
    pub display_name: String,
}

/// `ListBuckets` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAllMyBucketsResult {
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "Buckets")]
    pub buckets: Buckets,
    #[serde(rename = "Prefix", skip_serializing_if = "Option::is_none", default)]
    pub prefix: Option<String>,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none", default)]
    pub continuation_token: Option<String>,
}

impl XmlResponse for ListAllMyBucketsResult {
    const ROOT: &'static str = "ListAllMyBucketsResult";
}

/// The `<Buckets>` wrapper; AWS does not flatten this list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buckets {
    #[serde(rename = "Bucket", default)]
    pub bucket: Vec<BucketEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEntry {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CreationDate", with = "timestamp")]
    pub creation_date: DateTime<Utc>,
    #[serde(rename = "BucketRegion")]
    pub bucket_region: String,
}

/// One `<Contents>` entry of `ListObjects` / `ListObjectsV2` (AWS calls the type `Object`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "LastModified", with = "timestamp")]
    pub last_modified: DateTime<Utc>,
    /// Quoted, as in the `ETag` header.
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none", default)]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none", default)]
    pub checksum_type: Option<String>,
    #[serde(rename = "Size")]
    pub size: u64,
    /// Present when the request asked for it (`fetch-owner=true` in V2, always in V1).
    /// S3 puts it between `Size` and `StorageClass` on the wire.
    #[serde(rename = "Owner", skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<Owner>,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonPrefix {
    #[serde(rename = "Prefix")]
    pub prefix: String,
}

/// `ListObjectsV2` response (root `ListBucketResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListObjectsV2Result {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "ContinuationToken", skip_serializing_if = "Option::is_none", default)]
    pub continuation_token: Option<String>,
    #[serde(rename = "NextContinuationToken", skip_serializing_if = "Option::is_none", default)]
    pub next_continuation_token: Option<String>,
    #[serde(rename = "StartAfter", skip_serializing_if = "Option::is_none", default)]
    pub start_after: Option<String>,
    #[serde(rename = "KeyCount")]
    pub key_count: u32,
    #[serde(rename = "MaxKeys")]
    pub max_keys: u32,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none", default)]
    pub delimiter: Option<String>,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none", default)]
    pub encoding_type: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Contents", default)]
    pub contents: Vec<ObjectEntry>,
    #[serde(rename = "CommonPrefixes", default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

impl XmlResponse for ListObjectsV2Result {
    const ROOT: &'static str = "ListBucketResult";
}

/// `ListObjects` (version 1) response (root `ListBucketResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListObjectsResult {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "Marker")]
    pub marker: String,
    /// Only sent with a delimiter; otherwise clients continue from the last `Key`.
    #[serde(rename = "NextMarker", skip_serializing_if = "Option::is_none", default)]
    pub next_marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    pub max_keys: u32,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none", default)]
    pub delimiter: Option<String>,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none", default)]
    pub encoding_type: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Contents", default)]
    pub contents: Vec<ObjectEntry>,
    #[serde(rename = "CommonPrefixes", default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

impl XmlResponse for ListObjectsResult {
    const ROOT: &'static str = "ListBucketResult";
}

/// `ListObjectVersions` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersionsResult {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "KeyMarker")]
    pub key_marker: String,
    #[serde(rename = "VersionIdMarker")]
    pub version_id_marker: String,
    #[serde(rename = "NextKeyMarker", skip_serializing_if = "Option::is_none", default)]
    pub next_key_marker: Option<String>,
    #[serde(rename = "NextVersionIdMarker", skip_serializing_if = "Option::is_none", default)]
    pub next_version_id_marker: Option<String>,
    #[serde(rename = "MaxKeys")]
    pub max_keys: u32,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none", default)]
    pub delimiter: Option<String>,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none", default)]
    pub encoding_type: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    /// Versions and delete markers in listing order (key ascending, newest first per key);
    /// each entry becomes a `<Version>` or `<DeleteMarker>` element, interleaved as given.
    #[serde(rename = "$value", default)]
    pub entries: Vec<VersionListEntry>,
    #[serde(rename = "CommonPrefixes", default)]
    pub common_prefixes: Vec<CommonPrefix>,
}

impl XmlResponse for ListVersionsResult {
    const ROOT: &'static str = "ListVersionsResult";
}

/// One element of a version listing; the variant name is the element name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionListEntry {
    Version(ObjectVersionEntry),
    DeleteMarker(DeleteMarkerEntry),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersionEntry {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId")]
    pub version_id: String,
    #[serde(rename = "IsLatest")]
    pub is_latest: bool,
    #[serde(rename = "LastModified", with = "timestamp")]
    pub last_modified: DateTime<Utc>,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none", default)]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none", default)]
    pub checksum_type: Option<String>,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "Owner")]
    pub owner: Owner,
}

/// A delete marker carries no `ETag`, size or storage class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMarkerEntry {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId")]
    pub version_id: String,
    #[serde(rename = "IsLatest")]
    pub is_latest: bool,
    #[serde(rename = "LastModified", with = "timestamp")]
    pub last_modified: DateTime<Utc>,
    #[serde(rename = "Owner")]
    pub owner: Owner,
}

/// serde adapter for `DateTime<Utc>` as [`iso8601`] text; chrono's own serde feature is
/// not enabled and would drop the fixed millisecond width anyway.
mod timestamp {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&super::iso8601(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(de)?;
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

mod ops;

pub use ops::*;

#[cfg(test)]
mod tests;
