//! The policy document of a browser form upload (POST object): when it expires and the
//! conditions every form field must meet. Pure; the handler supplies the fields.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::error::{S3Error, S3ErrorCode};

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    expiration_ms: i64,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// The field (lower-cased, without `$`) equals the value.
    Eq {
        field: String,
        value: String,
    },
    StartsWith {
        field: String,
        prefix: String,
    },
    /// The file's size in bytes, both ends included.
    LengthRange {
        min: u64,
        max: u64,
    },
}

/// Form fields no condition needs to name.
fn exempt(field: &str) -> bool {
    matches!(
        field,
        "awsaccesskeyid"
            | "signature"
            | "policy"
            | "file"
            | "x-amz-signature"
            | "x-amz-algorithm"
            | "x-amz-credential"
            | "x-amz-date"
            | "x-amz-security-token"
    ) || field.starts_with("x-ignore-")
        || field.starts_with("x-amz-checksum-")
}

fn invalid(why: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidPolicyDocument, format!("Invalid Policy: {}", why.into()))
}

fn refused(why: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::AccessDenied, format!("Invalid according to Policy: {}", why.into()))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn length(value: &Value) -> Result<u64, S3Error> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
        invalid("Invalid content-length-range: the bounds must be non-negative integers.")
    })
}

fn field_name(value: &Value) -> Result<String, S3Error> {
    let name = value.as_str().ok_or_else(|| invalid("Condition field names must be strings."))?;
    let name = name.strip_prefix('$').unwrap_or(name);
    Ok(name.to_ascii_lowercase())
}

impl PostPolicy {
    /// Decodes and parses the base64 `policy` field.
    pub fn parse(policy_base64: &str) -> Result<PostPolicy, S3Error> {
        let bytes = BASE64
            .decode(policy_base64.trim())
            .map_err(|_| invalid("The policy is not base64."))?;
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|_| invalid("The policy is not valid JSON."))?;
        let Value::Object(document) = document else {
            return Err(invalid("The policy must be a JSON object."));
        };
        let expiration = document
            .get("expiration")
            .ok_or_else(|| invalid("Policy missing expiration."))?
            .as_str()
            .ok_or_else(|| invalid("The expiration must be a string."))?;
        let expiration_ms =
            chrono::NaiveDateTime::parse_from_str(expiration, "%Y-%m-%dT%H:%M:%S%.fZ")
                .map_err(|_| invalid(format!("Invalid 'expiration' value: '{expiration}'")))?
                .and_utc()
                .timestamp_millis();
        let Some(Value::Array(list)) = document.get("conditions") else {
            return Err(invalid("Policy missing conditions."));
        };
        let mut conditions = Vec::with_capacity(list.len());
        for condition in list {
            conditions.push(parse_condition(condition)?);
        }
        Ok(PostPolicy { expiration_ms, conditions })
    }

    /// Checks the form against the policy at `now_ms` for an upload to `bucket`; the size range
    /// the file must be in. `fields` are the form's fields (names lower-cased, `key` already
    /// expanded), without the file.
    pub fn check(
        &self,
        now_ms: i64,
        bucket: &str,
        fields: &[(String, String)],
    ) -> Result<(u64, u64), S3Error> {
        if now_ms > self.expiration_ms {
            return Err(refused("Policy expired."));
        }
        let value = |name: &str| {
            if name == "bucket" {
                return Some(bucket);
            }
            fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        };
        let mut range = (0, u64::MAX);
        for condition in &self.conditions {
            let holds = match condition {
                Condition::Eq { field, value: wanted } => value(field) == Some(wanted.as_str()),
                // An absent field is empty: `starts-with ""` (any content) admits it.
                Condition::StartsWith { field, prefix } => {
                    value(field).unwrap_or("").starts_with(prefix.as_str())
                }
                Condition::LengthRange { min, max } => {
                    range = (*min, *max);
                    true
                }
            };
            if !holds {
                return Err(refused(format!("Policy Condition failed: {}", describe(condition))));
            }
        }
        for (name, _) in fields {
            let named = self.conditions.iter().any(|c| match c {
                Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field == name,
                Condition::LengthRange { .. } => false,
            });
            if !named && !exempt(name) {
                return Err(refused(format!("Extra input fields: {name}")));
            }
        }
        Ok(range)
    }
}

fn describe(condition: &Condition) -> String {
    match condition {
        Condition::Eq { field, value } => format!("[\"eq\", \"${field}\", \"{value}\"]"),
        Condition::StartsWith { field, prefix } => {
            format!("[\"starts-with\", \"${field}\", \"{prefix}\"]")
        }
        Condition::LengthRange { min, max } => format!("[\"content-length-range\", {min}, {max}]"),
    }
}

