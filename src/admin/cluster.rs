//! Cluster membership through the admin API: status of every node this node knows, staged
//! changes (add, remove, set zone or capacity) and `apply`, which computes the next layout and
//! installs it here; gossip spreads it to every node.

use std::collections::BTreeSet;

use http::StatusCode;

use super::api::{
    ApplyResult, ClusterChange, ClusterNode, ClusterStatus, ForgetNode, GcProgress, Health,
    PendingHints, RepairAccepted, RepairRequest,
};
use super::error::ApiError;
use super::{AdminService, Reply};
use crate::metrics::ClusterSnapshot;
use crate::ring::{Layout, Member, NodeId, PartitionId, moved_replicas};

/// How long the health check waits for a read of the node's own store.
const STORE_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

fn parse_id(text: &str) -> Result<NodeId, ApiError> {
    NodeId::from_str_radix(text.trim(), 16).map_err(|_| ApiError::InvalidArgument {
        field: "node_id",
        reason: format!("{text:?} is not a hex node id"),
    })
}

fn hex(id: NodeId) -> String {
    format!("{id:016x}")
}

impl AdminService {
    pub(super) async fn cluster_status(&self) -> Result<Reply, ApiError> {
        let ring = &self.inner.cluster.ring;
        let layout = ring.layout();
        let quorum = self.inner.cluster.coordinator.quorum();
        let ids: Vec<NodeId> = {
            let view = ring.view();
            let mut ids: BTreeSet<NodeId> = layout.members.iter().map(|m| m.id).collect();
            ids.extend(view.states().map(|s| s.info.id));
            ids.insert(ring.me());
            ids.into_iter().collect()
        };
        // Every node's own report, asked at once (one not answering costs a second at most).
        let coordinator = &self.inner.cluster.coordinator;
        let reports = futures_util::future::join_all(ids.iter().map(|&id| async move {
            let asked = id == ring.me() || ring.is_alive(id);
            if asked { coordinator.report_of(id).await } else { None }
        }))
        .await;
        let view = ring.view();
        let nodes = ids
            .into_iter()
            .zip(reports)
            .map(|(id, report)| {
                let member = layout.members.iter().find(|m| m.id == id);
                let gossiped = view.get(id);
                ClusterNode {
                    node_id: hex(id),
                    rpc_addr: gossiped.map(|s| s.info.rpc_addr.to_string()),
                    s3_addr: gossiped.map(|s| s.info.s3_addr.to_string()),
                    zone: member
                        .map(|m| m.zone.clone())
                        .or_else(|| gossiped.map(|s| s.info.zone.clone()))
                        .unwrap_or_default(),
                    capacity: member
                        .map(|m| m.capacity)
                        .or_else(|| gossiped.map(|s| s.info.capacity))
                        .unwrap_or(0),
                    in_layout: member.is_some(),
                    up: ring.is_alive(id),
                    partitions: u32::try_from(layout.owned_partitions(id).len())
                        .unwrap_or(u32::MAX),
                    drained: gossiped.is_some_and(|s| s.drained),
                    forgotten: gossiped.is_some_and(|s| s.heartbeat == crate::ring::FORGOTTEN),
                    report,
                }
            })
            .collect();
        let pending_hints = self
            .inner
            .cluster
            .coordinator
            .pending_hints()
            .into_iter()
            .map(|(id, count)| PendingHints { node_id: hex(id), count })
            .collect();
        Reply::ok(&ClusterStatus {
            node_id: hex(ring.me()),
            layout_version: layout.version,
            replication_factor: quorum.replication_factor,
            read_quorum: quorum.read_quorum,
            write_quorum: quorum.write_quorum,
            partitions: layout.partition_count(),
            nodes,
            pending_hints,
            staged: self.staged().clone(),
            repair: self.inner.cluster.coordinator.repair_control().progress(),
            scrub: self.inner.cluster.coordinator.scrub_control().progress(),
            rebalance: self.inner.cluster.coordinator.repair_control().rebalance(),
            gc: self.gc(),
            lifecycle: self.objects().lifecycle_progress(),
        })
    }

