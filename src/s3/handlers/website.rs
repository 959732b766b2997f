//! Static websites: Put/Get/DeleteBucketWebsite, and the website endpoint, which serves a
//! bucket's objects to browsers (anonymous requests, as a policy or ACL allows them) with
//! index documents, redirects and HTML error pages.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteEndpoints.html>

use http::{HeaderValue, Request, Response, StatusCode};

use super::object::quoted;
use super::{Handlers, read_small_body};
use crate::access::{self, Asking, Facts, Verdict};
use crate::objects::{self, BucketInfo, ObjectInfo, WebsiteConfig};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::website::{self, Plan, Redirect};

const BODY_BYTES_MAX: usize = 64 << 10;

fn html(status: u16, code: &str, message: &str) -> S3Response {
    let mut r = Response::new(response::full(website::error_page(status, code, message)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

fn redirect(to: &Redirect) -> S3Response {
    let mut r = response::status_only(
        StatusCode::from_u16(to.status).unwrap_or(StatusCode::MOVED_PERMANENTLY),
    );
    response::set_header(&mut r, "location", &to.location);
    r
}

/// A request to the website endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebsiteRequest<'a> {
    pub bucket: &'a str,
    /// The path, decoded, without its leading `/`.
    pub key: &'a str,
    pub host: &'a str,
    pub head: bool,
    pub facts: &'a Facts,
}

/// Why an object could not be served.
enum Missing {
    NotFound,
    Denied,
}

impl Handlers<'_> {
    pub async fn put_bucket_website<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_WEBSITE).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let config = website::parse(&body)?;
        self.set_bucket_config(ctx, StatusCode::OK, |c| c.website = Some(config.clone())).await
    }

    pub async fn get_bucket_website(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_WEBSITE).await?;
        let config = bucket.config.website.ok_or(S3ErrorCode::NoSuchWebsiteConfiguration)?;
        Ok(response::xml_response(website::to_document(&config)))
    }

    pub async fn delete_bucket_website(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_WEBSITE).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.website = None).await
    }

    /// Serves a website request: never an XML error, always a page or a redirect.
    pub(crate) async fn serve_website(&self, r: WebsiteRequest<'_>) -> S3Response {
        let bucket = match self.objects.bucket(r.bucket).await {
            Ok(b) => b,
            Err(objects::Error::NoSuchBucket) => {
                return html(404, "NoSuchBucket", "The specified bucket does not exist");
            }
            Err(e) => return html(503, "ServiceUnavailable", &e.to_string()),
        };
        let Some(config) = bucket.config.website.clone() else {
            return html(
                404,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
            );
        };
        let key = match website::plan(&config, r.key, r.host) {
            Plan::Redirect(to) => return redirect(&to),
            Plan::Serve(key) => key,
        };
        let missing = match self.website_object(&bucket, &key, r.facts).await {
            Ok(info) => return self.website_body(&info, r.head, StatusCode::OK).await,
            Err(missing) => missing,
        };
        if matches!(missing, Missing::NotFound) && !key.ends_with('/') && key == r.key {
            // A "directory" without its slash: send the browser to it.
            let index = config.index_suffix.as_deref().unwrap_or("index.html");
            if self.website_object(&bucket, &format!("{key}/{index}"), r.facts).await.is_ok() {
                return redirect(&Redirect { status: 302, location: format!("/{key}/") });
            }
        }
        let (status, code, message) = match missing {
            Missing::Denied => (403, "AccessDenied", "Access Denied"),
            Missing::NotFound => (404, "NoSuchKey", "The specified key does not exist."),
        };
        self.website_error(&bucket, &config, &r, status, code, message).await
    }

    async fn website_error(
        &self,
        bucket: &BucketInfo,
        config: &WebsiteConfig,
        r: &WebsiteRequest<'_>,
        status: u16,
        code: &str,
        message: &str,
    ) -> S3Response {
        if let Some(to) = website::on_error(config, r.key, r.host, status) {
            return redirect(&to);
        }
        if let Some(error_key) = &config.error_key
            && let Ok(info) = self.website_object(bucket, error_key, r.facts).await
        {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
            return self.website_body(&info, r.head, status).await;
        }
        html(status, code, message)
    }

    /// The current version of `key`, if an anonymous reader may have it.
    async fn website_object(
        &self,
        bucket: &BucketInfo,
        key: &str,
        facts: &Facts,
    ) -> Result<ObjectInfo, Missing> {
        let asking = Asking { principal: None, action: access::GET_OBJECT, key: Some(key), facts };
        let verdict = access::decide(bucket, &asking);
        if verdict == Verdict::Deny {
            return Err(Missing::Denied);
        }
        let info = self
            .objects
            .object_version(&bucket.name, key, None)
            .await
            .map_err(|_| Missing::NotFound)?;
        let allowed = match verdict {
            Verdict::Allow => true,
            Verdict::ObjectAcl(p) => {
                access::object_permits(bucket, None, info.owner(), &info.acl(), p)
            }
            Verdict::Deny => false,
        };
        if allowed { Ok(info) } else { Err(Missing::Denied) }
    }

    async fn website_body(&self, info: &ObjectInfo, head: bool, status: StatusCode) -> S3Response {
        let size = info.size();
        let body = if head || size == 0 {
            response::empty()
        } else {
            match self.objects.open_object(info, 0, size - 1).await {
                Ok(stream) => response::streaming(stream),
                Err(e) => return html(503, "ServiceUnavailable", &e.to_string()),
            }
        };
        let mut r = Response::new(body);
        *r.status_mut() = status;
        let content_type =
            info.headers().content_type.clone().unwrap_or_else(|| "binary/octet-stream".into());
        response::set_header(&mut r, "content-type", &content_type);
        response::set_header(&mut r, "content-length", &size.to_string());
        response::set_header(&mut r, "etag", &quoted(info.etag()));
        let modified = super::bucket::time_of(info.last_modified_ms());
        response::set_header(&mut r, "last-modified", &httpdate::fmt_http_date(modified.into()));
        r
    }
}
