//! CORS: the bucket's CORSConfiguration document, and which rule (if any) lets a browser
//! origin make a request. Pure functions; the handlers and the response path call them.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html>

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3ErrorCode};
use super::xml::{self, XmlResponse};
use crate::objects::CorsRule;

/// Most rules one configuration may hold (S3's limit).
const RULES_MAX: usize = 100;

const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfiguration {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<CorsRuleXml>,
}

impl XmlResponse for CorsConfiguration {
    const ROOT: &'static str = "CORSConfiguration";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CorsRuleXml {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    #[serde(rename = "MaxAgeSeconds", default, skip_serializing_if = "Option::is_none")]
    max_age_seconds: Option<u32>,
}

/// Parses and checks a PutBucketCors body.
pub fn parse(body: &[u8]) -> Result<Vec<CorsRule>, S3Error> {
    let document: CorsConfiguration = xml::from_xml_with_root(body, CorsConfiguration::ROOT)?;
    if document.rules.is_empty() || document.rules.len() > RULES_MAX {
        return Err(S3ErrorCode::MalformedXML.into());
    }
    let mut rules = Vec::with_capacity(document.rules.len());
    for r in document.rules {
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err(S3ErrorCode::MalformedXML.into());
        }
        if let Some(m) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Found unsupported HTTP method in CORS config. Unsupported method is {m}"),
            ));
        }
        for origin in &r.allowed_origins {
            if origin.matches('*').count() > 1 {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("AllowedOrigin \"{origin}\" can not have more than one wildcard."),
                ));
            }
        }
        for header in &r.allowed_headers {
            if header.matches('*').count() > 1 {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("AllowedHeader \"{header}\" can not have more than one wildcard."),
                ));
            }
        }
        rules.push(CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers,
            expose_headers: r.expose_headers,
            max_age_seconds: r.max_age_seconds,
        });
    }
    Ok(rules)
}

/// The document GetBucketCors answers with.
pub fn to_document(rules: &[CorsRule]) -> String {
    CorsConfiguration {
        rules: rules
            .iter()
            .map(|r| CorsRuleXml {
                id: r.id.clone(),
                allowed_headers: r.allowed_headers.clone(),
                allowed_methods: r.allowed_methods.clone(),
                allowed_origins: r.allowed_origins.clone(),
                expose_headers: r.expose_headers.clone(),
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    }
    .to_xml()
}

/// `*` (at most one) matches any run of characters; origins match case-sensitively,
/// header names case-insensitively.
fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| if ignore_case { a.eq_ignore_ascii_case(b) } else { a == b };
    match pattern.split_once('*') {
        None => eq(pattern, text),
        Some((head, tail)) => {
            text.len() >= head.len() + tail.len()
                && text.get(..head.len()).is_some_and(|h| eq(head, h))
                && text.get(text.len() - tail.len()..).is_some_and(|t| eq(tail, t))
        }
    }
}

/// The first rule that lets `origin` use `method` with the `requested` headers.
pub fn matching_rule<'r>(
    rules: &'r [CorsRule],
    origin: &str,
    method: &str,
    requested: &[String],
) -> Option<&'r CorsRule> {
    rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| wildcard(o, origin, false))
            && rule.allowed_methods.iter().any(|m| m == method)
            && requested.iter().all(|h| rule.allowed_headers.iter().any(|a| wildcard(a, h, true)))
    })
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// The headers that tell the browser what `rule` allows `origin`; `preflight` adds the
/// answers to Access-Control-Request-Method/-Headers.
pub fn allow_headers(
    headers: &mut HeaderMap,
    rule: &CorsRule,
    origin: &str,
    preflight: Option<&[String]>,
) {
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    set(headers, "access-control-allow-origin", if any_origin { "*" } else { origin });
    set(headers, "access-control-allow-methods", &rule.allowed_methods.join(", "));
    if !rule.expose_headers.is_empty() {
        set(headers, "access-control-expose-headers", &rule.expose_headers.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        set(headers, "access-control-max-age", &age.to_string());
    }
    if !any_origin {
        set(headers, "access-control-allow-credentials", "true");
    }
    if let Some(requested) = preflight.filter(|r| !r.is_empty()) {
        set(headers, "access-control-allow-headers", &requested.join(", "));
    }
    headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

/// `Access-Control-Request-Headers`, split and lower-cased.
pub fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("access-control-request-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<CorsRule> {
        let body = br#"<CORSConfiguration>
            <CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>
              <AllowedMethod>POST</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>content-type</AllowedHeader>
              <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
            <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
        </CORSConfiguration>"#;
        parse(body).unwrap()
    }

    #[test]
    fn rules_match_origins_methods_and_headers() {
        let rules = rules();
        let headers = vec!["x-amz-date".to_owned(), "content-type".to_owned()];
        let rule = matching_rule(&rules, "https://app.example.com", "PUT", &headers).unwrap();
        assert_eq!(rule.max_age_seconds, Some(600));
        assert!(matching_rule(&rules, "https://app.example.org", "PUT", &[]).is_none());
        assert!(matching_rule(&rules, "https://app.example.com", "DELETE", &[]).is_none());
        let other = vec!["authorization".to_owned()];
        assert!(matching_rule(&rules, "https://app.example.com", "PUT", &other).is_none());
        let any = matching_rule(&rules, "http://anywhere", "GET", &[]).unwrap();
        let mut out = HeaderMap::new();
        allow_headers(&mut out, any, "http://anywhere", None);
        assert_eq!(out["access-control-allow-origin"], "*");
        let mut out = HeaderMap::new();
        allow_headers(&mut out, rule, "https://app.example.com", Some(&headers));
        assert_eq!(out["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(out["access-control-allow-methods"], "PUT, POST");
        assert_eq!(out["access-control-allow-headers"], "x-amz-date, content-type");
        assert_eq!(out["access-control-expose-headers"], "ETag");
    }

    #[test]
    fn bad_configurations_are_refused() {
        let bad_method = b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>";
        assert_eq!(parse(bad_method).unwrap_err().code, S3ErrorCode::InvalidRequest);
        let two_stars = b"<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
        assert_eq!(parse(two_stars).unwrap_err().code, S3ErrorCode::InvalidRequest);
        assert_eq!(parse(b"<CORSConfiguration/>").unwrap_err().code, S3ErrorCode::MalformedXML);
        let round = to_document(&rules());
        assert_eq!(parse(round.as_bytes()).unwrap(), rules());
    }
}
