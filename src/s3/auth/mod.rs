//! Request authentication: SigV4 or SigV2, in the Authorization header or in a presigned
//! query, and the payload mode that tells how the body must be verified as it streams.
//!
//! Invariant: a request leaves here either rejected with the S3 error AWS would send, or with a
//! principal and a `PayloadMode` that makes the body stream fail unless the payload matches what
//! was signed. SigV2 signs no payload, so its mode is `Unsigned` (a sent Content-MD5 is still
//! checked by the object layer). Secrets never leave this module except as derived signing keys.
//! References: <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html> (SigV2)

mod body;
pub(in crate::s3) mod chunked;
mod form;
mod sigv2;
pub(in crate::s3) mod sigv4;

use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, Method};

use super::error::{S3Error, S3ErrorCode};
use crate::objects::{AccessKey, ObjectService};

pub use body::{PayloadMode, verified_body};
pub use form::{FormSignature, authenticate_form};

/// Largest clock difference between client and server.
const SKEW_MAX: Duration = Duration::minutes(15);

/// Who is asking, and how their body must be checked.
#[derive(Debug)]
pub struct Authenticated {
    /// The key that signed the request; `None` for an anonymous request.
    pub principal: Option<String>,
    pub allow_create_bucket: bool,
    pub payload: PayloadMode,
}

/// The parts of a request that authentication reads.
#[derive(Debug, Clone, Copy)]
pub struct AuthInput<'a> {
    pub method: &'a Method,
    pub raw_path: &'a str,
    /// The query as sent, without `?`; empty for none.
    pub raw_query: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    /// The bucket named by the host in virtual-hosted style (SigV2 signs it).
    pub vhost_bucket: Option<&'a str>,
}

/// Authenticates a request. A request with no signature at all is anonymous (what it may do is
/// for the bucket's policy and ACLs to say).
pub async fn authenticate(
    input: AuthInput<'_>,
    objects: &ObjectService,
    region: &str,
    now: DateTime<Utc>,
) -> Result<Authenticated, S3Error> {
    if let Some(auth) = input.headers.get(http::header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| {
            S3Error::new(
                S3ErrorCode::AuthorizationHeaderMalformed,
                "The authorization header is malformed.",
            )
        })?;
        if auth.starts_with("AWS ") {
            return v2_header_auth(input, auth, objects, now).await;
        }
        return header_auth(input, auth, objects, region, now).await;
    }
    if let Some(presigned) = sigv4::parse_presigned(input.query)? {
        return presigned_auth(input, presigned, objects, region, now).await;
    }
    if let Some(presigned) = sigv2::parse_presigned(input.query)? {
        return v2_presigned_auth(input, presigned, objects, now).await;
    }
    Ok(Authenticated {
        principal: None,
        allow_create_bucket: false,
        payload: PayloadMode::Unsigned,
    })
}

fn header_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

fn request_time(headers: &HeaderMap) -> Result<(String, DateTime<Utc>), S3Error> {
    if let Some(v) = header_value(headers, "x-amz-date") {
        let t = sigv4::parse_amz_date(v).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::AccessDenied,
                "AWS authentication requires a valid Date or x-amz-date header",
            )
        })?;
        return Ok((v.to_owned(), t));
    }
    // botocore signs with Date alone when the request has one, as `... -0000` (RFC 2822).
    if let Some(t) = header_value(headers, "date").and_then(sigv2::parse_date) {
        return Ok((t.format("%Y%m%dT%H%M%SZ").to_string(), t));
    }
    Err(S3Error::new(
        S3ErrorCode::AccessDenied,
        "AWS authentication requires a valid Date or x-amz-date header",
    ))
}

