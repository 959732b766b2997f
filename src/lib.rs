//! RingVault: an S3-compatible object store on a Dynamo-style replicated ring.
//!
//! Layers, top to bottom (imports point down only; see ARCHITECTURE.md):
//!
//! ```text
//! node            composition root: wires the layers, owns shutdown
//! s3 | admin      HTTP front ends: S3 (routing, SigV4, XML, S3 errors) | admin API (token, JSON)
//! objects         S3 semantics: buckets, object versions, blocks, listing, keys
//! coordinator     quorum get/put/scan over preference lists
//! ring            partitions, layouts, preference lists
//! causality       vector clocks and sibling sets (pure)
//! store           node-local redb persistence (the only redb user)
//! ```
//!
//! Beside the layers, `loadgen` is `ringvault bench`: an S3 client that loads any S3 endpoint.

pub mod access;
pub mod admin;
pub mod causality;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod consensus;
pub mod coordinator;
pub mod loadgen;
pub mod metrics;
pub mod node;
pub mod objects;
pub mod ring;
pub mod rpc;
pub mod s3;
pub mod store;
pub mod tasks;
pub mod telemetry;
