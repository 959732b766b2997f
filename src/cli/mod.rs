//! Commands of the `ringvault` binary beyond `server`, `key` and `bucket`: cluster membership
//! through a node's admin API, `dev`, a local multi-node ring in one process, and `bench`, the
//! load generator.

pub mod bench;
pub mod cluster;
pub mod dev;
