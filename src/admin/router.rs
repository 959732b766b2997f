//! (method, path) -> `Route`: a plain match on the path's segments. An unknown path is
//! `NoSuchRoute` (404); a known path with another method is `MethodNotAllowed` (405) naming the
//! methods it has. Segments are percent-decoded, so ids and names may be sent escaped.

use http::Method;
use percent_encoding::percent_decode_str;

use super::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Status,
    Health,
    ListKeys,
    CreateKey,
    ImportKey,
    GetKey { access_key_id: String },
    DeleteKey { access_key_id: String },
    UpdateKey { access_key_id: String },
    ListBuckets,
    GetBucket { bucket: String },
    PutGrant { bucket: String, access_key_id: String },
    Explain { bucket: String },
    ClusterStatus,
    StageChange,
    ClearChanges,
    ApplyChanges,
    ForgetNode,
    Repair,
    Metrics,
    BucketUsage { bucket: String },
    ListObjects { bucket: String },
    GetObject { bucket: String, key: String },
    PutObject { bucket: String, key: String },
    ObjectLink { bucket: String, key: String },
}

impl Route {
    /// A short name for the request span.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status => "Status",
            Self::Health => "Health",
            Self::ListKeys => "ListKeys",
            Self::CreateKey => "CreateKey",
            Self::ImportKey => "ImportKey",
            Self::GetKey { .. } => "GetKey",
            Self::DeleteKey { .. } => "DeleteKey",
            Self::UpdateKey { .. } => "UpdateKey",
            Self::ListBuckets => "ListBuckets",
            Self::GetBucket { .. } => "GetBucket",
            Self::PutGrant { .. } => "PutGrant",
            Self::Explain { .. } => "Explain",
            Self::ClusterStatus => "ClusterStatus",
            Self::StageChange => "StageChange",
            Self::ClearChanges => "ClearChanges",
            Self::ApplyChanges => "ApplyChanges",
            Self::ForgetNode => "ForgetNode",
            Self::Repair => "Repair",
            Self::Metrics => "Metrics",
            Self::BucketUsage { .. } => "BucketUsage",
            Self::ListObjects { .. } => "ListObjects",
            Self::GetObject { .. } => "GetObject",
            Self::PutObject { .. } => "PutObject",
            Self::ObjectLink { .. } => "ObjectLink",
        }
    }
}

pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let not_found = || ApiError::NoSuchRoute { path: path.to_owned() };
    let segments: Vec<String> = path
        .strip_prefix('/')
        .ok_or_else(not_found)?
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().map(|s| s.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| not_found())?;
    if segments.iter().any(String::is_empty) {
        return Err(not_found());
    }
    let refuse = |allow: &'static str| ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_owned(),
        allow,
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let m = method.clone();
    match segments.as_slice() {
        ["metrics"] => match m {
            Method::GET => Ok(Route::Metrics),
            _ => Err(refuse("GET")),
        },
        ["v1", "status"] => match m {
            Method::GET => Ok(Route::Status),
            _ => Err(refuse("GET")),
        },
        ["v1", "health"] => match m {
            Method::GET => Ok(Route::Health),
            _ => Err(refuse("GET")),
        },
        ["v1", "cluster"] => match m {
            Method::GET => Ok(Route::ClusterStatus),
            _ => Err(refuse("GET")),
        },
        ["v1", "cluster", "changes"] => match m {
            Method::POST => Ok(Route::StageChange),
            Method::DELETE => Ok(Route::ClearChanges),
            _ => Err(refuse("DELETE, POST")),
        },
        ["v1", "cluster", "apply"] => match m {
            Method::POST => Ok(Route::ApplyChanges),
            _ => Err(refuse("POST")),
        },
        ["v1", "cluster", "forget"] => match m {
            Method::POST => Ok(Route::ForgetNode),
            _ => Err(refuse("POST")),
        },
        ["v1", "repair"] => match m {
            Method::POST => Ok(Route::Repair),
            _ => Err(refuse("POST")),
        },
        ["v1", "keys"] => match m {
            Method::GET => Ok(Route::ListKeys),
            Method::POST => Ok(Route::CreateKey),
            _ => Err(refuse("GET, POST")),
        },
        // `import` is also a possible key id: POST imports, the other methods address the key.
        ["v1", "keys", "import"] if m == Method::POST => Ok(Route::ImportKey),
        ["v1", "keys", id] => {
            let access_key_id = (*id).to_owned();
            match m {
                Method::GET => Ok(Route::GetKey { access_key_id }),
                Method::DELETE => Ok(Route::DeleteKey { access_key_id }),
                Method::PATCH => Ok(Route::UpdateKey { access_key_id }),
                _ if *id == "import" => Err(refuse("GET, DELETE, PATCH, POST")),
                _ => Err(refuse("GET, DELETE, PATCH")),
            }
        }
        ["v1", "buckets"] => match m {
            Method::GET => Ok(Route::ListBuckets),
            _ => Err(refuse("GET")),
        },
        ["v1", "buckets", bucket] => match m {
            Method::GET => Ok(Route::GetBucket { bucket: (*bucket).to_owned() }),
            _ => Err(refuse("GET")),
        },
        ["v1", "buckets", bucket, "explain"] => match m {
            Method::POST => Ok(Route::Explain { bucket: (*bucket).to_owned() }),
            _ => Err(refuse("POST")),
        },
        ["v1", "buckets", bucket, "usage"] => match m {
            Method::GET => Ok(Route::BucketUsage { bucket: (*bucket).to_owned() }),
            _ => Err(refuse("GET")),
        },
        ["v1", "buckets", bucket, "objects"] => match m {
            Method::GET => Ok(Route::ListObjects { bucket: (*bucket).to_owned() }),
            _ => Err(refuse("GET")),
        },
        // The key is one segment, its slashes escaped (%2F): `encodeURIComponent(key)`.
        ["v1", "buckets", bucket, "objects", key] => {
            let (bucket, key) = ((*bucket).to_owned(), (*key).to_owned());
            match m {
                Method::GET => Ok(Route::GetObject { bucket, key }),
                Method::PUT => Ok(Route::PutObject { bucket, key }),
                _ => Err(refuse("GET, PUT")),
            }
        }
        ["v1", "buckets", bucket, "objects", key, "link"] => match m {
            Method::POST => {
                Ok(Route::ObjectLink { bucket: (*bucket).to_owned(), key: (*key).to_owned() })
            }
            _ => Err(refuse("POST")),
        },
        ["v1", "buckets", bucket, "grants", id] => match m {
            Method::PUT => Ok(Route::PutGrant {
                bucket: (*bucket).to_owned(),
                access_key_id: (*id).to_owned(),
            }),
            _ => Err(refuse("PUT")),
        },
        _ => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> String {
        id.to_owned()
    }

    #[test]
    fn every_route_and_its_refusals() {
        let ok: &[(Method, &str, Route)] = &[
            (Method::GET, "/v1/status", Route::Status),
            (Method::GET, "/v1/health", Route::Health),
            (Method::GET, "/v1/keys", Route::ListKeys),
            (Method::POST, "/v1/keys", Route::CreateKey),
            (Method::POST, "/v1/keys/import", Route::ImportKey),
            (Method::GET, "/v1/keys/RVA", Route::GetKey { access_key_id: key("RVA") }),
            (Method::GET, "/v1/keys/import", Route::GetKey { access_key_id: key("import") }),
            (Method::DELETE, "/v1/keys/RVA", Route::DeleteKey { access_key_id: key("RVA") }),
            (Method::PATCH, "/v1/keys/RVA", Route::UpdateKey { access_key_id: key("RVA") }),
            (Method::GET, "/v1/buckets", Route::ListBuckets),
            (Method::GET, "/v1/buckets/b1", Route::GetBucket { bucket: key("b1") }),
            (
                Method::PUT,
                "/v1/buckets/b1/grants/RV%41",
                Route::PutGrant { bucket: key("b1"), access_key_id: key("RVA") },
            ),
            (Method::POST, "/v1/buckets/b1/explain", Route::Explain { bucket: key("b1") }),
            (Method::GET, "/v1/buckets/b1/usage", Route::BucketUsage { bucket: key("b1") }),
            (Method::GET, "/v1/buckets/b1/objects", Route::ListObjects { bucket: key("b1") }),
            (
                Method::GET,
                "/v1/buckets/b1/objects/docs%2Fa%20b.txt",
                Route::GetObject { bucket: key("b1"), key: key("docs/a b.txt") },
            ),
            (
                Method::PUT,
                "/v1/buckets/b1/objects/k",
                Route::PutObject { bucket: key("b1"), key: key("k") },
            ),
            (
                Method::POST,
                "/v1/buckets/b1/objects/a%2Fb/link",
                Route::ObjectLink { bucket: key("b1"), key: key("a/b") },
            ),
        ];
        for (method, path, expected) in ok {
            assert_eq!(route(method, path).unwrap(), *expected, "{method} {path}");
        }
        let refused: &[(Method, &str, u16)] = &[
            (Method::POST, "/v1/status", 405),
            (Method::PUT, "/v1/health", 405),
            (Method::DELETE, "/v1/keys", 405),
            (Method::POST, "/v1/keys/RVA", 405),
            (Method::PUT, "/v1/keys/import", 405),
            (Method::DELETE, "/v1/buckets/b1", 405),
            (Method::GET, "/v1/buckets/b1/grants/RVA", 405),
            (Method::GET, "/", 404),
            (Method::GET, "/v2/status", 404),
            (Method::GET, "/v1/keys/", 404),
            (Method::GET, "/v1/buckets/b1/grants", 404),
            (Method::GET, "/v1/keys/%FF", 404),
            (Method::DELETE, "/v1/buckets/b1/objects/k", 405),
            (Method::POST, "/v1/buckets/b1/objects", 405),
            (Method::GET, "/v1/buckets/b1/objects/a/b", 404),
        ];
        for (method, path, status) in refused {
            let err = route(method, path).unwrap_err();
            assert_eq!(err.status().as_u16(), *status, "{method} {path}: {err}");
        }
    }
}
