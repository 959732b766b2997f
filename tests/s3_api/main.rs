//! S3 API integration tests: a real node in this process, driven by the official aws-sdk-s3
//! client (and raw HTTP where a malformed request is the point). One node per test, port 0.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod addressing;
mod attributes;
mod auth;
mod buckets;
mod cancellation;
mod conditional;
mod copy;
mod cors;
mod encryption;
mod lifecycle;
mod list;
mod loadgen;
mod lock;
mod malformed;
mod multipart;
mod objects;
mod post;
mod sigv2;
mod tagging;
mod versioning;
mod website;
