//! Bucket policies: the IAM policy language as S3 users write it, parsed once when written
//! (a bad policy is `MalformedPolicy` with the reason) and evaluated per request.
//!
//! Evaluation of one policy: any statement that matches with `Deny` denies; otherwise any that
//! matches with `Allow` allows; otherwise the policy says nothing and ACLs decide.
//! Reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html>

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;

/// Largest policy document accepted, in bytes (S3's limit).
pub const POLICY_BYTES_MAX: usize = 20 << 10;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    allow: bool,
    principal: Option<Matcher<PrincipalId>>,
    actions: Matcher<String>,
    resources: Matcher<String>,
    conditions: Vec<Condition>,
}

/// A list of values, or everything but them (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Debug, Clone, PartialEq)]
struct Matcher<T> {
    values: Vec<T>,
    negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum PrincipalId {
    Everyone,
    /// An access key id, or an account ARN naming it (`arn:aws:iam::<key id>:root|user/...`).
    Key(String),
    /// A principal no key can be (a service, a federated identity).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    StringEquals { ignore_case: bool },
    StringLike,
    Numeric(std::cmp::Ordering, bool),
    Date(std::cmp::Ordering, bool),
    Bool,
    Ip,
    ArnLike,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQuantifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    test: Test,
    negated: bool,
    if_exists: bool,
    quantifier: SetQuantifier,
    /// The condition key, lower-cased (keys are case-insensitive).
    key: String,
    values: Vec<String>,
}

/// The facts about a request that condition keys name, keyed by lower-cased condition key.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    values: HashMap<String, Vec<String>>,
}

impl Facts {
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    pub fn set_many(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }
}

/// What a request asks, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRequest<'a> {
    pub principal: Option<&'a str>,
    /// E.g. `s3:GetObject`.
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    pub facts: &'a Facts,
}

/// What a policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The condition keys whose fixed values keep an `Allow` to everyone from being public.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
];

impl Policy {
    /// Parses and validates a policy for `bucket`; the error is the reason, for MalformedPolicy.
    pub fn parse(text: &str) -> Result<Policy, String> {
        if text.len() > POLICY_BYTES_MAX {
            return Err(format!("Policies must be smaller than {POLICY_BYTES_MAX} bytes"));
        }
        let document: Value = serde_json::from_str(text)
            .map_err(|_| "Policies must be valid JSON and the first byte must be '{'".to_owned())?;
        let Value::Object(document) = document else {
            return Err("Policies must be valid JSON and the first byte must be '{'".into());
        };
        for (name, value) in &document {
            match name.as_str() {
                "Version" => match value.as_str() {
                    Some("2012-10-17" | "2008-10-17") => {}
                    _ => return Err("The policy must contain a valid version string".into()),
                },
                "Id" | "Statement" => {}
                other => return Err(format!("Unknown field {other}")),
            }
        }
        let statements = match document.get("Statement") {
            Some(Value::Array(list)) => {
                list.iter().map(parse_statement).collect::<Result<_, _>>()?
            }
            Some(single @ Value::Object(_)) => vec![parse_statement(single)?],
            _ => return Err("Missing required field Statement".into()),
        };
        Ok(Policy { statements })
    }

    /// Deny if a matching statement denies, else Allow if one allows, else nothing.
    pub fn evaluate(&self, request: &PolicyRequest<'_>) -> Option<Effect> {
        self.deciding_statement(request).map(|(effect, _)| effect)
    }

    /// Whether the policy allows something to everyone without a condition that pins the
    /// caller down (S3's definition of a public policy, for BlockPublicPolicy and
    /// RestrictPublicBuckets).
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow
                && s.principal
                    .as_ref()
                    .is_some_and(|p| !p.negated && p.values.contains(&PrincipalId::Everyone))
                && !s.conditions.iter().any(|c| {
                    !c.negated
                        && RESTRICTING_KEYS.contains(&c.key.as_str())
                        && !c.values.iter().any(|v| v.contains('*'))
                })
        })
    }

    /// The effect of the statement that decides `request` (the first that denies, else the
    /// first that allows) and its Sid.
    pub fn deciding_statement(
        &self,
        request: &PolicyRequest<'_>,
    ) -> Option<(Effect, Option<&str>)> {
        let mut allowing = None;
        for s in self.statements.iter().filter(|s| s.matches(request)) {
            if !s.allow {
                tracing::debug!(sid = ?s.sid, action = request.action, "denied by bucket policy");
                return Some((Effect::Deny, s.sid.as_deref()));
            }
            allowing.get_or_insert((Effect::Allow, s.sid.as_deref()));
        }
        allowing
    }
}

