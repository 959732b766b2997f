//! The `Range` request header of GetObject/HeadObject: parsing one `bytes=` range and
//! resolving it against an object's length.
//!
//! Invariants: a resolved range `(start, end)` always satisfies `start <= end < object_len`;
//! anything else is `InvalidRange` (416). A header that is not exactly one syntactically
//! valid bytes range is ignored (`parse_range` returns `None`) and the whole object is
//! served, as S3 does; that covers multi-range requests, which S3 does not support.
//!
//! This module does not read `If-Range` (S3 ignores it) nor build multipart/byteranges bodies.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax>
//! (semantics from RFC 7233 §2.1 and §4.4).

use std::fmt;

use super::error::{S3Error, S3ErrorCode};

/// One parsed byte range; positions are as the client wrote them, not yet checked against
/// the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`, both inclusive; `first <= last` is guaranteed by `parse_range`.
    FromTo(u64, u64),
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Resolves the range against an object of `object_len` bytes into inclusive
    /// `(start, end)` positions.
    ///
    /// A last position past the end is clamped; a suffix longer than the object selects all
    /// of it. A first position at or past the end, a zero-length suffix, and any range on an
    /// empty object are unsatisfiable (S3 answers 416 for `bytes=0-` on an empty object too).
    ///
    /// # Errors
    /// `InvalidRange` (416) with `RangeRequested` and `ActualObjectSize` elements, as S3
    /// sends; the response also needs `Content-Range: bytes */len`
    /// ([`unsatisfied_content_range`]).
    pub fn resolve(&self, object_len: u64) -> Result<(u64, u64), S3Error> {
        let unsatisfiable = || {
            S3Error::from(S3ErrorCode::InvalidRange)
                .with("RangeRequested", self.to_string())
                .with("ActualObjectSize", object_len.to_string())
        };
        let last_pos = object_len.checked_sub(1).ok_or_else(unsatisfiable)?;
        match *self {
            ByteRange::FromTo(first, last) if first <= last_pos => Ok((first, last.min(last_pos))),
            ByteRange::From(first) if first <= last_pos => Ok((first, last_pos)),
            ByteRange::Suffix(len) if len > 0 => Ok((object_len.saturating_sub(len), last_pos)),
            _ => Err(unsatisfiable()),
        }
    }
}

impl fmt::Display for ByteRange {
    /// The range in header syntax, e.g. `bytes=0-99`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteRange::FromTo(first, last) => write!(f, "bytes={first}-{last}"),
            ByteRange::From(first) => write!(f, "bytes={first}-"),
            ByteRange::Suffix(len) => write!(f, "bytes=-{len}"),
        }
    }
}

/// Parses a `Range` header value. `None` means "ignore the header and serve everything":
/// another unit, several ranges, a reversed range, or anything that is not digits.
#[must_use]
pub fn parse_range(header: &str) -> Option<ByteRange> {
    let (unit, spec) = header.trim().split_once('=')?;
    // The range unit is case-insensitive (RFC 7233 §2); whitespace around it is tolerated.
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (true, true) => None,
        (true, false) => Some(ByteRange::Suffix(parse_position(last)?)),
        (false, true) => Some(ByteRange::From(parse_position(first)?)),
        (false, false) => {
            let (first, last) = (parse_position(first)?, parse_position(last)?);
            // RFC 7233 §2.1: last < first makes the spec invalid, so the header is ignored.
            (first <= last).then_some(ByteRange::FromTo(first, last))
        }
    }
}

/// Digits only (no sign, no spaces inside). Values too big for u64 saturate: a huge first
/// position is unsatisfiable and a huge last position or suffix just means "to the end",
/// which is what the client asked for.
fn parse_position(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u64>().unwrap_or(u64::MAX))
}

/// The `Content-Range` value of a 206 response: `bytes start-end/total`.
#[must_use]
pub fn content_range(start: u64, end: u64, total: u64) -> String {
    format!("bytes {start}-{end}/{total}")
}

/// The `Content-Range` value of a 416 response: `bytes */total`.
#[must_use]
pub fn unsatisfied_content_range(total: u64) -> String {
    format!("bytes */{total}")
}

#[cfg(test)]
mod tests {
    //! Goal: parse and resolve exactly as RFC 7233 and S3 do, including the edges.
    //! Method: table tests for each rule, then properties over arbitrary lengths and ranges.

    use proptest::prelude::*;

    use super::*;

    fn resolved(header: &str, len: u64) -> Option<Result<(u64, u64), S3ErrorCode>> {
        parse_range(header).map(|r| r.resolve(len).map_err(|e| e.code))
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(parse_range("bytes=0-499"), Some(ByteRange::FromTo(0, 499)));
        assert_eq!(parse_range("bytes=500-"), Some(ByteRange::From(500)));
        assert_eq!(parse_range("bytes=-500"), Some(ByteRange::Suffix(500)));
        assert_eq!(parse_range("bytes=7-7"), Some(ByteRange::FromTo(7, 7)));
    }

    #[test]
    fn tolerates_case_and_surrounding_whitespace() {
        assert_eq!(parse_range("  Bytes = 1 - 2 "), Some(ByteRange::FromTo(1, 2)));
        assert_eq!(parse_range("BYTES=-3"), Some(ByteRange::Suffix(3)));
    }