fn parse_condition(condition: &Value) -> Result<Condition, S3Error> {
    match condition {
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                return Err(invalid("Each condition object must name exactly one field."));
            };
            let value = text(value).ok_or_else(|| invalid("Condition values must be strings."))?;
            Ok(Condition::Eq { field: field_name(&Value::String(name.clone()))?, value })
        }
        Value::Array(items) => {
            let operator = items
                .first()
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("A condition list must start with its operator."))?
                .to_ascii_lowercase();
            match (operator.as_str(), items.as_slice()) {
                ("eq", [_, field, value]) => Ok(Condition::Eq {
                    field: field_name(field)?,
                    value: text(value)
                        .ok_or_else(|| invalid("Condition values must be strings."))?,
                }),
                ("starts-with", [_, field, prefix]) => Ok(Condition::StartsWith {
                    field: field_name(field)?,
                    prefix: text(prefix)
                        .ok_or_else(|| invalid("Condition values must be strings."))?,
                }),
                ("content-length-range", [_, min, max]) => {
                    let (min, max) = (length(min)?, length(max)?);
                    if min > max {
                        return Err(invalid(
                            "Invalid content-length-range: the minimum is above the maximum.",
                        ));
                    }
                    Ok(Condition::LengthRange { min, max })
                }
                _ => Err(invalid(format!("Invalid condition: {condition}"))),
            }
        }
        _ => Err(invalid("Conditions must be objects or lists.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Result<PostPolicy, S3Error> {
        PostPolicy::parse(&BASE64.encode(json))
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn an_empty_starts_with_admits_any_value_or_none() {
        let p = policy(
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["starts-with","$key",""],
               ["starts-with","$x-amz-server-side-encryption",""]]}"#,
        )
        .unwrap();
        assert!(p.check(NOW, "b", &fields(&[("key", "a")])).is_ok());
        let given = fields(&[("key", "a"), ("x-amz-server-side-encryption", "AES256")]);
        assert!(p.check(NOW, "b", &given).is_ok());
    }

    #[test]
    fn conditions_cover_and_constrain_the_fields() {
        let p = policy(
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"BuCkEt":"b"},["StArTs-WiTh","$Key","uploads/"],
               {"acl":"private"},["eq","$x-amz-meta-tag","v"],["content-length-range",1,1024]]}"#,
        )
        .unwrap();
        let good = fields(&[
            ("key", "uploads/a"),
            ("acl", "private"),
            ("x-amz-meta-tag", "v"),
            ("x-ignore-me", "1"),
            ("signature", "s"),
        ]);
        assert_eq!(p.check(NOW, "b", &good).unwrap(), (1, 1024));
        let wrong_bucket = p.check(NOW, "other", &good).unwrap_err();
        assert_eq!(wrong_bucket.code, S3ErrorCode::AccessDenied);
        let bad_key =
            fields(&[("key", "elsewhere/a"), ("acl", "private"), ("x-amz-meta-tag", "v")]);
        assert!(p.check(NOW, "b", &bad_key).unwrap_err().message.contains("starts-with"));
        let extra = fields(&[
            ("key", "uploads/a"),
            ("acl", "private"),
            ("x-amz-meta-tag", "v"),
            ("content-type", "x"),
        ]);
        assert!(
            p.check(NOW, "b", &extra)
                .unwrap_err()
                .message
                .contains("Extra input fields: content-type")
        );
        let missing = fields(&[("key", "uploads/a"), ("acl", "private")]);
        assert_eq!(p.check(NOW, "b", &missing).unwrap_err().code, S3ErrorCode::AccessDenied);
        let expired = p.check(1_900_000_000_000 * 10, "b", &good).unwrap_err();
        assert!(expired.message.contains("expired"));
    }

    #[test]
    fn malformed_documents_are_invalid() {
        for json in [
            r#"{"conditions":[]}"#,
            r#"{"expiration":"2030-01-01 00:00:00","conditions":[]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z"}"#,
            r#"{"EXPIRATION":"2030-01-01T00:00:00Z","conditions":[]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z","CONDITIONS":[]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[{}]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",0]]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",-1,0]]}"#,
            r#"{"expiration":"2030-01-01T00:00:00Z","conditions":[["matches","$key","x"]]}"#,
            "not json",
        ] {
            let err = policy(json).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidPolicyDocument, "{json}");
        }
        assert!(PostPolicy::parse("%%%").is_err());
    }
}
