//! Cluster tests: several real nodes in this process, talking over TCP on loopback, driven by
//! aws-sdk-s3. Goal: every S3 operation works against any node of a ring, acknowledged writes
//! survive a node's loss, and hints hand off when it returns. Method: start nodes on port 0 with
//! a shared secret, join them through the first node's RPC address, apply a layout, then stop
//! and restart nodes while checking what each node serves.

#[path = "../common/mod.rs"]
mod common;

mod access;
mod consensus;
mod elastic;
mod gc;
mod membership;
mod process;
mod repair;
mod ring;
mod versioning;
