//! Where a request points: bucket and key from path-style or virtual-hosted-style addressing,
//! the decoded query, and S3's naming rules for buckets and keys.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html>

use percent_encoding::percent_decode_str;

use super::error::{S3Error, S3ErrorCode};

pub use crate::objects::KEY_LEN_MAX;

/// The bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The bucket came from the host, not the path (SigV2 then prefixes it to the resource).
    pub virtual_hosted: bool,
}

/// Splits the request into its target. With `root_domain` set (e.g. `s3.example.com`), a host
/// `bucket.s3.example.com` selects virtual-hosted style; otherwise the first path segment is the
/// bucket.
pub fn parse_target(
    host: Option<&str>,
    raw_path: &str,
    root_domain: Option<&str>,
) -> Result<Target, S3Error> {
    let path = decode(raw_path)?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let host = host.map(|h| strip_port(h).to_ascii_lowercase());
    let vhost_bucket = match (host.as_deref(), root_domain) {
        (Some(h), Some(root)) => h
            .strip_suffix(root)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|b| !b.is_empty())
            .map(str::to_owned),
        _ => None,
    };
    let virtual_hosted = vhost_bucket.is_some();
    let (bucket, key) = match vhost_bucket {
        Some(bucket) => (Some(bucket), path.to_owned()),
        None => match path.split_once('/') {
            Some((b, k)) => (Some(b.to_owned()), k.to_owned()),
            None if path.is_empty() => (None, String::new()),
            None => (Some(path.to_owned()), String::new()),
        },
    };
    if key.len() > KEY_LEN_MAX {
        return Err(S3Error::from(S3ErrorCode::KeyTooLongError));
    }
    Ok(Target { bucket, key: (!key.is_empty()).then_some(key), virtual_hosted })
}

/// The bucket and key of a request to the website endpoint: a host `bucket.<website_domain>`;
/// `None` for any other host.
pub fn website_target(
    host: Option<&str>,
    raw_path: &str,
    website_domain: &str,
) -> Result<Option<(String, String)>, S3Error> {
    let Some(host) = host.map(|h| strip_port(h).to_ascii_lowercase()) else { return Ok(None) };
    let Some(bucket) = host
        .strip_suffix(website_domain)
        .and_then(|rest| rest.strip_suffix('.'))
        .filter(|b| !b.is_empty())
    else {
        return Ok(None);
    };
    let path = decode(raw_path)?;
    let key = path.strip_prefix('/').unwrap_or(&path).to_owned();
    Ok(Some((bucket.to_owned(), key)))
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn decode(raw: &str) -> Result<String, S3Error> {
    percent_decode_str(raw).decode_utf8().map(|s| s.into_owned()).map_err(|_| {
        S3Error::new(S3ErrorCode::InvalidArgument, "The request path is not valid UTF-8.")
    })
}

/// The query string as decoded `(name, value)` pairs, in order. `+` is a literal plus, as in
/// SigV4's canonical form.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, S3Error> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// S3's bucket naming rules for new buckets.
/// Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>
pub fn validate_bucket_name(name: &str) -> Result<(), S3Error> {
    let invalid = || S3Error::from(S3ErrorCode::InvalidBucketName).with("BucketName", name);
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err(invalid());
    }
    let allowed = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-';
    if !bytes.iter().all(|&c| allowed(c)) {
        return Err(invalid());
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return Err(invalid());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(invalid());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(invalid());
    }
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| name.starts_with(p));
    let reserved_suffix =
        ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|s| name.ends_with(s));
    if reserved_prefix || reserved_suffix {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style_splits_bucket_and_key() {
        let t = parse_target(Some("127.0.0.1:9000"), "/photos/2024/a%20b%2Bc.jpg", None).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("photos"));
        assert_eq!(t.key.as_deref(), Some("2024/a b+c.jpg"));
        assert_eq!(parse_target(None, "/", None).unwrap(), Target::default());
        let b = parse_target(None, "/photos/", None).unwrap();
        assert_eq!((b.bucket.as_deref(), b.key), (Some("photos"), None));
    }

    #[test]
    fn virtual_hosted_style_takes_the_bucket_from_the_host() {
        let t = parse_target(Some("photos.s3.local:9000"), "/a/../b", Some("s3.local")).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("photos"));
        assert_eq!(t.key.as_deref(), Some("a/../b"));
        assert!(t.virtual_hosted);
        let root = parse_target(Some("s3.local"), "/photos/k", Some("s3.local")).unwrap();
        assert_eq!(root.bucket.as_deref(), Some("photos"));
        assert!(!root.virtual_hosted);
    }

    #[test]
    fn keys_longer_than_1024_bytes_are_rejected() {
        let long = format!("/b/{}", "é".repeat(513));
        let err = parse_target(None, &long, None).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::KeyTooLongError);
        assert!(parse_target(None, &format!("/b/{}", "k".repeat(1024)), None).is_ok());
    }

    #[test]
    fn query_pairs_are_decoded_in_order() {
        let q = parse_query(Some("list-type=2&prefix=a%2Fb&delimiter=%2F&x")).unwrap();
        assert_eq!(q[1], ("prefix".into(), "a/b".into()));
        assert_eq!(q[3], ("x".into(), String::new()));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.logs", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "my_bucket",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            &"a".repeat(64),
            "a.-b",
        ] {
            assert_eq!(
                validate_bucket_name(bad).unwrap_err().code,
                S3ErrorCode::InvalidBucketName,
                "{bad}"
            );
        }
    }
}