fn strings(value: &Value, field: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(format!("{field} values must be strings")),
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => Err(format!("{field} values must be strings")),
    }
}

fn parse_statement(value: &Value) -> Result<Statement, String> {
    let Value::Object(s) = value else { return Err("A statement must be an object".into()) };
    let allow = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        Some(other) => return Err(format!("Invalid effect: {other}")),
        None => return Err("Missing required field Effect".into()),
    };
    let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => Some(Matcher { values: parse_principal(p)?, negated: false }),
        (None, Some(_)) if allow => {
            return Err("NotPrincipal can only be used with Effect Deny".into());
        }
        (None, Some(p)) => Some(Matcher { values: parse_principal(p)?, negated: true }),
        (None, None) => return Err("Missing required field Principal".into()),
        (Some(_), Some(_)) => return Err("Principal and NotPrincipal cannot both be given".into()),
    };
    let actions = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => Matcher { values: strings(a, "Action")?, negated: false },
        (None, Some(a)) => Matcher { values: strings(a, "NotAction")?, negated: true },
        (None, None) => return Err("Missing required field Action".into()),
        (Some(_), Some(_)) => return Err("Action and NotAction cannot both be given".into()),
    };
    for action in &actions.values {
        if action != "*" && !action.to_ascii_lowercase().starts_with("s3:") {
            return Err(format!("Policy has invalid action: {action}"));
        }
    }
    let resources = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), None) => Matcher { values: strings(r, "Resource")?, negated: false },
        (None, Some(r)) => Matcher { values: strings(r, "NotResource")?, negated: true },
        (None, None) => return Err("Missing required field Resource".into()),
        (Some(_), Some(_)) => return Err("Resource and NotResource cannot both be given".into()),
    };
    for resource in &resources.values {
        if resource != "*" && !resource.starts_with("arn:aws:s3:::") {
            return Err(format!("Policy has invalid resource: {resource}"));
        }
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(blocks)) => {
            let mut out = Vec::new();
            for (operator, keys) in blocks {
                let Value::Object(keys) = keys else {
                    return Err(format!("Invalid Condition block: {operator}"));
                };
                for (key, values) in keys {
                    out.push(parse_condition(operator, key, values)?);
                }
            }
            out
        }
        Some(_) => return Err("Condition must be an object".into()),
    };
    let sid = s.get("Sid").and_then(Value::as_str).map(str::to_owned);
    Ok(Statement { sid, allow, principal, actions, resources, conditions })
}

fn parse_principal(value: &Value) -> Result<Vec<PrincipalId>, String> {
    let ids = |v: &Value, kind: &str| -> Result<Vec<PrincipalId>, String> {
        Ok(strings(v, "Principal")?
            .into_iter()
            .map(|s| match kind {
                _ if s == "*" => PrincipalId::Everyone,
                "AWS" | "CanonicalUser" => PrincipalId::Key(key_of_principal(&s)),
                _ => PrincipalId::Other,
            })
            .collect())
    };
    match value {
        Value::String(s) if s == "*" => Ok(vec![PrincipalId::Everyone]),
        Value::Object(map) if !map.is_empty() => {
            let mut out = Vec::new();
            for (kind, v) in map {
                match kind.as_str() {
                    "AWS" | "CanonicalUser" | "Service" | "Federated" => out.extend(ids(v, kind)?),
                    other => return Err(format!("Invalid principal type: {other}")),
                }
            }
            Ok(out)
        }
        _ => Err("Invalid principal in policy".into()),
    }
}

/// `arn:aws:iam::<account>:root` and `arn:aws:iam::<account>:user/<name>` name the key whose
/// id is the account; anything else is taken as a key id.
fn key_of_principal(text: &str) -> String {
    match text.strip_prefix("arn:aws:iam::").and_then(|rest| rest.split_once(':')) {
        Some((account, _)) => account.to_owned(),
        None => text.to_owned(),
    }
}

