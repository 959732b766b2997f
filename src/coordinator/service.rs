//! Serving the replica protocol: peers' requests run against this node's store through the same
//! `Local` replica the coordinator uses for itself.

use super::messages::{
    BlockGet, BlockPut, BlocksDelete, BodyDelete, ItemsGet, ItemsMerge, PartitionBlocks,
    PartitionItems, PartitionPaxos, PaxosPending, PaxosStep, PurgeCheck, PurgeItems,
    ReplicaCoordinate, ReplicaGet, ReplicaMerge, ReplicaScan, TreeChildren, TreeEntries, TreeNodes,
};
use super::replica::{Local, ReplicaError, ScanRange};
use crate::ring::Ring;
use crate::rpc::Router;

/// Most items one scan request may ask for.
const SCAN_LIMIT_MAX: usize = 10_000;
/// Most tree nodes, entries or items one anti-entropy request may ask for.
const TREE_LIMIT_MAX: usize = 4096;

/// A node that left the layout and said it holds nothing (`Ring::drained`) takes no copies: the
/// tombstone purge no longer waits for it, so whatever it took could outlive a purge. The
/// writer moves on to the next stand-in.
fn refuse_if_drained(ring: &Ring) -> Result<(), ReplicaError> {
    if ring.drained() {
        return Err(ReplicaError::Unavailable {
            reason: "this node left the layout and holds nothing; it takes no copies".into(),
        });
    }
    Ok(())
}

/// Registers the replica protocol's handlers for `local`.
pub fn register(router: &mut Router, local: &Local, ring: &Ring) {
    let l = local.clone();
    router.register(move |_, r: ReplicaGet| {
        let l = l.clone();
        async move { Ok(l.get(r.table, r.key).await) }
    });
    let l = local.clone();
    let g = ring.clone();
    router.register(move |_, r: ReplicaCoordinate| {
        let (l, drained) = (l.clone(), refuse_if_drained(&g));
        async move {
            Ok(match drained {
                Ok(()) => l.coordinate(r.table, r.key, r.context, r.timestamp_ms, r.value).await,
                Err(e) => Err(e),
            })
        }
    });
    let l = local.clone();
    router.register(move |_, r: PaxosStep| {
        let l = l.clone();
        async move { Ok(l.paxos(r.table, r.key, r.request, r.layout).await) }
    });
    let l = local.clone();
    router.register(move |_, r: PaxosPending| {
        let l = l.clone();
        async move { Ok(l.paxos_pending(r.table, r.key).await) }
    });
    let l = local.clone();
    let g = ring.clone();
    router.register(move |_, r: ReplicaMerge| {
        let (l, drained) = (l.clone(), refuse_if_drained(&g));
        async move {
            Ok(match drained {
                Ok(()) => l.merge(r.table, r.key, r.siblings, r.hint_for).await,
                Err(e) => Err(e),
            })
        }
    });
    let l = local.clone();
    router.register(move |_, r: ReplicaScan| {
        let l = l.clone();
        async move {
            let range = ScanRange { start: r.start, end: r.end };
            let limit = r.limit.min(SCAN_LIMIT_MAX);
            Ok(l.scan(r.table, range, limit, r.partitions, r.grouping).await)
        }
    });
    let l = local.clone();
    let g = ring.clone();
    router.register(move |_, r: BlockPut| {
        let (l, drained) = (l.clone(), refuse_if_drained(&g));
        async move {
            Ok(match drained {
                Ok(()) => l.put_block(r.id, r.data, r.hint_for).await,
                Err(e) => Err(e),
            })
        }
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
    router.register(move |_, r: PartitionPaxos| {
        let l = l.clone();
        async move {
            let limit = r.limit.min(SCAN_LIMIT_MAX);
            Ok(l.partition_paxos(r.partitions, r.layout, r.after, limit).await)
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
    router.register(move |_, r: TreeNodes| {
        let l = l.clone();
        async move {
            if r.nodes.len() > TREE_LIMIT_MAX {
                return Ok(Err(too_many("tree nodes")));
            }
            Ok(l.tree_nodes(r.kind, r.nodes).await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: TreeChildren| {
        let l = l.clone();
        async move { Ok(l.tree_children(r.kind, r.bits, r.prefix).await) }
    });
    let l = local.clone();
    router.register(move |_, mut r: TreeEntries| {
        let l = l.clone();
        r.limit = r.limit.min(TREE_LIMIT_MAX);
        async move { Ok(l.tree_entries(r).await) }
    });
    let l = local.clone();
    router.register(move |_, r: ItemsGet| {
        let l = l.clone();
        async move {
            if r.items.len() > TREE_LIMIT_MAX {
                return Ok(Err(too_many("items")));
            }
            Ok(l.items_get(r.items).await)
        }
    });
    let l = local.clone();
    let g = ring.clone();
    router.register(move |_, r: ItemsMerge| {
        let (l, drained) = (l.clone(), refuse_if_drained(&g));
        async move {
            if let Err(e) = drained {
                return Ok(Err(e));
            }
            if r.items.len() > TREE_LIMIT_MAX {
                return Ok(Err(too_many("items")));
            }
            Ok(l.items_merge(r.items).await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: PurgeCheck| {
        let l = l.clone();
        async move {
            if r.items.len() > TREE_LIMIT_MAX {
                return Ok(Err(too_many("items")));
            }
            Ok(l.purgeable(r.items).await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: PurgeItems| {
        let l = l.clone();
        async move {
            if r.items.len() > TREE_LIMIT_MAX {
                return Ok(Err(too_many("items")));
            }
            Ok(l.purge(r.items).await)
        }
    });
    let l = local.clone();
    router.register(move |_, r: BodyDelete| {
        let l = l.clone();
        async move { Ok(l.delete_body(r.data_id).await) }
    });
}

fn too_many(what: &str) -> super::ReplicaError {
    super::ReplicaError::Unavailable { reason: format!("too many {what} in one request") }
}