    /// `GET /v1/health`: whether this node can serve S3 requests now. It cannot without a
    /// layout, with fewer members up than a quorum needs, with partitions whose owners are all
    /// down, with a full disk, or with a store that does not answer a read within
    /// [`STORE_PROBE`]. 200 when it can, 503 with the reasons when it cannot.
    pub(super) async fn health(&self) -> Result<Reply, ApiError> {
        let ring = &self.inner.cluster.ring;
        let coordinator = &self.inner.cluster.coordinator;
        let layout = ring.layout();
        let quorum = coordinator.quorum();
        let mut problems = Vec::new();
        let members_up = layout.members.iter().filter(|m| ring.is_alive(m.id)).count();
        let (mut unreachable, mut degraded) = (0u32, 0u32);
        if layout.members.is_empty() {
            problems.push(
                "no layout has been applied yet: stage the nodes with `ringvault cluster add` \
                 and run `ringvault cluster apply`"
                    .to_owned(),
            );
        } else {
            for p in 0..layout.partition_count() {
                let owners = layout.preference_list(PartitionId(p));
                let up = owners.iter().filter(|id| ring.is_alive(**id)).count();
                if up == 0 {
                    unreachable += 1;
                } else if up < owners.len() {
                    degraded += 1;
                }
            }
            let needed = quorum.read_quorum.max(quorum.write_quorum);
            if members_up < needed {
                problems.push(format!(
                    "{members_up} of {} members are up and a quorum needs {needed}: reads and \
                     writes fail",
                    layout.members.len()
                ));
            }
            if unreachable > 0 {
                problems.push(format!(
                    "{unreachable} of {} partitions have no owner up: their objects cannot be \
                     read until one returns",
                    layout.partition_count()
                ));
            }
        }
        let store = coordinator.store().clone();
        let disk_full = store.disk_full();
        if disk_full {
            problems.push(
                "the disk is full: writes that add data are refused until space is freed".into(),
            );
        }
        let probe = tokio::task::spawn_blocking(move || store.get_meta("node_id"));
        match tokio::time::timeout(STORE_PROBE, probe).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => problems.push(format!("the store cannot be read: {e}")),
            Ok(Err(e)) => problems.push(format!("the store cannot be read: {e}")),
            Err(_) => problems.push(format!(
                "the store did not answer a read within {} s",
                STORE_PROBE.as_secs()
            )),
        }
        let healthy = problems.is_empty();
        let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        Reply::json(
            status,
            &Health {
                healthy,
                node_id: hex(ring.me()),
                problems,
                members: layout.members.len(),
                members_up,
                read_quorum: quorum.read_quorum,
                write_quorum: quorum.write_quorum,
                partitions_unreachable: unreachable,
                partitions_degraded: degraded,
                disk_full,
            },
        )
    }

    /// Garbage collection's figures on this node.
    fn gc(&self) -> GcProgress {
        let coordinator = &self.inner.cluster.coordinator;
        let purge = coordinator.purge_stats();
        GcProgress {
            tombstones: coordinator.store().tombstone_count().unwrap_or(0),
            tombstones_purged: purge.purged(),
            purge_postponed: purge.postponed(),
            bodies_reclaimed: self.objects().reclaimed_bodies(),
        }
    }

    /// `POST /v1/repair`: an anti-entropy pass now, over every partition this node owns or one.
    /// Answers 202 with the progress so far; `GET /v1/cluster` follows it.
    pub(super) fn repair(&self, request: RepairRequest) -> Result<Reply, ApiError> {
        let coordinator = &self.inner.cluster.coordinator;
        let accepted = || RepairAccepted {
            repair: coordinator.repair_control().progress(),
            scrub: coordinator.scrub_control().progress(),
        };
        if request.scrub {
            if request.partition.is_some() {
                return Err(ApiError::InvalidArgument {
                    field: "partition",
                    reason: "a scrub covers every block of the node; leave partition out".into(),
                });
            }
            coordinator.scrub_control().request();
            return Reply::json(http::StatusCode::ACCEPTED, &accepted());
        }
        let layout = coordinator.ring().layout();
        if layout.members.len() < 2 {
            return Err(ApiError::InvalidArgument {
                field: "repair",
                reason: "needs a ring of two nodes or more: a single node has no replica to compare with".into(),
            });
        }
        let scope = match request.partition {
            None => crate::coordinator::Scope::All,
            Some(p) if p >= layout.partition_count() => {
                return Err(ApiError::InvalidArgument {
                    field: "partition",
                    reason: format!("must be below {}", layout.partition_count()),
                });
            }
            Some(p)
                if !layout
                    .preference_list(crate::ring::PartitionId(p))
                    .contains(&coordinator.node_id()) =>
            {
                return Err(ApiError::InvalidArgument {
                    field: "partition",
                    reason: format!("{p} is not owned by this node; ask one of its owners"),
                });
            }
            Some(p) => crate::coordinator::Scope::Partition(p),
        };
        coordinator.repair_control().request(scope);
        Reply::json(http::StatusCode::ACCEPTED, &accepted())
    }

    /// `GET /metrics`: request counters and the cluster gauges, read now.
    pub(super) fn metrics(&self) -> Reply {
        let ring = &self.inner.cluster.ring;
        let coordinator = &self.inner.cluster.coordinator;
        let layout = ring.layout();
        let quorum = coordinator.quorum();
        let (read_repairs_queued, read_repairs_dropped) = coordinator.repair_counters();
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let (pass, totals) =
            (coordinator.repair_control().progress(), coordinator.repair_control().totals());
        let snapshot = ClusterSnapshot {
            anti_entropy: vec![
                ("partitions_compared", totals.partitions_compared),
                ("partitions_repaired", totals.partitions_repaired),
                ("items_moved", totals.items_moved),
                ("blocks_moved", totals.blocks_moved),
                ("bytes_moved", totals.bytes_moved),
                ("running", u64::from(pass.running)),
                ("pass_partitions", pass.partitions_total),
                ("pass_partitions_done", pass.partitions_done),
                ("pass_eta_seconds", pass.eta_ms.unwrap_or(0) / 1000),
            ],
            rebalance: {
                let r = coordinator.repair_control().rebalance();
                vec![
                    ("partitions_pending", r.partitions_pending),
                    ("partitions_pulled", r.partitions_pulled),
                    ("items_pulled", r.items_pulled),
                    ("blocks_pulled", r.blocks_pulled),
                    ("bytes_pulled", r.bytes_pulled),
                    ("eta_seconds", r.eta_ms.unwrap_or(0) / 1000),
                ]
            },
            scrub: {
                let (pass, totals) =
                    (coordinator.scrub_control().progress(), coordinator.scrub_control().totals());
                vec![
                    ("blocks_checked", totals.blocks_checked),
                    ("corrupt", totals.corrupt),
                    ("repaired", totals.repaired),
                    ("restored_on_read", totals.restored_on_read),
                    ("running", u64::from(pass.running)),
                    ("pass_blocks_checked", pass.blocks_checked),
                ]
            },
            lifecycle: {
                let l = self.objects().lifecycle_progress();
                vec![
                    ("running", u64::from(l.running)),
                    ("passes", l.passes),
                    ("pass_buckets_done", l.pass_buckets_done),
                    ("buckets", l.totals.buckets),
                    ("expired", l.totals.expired),
                    ("markers_removed", l.totals.markers_removed),
                    ("noncurrent_removed", l.totals.noncurrent_removed),
                    ("uploads_aborted", l.totals.uploads_aborted),
                    ("skipped", l.totals.skipped),
                ]
            },
            gc: {
                let gc = self.gc();
                vec![
                    ("tombstones", gc.tombstones),
                    ("tombstones_purged", gc.tombstones_purged),
                    ("purge_postponed", gc.purge_postponed),
                    ("bodies_reclaimed", gc.bodies_reclaimed),
                ]
            },
            hints: coordinator
                .pending_hints()
                .into_iter()
                .map(|(id, count)| (hex(id), count))
                .collect(),
            layout_version: layout.version,
            layout_members: count(layout.members.len()),
            members_up: count(
                layout.members.iter().filter(|m| m.id == ring.me() || ring.is_alive(m.id)).count(),
            ),
            partitions_owned: count(layout.owned_partitions(ring.me()).len()),
            replication_factor: count(quorum.replication_factor),
            read_quorum: count(quorum.read_quorum),
            write_quorum: count(quorum.write_quorum),
            read_repairs_queued,
            read_repairs_dropped,
            task_sets: vec![
                (
                    "requests",
                    count(self.inner.detached.len()),
                    count(self.inner.detached.capacity()),
                ),
                (
                    "copies",
                    count(coordinator.copies_in_background()),
                    count(crate::coordinator::BACKGROUND_COPIES_MAX),
                ),
            ],
        };
        Reply::whole(
            http::StatusCode::OK,
            crate::metrics::CONTENT_TYPE,
            self.inner.metrics.render(&snapshot).into(),
        )
    }

    fn staged(&self) -> std::sync::MutexGuard<'_, Vec<ClusterChange>> {
        self.inner.cluster.staged.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn stage_change(&self, change: ClusterChange) -> Result<Reply, ApiError> {
        match &change {
            ClusterChange::Add { node_id, capacity, .. }
            | ClusterChange::Set { node_id, capacity, .. } => {
                parse_id(node_id)?;
                if *capacity == Some(0) {
                    return Err(ApiError::InvalidArgument {
                        field: "capacity",
                        reason: "must be positive".into(),
                    });
                }
            }
            ClusterChange::Remove { node_id } => {
                parse_id(node_id)?;
            }
            ClusterChange::SplitPartitions => {}
        }
        let mut staged = self.staged();
        staged.push(change);
        Reply::ok(&*staged)
    }

    /// Forgets a node out of the layout that will not come back (see `Ring::forget_node`):
    /// refused for a member, for this node, and for a node that answers (its clean-up will
    /// say it holds nothing; forgetting it would make it drop what it still has to hand on).
    pub(super) fn forget_node(&self, request: ForgetNode) -> Result<Reply, ApiError> {
        let ring = &self.inner.cluster.ring;
        let id = parse_id(&request.node_id)?;
        let refuse = |reason: &str| ApiError::LayoutConflict { reason: reason.into() };
        if id == ring.me() {
            return Err(refuse("a node cannot forget itself"));
        }
        if ring.layout().is_member(id) {
            return Err(refuse("the node is a member: remove it from the layout first"));
        }
        if ring.is_alive(id) {
            return Err(refuse(
                "the node answers: let its clean-up finish (it then says it holds nothing), \
                 or stop it for good first",
            ));
        }
        if !ring.forget_node(id) {
            return Err(ApiError::InvalidArgument {
                field: "node_id",
                reason: format!("{} is not known to this node", request.node_id),
            });
        }
        tracing::warn!(node = %hex(id), "forgot a node that left the layout");
        Reply::ok(&ForgetNode { node_id: hex(id) })
    }

    pub(super) fn clear_changes(&self) -> Reply {
        self.staged().clear();
        Reply::no_content()
    }

    /// Computes the next layout from the current members and the staged changes, installs it.
    /// Applies the staged changes. Refused (409) while an earlier change is still being
    /// synced, unless `force`: a change on top of another leaves conditional writes answering
    /// 503 until both settled, and could let one of them miss the last decision on a key
    /// (the ring remembers one previous layout); a dead node's removal may need it.
    pub(super) async fn apply_changes(&self, force: bool) -> Result<Reply, ApiError> {
        let ring = &self.inner.cluster.ring;
        let current = ring.layout();
        let view = ring.view();
        let mut members: Vec<Member> = current.members.clone();
        let staged = self.staged().clone();
        if staged.is_empty() {
            return Err(ApiError::InvalidArgument {
                field: "changes",
                reason: "nothing is staged".into(),
            });
        }
        if staged.contains(&ClusterChange::SplitPartitions) {
            let layout = self.split_layout(&current, &staged)?;
            return self.propose(layout, 0).await;
        }
        if !force && ring.read_transition().is_some() {
            return Err(ApiError::LayoutConflict {
                reason: "an earlier layout change is still being synced (see `cluster status`); \
                         wait for it, or apply with --force"
                    .into(),
            });
        }
        for change in &staged {
            match change {
                ClusterChange::Add { node_id, zone, capacity } => {
                    let id = parse_id(node_id)?;
                    let known = view.get(id).map(|s| s.info.clone());
                    if known.is_none() && id != ring.me() {
                        return Err(ApiError::InvalidArgument {
                            field: "node_id",
                            reason: format!(
                                "{node_id} has not been seen by gossip; start it with this cluster's seeds first"
                            ),
                        });
                    }
                    members.retain(|m| m.id != id);
                    members.push(Member {
                        id,
                        zone: zone
                            .clone()
                            .or_else(|| known.as_ref().map(|k| k.zone.clone()))
                            .unwrap_or_else(|| "default".into()),
                        capacity: capacity
                            .or_else(|| known.as_ref().map(|k| k.capacity))
                            .unwrap_or(1),
                    });
                }
                ClusterChange::Remove { node_id } => {
                    let id = parse_id(node_id)?;
                    members.retain(|m| m.id != id);
                }
                ClusterChange::SplitPartitions => {}
                ClusterChange::Set { node_id, zone, capacity } => {
                    let id = parse_id(node_id)?;
                    let Some(m) = members.iter_mut().find(|m| m.id == id) else {
                        return Err(ApiError::InvalidArgument {
                            field: "node_id",
                            reason: format!("{node_id} is not a member"),
                        });
                    };
                    if let Some(z) = zone {
                        m.zone.clone_from(z);
                    }
                    if let Some(c) = capacity {
                        m.capacity = *c;
                    }
                }
            }
        }
        if members.is_empty() {
            return Err(ApiError::InvalidArgument {
                field: "changes",
                reason: "a layout needs at least one member".into(),
            });
        }
        let layout = Layout::next(&current, members, self.inner.cluster.replication_factor)
            .map_err(|e| ApiError::InvalidArgument { field: "changes", reason: e.to_string() })?;
        let moved = moved_replicas(current.assignments(), layout.assignments());
        self.propose(layout, moved).await
    }

    /// The layout a staged split makes: refused together with other changes, while an earlier
    /// change is still settling (its pulls are counted in partitions that are about to halve),
    /// and past `MAX_PARTITION_BITS`.
    fn split_layout(&self, current: &Layout, staged: &[ClusterChange]) -> Result<Layout, ApiError> {
        if staged.len() > 1 {
            return Err(ApiError::InvalidArgument {
                field: "changes",
                reason: "split_partitions is applied alone: apply the other staged changes first"
                    .into(),
            });
        }
        let settling = self.inner.cluster.ring.read_transition().is_some()
            || self.inner.cluster.coordinator.repair_control().rebalance().partitions_pending > 0;
        if settling {
            return Err(ApiError::InvalidArgument {
                field: "changes",
                reason: "an earlier layout change is still settling; split once `cluster status` shows no rebalance".into(),
            });
        }
        Layout::split(current)
            .map_err(|e| ApiError::InvalidArgument { field: "changes", reason: e.to_string() })
    }

    /// Installs `layout` on the single decision path and answers what it did: a majority of
    /// the members must promise this layout its version, so a change applied on another node
    /// at the same time cannot also win it.
    async fn propose(&self, layout: Layout, moved: usize) -> Result<Reply, ApiError> {
        let ring = &self.inner.cluster.ring;
        let result = ApplyResult {
            layout_version: layout.version,
            members: layout.members.len(),
            moved_replicas: moved,
        };
        let rpc = self.inner.cluster.coordinator.rpc();
        crate::ring::gossip::propose_layout(ring, rpc, layout).await.map_err(|e| {
            tracing::warn!(error = %e, "layout change refused");
            ApiError::LayoutConflict { reason: e.to_string() }
        })?;
        self.staged().clear();
        tracing::info!(
            version = result.layout_version,
            members = result.members,
            moved = result.moved_replicas,
            "applied a new layout"
        );
        Reply::ok(&result)
    }
}