fn parse_condition(operator: &str, key: &str, values: &Value) -> Result<Condition, String> {
    let invalid = || format!("Invalid Condition type : {operator}");
    let (quantifier, rest) = if let Some(r) = operator.strip_prefix("ForAnyValue:") {
        (SetQuantifier::ForAnyValue, r)
    } else if let Some(r) = operator.strip_prefix("ForAllValues:") {
        (SetQuantifier::ForAllValues, r)
    } else {
        (SetQuantifier::Single, operator)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    use std::cmp::Ordering::{Equal, Greater, Less};
    let (test, negated) = match rest {
        "StringEquals" => (Test::StringEquals { ignore_case: false }, false),
        "StringNotEquals" => (Test::StringEquals { ignore_case: false }, true),
        "StringEqualsIgnoreCase" => (Test::StringEquals { ignore_case: true }, false),
        "StringNotEqualsIgnoreCase" => (Test::StringEquals { ignore_case: true }, true),
        "StringLike" => (Test::StringLike, false),
        "StringNotLike" => (Test::StringLike, true),
        "NumericEquals" => (Test::Numeric(Equal, true), false),
        "NumericNotEquals" => (Test::Numeric(Equal, true), true),
        "NumericLessThan" => (Test::Numeric(Less, false), false),
        "NumericLessThanEquals" => (Test::Numeric(Less, true), false),
        "NumericGreaterThan" => (Test::Numeric(Greater, false), false),
        "NumericGreaterThanEquals" => (Test::Numeric(Greater, true), false),
        "DateEquals" => (Test::Date(Equal, true), false),
        "DateNotEquals" => (Test::Date(Equal, true), true),
        "DateLessThan" => (Test::Date(Less, false), false),
        "DateLessThanEquals" => (Test::Date(Less, true), false),
        "DateGreaterThan" => (Test::Date(Greater, false), false),
        "DateGreaterThanEquals" => (Test::Date(Greater, true), false),
        "Bool" => (Test::Bool, false),
        "IpAddress" => (Test::Ip, false),
        "NotIpAddress" => (Test::Ip, true),
        "ArnEquals" | "ArnLike" => (Test::ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (Test::ArnLike, true),
        "Null" if !if_exists => (Test::Null, false),
        _ => return Err(invalid()),
    };
    let values = strings(values, "Condition")?;
    for v in &values {
        let valid = match test {
            Test::Numeric(..) => v.parse::<f64>().is_ok(),
            Test::Date(..) => parse_time(v).is_some(),
            Test::Ip => parse_cidr(v).is_some(),
            Test::Bool | Test::Null => {
                v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")
            }
            _ => true,
        };
        if !valid {
            return Err(format!("Invalid value {v} for condition {operator}"));
        }
    }
    Ok(Condition { test, negated, if_exists, quantifier, key: key.to_ascii_lowercase(), values })
}

impl Statement {
    fn matches(&self, r: &PolicyRequest<'_>) -> bool {
        let principal_ok = self.principal.as_ref().is_none_or(|p| {
            let hit = p.values.iter().any(|id| match id {
                PrincipalId::Everyone => true,
                PrincipalId::Key(k) => r.principal == Some(k.as_str()),
                PrincipalId::Other => false,
            });
            hit != p.negated
        });
        let action_ok = {
            let hit = self.actions.values.iter().any(|a| glob(a, r.action, true));
            hit != self.actions.negated
        };
        let resource_ok = {
            let hit = self.resources.values.iter().any(|p| glob(p, r.resource, false));
            hit != self.resources.negated
        };
        principal_ok && action_ok && resource_ok && self.conditions.iter().all(|c| c.holds(r.facts))
    }
}

impl Condition {
    fn holds(&self, facts: &Facts) -> bool {
        let present = facts.get(&self.key);
        if self.test == Test::Null {
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none_or(<[String]>::is_empty) == wants_absent;
        }
        let Some(actual) = present.filter(|a| !a.is_empty()) else {
            // An absent key: IfExists and ForAllValues hold, negated operators hold (AWS:
            // "not equal to" anything), everything else fails.
            return self.if_exists
                || self.quantifier == SetQuantifier::ForAllValues
                || (self.negated && self.quantifier == SetQuantifier::Single);
        };
        let one = |value: &str| self.values.iter().any(|wanted| self.test.compare(wanted, value));
        match self.quantifier {
            SetQuantifier::Single => {
                let hit = actual.iter().any(|v| one(v));
                hit != self.negated
            }
            SetQuantifier::ForAnyValue => actual.iter().any(|v| one(v) != self.negated),
            SetQuantifier::ForAllValues => actual.iter().all(|v| one(v) != self.negated),
        }
    }
}

impl Test {
    /// Whether the request's `actual` value matches the policy's `wanted` one.
    fn compare(self, wanted: &str, actual: &str) -> bool {
        match self {
            Test::StringEquals { ignore_case: false } => wanted == actual,
            Test::StringEquals { ignore_case: true } => wanted.eq_ignore_ascii_case(actual),
            Test::StringLike | Test::ArnLike => glob(wanted, actual, false),
            Test::Numeric(order, or_equal) => {
                match (wanted.parse::<f64>(), actual.parse::<f64>()) {
                    (Ok(w), Ok(a)) => {
                        let c = a.partial_cmp(&w);
                        c == Some(order) || (or_equal && c == Some(std::cmp::Ordering::Equal))
                    }
                    _ => false,
                }
            }
            Test::Date(order, or_equal) => match (parse_time(wanted), parse_time(actual)) {
                (Some(w), Some(a)) => {
                    let c = a.cmp(&w);
                    c == order || (or_equal && c == std::cmp::Ordering::Equal)
                }
                _ => false,
            },
            Test::Bool => wanted.eq_ignore_ascii_case(actual),
            Test::Ip => match (parse_cidr(wanted), actual.parse::<IpAddr>()) {
                (Some((net, bits)), Ok(ip)) => in_network(ip, net, bits),
                _ => false,
            },
            Test::Null => false,
        }
    }
}

/// `*` matches any run of characters, `?` any one character.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| if ignore_case { s.to_ascii_lowercase() } else { s.to_owned() };
    let (p, t) = (fold(pattern), fold(text));
    let (p, t): (Vec<char>, Vec<char>) = (p.chars().collect(), t.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Milliseconds since the epoch of an ISO 8601 time or of epoch seconds.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds.saturating_mul(1000));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, bits) = match text.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip: IpAddr = address.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(
        principal: Option<&'a str>,
        action: &'a str,
        resource: &'a str,
        facts: &'a Facts,
    ) -> PolicyRequest<'a> {
        PolicyRequest { principal, action, resource, facts }
    }

    #[test]
    fn statements_match_principal_action_and_resource() {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:Get*","Resource":"arn:aws:s3:::b/public/*"},
                {"Sid":"no-secrets","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/secret*"},
                {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::ALICE:root"]},"NotAction":"s3:Delete*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}
            ]}"#,
        )
        .unwrap();
        let facts = Facts::default();
        assert_eq!(
            policy.evaluate(&request(None, "s3:GetObject", "arn:aws:s3:::b/public/x", &facts)),
            Some(Effect::Allow)
        );
        assert_eq!(
            policy.evaluate(&request(None, "s3:getobject", "arn:aws:s3:::b/public/x", &facts)),
            Some(Effect::Allow),
            "actions are case-insensitive"
        );
        assert_eq!(
            policy.evaluate(&request(None, "s3:GetObject", "arn:aws:s3:::b/private/x", &facts)),
            None
        );
        assert_eq!(
            policy.evaluate(&request(
                Some("ALICE"),
                "s3:GetObject",
                "arn:aws:s3:::b/public/secret1",
                &facts
            )),
            Some(Effect::Deny)
        );
        assert_eq!(
            policy.evaluate(&request(Some("ALICE"), "s3:PutObject", "arn:aws:s3:::b/k", &facts)),
            Some(Effect::Allow)
        );
        assert_eq!(
            policy.evaluate(&request(Some("ALICE"), "s3:DeleteObject", "arn:aws:s3:::b/k", &facts)),
            None
        );
        assert_eq!(
            policy.evaluate(&request(Some("BOB"), "s3:PutObject", "arn:aws:s3:::b/k", &facts)),
            None
        );
        assert!(policy.is_public());
        assert_eq!(
            policy.deciding_statement(&request(
                None,
                "s3:GetObject",
                "arn:aws:s3:::b/public/secret",
                &facts
            )),
            Some((Effect::Deny, Some("no-secrets")))
        );
    }

    #[test]
    fn conditions_follow_the_iam_rules() {
        let policy = Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
                "Condition":{"StringLike":{"s3:prefix":["home/*","pub"]},"NumericLessThanEquals":{"s3:max-keys":"10"},
                             "IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1"]},"StringNotEqualsIfExists":{"s3:delimiter":"x"}}}}"#,
        )
        .unwrap();
        let mut facts = Facts::default();
        facts.set("s3:prefix", "home/alice");
        facts.set("s3:max-keys", "10");
        facts.set("aws:SourceIp", "127.0.0.1");
        let r = |f: &Facts| policy.evaluate(&request(None, "s3:ListBucket", "arn:aws:s3:::b", f));
        assert_eq!(r(&facts), Some(Effect::Allow));
        facts.set("s3:delimiter", "x");
        assert_eq!(r(&facts), None);
        facts.set("s3:delimiter", "/");
        facts.set("s3:max-keys", "11");
        assert_eq!(r(&facts), None);
        facts.set("s3:max-keys", "1");
        facts.set("aws:SourceIp", "10.0.0.1");
        assert_eq!(r(&facts), None);
        facts.set("aws:SourceIp", "::1");
        assert_eq!(r(&facts), Some(Effect::Allow));
        let mut no_prefix = facts.clone();
        no_prefix.set_many("s3:prefix", Vec::new());
        assert_eq!(r(&no_prefix), None, "a missing key fails a positive condition");
        assert!(!policy.is_public(), "pinned to source addresses");

        let sets = Policy::parse(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*",
                "Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["secret"]},"Null":{"s3:x-amz-acl":"true"},
                             "Bool":{"aws:SecureTransport":"false"},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}"#,
        )
        .unwrap();
        let mut facts = Facts::default();
        facts.set_many("s3:RequestObjectTagKeys", vec!["a".into(), "secret".into()]);
        facts.set("aws:SecureTransport", "false");
        facts.set("aws:CurrentTime", "2026-12-06T00:00:00Z");
        let r =
            |f: &Facts| sets.evaluate(&request(Some("K"), "s3:PutObject", "arn:aws:s3:::b/k", f));
        assert_eq!(r(&facts), Some(Effect::Deny));
        facts.set("s3:x-amz-acl", "private");
        assert_eq!(r(&facts), None, "Null: the key is present");
    }

    #[test]
    fn malformed_policies_say_why() {
        for (text, reason) in [
            ("not json", "valid JSON"),
            ("[]", "valid JSON"),
            (r#"{"Version":"2012-10-17"}"#, "Statement"),
            (r#"{"Version":"1999","Statement":[]}"#, "version"),
            (
                r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
                "Invalid effect",
            ),
            (r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#, "Principal"),
            (r#"{"Statement":[{"Effect":"Allow","Principal":"*","Resource":"*"}]}"#, "Action"),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:Run","Resource":"*"}]}"#,
                "invalid action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"bucket"}]}"#,
                "invalid resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringWhatever":{"a":"b"}}}]}"#,
                "Condition type",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}]}"#,
                "Invalid value",
            ),
        ] {
            let err = Policy::parse(text).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn globs_and_networks() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b", false));
        assert!(glob("a?c*", "abcdef", false));
        assert!(!glob("a?c", "ac", false));
        assert!(glob("S3:GET*", "s3:GetObject", true));
        assert!(in_network("192.168.1.7".parse().unwrap(), "192.168.0.0".parse().unwrap(), 16));
        assert!(!in_network("192.169.1.7".parse().unwrap(), "192.168.0.0".parse().unwrap(), 16));
        assert!(in_network("::ffff:10.1.2.3".parse().unwrap(), "10.0.0.0".parse().unwrap(), 8));
        assert!(in_network("1.2.3.4".parse().unwrap(), "0.0.0.0".parse().unwrap(), 0));
    }
}
