//! Serving the replica protocol: peers' requests run against this node's store through the same
//! `Local` replica the coordinator uses for itself.

use super::messages::{
    BlockGet, BlockPut, BlocksDelete, BodyDelete, PartitionBlocks, PartitionItems,
    ReplicaCoordinate, ReplicaGet, ReplicaMerge, ReplicaScan,
};
use super::replica::{Local, ScanRange};
use crate::rpc::Router;

/// Most items one scan request may ask for.
const SCAN_LIMIT_MAX: usize = 10_000;

/// Registers the replica protocol's handlers for `local`.
pub fn register(router: &mut Router, local: &Local) {
    let l = local.clone();
    router.register(move |_, r: ReplicaGet| {
        let l = l.clone();
        async move { Ok(l.get(r.table, r.key).await) }
    });
    let l = local.clone();
    router.register(move |_, r: ReplicaCoordinate| {
        let l = l.clone();
        async move {
            Ok(l.coordinate(
                r.table,
                r.key,
                r.context,
                r.timestamp_ms,
                r.value,
                r.only_if_unchanged,
            )
            .await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: ReplicaMerge| {
        let l = l.clone();
        async move { Ok(l.merge(r.table, r.key, r.siblings, r.hint_for).await) }
    });
    let l = local.clone();
    router.register(move |_, r: ReplicaScan| {
        let l = l.clone();
        async move {
            let range = ScanRange { start: r.start, end: r.end };
            Ok(l.scan(r.table, range, r.limit.min(SCAN_LIMIT_MAX), r.partitions).await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: BlockPut| {
        let l = l.clone();
        async move { Ok(l.put_block(r.id, r.data, r.hint_for).await) }
    });
    let l = local.clone();
    router.register(move |_, r: BlockGet| {
        let l = l.clone();
        async move { Ok(l.get_block(r.id).await) }
    });
    let l = local.clone();
    router.register(move |_, r: BlocksDelete| {
        let l = l.clone();
        async move { Ok(l.delete_blocks(r.ids).await) }
    });
    let l = local.clone();
    router.register(move |_, r: PartitionItems| {
        let l = l.clone();
        async move {
            Ok(l.partition_items(r.partitions, r.after, r.limit.min(SCAN_LIMIT_MAX))
                .await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: PartitionBlocks| {
        let l = l.clone();
        async move {
            Ok(l.partition_blocks(r.partitions, r.after, r.limit.min(SCAN_LIMIT_MAX))
                .await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: BodyDelete| {
        let l = l.clone();
        async move { Ok(l.delete_body(r.data_id).await) }
    });
}
