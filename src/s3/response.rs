//! Building responses: bodies, XML documents and S3 error responses.

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

use super::error::S3Error;
use super::xml;
use crate::objects::{BodyError, ByteStream};

/// The body type of every S3 response.
pub type ResponseBody = UnsyncBoxBody<Bytes, BodyError>;

pub type S3Response = Response<ResponseBody>;

pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

pub fn empty() -> ResponseBody {
    full(Bytes::new())
}

pub fn streaming(stream: ByteStream) -> ResponseBody {
    StreamBody::new(stream.map(|chunk| chunk.map(http_body::Frame::data))).boxed_unsync()
}

/// A 200 response with an XML document.
pub fn xml_response(body: String) -> S3Response {
    let mut response = Response::new(full(body));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

pub fn status_only(status: StatusCode) -> S3Response {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    response
}

/// The S3 error response; HEAD requests and 304s get the status without a body, as S3 sends.
pub fn error_response(err: &S3Error, request_id: &str, with_body: bool) -> S3Response {
    let status = err.code.status();
    let mut response = if !with_body || status == StatusCode::NOT_MODIFIED {
        status_only(status)
    } else {
        let mut response = xml_response(xml::s3_error_xml(err, request_id));
        *response.status_mut() = status;
        response
    };
    for (name, value) in &err.headers {
        set_header(&mut response, name, value);
    }
    response
}

/// Sets a header from a string, skipping values that are not valid header text.
pub fn set_header(response: &mut S3Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}
