//! Commands of the `ringvault` binary beyond `server`, `key` and `bucket`: cluster membership
//! through a node's admin API, and `dev`, a local multi-node ring in one process.

pub mod cluster;
pub mod dev;