    #[test]
    fn ignores_anything_that_is_not_one_bytes_range() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-a",
            "bytes=+1-2",
            "bytes=-+2",
            "bytes=1--2",
            "bytes=1-2-3",
            "bytes=1 0-20",
            "bytes=0-1,3-4",
            "bytes=0-1, -5",
            "items=0-1",
            "bytes 0-1",
            "bytes=5-3",
            "bytes=0x10-20",
            "bytes=\u{661}-2",
        ] {
            assert_eq!(parse_range(header), None, "{header:?}");
        }
    }

    #[test]
    fn oversized_numbers_saturate() {
        let huge = "99999999999999999999999";
        assert_eq!(parse_range(&format!("bytes=0-{huge}")), Some(ByteRange::FromTo(0, u64::MAX)));
        assert_eq!(parse_range(&format!("bytes=-{huge}")), Some(ByteRange::Suffix(u64::MAX)));
        assert_eq!(parse_range(&format!("bytes={huge}-")), Some(ByteRange::From(u64::MAX)));
        assert_eq!(resolved(&format!("bytes=0-{huge}"), 10), Some(Ok((0, 9))));
        assert_eq!(resolved(&format!("bytes=-{huge}"), 10), Some(Ok((0, 9))));
        assert_eq!(resolved(&format!("bytes={huge}-"), 10), Some(Err(S3ErrorCode::InvalidRange)));
    }

    #[test]
    fn resolves_inside_the_object() {
        assert_eq!(resolved("bytes=0-499", 1000), Some(Ok((0, 499))));
        assert_eq!(resolved("bytes=500-", 1000), Some(Ok((500, 999))));
        assert_eq!(resolved("bytes=-500", 1000), Some(Ok((500, 999))));
        assert_eq!(resolved("bytes=999-999", 1000), Some(Ok((999, 999))));
        assert_eq!(resolved("bytes=0-0", 1), Some(Ok((0, 0))));
    }

    #[test]
    fn clamps_last_position_past_the_end() {
        assert_eq!(resolved("bytes=10-5000", 100), Some(Ok((10, 99))));
        assert_eq!(resolved("bytes=99-100", 100), Some(Ok((99, 99))));
    }

    #[test]
    fn suffix_longer_than_object_selects_all_of_it() {
        assert_eq!(resolved("bytes=-5000", 100), Some(Ok((0, 99))));
        assert_eq!(resolved("bytes=-100", 100), Some(Ok((0, 99))));
    }

    #[test]
    fn first_position_at_or_past_the_end_is_invalid_range() {
        assert_eq!(resolved("bytes=100-", 100), Some(Err(S3ErrorCode::InvalidRange)));
        assert_eq!(resolved("bytes=100-200", 100), Some(Err(S3ErrorCode::InvalidRange)));
        assert_eq!(resolved("bytes=500-", 100), Some(Err(S3ErrorCode::InvalidRange)));
    }

    #[test]
    fn zero_suffix_is_invalid_range() {
        assert_eq!(resolved("bytes=-0", 100), Some(Err(S3ErrorCode::InvalidRange)));
    }

    #[test]
    fn any_range_on_an_empty_object_is_invalid_range() {
        for header in ["bytes=0-", "bytes=0-0", "bytes=0-100", "bytes=-1", "bytes=-0", "bytes=3-"] {
            assert_eq!(resolved(header, 0), Some(Err(S3ErrorCode::InvalidRange)), "{header}");
        }
    }

    #[test]
    fn invalid_range_error_carries_what_s3_reports() {
        let err = ByteRange::From(100).resolve(42).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRange);
        assert_eq!(err.code.status(), http::StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            err.extra,
            vec![
                ("RangeRequested", "bytes=100-".to_owned()),
                ("ActualObjectSize", "42".to_owned())
            ]
        );
    }

    #[test]
    fn content_range_values() {
        assert_eq!(content_range(0, 499, 1234), "bytes 0-499/1234");
        assert_eq!(unsatisfied_content_range(0), "bytes */0");
    }

    #[test]
    fn display_is_header_syntax() {
        for header in ["bytes=0-499", "bytes=500-", "bytes=-500"] {
            assert_eq!(parse_range(header).unwrap().to_string(), header);
        }
    }

    fn any_range() -> impl Strategy<Value = ByteRange> {
        prop_oneof![
            (0u64..2000, 0u64..2000).prop_map(|(a, b)| ByteRange::FromTo(a.min(b), a.max(b))),
            (0u64..2000).prop_map(ByteRange::From),
            (0u64..2000).prop_map(ByteRange::Suffix),
            any::<u64>().prop_map(ByteRange::Suffix),
            (any::<u64>(), any::<u64>()).prop_map(|(a, b)| ByteRange::FromTo(a.min(b), a.max(b))),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(range in any_range()) {
            prop_assert_eq!(parse_range(&range.to_string()), Some(range));
        }

        #[test]
        fn resolved_ranges_lie_inside_the_object(range in any_range(), len in 0u64..1500) {
            if let Ok((start, end)) = range.resolve(len) {
                prop_assert!(start <= end && end < len);
            }
        }

        #[test]
        fn resolution_matches_a_byte_by_byte_model(range in any_range(), len in 0u64..300) {
            // Model: the set of byte positions the RFC selects, computed by enumeration.
            let selected: Vec<u64> = (0..len)
                .filter(|&pos| match range {
                    ByteRange::FromTo(first, last) => pos >= first && pos <= last,
                    ByteRange::From(first) => pos >= first,
                    ByteRange::Suffix(n) => len - pos <= n,
                })
                .collect();
            match range.resolve(len) {
                Ok((start, end)) => prop_assert_eq!(selected, (start..=end).collect::<Vec<_>>()),
                Err(e) => {
                    prop_assert_eq!(e.code, S3ErrorCode::InvalidRange);
                    prop_assert!(selected.is_empty());
                }
            }
        }

        #[test]
        fn parse_never_panics(header in "\\PC{0,40}") {
            let _ = parse_range(&header);
        }
    }
}
