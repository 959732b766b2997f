//! Authentication of browser form uploads (POST object): the form carries a base64 policy
//! document and its signature, SigV4 (`x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
//! `x-amz-signature`: hex HMAC-SHA256 of the policy under the day's signing key) or SigV2
//! (`AWSAccessKeyId`, `signature`: base64 HMAC-SHA1 of the policy under the secret).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html>

use super::{check_scope, key_for, sigv2, sigv4};
use crate::objects::ObjectService;
use crate::s3::error::{S3Error, S3ErrorCode};

/// The fields of a form that carry its signature.
#[derive(Debug, Clone, Copy)]
pub struct FormSignature<'a> {
    /// The base64 policy, exactly as sent (the signature covers these bytes).
    pub policy: &'a str,
    /// The form's fields, names lower-cased.
    pub fields: &'a [(String, String)],
}

fn missing(name: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        format!(
            "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
        ),
    )
    .with("ArgumentName", name)
}

fn mismatch() -> S3Error {
    S3Error::new(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

/// Checks a form's signature over its policy; the key that signed it.
pub async fn authenticate_form(
    form: FormSignature<'_>,
    objects: &ObjectService,
    region: &str,
) -> Result<String, S3Error> {
    let field = |name: &str| form.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if let Some(algorithm) = field("x-amz-algorithm") {
        if algorithm != "AWS4-HMAC-SHA256" {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("The algorithm {algorithm} is not supported."),
            )
            .with("ArgumentName", "x-amz-algorithm"));
        }
        let credential = field("x-amz-credential").ok_or_else(|| missing("x-amz-credential"))?;
        let amz_date = field("x-amz-date").ok_or_else(|| missing("x-amz-date"))?;
        let provided = field("x-amz-signature").ok_or_else(|| missing("x-amz-signature"))?;
        let credential = sigv4::Credential::parse(credential).map_err(|reason| {
            S3Error::new(S3ErrorCode::InvalidArgument, format!("Invalid credential: {reason}"))
                .with("ArgumentName", "x-amz-credential")
        })?;
        check_scope(&credential, amz_date, region, S3ErrorCode::InvalidArgument)?;
        let key = key_for(objects, &credential.access_key_id).await?;
        let signing_key = sigv4::signing_key(
            &key.secret_access_key,
            &credential.date,
            &credential.region,
            &credential.service,
        )?;
        let expected = sigv4::signature(&signing_key, form.policy);
        if !sigv4::signatures_match(&expected, &provided.to_ascii_lowercase()) {
            return Err(mismatch());
        }
        return Ok(credential.access_key_id);
    }
    let access_key_id = field("awsaccesskeyid").ok_or_else(|| missing("AWSAccessKeyId"))?;
    let provided = field("signature").ok_or_else(|| missing("Signature"))?;
    let key = key_for(objects, access_key_id).await?;
    let expected = sigv2::signature(&key.secret_access_key, form.policy);
    if !sigv2::signatures_match(&expected, provided) {
        return Err(mismatch());
    }
    Ok(access_key_id.to_owned())
}
