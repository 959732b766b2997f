//! Listing operations: ListObjects (v1), ListObjectsV2 and ListObjectVersions.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::bucket::{owner, time_of};
use super::{Handlers, map_error};
use crate::access;
use crate::objects::{ListPage, ListQuery, ObjectSummary, VersionEntry, VersionSel, VersionsQuery};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, XmlResponse};

/// Most keys one page returns, whatever max-keys asks.
const MAX_KEYS_LIMIT: usize = 1000;

/// `encoding-type=url`: everything but unreserved characters and '/' is percent-encoded, so
/// both `unquote` and `unquote_plus` on the client give the key back.
const URL_ENCODE: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

pub(crate) struct Encoder(bool);

impl Encoder {
    pub(crate) fn from(ctx: &Context) -> Result<Self, S3Error> {
        match ctx.query("encoding-type") {
            None => Ok(Self(false)),
            Some(v) if v.eq_ignore_ascii_case("url") => Ok(Self(true)),
            Some(_) => Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            )
            .with("ArgumentName", "encoding-type")),
        }
    }

    pub(crate) fn enc(&self, s: &str) -> String {
        if self.0 { utf8_percent_encode(s, URL_ENCODE).to_string() } else { s.to_owned() }
    }

    pub(crate) fn opt(&self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.enc(s))
    }

    pub(crate) fn name(&self) -> Option<String> {
        self.0.then(|| "url".to_owned())
    }
}

/// A page-size parameter (`max-keys`, `max-parts`, `max-uploads`): default and cap 1000.
pub(crate) fn max_count(ctx: &Context, name: &'static str) -> Result<usize, S3Error> {
    match ctx.query(name) {
        None => Ok(MAX_KEYS_LIMIT),
        Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).map_or_else(
            || {
                Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("Provided {name} not an integer or within integer range"),
                )
                .with("ArgumentName", name)
                .with("ArgumentValue", v))
            },
            |n| Ok(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_KEYS_LIMIT)),
        ),
    }
}

fn entry(o: ObjectSummary, enc: &Encoder, with_owner: bool) -> xml::ObjectEntry {
    xml::ObjectEntry {
        key: enc.enc(&o.key),
        last_modified: time_of(o.last_modified_ms),
        etag: format!("\"{}\"", o.etag),
        checksum_algorithm: o.checksum_algorithm.map(|a| a.as_str().to_owned()),
        checksum_type: o.checksum_algorithm.map(|_| "FULL_OBJECT".to_owned()),
        size: o.size,
        owner: with_owner.then(|| owner(&o.owner)),
        storage_class: "STANDARD".into(),
    }
}

