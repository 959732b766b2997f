//! Static website hosting: the WebsiteConfiguration document, and how the website endpoint
//! maps a request to an object or a redirect (pure; `handlers/website.rs` does the I/O).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteHosting.html>

use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3ErrorCode};
use super::xml::{self, XmlResponse};
use crate::objects::{RoutingRule, WebsiteConfig};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WebsiteConfiguration {
    #[serde(rename = "RedirectAllRequestsTo", default, skip_serializing_if = "Option::is_none")]
    redirect_all: Option<RedirectAllXml>,
    #[serde(rename = "IndexDocument", default, skip_serializing_if = "Option::is_none")]
    index: Option<IndexXml>,
    #[serde(rename = "ErrorDocument", default, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorXml>,
    #[serde(rename = "RoutingRules", default, skip_serializing_if = "Option::is_none")]
    routing_rules: Option<RoutingRulesXml>,
}

impl XmlResponse for WebsiteConfiguration {
    const ROOT: &'static str = "WebsiteConfiguration";
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RedirectAllXml {
    #[serde(rename = "HostName")]
    host_name: String,
    #[serde(rename = "Protocol", default, skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct IndexXml {
    #[serde(rename = "Suffix")]
    suffix: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ErrorXml {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RoutingRulesXml {
    #[serde(rename = "RoutingRule", default)]
    rules: Vec<RoutingRuleXml>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RoutingRuleXml {
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    condition: Option<ConditionXml>,
    #[serde(rename = "Redirect")]
    redirect: RedirectXml,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ConditionXml {
    #[serde(
        rename = "HttpErrorCodeReturnedEquals",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    error_code: Option<u16>,
    #[serde(rename = "KeyPrefixEquals", default, skip_serializing_if = "Option::is_none")]
    key_prefix: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RedirectXml {
    #[serde(rename = "HostName", default, skip_serializing_if = "Option::is_none")]
    host_name: Option<String>,
    #[serde(rename = "HttpRedirectCode", default, skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    #[serde(rename = "Protocol", default, skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
    #[serde(rename = "ReplaceKeyPrefixWith", default, skip_serializing_if = "Option::is_none")]
    replace_prefix: Option<String>,
    #[serde(rename = "ReplaceKeyWith", default, skip_serializing_if = "Option::is_none")]
    replace_key: Option<String>,
}

fn invalid(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

fn check_protocol(p: &Option<String>) -> Result<(), S3Error> {
    match p.as_deref() {
        None | Some("http" | "https") => Ok(()),
        Some(_) => Err(invalid("Invalid protocol, protocol can be http or https.")),
    }
}

/// Parses and checks a PutBucketWebsite body.
pub fn parse(body: &[u8]) -> Result<WebsiteConfig, S3Error> {
    let d: WebsiteConfiguration = xml::from_xml_with_root(body, WebsiteConfiguration::ROOT)?;
    if let Some(all) = &d.redirect_all {
        if d.index.is_some() || d.error.is_some() || d.routing_rules.is_some() {
            return Err(invalid(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            ));
        }
        check_protocol(&all.protocol)?;
    } else if d.index.as_ref().is_none_or(|i| i.suffix.is_empty() || i.suffix.contains('/')) {
        return Err(invalid(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ));
    }
    let mut routing_rules = Vec::new();
    for r in d.routing_rules.map(|r| r.rules).unwrap_or_default() {
        let condition = r.condition.unwrap_or_default();
        let redirect = r.redirect;
        if redirect.replace_key.is_some() && redirect.replace_prefix.is_some() {
            return Err(invalid(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
            ));
        }
        if redirect.code.is_some_and(|c| !(300..400).contains(&c)) {
            return Err(invalid(
                "The provided HTTP redirect code is not valid. It should be a string containing a number between 300 and 399.",
            ));
        }
        check_protocol(&redirect.protocol)?;
        routing_rules.push(RoutingRule {
            key_prefix_equals: condition.key_prefix,
            http_error_code_returned_equals: condition.error_code,
            host_name: redirect.host_name,
            protocol: redirect.protocol,
            replace_key_prefix_with: redirect.replace_prefix,
            replace_key_with: redirect.replace_key,
            http_redirect_code: redirect.code,
        });
    }
    Ok(WebsiteConfig {
        index_suffix: d.index.map(|i| i.suffix),
        error_key: d.error.map(|e| e.key),
        redirect_all: d.redirect_all.map(|a| (a.host_name, a.protocol)),
        routing_rules,
    })
}

/// The document GetBucketWebsite answers with.
pub fn to_document(c: &WebsiteConfig) -> String {
    let rules: Vec<RoutingRuleXml> = c
        .routing_rules
        .iter()
        .map(|r| RoutingRuleXml {
            condition: (r.key_prefix_equals.is_some()
                || r.http_error_code_returned_equals.is_some())
            .then(|| ConditionXml {
                error_code: r.http_error_code_returned_equals,
                key_prefix: r.key_prefix_equals.clone(),
            }),
            redirect: RedirectXml {
                host_name: r.host_name.clone(),
                code: r.http_redirect_code,
                protocol: r.protocol.clone(),
                replace_prefix: r.replace_key_prefix_with.clone(),
                replace_key: r.replace_key_with.clone(),
            },
        })
        .collect();
    WebsiteConfiguration {
        redirect_all: c
            .redirect_all
            .clone()
            .map(|(host_name, protocol)| RedirectAllXml { host_name, protocol }),
        index: c.index_suffix.clone().map(|suffix| IndexXml { suffix }),
        error: c.error_key.clone().map(|key| ErrorXml { key }),
        routing_rules: (!rules.is_empty()).then_some(RoutingRulesXml { rules }),
    }
    .to_xml()
}

/// Where a redirect sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub status: u16,
    pub location: String,
}

/// The redirect a routing rule makes of a request for `key` on `host`.
fn redirect_of(rule: &RoutingRule, key: &str, host: &str) -> Redirect {
    let new_key =
        match (&rule.replace_key_with, &rule.replace_key_prefix_with, &rule.key_prefix_equals) {
            (Some(k), _, _) => k.clone(),
            (None, Some(p), Some(prefix)) => {
                format!("{p}{}", key.strip_prefix(prefix.as_str()).unwrap_or(key))
            }
            (None, Some(p), None) => format!("{p}{key}"),
            (None, None, _) => key.to_owned(),
        };
    let protocol = rule.protocol.as_deref().unwrap_or("http");
    let host = rule.host_name.as_deref().unwrap_or(host);
    Redirect {
        status: rule.http_redirect_code.unwrap_or(301),
        location: format!("{protocol}://{host}/{new_key}"),
    }
}

/// What the endpoint does for a request, before reading anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Redirect(Redirect),
    /// Serve this object (the index document already appended).
    Serve(String),
}

/// The plan for a request of `key` (the path without its leading `/`) on `host`.
pub fn plan(c: &WebsiteConfig, key: &str, host: &str) -> Plan {
    if let Some((to, protocol)) = &c.redirect_all {
        let protocol = protocol.as_deref().unwrap_or("http");
        return Plan::Redirect(Redirect {
            status: 301,
            location: format!("{protocol}://{to}/{key}"),
        });
    }
    if let Some(rule) = c.routing_rules.iter().find(|r| {
        r.http_error_code_returned_equals.is_none()
            && r.key_prefix_equals.as_deref().is_some_and(|p| key.starts_with(p))
    }) {
        return Plan::Redirect(redirect_of(rule, key, host));
    }
    let index = c.index_suffix.as_deref().unwrap_or("index.html");
    if key.is_empty() || key.ends_with('/') {
        Plan::Serve(format!("{key}{index}"))
    } else {
        Plan::Serve(key.to_owned())
    }
}

/// The redirect a routing rule makes of a request that failed with `status`.
pub fn on_error(c: &WebsiteConfig, key: &str, host: &str, status: u16) -> Option<Redirect> {
    c.routing_rules
        .iter()
        .find(|r| {
            r.http_error_code_returned_equals == Some(status)
                && r.key_prefix_equals.as_deref().is_none_or(|p| key.starts_with(p))
        })
        .map(|r| redirect_of(r, key, host))
}

/// The page the endpoint sends for an error when the bucket has no error document.
pub fn error_page(status: u16, code: &str, message: &str) -> String {
    let e = |s: &str| quick_xml::escape::escape(s).into_owned();
    format!(
        "<html>\n<head><title>{status} {}</title></head>\n<body>\n<h1>{status} {}</h1>\n<ul>\n<li>Code: {}</li>\n<li>Message: {}</li>\n</ul>\n</body>\n</html>\n",
        e(code),
        e(code),
        e(code),
        e(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &[u8] = br#"<WebsiteConfiguration>
        <IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>404.html</Key></ErrorDocument>
        <RoutingRules>
          <RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith></Redirect></RoutingRule>
          <RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><HostName>example.com</HostName><Protocol>https</Protocol><HttpRedirectCode>302</HttpRedirectCode><ReplaceKeyWith>missing</ReplaceKeyWith></Redirect></RoutingRule>
        </RoutingRules></WebsiteConfiguration>"#;

    #[test]
    fn requests_map_to_index_documents_and_redirects() {
        let c = parse(CONFIG).unwrap();
        assert_eq!(plan(&c, "", "site"), Plan::Serve("index.html".into()));
        assert_eq!(plan(&c, "blog/", "site"), Plan::Serve("blog/index.html".into()));
        assert_eq!(plan(&c, "a.css", "site"), Plan::Serve("a.css".into()));
        assert_eq!(
            plan(&c, "docs/x.html", "site"),
            Plan::Redirect(Redirect {
                status: 301,
                location: "http://site/documents/x.html".into()
            })
        );
        assert_eq!(
            on_error(&c, "nope", "site", 404),
            Some(Redirect { status: 302, location: "https://example.com/missing".into() })
        );
        assert_eq!(on_error(&c, "nope", "site", 403), None);
        assert_eq!(parse(to_document(&c).as_bytes()).unwrap(), c);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let none = b"<WebsiteConfiguration></WebsiteConfiguration>";
        assert_eq!(parse(none).unwrap_err().code, S3ErrorCode::InvalidArgument);
        let both = b"<WebsiteConfiguration><RedirectAllRequestsTo><HostName>a</HostName></RedirectAllRequestsTo><IndexDocument><Suffix>i</Suffix></IndexDocument></WebsiteConfiguration>";
        assert_eq!(parse(both).unwrap_err().code, S3ErrorCode::InvalidArgument);
        let all = b"<WebsiteConfiguration><RedirectAllRequestsTo><HostName>new.example</HostName><Protocol>https</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>";
        let c = parse(all).unwrap();
        assert_eq!(
            plan(&c, "a/b", "site"),
            Plan::Redirect(Redirect { status: 301, location: "https://new.example/a/b".into() })
        );
    }
}
