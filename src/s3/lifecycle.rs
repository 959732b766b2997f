//! The LifecycleConfiguration document: parsed and checked into `objects::lifecycle` rules,
//! and rendered back; and the `x-amz-expiration` header value.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html>

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3ErrorCode};
use super::xml::{self, XmlResponse};
use crate::objects::lifecycle::{Expiration, LifecycleFilter, LifecycleRule, NoncurrentExpiration};

const RULES_MAX: usize = 1000;
const ID_LEN_MAX: usize = 255;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LifecycleConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

impl XmlResponse for LifecycleConfiguration {
    const ROOT: &'static str = "LifecycleConfiguration";
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RuleXml {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "Filter", default, skip_serializing_if = "Option::is_none")]
    filter: Option<FilterXml>,
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "Expiration", default, skip_serializing_if = "Option::is_none")]
    expiration: Option<ExpirationXml>,
    #[serde(rename = "Transition", default, skip_serializing)]
    transitions: Vec<TransitionXml>,
    #[serde(rename = "NoncurrentVersionTransition", default, skip_serializing)]
    noncurrent_transitions: Vec<TransitionXml>,
    #[serde(
        rename = "NoncurrentVersionExpiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    noncurrent: Option<NoncurrentXml>,
    #[serde(
        rename = "AbortIncompleteMultipartUpload",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    abort: Option<AbortXml>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct FilterXml {
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagXml>,
    #[serde(rename = "ObjectSizeGreaterThan", default, skip_serializing_if = "Option::is_none")]
    size_greater_than: Option<u64>,
    #[serde(rename = "ObjectSizeLessThan", default, skip_serializing_if = "Option::is_none")]
    size_less_than: Option<u64>,
    #[serde(rename = "And", default, skip_serializing_if = "Option::is_none")]
    and: Option<Box<FilterXml>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TagXml {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ExpirationXml {
    #[serde(rename = "Date", default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(rename = "Days", default, skip_serializing_if = "Option::is_none")]
    days: Option<i64>,
    #[serde(
        rename = "ExpiredObjectDeleteMarker",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    expired_object_delete_marker: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TransitionXml {
    #[serde(rename = "StorageClass", default)]
    storage_class: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct NoncurrentXml {
    #[serde(rename = "NoncurrentDays", default)]
    noncurrent_days: i64,
    #[serde(rename = "NewerNoncurrentVersions", default, skip_serializing_if = "Option::is_none")]
    newer_noncurrent_versions: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AbortXml {
    #[serde(rename = "DaysAfterInitiation", default)]
    days: i64,
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

fn positive(days: i64, what: &str) -> Result<u32, S3Error> {
    u32::try_from(days)
        .ok()
        .filter(|d| *d > 0)
        .ok_or_else(|| invalid(format!("'{what}' must be a positive integer")))
}

/// A rule's Date: midnight UTC, as `YYYY-MM-DD` or ISO 8601 with a time of 00:00:00.
fn parse_date(text: &str) -> Result<i64, S3Error> {
    let bad = || invalid("'Date' must be at midnight GMT");
    let midnight = if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        day.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc()
    } else {
        let t = DateTime::parse_from_rfc3339(text).map_err(|_| bad())?.with_timezone(&Utc);
        if t.timestamp_millis().rem_euclid(86_400_000) != 0 {
            return Err(bad());
        }
        t
    };
    Ok(midnight.timestamp_millis())
}

fn filter_of(f: FilterXml) -> Result<LifecycleFilter, S3Error> {
    let given = [
        f.prefix.is_some(),
        !f.tags.is_empty(),
        f.size_greater_than.is_some(),
        f.size_less_than.is_some(),
        f.and.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        // Several conditions go in an And.
        return Err(S3ErrorCode::MalformedXML.into());
    }
    let f = match f.and {
        Some(and) if and.and.is_none() => *and,
        Some(_) => return Err(S3ErrorCode::MalformedXML.into()),
        None => f,
    };
    Ok(LifecycleFilter {
        prefix: f.prefix.unwrap_or_default(),
        tags: f.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        size_greater_than: f.size_greater_than,
        size_less_than: f.size_less_than,
    })
}

/// Parses and checks a PutBucketLifecycleConfiguration body; `new_id` names rules without
/// an ID.
pub fn parse(
    body: &[u8],
    mut new_id: impl FnMut() -> String,
) -> Result<Vec<LifecycleRule>, S3Error> {
    let document: LifecycleConfiguration =
        xml::from_xml_with_root(body, LifecycleConfiguration::ROOT)?;
    if document.rules.is_empty() || document.rules.len() > RULES_MAX {
        return Err(S3ErrorCode::MalformedXML.into());
    }
    let mut rules: Vec<LifecycleRule> = Vec::with_capacity(document.rules.len());
    for r in document.rules {
        let enabled = match r.status.as_str() {
            "Enabled" => true,
            "Disabled" => false,
            _ => return Err(S3ErrorCode::MalformedXML.into()),
        };
        let id = r.id.filter(|i| !i.is_empty()).unwrap_or_else(&mut new_id);
        if id.len() > ID_LEN_MAX {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        if rules.iter().any(|other| other.id == id) {
            return Err(invalid("Rule ID must be unique. Found same ID for more than one rule"));
        }
        if let Some(t) = r.transitions.iter().chain(&r.noncurrent_transitions).next() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidStorageClass,
                format!(
                    "RingVault keeps every object in STANDARD; there is no {} to transition to",
                    t.storage_class
                ),
            ));
        }
        let (filter, prefix_only) = match (r.filter, r.prefix) {
            (Some(_), Some(_)) => return Err(S3ErrorCode::MalformedXML.into()),
            (Some(f), None) => (filter_of(f)?, false),
            (None, Some(prefix)) => (LifecycleFilter { prefix, ..Default::default() }, true),
            (None, None) => (LifecycleFilter::default(), false),
        };
        let expiration = match r.expiration {
            None => None,
            Some(e) => {
                let days = e.days.map(|d| positive(d, "Days")).transpose()?;
                let date_ms = e.date.as_deref().map(parse_date).transpose()?;
                let markers = e.expired_object_delete_marker.unwrap_or(false);
                if [days.is_some(), date_ms.is_some(), e.expired_object_delete_marker.is_some()]
                    .iter()
                    .filter(|g| **g)
                    .count()
                    != 1
                {
                    return Err(S3ErrorCode::MalformedXML.into());
                }
                Some(Expiration { days, date_ms, expired_object_delete_marker: markers })
            }
        };
        let noncurrent = match r.noncurrent {
            None => None,
            Some(n) => Some(NoncurrentExpiration {
                noncurrent_days: positive(n.noncurrent_days, "NoncurrentDays")?,
                newer_noncurrent_versions: n
                    .newer_noncurrent_versions
                    .map(|k| positive(k, "NewerNoncurrentVersions"))
                    .transpose()?,
            }),
        };
        let abort = r.abort.map(|a| positive(a.days, "DaysAfterInitiation")).transpose()?;
        if expiration.is_none() && noncurrent.is_none() && abort.is_none() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "At least one action needs to be specified in a rule",
            ));
        }
        rules.push(LifecycleRule {
            id,
            enabled,
            filter,
            prefix_only,
            expiration,
            noncurrent_expiration: noncurrent,
            abort_incomplete_upload_days: abort,
        });
    }
    Ok(rules)
}