fn check_scope(
    credential: &sigv4::Credential,
    amz_date: &str,
    region: &str,
    code: S3ErrorCode,
) -> Result<(), S3Error> {
    if credential.region != region {
        return Err(S3Error::new(
            code,
            format!(
                "The authorization header is malformed; the region '{}' is wrong; expecting '{region}'",
                credential.region
            ),
        )
        .with("Region", region));
    }
    if credential.service != "s3" {
        return Err(S3Error::new(code, format!("The service '{}' is not s3.", credential.service)));
    }
    if !amz_date.starts_with(&credential.date) {
        return Err(S3Error::new(
            code,
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    Ok(())
}

async fn key_for(objects: &ObjectService, access_key_id: &str) -> Result<AccessKey, S3Error> {
    match objects.access_key(access_key_id).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => {
            Err(S3Error::from(S3ErrorCode::InvalidAccessKeyId)
                .with("AWSAccessKeyId", access_key_id))
        }
        // A quorum failure is a 503 the client retries, as for any other request.
        Err(e) => Err(super::handlers::map_error(e)),
    }
}

/// The payload mode named by `x-amz-content-sha256`.
fn payload_mode(
    value: &str,
    signing_key: &[u8],
    amz_date: &str,
    scope: &str,
    seed_signature: &str,
) -> Result<PayloadMode, S3Error> {
    let streaming = |trailer| PayloadMode::StreamingSigned {
        signing_key: signing_key.to_vec(),
        amz_date: amz_date.to_owned(),
        scope: scope.to_owned(),
        seed_signature: seed_signature.to_owned(),
        trailer,
    };
    match value {
        "UNSIGNED-PAYLOAD" => Ok(PayloadMode::Unsigned),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(PayloadMode::StreamingUnsignedTrailer),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Ok(streaming(false)),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Ok(streaming(true)),
        v if v.starts_with("STREAMING-AWS4-ECDSA") => Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "SigV4A streaming payloads are not supported.",
        )),
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(PayloadMode::Sha256 { expected_hex: v.to_ascii_lowercase() })
        }
        _ => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.",
        )
        .with("ArgumentName", "x-amz-content-sha256")),
    }
}

struct Verification<'a> {
    credential: &'a sigv4::Credential,
    signed_headers: &'a [String],
    signature: &'a str,
    amz_date: &'a str,
    payload_hash: &'a str,
    exclude_query: &'a [&'a str],
}

/// Checks the signature; returns the signing key for chunk verification.
fn verify(input: AuthInput<'_>, secret: &str, v: &Verification<'_>) -> Result<Vec<u8>, S3Error> {
    let key = sigv4::signing_key(
        secret,
        &v.credential.date,
        &v.credential.region,
        &v.credential.service,
    )?;
    let query = sigv4::canonical_query(input.query, v.exclude_query);
    let headers = header_pairs(input.headers);
    let scope = v.credential.scope();
    let mut last = None;
    // The canonical URI is the re-encoded decoded path; some clients sign the path exactly as
    // sent instead, which differs only for characters they left unencoded.
    for uri in [sigv4::canonical_uri(input.raw_path), input.raw_path.to_owned()] {
        let canonical = sigv4::canonical_request(
            input.method.as_str(),
            &uri,
            &query,
            &headers,
            v.signed_headers,
            v.payload_hash,
        )?;
        let string_to_sign = sigv4::string_to_sign(v.amz_date, &scope, &canonical);
        if sigv4::signatures_match(&sigv4::signature(&key, &string_to_sign), v.signature) {
            return Ok(key);
        }
        last.get_or_insert((string_to_sign, canonical));
    }
    let (string_to_sign, canonical) = last.unwrap_or_default();
    Err(S3Error::from(S3ErrorCode::SignatureDoesNotMatch)
        .with("AWSAccessKeyId", v.credential.access_key_id.clone())
        .with("StringToSign", string_to_sign)
        .with("SignatureProvided", v.signature)
        .with("CanonicalRequest", canonical))
}

async fn header_auth(
    input: AuthInput<'_>,
    value: &str,
    objects: &ObjectService,
    region: &str,
    now: DateTime<Utc>,
) -> Result<Authenticated, S3Error> {
    let auth = sigv4::parse_authorization(value)?;
    let (amz_date, time) = request_time(input.headers)?;
    if (now - time).abs() > SKEW_MAX {
        return Err(skewed(&amz_date, now));
    }
    check_scope(&auth.credential, &amz_date, region, S3ErrorCode::AuthorizationHeaderMalformed)?;
    let payload_hash = header_value(input.headers, "x-amz-content-sha256").ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: x-amz-content-sha256",
        )
    })?;
    let key = key_for(objects, &auth.credential.access_key_id).await?;
    let signing_key = verify(
        input,
        &key.secret_access_key,
        &Verification {
            credential: &auth.credential,
            signed_headers: &auth.signed_headers,
            signature: &auth.signature,
            amz_date: &amz_date,
            payload_hash,
            exclude_query: &[],
        },
    )?;
    let payload = payload_mode(
        payload_hash,
        &signing_key,
        &amz_date,
        &auth.credential.scope(),
        &auth.signature,
    )?;
    Ok(Authenticated {
        principal: Some(auth.credential.access_key_id),
        allow_create_bucket: key.allow_create_bucket,
        payload,
    })
}

