//! The condition keys of a request: what bucket policy conditions can test.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html>

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use http::HeaderMap;

pub use crate::access::Facts;

/// Request headers a policy can name as `s3:<header>`.
const HEADER_KEYS: &[&str] = &[
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-storage-class",
    "x-amz-content-sha256",
    "x-amz-website-redirect-location",
    "if-match",
    "if-none-match",
];

/// Query parameters a ListBucket policy can name as `s3:<parameter>`.
const QUERY_KEYS: &[&str] = &["prefix", "delimiter", "max-keys"];

/// What a request carries, for `request_facts`.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub principal: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub query: &'a [(String, String)],
    pub source_ip: Option<IpAddr>,
    pub now: DateTime<Utc>,
}

/// The facts of a request, before anything is read from the store.
pub fn request_facts(r: &RequestView<'_>) -> Facts {
    let mut facts = Facts::default();
    if let Some(ip) = r.source_ip {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        facts.set("aws:SourceIp", ip.to_string());
    }
    facts.set("aws:SecureTransport", "false");
    facts.set("aws:CurrentTime", r.now.to_rfc3339_opts(SecondsFormat::Secs, true));
    facts.set("aws:EpochTime", r.now.timestamp().to_string());
    facts.set("aws:PrincipalType", if r.principal.is_some() { "User" } else { "Anonymous" });
    if let Some(id) = r.principal {
        facts.set("aws:userid", id);
        facts.set("aws:username", id);
    }
    for (name, key) in [("referer", "aws:Referer"), ("user-agent", "aws:UserAgent")] {
        if let Some(v) = r.headers.get(name).and_then(|v| v.to_str().ok()) {
            facts.set(key, v);
        }
    }
    for name in HEADER_KEYS {
        if let Some(v) = r.headers.get(*name).and_then(|v| v.to_str().ok()) {
            facts.set(&format!("s3:{name}"), v);
        }
    }
    for (name, value) in r.query {
        if QUERY_KEYS.contains(&name.as_str()) {
            facts.set(&format!("s3:{name}"), value.clone());
        }
        if name == "versionId" {
            facts.set("s3:VersionId", value.clone());
        }
    }
    if let Some(tagging) = r.headers.get("x-amz-tagging").and_then(|v| v.to_str().ok()) {
        add_request_tags(&mut facts, &parse_tag_query(tagging));
    }
    facts
}

/// `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys` for the tags a request sets.
pub fn add_request_tags(facts: &mut Facts, tags: &[(String, String)]) {
    for (k, v) in tags {
        facts.set(&format!("s3:RequestObjectTag/{k}"), v.clone());
    }
    facts.set_many("s3:RequestObjectTagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
}

/// `s3:ExistingObjectTag/<key>` for the tags of the object a request acts on.
pub fn add_existing_tags(facts: &mut Facts, tags: &[(String, String)]) {
    for (k, v) in tags {
        facts.set(&format!("s3:ExistingObjectTag/{k}"), v.clone());
    }
}

fn parse_tag_query(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}
