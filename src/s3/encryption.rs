//! Server-side encryption on the wire: the SSE request headers (SSE-C, SSE-S3, SSE-KMS), the
//! headers answers carry, and the ServerSideEncryptionConfiguration document (pure; the
//! cryptography is in `objects::crypto`).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html>

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3ErrorCode};
use super::response::{self, S3Response};
use super::xml::{self, XmlResponse};
use crate::objects::DefaultEncryption;
use crate::objects::crypto::{Encryption, Keyring, Scheme, SealedKey, SecretKey};

const SSE: &str = "x-amz-server-side-encryption";
const KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
/// SSE-C headers name the object written or read...
pub const CUSTOMER: &str = "x-amz-server-side-encryption-customer-";
/// ...or, on a copy, its source.
pub const COPY_SOURCE_CUSTOMER: &str = "x-amz-copy-source-server-side-encryption-customer-";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn invalid(message: &str, name: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message).with("ArgumentName", name)
}

/// A customer key (SSE-C) given under `prefix` (`CUSTOMER` or `COPY_SOURCE_CUSTOMER`), checked
/// as S3 checks it: algorithm AES256, a 256-bit base64 key, and the base64 MD5 of that key.
pub fn customer_key(headers: &HeaderMap, prefix: &str) -> Result<Option<SecretKey>, S3Error> {
    let name = |suffix: &str| format!("{prefix}{suffix}");
    let algorithm = header(headers, &name("algorithm"));
    let key = header(headers, &name("key"));
    let md5 = header(headers, &name("key-md5"));
    if algorithm.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    match algorithm {
        None => {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                &name("algorithm"),
            ));
        }
        Some("AES256") => {}
        Some(other) => {
            return Err(S3Error::from(S3ErrorCode::InvalidEncryptionAlgorithmError)
                .with("ArgumentName", name("algorithm"))
                .with("ArgumentValue", other));
        }
    }
    let key = key.ok_or_else(|| {
        invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
            &name("key"),
        )
    })?;
    let key = B64.decode(key).ok().and_then(|k| SecretKey::from_slice(&k)).ok_or_else(|| {
        invalid("The secret key was invalid for the specified algorithm.", &name("key"))
    })?;
    let md5 = md5.ok_or_else(|| {
        invalid(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
            &name("key-MD5"),
        )
    })?;
    if B64.decode(md5).ok().as_deref() != Some(&key_md5(&key)[..]) {
        return Err(invalid(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            &name("key-MD5"),
        ));
    }
    Ok(Some(key))
}

fn key_md5(key: &SecretKey) -> [u8; 16] {
    Md5::digest(key.as_bytes()).into()
}

/// The encryption a write asks for (PutObject, CopyObject, CreateMultipartUpload, a POST
/// form's fields): SSE-C, or `x-amz-server-side-encryption` with its KMS key id. A KMS key the
/// keyring lacks is refused here, before any byte of the body is read.
pub fn write_encryption(
    headers: &HeaderMap,
    keyring: &Keyring,
) -> Result<Option<Encryption>, S3Error> {
    let customer = customer_key(headers, CUSTOMER)?;
    let sse = header(headers, SSE);
    let kms_key_id = header(headers, KMS_KEY_ID);
    match (sse, customer) {
        (Some(_), Some(_)) => Err(invalid(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            SSE,
        )),
        (None, Some(key)) if kms_key_id.is_none() => Ok(Some(Encryption::Customer(key))),
        (None, _) => match kms_key_id {
            None => Ok(None),
            Some(_) => Err(invalid(
                "Specifying a KMS key id requires the header x-amz-server-side-encryption: aws:kms",
                KMS_KEY_ID,
            )),
        },
        (Some("AES256"), None) => match kms_key_id {
            None => Ok(Some(Encryption::Managed)),
            Some(_) => Err(invalid(
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                KMS_KEY_ID,
            )),
        },
        (Some("aws:kms"), None) => {
            let key_id = kms_key_id.filter(|id| !id.is_empty()).map(str::to_owned);
            let name = key_id.as_deref().unwrap_or(crate::objects::crypto::DEFAULT_KMS_KEY);
            if !keyring.knows_kms_key(name) {
                return Err(S3Error::new(
                    S3ErrorCode::KmsNotFound,
                    format!("Invalid keyId {name}"),
                ));
            }
            Ok(Some(Encryption::Kms { key_id }))
        }
        (Some(other), None) => {
            Err(invalid("The encryption method specified is not supported", SSE)
                .with("ArgumentValue", other))
        }
    }
}