/// The document GetBucketLifecycleConfiguration answers with.
pub fn to_document(rules: &[LifecycleRule]) -> String {
    let rules = rules
        .iter()
        .map(|r| {
            let f = &r.filter;
            let (filter, prefix) = if r.prefix_only {
                (None, Some(f.prefix.clone()))
            } else {
                let tags: Vec<TagXml> = f
                    .tags
                    .iter()
                    .map(|(k, v)| TagXml { key: k.clone(), value: v.clone() })
                    .collect();
                let parts = usize::from(!f.prefix.is_empty())
                    + tags.len()
                    + usize::from(f.size_greater_than.is_some())
                    + usize::from(f.size_less_than.is_some());
                let inner = FilterXml {
                    prefix: (!f.prefix.is_empty() || parts == 0).then(|| f.prefix.clone()),
                    tags,
                    size_greater_than: f.size_greater_than,
                    size_less_than: f.size_less_than,
                    and: None,
                };
                let filter = if parts > 1 {
                    FilterXml { and: Some(Box::new(inner)), ..Default::default() }
                } else {
                    inner
                };
                (Some(filter), None)
            };
            RuleXml {
                id: Some(r.id.clone()),
                filter,
                prefix,
                status: if r.enabled { "Enabled" } else { "Disabled" }.to_owned(),
                expiration: r.expiration.as_ref().map(|e| ExpirationXml {
                    date: e.date_ms.and_then(DateTime::from_timestamp_millis).map(xml::iso8601),
                    days: e.days.map(i64::from),
                    expired_object_delete_marker: e.expired_object_delete_marker.then_some(true),
                }),
                transitions: Vec::new(),
                noncurrent_transitions: Vec::new(),
                noncurrent: r.noncurrent_expiration.as_ref().map(|n| NoncurrentXml {
                    noncurrent_days: i64::from(n.noncurrent_days),
                    newer_noncurrent_versions: n.newer_noncurrent_versions.map(i64::from),
                }),
                abort: r.abort_incomplete_upload_days.map(|d| AbortXml { days: i64::from(d) }),
            }
        })
        .collect();
    LifecycleConfiguration { rules }.to_xml()
}

