//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since` and
//! `If-Unmodified-Since` on GetObject/HeadObject, and their `x-amz-copy-source-if-*`
//! twins on CopyObject/UploadPartCopy.
//!
//! Invariants: evaluation follows RFC 7232 §6 order, which also yields S3's documented
//! precedence (If-Match true + If-Unmodified-Since false → 200; If-None-Match false +
//! If-Modified-Since true → 304). Dates compare at whole seconds because `Last-Modified` is
//! sent at that granularity. Unparseable dates are ignored, as S3 does.
//!
//! This module does not decide which methods honour the headers, nor check that an
//! `If-Modified-Since` lies in the future (it has no clock); callers do.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax>

use chrono::{DateTime, Utc};
use http::HeaderMap;
use http::header::{HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};

use super::error::{S3Error, S3ErrorCode};

/// The four precondition headers of one request, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<DateTime<Utc>>,
    pub if_unmodified_since: Option<DateTime<Utc>>,
}

/// What the preconditions say about the request, before it is mapped to an S3 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    /// `If-None-Match` matched or the object is unmodified since `If-Modified-Since`.
    NotModified,
    /// `If-Match` did not match or the object changed after `If-Unmodified-Since`.
    PreconditionFailed,
}

#[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
const COPY_SOURCE_IF_MATCH: &str = "x-amz-copy-source-if-match";
#[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
const COPY_SOURCE_IF_NONE_MATCH: &str = "x-amz-copy-source-if-none-match";
#[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
const COPY_SOURCE_IF_MODIFIED_SINCE: &str = "x-amz-copy-source-if-modified-since";
#[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
const COPY_SOURCE_IF_UNMODIFIED_SINCE: &str = "x-amz-copy-source-if-unmodified-since";

impl Preconditions {
    /// Reads the standard conditional headers of a GetObject/HeadObject request.
    ///
    /// # Errors
    /// None today: every input is accepted and bad dates are dropped, as S3 does. The
    /// `Result` leaves room for stricter validation without changing callers.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, S3Error> {
        Ok(Self::read(
            headers,
            [&IF_MATCH, &IF_NONE_MATCH, &IF_MODIFIED_SINCE, &IF_UNMODIFIED_SINCE],
        ))
    }

    /// Reads the `x-amz-copy-source-if-*` headers of a copy request.
    ///
    /// # Errors
    /// None today, as for [`Preconditions::from_headers`].
    #[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
    pub fn from_copy_source_headers(headers: &HeaderMap) -> Result<Self, S3Error> {
        Ok(Self::read(
            headers,
            [
                &HeaderName::from_static(COPY_SOURCE_IF_MATCH),
                &HeaderName::from_static(COPY_SOURCE_IF_NONE_MATCH),
                &HeaderName::from_static(COPY_SOURCE_IF_MODIFIED_SINCE),
                &HeaderName::from_static(COPY_SOURCE_IF_UNMODIFIED_SINCE),
            ],
        ))
    }

    fn read(headers: &HeaderMap, [m, nm, ms, us]: [&HeaderName; 4]) -> Self {
        Self {
            if_match: joined(headers, m),
            if_none_match: joined(headers, nm),
            if_modified_since: http_date(headers, ms),
            if_unmodified_since: http_date(headers, us),
        }
    }

    #[must_use]
    #[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The RFC 7232 outcome for an object with this (quoted) `ETag` and modification time.
    #[must_use]
    pub fn outcome(&self, etag: &str, last_modified: DateTime<Utc>) -> Outcome {
        evaluate_conditions(
            self.if_match.as_deref(),
            self.if_none_match.as_deref(),
            self.if_modified_since,
            self.if_unmodified_since,
            etag,
            last_modified,
        )
    }

    /// Conditions of a GetObject/HeadObject request.
    ///
    /// # Errors
    /// `PreconditionFailed` (412) or `NotModified` (304, sent without a body).
    pub fn evaluate(&self, etag: &str, last_modified: DateTime<Utc>) -> Result<(), S3Error> {
        match self.outcome(etag, last_modified) {
            Outcome::Proceed => Ok(()),
            Outcome::NotModified => Err(S3ErrorCode::NotModified.into()),
            Outcome::PreconditionFailed => Err(S3ErrorCode::PreconditionFailed.into()),
        }
    }

    /// Conditions on the source of a copy.
    ///
    /// # Errors
    /// `PreconditionFailed` (412) for every failed condition: S3 has no 304 for a copy.
    #[allow(dead_code, reason = "used by CopyObject's x-amz-copy-source-if-* (issue #3)")]
    pub fn evaluate_copy_source(
        &self,
        etag: &str,
        last_modified: DateTime<Utc>,
    ) -> Result<(), S3Error> {
        match self.outcome(etag, last_modified) {
            Outcome::Proceed => Ok(()),
            Outcome::NotModified | Outcome::PreconditionFailed => {
                Err(S3ErrorCode::PreconditionFailed.into())
            }
        }
    }
}