fn prefixes(page: &ListPage, enc: &Encoder) -> Vec<xml::CommonPrefix> {
    page.common_prefixes.iter().map(|p| xml::CommonPrefix { prefix: enc.enc(p) }).collect()
}

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Handlers<'_> {
    async fn list_page(
        &self,
        ctx: &Context,
        after: Option<String>,
        max_keys: usize,
    ) -> Result<ListPage, S3Error> {
        self.bucket_for(ctx, access::LIST_BUCKET).await?;
        let query = ListQuery {
            prefix: ctx.query("prefix").unwrap_or_default().to_owned(),
            delimiter: ctx.query("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            after,
            max_keys,
        };
        self.objects.list_objects(ctx.bucket(), &query).await.map_err(map_error)
    }

    pub async fn list_objects_v2(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let enc = Encoder::from(ctx)?;
        let max_keys = max_count(ctx, "max-keys")?;
        let token = ctx.query("continuation-token");
        let after = match token {
            Some(t) => Some(decode_token(t)?),
            None => ctx.query("start-after").filter(|s| !s.is_empty()).map(str::to_owned),
        };
        let page = self.list_page(ctx, after, max_keys).await?;
        let fetch_owner = ctx.query("fetch-owner").is_some_and(|v| v == "true");
        let common_prefixes = prefixes(&page, &enc);
        let next = page.is_truncated.then(|| page.last.as_deref().map(encode_token)).flatten();
        let result = xml::ListObjectsV2Result {
            name: ctx.bucket().to_owned(),
            prefix: enc.enc(ctx.query("prefix").unwrap_or_default()),
            continuation_token: token.map(str::to_owned),
            next_continuation_token: next,
            start_after: enc.opt(ctx.query("start-after")),
            key_count: u32_of(page.objects.len() + page.common_prefixes.len()),
            max_keys: u32_of(max_keys),
            delimiter: enc.opt(ctx.query("delimiter").filter(|d| !d.is_empty())),
            encoding_type: enc.name(),
            is_truncated: page.is_truncated,
            contents: page.objects.into_iter().map(|o| entry(o, &enc, fetch_owner)).collect(),
            common_prefixes,
        };
        Ok(response::xml_response(result.to_xml()))
    }

    pub async fn list_objects_v1(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let enc = Encoder::from(ctx)?;
        let max_keys = max_count(ctx, "max-keys")?;
        let marker = ctx.query("marker").unwrap_or_default();
        let after = (!marker.is_empty()).then(|| marker.to_owned());
        let page = self.list_page(ctx, after, max_keys).await?;
        let delimiter = ctx.query("delimiter").filter(|d| !d.is_empty());
        // S3 sends NextMarker only when a delimiter was given; clients otherwise use the last key.
        let next_marker = (page.is_truncated && delimiter.is_some())
            .then(|| enc.opt(page.last.as_deref()))
            .flatten();
        let common_prefixes = prefixes(&page, &enc);
        let result = xml::ListObjectsResult {
            name: ctx.bucket().to_owned(),
            prefix: enc.enc(ctx.query("prefix").unwrap_or_default()),
            marker: enc.enc(marker),
            next_marker,
            max_keys: u32_of(max_keys),
            delimiter: enc.opt(ctx.query("delimiter").filter(|d| !d.is_empty())),
            encoding_type: enc.name(),
            is_truncated: page.is_truncated,
            contents: page.objects.into_iter().map(|o| entry(o, &enc, true)).collect(),
            common_prefixes,
        };
        Ok(response::xml_response(result.to_xml()))
    }

    pub async fn list_object_versions(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let enc = Encoder::from(ctx)?;
        let max_keys = max_count(ctx, "max-keys")?;
        let key_marker = ctx.query("key-marker").unwrap_or_default();
        let version_id_marker = ctx.query("version-id-marker").unwrap_or_default();
        if !version_id_marker.is_empty() && key_marker.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "A version-id marker cannot be specified without a key marker.",
            )
            .with("ArgumentName", "version-id-marker"));
        }
        let version_marker = if version_id_marker.is_empty() {
            None
        } else {
            Some(VersionSel::parse(version_id_marker).map_err(|_| {
                S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
                    .with("ArgumentName", "version-id-marker")
                    .with("ArgumentValue", version_id_marker)
            })?)
        };
        self.bucket_for(ctx, access::LIST_BUCKET_VERSIONS).await?;
        let query = VersionsQuery {
            prefix: ctx.query("prefix").unwrap_or_default().to_owned(),
            delimiter: ctx.query("delimiter").map(str::to_owned),
            key_marker: (!key_marker.is_empty()).then(|| key_marker.to_owned()),
            version_marker,
            max_keys,
        };
        let page =
            self.objects.list_object_versions(ctx.bucket(), &query).await.map_err(map_error)?;
        let truncated = page.is_truncated;
        let result = xml::ListVersionsResult {
            name: ctx.bucket().to_owned(),
            prefix: enc.enc(&query.prefix),
            key_marker: enc.enc(key_marker),
            version_id_marker: version_id_marker.to_owned(),
            next_key_marker: truncated
                .then(|| page.next_key_marker.as_deref().map(|k| enc.enc(k)))
                .flatten(),
            next_version_id_marker: truncated
                .then(|| page.next_version_marker.map(super::version_text))
                .flatten(),
            max_keys: u32_of(max_keys),
            delimiter: enc.opt(ctx.query("delimiter").filter(|d| !d.is_empty())),
            encoding_type: enc.name(),
            is_truncated: truncated,
            entries: page.entries.into_iter().map(|e| version_entry(e, &enc)).collect(),
            common_prefixes: page
                .common_prefixes
                .iter()
                .map(|p| xml::CommonPrefix { prefix: enc.enc(p) })
                .collect(),
        };
        Ok(response::xml_response(result.to_xml()))
    }
}

fn version_entry(e: VersionEntry, enc: &Encoder) -> xml::VersionListEntry {
    let version_id = super::version_text(e.version_id);
    if e.delete_marker {
        return xml::VersionListEntry::DeleteMarker(xml::DeleteMarkerEntry {
            key: enc.enc(&e.key),
            version_id,
            is_latest: e.is_latest,
            last_modified: time_of(e.last_modified_ms),
            owner: owner(&e.owner),
        });
    }
    xml::VersionListEntry::Version(xml::ObjectVersionEntry {
        key: enc.enc(&e.key),
        version_id,
        is_latest: e.is_latest,
        last_modified: time_of(e.last_modified_ms),
        etag: format!("\"{}\"", e.etag),
        checksum_algorithm: e.checksum_algorithm.map(|a| a.as_str().to_owned()),
        checksum_type: e.checksum_algorithm.map(|_| "FULL_OBJECT".to_owned()),
        size: e.size,
        storage_class: "STANDARD".into(),
        owner: owner(&e.owner),
    })
}

fn encode_token(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
            .with("ArgumentName", "continuation-token")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_any_key() {
        for key in ["a", "photos/2024/ü 1+2.jpg", "../x"] {
            assert_eq!(decode_token(&encode_token(key)).unwrap(), key);
        }
        assert_eq!(decode_token("!!").unwrap_err().code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn url_encoding_keeps_slashes_and_escapes_the_rest() {
        let enc = Encoder(true);
        assert_eq!(enc.enc("a b+c/ü"), "a%20b%2Bc/%C3%BC");
        assert_eq!(Encoder(false).enc("a b"), "a b");
    }
}