/// `x-amz-expiration`: `expiry-date="<HTTP date>", rule-id="<id>"`.
pub fn expiration_header(expiry_ms: i64, rule_id: &str) -> String {
    let at = DateTime::from_timestamp_millis(expiry_ms).unwrap_or_default();
    format!("expiry-date=\"{}\", rule-id=\"{rule_id}\"", httpdate::fmt_http_date(at.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("rule-{n}")
        }
    }

    #[test]
    fn documents_round_trip() {
        let body = br#"<LifecycleConfiguration>
            <Rule><ID>logs</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>
              <Status>Enabled</Status><Expiration><Days>30</Days></Expiration>
              <NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>
            <Rule><Prefix>tmp/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01</Date></Expiration>
              <AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
            <Rule><ID>markers</ID><Filter></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>
        </LifecycleConfiguration>"#;
        let rules = parse(body, ids()).unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].filter.tags, vec![("k".to_owned(), "v".to_owned())]);
        assert_eq!(rules[1].id, "rule-1");
        assert!(rules[1].prefix_only && !rules[1].enabled);
        assert_eq!(rules[1].expiration.as_ref().unwrap().date_ms, Some(1_893_456_000_000));
        let again = parse(to_document(&rules).as_bytes(), ids()).unwrap();
        assert_eq!(again, rules);
    }

    #[test]
    fn bad_rules_get_s3s_codes() {
        let rule = |inner: &str| {
            format!("<LifecycleConfiguration><Rule>{inner}</Rule></LifecycleConfiguration>")
        };
        for (inner, code) in [
            (
                "<ID>a</ID><Prefix/><Status>enabled</Status><Expiration><Days>1</Days></Expiration>",
                S3ErrorCode::MalformedXML,
            ),
            (
                "<ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>",
                S3ErrorCode::InvalidArgument,
            ),
            (
                "<ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Date>20200101</Date></Expiration>",
                S3ErrorCode::InvalidArgument,
            ),
            ("<ID>a</ID><Prefix/><Status>Enabled</Status>", S3ErrorCode::InvalidRequest),
            (
                "<ID>a</ID><Prefix/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>",
                S3ErrorCode::InvalidStorageClass,
            ),
            (
                &format!(
                    "<ID>{}</ID><Prefix/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
                    "x".repeat(256)
                ),
                S3ErrorCode::InvalidArgument,
            ),
        ] {
            assert_eq!(parse(rule(inner).as_bytes(), ids()).unwrap_err().code, code, "{inner}");
        }
        let twice = "<LifecycleConfiguration><Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule><Rule><ID>a</ID><Prefix/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule></LifecycleConfiguration>";
        assert_eq!(parse(twice.as_bytes(), ids()).unwrap_err().code, S3ErrorCode::InvalidArgument);
    }
}