/// RFC 7232 §6 evaluation over the four optional conditions; shared by GET/HEAD and copy.
///
/// 1. `If-Match` present and false → failed; else `If-Unmodified-Since` present and false
///    → failed (it is ignored when `If-Match` is present).
/// 2. `If-None-Match` present and false → not modified; else `If-Modified-Since` present
///    and not modified → not modified (ignored when `If-None-Match` is present).
#[must_use]
pub fn evaluate_conditions(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    if_modified_since: Option<DateTime<Utc>>,
    if_unmodified_since: Option<DateTime<Utc>>,
    etag: &str,
    last_modified: DateTime<Utc>,
) -> Outcome {
    let modified_secs = last_modified.timestamp();
    match if_match {
        Some(list) if !etag_list_matches(list, etag, Comparison::Strong) => {
            return Outcome::PreconditionFailed;
        }
        Some(_) => {}
        None => {
            if if_unmodified_since.is_some_and(|t| modified_secs > t.timestamp()) {
                return Outcome::PreconditionFailed;
            }
        }
    }
    match if_none_match {
        Some(list) => {
            if etag_list_matches(list, etag, Comparison::Weak) {
                Outcome::NotModified
            } else {
                Outcome::Proceed
            }
        }
        None => {
            if if_modified_since.is_some_and(|t| modified_secs <= t.timestamp()) {
                Outcome::NotModified
            } else {
                Outcome::Proceed
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// If-Match (RFC 7232 §3.1): a weak tag never matches.
    Strong,
    /// If-None-Match (§3.2): the `W/` prefix is ignored.
    Weak,
}

/// Whether `list` (`*` or comma-separated entity tags) contains `etag`.
///
/// S3 entity tags are always strong. Tags are compared by their opaque part; an unquoted tag is
/// taken as its own opaque part, because S3 accepts `If-Match: d41d8...` without quotes
/// and SDK users often send it that way.
fn etag_list_matches(list: &str, etag: &str, comparison: Comparison) -> bool {
    let ours = opaque_tag(etag);
    if list.trim() == "*" {
        return true;
    }
    EntityTags { rest: list }.any(|tag| {
        if tag.weak && comparison == Comparison::Strong {
            return false;
        }
        tag.opaque == "*" || tag.opaque == ours
    })
}

fn opaque_tag(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(etag)
}

struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// Splits an entity-tag list. Quoted tags may contain commas, so this walks the quotes
/// instead of splitting on `,`. Garbage between tags is skipped up to the next comma.
struct EntityTags<'a> {
    rest: &'a str,
}

impl<'a> Iterator for EntityTags<'a> {
    type Item = EntityTag<'a>;

    fn next(&mut self) -> Option<EntityTag<'a>> {
        loop {
            let rest = self.rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.is_empty() {
                self.rest = rest;
                return None;
            }
            let (weak, body) = match rest.strip_prefix("W/") {
                Some(body) => (true, body),
                None => (false, rest),
            };
            if let Some(quoted) = body.strip_prefix('"') {
                let Some(close) = quoted.find('"') else {
                    // An unterminated quote: the rest of the header is one tag.
                    self.rest = "";
                    return Some(EntityTag { weak, opaque: quoted });
                };
                self.rest = &quoted[close + 1..];
                return Some(EntityTag { weak, opaque: &quoted[..close] });
            }
            let end = body.find(',').unwrap_or(body.len());
            let opaque = body[..end].trim();
            self.rest = &body[end..];
            if !opaque.is_empty() {
                return Some(EntityTag { weak, opaque });
            }
        }
    }
}

/// All values of a header joined with `,`, as RFC 7230 §3.2.2 allows for list headers.
/// Values that are not visible ASCII are skipped.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// The first value of a date header, if it parses as any HTTP-date form.
fn http_date(headers: &HeaderMap, name: &HeaderName) -> Option<DateTime<Utc>> {
    let text = headers.get(name)?.to_str().ok()?;
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    Some(DateTime::<Utc>::from(time))
}

#[cfg(test)]
mod tests {
    //! Goal: every branch of RFC 7232 §6 plus S3's documented combinations.
    //! Method: table tests on `evaluate_conditions`, header-parsing tests, and a property
    //! that the outcome only depends on whole seconds.

    use chrono::TimeZone;
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    const ETAG: &str = "\"fba9dede5f27731c9771645a39863328\"";
    const OTHER: &str = "\"0000dede5f27731c9771645a39863328\"";

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    fn modified() -> DateTime<Utc> {
        // Sub-second part that `Last-Modified` cannot carry.
        t(0) + chrono::Duration::milliseconds(700)
    }

    fn run(
        if_match: Option<&str>,
        if_none_match: Option<&str>,
        ims: Option<i64>,
        ius: Option<i64>,
    ) -> Outcome {
        evaluate_conditions(if_match, if_none_match, ims.map(t), ius.map(t), ETAG, modified())
    }

    use Outcome::{NotModified, PreconditionFailed, Proceed};

    #[test]
    fn no_conditions_proceed() {
        assert_eq!(run(None, None, None, None), Proceed);
        assert!(Preconditions::default().is_empty());
    }

    #[test]
    fn if_match() {
        assert_eq!(run(Some(ETAG), None, None, None), Proceed);
        assert_eq!(run(Some(OTHER), None, None, None), PreconditionFailed);
        assert_eq!(run(Some("*"), None, None, None), Proceed);
        assert_eq!(run(Some(" * "), None, None, None), Proceed);
        assert_eq!(run(Some(&format!("{OTHER}, {ETAG}")), None, None, None), Proceed);
        assert_eq!(run(Some(&format!("{OTHER},{OTHER}")), None, None, None), PreconditionFailed);
        // Unquoted, as S3 accepts.
        assert_eq!(run(Some("fba9dede5f27731c9771645a39863328"), None, None, None), Proceed);
        // Strong comparison: a weak tag never satisfies If-Match.
        assert_eq!(run(Some(&format!("W/{ETAG}")), None, None, None), PreconditionFailed);
        assert_eq!(run(Some(""), None, None, None), PreconditionFailed);
    }

    #[test]
    fn if_none_match() {
        assert_eq!(run(None, Some(ETAG), None, None), NotModified);
        assert_eq!(run(None, Some(OTHER), None, None), Proceed);
        assert_eq!(run(None, Some("*"), None, None), NotModified);
        assert_eq!(run(None, Some(&format!("W/{ETAG}")), None, None), NotModified);
        assert_eq!(run(None, Some(&format!("{OTHER}, W/{ETAG}")), None, None), NotModified);
    }

    #[test]
    fn tags_containing_commas_are_not_split() {
        let odd = "\"a,b\"";
        let list = format!("\"a\", {odd}");
        assert!(etag_list_matches(&list, odd, Comparison::Strong));
        assert!(!etag_list_matches("\"a\", \"b\"", odd, Comparison::Strong));
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        assert_eq!(run(None, None, Some(0), None), NotModified);
        assert_eq!(run(None, None, Some(1), None), NotModified);
        assert_eq!(run(None, None, Some(-1), None), Proceed);
    }

    #[test]
    fn if_unmodified_since_compares_whole_seconds() {
        assert_eq!(run(None, None, None, Some(0)), Proceed);
        assert_eq!(run(None, None, None, Some(1)), Proceed);
        assert_eq!(run(None, None, None, Some(-1)), PreconditionFailed);
    }

    #[test]
    fn s3_if_match_true_overrides_if_unmodified_since_false() {
        assert_eq!(run(Some(ETAG), None, None, Some(-1)), Proceed);
        assert_eq!(run(Some(OTHER), None, None, Some(1)), PreconditionFailed);
    }

    #[test]
    fn s3_if_none_match_false_with_if_modified_since_true_is_not_modified() {
        // If-None-Match "false" means the tag matched; If-Modified-Since "true" means the
        // object changed. S3 answers 304: If-Modified-Since is ignored.
        assert_eq!(run(None, Some(ETAG), Some(-1), None), NotModified);
        // The other way round: If-None-Match true wins over an unmodified date.
        assert_eq!(run(None, Some(OTHER), Some(1), None), Proceed);
    }

    #[test]
    fn precondition_failure_wins_over_not_modified() {
        assert_eq!(run(Some(OTHER), Some(ETAG), None, None), PreconditionFailed);
        assert_eq!(run(None, Some(ETAG), None, Some(-1)), PreconditionFailed);
        assert_eq!(run(Some(ETAG), Some(ETAG), None, None), NotModified);
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn from_headers_reads_all_four() {
        let map = headers(&[
            ("if-match", ETAG),
            ("if-none-match", OTHER),
            ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("if-unmodified-since", "Tuesday, 14-Nov-23 22:13:21 GMT"),
        ]);
        let p = Preconditions::from_headers(&map).unwrap();
        assert_eq!(p.if_match.as_deref(), Some(ETAG));
        assert_eq!(p.if_none_match.as_deref(), Some(OTHER));
        assert_eq!(p.if_modified_since, Some(t(0)));
        assert_eq!(p.if_unmodified_since, Some(t(1)));
    }

    #[test]
    fn unparseable_dates_are_ignored() {
        let map = headers(&[
            ("if-modified-since", "yesterday"),
            ("if-unmodified-since", "2023-11-14T22:13:20Z"),
        ]);
        let p = Preconditions::from_headers(&map).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.evaluate(ETAG, modified()).map_err(|e| e.code), Ok(()));
    }

    #[test]
    fn repeated_list_headers_are_joined() {
        let map = headers(&[("if-match", OTHER), ("if-match", ETAG)]);
        let p = Preconditions::from_headers(&map).unwrap();
        assert_eq!(p.evaluate(ETAG, modified()).map_err(|e| e.code), Ok(()));
    }

    #[test]
    fn evaluate_maps_outcomes_to_s3_codes() {
        let map = headers(&[("if-none-match", ETAG)]);
        let err =
            Preconditions::from_headers(&map).unwrap().evaluate(ETAG, modified()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::NotModified);
        assert_eq!(err.code.status(), http::StatusCode::NOT_MODIFIED);
        let map = headers(&[("if-match", OTHER)]);
        let err =
            Preconditions::from_headers(&map).unwrap().evaluate(ETAG, modified()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::PreconditionFailed);
        assert_eq!(err.code.status(), http::StatusCode::PRECONDITION_FAILED);
    }

    #[test]
    fn copy_source_headers_use_their_own_names_and_never_304() {
        let map = headers(&[("x-amz-copy-source-if-none-match", ETAG), ("if-match", OTHER)]);
        let p = Preconditions::from_copy_source_headers(&map).unwrap();
        assert_eq!(p.if_match, None);
        let err = p.evaluate_copy_source(ETAG, modified()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::PreconditionFailed);
        let map =
            headers(&[("x-amz-copy-source-if-modified-since", "Tue, 14 Nov 2023 22:13:21 GMT")]);
        let p = Preconditions::from_copy_source_headers(&map).unwrap();
        assert_eq!(p.outcome(ETAG, modified()), NotModified);
        assert_eq!(
            p.evaluate_copy_source(ETAG, modified()).map_err(|e| e.code),
            Err(S3ErrorCode::PreconditionFailed)
        );
        let map = headers(&[("x-amz-copy-source-if-match", ETAG)]);
        let p = Preconditions::from_copy_source_headers(&map).unwrap();
        assert!(p.evaluate_copy_source(ETAG, modified()).is_ok());
    }

    proptest! {
        #[test]
        fn outcome_ignores_sub_second_part_of_last_modified(
            ms in 0i64..1000,
            ims in proptest::option::of(-3i64..3),
            ius in proptest::option::of(-3i64..3),
        ) {
            let whole = evaluate_conditions(None, None, ims.map(t), ius.map(t), ETAG, t(0));
            let fractional = evaluate_conditions(
                None, None, ims.map(t), ius.map(t), ETAG, t(0) + chrono::Duration::milliseconds(ms),
            );
            prop_assert_eq!(whole, fractional);
        }

        #[test]
        fn tag_list_parsing_never_panics(list in "\\PC{0,40}") {
            let _ = etag_list_matches(&list, ETAG, Comparison::Strong);
            let _ = etag_list_matches(&list, ETAG, Comparison::Weak);
        }
    }
}