async fn presigned_auth(
    input: AuthInput<'_>,
    p: sigv4::PresignedV4,
    objects: &ObjectService,
    region: &str,
    now: DateTime<Utc>,
) -> Result<Authenticated, S3Error> {
    let time = sigv4::parse_amz_date(&p.amz_date).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::AuthorizationQueryParametersError,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    })?;
    check_scope(
        &p.credential,
        &p.amz_date,
        region,
        S3ErrorCode::AuthorizationQueryParametersError,
    )?;
    if time - now > SKEW_MAX {
        return Err(S3Error::new(S3ErrorCode::AccessDenied, "Request is not valid yet"));
    }
    let expires = i64::try_from(p.expires_secs).unwrap_or(i64::MAX);
    if now > time + Duration::seconds(expires) {
        return Err(S3Error::new(S3ErrorCode::AccessDenied, "Request has expired")
            .with("X-Amz-Expires", p.expires_secs.to_string())
            .with(
                "Expires",
                (time + Duration::seconds(expires)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            )
            .with("ServerTime", now.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    let payload_hash =
        header_value(input.headers, "x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    let key = key_for(objects, &p.credential.access_key_id).await?;
    let signing_key = verify(
        input,
        &key.secret_access_key,
        &Verification {
            credential: &p.credential,
            signed_headers: &p.signed_headers,
            signature: &p.signature,
            amz_date: &p.amz_date,
            payload_hash,
            exclude_query: &["X-Amz-Signature"],
        },
    )?;
    let payload =
        payload_mode(payload_hash, &signing_key, &p.amz_date, &p.credential.scope(), &p.signature)?;
    Ok(Authenticated {
        principal: Some(p.credential.access_key_id),
        allow_create_bucket: key.allow_create_bucket,
        payload,
    })
}

fn skewed(request_time: &str, now: DateTime<Utc>) -> S3Error {
    S3Error::from(S3ErrorCode::RequestTimeTooSkewed)
        .with("RequestTime", request_time)
        .with("ServerTime", now.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .with("MaxAllowedSkewMilliseconds", "900000")
}

/// Checks a SigV2 signature against every reading of the request's string to sign.
fn v2_verify(
    input: AuthInput<'_>,
    secret: &str,
    access_key_id: &str,
    provided: &str,
    expires: Option<&str>,
) -> Result<(), S3Error> {
    let headers = header_pairs(input.headers);
    let strings = sigv2::strings_to_sign(&sigv2::SigningInput {
        method: input.method.as_str(),
        raw_path: input.raw_path,
        raw_query: input.raw_query,
        query: input.query,
        headers: &headers,
        vhost_bucket: input.vhost_bucket,
        expires,
    });
    if strings.iter().any(|s| sigv2::signatures_match(&sigv2::signature(secret, s), provided)) {
        return Ok(());
    }
    let string_to_sign = strings.into_iter().next().unwrap_or_default();
    Err(S3Error::from(S3ErrorCode::SignatureDoesNotMatch)
        .with("AWSAccessKeyId", access_key_id)
        .with("StringToSign", string_to_sign.clone())
        .with("SignatureProvided", provided)
        .with("StringToSignBytes", sigv2::string_to_sign_bytes(&string_to_sign)))
}

async fn v2_header_auth(
    input: AuthInput<'_>,
    value: &str,
    objects: &ObjectService,
    now: DateTime<Utc>,
) -> Result<Authenticated, S3Error> {
    let auth = sigv2::parse_authorization(value)?;
    let missing_date = || {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    };
    // x-amz-date, when present, is the date that counts (it is also the one signed).
    let date = header_value(input.headers, "x-amz-date")
        .or_else(|| header_value(input.headers, "date"))
        .ok_or_else(missing_date)?;
    let time = sigv2::parse_date(date).ok_or_else(missing_date)?;
    if (now - time).abs() > SKEW_MAX {
        return Err(skewed(date, now));
    }
    let key = key_for(objects, &auth.access_key_id).await?;
    v2_verify(input, &key.secret_access_key, &auth.access_key_id, &auth.signature, None)?;
    Ok(Authenticated {
        principal: Some(auth.access_key_id),
        allow_create_bucket: key.allow_create_bucket,
        payload: PayloadMode::Unsigned,
    })
}

async fn v2_presigned_auth(
    input: AuthInput<'_>,
    p: sigv2::PresignedV2,
    objects: &ObjectService,
    now: DateTime<Utc>,
) -> Result<Authenticated, S3Error> {
    if now.timestamp() > p.expires_epoch_secs {
        let expires = DateTime::<Utc>::from_timestamp(p.expires_epoch_secs, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| p.expires.clone());
        return Err(S3Error::new(S3ErrorCode::AccessDenied, "Request has expired")
            .with("Expires", expires)
            .with("ServerTime", now.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    let key = key_for(objects, &p.access_key_id).await?;
    v2_verify(input, &key.secret_access_key, &p.access_key_id, &p.signature, Some(&p.expires))?;
    Ok(Authenticated {
        principal: Some(p.access_key_id),
        allow_create_bucket: key.allow_create_bucket,
        payload: PayloadMode::Unsigned,
    })
}