/// GET and HEAD take only SSE-C headers: the server-side ones belong to writes.
pub fn refuse_write_headers(headers: &HeaderMap) -> Result<(), S3Error> {
    for name in [SSE, KMS_KEY_ID] {
        if headers.contains_key(name) {
            return Err(invalid(
                &format!("The {name} header is not supported for this operation."),
                name,
            ));
        }
    }
    Ok(())
}

/// The headers an answer about an encrypted object (or upload) carries: the scheme, the KMS
/// key id, or the SSE-C algorithm and the MD5 of the customer's key.
pub fn set_headers(
    response: &mut S3Response,
    sealed: Option<&SealedKey>,
    customer: Option<&SecretKey>,
) {
    let Some(sealed) = sealed else { return };
    match sealed.scheme {
        Scheme::Managed => response::set_header(response, SSE, "AES256"),
        Scheme::Kms => {
            response::set_header(response, SSE, "aws:kms");
            let id =
                sealed.kms_key_id.as_deref().unwrap_or(crate::objects::crypto::DEFAULT_KMS_KEY);
            response::set_header(response, KMS_KEY_ID, id);
        }
        Scheme::Customer => {
            response::set_header(
                response,
                "x-amz-server-side-encryption-customer-algorithm",
                "AES256",
            );
            if let Some(key) = customer {
                response::set_header(
                    response,
                    "x-amz-server-side-encryption-customer-key-MD5",
                    &B64.encode(key_md5(key)),
                );
            }
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ServerSideEncryptionConfiguration {
    #[serde(rename = "Rule", default)]
    rules: Vec<RuleXml>,
}

impl XmlResponse for ServerSideEncryptionConfiguration {
    const ROOT: &'static str = "ServerSideEncryptionConfiguration";
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RuleXml {
    #[serde(rename = "ApplyServerSideEncryptionByDefault", default)]
    apply: Option<ApplyXml>,
    #[serde(rename = "BucketKeyEnabled", default, skip_serializing_if = "Option::is_none")]
    bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ApplyXml {
    #[serde(rename = "SSEAlgorithm")]
    algorithm: String,
    #[serde(rename = "KMSMasterKeyID", default, skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
}

/// Parses and checks a PutBucketEncryption body: one rule, AES256 or aws:kms.
pub fn parse_configuration(body: &[u8]) -> Result<DefaultEncryption, S3Error> {
    let d: ServerSideEncryptionConfiguration =
        xml::from_xml_with_root(body, ServerSideEncryptionConfiguration::ROOT)?;
    let [rule] = d.rules.as_slice() else {
        return Err(S3Error::new(
            S3ErrorCode::MalformedXML,
            "The server side encryption configuration must hold exactly one rule",
        ));
    };
    let Some(apply) = &rule.apply else {
        return Err(S3Error::from(S3ErrorCode::MalformedXML));
    };
    let kms_key_id = match (apply.algorithm.as_str(), &apply.kms_key_id) {
        ("AES256", None) => None,
        ("AES256", Some(_)) => {
            return Err(invalid(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
                "ApplyServerSideEncryptionByDefault",
            ));
        }
        ("aws:kms", id) => Some(id.clone().unwrap_or_default()),
        _ => return Err(S3Error::from(S3ErrorCode::MalformedXML)),
    };
    Ok(DefaultEncryption {
        kms_key_id,
        bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
    })
}

/// The document GetBucketEncryption answers with.
pub fn to_document(config: &DefaultEncryption) -> String {
    let apply = match &config.kms_key_id {
        None => ApplyXml { algorithm: "AES256".into(), kms_key_id: None },
        Some(id) => ApplyXml {
            algorithm: "aws:kms".into(),
            kms_key_id: (!id.is_empty()).then(|| id.clone()),
        },
    };
    let rule = RuleXml { apply: Some(apply), bucket_key_enabled: Some(config.bucket_key_enabled) };
    ServerSideEncryptionConfiguration { rules: vec![rule] }.to_xml()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const KEY_MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn sse_c(alg: &str, key: &str, md5: &str) -> HeaderMap {
        headers(&[
            ("x-amz-server-side-encryption-customer-algorithm", alg),
            ("x-amz-server-side-encryption-customer-key", key),
            ("x-amz-server-side-encryption-customer-key-md5", md5),
        ])
    }

    fn keyring() -> Keyring {
        let named = Keyring::parse_named(&format!("testkey-1 = \"{KEY}\"")).unwrap();
        Keyring::new(None, named, rand::SeedableRng::seed_from_u64(1))
    }

    fn code(r: Result<Option<Encryption>, S3Error>) -> S3ErrorCode {
        r.unwrap_err().code
    }

    #[test]
    fn customer_keys_are_checked_like_s3() {
        let ring = keyring();
        let ok = write_encryption(&sse_c("AES256", KEY, KEY_MD5), &ring).unwrap();
        assert!(matches!(ok, Some(Encryption::Customer(_))));
        let bad_md5 = sse_c("AES256", KEY, "AAAAAAAAAAAAAAAAAAAAAA==");
        assert_eq!(code(write_encryption(&bad_md5, &ring)), S3ErrorCode::InvalidArgument);
        let bad_alg = sse_c("AES192", KEY, KEY_MD5);
        assert_eq!(
            code(write_encryption(&bad_alg, &ring)),
            S3ErrorCode::InvalidEncryptionAlgorithmError
        );
        let short = sse_c("AES256", "c2hvcnQ=", KEY_MD5);
        assert_eq!(code(write_encryption(&short, &ring)), S3ErrorCode::InvalidArgument);
        let no_alg = headers(&[("x-amz-server-side-encryption-customer-key", KEY)]);
        assert_eq!(code(write_encryption(&no_alg, &ring)), S3ErrorCode::InvalidArgument);
        let no_key = headers(&[("x-amz-server-side-encryption-customer-algorithm", "AES256")]);
        assert_eq!(code(write_encryption(&no_key, &ring)), S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn server_side_headers_are_checked_like_s3() {
        let ring = keyring();
        let h = headers(&[(SSE, "AES256")]);
        assert_eq!(write_encryption(&h, &ring).unwrap(), Some(Encryption::Managed));
        let kms = headers(&[(SSE, "aws:kms"), (KMS_KEY_ID, "testkey-1")]);
        assert!(matches!(write_encryption(&kms, &ring).unwrap(), Some(Encryption::Kms { .. })));
        let unknown = headers(&[(SSE, "aws:kms"), (KMS_KEY_ID, "nope")]);
        assert_eq!(code(write_encryption(&unknown, &ring)), S3ErrorCode::KmsNotFound);
        for bad in [
            headers(&[(SSE, "aes:kms")]),
            headers(&[(KMS_KEY_ID, "testkey-1")]),
            headers(&[(SSE, "AES256"), (KMS_KEY_ID, "testkey-1")]),
        ] {
            assert_eq!(code(write_encryption(&bad, &ring)), S3ErrorCode::InvalidArgument);
        }
        let mut both = sse_c("AES256", KEY, KEY_MD5);
        both.insert(SSE, "aws:kms".parse().unwrap());
        assert_eq!(code(write_encryption(&both, &ring)), S3ErrorCode::InvalidArgument);
        assert!(refuse_write_headers(&headers(&[(SSE, "AES256")])).is_err());
        assert!(refuse_write_headers(&sse_c("AES256", KEY, KEY_MD5)).is_ok());
    }

    #[test]
    fn bucket_configuration_round_trips() {
        let body = b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>testkey-1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";
        let config = parse_configuration(body).unwrap();
        assert_eq!(config.kms_key_id.as_deref(), Some("testkey-1"));
        assert!(config.bucket_key_enabled);
        let doc = to_document(&config);
        assert!(doc.contains("<KMSMasterKeyID>testkey-1</KMSMasterKeyID>"), "{doc}");
        assert_eq!(parse_configuration(doc.as_bytes()).unwrap(), config);
        let bad = b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
        assert_eq!(parse_configuration(bad).unwrap_err().code, S3ErrorCode::MalformedXML);
    }
}
